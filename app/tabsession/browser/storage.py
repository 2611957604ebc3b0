"""Reading and writing the two storage areas for the core.

Reads go straight to ``window.localStorage`` / ``window.sessionStorage`` from Python (they
cannot throw once ``usable()`` has said storage works). Writes go through the JS helper,
because ``setItem`` can throw ``QuotaExceededError`` and MicroPython cannot catch that.
"""

from tabsession.browser.interop import helpers, text, window
from tabsession.core import records
from tabsession.core.events import Snapshot

# Values longer than this are not ours; pass only a prefix so a 4 MB junk value is not
# copied into Python on every read (the core rejects anything over its own limit).
MAX_READ_CHARS = records.MAX_RECORD_CHARS + 1


def problem():
    """None when both storage areas can be read and written, else the error's name."""
    return text(helpers.storageProblem())


def _read(area, key):
    value = text(area.getItem(key))
    if value is not None and len(value) > MAX_READ_CHARS:
        return value[:MAX_READ_CHARS]
    return value


def read_memory():
    return _read(window.sessionStorage, records.TAB_MEMORY_KEY)


def read_snapshot(live_ids):
    local = window.localStorage
    tab_raws = {}
    count = local.length
    for index in range(count):
        key = text(local.key(index))
        tab_id = records.tab_id_from_key(key)
        if tab_id is not None:
            tab_raws[tab_id] = _read(local, key)
    return Snapshot(_read(local, records.SESSION_KEY), _read(local, records.ACTIVITY_KEY),
                    tab_raws, live_ids)


def write(area, key, value):
    """Carry out a core ``Store``; returns None, or the error's name when the write failed."""
    return text(helpers.write(area, key, value))
