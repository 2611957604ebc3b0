"""Hardening (issue 5): a hostile user name is shown as text and runs nothing.

Shared set-up and helpers: hardening.py.
"""

import pytest

from hardening import cases, listed_ids, sign_in

# Every case runs on every engine with MicroPython; the Pyodide twins on Chromium only.
pytestmark = pytest.mark.pyodide_engines("chromium")


HOSTILE_NAMES = {
    "img-onerror": '<img src=x onerror="window.__pwned=1;alert(1)">',
    "script-py": '<script type="py">import js; js.window.__pwned = 1</script>',
    "script-mpy": '<script type="mpy">import js; js.window.__pwned = 1</script>',
    "py-script-element": "<py-script>import js; js.window.__pwned = 1</py-script>",
    "svg-onload": '"><svg onload=window.__pwned=1>',
    "entities": "&lt;b&gt; &amp; &#60;i&#62;",
}
PYODIDE_HOSTILE_NAMES = ("script-py",)

_INJECTED = """() => ({
  pwned: window.__pwned !== undefined,
  handlers: document.querySelectorAll("[onerror], [onload]").length,
  userElements: document.querySelectorAll("#user *").length,
  hostileInTabs: document.querySelectorAll("#tabs img, #tabs svg, #tabs script, #tabs py-script").length,
  pythonScripts: Array.from(document.querySelectorAll("script, py-script, mpy-script"))
    .filter((element) => element.textContent.includes("__pwned")).length,
})"""


@pytest.mark.parametrize("runtime, name", cases(list(HOSTILE_NAMES), PYODIDE_HOSTILE_NAMES))
def test_hostile_user_name_is_shown_as_text_and_runs_nothing(serve, runtime, name, context, wait_state):
    """Rule 2: a user name that is HTML or a PyScript tag shows as typed in #user, in both tabs
    of a two-tab session, and nothing of it becomes an element or runs (no dialog, no flag)."""
    server = serve(runtime, max_tabs=2)
    user = HOSTILE_NAMES[name]
    assert len(user) <= 64
    page = context.new_page()
    dialogs = []
    context.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(server("/login"))

    sign_in(page, wait_state, user)
    second = context.new_page()
    second.goto(server("/"))
    wait_state(second, "active")
    page.wait_for_timeout(1000)  # time for PyScript to pick up a script element, were there one

    for tab in (page, second):
        assert user == tab.locator("#user").text_content()
        assert 2 == len(listed_ids(tab))
        found = tab.evaluate(_INJECTED)
        assert {"pwned": False, "handlers": 0, "userElements": 0, "hostileInTabs": 0,
                "pythonScripts": 0} == found
    assert [] == dialogs
