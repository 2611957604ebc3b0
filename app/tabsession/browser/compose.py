"""Composition: builds the browser's adapters and the driver that runs on them.

The one place, besides the adapters themselves, that touches ``window`` and ``document``; the
driver gets everything it uses from here (tests/world builds the same driver on fakes).

Which mechanisms a page uses, in priority order (``<html data-coordination>`` names them):

- locks: Web Locks when the browser has them (a secure context), else leases in localStorage
  (``leases.py``, ``"storage"``): the same face, a weaker guarantee;
- wake-ups: BroadcastChannel when the browser has it, else storage events alone (with a
  BroadcastChannel, storage events wake tabs too).

``build(..., locks=..., wakeups=...)`` forces a choice instead: ``locks`` "web-locks" or
"storage", ``wakeups`` "broadcast-channel" or "storage-events" (None: the priority order). A
forced mechanism the browser lacks is not used ("web-locks" without Web Locks is "storage", and
"broadcast-channel" without BroadcastChannel is "storage-events").
"""

import time

from tabsession.browser import storage
from tabsession.browser.channel import MECHANISMS, STORAGE_EVENTS, Channel
from tabsession.browser.channel import available as channel_available
from tabsession.browser.driver import Driver
from tabsession.browser.interop import RUNTIME, callback, document, helpers, is_none, listen, random_id, window
from tabsession.browser.leases import StorageLeases
from tabsession.browser.locks import WebLocks, available as locks_available
from tabsession.browser.server import ServerPlaces, SyncedClock
from tabsession.core.clock import MEMORY_KEY, ForwardClock
from tabsession.core.machine import slot_lock_name, tab_lock_name
from tabsession.core.settings import SERVER, Settings
from tabsession.core.urls import is_login_path

WEB_LOCKS = "web-locks"
STORAGE_LEASES = "storage"
LOCK_MODES = (WEB_LOCKS, STORAGE_LEASES)
ACTIVITY_EVENTS = ("pointerdown", "pointermove", "keydown", "wheel", "scroll", "touchstart", "focus")


def read_settings():
    """The settings serve.py embedded in the page, or defaults (problems are reported)."""
    element = document.getElementById("tabsession-settings")
    raw = None if is_none(element) else element.textContent
    return Settings.from_json(raw if isinstance(raw, str) else "{}")


class Clock:
    """The system's clock, as every tab of the profile reads it alike: leases compare the times
    other tabs wrote with it. The session's deadlines use ``page_clock()`` instead."""

    def now(self):
        # Python's clock, not Date.now(): epoch milliseconds do not fit MicroPython's 32 bits.
        return time.time()


class ClockMemory:
    """Where a page keeps its clock's time for the next page of its tab (core/clock.py):
    sessionStorage, through the JS helper (MicroPython cannot catch what a JS call throws). A
    failure keeps or recalls nothing; storage errors are the driver's to report."""

    def read(self):
        result = helpers.readItem("session", MEMORY_KEY, 64)
        value = result.value
        return None if is_none(value) or not isinstance(value, str) else value

    def write(self, value):
        helpers.write("session", MEMORY_KEY, value)


def page_clock():
    """The clock of the session's deadlines in browser mode: the system's, except that it never
    goes back (core/clock.py); the driver tells it the latest time in the shared records."""
    return ForwardClock(time.time, lambda: float(helpers.monotonic()), ClockMemory())


class Ids:
    def random_id(self):
        return random_id()


class Timer:
    """One ``setTimeout`` at a time, through one proxy made once (no leak per tick on Pyodide)."""

    def __init__(self):
        self._handle = None
        self._function = None
        self._fire_proxy = callback(self._fire)

    def set(self, delay_seconds, function):
        self.clear()
        self._function = function
        self._handle = window.setTimeout(self._fire_proxy, int(delay_seconds * 1000))

    def clear(self):
        if self._handle is not None:
            window.clearTimeout(self._handle)
            self._handle = None

    def _fire(self):
        self._handle = None
        self._function()


class Soon:
    """Runs functions after the current task (as a lock manager answers), through one
    ``setTimeout(0)`` proxy made once."""

    def __init__(self):
        self._queue = []
        self._run_proxy = callback(self._run)

    def __call__(self, function):
        self._queue.append(function)
        if len(self._queue) == 1:
            window.setTimeout(self._run_proxy, 0)

    def _run(self):
        queue, self._queue = self._queue, []
        for function in queue:
            function()


