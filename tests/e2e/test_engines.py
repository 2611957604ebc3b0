"""The contract's core multi-tab cases, written once, run on every engine and both runtimes.

Each scenario is a plain function of a `Browser` from drivers.py; it runs
- through Playwright (the engines pytest-playwright's `browser_name` stands for), and
- through WebKitGTK with Selenium (skipped with the reason when WebKit is not installed, and when
  TABSESSION_ENGINES leaves it out).
Every scenario ends by asserting that no tab showed a problem (rule 12 in docs/rules.md).
"""

import re
import time

import pytest

from drivers import PlaywrightBrowser, webkit_browser, webkit_display  # noqa: F401 (fixtures)

WITHIN_MS = 1000
# Sign-out reaches every tab within 1 s; with 2-3 tabs on two loaded cores, allow some slack for
# the navigation to start. Booting the login page it lands on takes a boot timeout of its own.
SIGNED_OUT_WITHIN_MS = 5000


def sign_in(tab, name="alice"):
    """From the login page, sign in as `name`; the tab lands active on `/`."""
    tab.wait_for("signed-out", path=r"/login(\?.*)?")
    tab.fill("#login-form input[name=username]", name)
    tab.click("#login-form button[type=submit]")
    return tab.wait_for("active", path="/")


def signed_in_tab(browser):
    return sign_in(browser.open_tab("/"))


BLOCKED_PATH = re.escape("/login?reason=active-elsewhere")


def wait_blocked(tab):
    """Until the tab is blocked on the login page: it shows `blocked` on `/` for a moment first,
    and a tab read (or signed out) in that moment is still on its way there."""
    return tab.wait_for("blocked", path=BLOCKED_PATH)


# --- the scenarios ----------------------------------------------------------------------------


def sign_in_and_reload_keep_the_tab(browser):
    """Rules 1-3: `/` lands on the login page; signing in makes the tab active; reload keeps it."""
    tab = browser.open_tab("/")
    tab.wait_for("signed-out", path=re.escape("/login?next=%2F"))
    assert not tab.is_visible("#app")

    sign_in(tab)
    before = tab.data()
    tab.reload()
    tab.wait_for("active", path="/")

    assert browser.server.runtime == before["runtime"]
    assert tab.is_visible("#app")
    assert "alice" == tab.wait_text("#user", "alice")
    assert before["tabId"] and before["tabId"] == tab.data()["tabId"]


def second_tab_is_blocked(browser):
    """Rule 4 (block, max 1): a second tab is refused; the first stays active."""
    first = signed_in_tab(browser)

    second = browser.open_tab("/")

    wait_blocked(second)
    assert "active-elsewhere" == second.data()["reason"]
    assert "already have an active session" in second.text("#notice")
    assert second.is_visible("#use-here")
    assert "active" == first.state()
    assert first.is_visible("#app")
    assert first.data()["tabId"] != second.data()["tabId"]


def use_here_moves_the_session(browser):
    """Rule 4: #use-here in the blocked tab makes it active and moves the first within 1 s."""
    first = signed_in_tab(browser)
    second = browser.open_tab("/")
    wait_blocked(second)

    second.click("#use-here")

    first.wait_for("moved", timeout_ms=WITHIN_MS)
    second.wait_for("active", path="/")
    assert "taken-over" == first.data()["reason"]
    assert not first.is_visible("#app")
    assert first.is_visible("#use-here")


def window_open_copy_gets_its_own_id(browser):
    """Rule 5: a window.open copy (sessionStorage copied) gets its own id and is refused."""
    first = signed_in_tab(browser)

    copy = first.click_opening_tab("#duplicate-tab")  # a real click: WebKit blocks script popups

    wait_blocked(copy)
    assert copy.data()["tabId"] != first.data()["tabId"]
    assert "active" == first.state()


