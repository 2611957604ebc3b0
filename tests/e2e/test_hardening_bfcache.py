"""Hardening (issue 5): the back/forward cache. A page restored from it never shows the app to a
signed-out user; tried in a browser launched with the cache on.

Shared set-up and helpers: hardening.py.
"""

import time

import pytest
from playwright.sync_api import Error as PlaywrightError

from browser_watch import watch_context
from hardening import (
    HELPER_PATH,
    data,
    micropython_only,
    open_helper,
    path_of,
    selected_runtimes,
    sign_in,
)

# Every case runs on every engine with MicroPython; the Pyodide twins on Chromium only.
pytestmark = pytest.mark.pyodide_engines("chromium")


# Records, in the tab's sessionStorage, every moment #app is visible while the tab is not
# active, and whether #app was visible when a page came back from the back/forward cache (its
# state attribute is stale then, so any visible #app counts).
_WATCH_APP = """(() => {
  const note = (key, entry) => {
    const list = JSON.parse(sessionStorage.getItem(key) || "[]");
    list.push(entry);
    sessionStorage.setItem(key, JSON.stringify(list));
  };
  const visible = () => {
    const app = document.getElementById("app");
    return !!app && !app.hidden && getComputedStyle(app).display !== "none";
  };
  const where = () => location.pathname + location.search;
  const check = () => {
    const state = document.documentElement.dataset.tabState;
    if (visible() && state !== "active") note("probe:leaks", [where(), state]);
  };
  new MutationObserver(check).observe(document, {
    subtree: true, attributes: true, attributeFilter: ["hidden", "data-tab-state"]});
  addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    note("probe:restored", [where(), visible()]);
    if (visible()) note("probe:leaks", [where(), "restored from the back/forward cache"]);
  });
})();"""


@pytest.fixture(scope="session")
def bfcache_browser(browser_type, browser_name, browser_type_launch_args):
    """A browser of the test's engine with the back/forward cache on: Playwright turns it off in
    Chromium by a flag (left out here); Firefox driven over BiDi keeps it on."""
    extra = {"ignore_default_args": ["--disable-back-forward-cache"]} if browser_name == "chromium" else {}
    browser = browser_type.launch(**browser_type_launch_args, **extra)
    yield browser
    browser.close()


@pytest.fixture
def bfcache_context(bfcache_browser, server_pool, request):
    """A context of `bfcache_browser`, watched like every other (see insecure_context)."""
    context = bfcache_browser.new_context()
    watch_context(context, server_pool.origins, request.node)
    context.add_init_script(script=_WATCH_APP)
    yield context
    context.close()


def go_back(page):
    """Back, as the browser's button, without waiting for a navigation: the tests wait for the
    URL instead. (Playwright's go_back waits for a navigation to commit; over Firefox's BiDi a page
    restored from the back/forward cache commits none that it sees, so it would wait forever.)"""
    page.evaluate("() => { setTimeout(() => history.back(), 0); }")


def go_forward(page):
    """Forward, as go_back."""
    page.evaluate("() => { setTimeout(() => history.forward(), 0); }")


def wait_path(page, expected, timeout_s=10.0):
    """Wait until the tab shows `expected` (path and query), through any navigations on the way
    (a restored page may reload and redirect at once: a wait for one navigation is aborted)."""
    deadline = time.monotonic() + timeout_s
    seen = None
    while time.monotonic() < deadline:
        try:
            seen = path_of(page)
            if seen == expected:
                return
        except PlaywrightError:
            pass  # between two documents
        page.wait_for_timeout(100)
    raise AssertionError(f"the tab is at {seen!r}, not {expected!r}, after {timeout_s} s")


def probes(page):
    return page.evaluate("""() => ({
      leaks: JSON.parse(sessionStorage.getItem("probe:leaks") || "[]"),
      restored: JSON.parse(sessionStorage.getItem("probe:restored") || "[]"),
    })""")


_END_SESSION_QUIETLY = """() => {
  const session = JSON.parse(localStorage.getItem("tabsession:session"));
  localStorage.setItem("tabsession:session", JSON.stringify(
    {v: 1, token: session.token, ended: "signed-out", at: Date.now() / 1000}));
  localStorage.removeItem("tabsession:activity");
}"""


# What Back brings the app page back as, per authority and engine. The browser deciding:
# Chromium restores it from the back/forward cache (pageshow with persisted, #app hidden); Firefox
# never keeps a page that holds a Web Lock in that cache (measured: a plain page is kept, one
# holding a lock is not), so Back loads it anew and it decides like any new page load. The server
# deciding: an active page holds a WebSocket to the server and sent a keepalive request as it
# left, and Chromium does not keep it either (measured), so both engines load it anew.
RESTORED_FROM_CACHE = {("browser", "chromium"): [["/", False]], ("browser", "firefox"): [],
                       ("server", "chromium"): [], ("server", "firefox"): []}
