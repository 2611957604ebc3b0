"""Playwright harness for the end-to-end tests: a browser, live servers, and tabs that fail loudly.

What it gives a test (pytest-playwright supplies `browser`, `new_context`, `context`, `page`):

- the browser engine: every test that uses a browser runs once per engine, Chromium and Firefox
  (test ids show `[chromium-...]`, `[firefox-...]`); TABSESSION_ENGINES=chromium narrows the list
  and pytest-playwright's `--browser NAME` overrides it (engines.py). An engine that is missing
  here is left out with its reason, printed at the end of the run. Chromium: TABSESSION_BROWSER
  if set, else Playwright's own Chromium if it was downloaded, else Debian's /usr/bin/chromium
  (`./dev setup` installs it as root). Firefox: TABSESSION_FIREFOX, else Debian's firefox-esr,
  driven through Playwright's `moz-firefox` channel (WebDriver BiDi). Both headless.
  `browser_name` says which engine a test runs on. WebKit runs the core scenarios of
  test_engines.py through Selenium (drivers.py).

- `runtime`: parametrized over "micropython" and "pyodide", so a test that uses it (or anything
  built on it) runs once per interpreter. TABSESSION_RUNTIMES=micropython narrows the list.
- `serve(runtime="micropython", **options)`: a running `serve.py` with those options
  (`max_tabs=2` becomes `--max-tabs 2`); each configuration starts once per test session.
  It returns a `LiveServer`: `server.url` is the origin ("http://127.0.0.1:PORT"),
  `server("/login")` a full address.
- `app_server`: `serve(runtime)` with default options.
- `open_tab(path="/", context=None, server=None)`: a new page of `context` (default: the test's
  `context`) at `path` on `server` (default: `app_server`), returned once `<html data-tab-state>`
  has left `booting`. Pages open one after another; for several tabs booting at once, open them
  with `page.goto(..., wait_until="commit")` and call `wait_booted` on each afterwards.
- `wait_state(page, state, timeout_ms=None)` and `wait_booted(page, timeout_ms=None)`: wait for
  `<html data-tab-state>`; they survive navigations (a redirect from `/` to `/login` included).
  `new_tab(context, server, path="/")` is `open_tab` for any context and server;
  `crash_tab(page)` crashes a tab's renderer (rule 6 in docs/rules.md).
  These helpers are fixtures too (ask for `wait_state`, `new_tab`, `watch_of` ... by name):
  test modules should not `import conftest`, as several conftest.py files share that name.

Every context made through `new_context` (so `context` and `page` too) is watched: the test fails
if any of its pages had an uncaught error (`pageerror`), logged a console error, reported a CSP
violation, still shows a `.py-error` element when the test ends, or asked for anything from a
host other than the test's live servers (such requests are aborted). `watch_of(context)` gives
the `BrowserWatch`; a test that provokes one of these on purpose calls `watch.forget()` or
`watch.ignore_console(pattern)`. Make contexts with `new_context`, never `browser.new_context`.

The check runs right after the test body, so it is reported as the test's own failure.
Routing every request (needed to abort off-host ones) turns off Chromium's HTTP cache in that
context: each tab fetches the runtime again from the local server.

This file holds the hooks and fixtures; the plain modules behind them, which test modules may
import by name: app_servers.py (the live servers, started through tests/support/live_server.py),
browser_watch.py (BrowserWatch), tabs.py (reading a tab, waiting for its state, opening and
crashing tabs), engines.py (which engines run) and drivers.py (one face for every engine).
"""

import os
import shutil
from pathlib import Path

import engines
import stall_guard
import pytest
from playwright.sync_api import Error as PlaywrightError

from app_servers import INSECURE_HOST, ServerPool, insecure_url, selected_runtimes
from browser_watch import problems_of, watch_context, watch_of
from tabs import crash_tab, new_tab, wait_booted, wait_state

