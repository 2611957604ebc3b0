"""What the hardening tests (issue 5) share: constants, runtimes and cases, storage helpers.

Hardening: bad input, faults and attacks, each tried in real tabs and survived. Rules 10-12 in
docs/rules.md and the README's security model, in a real browser on both interpreters.
MicroPython runs every case; Pyodide a representative subset of the long lists (each case is
marked with the runtimes it runs on, by `cases`; TABSESSION_RUNTIMES narrows them as usual). The
harness fails any test whose pages had an uncaught error, a console error, a `.py-error`, a CSP
violation or a request to another host, so every flow also checks CSP.

Values are planted in storage from a helper page of the same origin (HELPER_PATH: a stylesheet,
which runs no app code) or from init scripts, before the app's pages load.

The tests, one file per section: test_hardening_storage.py (corrupt storage values),
test_hardening_storage_faults.py (storage unavailable or full), test_hardening_messages.py
(forged messages and records), test_hardening_redirects.py (`next`, loops),
test_hardening_injection.py (HTML injection), test_hardening_bfcache.py (the back/forward cache,
in a browser launched with the cache on), test_hardening_urls.py (tokens, ids and URLs). The
server's side (traversal, junk requests) is in tests/server/test_hostile_requests.py, the core's
decoders are fuzzed in tests/unit/test_records.py, and forged storage is simulated at length in
tests/world/test_world_forged.py.

A plain module (the test files import it by name, as pytest puts this folder on sys.path).
"""

import os
import re
import time

import pytest
from tabsession.core import records  # the decoders say what a valid record is (app/: pytest's pythonpath)

RUNTIMES = ("micropython", "pyodide")
HELPER_PATH = "/static/app.css"
MAX_NAVIGATIONS = 3  # rule 10 in docs/rules.md: no redirect loop
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
  // Planted tab records are indexed as a tab's own are (browser/tabindex.py): the forger who
  // knows the layout, so that the tabs do read them. (An unindexed record is never read.)
  const planted = Object.keys(local).filter((key) => key.startsWith("tabsession:tab:"))
    .map((key) => key.slice("tabsession:tab:".length));
  if (planted.length > 0) {
    let ids = [];
    try { ids = JSON.parse(localStorage.getItem("tabsession:tabs")).ids || []; } catch (error) { ids = []; }
    for (const id of planted) if (!ids.includes(id)) ids.push(id);
    localStorage.setItem("tabsession:tabs", JSON.stringify({v: 1, ids: ids}));
  }
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


def listed_ids(page):
    return page.eval_on_selector_all("#tabs li[data-tab-id]", "items => items.map(i => i.dataset.tabId)")
