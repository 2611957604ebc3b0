"""Hardening (issue 5): bad input, faults and attacks, each tried in real tabs and survived.

CONTRACT.md rules 10-12 and the README's security model, in a real browser on both
interpreters. MicroPython runs every case; Pyodide a representative subset of the long lists
(each case is marked with the runtimes it runs on; TABSESSION_RUNTIMES narrows them as usual).
The harness fails any test whose pages had an uncaught error, a console error, a `.py-error`,
a CSP violation or a request to another host, so every flow here also checks CSP.

Values are planted in storage from a helper page of the same origin (HELPER_PATH: a stylesheet,
which runs no app code) or from init scripts, before the app's pages load.

Sections: corrupt storage values; storage unavailable or full; forged messages and records;
redirects (`next`, loops); HTML injection; the back/forward cache (a browser launched with the
cache on); tokens, ids and URLs. The server's side (traversal, junk requests) is in
tests/server/test_serve.py, the core's decoders are fuzzed in tests/unit/test_records.py, and
forged storage is simulated at length in tests/world/test_world_forged.py.
"""

import json
import os
import re
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError

APP = Path(__file__).resolve().parents[2] / "app"
if str(APP) not in sys.path:
    sys.path.insert(0, str(APP))

from tabsession.core import records  # noqa: E402  (the decoders say what a valid record is)

# Every case runs on every engine with MicroPython; the Pyodide twins on Chromium only.
pytestmark = pytest.mark.pyodide_engines("chromium")

RUNTIMES = ("micropython", "pyodide")
HELPER_PATH = "/static/app.css"
MAX_NAVIGATIONS = 3  # CONTRACT rule 10: no redirect loop
SETTLE_S = 0.4  # after a tab has decided, how long to watch for a further navigation
REPAIR_TIMEOUT_S = 4.0  # a corrupt record is pruned by the next tick (about 1 s)

SESSION_KEY = records.SESSION_KEY
ACTIVITY_KEY = records.ACTIVITY_KEY
MEMORY_KEY = records.TAB_MEMORY_KEY  # in sessionStorage
OTHER_ID = "0123456789abcdef0123456789abcdef"
OTHER_TAB_KEY = records.tab_key(OTHER_ID)
FORGED_TOKEN = "fedcba9876543210fedcba9876543210"
LOCAL_KEYS = (SESSION_KEY, ACTIVITY_KEY, OTHER_TAB_KEY)
ID = re.compile(r"^[0-9a-f]{32}$")


def selected_runtimes():
    chosen = os.environ.get("TABSESSION_RUNTIMES")
    if not chosen:
        return RUNTIMES
    return tuple(name.strip() for name in chosen.split(",") if name.strip())


def micropython_only():
    """For cases whose risk lies in JavaScript or the browser, not in the interpreter."""
    return [runtime for runtime in selected_runtimes() if runtime == "micropython"]


def cases(values, pyodide_subset, ids=None):
    """pytest params (runtime, value): every value on MicroPython, the subset on Pyodide."""
    params = []
    for runtime in selected_runtimes():
        for index, value in enumerate(values):
            name = ids[index] if ids else str(value)
            if runtime == "pyodide" and name not in pyodide_subset:
                continue
            params.append(pytest.param(runtime, value, id=f"{runtime}-{name}"))
    return params


# --------------------------------------------------------------------------- helpers


def data(page):
    return page.evaluate("() => Object.assign({}, document.documentElement.dataset)")


def path_of(page):
    return page.evaluate("() => location.pathname + location.search")


def count_navigations(page):
    """A list that grows with every navigation of the page's main frame (URLs)."""
    seen = []
    page.on("framenavigated", lambda frame: seen.append(frame.url) if frame == page.main_frame else None)
    return seen


def sign_in(page, wait_state, name="alice"):
    page.fill("#login-form input[name=username]", name)
    page.click("#login-form button[type=submit]")
    wait_state(page, "active")
    return page


