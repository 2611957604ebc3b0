"""Exclusive named locks kept as leases in localStorage, for browsers without Web Locks.

Web Locks exist only in secure contexts; on a LAN address or a custom host name the page has
storage and messages but no lock manager. This adapter gives the driver the same face as
``locks.WebLocks`` (``connect``, ``claim``, ``hold``, ``acquire``, ``release``, ``query``), so
the core runs the same rules in both modes and never asks which one it has.

A lock is the key ``tabsession:lease:<name>`` holding ``{"v": 1, "holder", "until"}``: the page
load that holds it, and until when. The holder renews its leases on every ``check()`` (the driver
calls it on each look and tick) once they are ``RENEW_SECONDS`` old, and removes them when the page
hides. A lease not renewed by ``until`` belongs to a page that is gone (closed without pagehide,
crashed, or frozen: a frozen page finds on waking that its place was taken, and is told
``on_lost``), so a crashed tab's place frees after at most ``TTL_SECONDS``.

What leases cannot do is what Web Locks exist for: storage has no compare-and-set, so two pages
that take the same free lease in the same instant both write, and the later write wins. The
answer to ``claim``/``acquire`` is given a task later, after reading the lease back, and every
``check()`` reads it again; the page whose write lost is told ``on_lost`` at its next look (the
other page's write wakes it at once). The page says ``data-coordination="storage..."`` so that
this weaker guarantee is never silent.

Everything read from storage is untrusted: a lease that does not decode is free.
It takes its storage, clock, id source and scheduler as arguments and imports nothing from the
browser, so the tests run it unchanged over a fake storage.
"""

import json

from tabsession.core import records

LEASE_PREFIX = records.PREFIX + "lease:"
TTL_SECONDS = 20.0
RENEW_SECONDS = 5.0


def lease_key(name):
    return LEASE_PREFIX + name


# Padded to a fixed width, as the tab records are (records.padded): a renewal never grows.
LEASE_CHARS = 96


def encode(holder, until):
    return records.padded(json.dumps({"v": records.VERSION, "holder": holder, "until": until}), LEASE_CHARS)


def decode(raw):
    """(holder, until) of a lease text, or None when it is not exactly a lease."""
    data = records.load_object(raw, ("holder", "until"))
    if data is None:
        return None
    holder = data["holder"]
    until = data["until"]
    if not records.is_id(holder) or not records.is_time(until):
        return None
    return holder, float(until)


class StorageLeases:
    """``store``: ``read(key)`` -> text or None, ``write(key, text or None)`` -> None or an error
    name, ``keys()`` -> the localStorage keys under ``LEASE_PREFIX``; ``clock.now()``;
    ``ids.random_id()``; ``later(function)`` runs ``function`` after the current task."""

    mechanism = "storage"

    def __init__(self, store, clock, ids, later):
        self.store = store
        self.clock = clock
        self.later = later
        self.holder = ids.random_id()  # this page load, not the tab: a reload is another holder
        self.held = {}  # name -> the ``until`` we last wrote
        self.waiting = []  # names to take once free (``hold``)
        self.failed = None  # the storage error of the last write, if any
        self._on_claimed = self._on_acquired = self._on_lost = self._on_held_names = None

    def connect(self, on_claimed, on_acquired, on_lost, on_held_names):
        self._on_claimed = on_claimed
        self._on_acquired = on_acquired
        self._on_lost = on_lost
        self._on_held_names = on_held_names

    # ------------------------------------------------------------ the lock face
    def claim(self, name):
        """Take ``name`` if it is free and keep it; answers ``on_claimed(claimed)``."""
        taken = self._take(name, False)
        self.later(lambda: self._on_claimed(taken and self._still_mine(name)))

    def hold(self, name):
        """Hold ``name`` for the page's life, taking it as soon as it is free."""
        if not self._take(name, False):
            self.waiting.append(name)

    def acquire(self, names, steal):
        """Try ``names`` in order without waiting (``steal``: take the first whoever holds it);
        answers ``on_acquired(index)``, or -1 when every one is held."""
        names = list(names)
        index = -1
        for position in range(len(names)):
            if self._take(names[position], steal and position == 0):
                index = position
                break
        self.later(lambda: self._answer_acquired(names, index))

    def release(self, name):
        if name in self.held:
            del self.held[name]
            if self._holder_of(name) == self.holder:
                self._write(lease_key(name), None)
        if name in self.waiting:
            self.waiting.remove(name)

    def query(self):
        """Answers ``on_held_names(names)``: every lease that is live now."""
        self.later(lambda: self._on_held_names(self.live_names()))

    # ------------------------------------------------------ what only leases need
    def check(self):
        """Renew our leases, notice the ones taken from us, take the ones we wait for."""
        now = self.clock.now()
        for name in list(self.held):
            holder = self._holder_of(name, now)
            if holder is not None and holder != self.holder:
                del self.held[name]
                self._on_lost(name)
            elif holder is None or now >= self.held[name] - TTL_SECONDS + RENEW_SECONDS:
                # Ours and due for renewal, or removed by hand: write it again.
                self._put(name, now)
        for name in list(self.waiting):
            if self._take(name, False):
                self.waiting.remove(name)

    def release_all(self):
        """The page is going: free every lease it holds (a crash leaves them to expire)."""
        for name in list(self.held):
            self.release(name)
        self.waiting = []

    def live_names(self):
        now = self.clock.now()
        names = []
        for key in self.store.keys():
            if key.startswith(LEASE_PREFIX):
                lease = decode(self.store.read(key))
                if lease is not None and lease[1] > now:
                    names.append(key[len(LEASE_PREFIX):])
        return names

    # ----------------------------------------------------------------- helpers
    def _holder_of(self, name, now=None):
        """Who holds ``name`` now (None: nobody, expired, or junk)."""
        lease = decode(self.store.read(lease_key(name)))
        if lease is None:
            return None
        holder, until = lease
        if until <= (self.clock.now() if now is None else now):
            return None
        return holder

    def _take(self, name, steal):
        now = self.clock.now()
        holder = self._holder_of(name, now)
        if holder is not None and holder != self.holder and not steal:
            return False
        return self._put(name, now)

    def _put(self, name, now):
        until = now + TTL_SECONDS
        if self._write(lease_key(name), encode(self.holder, until)) is not None:
            return False
        self.held[name] = until
        return True

    def _still_mine(self, name):
        """Read back after the task: a page that wrote later in the same instant won."""
        if name in self.held and self._holder_of(name) == self.holder:
            return True
        self.held.pop(name, None)
        return False

    def _answer_acquired(self, names, index):
        if index >= 0 and not self._still_mine(names[index]):
            index = -1
        self._on_acquired(index)

    def _write(self, key, value):
        error = self.store.write(key, value)
        if error is not None:
            self.failed = error
        return error