AUTHORITIES = pytest.mark.parametrize("authority", ["browser", "server"])


def how_back_may_bring_it(authority, browser_name, runtime):
    """The ways Back may bring the page back. A Pyodide page is large, and Chromium may evict it
    from the cache to save memory (seen once in a CI run under load), so it may also be loaded
    anew; both paths must then decide the same way, which the callers check."""
    expected = RESTORED_FROM_CACHE[authority, browser_name]
    return [expected, []] if runtime == "pyodide" else [expected]


@AUTHORITIES
@pytest.mark.parametrize("runtime", selected_runtimes())
def test_page_held_in_the_cache_while_the_session_ends_is_signed_out_when_restored(
        serve, runtime, bfcache_context, wait_state, browser_name, authority):
    """Back/forward cache: an active page is left for another page; while it sits in the cache
    the session ends through storage alone (as a tab in storage-only mode ends it: no channel
    message, which would make Chromium evict the cached page). Going Back restores it (Chromium)
    or loads it anew (Firefox) without showing #app, and it lands on /login?reason=signed-out."""
    server = serve(runtime, authority=authority)
    page = bfcache_context.new_page()
    page.goto(server("/login"))
    sign_in(page, wait_state)
    page.goto(server(HELPER_PATH))  # the app page goes into the back/forward cache
    helper = open_helper(bfcache_context, server)
    helper.evaluate(_END_SESSION_QUIETLY)

    go_back(page)
    wait_path(page, "/login?reason=signed-out")
    wait_state(page, "signed-out")

    found = probes(page)
    assert found["restored"] in how_back_may_bring_it(authority, browser_name, runtime), "how Back brought it"
    assert [] == found["leaks"]


@pytest.mark.no_pyodide_twin(
    "the same pageshow path as test_page_held_in_the_cache_while_the_session_ends_is_signed_out_when_restored")
@pytest.mark.parametrize("runtime", selected_runtimes())
def test_back_to_a_cached_page_after_another_tab_signed_out_is_signed_out(
        serve, runtime, bfcache_context, wait_state):
    """Back/forward cache: another tab signs out with #logout while an active page sits in the
    cache (--max-tabs 0, so the other tab asks for no lock the cached page holds). Whether
    Chromium restores the page or evicts it (a channel message evicts it), Back lands signed out
    and #app never shows."""
    server = serve(runtime, max_tabs=0)
    page = bfcache_context.new_page()
    page.goto(server("/login"))
    sign_in(page, wait_state)
    page.goto(server(HELPER_PATH))
    other = bfcache_context.new_page()
    other.goto(server("/"))
    wait_state(other, "active")
    other.click("#logout")
    wait_state(other, "signed-out")

    go_back(page)
    wait_path(page, "/login?reason=signed-out")
    wait_state(page, "signed-out")

    assert [] == probes(page)["leaks"]


@pytest.mark.no_pyodide_twin(
    "the same pageshow path as test_page_held_in_the_cache_while_the_session_ends_is_signed_out_when_restored")
@AUTHORITIES
@pytest.mark.parametrize("runtime", selected_runtimes())
def test_page_restored_from_the_cache_while_signed_in_is_active_again(serve, runtime, bfcache_context,
                                                                      wait_state, browser_name, authority):
    """Back/forward cache, session still live: the restored (Chromium) or reloaded (Firefox)
    page decides again and is active, with its own id, and #app shows only once it is."""
    server = serve(runtime, authority=authority)
    page = bfcache_context.new_page()
    page.goto(server("/login"))
    sign_in(page, wait_state)
    tab_id = data(page)["tabId"]
    page.goto(server(HELPER_PATH))

    go_back(page)
    wait_state(page, "active")

    page.locator("#app").wait_for(state="visible")
    found = probes(page)
    assert found["restored"] in how_back_may_bring_it(authority, browser_name, runtime), "how Back brought it"
    assert ([], tab_id) == (found["leaks"], data(page)["tabId"])


@pytest.mark.parametrize("runtime", micropython_only())
def test_back_after_signing_out_never_shows_the_app(serve, runtime, bfcache_context, wait_state):
    """Sign in, sign out, then Back and Forward through the tab's history: #app never shows."""
    server = serve(runtime)
    page = bfcache_context.new_page()
    page.goto(server(HELPER_PATH))
    page.goto(server("/login"))
    sign_in(page, wait_state)
    page.click("#logout")
    wait_state(page, "signed-out")

    go_back(page)
    wait_path(page, HELPER_PATH)
    go_forward(page)
    wait_path(page, "/login?reason=signed-out")
    wait_state(page, "signed-out")

    page.wait_for_timeout(500)
    assert "/login?reason=signed-out" == path_of(page)
    assert not page.locator("#app").is_visible()
    assert [] == probes(page)["leaks"]