def sign_out_reaches_every_tab(browser):
    """Rule 7: #logout in one tab sends every tab, a blocked one too, to the signed-out page."""
    first = signed_in_tab(browser)
    second = browser.open_tab("/")
    wait_blocked(second)

    first.click("#logout")

    for tab in (first, second):
        tab.wait_for(None, path=re.escape("/login?reason=signed-out"), timeout_ms=SIGNED_OUT_WITHIN_MS)
    for tab in (first, second):
        tab.wait_for("signed-out", path=re.escape("/login?reason=signed-out"))
        assert "signed-out" == tab.data()["reason"]
        assert tab.is_visible("#login-form")
    again = browser.open_tab("/")
    again.wait_for("signed-out", path=re.escape("/login?next=%2F"))


SCENARIOS = [
    sign_in_and_reload_keep_the_tab,
    second_tab_is_blocked,
    use_here_moves_the_session,
    window_open_copy_gets_its_own_id,
    sign_out_reaches_every_tab,
]
# Pyodide boots for seconds per tab on two cores (a WebKit case took 55-116 s in CI): on WebKit it
# runs the case that shows Pyodide's calls into the engine's storage and locks work. The channel's
# sign-out and the window.open copy run there on MicroPython, and on Pyodide in Chromium.
PYODIDE_WEBKIT = {second_tab_is_blocked}
# Firefox runs the rest of Pyodide's cases through the cross-profile server tests; here the
# scenarios that reach its locks and its channel (20-45 s a case in CI).
PYODIDE_FIREFOX = {second_tab_is_blocked, sign_out_reaches_every_tab}


def run(scenario, browser):
    scenario(browser)
    assert [] == browser.problems()


def _ids(scenario):
    return scenario.__name__


# --- on each engine ---------------------------------------------------------------------------


@pytest.fixture
def playwright_browser(new_context, app_server, watch_of):
    context = new_context()
    return PlaywrightBrowser(context, app_server, watch_of(context))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=_ids)
def test_playwright(scenario, runtime, browser_name, request):
    """The scenario in the Playwright engine of this run."""
    if runtime == "pyodide" and browser_name == "firefox" and scenario not in PYODIDE_FIREFOX:
        pytest.skip("on Firefox, Pyodide runs the lock and channel scenarios (CI time)")
    run(scenario, request.getfixturevalue("playwright_browser"))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=_ids)
def test_webkit(scenario, runtime, webkit_browser):
    """The scenario in WebKitGTK (Selenium)."""
    if runtime == "pyodide" and scenario not in PYODIDE_WEBKIT:
        pytest.skip("a MicroPython-only case on WebKit (Pyodide boots slowly here)")
    run(scenario, webkit_browser)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=_ids)
def test_playwright_browser_authority(scenario, runtime, serve, new_context, watch_of):
    """The same scenarios with `--authority browser` (static hosting: the tabs of one profile
    coordinate among themselves). The runtimes differ in the page, which the server-authority
    runs above cover on both; here the mode is what differs, so MicroPython is enough."""
    if runtime != "micropython":
        pytest.skip("the browser authority's twin runs on MicroPython")
    server = serve(runtime, authority="browser")
    context = new_context()
    run(scenario, PlaywrightBrowser(context, server, watch_of(context)))


def problems_are_seen(browser):
    """The driver layer reports an uncaught error and a console error, after a navigation."""
    tab = signed_in_tab(browser)
    tab.click("#logout")  # cross a navigation first: the recording must follow the tab
    tab.wait_for("signed-out", path=re.escape("/login?reason=signed-out"))

    tab.run_script("setTimeout(() => { throw new Error('thrown on purpose'); }, 0);"
                   " console.error('logged on purpose');")
    seen = _wait_problems(browser, 2)

    assert any("thrown on purpose" in line for line in seen), seen
    assert any("logged on purpose" in line for line in seen), seen
    browser.forget_problems()
    assert [] == browser.problems()


def _wait_problems(browser, count, timeout_s=5):
    deadline = time.monotonic() + timeout_s
    while True:
        seen = browser.problems()
        if len(seen) >= count or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def test_playwright_problems_are_seen(playwright_browser, runtime):
    if runtime != "micropython":
        pytest.skip("a check of the harness: one runtime is enough")
    problems_are_seen(playwright_browser)


def test_webkit_problems_are_seen(webkit_browser, runtime):
    if runtime != "micropython":
        pytest.skip("a check of the harness: one runtime is enough")
    problems_are_seen(webkit_browser)
