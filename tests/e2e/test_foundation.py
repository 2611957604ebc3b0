"""The seed's session check in real tabs, on both interpreters (rules 1-4 and 7 in docs/rules.md).

Every test here runs once per runtime; the harness fails it on any page error, console error,
`.py-error`, CSP violation or request to another host.
"""

import re

import pytest

from tabs import html_data, path_of, sign_in, state_of

# Pyodide twins on Chromium only: test_engines.py runs the core scenarios on Pyodide in every
# engine; here Firefox would repeat interpreter coverage at seconds a case (CI time).
pytestmark = pytest.mark.pyodide_engines("chromium")

MOVE_WITHIN_MS = 1000










@pytest.fixture
def signed_in(open_tab, wait_state):
    """One tab, signed in as alice, active on `/`."""
    page = open_tab("/")
    return sign_in(page)


def test_signed_out_app_page_lands_on_login_with_next(open_tab):
    """Rule 1: `/` while signed out lands on /login?next=%2F, signed-out, #app never shown."""
    page = open_tab("/")

    assert "/login?next=%2F" == path_of(page)
    assert "signed-out" == state_of(page)
    assert page.locator("#login-form").is_visible()
    # One document shows both pages: on the sign-in page the protected part is hidden and empty.
    assert (False, "") == (page.locator("#app").is_visible(), page.locator("#user").text_content())


def test_served_page_starts_booting_with_app_hidden(app_server, page):
    """While Python boots: data-tab-state is booting, "Starting" shows and #app is not displayed."""
    # Answer PyScript's loader with an empty module so Python never starts: the page stays in
    # exactly the state a user sees while the interpreter boots.
    page.route(re.compile(r".*/vendor/pyscript-[^/]+/core\.js$"),
               lambda route: route.fulfill(body="", content_type="text/javascript"))

    page.goto(app_server("/"))

    assert "booting" == state_of(page)
    assert page.locator("#starting").is_visible()
    assert not page.locator("#app").is_visible()
    page.evaluate("() => document.getElementById('app').hidden = false")
    assert not page.locator("#app").is_visible()  # the stylesheet hides it too, whatever JS does


@pytest.mark.no_pyodide_twin(
    "names are judged by core/names.py; test_hardening_names runs its table on Pyodide")
@pytest.mark.parametrize("name", ["", "   ", "x" * 65])
def test_login_rejects_bad_names_on_the_page(open_tab, name):
    """Rule 2: a blank or over-long name shows #login-error and stays on /login."""
    page = open_tab("/login")

    page.fill("#login-form input[name=username]", name)
    page.click("#login-form button[type=submit]")

    page.locator("#login-error").wait_for(state="visible", timeout=5000)
    assert page.locator("#login-error").inner_text().strip() != ""
    assert path_of(page).startswith("/login")
    assert "signed-out" == state_of(page)


@pytest.mark.no_pyodide_twin("the same drawing of a name as test_hardening_injection's Pyodide twin")
def test_sign_in_shows_the_name_as_text(open_tab, wait_state):
    """Rule 2: a name that looks like HTML is shown as text and runs nothing."""
    name = '<img src=x onerror="window.__pwned=1">'
    page = open_tab("/login?next=%2F")

    sign_in(page, name="  " + name + "  ")
    page.locator("#user", has_text=name).wait_for(timeout=2000)  # from /api/me, just after `active`

    assert name == page.locator("#user").inner_text()
    assert 0 == page.locator("#user img").count()
    assert page.evaluate("() => window.__pwned === undefined")


def test_sign_in_makes_the_tab_active_and_reload_keeps_it(signed_in, wait_state):
    """Rule 3: the signed-in tab is active with #app visible; a reload keeps it and its id."""
    first = html_data(signed_in)

    signed_in.reload()
    wait_state(signed_in, "active")

    assert "active" == first["tabState"]
    assert signed_in.locator("#app").is_visible()
    assert first["tabId"] == html_data(signed_in)["tabId"]
    assert signed_in.locator("#app").is_visible()


def test_runtime_attribute_names_the_interpreter(signed_in, runtime):
    """data-runtime says which interpreter the page booted."""
    assert runtime == html_data(signed_in)["runtime"]


def test_micropython_imports_the_app_as_bundles_and_pyodide_as_sources(app_server, context, runtime,
                                                                       wait_state):
    """Issue 8: a MicroPython page fetches each app package as one bytecode bundle (set-up's
    tools/precompile.py) instead of its sources, and decides from it; Pyodide loads the sources."""
    page = context.new_page()
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(app_server("/"), wait_until="commit")
    wait_state(page, "signed-out")

    bundles = sorted({re.sub(r"-[0-9a-f]+\.mpy$", "", url.rsplit("/", 1)[1]) for url in fetched
                      if re.search(r"/vendor/mpy-[^/]+/[a-z]+-[0-9a-f]+\.mpy$", url)})  # / and /login
    sources = [url for url in fetched if re.search(r"/app/tabsession/.+\.py", url)]
    if runtime == "micropython":
        assert (["pages", "tabsession"], []) == (bundles, sources)
    else:
        assert ([], True) == (bundles, len(sources) >= 10)


