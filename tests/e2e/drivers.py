"""One small face for driving tabs, so a scenario is written once and runs on every engine.

A scenario (see test_engines.py) gets a `Browser` and works through it and the `Tab`s it opens:

    browser.open_tab(path="/")      a new tab at `path` of the app server, once it has booted
    browser.problems()              page errors, console errors and `.py-error`s seen so far
    tab.data()                      the `data-*` attributes of `<html>` (tabState, tabId, ...)
    tab.state(), tab.path()         data-tab-state; pathname + search
    tab.wait_for(state, path=None)  wait until both hold at once (survives navigations);
                                    state None: any state, the path alone
    tab.fill(selector, text), tab.click(selector)       real input events, waiting for the element
    tab.is_visible(selector), tab.text(selector)
    tab.click_opening_tab(selector) click something that opens a new tab; returns it, booted
    tab.reload(), tab.close(), tab.run_script(js)

Two implementations:
- `PlaywrightBrowser`: pages of one context made through conftest.py's `new_context`, so the
  harness's watch (page errors, console errors, off-host requests ...) applies as everywhere.
- `WebKitBrowser`: Debian's WebKitGTK MiniBrowser through Selenium and WebKitWebDriver, one
  WebDriver session whose windows are the tabs, under an Xvfb display this module starts.

The WebKit fixtures live here (`webkit_display`, `webkit_browser`); test modules import them.
This module must not import conftest.py (several conftest.py files share that name).

What WebKitWebDriver cannot give (Debian's 2.50 build has no WebDriver BiDi, and console output
is not written out for automated pages): an init script, console or error events. So each tab
gets a recorder (error, unhandledrejection, console.error) installed at the first look after each
navigation, kept in the tab's sessionStorage so that it survives the tab's own navigations; a
problem raised before that first look is seen only if Python shows it as a `.py-error`.
"""

import json
import os
import re
import shutil
import subprocess
import threading
import time
import warnings

import pytest

import engines

POLL_S = 0.05
ELEMENT_TIMEOUT_MS = 10_000
# How long a tab may take to boot, per runtime (WebKit's Pyodide is slower than Chromium's).
BOOT_TIMEOUT_MS = {"micropython": 15_000, "pyodide": 40_000}
XVFB_START_TIMEOUT_S = 10
# WebKitWebDriver waits for MiniBrowser without a limit; once (in a CI run) MiniBrowser could not
# open the display and the session's start hung for good. A start that takes longer is stopped
# and made once more; a second one fails the test with what the driver logged.
WEBKIT_START_TIMEOUT_S = 60

_READ_PAGE = """return {
  data: Object.assign({}, document.documentElement.dataset),
  path: location.pathname + location.search,
}"""


class WaitTimeout(AssertionError):
    pass


def _describe(data, path):
    return (f"{path} state={data.get('tabState')} reason={data.get('reason')} "
            f"runtime={data.get('runtime')}")


# --- Playwright -------------------------------------------------------------------------------


class _Tab:
    """What both tab drivers read and wait for the same way; each gives `_read()` and `_pause()`."""

    def data(self):
        return self._read()["data"]

    def state(self):
        return self.data().get("tabState")

    def path(self):
        return self._read()["path"]

    def wait_for(self, state, path=None, timeout_ms=None):
        return _wait_for(self, state, path, timeout_ms or self.browser.boot_timeout_ms, self._pause)

    def wait_booted(self, timeout_ms=None):
        return _wait_booted(self, timeout_ms or self.browser.boot_timeout_ms, self._pause)

    def wait_text(self, selector, text, timeout_ms=2000):
        """The text of `selector` once it is `text` (filled a moment after a state change, e.g.
        #user from /api/me); what it is at the deadline otherwise."""
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            shown = self.text(selector)
            if shown == text or time.monotonic() > deadline:
                return shown
            self._pause()


class PlaywrightTab(_Tab):
    def __init__(self, browser, page):
        self.browser = browser
        self.page = page

    def _read(self):
        return self.page.evaluate("() => {" + _READ_PAGE + "}")

    def _pause(self):
        self.page.wait_for_timeout(POLL_S * 1000)

    def fill(self, selector, text):
        self.page.fill(selector, text, timeout=ELEMENT_TIMEOUT_MS)

    def click(self, selector):
        self.page.click(selector, timeout=ELEMENT_TIMEOUT_MS)

    def is_visible(self, selector):
        return self.page.locator(selector).is_visible()

    def text(self, selector):
        return self.page.locator(selector).inner_text()

    def click_opening_tab(self, selector):
        with self.page.context.expect_page() as opened:
            self.page.click(selector, timeout=ELEMENT_TIMEOUT_MS)
        tab = PlaywrightTab(self.browser, opened.value)
        tab.wait_booted()
        return tab

    def run_script(self, script):
        """Run JavaScript statements in the tab (for checks of the harness itself)."""
        self.page.evaluate("() => {" + script + "}")

    def reload(self):
        self.page.reload()

    def close(self):
        self.page.close()

    def _safe_read(self):
        try:
            return self._read()
        except Exception:  # mid-navigation: no document for a moment
            return None