def open_helper(context, server):
    """A same-origin page of `context` that runs no app code, to plant and read storage."""
    page = context.new_page()
    page.goto(server(HELPER_PATH))
    return page


_PLANT = """([local, session]) => {
  const make = (value) => {
    if (typeof value === "string") return value;
    if (value.repeat !== undefined) return value.repeat.repeat(value.count);
    return value.text.split("<LONE>").join(String.fromCharCode(0xD800));
  };
  for (const [key, value] of Object.entries(local)) localStorage.setItem(key, make(value));
  for (const [key, value] of Object.entries(session)) sessionStorage.setItem(key, make(value));
}"""

_READ = """() => {
  const dump = (area) => {
    const out = {};
    for (let i = 0; i < area.length; i++) {
      const key = area.key(i);
      if (!key.startsWith("tabsession:")) continue;
      const value = area.getItem(key);
      out[key] = value.length > 10000 ? {length: value.length} : value;
    }
    return out;
  };
  return {local: dump(localStorage), session: dump(sessionStorage)};
}"""


def plant(page, local=None, session=None):
    """Set storage values in the page's origin (values: text, or {"repeat", "count"} / {"text"})."""
    page.evaluate(_PLANT, [local or {}, session or {}])


def stored(page):
    """{"local": {key: value}, "session": {...}} of the tabsession keys (long values as lengths)."""
    return page.evaluate(_READ)


def decodes(key, value):
    """True when `value` is a valid record for `key` (the app's own decoders decide)."""
    if not isinstance(value, str):
        return False
    if key == SESSION_KEY:
        return records.decode_session(value) is not None
    if key == ACTIVITY_KEY:
        return records.decode_activity(value) is not None
    if key == MEMORY_KEY:
        return records.decode_tab_memory(value) is not None
    return records.decode_tab_record(value) is not None


def wait_repaired(page, planted, must_be_absent=()):
    """Wait until every planted key is absent or valid again (those in must_be_absent: absent)."""
    deadline = time.monotonic() + REPAIR_TIMEOUT_S
    while True:
        now = stored(page)
        bad = {}
        for key in planted:
            area = now["session"] if key == MEMORY_KEY else now["local"]
            if key not in area:
                continue
            if key in must_be_absent or not decodes(key, area[key]):
                bad[key] = area[key]
        if not bad:
            return now
        if time.monotonic() > deadline:
            raise AssertionError(f"not repaired within {REPAIR_TIMEOUT_S} s: {bad}")
        page.wait_for_timeout(100)


def settle(page, navigations):
    """Let a decided tab sit for a moment, then check it did not keep navigating."""
    page.wait_for_timeout(SETTLE_S * 1000)
    assert len(navigations) <= MAX_NAVIGATIONS, f"{len(navigations)} navigations: {navigations}"


def park(page, server):
    """Take an app page to the helper page, so that no running app code sees what is planted next.

    A running tab notices a corrupt session on its next look and goes to the login page on its
    own; a goto racing that navigation is aborted (Firefox: NS_BINDING_ABORTED). Parked, the
    planted values meet only the load under test.
    """
    page.goto(server(HELPER_PATH))


def load(page, url, wait_state, state, navigations):
    """Navigate and wait for `state`, counting the navigations from here on."""
    navigations.clear()
    # Only to the commit: a fast tab may navigate on (to /login) before its `load` event, which
    # Firefox reports as an aborted goto (NS_BINDING_ABORTED). wait_state follows navigations.
    page.goto(url, wait_until="commit")
    wait_state(page, state)


# ------------------------------------------------------------------ corrupt storage values

TIME_FIELDS = ("signed_in_at", "at", "opened", "last_active", "since", "seen")