@pytest.mark.no_pyodide_twin("the same steps as test_engines' second_tab_is_blocked on Pyodide")
def test_second_tab_is_blocked_and_first_stays_active(signed_in, open_tab, wait_state):
    """Rule 4 (block, max 1): a second tab is refused with the classic message."""
    second = open_tab("/")
    wait_state(second, "blocked")

    assert "/login?reason=active-elsewhere" == path_of(second)
    assert "active-elsewhere" == html_data(second)["reason"]
    assert "already have an active session" in second.locator("#notice").inner_text()
    assert second.locator("#use-here").is_visible()
    assert "active" == state_of(signed_in)
    assert signed_in.locator("#app").is_visible()
    assert html_data(signed_in)["tabId"] != html_data(second)["tabId"]


@pytest.mark.no_pyodide_twin("the same steps as test_engines' use_here_moves_the_session on Pyodide")
def test_use_here_moves_the_session_to_the_blocked_tab(signed_in, open_tab, wait_state):
    """Rule 4: #use-here in the blocked tab makes it active and moves the first within 1 s."""
    second = open_tab("/")
    wait_state(second, "blocked")

    second.click("#use-here")

    wait_state(signed_in, "moved", MOVE_WITHIN_MS)
    assert "taken-over" == html_data(signed_in)["reason"]
    assert not signed_in.locator("#app").is_visible()
    assert signed_in.locator("#use-here").is_visible()
    wait_state(second, "active")
    assert "/" == path_of(second)


@pytest.mark.no_pyodide_twin(
    "the same sign-out as test_cross_tab's test_logout_reaches_every_tab_and_none_signs_back_in")
def test_logout_signs_out_every_tab(signed_in, open_tab, wait_state):
    """Rule 7: #logout in one tab sends every tab to /login?reason=signed-out."""
    second = open_tab("/")
    wait_state(second, "blocked")

    signed_in.click("#logout")

    for page in (signed_in, second):
        page.wait_for_url(re.compile(r"/login\?reason=signed-out$"), timeout=MOVE_WITHIN_MS * 5)
        wait_state(page, "signed-out")
        assert "signed-out" == html_data(page)["reason"]
        assert page.locator("#login-form").is_visible()


@pytest.mark.no_pyodide_twin("the same reload path as test_sign_in_makes_the_tab_active_and_reload_keeps_it")
def test_signed_out_tab_does_not_sign_back_in_on_reload(signed_in, wait_state):
    """After sign-out, reloading or opening `/` again lands on the login page."""
    signed_in.click("#logout")
    wait_state(signed_in, "signed-out")
    signed_in.wait_for_url(re.compile(r"/login\?reason=signed-out$"))

    signed_in.goto(signed_in.url.split("/login")[0] + "/")
    signed_in.wait_for_url(re.compile(r"/login\?next=%2F$"))
    wait_state(signed_in, "signed-out")


def test_a_tab_loads_one_document_through_sign_in_sign_out_and_sign_in_again(app_server, page, wait_state):
    """One boot per tab: from its first page through sign-in, sign-out and sign-in again, the
    tab changes in place (the address through the History API); Python starts once."""
    loads = []
    page.on("load", lambda: loads.append(path_of(page)))
    page.goto(app_server("/"))
    wait_state(page, "signed-out")
    page.evaluate("window.tabsessionFirstDocument = true")  # gone if a document replaced it
    seen = [(path_of(page), state_of(page))]

    sign_in(page, "alice")
    # (With the server as the authority the name comes from /api/me once the tab is active.)
    page.locator("#user", has_text="alice").wait_for(timeout=10_000)
    seen.append((path_of(page), state_of(page), page.locator("#user").text_content()))
    page.click("#logout")
    wait_state(page, "signed-out")
    seen.append((path_of(page), state_of(page), page.locator("#login-form").is_visible(),
                 page.locator("#app").is_visible()))
    sign_in(page, "bob")
    page.locator("#user", has_text="bob").wait_for(timeout=10_000)
    seen.append((path_of(page), state_of(page), page.locator("#user").text_content()))

    assert [("/login?next=%2F", "signed-out"), ("/", "active", "alice"),
            ("/login?reason=signed-out", "signed-out", True, False), ("/", "active", "bob")] == seen
    # One load event (the redirect to the sign-in page was in place too; on Pyodide the load
    # event can come after it, so the address it saw is not asserted).
    assert (1, True) == (len(loads), page.evaluate("window.tabsessionFirstDocument === true")), loads
