"""What tabs keep in storage, and the only code that encodes and decodes it.

Keys (all under the ``tabsession:`` prefix):

- localStorage ``tabsession:session``: the profile's session, shared by every tab.
  Live: ``{"v": 1, "token", "user", "signed_in_at"}``. Ended: ``{"v": 1, "token",
  "ended": reason, "at"}`` so that every tab learns *why* it ended, not only that it did.
- localStorage ``tabsession:activity``: ``{"v": 1, "token", "at"}``, the last activity in
  any tab, which the idle deadline counts from.
- localStorage ``tabsession:tab:<id>``: one record per open tab (one key per tab, because
  localStorage has no locking and a shared list loses concurrent writes).
- localStorage ``tabsession:tabs``: ``{"v": 1, "ids": [...]}``, the ids of the tabs that have a
  record, so that no page ever walks every key of the origin (browser/tabindex.py keeps it).
- sessionStorage ``tabsession:tab``: this tab's own memory (id, the session token it was
  admitted with, its slot). Browsers copy it into duplicated tabs, so it is a hint, never proof.

Everything read from storage is untrusted: ``decode_*`` never raises and returns ``None`` for
anything that is not exactly a valid record (wrong JSON, types, ranges, versions, sizes).
"""

import json

from tabsession.core import names
from tabsession.core.values import Value

VERSION = 1
PREFIX = "tabsession:"
SESSION_KEY = PREFIX + "session"
ACTIVITY_KEY = PREFIX + "activity"
# "1" once a session was ever recorded on this origin; never removed by the app. With the server
# as the authority, a sign-in page follows a session the server holds for its profile only where
# this is absent: on another port of the host (S6), not after a sign-out or repairs here.
RECORDED_KEY = PREFIX + "recorded"
TAB_KEY_PREFIX = PREFIX + "tab:"
TAB_MEMORY_KEY = PREFIX + "tab"

# A record larger than this is not ours: refuse to parse it (storage can hold 5 MB of junk).
MAX_RECORD_CHARS = 2048
MAX_USER_CHARS = names.MAX_CHARS
ID_CHARS = 32  # 128 bits as lowercase hex
# Timestamps are seconds since the epoch; anything outside this range is tampering.
MAX_TIME = 1.0e11
# The records a tab rewrites while it lives (its own record, the activity; browser/leases.py's
# lease) are padded with spaces (which JSON allows after a value) to a fixed width, at least
# their longest form (tests/unit/test_records.py: every state, any slot up to 999, any time). A
# rewrite then never needs more room than the record already holds: in a storage area that
# something else filled up, a tab keeps its place through activity and changes of state,
# instead of failing whenever a time's shortest form is a digit longer than the last one.
TAB_RECORD_CHARS = 256
ACTIVITY_CHARS = 96
# A live session is padded to at least the longest ended one: a sign-out rewrites the session as
# ended where it was, so it fits in a full area too (a one-letter name made a shorter session).
SESSION_CHARS = 128


def padded(text, width):
    """``text`` followed by spaces up to ``width`` characters (unchanged when already as long)."""
    return text + " " * (width - len(text)) if len(text) < width else text

BOOTING = "booting"
ACTIVE = "active"
BLOCKED = "blocked"
MOVED = "moved"
SIGNED_OUT = "signed-out"
EXPIRED = "expired"
ERROR = "error"
STATES = (BOOTING, ACTIVE, BLOCKED, MOVED, SIGNED_OUT, EXPIRED, ERROR)

ACTIVE_ELSEWHERE = "active-elsewhere"
TAKEN_OVER = "taken-over"
REASON_SIGNED_OUT = "signed-out"
IDLE = "idle"
REASON_EXPIRED = "expired"
STORAGE_UNAVAILABLE = "storage-unavailable"
SERVER_UNAVAILABLE = "server-unavailable"  # the server is the authority and gave no decision
REASONS = (ACTIVE_ELSEWHERE, TAKEN_OVER, REASON_SIGNED_OUT, IDLE, REASON_EXPIRED, STORAGE_UNAVAILABLE,
           SERVER_UNAVAILABLE)
