"""Reading and writing the two storage areas for the core.

Every access goes through the JS helper: ``setItem`` can throw ``QuotaExceededError`` and any
access can throw ``SecurityError`` (storage blocked, or revoked after start), and MicroPython
cannot catch an exception thrown inside a JS call. A read that fails raises ``StorageError``.
localStorage is read only by name (the keys' index is tabindex.py), never walked: other code of
the site may keep any number of keys there. ``Storage`` is the driver's ``storage`` adapter (see
driver.py); ``LocalStore`` is the lease adapter's.
"""

import json

from tabsession.browser.driver import StorageError
from tabsession.browser.interop import helpers, text
from tabsession.browser.leases import lease_key
from tabsession.browser.tabindex import IndexedLocal
from tabsession.core import records
from tabsession.core.events import Snapshot

# Values longer than this are not ours; only a prefix crosses into Python, so a 4 MB junk value
# is not copied on every read (the core rejects anything over its own limit).
MAX_READ_CHARS = records.MAX_RECORD_CHARS + 1


def problem():
    """None when both storage areas can be read and written, else the error's name."""
    return text(helpers.storageProblem())


def _checked(result):
    error = text(result.error)
    if error is not None:
        raise StorageError(error)  # no __init__ override: MicroPython's Exception has none
    return result


def read_items(area, keys):
    """The values of ``keys`` in ``area`` ("local" or "session"), in order (None: no item)."""
    raw = text(_checked(helpers.readItems(area, json.dumps(keys), MAX_READ_CHARS)).values)
    try:
        values = json.loads(raw)
    except Exception:
        values = None
    if not isinstance(values, list) or len(values) != len(keys):
        # (a value JSON could not carry back, say a lone surrogate: read those one at a time)
        values = [text(_checked(helpers.readItem(area, key, MAX_READ_CHARS)).value) for key in keys]
    return [value if isinstance(value, str) else None for value in values]


def read_local(key):
    """One localStorage value, or None (also when the read fails: the caller's next full read
    reports that)."""
    result = helpers.readItem("local", key, MAX_READ_CHARS)
    return None if text(result.error) is not None else text(result.value)


def write(area, key, value):
    """Write one item (None: remove it); returns None, or the error's name."""
    return text(helpers.write(area, key, value))


class _LocalArea:
    """localStorage as tabindex.py reads and writes it."""

    def read_many(self, keys):
        return read_items("local", keys)

    def write(self, key, value):
        return write("local", key, value)


class Storage:
    """The driver's ``storage`` adapter: both areas, localStorage's shared records by name."""

    def __init__(self):
        self.local = IndexedLocal(_LocalArea())

    def problem(self):
        return problem()

    def read_memory(self):
        return read_items("session", [records.TAB_MEMORY_KEY])[0]

    def read_snapshot(self, live_ids, held_slots=None):
        session_raw, activity_raw, tab_raws = self.local.read()
        return Snapshot(session_raw, activity_raw, tab_raws, live_ids, held_slots)

    def read_local(self, key):
        return read_local(key)

    def write(self, area, key, value):
        """Carry out a core ``Store``; returns None, or the error's name when the write failed."""
        if area == "local":
            return self.local.write(key, value)
        return write(area, key, value)


class LocalStore:
    """localStorage as ``leases.StorageLeases`` uses it. A read that fails reads as nothing (a
    lease then looks free, and the driver's own next read reports the failure). ``keys()`` names
    the leases that can exist: the slots' and those of the indexed tabs (a tab takes its lease
    before it writes its record, and its record is indexed as it is written)."""

    def __init__(self, storage, lock_names, tab_lock_name):
        self.storage = storage
        self.lock_names = list(lock_names)
        self.tab_lock_name = tab_lock_name

    def read(self, key):
        return read_local(key)

    def write(self, key, value):
        return write("local", key, value)

    def keys(self):
        names = self.lock_names + [self.tab_lock_name(tab_id) for tab_id in self.storage.local.indexed_ids()]
        for tab_id in self.storage.local.own:
            name = self.tab_lock_name(tab_id)
            if name not in names:
                names.append(name)
        return [lease_key(name) for name in names]
