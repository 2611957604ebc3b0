"""localStorage read by name, never by walking it: an index of the open tabs' records.

Other code of the same site may keep thousands of keys in localStorage. Finding the tabs'
records by walking every key (``localStorage.key(i)``) made each look cost time in proportion to
those keys (about 0.8 s per walk with 50,000 of them in Chromium), so an idle tab spent most of a
core doing it. Every key this library reads is now known by name: the session, the activity, the
index ``tabsession:tabs`` (the ids of the tabs that have a record), and each indexed tab record.

localStorage has no compare-and-set, so two tabs that change the index at the same instant can
lose one change; the index is kept right by the tabs themselves, level-triggered like the rest:

- a tab adds its id after writing its record and removes it after removing the record, so an
  indexed id without a record is only ever a moment old, a lost removal, or junk;
- every look checks that the ids of the records this page keeps are in the index and writes
  them back if a concurrent change lost them (so within one look, at most a second apart),
  and drops the ids whose records are gone; the look reads this page's own records directly,
  so a tab never misses itself;
- an index that does not decode is empty: each tab adds itself back at its next look.

A record missing from the index for a moment is harmless: limits are kept by locks (or leases)
and sessions by the session record, which are read by name; only the tab list may lag.

Pure: ``area`` is localStorage as ``read_many(keys)`` -> values (text or None, in order;
raising the adapter's read error when storage throws) and ``write(key, value)`` -> None or an
error name. The browser adapter (storage.py) and the fake browser of tests/world use it alike.
"""

import json

from tabsession.core import records

INDEX_KEY = records.PREFIX + "tabs"
MAX_IDS = 128  # more open tabs than this in one profile is not a real profile
MAX_INDEX_CHARS = 64 + MAX_IDS * (records.ID_CHARS + 8)


def decode(raw):
    """The tab ids of an index text, in order and without repeats; [] for anything else."""
    if not isinstance(raw, str) or len(raw) > MAX_INDEX_CHARS:
        return []
    try:
        data = json.loads(raw)
    except Exception:
        return []
    if not isinstance(data, dict) or data.get("v") != records.VERSION or not isinstance(data.get("ids"), list):
        return []
    ids = []
    for tab_id in data["ids"]:
        if records.is_id(tab_id) and tab_id not in ids:
            ids.append(tab_id)
            if len(ids) == MAX_IDS:
                break
    return ids


def encode(ids):
    return json.dumps({"v": records.VERSION, "ids": list(ids)[:MAX_IDS]})


class IndexedLocal:
    """The shared records of localStorage, by name. ``own``: the tab ids whose records this page
    wrote last (normally one: its tab's)."""

    def __init__(self, area):
        self.area = area
        self.own = []
        self.repairs = 0  # index writes that put back what a concurrent change lost, or dropped junk

    def indexed_ids(self):
        """The ids the index holds now (no read error: [] then)."""
        try:
            return decode(self.area.read_many([INDEX_KEY])[0])
        except Exception:
            return []

    def read(self):
        """(session text, activity text, {tab id: record text}), and the index repaired."""
        index_raw, session_raw, activity_raw = self.area.read_many(
            [INDEX_KEY, records.SESSION_KEY, records.ACTIVITY_KEY])
        indexed = decode(index_raw)
        wanted = list(indexed)
        for tab_id in self.own:
            if tab_id not in wanted:
                wanted.append(tab_id)
        values = self.area.read_many([records.tab_key(tab_id) for tab_id in wanted]) if wanted else []
        tab_raws = {}
        for position in range(len(wanted)):
            if values[position] is not None:
                tab_raws[wanted[position]] = values[position]
        kept = [tab_id for tab_id in wanted if tab_id in tab_raws]
        if kept != indexed or (index_raw is not None and not kept and encode(kept) != index_raw):
            self._write_index(kept)
        return session_raw, activity_raw, tab_raws

    def write(self, key, value):
        """Write one key; a tab record's id joins or leaves the index after it."""
        error = self.area.write(key, value)
        if error is not None:
            return error
        tab_id = records.tab_id_from_key(key)
        if tab_id is None:
            return None
        if value is None:
            if tab_id in self.own:
                self.own.remove(tab_id)
            ids = self.indexed_ids()
            if tab_id in ids:
                ids.remove(tab_id)
                return self.area.write(INDEX_KEY, encode(ids))
        else:
            if tab_id not in self.own:
                self.own.append(tab_id)
            ids = self.indexed_ids()
            if tab_id not in ids:
                ids.append(tab_id)
                return self.area.write(INDEX_KEY, encode(ids))
        return None

    def _write_index(self, ids):
        self.repairs += 1
        # A failed write here is reported by the next write of a record, which fails the same way.
        self.area.write(INDEX_KEY, encode(ids))