CHROMIUM_ARGS = [
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOW_TO_GET_A_BROWSER = (
    "No Chromium for the end-to-end tests. Install one of: `sudo apt-get install chromium` "
    "(Debian/Ubuntu; `./dev setup` does it when run as root), `.venv/bin/playwright install "
    "chromium` (where downloads work), or set TABSESSION_BROWSER=/path/to/chromium."
)


def pytest_configure(config):
    """Pick the Playwright engines (unless `--browser` did): those selected and present here."""
    if config.option.browser:
        return
    try:
        chosen = engines.selected()
    except engines.EngineChoiceError as error:
        raise pytest.UsageError(str(error)) from None
    playwright_engines = []
    for engine in chosen:
        if engine == "firefox":
            reason = engines.firefox_missing()
            if reason:
                engines.note_missing("firefox", reason)
                continue
        if engine in engines.PLAYWRIGHT_ENGINES:
            playwright_engines.append(engine)
    if not playwright_engines:
        if chosen == ["webkit"]:
            # Only WebKit: the Playwright-driven tests are skipped, not run on a default engine.
            config.option.browser = ["chromium"]
            config.stash[_ONLY_WEBKIT] = True
            return
        raise pytest.UsageError(
            "no Playwright engine to run the browser tests on: "
            + "; ".join(f"{name}: {why}" for name, why in engines.missing().items()))
    config.option.browser = playwright_engines


_ONLY_WEBKIT = pytest.StashKey()


def pytest_terminal_summary(terminalreporter, config):
    twins = config.stash.get(_DROPPED_TWINS, 0)
    if twins:
        terminalreporter.write_line(
            f"{twins} cases left out on engines their test is not marked for "
            "(pyodide_engines, micropython_engines, no_pyodide_twin markers: heavy files run in full "
            "on Chromium only, and some tests on MicroPython only)")
    for label, pids in stall_guard.fired:
        terminalreporter.write_line(f"stall guard: the teardown of {label} hung; killed page processes {pids}")
    left_out = engines.missing()
    if left_out:
        terminalreporter.section("browser engines left out")
        for engine, reason in left_out.items():
            terminalreporter.write_line(f"{engine}: skipped: {reason}")


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    only_webkit = config.stash.get(_ONLY_WEBKIT, False)
    kept, dropped = [], []
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)
            if only_webkit and "browser_name" in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.skip(reason="TABSESSION_ENGINES=webkit: Playwright engines not selected"))
            if _pyodide_twin_elsewhere(item) or _micropython_case_elsewhere(item):
                dropped.append(item)
                continue
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
        config.stash[_DROPPED_TWINS] = len(dropped)


_DROPPED_TWINS = pytest.StashKey()


def _pyodide_twin_elsewhere(item):
    """True for a Pyodide case of a test marked `no_pyodide_twin(why)`, or marked
    `pyodide_engines(...)` on an engine not named.

    The heavy files run in full on one engine; their Pyodide twins elsewhere would only repeat
    interpreter coverage the other files already give on every engine, at seconds a case. A test
    whose every step goes through page code the other Pyodide cases already run (the same storage,
    lock, channel and server calls, in another order) has no Pyodide twin at all: what it checks
    is decided by the pure core, which tests/world runs under every mechanism, and its engine
    paths by its MicroPython cases."""
    params = getattr(item, "callspec", None)
    if params is None or params.params.get("runtime") != "pyodide":
        return False
    if item.get_closest_marker("no_pyodide_twin") is not None:
        return True
    marker = item.get_closest_marker("pyodide_engines")
    return marker is not None and params.params.get("browser_name") not in marker.args


def _micropython_case_elsewhere(item):
    """True for a MicroPython case of a test marked `micropython_engines(*engines, keep=...)` on
    an engine not named, unless its id names one of `keep`.

    For long tables whose risk lies in Python (the core's decoders), not in the engine: the whole
    table runs on the named engines, and elsewhere only the cases where the engine matters (a
    lone surrogate crossing from storage into Python)."""
    marker = item.get_closest_marker("micropython_engines")
    params = getattr(item, "callspec", None)
    if marker is None or params is None or params.params.get("runtime") != "micropython":
        return False
    if params.params.get("browser_name") in marker.args:
        return False
    return not any(name in params.id for name in marker.kwargs.get("keep", ()))


# --- the browser ----------------------------------------------------------------------------


def find_chromium(playwright):
    """TABSESSION_BROWSER, else Playwright's own Chromium if downloaded, else /usr/bin/chromium."""
    chosen = os.environ.get("TABSESSION_BROWSER")
    if chosen:
        if not os.access(chosen, os.X_OK):
            pytest.fail(f"TABSESSION_BROWSER={chosen} is not an executable file", pytrace=False)
        return chosen
    try:
        own = playwright.chromium.executable_path
    except PlaywrightError:
        own = None
    if own and os.access(own, os.X_OK):
        return own
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(HOW_TO_GET_A_BROWSER, pytrace=False)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, playwright, browser_name):
    """pytest-playwright's launch options plus the browser found here (and quiet Chromium flags)."""
    if browser_name == "firefox":
        executable = engines.firefox_executable()
        if executable is None:
            pytest.skip(engines.firefox_missing())
        # A stock Firefox is driven over WebDriver BiDi: Playwright's `moz-firefox` channel.
        return {**browser_type_launch_args, "channel": "moz-firefox", "executable_path": executable}
    if browser_name not in (None, "chromium"):
        return browser_type_launch_args
    args = list(CHROMIUM_ARGS)
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    return {
        **browser_type_launch_args,
        "executable_path": find_chromium(playwright),
        "args": [*browser_type_launch_args.get("args", []), *args],
    }


# --- live servers (app_servers.py) ----------------------------------------------------------


@pytest.fixture(scope="session")
def server_pool(tmp_path_factory):
    pool = ServerPool(tmp_path_factory.mktemp("servers"))
    yield pool
    pool.stop_all()