END_REASONS = (REASON_SIGNED_OUT, IDLE, REASON_EXPIRED)


def tab_key(tab_id):
    return TAB_KEY_PREFIX + tab_id


def tab_id_from_key(key):
    """The tab id a localStorage key belongs to, or None when it is not a valid tab key."""
    if not isinstance(key, str) or not key.startswith(TAB_KEY_PREFIX):
        return None
    candidate = key[len(TAB_KEY_PREFIX):]
    return candidate if is_id(candidate) else None


def is_id(value):
    """True for a 128-bit id or token written as 32 lowercase hex digits."""
    if not isinstance(value, str) or len(value) != ID_CHARS:
        return False
    for char in value:
        if char not in "0123456789abcdef":
            return False
    return True


def is_time(value):
    return (type(value) is int or type(value) is float) and 0 <= value <= MAX_TIME


def is_user(value):
    return names.is_name(value)  # the same rule as a sign-in (names.py), not str.strip's


class Session(Value):
    """A live session of this browser profile."""

    FIELDS = ("token", "user", "signed_in_at")

    def encode(self):
        return padded(json.dumps({"v": VERSION, "token": self.token, "user": self.user,
                                  "signed_in_at": self.signed_in_at}), SESSION_CHARS)


class EndedSession(Value):
    """A session that ended, kept so that every tab can say why."""

    FIELDS = ("token", "reason", "at")

    def encode(self):
        return json.dumps({"v": VERSION, "token": self.token, "ended": self.reason, "at": self.at})


class Activity(Value):
    FIELDS = ("token", "at")

    def encode(self):
        return padded(json.dumps({"v": VERSION, "token": self.token, "at": self.at}), ACTIVITY_CHARS)


class TabRecord(Value):
    """What one open tab publishes about itself for the others.

    ``since``: when the tab entered its state. ``seen``: when the record was last written (a
    record of a tab whose lock is gone is deleted once it is old). Both default to the times
    given.
    """

    FIELDS = ("tab_id", "state", "page", "slot", "opened", "last_active", "since", "seen")
    DEFAULTS = {"since": None, "seen": None}

    def __init__(self, *args, **kwargs):
        Value.__init__(self, *args, **kwargs)
        if self.since is None:
            self.since = self.opened
        if self.seen is None:
            self.seen = self.last_active

    def encode(self):
        return padded(json.dumps({"v": VERSION, "id": self.tab_id, "state": self.state, "page": self.page,
                                  "slot": self.slot, "opened": self.opened,
                                  "last_active": self.last_active, "since": self.since,
                                  "seen": self.seen}), TAB_RECORD_CHARS)


class TabMemory(Value):
    """This tab's own memory in sessionStorage, kept across reloads.

    ``use_here``: on arrival at the app page, take a place at another tab's expense.
    ``signed_in``: this tab has just signed in; on arrival it asks for a free place like any
    tab, and when none is free it takes the least recently active tab's instead of being
    refused (tabs that followed the sign-in must not beat the tab where it happened).
    """

    FIELDS = ("tab_id", "token", "slot", "use_here", "signed_in")
    DEFAULTS = {"signed_in": False}

    def encode(self):
        data = {"v": VERSION, "id": self.tab_id, "token": self.token, "slot": self.slot,
                "use_here": self.use_here}
        if self.signed_in:
            data["signed_in"] = True
        return json.dumps(data)


def load_object(raw, fields):
    """The JSON object in raw when it is ours (version, size, exact field set), else None."""
    if not isinstance(raw, str) or len(raw) > MAX_RECORD_CHARS:
        return None
    try:
        data = json.loads(raw)
    except Exception:
        return None
    if not isinstance(data, dict) or data.get("v") != VERSION or type(data.get("v")) is not int:
        return None
    if len(data) != len(fields) + 1:
        return None
    for name in fields:
        if name not in data:
            return None
    return data


def _is_slot(value):
    return value is None or (type(value) is int and 0 <= value < 1000)


