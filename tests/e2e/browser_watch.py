"""What must fail an end-to-end test, watched in each browser context: BrowserWatch.

A plain module; conftest.py watches every context made through its `new_context` fixture (and
`insecure_context`) and fails the test, right after its body, on anything recorded here. A
fixture that makes a context of another browser watches it with `watch_context`.
"""

import re
import time
import weakref
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError

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

_API_ANSWER = re.compile(r"/api/(places|me|activity|session|tabs)(\?|$)")
_REFUSAL_LOGGED = re.compile(r"^Failed to load resource: the server responded with a status of (401|409) ")


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
        if _API_ANSWER.search(where) and _REFUSAL_LOGGED.search(text):
            return  # Chromium logs every 4xx; the server authority's 401/409 are answers, not faults
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


WATCHES_KEY = pytest.StashKey()  # a test item's BrowserWatches


def watch_context(context, allowed_origins, item):
    """Watch `context` for the test `item`: what it records fails that test (conftest.py checks
    right after the test body). `allowed_origins` is a callable giving the origins that count as
    local. Returns the BrowserWatch, which `watch_of(context)` gives too."""
    watch = BrowserWatch(context, allowed_origins)
    _watches[context] = watch
    item.stash.setdefault(WATCHES_KEY, []).append(watch)
    return watch


def problems_of(item):
    """What the contexts watched for the test `item` recorded, as readable lines."""
    return [line for watch in item.stash.get(WATCHES_KEY, []) for line in watch.problems()]