class Http:
    """Requests to the page's own server. One proxy for every answer, made once (a proxy per
    request would leak on Pyodide: activity is reported while the user works)."""

    def __init__(self, on_time=None):
        self._waiting = {}
        self._count = 0
        self._on_time = on_time  # told the server's time from each answer that says it
        self._answered_proxy = callback(self._answered)

    def send(self, method, path, body, header_value, keepalive, done):
        self._count += 1
        self._waiting[self._count] = done
        helpers.send(method, path, body, header_value, bool(keepalive), self._count,
                     self._answered_proxy)

    def _answered(self, number, status, text, now_text):
        if self._on_time is not None and isinstance(now_text, str):
            try:
                self._on_time(float(now_text))
            except ValueError:
                pass
        done = self._waiting.pop(int(number), None)
        if done is not None:
            done(int(status), text if isinstance(text, str) else "")


class Push:
    """WebSockets to the page's own server (a tab holds one at a time), through two proxies
    made once."""

    def __init__(self):
        self._open = {}
        self._count = 0
        self._text_proxy = callback(self._text)
        self._closed_proxy = callback(self._closed)

    def open(self, path, hello, on_text, on_close):
        self._count += 1
        number = self._count
        self._open[number] = (on_text, on_close)
        socket = helpers.openPush(path, hello, number, self._text_proxy, self._closed_proxy)
        return _Connection(lambda: (self._open.pop(number, None), socket.close()))

    def _text(self, number, raw):
        handlers = self._open.get(int(number))
        if handlers is not None and isinstance(raw, str):
            handlers[0](raw)

    def _closed(self, number):
        handlers = self._open.pop(int(number), None)
        if handlers is not None:
            handlers[1]()


class _Connection:
    def __init__(self, close):
        self.close = close


class Location:
    def here(self):
        return str(window.location.pathname) + str(window.location.search)

    def navigate(self, url):
        window.location.replace(url)

    def replace_url(self, url):
        window.history.replaceState(None, "", url)

    def reload(self):
        window.location.reload()


class PageEvents:
    def listen(self, kind, function):
        if kind == "activity":
            for name in ACTIVITY_EVENTS:
                listen("window", name, lambda event: function(), True)
        elif kind == "pagehide":
            listen("window", "pagehide", lambda event: function())
        elif kind == "pageshow":
            listen("window", "pageshow", lambda event: function(bool(event.persisted)))
        elif kind == "visible":
            listen("document", "visibilitychange",
                   lambda event: function() if str(document.visibilityState) == "visible" else None)
        elif kind == "focus":
            listen("window", "focus", lambda event: function())
        else:
            raise ValueError("unknown page event " + repr(kind))


def page_at(settings):
    """The page ("app" or "login") this document's address names, for a document that shows
    both: the sign-in page at ``login_path`` (or under it), the app page anywhere else."""
    return "login" if is_login_path(str(window.location.pathname), settings.login_path) else "app"


def build(page, view, settings, locks=None, wakeups=None, in_place=False):
    """The driver for ``page`` ("app" or "login") on this browser's adapters, not started.
    ``locks`` / ``wakeups`` force a mechanism (see the module's docstring); ``in_place``: the
    document shows both pages (the tab goes between them without a load)."""
    if locks is not None and locks not in LOCK_MODES:
        raise ValueError("locks must be one of " + repr(LOCK_MODES))
    if wakeups is not None and wakeups not in MECHANISMS:
        raise ValueError("wakeups must be one of " + repr(MECHANISMS))
    store = storage.Storage()
    slot_names = [slot_lock_name(slot) for slot in settings.slots()]
    if locks != STORAGE_LEASES and locks_available():
        lock_adapter = WebLocks()
    else:
        lock_adapter = StorageLeases(storage.LocalStore(store, slot_names, tab_lock_name), Clock(),
                                     Ids(), Soon())
    server = None
    clock = page_clock()
    http = Http()
    if settings.authority == SERVER:
        # The server's time keeps the deadlines (S5): every answer of the API sets the clock.
        clock = SyncedClock(lambda: float(helpers.monotonic()), time.time)
        http = Http(clock.sync)
        server = lock_adapter = ServerPlaces(lock_adapter, http, Push(), slot_names)
    broadcast = wakeups != STORAGE_EVENTS and channel_available()
    return Driver(page, settings, view, store, lock_adapter, Channel(broadcast), clock,
                  Timer(), Ids(), Location(), PageEvents(), RUNTIME, server, http, in_place)


def start(page, view, settings=None, locks=None, wakeups=None, in_place=False):
    """Build and start the driver for ``page`` showing through ``view``; returns the driver."""
    driver = build(page, view, settings or read_settings(), locks, wakeups, in_place)
    view.bind(driver)
    driver.start()
    return driver