def valid_fields(key, now):
    """A record the app would accept under `key` (forged ids and token)."""
    if key == SESSION_KEY:
        return {"v": 1, "token": FORGED_TOKEN, "user": "mallory", "signed_in_at": now}
    if key == ACTIVITY_KEY:
        return {"v": 1, "token": FORGED_TOKEN, "at": now}
    if key == MEMORY_KEY:
        return {"v": 1, "id": OTHER_ID, "token": FORGED_TOKEN, "slot": 0, "use_here": False}
    return {"v": 1, "id": OTHER_ID, "state": "active", "page": "app", "slot": 0, "opened": now,
            "last_active": now, "since": now, "seen": now}


def _times(value):
    """Every time field, and the slot, set to `value`."""
    def change(fields):
        return json.dumps({name: (value if name in TIME_FIELDS or name == "slot" else field)
                           for name, field in fields.items()})
    return change


def _wrong_type(value):
    if isinstance(value, bool):
        return "true"
    if isinstance(value, str):
        return 12345
    if isinstance(value, (int, float)):
        return str(value)
    return []


def _without_last(fields):
    names = [name for name in fields if name != "v"]
    return json.dumps({name: fields[name] for name in fields if name != names[-1]})


def _renamed_last(new_name):
    def change(fields):
        names = list(fields)
        return json.dumps({(new_name if name == names[-1] else name): fields[name] for name in names})
    return change


def _lone_surrogate(fields):
    """The id or token with a lone UTF-16 surrogate (planted in JS: JSON cannot carry one)."""
    name = "token" if "token" in fields else "id"
    return {"text": json.dumps({**fields, name: fields[name][:31] + "<LONE>"})}


CORRUPTIONS = {
    "invalid-json": lambda fields: '{"v": 1, "token": ',
    "empty": lambda fields: "",
    "null": lambda fields: "null",
    "number": lambda fields: "42",
    "list": lambda fields: json.dumps(list(fields.values())),
    "string": lambda fields: json.dumps(json.dumps(fields)),
    "wrong-types": lambda fields: json.dumps({name: (value if name == "v" else _wrong_type(value))
                                              for name, value in fields.items()}),
    "negative": _times(-1),
    "huge-int": _times(10**30),
    "1e308": _times(1e308),
    "nan-string": _times("NaN"),
    "nan-literal": _times(float("nan")),
    "infinity-literal": _times(float("inf")),
    "missing-field": _without_last,
    "extra-field": lambda fields: json.dumps({**fields, "admin": True}),
    "other-version": lambda fields: json.dumps({**fields, "v": 2}),
    "version-as-text": lambda fields: json.dumps({**fields, "v": "1"}),
    "version-as-bool": lambda fields: json.dumps({**fields, "v": True}),
    "proto-key": _renamed_last("__proto__"),
    "proto-wrapper": lambda fields: json.dumps({"__proto__": fields}),
    "deep-nesting": lambda fields: "[" * 1000 + "]" * 1000,
    "lone-surrogate": _lone_surrogate,
}
PYODIDE_CORRUPTIONS = ("invalid-json", "proto-key", "lone-surrogate")


def corrupt(name, keys):
    """{"local": {...}, "session": {...}} with each key set to corruption `name` of its record."""
    now = time.time()
    local, session = {}, {}
    for key in keys:
        value = CORRUPTIONS[name](valid_fields(key, now))
        (session if key == MEMORY_KEY else local)[key] = value
    return local, session


# The keys with one value each; `tabsession:tab:<id>` records are many, and are tried all at once
# (test_every_corrupt_tab_record_at_once_is_pruned_and_never_listed).
SINGLE_KEYS = (SESSION_KEY, ACTIVITY_KEY, MEMORY_KEY)
SHARED_SINGLE_KEYS = (SESSION_KEY, ACTIVITY_KEY)
SIGNED_IN_CORRUPTIONS = ("invalid-json", "null", "wrong-types", "extra-field", "proto-key", "lone-surrogate")
PYODIDE_SIGNED_IN_CORRUPTIONS = ("wrong-types",)


