"""Several serve.py processes on one store, restarts and a store that stops answering (S6-S8).

Each test starts serve.py processes of its own (app_servers.LiveServer, on a store of its own):
they are stopped, or killed, by the test, so the session's shared servers would not do. The
browser profiles are contexts watched as every e2e context is (uncaught errors, console errors,
requests off the test's servers), with these servers' origins as the local ones.

Cookies belong to a host, not a port: a profile's session cookie reaches every serve.py on
127.0.0.1, while its localStorage, BroadcastChannel and Web Locks are per port. So a second
server's tab knows of the session only through the server side, which is what S6 asks.

MicroPython on Chromium for every case; one Pyodide twin (SQLite) of Use here across servers.
These tests found three faults, fixed since: a tab of the profile on the second server was shown
the sign-in form (its origin's storage had no session), signing in there looped between / and
/login (the first server's tab was not counted), and a frozen store looped the same way instead of
showing the error.
"""

import itertools
import signal

import pytest
import redis_server as redis_support  # tests/support/
from app_servers import LiveServer, selected_runtimes
from browser_watch import watch_context, watch_of
from tabs import html_data, path_of, sign_in, state_of

pytestmark = pytest.mark.pyodide_engines("chromium")

WAIT_MS = 5_000  # generous: the contract's 1-2 s plus a slow machine; no timing is asserted
# (ERR_CONTENT_LENGTH_MISMATCH: a request whose answer was cut off by the kill, e.g. the activity
# a tab reports while the user moves the pointer.)
CONNECTION_LOST = (r"ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|ERR_CONTENT_LENGTH_MISMATCH"
                   r"|WebSocket connection")
STATUS_503 = r"status of 503"
_redis_databases = itertools.count(1)


# --- fixtures: stores, servers, profiles -----------------------------------------------------


@pytest.fixture
def profiles(browser, request):
    """profiles() -> a new watched browser context (a profile: its own cookies and storage);
    `profiles.origins` is the set of origins its pages may ask (the test's own servers).

    Made from `browser`, not conftest's `new_context`: that one counts only the server pool's
    origins as local, and these tests' servers are not in the pool (they get killed)."""
    origins = set()
    made = []

    def make():
        context = browser.new_context()
        watch_context(context, lambda: set(origins), request.node)
        made.append(context)
        return context

    make.origins = origins
    yield make
    for context in made:
        context.close()


@pytest.fixture
def start_server(profiles, tmp_path, request):
    """start_server(runtime, store, port=None) -> a running serve.py (max-tabs 1, block) on
    `store`; every one started is stopped after the test, and its stderr is shown if it failed."""
    started = []

    def start(runtime, store, port=None):
        options = {"store": store, "max_tabs": 1, "policy": "block", "port": port}
        server = LiveServer(runtime, options, tmp_path / "logs")
        started.append(server)
        server.start()  # `--port N` after live_server's own `--port 0`: argparse keeps the last
        profiles.origins.add(server.url)
        return server

    yield start
    for server in started:
        server.stop()
    report = "\n".join(f"--- {server!r} ({server.log_dir}) ---\n{server.stderr()}"
                       for server in started if server.log_dir is not None)
    request.node.add_report_section("teardown", "serve.py stderr", report)


def redis_spec(redis):
    """A fresh database of `redis` (a RedisServer) as a --store value, emptied first."""
    import redis as redis_client

    spec = f"{redis.url[:-2]}/{next(_redis_databases) % 15 + 1}"
    with redis_client.Redis.from_url(spec) as client:
        client.flushdb()
    return spec


@pytest.fixture
def store_of(tmp_path, request):
    """store_of(kind) -> a --store value naming a fresh store: "sqlite" or "redis" (the run's
    redis-server)."""
    def store(kind):
        if kind == "sqlite":
            return f"sqlite:{tmp_path / 'tabsession.db'}"
        return redis_spec(request.getfixturevalue("redis_server"))
    return store


# --- helpers ----------------------------------------------------------------------------------


def open_tab(context, server, path="/"):
    """A new page of `context` at `path` of `server`, once it has left `booting`."""
    page = context.new_page()
    page.goto(server(path), wait_until="commit")
    wait_decided(page, server.boot_timeout_ms)
    return page


# Every value `data-tab-state` takes, each change seen even when several come in one task (a
# MutationObserver's records keep the old values; the last value is the attribute's own).
RECORD_STATES = """
window.__tabStates = [];
new MutationObserver(records => {
  for (const record of records) window.__tabStates.push(record.oldValue);
}).observe(document, {attributes: true, subtree: true, attributeOldValue: true,
                      attributeFilter: ["data-tab-state"]});
"""


def states_seen(page):
    """The states the page's `<html>` has had, in order, the served `booting` first."""
    return page.evaluate("""() => {
        const seen = window.__tabStates.concat([document.documentElement.dataset.tabState]);
        return seen.filter((state, index) => index === 0 || state !== seen[index - 1]);
    }""")