class PlaywrightBrowser:
    """Tabs as pages of one watched Playwright context, on `server`."""

    engine = "playwright"

    def __init__(self, context, server, watch):
        self.context = context
        self.server = server
        self.watch = watch
        self.boot_timeout_ms = BOOT_TIMEOUT_MS[server.runtime]

    @property
    def name(self):
        return self.context.browser.browser_type.name

    def open_tab(self, path="/"):
        page = self.context.new_page()
        response = page.goto(self.server(path))
        assert response is not None and response.ok, f"GET {path} answered {response and response.status}"
        tab = PlaywrightTab(self, page)
        tab.wait_booted()
        return tab

    def problems(self):
        return self.watch.problems()

    def forget_problems(self):
        self.watch.forget()


# --- shared waiting ---------------------------------------------------------------------------


def _wait_for(tab, state, path, timeout_ms, pause):
    """Poll `tab` until data-tab-state is `state` and (if given) its path matches `path`."""
    pattern = re.compile(path) if isinstance(path, str) else path
    deadline = time.monotonic() + timeout_ms / 1000
    last = None
    while True:
        seen = tab._safe_read()
        if seen is not None:
            last = seen
            if state in (None, seen["data"].get("tabState")) and (
                    pattern is None or pattern.fullmatch(seen["path"])):
                return tab
        if time.monotonic() > deadline:
            what = f"{state!r}" + (f" on {pattern.pattern}" if pattern else "")
            now = _describe(last["data"], last["path"]) if last else "(never readable)"
            raise WaitTimeout(f"the tab did not become {what} within {timeout_ms} ms: {now}")
        pause()


def _wait_booted(tab, timeout_ms, pause):
    """Poll until <html data-tab-state> exists and is not `booting`; returns the state."""
    deadline = time.monotonic() + timeout_ms / 1000
    last = None
    while True:
        seen = tab._safe_read()
        if seen is not None:
            last = seen
            state = seen["data"].get("tabState")
            if state not in (None, "booting"):
                return state
        if time.monotonic() > deadline:
            now = _describe(last["data"], last["path"]) if last else "(never readable)"
            raise WaitTimeout(f"the tab was still booting after {timeout_ms} ms: {now}")
        pause()


# --- WebKit through Selenium ------------------------------------------------------------------

# Installed into each document the first time the driver looks at it. Records go to the tab's
# sessionStorage under a key of the tests' own, so the tab's navigations do not lose them.
PROBLEMS_KEY = "tests.e2e.problems"
_INSTALL_RECORDER = """
if (!window.__problemRecorder) {
  window.__problemRecorder = true;
  const key = %s;
  const record = (text) => {
    try {
      const list = JSON.parse(sessionStorage.getItem(key) || "[]");
      list.push(location.pathname + location.search + ": " + text);
      sessionStorage.setItem(key, JSON.stringify(list));
    } catch (error) {}
  };
  window.addEventListener("error", (event) => record(
    "page error: " + event.message + " at " + event.filename + ":" + event.lineno));
  window.addEventListener("unhandledrejection", (event) => record(
    "unhandled rejection: " + (event.reason && event.reason.stack || event.reason)));
  const consoleError = console.error;
  console.error = function (...parts) {
    record("console error: " + parts.map(String).join(" "));
    return consoleError.apply(this, parts);
  };
}
""" % json.dumps(PROBLEMS_KEY)

_READ_PROBLEMS = """
return {
  recorded: JSON.parse(sessionStorage.getItem(%s) || "[]"),
  pyErrors: Array.from(document.querySelectorAll(".py-error"),
                       (e) => location.pathname + ": py-error: " + e.textContent.trim().slice(0, 500)),
}""" % json.dumps(PROBLEMS_KEY)