@pytest.mark.parametrize("runtime, corruption", cases(list(CORRUPTIONS), PYODIDE_CORRUPTIONS))
def test_corrupt_values_signed_out_are_no_session_and_get_repaired(serve, runtime, corruption, context,
                                                                    wait_state):
    """Rules 10 and 12: session, activity and tab memory hold a corrupt value; `/`, then `/login`.

    Each load settles signed-out within 3 navigations, and every key is absent or valid again
    (the tab's own memory is rewritten, the shared keys are removed).
    """
    server = serve(runtime)
    page = open_helper(context, server)
    navigations = count_navigations(page)

    plant(page, *corrupt(corruption, SINGLE_KEYS))
    load(page, server("/"), wait_state, "signed-out", navigations)
    assert "/login?next=%2F" == path_of(page)
    wait_repaired(page, SINGLE_KEYS, must_be_absent=SHARED_SINGLE_KEYS)
    settle(page, navigations)
    assert ID.match(data(page)["tabId"])

    plant(page, *corrupt(corruption, SINGLE_KEYS))
    load(page, server("/login"), wait_state, "signed-out", navigations)
    assert "/login" == path_of(page)
    wait_repaired(page, SINGLE_KEYS, must_be_absent=SHARED_SINGLE_KEYS)
    settle(page, navigations)


@pytest.mark.parametrize("runtime, corruption", cases(SIGNED_IN_CORRUPTIONS, PYODIDE_SIGNED_IN_CORRUPTIONS))
def test_corrupt_values_signed_in(serve, runtime, corruption, context, wait_state):
    """Rules 10 and 12, signed in: corrupt activity and tab memory leave the session alone (the
    tab stays active and rewrites them, on `/` and through `/login`); a corrupt session record
    is no session: removed, and the tab lands on the login page.
    """
    server = serve(runtime)
    page = open_helper(context, server)
    navigations = count_navigations(page)
    page.goto(server("/login"))
    sign_in(page, wait_state)
    others = (ACTIVITY_KEY, MEMORY_KEY)

    plant(page, *corrupt(corruption, others))
    load(page, server("/"), wait_state, "active", navigations)
    wait_repaired(page, others)
    settle(page, navigations)
    assert page.locator("#app").is_visible()

    plant(page, *corrupt(corruption, others))
    load(page, server("/login"), wait_state, "active", navigations)
    assert "/" == path_of(page)
    wait_repaired(page, others)
    settle(page, navigations)

    park(page, server)
    plant(page, *corrupt(corruption, SINGLE_KEYS))
    load(page, server("/"), wait_state, "signed-out", navigations)
    assert "/login?next=%2F" == path_of(page)
    wait_repaired(page, SINGLE_KEYS, must_be_absent=SHARED_SINGLE_KEYS)
    settle(page, navigations)
    assert 0 == page.locator("#app").count()


@pytest.mark.parametrize("runtime", selected_runtimes())
def test_every_corrupt_tab_record_at_once_is_pruned_and_never_listed(serve, runtime, context, wait_state):
    """Rule 10 for `tabsession:tab:<id>`: one record per corruption, each under its own id, seen
    by a signed-out login page, then by two signed-in tabs: all are deleted, none is listed in
    #tabs, the real tabs keep their state."""
    server = serve(runtime, max_tabs=2)
    now = time.time()
    forged = {}
    for index, name in enumerate(CORRUPTIONS):
        tab_id = "%032x" % (0xbad0000 + index)
        fields = valid_fields(OTHER_TAB_KEY, now)
        fields["id"] = tab_id
        forged[records.tab_key(tab_id)] = CORRUPTIONS[name](fields)
    first = open_helper(context, server)
    first.goto(server("/login"))
    wait_state(first, "signed-out")

    plant(first, forged)
    wait_repaired(first, list(forged), must_be_absent=list(forged))
    assert "signed-out" == data(first)["tabState"]

    sign_in(first, wait_state)
    second = open_helper(context, server)
    second.goto(server("/"))
    wait_state(second, "active")
    plant(first, forged)
    wait_repaired(first, list(forged), must_be_absent=list(forged))
    real = sorted([data(first)["tabId"], data(second)["tabId"]])
    for page in (first, second):
        listed = page.eval_on_selector_all("#tabs li[data-tab-id]", "items => items.map(i => i.dataset.tabId)")
        assert real == sorted(listed)
        assert "active" == data(page)["tabState"]


