"""Exclusive named locks for the core: Web Locks, where the browser has them.

Locks are the only mechanism that gives exactly one winner when tabs act in the same instant,
and the browser releases them when a tab closes, reloads, navigates or crashes.
Without Web Locks (insecure contexts: a LAN address or custom host name) ``leases.py`` gives
the same face over localStorage.

Every callback handed to JavaScript is made once, here, so a long-lived tab does not leak a
proxy per call on Pyodide.
"""

import json

from tabsession.browser.interop import callback, helpers, text


def available():
    return bool(helpers.hasLocks())


class WebLocks:
    """The driver's ``locks`` adapter; ``connect`` gives it the driver's callbacks."""

    mechanism = "web-locks"
    failed = None  # (leases can fail to write; the browser's lock manager cannot)

    def check(self):
        """Nothing to renew: the browser tells a holder at once when its lock is stolen."""

    def release_all(self):
        """Nothing to do: the browser releases a page's locks when it goes."""

    def __init__(self):
        self._on_claimed = self._on_acquired = self._on_lost = self._on_held_names = None
        self._claimed = callback(lambda claimed: self._on_claimed(bool(claimed)))
        self._acquired = callback(lambda index: self._on_acquired(int(index)))
        self._lost = callback(lambda name, error: self._on_lost(str(name)))
        self._names = callback(self._received_names)

    def connect(self, on_claimed, on_acquired, on_lost, on_held_names):
        self._on_claimed = on_claimed
        self._on_acquired = on_acquired
        self._on_lost = on_lost
        self._on_held_names = on_held_names

    def claim(self, name):
        """Take ``name`` if it is free and keep it; answers ``on_claimed(claimed)``."""
        helpers.claim(name, self._claimed, self._lost)

    def hold(self, name):
        """Hold ``name`` until the page goes away; ``on_lost(name)`` if it is stolen."""
        helpers.hold(name, self._lost)

    def acquire(self, names, steal):
        """Try ``names`` in order without waiting (or steal the first); ``on_acquired(i or -1)``."""
        helpers.acquire(json.dumps(names), bool(steal), self._acquired, self._lost)

    def release(self, name):
        helpers.release(name)

    def query(self):
        """Answers ``on_held_names(list of names, or None when unknown)``."""
        helpers.heldNames(self._names)

    def _received_names(self, raw):
        value = text(raw)
        try:
            names = json.loads(value) if value is not None else None
        except Exception:
            names = None
        self._on_held_names(names if isinstance(names, list) else None)
