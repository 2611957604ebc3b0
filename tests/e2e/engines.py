"""Which browser engines the end-to-end tests run on, and where each one's executable is.

A plain module shared by conftest.py (Chromium and Firefox through Playwright) and drivers.py
(WebKit through Selenium). Nothing here starts a browser.

TABSESSION_ENGINES=chromium,firefox,webkit picks engines (default: all three). An engine that is
picked but missing on this machine is skipped with the reason and the command that installs it;
`missing()` lists those, and conftest.py prints them at the end of the run. pytest-playwright's
own `--browser NAME` (repeatable) overrides the list for the Playwright engines.
"""

import os
import shutil

ENGINES = ("chromium", "firefox", "webkit")
PLAYWRIGHT_ENGINES = ("chromium", "firefox")

WEBKIT_DRIVER = "/usr/bin/WebKitWebDriver"
WEBKIT_BROWSER_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
    "/usr/lib/aarch64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
    "/usr/libexec/webkit2gtk-4.1/MiniBrowser",
)

INSTALL = {
    "chromium": "sudo apt-get install chromium (or .venv/bin/playwright install chromium where "
                "downloads work, or TABSESSION_BROWSER=/path/to/chromium)",
    "firefox": "sudo apt-get install firefox-esr (or TABSESSION_FIREFOX=/path/to/firefox)",
    "webkit": "sudo apt-get install webkit2gtk-driver xvfb",
}


class EngineChoiceError(ValueError):
    pass


def selected():
    """The engines TABSESSION_ENGINES names, in its order (all of ENGINES when unset)."""
    chosen = os.environ.get("TABSESSION_ENGINES", "").strip()
    if not chosen:
        return list(ENGINES)
    names = [name.strip().lower() for name in chosen.split(",") if name.strip()]
    unknown = sorted(set(names) - set(ENGINES))
    if unknown:
        raise EngineChoiceError(
            f"TABSESSION_ENGINES names unknown engines {unknown}; known: {', '.join(ENGINES)}"
        )
    return names


def _executable(path):
    return bool(path) and os.path.isfile(path) and os.access(path, os.X_OK)


def firefox_executable():
    """TABSESSION_FIREFOX, else Debian's firefox-esr, else a `firefox` on PATH; None if none."""
    chosen = os.environ.get("TABSESSION_FIREFOX")
    if chosen:
        return chosen if _executable(chosen) else None
    for candidate in ("/usr/bin/firefox-esr", shutil.which("firefox-esr"), shutil.which("firefox")):
        if _executable(candidate):
            return candidate
    return None


def webkit_browser():
    """WebKitGTK's MiniBrowser (what WebKitWebDriver launches); None if absent."""
    for candidate in WEBKIT_BROWSER_CANDIDATES:
        if _executable(candidate):
            return candidate
    return None


def webkit_missing():
    """Why WebKit cannot run here (a sentence), or None when it can."""
    lacking = []
    if not _executable(WEBKIT_DRIVER) and not shutil.which("WebKitWebDriver"):
        lacking.append("WebKitWebDriver")
    if webkit_browser() is None:
        lacking.append("MiniBrowser")
    if shutil.which("Xvfb") is None:
        lacking.append("Xvfb")
    try:
        import selenium  # noqa: F401
    except ImportError:
        lacking.append("the selenium package (pip install -r requirements-dev.txt)")
    if lacking:
        return f"WebKit needs {', '.join(lacking)}: {INSTALL['webkit']}"
    return None


def firefox_missing():
    if firefox_executable() is None:
        where = os.environ.get("TABSESSION_FIREFOX")
        if where:
            return f"TABSESSION_FIREFOX={where} is not an executable file"
        return f"no Firefox found: {INSTALL['firefox']}"
    return None


_MISSING = {}


def note_missing(engine, reason):
    _MISSING[engine] = reason


def missing():
    """{engine: reason} for engines that were picked but skipped, as recorded so far."""
    return dict(_MISSING)