FOUR_MB = {"repeat": "x", "count": 4 * 1024 * 1024}


@pytest.mark.parametrize("runtime, key", cases([*LOCAL_KEYS, MEMORY_KEY], (SESSION_KEY,)))
def test_four_megabytes_under_a_key_is_no_session(serve, runtime, key, context, wait_state):
    """Rule 10: 4 MB of text under a key, signed out and then signed in: repaired, no loop."""
    server = serve(runtime)
    page = open_helper(context, server)
    navigations = count_navigations(page)
    planted = {key: FOUR_MB}
    local, session = ({}, planted) if key == MEMORY_KEY else (planted, {})

    plant(page, local, session)
    load(page, server("/"), wait_state, "signed-out", navigations)
    wait_repaired(page, [key], must_be_absent=LOCAL_KEYS)
    settle(page, navigations)

    sign_in(page, wait_state)
    park(page, server)
    plant(page, local, session)
    expected = "signed-out" if key == SESSION_KEY else "active"
    load(page, server("/"), wait_state, expected, navigations)
    wait_repaired(page, [key], must_be_absent=(SESSION_KEY, OTHER_TAB_KEY))
    settle(page, navigations)


# ------------------------------------------------------------- storage unavailable or full

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
_FILL_LOCAL = """() => {
  let count = 0;
  for (let size = 1 << 20; size >= 1; size >>= 1) {
    const chunk = "x".repeat(size);
    for (;;) {
      try { localStorage.setItem("filler:" + count, chunk); count++; } catch (error) { break; }
    }
  }
  return count;
}"""
STORAGE_FAULTS = {
    "local-denied": _DENY_AREA % "localStorage",
    "session-denied": _DENY_AREA % "sessionStorage",
    "setitem-quota": "(%s)('')" % _QUOTA_ON_SET,
}


def assert_error_state(page):
    """CONTRACT rule 11: #error with a readable message, error / storage-unavailable, no #app."""
    state = data(page)
    assert ("error", "storage-unavailable") == (state.get("tabState"), state.get("reason"))
    error = page.locator("#error")
    assert error.is_visible()
    assert re.search(r"storage", error.inner_text(), re.IGNORECASE), error.inner_text()
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

    assert_error_state(page)
    assert path == path_of(page)
    settle(page, navigations)
    assert 1 == len(navigations), navigations
    assert {} == shared_keys(context, server)


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
    wait_state(login, "blocked")
    helper = open_helper(context, server)
    assert helper.evaluate(_FILL_LOCAL) > 0

    late = context.new_page()
    late.goto(server("/"))
    wait_state(late, "error")
    assert_error_state(late)

    page.click("#logout")  # removals fit in a full area
    wait_state(login, "signed-out")
    helper.evaluate(_FILL_LOCAL)  # what the removals freed
    login.fill("#login-form input[name=username]", "alice")
    login.click("#login-form button[type=submit]")
    wait_state(login, "error")
    assert_error_state(login)
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

    assert_error_state(page)
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
    assert_error_state(page)

    second = context.new_page()
    second.goto(server("/"))
    wait_state(second, "active")
    assert "error" == data(page)["tabState"]


# ------------------------------------------------------------------------ forged messages