# Every wake-up re-reads the whole snapshot and the machine decodes each record in it, several
# times per look (tab list, pruning, deadlines), in every tab at once: on MicroPython that was
# most of a look's cost (issue 8). Records are immutable values and their texts rarely change,
# so decoded ones are kept by their exact text; the memo is emptied when it grows past a bound
# (forged traffic can make many distinct texts).
MEMO_LIMIT = 256
_memo = {}


def _memoized(decode):
    def cached(raw):
        if not isinstance(raw, str):
            return decode(raw)
        key = (decode, raw)
        if key in _memo:
            return _memo[key]
        value = decode(raw)
        if len(_memo) >= MEMO_LIMIT:
            _memo.clear()
        _memo[key] = value
        return value
    return cached


def memo_size():
    return len(_memo)


def _decode_session(raw):
    """A Session, an EndedSession, or None for anything else."""
    data = load_object(raw, ("token", "user", "signed_in_at"))
    if data is not None:
        if is_id(data["token"]) and is_user(data["user"]) and is_time(data["signed_in_at"]):
            return Session(data["token"], data["user"], data["signed_in_at"])
        return None
    data = load_object(raw, ("token", "ended", "at"))
    if data is not None and is_id(data["token"]) and data["ended"] in END_REASONS and is_time(data["at"]):
        return EndedSession(data["token"], data["ended"], data["at"])
    return None


def _decode_activity(raw):
    data = load_object(raw, ("token", "at"))
    if data is not None and is_id(data["token"]) and is_time(data["at"]):
        return Activity(data["token"], data["at"])
    return None


def _decode_tab_record(raw):
    data = load_object(raw, ("id", "state", "page", "slot", "opened", "last_active", "since", "seen"))
    if data is None:
        return None
    if not (is_id(data["id"]) and data["state"] in STATES and data["page"] in ("app", "login")
            and _is_slot(data["slot"]) and is_time(data["opened"]) and is_time(data["last_active"])
            and is_time(data["since"]) and is_time(data["seen"])):
        return None
    return TabRecord(data["id"], data["state"], data["page"], data["slot"], data["opened"],
                     data["last_active"], data["since"], data["seen"])


decode_session = _memoized(_decode_session)
decode_activity = _memoized(_decode_activity)
decode_tab_record = _memoized(_decode_tab_record)


def decode_tab_memory(raw):
    data = load_object(raw, ("id", "token", "slot", "use_here"))
    signed_in = False
    if data is None:
        data = load_object(raw, ("id", "token", "slot", "use_here", "signed_in"))
        if data is None or data["signed_in"] is not True:
            return None
        signed_in = True
    token = data["token"]
    if not (is_id(data["id"]) and (token is None or is_id(token)) and _is_slot(data["slot"])
            and type(data["use_here"]) is bool):
        return None
    return TabMemory(data["id"], token, data["slot"], data["use_here"], signed_in)


def latest_time(snapshot):
    """The latest time (epoch seconds) written in the shared records of ``snapshot`` (an
    ``events.Snapshot``), or None when they hold none: the floor of a page's clock
    (``clock.ForwardClock.saw``), so that a clock set back in one tab, or before a page loads,
    never makes the session younger than any tab has seen it.

    The session's own times count (when it began, or ended), the activity's, and the records of
    the tabs whose lock is held: a record of a tab that holds none may be forged (or left by a
    tab long gone), and a time far ahead in it would end the session for nothing. With no answer
    from the lock manager (``live_ids`` None) no tab record counts.
    """
    if snapshot is None:
        return None
    times = []
    session = decode_session(snapshot.session_raw)
    if isinstance(session, Session):
        times.append(session.signed_in_at)
    elif isinstance(session, EndedSession):
        times.append(session.at)
    activity = decode_activity(snapshot.activity_raw)
    if activity is not None:
        times.append(activity.at)
    live = snapshot.live_ids
    if live is not None:
        for tab_id in snapshot.tab_raws:
            if tab_id in live:
                record = decode_tab_record(snapshot.tab_raws[tab_id])
                if record is not None and record.tab_id == tab_id:
                    times.append(max(record.opened, record.last_active, record.since, record.seen))
    return max(times) if times else None