@pytest.fixture(scope="session")
def serve(server_pool):
    """serve(runtime="micropython", **options) -> LiveServer; see the module docstring."""
    return server_pool


@pytest.fixture(params=selected_runtimes())
def runtime(request):
    """Each interpreter in turn; the test id shows which ([micropython], [pyodide])."""
    return request.param


@pytest.fixture
def app_server(serve, runtime):
    """The app with default options on this test's runtime."""
    return serve(runtime)


# --- watching every page (browser_watch.py) -------------------------------------------------


@pytest.fixture
def new_context(new_context, server_pool, request):
    """pytest-playwright's `new_context`, with every context watched (see BrowserWatch)."""

    def make(**kwargs):
        context = new_context(**kwargs)
        watch_context(context, server_pool.origins, request.node)
        return context

    return make


@pytest.fixture(scope="session")
def insecure_browser(browser_type, browser_name, browser_type_launch_args):
    """A second browser of the test's engine that resolves INSECURE_HOST to 127.0.0.1, set at
    launch: Chromium by a resolver flag, Firefox by its `network.dns.localDomains` preference
    (which answers with the loopback address for the names it lists)."""
    if browser_name == "firefox":
        prefs = {**browser_type_launch_args.get("firefox_user_prefs", {}),
                 "network.dns.localDomains": INSECURE_HOST}
        options = {**browser_type_launch_args, "firefox_user_prefs": prefs}
    else:
        options = {**browser_type_launch_args,
                   "args": [*browser_type_launch_args.get("args", []),
                            f"--host-resolver-rules=MAP {INSECURE_HOST} 127.0.0.1"]}
    browser = browser_type.launch(**options)
    yield browser
    browser.close()


@pytest.fixture
def insecure_context(insecure_browser, server_pool, request):
    """A watched context of `insecure_browser`; the live servers' INSECURE_HOST origins count as local."""

    def origins():
        local = server_pool.origins()
        return local | {url.replace("://127.0.0.1:", "://" + INSECURE_HOST + ":", 1) for url in local}

    context = insecure_browser.new_context()
    watch_context(context, origins, request.node)
    yield context
    context.close()


@pytest.fixture(name="insecure_url")
def insecure_url_fixture():
    """insecure_url(server, path="/"): the function of app_servers.py, for tests to use."""
    return insecure_url


@pytest.fixture
def watch(context):
    """The BrowserWatch of the test's `context`."""
    return watch_of(context)


# A teardown still running after this long is hung in the browser (stall_guard.py).
TEARDOWN_LIMIT_S = 120


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    armed = stall_guard.guard(item.nodeid, TEARDOWN_LIMIT_S)
    try:
        return (yield)
    finally:
        armed.cancel()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After the test body: fail the test on anything its watched contexts recorded."""
    try:
        result = yield
    except BaseException:
        problems = problems_of(item)
        if problems:
            item.add_report_section("call", "browser problems", "\n".join(problems))
        raise
    problems = problems_of(item)
    if problems:
        pytest.fail("the browser reported problems:\n  " + "\n  ".join(problems), pytrace=False)
    return result



# --- tabs (tabs.py) -------------------------------------------------------------------------


@pytest.fixture(name="crash_tab")
def crash_tab_fixture(browser_name):
    """crash_tab(page): the function of tabs.py, for tests to use. Chromium only: Playwright cannot
    crash one Firefox tab (no CDP there, and WebDriver BiDi refuses about:crashcontent), so a
    test that needs it is skipped on Firefox with that reason."""
    if browser_name != "chromium":
        pytest.skip(f"no way to crash a single {browser_name} tab from Playwright "
                    "(CDP Page.crash is Chromium's; BiDi refuses about:crashcontent)")
    return crash_tab


@pytest.fixture(name="wait_state")
def wait_state_fixture():
    """wait_state(page, state, timeout_ms=None): the function of tabs.py, for tests to use."""
    return wait_state


@pytest.fixture(name="wait_booted")
def wait_booted_fixture():
    """wait_booted(page, timeout_ms=None) -> state: the function of tabs.py, for tests to use."""
    return wait_booted


@pytest.fixture(name="new_tab")
def new_tab_fixture():
    """new_tab(context, server, path="/") -> booted Page: the function of tabs.py, for tests to use."""
    return new_tab


@pytest.fixture(name="watch_of")
def watch_of_fixture():
    """watch_of(context) -> BrowserWatch: the function of browser_watch.py, for tests to use."""
    return watch_of


@pytest.fixture
def open_tab(context, app_server):
    """open_tab(path="/", context=None, server=None) -> a booted Page; see the module docstring."""

    default_context, default_server = context, app_server

    def open_(path="/", context=None, server=None):
        return new_tab(context or default_context, server or default_server, path)

    return open_


# --- stores shared by several serve.py (tests/support/store_fixtures.py) ----------------------

from store_fixtures import redis_server  # noqa: E402,F401  (a fixture: one redis-server per run)
