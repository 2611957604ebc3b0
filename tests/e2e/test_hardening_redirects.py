"""Hardening (issue 5): redirects. An unsafe `next` ends on the app page, a safe one is followed,
and the pages never redirect in a loop (rule 10 in docs/rules.md).

Shared set-up and helpers: hardening.py.
"""

import pytest

from hardening import (
    MAX_NAVIGATIONS,
    cases,
    count_navigations,
    data,
    load,
    path_of,
    selected_runtimes,
    settle,
    sign_in,
)

# Every case runs on Chromium with MicroPython, the URL parser's on Firefox too; the Pyodide twins on
# Chromium only.
pytestmark = pytest.mark.pyodide_engines("chromium")


BAD_NEXT = {
    "double-slash": "//evil.example",
    "double-slash-encoded": "%2F%2Fevil.example",
    "triple-slash": "///evil.example",
    "backslash": "/%5Cevil.example",
    "backslash-raw": "/\\evil.example",
    "backslashes-only": "%5C%5Cevil.example",
    "https": "https://evil.example",
    "https-encoded": "https%3A%2F%2Fevil.example",
    "https-no-slashes": "https:evil.example",
    "javascript": "javascript:alert(1)",
    "javascript-encoded": "javascript%3Aalert%281%29",
    "data": "data:text/html,hi",
    "encoded-slashes": "%2F%2Fevil",
    "double-encoded-slashes": "%252F%252Fevil",
    "slash-then-encoded-slash": "/%252F/evil.example",
    "dot-segments": "/..//evil.example",
    "tab-prefixed": "%09//evil.example",
    "newline-inside": "/%0A/evil.example",
    "crlf-prefixed": "%0D%0A//evil.example",
    "nul-inside": "/%00/evil.example",
    "space-prefixed": "%20//evil.example",
    "plus-prefixed": "+//evil.example",
    "nbsp-prefixed": "%C2%A0//evil.example",
    "login-itself": "%2Flogin",
    "login-nested": "%2Flogin%3Fnext%3D%252Flogin",
}
PYODIDE_BAD_NEXT = ("double-slash", "javascript")
# The whole table runs on Chromium; on Firefox the cases where the engine's own URL parser could
# differ (backslashes, stripped tabs and newlines, dot segments), as the rest is core/urls.py's.
URL_PARSER_CASES = ("double-slash", "backslash", "tab-prefixed", "newline-inside", "crlf-prefixed", "dot-segments")


def on_origin(server, urls):
    return [url for url in urls if not url.startswith(server.url + "/")]


@pytest.mark.no_pyodide_twin(
    "next is judged by core/urls.py (tests/unit); test_safe_next_is_followed is the Pyodide twin")
@pytest.mark.micropython_engines("chromium", keep=URL_PARSER_CASES)
@pytest.mark.parametrize("runtime, name", cases(list(BAD_NEXT), PYODIDE_BAD_NEXT))
def test_unsafe_next_ends_on_the_app_page(serve, runtime, name, context, wait_state):
    """Rule 2: `next` must be a same-origin path; each unsafe form ends on `/` after signing in,
    and again when `/login?next=...` is opened signed in. No navigation ever leaves the origin."""
    server = serve(runtime)
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    navigations = count_navigations(page)
    url = server("/login") + "?next=" + BAD_NEXT[name]

    page.goto(url)
    wait_state(page, "signed-out")
    sign_in(page, wait_state)
    assert "/" == path_of(page)
    assert len(navigations) <= MAX_NAVIGATIONS, navigations

    load(page, url, wait_state, "active", navigations)
    assert "/" == path_of(page)
    settle(page, navigations)
    assert ([], []) == (on_origin(server, navigations), dialogs)


@pytest.mark.parametrize("runtime", selected_runtimes())
def test_safe_next_is_followed(serve, runtime, context, wait_state):
    """The control for the test above: a same-origin path in `next` is where sign-in goes."""
    server = serve(runtime)
    page = context.new_page()
    page.goto(server("/?report=7"))
    wait_state(page, "signed-out")
    assert "/login?next=%2F%3Freport%3D7" == path_of(page)

    sign_in(page, wait_state)

    assert "/?report=7" == path_of(page)


LOOP_CHECKS = [
    # (signed in?, path, state it settles in, path it settles on)
    (False, "/?next=%2Flogin", "signed-out", "/login?next=%2F%3Fnext%3D%252Flogin"),
    (False, "/login?next=%2Flogin", "signed-out", "/login?next=%2Flogin"),
    (False, "/login?reason=active-elsewhere", "signed-out", "/login?next=%2F"),
    (False, "/login?reason=bogus&next=%2F%2Fevil", "signed-out", "/login?next=%2F"),
    (True, "/login?next=%2Flogin", "active", "/"),
    (True, "/login?reason=signed-out", "active", "/"),
    (True, "/login?reason=idle&next=%2Flogin%3Freason%3Didle", "active", "/"),
]


@pytest.mark.no_pyodide_twin(
    "redirects are decided by the core (tests/world); test_safe_next_is_followed is the Pyodide twin")
@pytest.mark.parametrize("runtime", selected_runtimes())
def test_redirects_between_the_pages_never_loop(serve, runtime, context, wait_state):
    """Rule 10: loads that redirect between `/` and `/login` (stale reasons, next naming the login
    page, a blocked tab) settle within 3 navigations and stay settled."""
    server = serve(runtime)
    page = context.new_page()
    navigations = count_navigations(page)
    for signed_in, path, state, final in LOOP_CHECKS:
        if signed_in and data(page).get("tabState") != "active":
            page.goto(server("/login"))
            sign_in(page, wait_state)
        load(page, server(path), wait_state, state, navigations)
        page.wait_for_timeout(1000)
        assert (state, final) == (data(page)["tabState"], path_of(page)), path
        assert len(navigations) <= MAX_NAVIGATIONS, (path, navigations)

    second = context.new_page()
    second_navigations = count_navigations(second)
    second.goto(server("/login"))  # signed in, another tab active: /login -> / -> /login?reason=...
    wait_state(second, "blocked")
    second.reload()
    wait_state(second, "blocked")
    second.wait_for_timeout(1000)
    assert "/login?reason=active-elsewhere" == path_of(second)
    assert len(second_navigations) <= 2 * MAX_NAVIGATIONS, second_navigations