class WebKitTab(_Tab):
    def __init__(self, browser, handle):
        self.browser = browser
        self.handle = handle

    def _focus(self):
        self.browser._switch_to(self.handle)
        return self.browser.driver

    def _read(self):
        driver = self._focus()
        return driver.execute_script(_INSTALL_RECORDER + _READ_PAGE)

    def _safe_read(self):
        from selenium.common.exceptions import WebDriverException
        try:
            return self._read()
        except WebDriverException:  # mid-navigation: no document for a moment
            return None

    def _pause(self):
        time.sleep(POLL_S)

    def _element(self, selector, visible=True):
        """The element at `selector` once it is there (and displayed), across navigations."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.common.by import By
        driver = self._focus()
        deadline = time.monotonic() + ELEMENT_TIMEOUT_MS / 1000
        problem = None
        while True:
            try:
                element = driver.find_element(By.CSS_SELECTOR, selector)
                if not visible or element.is_displayed():
                    return element
                problem = "it is not displayed"
            except WebDriverException as error:
                problem = error.msg or type(error).__name__
            if time.monotonic() > deadline:
                raise WaitTimeout(f"no usable {selector} within {ELEMENT_TIMEOUT_MS} ms: {problem}")
            time.sleep(POLL_S)

    def fill(self, selector, text):
        element = self._element(selector)
        element.clear()
        element.send_keys(text)

    def click(self, selector):
        self._element(selector).click()  # a WebDriver element click: a trusted user gesture

    def is_visible(self, selector):
        from selenium.webdriver.common.by import By
        found = self._focus().find_elements(By.CSS_SELECTOR, selector)
        return bool(found) and found[0].is_displayed()

    def text(self, selector):
        return self._element(selector, visible=False).text

    def click_opening_tab(self, selector):
        before = set(self._focus().window_handles)
        self.click(selector)
        deadline = time.monotonic() + ELEMENT_TIMEOUT_MS / 1000
        while True:
            new = set(self.browser.driver.window_handles) - before
            if new:
                break
            if time.monotonic() > deadline:
                raise WaitTimeout(f"clicking {selector} opened no tab within {ELEMENT_TIMEOUT_MS} ms")
            time.sleep(POLL_S)
        assert 1 == len(new), f"clicking {selector} opened {len(new)} tabs"
        tab = self.browser._adopt(new.pop())
        tab.wait_booted()
        return tab

    def run_script(self, script):
        """Run JavaScript statements in the tab (for checks of the harness itself)."""
        self._read()  # the recorder goes in first
        self.browser.driver.execute_script(script)

    def reload(self):
        self._focus().refresh()

    def close(self):
        self.browser._collect_problems(self)
        self._focus().close()
        self.browser._closed(self)


class WebKitBrowser:
    """Tabs as windows of one WebKitGTK WebDriver session, on `server`."""

    engine = "webkit"
    name = "webkit"

    def __init__(self, driver, server):
        self.driver = driver
        self.server = server
        self.boot_timeout_ms = BOOT_TIMEOUT_MS[server.runtime]
        self._tabs = []
        self._current = driver.current_window_handle
        self._spare = self._current  # the session's first, blank window: used by the first tab
        self._problems_of_closed = []

    def _switch_to(self, handle):
        if self._current != handle:
            self.driver.switch_to.window(handle)
            self._current = handle

    def _adopt(self, handle):
        tab = WebKitTab(self, handle)
        self._tabs.append(tab)
        return tab

    def _closed(self, tab):
        self._tabs.remove(tab)
        self._current = None

    def open_tab(self, path="/"):
        if self._spare is not None:
            handle, self._spare = self._spare, None
            self._switch_to(handle)
        else:
            self.driver.switch_to.new_window("tab")
            handle = self._current = self.driver.current_window_handle
        self.driver.get(self.server(path))
        tab = self._adopt(handle)
        tab.wait_booted()
        return tab

    def _collect_problems(self, tab):
        from selenium.common.exceptions import WebDriverException
        try:
            tab._focus()
            found = self.driver.execute_script(_READ_PROBLEMS)
        except WebDriverException as error:
            return [f"tab {tab.handle} not inspectable: {error.msg}"]
        lines = found["recorded"] + found["pyErrors"]
        self._problems_of_closed += lines
        return lines

    def problems(self):
        """Every problem recorded in the open tabs and in tabs closed earlier, each once."""
        lines = list(self._problems_of_closed)
        for tab in list(self._tabs):
            lines += self._collect_problems(tab)
        return list(dict.fromkeys(lines))  # a copied tab inherits its opener's records

    def forget_problems(self):
        for tab in self._tabs:
            tab._focus()
            self.driver.execute_script(f"sessionStorage.removeItem({json.dumps(PROBLEMS_KEY)})")
        self._problems_of_closed.clear()


# --- WebKit fixtures --------------------------------------------------------------------------


def _skip_unless_webkit_wanted():
    if "webkit" not in engines.selected():
        pytest.skip("TABSESSION_ENGINES leaves out webkit")
    reason = engines.webkit_missing()
    if reason:
        engines.note_missing("webkit", reason)
        pytest.skip(reason)


class Xvfb:
    """A virtual X display on a number Xvfb picks itself (-displayfd), so runs never collide."""

    def __init__(self):
        read_end, write_end = os.pipe()
        self.process = subprocess.Popen(
            [shutil.which("Xvfb"), "-displayfd", str(write_end), "-nolisten", "tcp",
             "-screen", "0", "1280x1024x24"],
            pass_fds=(write_end,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(write_end)
        number = b""
        deadline = time.monotonic() + XVFB_START_TIMEOUT_S
        try:
            while not number.endswith(b"\n"):
                os.set_blocking(read_end, False)
                try:
                    chunk = os.read(read_end, 32)
                except BlockingIOError:
                    chunk = None
                if chunk == b"" or self.process.poll() is not None:
                    raise RuntimeError(f"Xvfb exited ({self.process.poll()}) before naming its display")
                if chunk:
                    number += chunk
                elif time.monotonic() > deadline:
                    raise RuntimeError(f"Xvfb named no display within {XVFB_START_TIMEOUT_S} s")
                else:
                    time.sleep(0.02)
        except BaseException:
            self.stop()
            raise
        finally:
            os.close(read_end)
        self.display = ":" + number.decode().strip()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="session")
def webkit_display():
    """An Xvfb display for WebKit (skips when WebKit is not wanted or not installed)."""
    _skip_unless_webkit_wanted()
    display = Xvfb()
    yield display.display
    display.stop()


def start_webkit(display, log_path):
    """A new WebDriver session of WebKitGTK's MiniBrowser on `display`, made within
    WEBKIT_START_TIMEOUT_S (a second try once; see there)."""
    for attempt in (1, 2):
        driver, service = _start_webkit_within(display, log_path, WEBKIT_START_TIMEOUT_S)
        if driver is not None:
            return driver
        service.stop()  # WebKitWebDriver goes, and the request waiting on it fails
    log = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
    raise RuntimeError(f"WebKit's WebDriver session did not start within {WEBKIT_START_TIMEOUT_S} s,"
                       f" twice; its log ends:\n{log}")


def _start_webkit_within(display, log_path, timeout_s):
    """(driver, service); driver None when the session did not start within `timeout_s`."""
    from selenium import webdriver
    from selenium.webdriver.webkitgtk.service import Service

    options = webdriver.WebKitGTKOptions()
    options.binary_location = engines.webkit_browser()
    options.add_argument("--automation")
    driver_path = (engines.WEBKIT_DRIVER if os.access(engines.WEBKIT_DRIVER, os.X_OK)
                   else shutil.which("WebKitWebDriver"))
    service = Service(driver_path, env={**os.environ, "DISPLAY": display}, log_output=str(log_path))
    started = {}

    def start():
        try:
            with warnings.catch_warnings():
                # Selenium's own WebKitGTK class still passes its address the deprecated way.
                warnings.filterwarnings("ignore", "setting remote_server_addr", DeprecationWarning)
                started["driver"] = webdriver.WebKitGTK(options=options, service=service)
        except Exception as error:  # noqa: BLE001 - raised below, in the test's thread
            started["error"] = error

    thread = threading.Thread(target=start, name="webkit-start", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if "error" in started:
        raise started["error"]
    return started.get("driver"), service


def webkit_version(display):
    """What `MiniBrowser --version` prints, e.g. "WebKitGTK 2.50.6" (it needs a display)."""
    result = subprocess.run([engines.webkit_browser(), "--version"], capture_output=True, text=True,
                            timeout=10, env={**os.environ, "DISPLAY": display})
    return result.stdout.strip()


@pytest.fixture
def webkit_browser(webkit_display, app_server, tmp_path):
    """A `WebKitBrowser` on the app server of this test's runtime; a fresh session per test."""
    driver = start_webkit(webkit_display, tmp_path / "webkitwebdriver.log")
    try:
        yield WebKitBrowser(driver, app_server)
    finally:
        driver.quit()
