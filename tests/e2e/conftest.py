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
  `crash_tab(page)` crashes a tab's renderer (CONTRACT rule 6).
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
"""

import os
import re
import shutil
import sys
import time
import weakref
from pathlib import Path
from urllib.parse import urlsplit

import engines
import pytest
from playwright.sync_api import Error as PlaywrightError

ROOT = Path(__file__).resolve().parents[2]
SUPPORT = str(ROOT / "tests" / "support")  # live_server.py, shared with the server tests and the bench
if SUPPORT not in sys.path:
    sys.path.insert(0, SUPPORT)

import live_server  # noqa: E402

RUNTIMES = ("micropython", "pyodide")
# How long a tab may stay `booting` (a cold Pyodide start is about 3 s alone, 12 s for ten tabs).
BOOT_TIMEOUT_MS = {"micropython": 10_000, "pyodide": 20_000}
SERVER_START_TIMEOUT_S = 15

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
            f"{twins} Pyodide cases left out on engines their test is not marked for "
            "(pyodide_engines marker: heavy files run Pyodide on Chromium only)")
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
            if _pyodide_twin_elsewhere(item):
                dropped.append(item)
                continue
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
        config.stash[_DROPPED_TWINS] = len(dropped)


_DROPPED_TWINS = pytest.StashKey()


def _pyodide_twin_elsewhere(item):
    """True for a Pyodide case of a test marked `pyodide_engines(...)` on an engine not named.

    The heavy files run in full on one engine; their Pyodide twins elsewhere would only repeat
    interpreter coverage the other files already give on every engine, at seconds a case."""
    marker = item.get_closest_marker("pyodide_engines")
    params = getattr(item, "callspec", None)
    if marker is None or params is None:
        return False
    return (params.params.get("runtime") == "pyodide"
            and params.params.get("browser_name") not in marker.args)


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


# --- live servers ---------------------------------------------------------------------------


class LiveServer(live_server.LiveServer):
    """One running `serve.py` of a runtime and options (tests/support/live_server.py starts and
    stops it). `server.url` is its origin; `server("/path")` a full address."""

    def __init__(self, runtime, options, logs_in):
        super().__init__("--runtime", runtime, *option_flags(options), logs_in=logs_in, name="server",
                         start_timeout_s=SERVER_START_TIMEOUT_S)
        self.runtime = runtime
        self.options = dict(options)

    def __repr__(self):
        return f"LiveServer({self.url}, runtime={self.runtime}, options={self.options})"

    @property
    def boot_timeout_ms(self):
        return BOOT_TIMEOUT_MS[self.runtime]


option_flags = live_server.option_flags


def _start_server(runtime, options, logs_in):
    if not live_server.SERVE_PY.exists():
        pytest.fail(f"{live_server.SERVE_PY} does not exist yet: the end-to-end tests need the app",
                    pytrace=False)
    try:
        return LiveServer(runtime, options, logs_in).start()
    except live_server.ServerStartError as error:
        pytest.fail(str(error), pytrace=False)


class ServerPool:
    """Starts each configuration of serve.py once and stops them all at the end of the session."""

    def __init__(self, log_root):
        self._log_root = log_root
        self._servers = {}

    def __call__(self, runtime="micropython", **options):
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {RUNTIMES}, not {runtime!r}")
        key = (runtime, tuple(sorted(options.items())))
        server = self._servers.get(key)
        if server is not None and server.process.poll() is not None:
            pytest.fail(
                f"{server} exited with status {server.process.returncode} during the session\n"
                f"--- its stderr ---\n{server.stderr()}",
                pytrace=False,
            )
        if server is None:
            server = _start_server(runtime, options, self._log_root)
            self._servers[key] = server
        return server

    flags = staticmethod(option_flags)

    def origins(self):
        return {server.url for server in self._servers.values()}

    def stop_all(self):
        for server in self._servers.values():
            server.stop()
        self._servers.clear()


@pytest.fixture(scope="session")
def server_pool(tmp_path_factory):
    pool = ServerPool(tmp_path_factory.mktemp("servers"))
    yield pool
    pool.stop_all()


@pytest.fixture(scope="session")
def serve(server_pool):
    """serve(runtime="micropython", **options) -> LiveServer; see the module docstring."""
    return server_pool


def _selected_runtimes():
    chosen = os.environ.get("TABSESSION_RUNTIMES")
    if not chosen:
        return list(RUNTIMES)
    names = [name.strip() for name in chosen.split(",") if name.strip()]
    unknown = set(names) - set(RUNTIMES)
    if unknown:
        raise pytest.UsageError(f"TABSESSION_RUNTIMES names unknown runtimes: {sorted(unknown)}")
    return names


@pytest.fixture(params=_selected_runtimes())
def runtime(request):
    """Each interpreter in turn; the test id shows which ([micropython], [pyodide])."""
    return request.param


@pytest.fixture
def app_server(serve, runtime):
    """The app with default options on this test's runtime."""
    return serve(runtime)


# --- watching every page --------------------------------------------------------------------

_RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} at ${event.sourceFile}:${event.lineNumber}`);
});
"""

_SCAN_PAGE = """() => ({
  pyErrors: Array.from(document.querySelectorAll(".py-error"), (e) => e.textContent.trim().slice(0, 500)),
  csp: window.__cspViolations || [],
})"""

_watches = weakref.WeakKeyDictionary()


def watch_of(context):
    """The BrowserWatch of a context made through the `new_context` fixture."""
    return _watches[context]


class BrowserWatch:
    """Records what must fail a test in one browser context; see the module docstring.

    Lists of strings, oldest first: `page_errors`, `console_errors`, `off_host` (aborted URLs).
    `problems()` adds what the context's open pages show now (`.py-error`, CSP violations).
    """

    def __init__(self, context, allowed_origins):
        self._context = weakref.ref(context)
        self._allowed_origins = allowed_origins  # a callable: the live servers' origins
        self.page_errors = []
        self.console_errors = []
        self.off_host = []
        self._ignored_console = []
        self._crashed = weakref.WeakSet()
        self._forgotten_findings = set()
        context.add_init_script(script=_RECORD_CSP_VIOLATIONS)
        context.route("**/*", self._route)
        context.on("page", self._watch_page)
        for page in context.pages:
            self._watch_page(page)

    def is_local(self, url):
        """True for the live servers' origins (and data:, blob:, about: addresses)."""
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return True
        return f"{parts.scheme}://{parts.netloc}" in self._allowed_origins()

    def _route(self, route):
        url = route.request.url
        try:
            if self.is_local(url):
                route.continue_()
            else:
                self.off_host.append(url)
                route.abort("blockedbyclient")
        except PlaywrightError:
            pass  # the page closed while its request was in flight

    def _watch_page(self, page):
        page.on("pageerror", lambda error: self.page_errors.append(f"{page.url}: {error}"))
        page.on("console", lambda message: self._console(page, message))
        page.on("crash", lambda _page: self._crashed.add(page))

    def _console(self, page, message):
        if message.type != "error":
            return
        text = message.text
        if any(pattern.search(text) for pattern in self._ignored_console):
            return
        location = message.location or {}
        where = location.get("url") or page.url
        self.console_errors.append(f"{where}:{location.get('lineNumber', '?')}: {text}")

    def ignore_console(self, pattern):
        """Stop counting console errors that match a regular expression (for deliberate ones)."""
        self._ignored_console.append(re.compile(pattern))

    def forget(self):
        """Drop everything recorded so far, including what the open pages show now."""
        self._forgotten_findings.update(self._scan_open_pages())
        self.page_errors.clear()
        self.console_errors.clear()
        self.off_host.clear()

    def _scan_open_pages(self):
        """(url, kind, text) for each `.py-error` and CSP violation on the open pages."""
        context = self._context()
        findings = []
        for page in list(context.pages if context is not None else ()):
            if page.is_closed() or page in self._crashed:
                continue
            scan = None
            deadline = time.monotonic() + 3
            while scan is None:  # a page in mid-navigation has no document for a moment
                try:
                    scan = page.evaluate(_SCAN_PAGE)
                except PlaywrightError as error:
                    if page.is_closed() or page in self._crashed:
                        break
                    if time.monotonic() > deadline:  # a redirect loop, for one
                        findings.append((page.url, "page not inspectable", error.message.splitlines()[0]))
                        break
                    page.wait_for_timeout(100)
            if scan is None:
                continue
            findings += [(page.url, "py-error", text) for text in scan["pyErrors"]]
            findings += [(page.url, "CSP violation", text) for text in scan["csp"]]
        return findings

    def problems(self):
        """Everything recorded, as readable lines; empty when the test may pass."""
        lines = [f"page error: {text}" for text in self.page_errors]
        lines += [f"console error: {text}" for text in self.console_errors]
        lines += [f"request to another host (aborted): {url}" for url in self.off_host]
        for url, kind, text in self._scan_open_pages():
            if (url, kind, text) not in self._forgotten_findings:
                lines.append(f"{kind} on {url}: {text}")
        return lines


_WATCHES_KEY = pytest.StashKey()


@pytest.fixture
def new_context(new_context, server_pool, request):
    """pytest-playwright's `new_context`, with every context watched (see BrowserWatch)."""
    watches = request.node.stash.setdefault(_WATCHES_KEY, [])

    def make(**kwargs):
        context = new_context(**kwargs)
        watch = BrowserWatch(context, server_pool.origins)
        _watches[context] = watch
        watches.append(watch)
        return context

    return make


# A made-up host name that the `insecure_browser` resolves to 127.0.0.1. Pages loaded through it
# are not a secure context, so they have no Web Locks: the storage-only fallback is what runs.
INSECURE_HOST = "tabsession.test"


def insecure_url(server, path="/"):
    """`server(path)` reached through INSECURE_HOST instead of 127.0.0.1."""
    return server(path).replace("://127.0.0.1:", "://" + INSECURE_HOST + ":", 1)


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
    watch = BrowserWatch(context, origins)
    _watches[context] = watch
    request.node.stash.setdefault(_WATCHES_KEY, []).append(watch)
    yield context
    context.close()


@pytest.fixture(name="insecure_url")
def insecure_url_fixture():
    """insecure_url(server, path="/"): the function above, for tests to use."""
    return insecure_url


@pytest.fixture
def watch(context):
    """The BrowserWatch of the test's `context`."""
    return watch_of(context)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After the test body: fail the test on anything its watched contexts recorded."""
    try:
        result = yield
    except BaseException:
        problems = _problems_of(item)
        if problems:
            item.add_report_section("call", "browser problems", "\n".join(problems))
        raise
    problems = _problems_of(item)
    if problems:
        pytest.fail("the browser reported problems:\n  " + "\n  ".join(problems), pytrace=False)
    return result


def _problems_of(item):
    return [line for watch in item.stash.get(_WATCHES_KEY, []) for line in watch.problems()]


# --- tabs -----------------------------------------------------------------------------------


def _describe(page):
    try:
        info = page.evaluate(
            "() => { const d = document.documentElement.dataset;"
            " return `state=${d.tabState} reason=${d.reason} runtime=${d.runtime}`; }"
        )
    except PlaywrightError as error:
        info = f"(could not read: {error.message.splitlines()[0]})"
    return f"{page.url} {info}"


def wait_state(page, state, timeout_ms=None):
    """Wait until <html data-tab-state> is `state` (survives navigations); AssertionError if not."""
    timeout_ms = BOOT_TIMEOUT_MS["pyodide"] if timeout_ms is None else timeout_ms
    try:
        page.locator(f'html[data-tab-state="{state}"]').wait_for(state="attached", timeout=timeout_ms)
    except PlaywrightError:
        raise AssertionError(
            f"data-tab-state did not become {state!r} within {timeout_ms} ms: {_describe(page)}"
        ) from None
    return page


def wait_booted(page, timeout_ms=None):
    """Wait until <html data-tab-state> exists and is no longer `booting`; returns the state."""
    timeout_ms = BOOT_TIMEOUT_MS["pyodide"] if timeout_ms is None else timeout_ms
    selector = 'html[data-tab-state]:not([data-tab-state="booting"])'
    try:
        page.locator(selector).wait_for(state="attached", timeout=timeout_ms)
        return page.evaluate("() => document.documentElement.dataset.tabState")
    except PlaywrightError:
        raise AssertionError(f"the tab was still booting after {timeout_ms} ms: {_describe(page)}") from None


def new_tab(context, server, path="/"):
    """Open `path` of `server` in a new page of `context` and wait until it has booted."""
    page = context.new_page()
    # To the commit only: a tab that decides fast may navigate on (to /login) before its `load`
    # event, which Firefox reports as an aborted goto. wait_booted follows navigations.
    response = page.goto(server(path), wait_until="commit")
    assert response is not None and response.ok, f"GET {server(path)} answered {response and response.status}"
    wait_booted(page, server.boot_timeout_ms)
    return page


def crash_tab(page):
    """Crash the renderer of `page`, as a killed tab process would, and wait until it has.

    CDP's `Page.crash` never answers, and the sync API would wait for that answer forever, so
    the command is sent without waiting (through the async object behind the sync one).
    """
    session = page.context.new_cdp_session(page)
    sending = page._loop.create_task(session._impl_obj.send("Page.crash", None))
    sending.add_done_callback(lambda task: task.cancelled() or task.exception())  # no "never retrieved"
    page.wait_for_event("crash", timeout=10_000)


@pytest.fixture(name="crash_tab")
def crash_tab_fixture(browser_name):
    """crash_tab(page): the function above, for tests to use. Chromium only: Playwright cannot
    crash one Firefox tab (no CDP there, and WebDriver BiDi refuses about:crashcontent), so a
    test that needs it is skipped on Firefox with that reason."""
    if browser_name != "chromium":
        pytest.skip(f"no way to crash a single {browser_name} tab from Playwright "
                    "(CDP Page.crash is Chromium's; BiDi refuses about:crashcontent)")
    return crash_tab


@pytest.fixture(name="wait_state")
def wait_state_fixture():
    """wait_state(page, state, timeout_ms=None): the function above, for tests to use."""
    return wait_state


@pytest.fixture(name="wait_booted")
def wait_booted_fixture():
    """wait_booted(page, timeout_ms=None) -> state: the function above, for tests to use."""
    return wait_booted


@pytest.fixture(name="new_tab")
def new_tab_fixture():
    """new_tab(context, server, path="/") -> booted Page: the function above, for tests to use."""
    return new_tab


@pytest.fixture(name="watch_of")
def watch_of_fixture():
    """watch_of(context) -> BrowserWatch: the function above, for tests to use."""
    return watch_of


@pytest.fixture
def open_tab(context, app_server):
    """open_tab(path="/", context=None, server=None) -> a booted Page; see the module docstring."""

    default_context, default_server = context, app_server

    def open_(path="/", context=None, server=None):
        return new_tab(context or default_context, server or default_server, path)

    return open_
