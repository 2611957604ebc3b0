"""Hardening (issue 5): storage unavailable or full, from the start or mid-session: the error
state (rule 11 in docs/rules.md), and no session left behind; each failure with its own message
(issue 16: a full area is not blocked storage).

Shared set-up and helpers: hardening.py.
"""

import re

import pytest

from hardening import (
    ACTIVITY_KEY,
    MEMORY_KEY,
    SESSION_KEY,
    cases,
    count_navigations,
    data,
    micropython_only,
    open_helper,
    path_of,
    records,
    settle,
    sign_in,
    stored,
)

# Every case runs on every engine with MicroPython; the Pyodide twins on Chromium only.
pytestmark = pytest.mark.pyodide_engines("chromium")


_DENY_AREA = """(() => {
  const deny = () => { throw new DOMException("The operation is insecure.", "SecurityError"); };
  Object.defineProperty(window, "%s", { get: deny, configurable: true });
})();"""
_QUOTA_ON_SET = """(prefix) => {
  const original = Storage.prototype.setItem;
  Storage.prototype.setItem = function (key, value) {
    if (String(key).startsWith(prefix)) {
      throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
    }
    return original.call(this, key, value);
  };
}"""
_THROW_ON_GET = """() => {
  Storage.prototype.getItem = function () {
    throw new DOMException("The operation is insecure.", "SecurityError");
  };
}"""
# Fills localStorage to within a character: chunks, then the shortest keys with empty values
# (a failed "filler:N" write can leave as much room as its key).
_FILL_LOCAL = """() => {
  let count = 0;
  for (let size = 1 << 20; size >= 1; size >>= 1) {
    const chunk = "x".repeat(size);
    for (;;) {
      try { localStorage.setItem("filler:" + count, chunk); count++; } catch (error) { break; }
    }
  }
  for (let i = 0; i < 1296; i++) {
    const key = "~" + i.toString(36);
    if (localStorage.getItem(key) !== null) continue;  // an earlier fill's
    try { localStorage.setItem(key, ""); count++; } catch (error) { break; }
  }
  return count;
}"""
STORAGE_FAULTS = {
    "local-denied": _DENY_AREA % "localStorage",
    "session-denied": _DENY_AREA % "sessionStorage",
    "setitem-quota": "(%s)('')" % _QUOTA_ON_SET,
}
# What the page must say for each kind of failure (issue 16): the error's name in
# data-storage-error and words of its message (#error). A full area is not blocked storage: its
# message must not send the user to private browsing or the settings that block storage.
QUOTA = ("QuotaExceededError", ("storage in the browser is full", "clearing this site's data"))
DENIED = ("SecurityError", ("does not let this site use storage", "Allow site data"))
FAULT_ERRORS = {"local-denied": DENIED, "session-denied": DENIED, "setitem-quota": QUOTA,
                "getitem-throws": DENIED}


def assert_error_state(page, expected):
    """Rule 11 in docs/rules.md: #error with a readable message, error / storage-unavailable, no
    #app; the message is the one for ``expected`` (QUOTA, DENIED)."""
    name, words = expected
    state = data(page)
    assert ("error", "storage-unavailable", name) == (
        state.get("tabState"), state.get("reason"), state.get("storageError"))
    error = page.locator("#error")
    assert error.is_visible()
    text = error.inner_text()
    assert re.search(r"storage", text, re.IGNORECASE), text
    assert all(word in text for word in words), text
    if expected is QUOTA:
        assert "private" not in text.lower(), text
    assert not page.locator("#app").is_visible()


def shared_keys(context, server):
    """The tabsession keys in the profile's localStorage, read from a fresh helper tab."""
    helper = open_helper(context, server)
    keys = stored(helper)["local"]
    helper.close()
    return keys


@pytest.mark.parametrize("runtime, fault", cases(
    [(fault, path) for fault in STORAGE_FAULTS for path in ("/", "/login")],
    ("local-denied-/", "setitem-quota-/login"),
    ids=[f"{fault}-{path}" for fault in STORAGE_FAULTS for path in ("/", "/login")]))
def test_storage_unusable_from_the_start_is_the_error_state(serve, runtime, fault, context, wait_state):
    """Rule 11: storage access throwing SecurityError, or every setItem throwing
    QuotaExceededError: the page stays where it is, in the error state, and writes nothing."""
    server = serve(runtime)
    name, path = fault
    page = context.new_page()
    page.add_init_script(script=STORAGE_FAULTS[name])
    navigations = count_navigations(page)

    page.goto(server(path))
    wait_state(page, "error")

    assert_error_state(page, FAULT_ERRORS[name])
    assert path == path_of(page)
    settle(page, navigations)
    assert 1 == len(navigations), navigations
    assert {} == shared_keys(context, server)


def settle_at(page, wait_state, url_pattern, state):
    """Wait for `page`'s last document: at a URL matching `url_pattern`, loaded, showing `state`."""
    page.wait_for_url(re.compile(url_pattern))
    page.wait_for_load_state("load")
    wait_state(page, state)