_POST = """([texts, others]) => {
  const channel = new BroadcastChannel("tabsession");
  const lone = String.fromCharCode(0xD800);
  for (const text of texts) channel.postMessage(text.split("<LONE>").join(lone));
  const made = {
    object: () => ({v: 1, type: "changed", from: "0123456789abcdef0123456789abcdef"}),
    number: () => 42, null: () => null, undefined: () => undefined, list: () => [1, 2],
    boolean: () => true, buffer: () => new ArrayBuffer(8), date: () => new Date(0),
    huge: () => "x".repeat(1 << 20), blob: () => new Blob(["{}"]),
  };
  for (const name of others) channel.postMessage(made[name]());
  channel.close();
}"""


def wake(sender):
    return json.dumps({"v": 1, "type": "changed", "from": sender})


JUNK_TEXTS = [
    "", "junk", "{", "null", "[]", "42", '"changed"',
    '{"v": 1, "type": "changed"}',
    json.dumps({"v": 2, "type": "changed", "from": OTHER_ID}),
    json.dumps({"v": "1", "type": "changed", "from": OTHER_ID}),
    json.dumps({"v": True, "type": "changed", "from": OTHER_ID}),
    json.dumps({"v": 1, "type": "moved", "from": OTHER_ID}),
    json.dumps({"v": 1, "type": "signed-out", "from": OTHER_ID}),
    json.dumps({"v": 1, "type": "changed", "from": "not-an-id"}),
    json.dumps({"v": 1, "type": "changed", "from": OTHER_ID.upper()}),
    json.dumps({"v": 1, "type": "changed", "from": OTHER_ID, "state": "active"}),
    json.dumps({"__proto__": {"v": 1}, "type": "changed", "from": OTHER_ID}),
    '{"v": 1, "type": "changed", "from": "' + OTHER_ID[:31] + '<LONE>"}',
    "[" * 128 + "]" * 128,
    "x" * 300,
]
JUNK_OTHERS = ["object", "number", "null", "undefined", "list", "boolean", "buffer", "date", "huge", "blob"]
VALID_WAKES = [wake(OTHER_ID), wake("f" * 32)]


def forge_messages(helper, own_id):
    """Post every junk message, valid wake-ups from other ids and one in the tab's own name."""
    helper.evaluate(_POST, [JUNK_TEXTS + VALID_WAKES + [wake(own_id)], JUNK_OTHERS])
    return len(JUNK_TEXTS) + len(JUNK_OTHERS)


def wait_dropped(page, expected):
    try:
        page.wait_for_function(
            "(n) => document.documentElement.dataset.droppedMessages === String(n)", arg=expected,
            timeout=5000)
    except Exception:
        raise AssertionError(
            f"data-dropped-messages={data(page).get('droppedMessages')!r}, expected {expected}") from None


@pytest.mark.parametrize("runtime", selected_runtimes())
def test_forged_channel_messages_are_dropped_counted_and_harmless(serve, runtime, context, wait_state):
    """Junk on the "tabsession" BroadcastChannel from another same-origin page (wrong schema,
    non-string data, huge payloads, forged orders and wake-ups with other ids): every invalid
    one is dropped and counted, valid wake-ups are not, and no tab changes state or crashes."""
    server = serve(runtime)
    helper = open_helper(context, server)
    page = context.new_page()
    page.goto(server("/login"))
    wait_state(page, "signed-out")

    expected = forge_messages(helper, data(page)["tabId"])

    wait_dropped(page, expected)
    assert "signed-out" == data(page)["tabState"]

    sign_in(page, wait_state)
    tab_id = data(page)["tabId"]
    helper.evaluate(_POST, [[wake(OTHER_ID)] * 300, []])  # a flood of wake-ups
    expected = forge_messages(helper, tab_id)

    wait_dropped(page, expected)
    page.wait_for_timeout(1000)
    assert ("active", tab_id) == (data(page)["tabState"], data(page)["tabId"])
    assert page.locator("#app").is_visible()