def wait_decided(page, timeout_ms):
    page.locator('html[data-tab-state]:not([data-tab-state="booting"])').wait_for(
        state="attached", timeout=timeout_ms)


def wait_state(page, state, timeout_ms):
    """Wait for <html data-tab-state=state> (across navigations); a readable failure if not."""
    try:
        page.locator(f'html[data-tab-state="{state}"]').wait_for(state="attached", timeout=timeout_ms)
    except Exception:
        raise AssertionError(f"{page.url}: data-tab-state did not become {state!r} within "
                             f"{timeout_ms} ms: {describe(page)}") from None
    return page


def describe(page):
    try:
        return str(html_data(page))
    except Exception as error:  # mid-navigation
        return f"(unreadable: {str(error).splitlines()[0]})"


def sign_in_as(page, name):
    """Fill the login form and submit (whatever the outcome)."""
    page.fill("#login-form input[name=username]", name)
    page.click("#login-form button[type=submit]")
    return page


def main_frame_navigations(page):
    """A list that grows by one URL on each navigation of `page`'s main frame."""
    seen = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and seen.append(frame.url))
    return seen


def assert_blocked(page):
    data = html_data(page)
    assert ("blocked", "active-elsewhere") == (data.get("tabState"), data.get("reason")), describe(page)
    assert path_of(page).startswith("/login?reason=active-elsewhere"), path_of(page)
    page.locator("#use-here").wait_for(state="visible", timeout=WAIT_MS)
    assert page.locator("#app").is_hidden()


def stays(page, state, seconds=1.5):
    """True if `page` is still in `state` after `seconds` with at most one more navigation."""
    navigations = main_frame_navigations(page)
    page.wait_for_timeout(seconds * 1000)
    return len(navigations) <= 1 and state == html_data(page).get("tabState")


def runtimes(*cases):
    """pytest params (runtime, store kind), without the runtimes TABSESSION_RUNTIMES leaves out."""
    return [pytest.param(runtime, kind, id=f"{runtime}-{kind}") for runtime, kind in cases
            if runtime in selected_runtimes()]


# --- S6: two serve.py on one store are one server -----------------------------------------------

@pytest.mark.parametrize("runtime, store_kind", runtimes(("micropython", "sqlite"), ("micropython", "redis")))
def test_the_same_profile_is_refused_on_the_second_server(runtime, store_kind, store_of, start_server,
                                                          profiles):
    """S6: a profile signed in through A (its tab active) opens a tab on B. The cookie is the
    host's, so B sees the session in the shared store; the user's one place is taken, so B
    refuses the tab (blocked, active-elsewhere, Use here). Signing out through A's tab then
    reaches B's tab, which lands signed out on /login."""
    store = store_of(store_kind)
    a, b = start_server(runtime, store), start_server(runtime, store)
    profile = profiles()
    on_a = sign_in(open_tab(profile, a, "/login"), "bob")

    profile.add_init_script(script=RECORD_STATES)
    on_b = open_tab(profile, b, "/")
    # B's origin never recorded a session; its first decision already follows the server's (the
    # places answer names the session's user), so it never shows the sign-in form first.
    wait_state(on_b, "blocked", WAIT_MS)
    assert_blocked(on_b)
    assert ["booting", "blocked"] == states_seen(on_b), "B's tab showed another state on its way"
    assert stays(on_b, "blocked"), f"{describe(on_b)}: the blocked tab moved on (a redirect loop)"
    assert "active" == state_of(on_a)

    on_a.click("#logout")
    wait_state(on_a, "signed-out", WAIT_MS)
    wait_state(on_b, "signed-out", WAIT_MS)
    on_b.locator("#login-form").wait_for(state="visible", timeout=WAIT_MS)
    assert on_b.locator("#app").is_hidden()
    assert path_of(on_b).startswith("/login?reason=signed-out"), path_of(on_b)


@pytest.mark.parametrize("runtime, store_kind", runtimes(
    ("micropython", "sqlite"), ("micropython", "redis"), ("pyodide", "sqlite")))
def test_use_here_on_one_server_moves_the_tab_on_the_other(runtime, store_kind, store_of, start_server,
                                                           profiles):
    """S6 with S3 across processes: bob is active in one profile through A; a second profile
    signing in as bob through B is refused; its Use here takes the place and A's tab, told over
    the store's bus, becomes moved (taken-over); Use here on A takes it back the same way
    (MicroPython only: the Pyodide twin stops after the first move, each boot costs seconds)."""
    store = store_of(store_kind)
    a, b = start_server(runtime, store), start_server(runtime, store)
    on_a = sign_in(open_tab(profiles(), a, "/login"), "bob")
    on_b = sign_in_as(open_tab(profiles(), b, "/login"), "bob")
    wait_state(on_b, "blocked", b.boot_timeout_ms)
    assert_blocked(on_b)

    on_b.click("#use-here")
    wait_state(on_b, "active", b.boot_timeout_ms)
    wait_state(on_a, "moved", WAIT_MS)
    assert ("taken-over", True) == (html_data(on_a).get("reason"), on_a.locator("#app").is_hidden())
    on_b.locator("#user", has_text="bob").wait_for(timeout=WAIT_MS)
    if runtime == "pyodide":
        return

    on_a.click("#use-here")
    wait_state(on_a, "active", a.boot_timeout_ms)
    wait_state(on_b, "moved", WAIT_MS)

    assert ("taken-over", True) == (html_data(on_b).get("reason"), on_b.locator("#app").is_hidden())
    on_a.locator("#user", has_text="bob").wait_for(timeout=WAIT_MS)


