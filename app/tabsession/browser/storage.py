"""Reading and writing the two storage areas for the core.

Every access goes through the JS helper: ``setItem`` can throw ``QuotaExceededError`` and any
access can throw ``SecurityError`` (storage blocked, or revoked after start), and MicroPython
cannot catch an exception thrown inside a JS call. A read that fails raises ``StorageError``.
The module itself is the driver's ``storage`` adapter (see driver.py).
"""

from tabsession.browser.driver import StorageError  # noqa: F401  (the adapter's read error)
from tabsession.browser.interop import helpers, text
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


def read_memory():
    return text(_checked(helpers.readItem("session", records.TAB_MEMORY_KEY, MAX_READ_CHARS)).value)


def read_snapshot(live_ids, held_slots=None):
    items = _checked(helpers.readPrefixed(records.PREFIX, MAX_READ_CHARS)).items
    session_raw = activity_raw = None
    tab_raws = {}
    for index in range(0, int(items.length) - 1, 2):
        key = text(items[index])
        value = text(items[index + 1])
        if key == records.SESSION_KEY:
            session_raw = value
        elif key == records.ACTIVITY_KEY:
            activity_raw = value
        else:
            tab_id = records.tab_id_from_key(key)
            if tab_id is not None:
                tab_raws[tab_id] = value
    return Snapshot(session_raw, activity_raw, tab_raws, live_ids, held_slots)


def read_local(key):
    """One localStorage value, or None (also when the read fails: the caller's next full read
    reports that)."""
    result = helpers.readItem("local", key, MAX_READ_CHARS)
    return None if text(result.error) is not None else text(result.value)


def write(area, key, value):
    """Carry out a core ``Store``; returns None, or the error's name when the write failed."""
    return text(helpers.write(area, key, value))


class LocalStore:
    """localStorage as ``leases.StorageLeases`` uses it. A read that fails reads as nothing (a
    lease then looks free, and the driver's own next read reports the failure)."""

    def __init__(self, prefix):
        self.prefix = prefix

    def read(self, key):
        result = helpers.readItem("local", key, MAX_READ_CHARS)
        return None if text(result.error) is not None else text(result.value)

    def write(self, key, value):
        return write("local", key, value)

    def keys(self):
        result = helpers.readPrefixed(self.prefix, MAX_READ_CHARS)
        if text(result.error) is not None:
            return []
        items = result.items
        return [text(items[index]) for index in range(0, int(items.length) - 1, 2)]