def forged_record(tab_id, state="active", seen_offset=0.0):
    now = time.time()
    return json.dumps({"v": 1, "id": tab_id, "state": state, "page": "app", "slot": 0, "opened": now,
                       "last_active": now, "since": now, "seen": now + seen_offset})


def listed_ids(page):
    return page.eval_on_selector_all("#tabs li[data-tab-id]", "items => items.map(i => i.dataset.tabId)")


@pytest.mark.parametrize("runtime", selected_runtimes())
def test_forged_tab_records_never_sign_in_or_take_a_place(serve, runtime, context, wait_state):
    """Storage events from another page: tab records of tabs that do not exist, claiming to be
    active (now, and dated far in the future). A signed-out tab stays signed out; a signed-in tab
    stays active and does not list them; a new tab is still refused by the real active tab only."""
    server = serve(runtime)
    helper = open_helper(context, server)
    page = context.new_page()
    page.goto(server("/login"))
    wait_state(page, "signed-out")
    forged = {records.tab_key(OTHER_ID): forged_record(OTHER_ID),
              records.tab_key("e" * 32): forged_record("e" * 32, seen_offset=86400 * 365)}

    plant(helper, forged)
    page.wait_for_timeout(1500)
    assert "signed-out" == data(page)["tabState"]
    assert 0 == page.locator("#app").count()

    sign_in(page, wait_state)
    plant(helper, forged)
    page.wait_for_timeout(1500)
    assert "active" == data(page)["tabState"]
    assert [data(page)["tabId"]] == listed_ids(page)
    second = context.new_page()
    second.goto(server("/"))
    wait_state(second, "blocked")
    assert "active" == data(page)["tabState"]


@pytest.mark.parametrize("runtime", selected_runtimes())
def test_forged_ended_session_signs_out_cleanly_and_signs_nobody_in(serve, runtime, context, wait_state):
    """Another page replaces the live session with an ended record of a different token: the
    tabs follow it to the login page (plain signed-out, not the forged reason), without errors,
    and the ended record then signs nobody in."""
    server = serve(runtime)
    helper = open_helper(context, server)
    page = context.new_page()
    page.goto(server("/login"))
    sign_in(page, wait_state)
    ended = json.dumps({"v": 1, "token": FORGED_TOKEN, "ended": "idle", "at": time.time()})

    plant(helper, {SESSION_KEY: ended})

    page.wait_for_url(re.compile(r"/login\?reason=signed-out$"), timeout=5000)
    wait_state(page, "signed-out")
    assert "signed-out" == data(page)["reason"]
    again = context.new_page()
    again.goto(server("/"))
    wait_state(again, "signed-out")
    assert "/login?next=%2F" == path_of(again)


# ------------------------------------------------------------------------------ redirects

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


def on_origin(server, urls):
    return [url for url in urls if not url.startswith(server.url + "/")]


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


# ------------------------------------------------------------------------- HTML injection

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


# ---------------------------------------------------------------------- back/forward cache

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
def bfcache_context(bfcache_browser, server_pool, request, watch_of):
    """A context of `bfcache_browser`, watched like every other (see insecure_context)."""
    harness = watch_of.__globals__  # the e2e conftest as pytest loaded it (never import it again)
    context = bfcache_browser.new_context()
    watch = harness["BrowserWatch"](context, server_pool.origins)
    harness["_watches"][context] = watch
    request.node.stash.setdefault(harness["_WATCHES_KEY"], []).append(watch)
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


# What Back brings the app page back as, per engine: Chromium restores it from the back/forward
# cache (pageshow with persisted, #app hidden); Firefox never keeps a page that holds a Web Lock
# in that cache (measured: a plain page is kept, one holding a lock is not), so Back loads it
# anew and it decides like any new page load.
RESTORED_FROM_CACHE = {"chromium": [["/", False]], "firefox": []}