# --- S7: nothing is lost when a serve.py is killed --------------------------------------------


@pytest.mark.parametrize("store_kind", ["sqlite", "redis"])
def test_a_killed_server_started_again_keeps_its_tabs_and_limits(store_kind, store_of, start_server, profiles):
    """S7: serve.py killed (SIGKILL) and started again on the same store and port (the same
    origin, so the tab keeps its storage): after a reload the tab is active again with the same
    id, and the user's one place is still taken (a second profile is refused)."""
    store = store_of(store_kind)
    port = redis_support.free_port()
    first = start_server("micropython", store, port)
    profile = profiles()
    tab = sign_in(open_tab(profile, first, "/login"), "carol")
    tab_id = html_data(tab)["tabId"]
    watch_of(profile).ignore_console(CONNECTION_LOST)  # the push connection breaks with the process

    first.stop(signal.SIGKILL)
    again = start_server("micropython", store, port)
    assert again.url == first.url
    tab.reload(wait_until="commit")
    wait_state(tab, "active", again.boot_timeout_ms)
    tab.locator("#user", has_text="carol").wait_for(timeout=WAIT_MS)

    other = sign_in_as(open_tab(profiles(), again, "/login"), "carol")
    wait_state(other, "blocked", again.boot_timeout_ms)

    assert ("active", tab_id) == (state_of(tab), html_data(tab)["tabId"])
    assert_blocked(other)


# --- S8: a store that stops answering ------------------------------------------------------------


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own (it gets frozen): stopped (thawed first) afterwards."""
    if not redis_support.available():
        pytest.skip("redis-server is not installed (sudo apt-get install redis-server)")
    redis = redis_support.RedisServer(tmp_path / "redis").start()
    yield redis
    redis.stop()


def test_a_tab_that_cannot_get_a_decision_shows_the_error(own_redis, start_server, profiles):
    """S8: Redis frozen, a signed-in tab reloaded: #error with a readable message, error /
    server-unavailable, on the page it asked for (no redirect loop), #app hidden."""
    server = start_server("micropython", redis_spec(own_redis))
    profile = profiles()
    tab = sign_in(open_tab(profile, server, "/login"), "dave")
    watch_of(profile).ignore_console(STATUS_503)  # Chromium logs each 503 answer

    own_redis.freeze()
    navigations = main_frame_navigations(tab)
    tab.reload(wait_until="commit")
    wait_state(tab, "error", 10_000)
    tab.locator("#error").wait_for(state="visible", timeout=WAIT_MS)

    assert "server-unavailable" == html_data(tab).get("reason")
    assert tab.locator("#error").inner_text().strip()
    assert tab.locator("#app").is_hidden()
    assert stays(tab, "error"), describe(tab)
    assert len(navigations) <= 3, navigations


def test_after_a_frozen_store_a_reload_recovers_with_nothing_lost(own_redis, start_server, profiles):
    """S8's recovery: Redis frozen while a signed-in tab reloads (it gets 503s), then thawed: a
    reload makes the tab active again with the same id and user, and the user's one place is
    still taken (a second profile is refused)."""
    server = start_server("micropython", redis_spec(own_redis))
    profile = profiles()
    tab = sign_in(open_tab(profile, server, "/login"), "dave")
    tab_id = html_data(tab)["tabId"]
    watch_of(profile).ignore_console(STATUS_503)

    own_redis.freeze()
    answered = []
    tab.on("response", lambda response: "/api/" in response.url and answered.append(response.status))
    tab.reload(wait_until="commit")
    tab.wait_for_event("response", lambda response: response.status == 503, timeout=10_000)
    own_redis.thaw()
    tab.reload(wait_until="commit")
    wait_state(tab, "active", server.boot_timeout_ms)
    tab.locator("#user", has_text="dave").wait_for(timeout=WAIT_MS)
    other = sign_in_as(open_tab(profiles(), server, "/login"), "dave")
    wait_state(other, "blocked", server.boot_timeout_ms)

    assert 503 in answered
    assert ("active", tab_id) == (state_of(tab), html_data(tab)["tabId"])
    assert_blocked(other)