# Chromium only: twice in CI (not here), Firefox let the late tab write its record into an area
# another process had just filled (its per-process storage snapshots account for quota lazily),
# and the tab was then rightly `blocked`, not in error. Firefox's quota failure is still tested,
# with the error thrown into setItem (test_sign_in_that_cannot_be_stored_..., setitem-quota).
@pytest.mark.micropython_engines("chromium")
@pytest.mark.parametrize("runtime", micropython_only())
def test_full_local_storage_is_the_error_state(serve, runtime, context, wait_state):
    """Rule 11 with a really full area: a signed-in profile's new tab cannot keep the session
    (error), and a sign-in on a page that booted before the area filled up fails cleanly: error,
    no session left behind."""
    server = serve(runtime)
    page = open_helper(context, server)
    page.goto(server("/login"))
    sign_in(page, wait_state)
    login = context.new_page()
    login.goto(server("/login?next=%2F"))  # signed in: goes on to `/`, where it is blocked
    # Fill only once its last page has booted: a page it leaves later frees its record's bytes,
    # and the late tab then had room (CI saw it blocked instead of in error).
    settle_at(login, wait_state, r"/login\?reason=active-elsewhere$", "blocked")
    helper = open_helper(context, server)
    assert helper.evaluate(_FILL_LOCAL) > 0

    late = context.new_page()
    late.goto(server("/"))
    wait_state(late, "error")
    assert_error_state(late, QUOTA)

    # The signed-in tab keeps its place through activity: each rewrite of its record and of
    # the activity fits where the last one was (records.padded). Before, a time one digit
    # longer made a rewrite that the full area refused, and this tab ended in error too.
    page.bring_to_front()
    for step in range(8):
        page.mouse.move(20 + 9 * step, 20 + 5 * step)
        page.wait_for_timeout(400)
    assert "active" == data(page).get("tabState")

    page.click("#logout")  # the ended session fits where the live one was; the rest are removals
    settle_at(login, wait_state, r"/login\?reason=signed-out$", "signed-out")
    # What the removals freed, filled from the sign-in page itself: in place it never reloads,
    # and Chromium's page learns of another process's writes to a full area only lazily (above).
    login.evaluate(_FILL_LOCAL)
    login.fill("#login-form input[name=username]", "alice")
    login.click("#login-form button[type=submit]")
    wait_state(login, "error")
    assert_error_state(login, QUOTA)
    session = stored(helper)["local"].get(SESSION_KEY)
    assert session is None or records.decode_session(session).__class__ is not records.Session


@pytest.mark.parametrize("runtime, failing", cases(["tabsession:", ACTIVITY_KEY, MEMORY_KEY], (ACTIVITY_KEY,)))
def test_sign_in_that_cannot_be_stored_is_the_error_state_and_leaves_no_session(
        serve, runtime, failing, context, wait_state):
    """A sign-in whose writes throw QuotaExceededError (all of them, or only a later one):
    error state, no navigation, and no live session left in storage for other tabs to use."""
    server = serve(runtime)
    page = context.new_page()
    page.goto(server("/login"))
    wait_state(page, "signed-out")
    navigations = count_navigations(page)
    page.evaluate(_QUOTA_ON_SET, failing)

    page.fill("#login-form input[name=username]", "alice")
    page.click("#login-form button[type=submit]")
    wait_state(page, "error")

    assert_error_state(page, QUOTA)
    assert not page.locator("#login-form").is_visible()
    settle(page, navigations)
    assert [] == navigations
    session = shared_keys(context, server).get(SESSION_KEY)
    assert session is None or not isinstance(records.decode_session(session), records.Session), session


@pytest.mark.parametrize("runtime, fault", cases(["setitem-quota", "getitem-throws", "local-denied"],
                                                   ("setitem-quota", "getitem-throws")))
def test_storage_failing_mid_session_ends_in_the_error_state_and_frees_the_place(
        serve, runtime, fault, context, wait_state):
    """A write (quota) or a read (SecurityError) failing in an active tab: error state, #app
    hidden, no uncaught error; the tab gives up its place, so a new tab is admitted."""
    server = serve(runtime)
    page = context.new_page()
    page.goto(server("/login"))
    sign_in(page, wait_state)
    if fault == "setitem-quota":
        page.evaluate(_QUOTA_ON_SET, "tabsession:")
        page.wait_for_timeout(1100)  # past the activity write interval
        page.mouse.move(10, 10)
        page.mouse.move(40, 40)
    elif fault == "getitem-throws":
        page.evaluate(_THROW_ON_GET)
    else:
        page.evaluate("() => { %s }" % (_DENY_AREA % "localStorage"))

    wait_state(page, "error", 5000)
    assert_error_state(page, FAULT_ERRORS[fault])

    second = context.new_page()
    second.goto(server("/"))
    wait_state(second, "active")
    assert "error" == data(page)["tabState"]