@pytest.mark.parametrize("runtime", selected_runtimes())
def test_page_held_in_the_cache_while_the_session_ends_is_signed_out_when_restored(
        serve, runtime, bfcache_context, wait_state, browser_name):
    """Back/forward cache: an active page is left for another page; while it sits in the cache
    the session ends through storage alone (as a tab in storage-only mode ends it: no channel
    message, which would make Chromium evict the cached page). Going Back restores it (Chromium)
    or loads it anew (Firefox) without showing #app, and it lands on /login?reason=signed-out."""
    server = serve(runtime)
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
    assert RESTORED_FROM_CACHE[browser_name] == found["restored"], "how Back brought the page back"
    assert [] == found["leaks"]


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


@pytest.mark.parametrize("runtime", selected_runtimes())
def test_page_restored_from_the_cache_while_signed_in_is_active_again(serve, runtime, bfcache_context,
                                                                      wait_state, browser_name):
    """Back/forward cache, session still live: the restored (Chromium) or reloaded (Firefox)
    page decides again and is active, with its own id, and #app shows only once it is."""
    server = serve(runtime)
    page = bfcache_context.new_page()
    page.goto(server("/login"))
    sign_in(page, wait_state)
    tab_id = data(page)["tabId"]
    page.goto(server(HELPER_PATH))

    go_back(page)
    wait_state(page, "active")

    page.locator("#app").wait_for(state="visible")
    found = probes(page)
    assert (RESTORED_FROM_CACHE[browser_name], [], tab_id) == (found["restored"], found["leaks"],
                                                              data(page)["tabId"])


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


# ------------------------------------------------------------------- tokens, ids and URLs

# Keeps, in the tab's sessionStorage, the hex of every 16-byte buffer crypto.getRandomValues filled.
_RECORD_RANDOM = """(() => {
  const original = Crypto.prototype.getRandomValues;
  Crypto.prototype.getRandomValues = function (array) {
    const result = original.call(this, array);
    if (array && array.byteLength === 16) {
      const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
      const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      const seen = JSON.parse(window.sessionStorage.getItem("probe:random") || "[]");
      seen.push(hex);
      window.sessionStorage.setItem("probe:random", JSON.stringify(seen));
    }
    return result;
  };
})();"""


def random_values(page):
    return page.evaluate("() => JSON.parse(sessionStorage.getItem('probe:random') || '[]')")


@pytest.mark.parametrize("runtime", selected_runtimes())
def test_tokens_and_ids_are_128_bit_csprng_values_and_never_in_a_url(serve, runtime, context, wait_state):
    """The session token and every tab id are 32 lowercase hex digits that crypto.getRandomValues
    produced as 16 bytes, all different; no URL requested or visited in sign-in, refusal, use
    here and sign-out holds the token, a tab id or the user name."""
    server = serve(runtime)
    context.add_init_script(script=_RECORD_RANDOM)
    urls = []
    context.on("request", lambda request: urls.append(request.url))
    user = "zoe-q7x9"
    first = context.new_page()
    second = context.new_page()
    for page in (first, second):
        page.on("framenavigated", lambda frame: urls.append(frame.url))

    first.goto(server("/login"))
    sign_in(first, wait_state, user)
    token = json.loads(stored(first)["local"][SESSION_KEY])["token"]
    second.goto(server("/"))
    wait_state(second, "blocked")
    second.click("#use-here")
    wait_state(second, "active")
    wait_state(first, "moved")
    ids = [data(first)["tabId"], data(second)["tabId"]]
    second.click("#logout")
    for page in (first, second):
        wait_state(page, "signed-out")
        urls.append(page.url)

    secrets = [token, *ids]
    assert all(ID.match(value) for value in secrets), secrets
    assert len(set(secrets)) == 3
    assert token in random_values(first)
    assert ids[0] in random_values(first) and ids[1] in random_values(second)
    leaked = [url for url in urls if any(secret in url for secret in (*secrets, user))]
    assert [] == leaked
    assert len(urls) > 10
