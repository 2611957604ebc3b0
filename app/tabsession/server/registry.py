"""The server's lease registry: every rule about sessions and tabs' places lives in this file.

Theory of operation
-------------------
Everything the rules read together about one user is one ``UserRecord``: the user's sessions
(one per browser profile that signed in, live or ended), the places their tabs hold, and a
counter. A write is a pure function ``(record, policy, now, ...) -> Change(record, result,
notices)``; the store (``store.py``) applies it as one atomic read-modify-write, so the
check-and-take of a place is never a read in Python followed by a separate write. A read
(``check``, ``live_session``, ``tabs``) returns an answer and keeps nothing. Time, session ids
and keys arrive as arguments: this file reads no clock, draws no random number, does no I/O and
imports no framework, so the tests drive it with a fake clock. Notices say who must be told
what; the push layer delivers them.

Rules (CONTRACT.md's S1-S9 give the behaviour they serve; numbers here are this file's own)
-----
R1. One record per user holds the user's sessions, places, epoch counter, moved memory and
    clock. Every rule reads and writes only that record, so one atomic update of it is enough
    (S3, S6: several serve.py processes sharing a store are one server).
R2. A record's time never goes backwards: each operation uses ``max(now, record.clock)``, so a
    server clock set back (or a second serve.py slightly behind) does not extend a session.
R3. A session is live while it is not ended, ``now < last_activity + idle_seconds`` and
    ``now < started + absolute_seconds`` (``None`` = no limit). Past a deadline it has ended
    with reason ``idle`` or ``expired``, the earlier deadline winning (a tie counts as
    ``expired``), at that deadline. Ending is lazy: every write first settles the record
    (``settle``), every read judges as if settled, and the store's sweep settles each record
    whose ``due`` time has come (``expire``), so tabs are told on time (S5).
R4. An ended session is kept as a tombstone for ``retention_seconds`` after it ended, so that a
    replayed cookie answers 401 with the right reason; then it is forgotten, and an unknown
    session answers 401 ``signed-out``. Nothing revives an ended session (S4).
R5. Places: a user holds at most ``max_tabs`` leases (0 = no limit) across all their sessions
    (S3). A lease is ``(sid, tab_id, slot, epoch, key, last_active)``; only live sessions hold
    places, and a session that ends frees all of its places.
R6. Fencing: every change to the set of places (grant, re-grant, release, drop, eviction, a
    session's end) bumps the user's epoch counter by one, and a grant carries the counter's new
    value. Credentials are the exact pair (epoch, key), so a superseded lease never matches
    again, even after a restart of the counter (R14).
R7. Claim. The tab's session must be live, else ``Denied(401, reason)``. A tab that holds a place
    (same sid and tab_id; a reload) is granted it again with a new epoch and key, in the same
    slot. Else a free place is granted in the lowest free slot. Else, when stealing is allowed
    (policy ``takeover``, or the user asked ``use_here``), the least recently active place of
    the user (in any session; ties: the oldest grant) is taken, its slot granted, and its tab
    told ``Moved``. Else ``Refused(409, "active-elsewhere")``.
R8. Check: the answer is ``(session, lease)`` only for a live session and the exact sid, tab_id,
    epoch and key (the key compared in constant time). Otherwise: no live session answers
    ``Denied(401, reason)``; a tab moved out by a steal, or one whose place was granted again
    under newer credentials, ``Refused(409, "taken-over")``; any other tab ``Refused(409,
    "active-elsewhere")`` (S2).
R9. Touch (activity) needs valid credentials (else check's answer) and moves the session's
    ``last_activity`` and the lease's ``last_active`` to now; it answers the new deadlines (S5).
    It changes who holds nothing, so it does not bump the epoch.
R10. Release frees a place only with its current credentials; a stale release changes nothing.
    Drop frees a tab's place without a key, because the server saw the tab go (its push
    connection closed); given the epoch the connection was opened with, it frees only that
    lease, so the late close of a reloaded tab's old connection cannot free its new place.
R11. Sign-in always starts a new session and never ends or replaces another one: the user's
    other profiles go on (S4). Sign-out ends the session (``signed-out``) and frees its places.
R12. Notices: ``Moved(sid, tab_id)`` for a tab whose place was taken; ``Ended(sid, reason)`` for
    every tab of a session that ended (refused and moved tabs of it must land on the sign-in
    page too, not only active ones); ``PlaceFree(user)`` whenever a place was freed, so that
    refused tabs of that user can offer "Use here". Each notice at most once per change.
R13. The memory of moved tabs (for R8's ``taken-over``) is forgotten when the tab claims again,
    is dropped, or its session ends, and holds at most ``MOVED_MEMORY`` entries (the newest).
R14. A record with no session left is empty and the store forgets it (its counter too): every
    credential it ever granted names a forgotten session, so it answers 401 whatever epoch a
    later record reaches.
R15. Listing tabs never reveals another session's sid (a sid is a cookie's value): entries
    carry the tab id, its last activity and whether it belongs to another session.
R16. Names and ids are opaque strings, compared but never parsed: any string is safe here. The
    API layer validates them; the registry only must not crash on them.
R17. Orphans. A lease records when the server last heard of its tab (``seen``): its grant, its
    activity, and ``keep``, which the process holding the tab's push connection writes every
    few seconds. A lease not heard of for ``orphan_seconds`` is an orphan: its tab went while no
    process could see it go (the server holding its connection was killed, or the store was away
    when it closed). Reads leave orphans out (``tabs``: a refused tab sees the place as free),
    and a claim that finds the user full frees them first, as a drop would, telling their tabs
    ``Moved`` in case one comes back. An orphan whose tab comes back before that is still its
    tab's (``check`` holds), and ``keep`` makes it a lease like any other.

Misuse by our own code (a bad ``Policy``, a sid used twice) raises ``ValueError``.
"""

import hmac
from dataclasses import dataclass, replace
from typing import Union

from tabsession.core.records import ACTIVE_ELSEWHERE, IDLE, REASON_EXPIRED, REASON_SIGNED_OUT, TAKEN_OVER
from tabsession.core.settings import BLOCK, POLICIES, TAKEOVER

UNAUTHORIZED = 401
CONFLICT = 409
MOVED_MEMORY = 64
# A day: long enough that a cookie replayed after a sign-out or a timeout still gets its reason.
DEFAULT_RETENTION_SECONDS = 24 * 3600
DEFAULT_ORPHAN_SECONDS = 60.0  # four keep-alives (web.KEEP_ALIVE_SECONDS) missed


# ------------------------------------------------------------------ settings
@dataclass(frozen=True)
class Policy:
    """The server's settings. ``max_tabs`` 0 means no limit; a ``None`` timeout means none."""

    max_tabs: int = 1
    policy: str = BLOCK
    idle_seconds: float | None = 900
    absolute_seconds: float | None = 28800
    warn_seconds: float | None = 60
    retention_seconds: float = DEFAULT_RETENTION_SECONDS
    orphan_seconds: float | None = DEFAULT_ORPHAN_SECONDS

    def __post_init__(self):
        problem = _policy_problem(self)
        if problem:
            raise ValueError(problem)

    def is_full(self, count: int) -> bool:
        return self.max_tabs > 0 and count >= self.max_tabs


def _is_number(value) -> bool:
    return type(value) in (int, float)


def _policy_problem(policy: Policy) -> str | None:
    if type(policy.max_tabs) is not int or policy.max_tabs < 0:
        return "max_tabs must be an int >= 0"
    if policy.policy not in POLICIES:
        return "policy must be one of " + ", ".join(POLICIES)
    for name in ("idle_seconds", "absolute_seconds"):
        value = getattr(policy, name)
        if value is not None and not (_is_number(value) and value > 0):
            return name + " must be None or a number > 0"
    warn = policy.warn_seconds
    if warn is not None and not (_is_number(warn) and warn >= 0):
        return "warn_seconds must be None or a number >= 0"
    if warn is not None and policy.idle_seconds is not None and warn >= policy.idle_seconds:
        return "warn_seconds must be below idle_seconds"
    if not (_is_number(policy.retention_seconds) and policy.retention_seconds >= 0):
        return "retention_seconds must be a number >= 0"
    if policy.orphan_seconds is not None and not (_is_number(policy.orphan_seconds) and policy.orphan_seconds > 0):
        return "orphan_seconds must be None or a number > 0"
    return None


# ------------------------------------------------------------------ records
@dataclass(frozen=True)
class Session:
    """One browser profile's sign-in. ``ended`` is the reason once it has ended (a tombstone)."""

    sid: str
    user: str
    started: float
    last_activity: float
    ended: str | None = None
    ended_at: float | None = None

    def to_dict(self) -> dict:
        return {"sid": self.sid, "user": self.user, "started": self.started,
                "last_activity": self.last_activity, "ended": self.ended, "ended_at": self.ended_at}

    @classmethod
    def from_dict(cls, data: dict) -> "Session":
        return cls(data["sid"], data["user"], data["started"], data["last_activity"],
                   data["ended"], data["ended_at"])


@dataclass(frozen=True)
class Lease:
    """One active tab's place. ``epoch`` and ``key`` are its credentials; ``slot`` its number;
    ``seen`` when the server last heard of the tab (R17; ``None``: at ``last_active``)."""

    sid: str
    tab_id: str
    slot: int
    epoch: int
    key: str
    last_active: float
    seen: float | None = None

    def heard(self) -> float:
        return self.last_active if self.seen is None else max(self.seen, self.last_active)

    def to_dict(self) -> dict:
        return {"sid": self.sid, "tab_id": self.tab_id, "slot": self.slot, "epoch": self.epoch,
                "key": self.key, "last_active": self.last_active, "seen": self.seen}

    @classmethod
    def from_dict(cls, data: dict) -> "Lease":
        return cls(data["sid"], data["tab_id"], data["slot"], data["epoch"], data["key"],
                   data["last_active"], data.get("seen"))


@dataclass(frozen=True)
class UserRecord:
    """Everything about one user that the rules read together (R1).

    ``moved`` holds ``(sid, tab_id)`` of tabs whose place a steal took (R13). ``due`` is the
    next time the record needs a sweep (a deadline or a tombstone's end), kept up to date by
    every write so that a store can index it without knowing the rules. ``forget_at`` is the
    time after which nothing in it can matter any more (every session ended by then and its
    tombstone past retention; ``None`` = no such bound): a store may let the record expire
    then, even if no sweep ever runs again (Redis keys' expiry).
    """

    user: str
    epoch: int = 0
    clock: float = 0.0
    sessions: tuple[Session, ...] = ()
    places: tuple[Lease, ...] = ()
    moved: tuple[tuple[str, str], ...] = ()
    due: float | None = None
    forget_at: float | None = None

    def is_empty(self) -> bool:
        return not self.sessions

    def sids(self) -> set[str]:
        return {session.sid for session in self.sessions}

    def to_dict(self) -> dict:
        return {"user": self.user, "epoch": self.epoch, "clock": self.clock,
                "sessions": [session.to_dict() for session in self.sessions],
                "places": [lease.to_dict() for lease in self.places],
                "moved": [list(pair) for pair in self.moved], "due": self.due,
                "forget_at": self.forget_at}

    @classmethod
    def from_dict(cls, data: dict) -> "UserRecord":
        return cls(data["user"], data["epoch"], data["clock"],
                   tuple(Session.from_dict(item) for item in data["sessions"]),
                   tuple(Lease.from_dict(item) for item in data["places"]),
                   tuple((sid, tab_id) for sid, tab_id in data["moved"]), data["due"],
                   data.get("forget_at"))


# ------------------------------------------------------------------ answers and notices
@dataclass(frozen=True)
class Granted:
    """The tab is active: its slot and the credentials it must show with every request."""

    place_index: int
    epoch: int
    key: str


@dataclass(frozen=True)
class Refused:
    """409: the session is live but this tab is not active."""

    status: int
    reason: str


@dataclass(frozen=True)
class Denied:
    """401: no live session (``signed-out``, ``idle`` or ``expired``)."""

    status: int
    reason: str


@dataclass(frozen=True)
class Moved:
    """Tell tab ``tab_id`` of session ``sid``: another tab took its place (``taken-over``)."""

    sid: str
    tab_id: str


@dataclass(frozen=True)
class Ended:
    """Tell every tab of session ``sid``, whatever its state: the session ended, and why."""

    sid: str
    reason: str


@dataclass(frozen=True)
class PlaceFree:
    """Tell the user's tabs that wait for a place (refused or moved): one is free now."""

    user: str


Notice = Union[Moved, Ended, PlaceFree]


@dataclass(frozen=True)
class TabEntry:
    """One active tab as another tab of the user may see it (R15)."""

    tab_id: str
    last_active: float
    elsewhere: bool


@dataclass(frozen=True)
class Change:
    """What a write returns: the record to keep, the answer, and who must be told what."""

    record: UserRecord
    result: object
    notices: tuple[Notice, ...] = ()


def signed_out() -> Denied:
    return Denied(UNAUTHORIZED, REASON_SIGNED_OUT)


# ------------------------------------------------------------------ deadlines
@dataclass(frozen=True)
class Deadlines:
    """A session's deadlines as absolute server times (``None`` = no limit)."""

    idle_at: float | None
    absolute_at: float | None
    warn_at: float | None

    def end(self) -> tuple[float, str] | None:
        """The deadline that comes first and the reason it ends with (a tie is ``expired``)."""
        ends = [(at, order, reason) for at, order, reason in
                ((self.absolute_at, 0, REASON_EXPIRED), (self.idle_at, 1, IDLE)) if at is not None]
        if not ends:
            return None
        at, _, reason = min(ends)
        return at, reason

    def remaining(self, now: float) -> dict[str, float | None]:
        """Seconds left until each deadline, never negative: what the API sends, because the
        browser's own clock may be wrong."""
        return {name: None if at is None else max(0.0, at - now)
                for name, at in (("idle", self.idle_at), ("absolute", self.absolute_at),
                                 ("warn", self.warn_at))}


def deadlines(session: Session, policy: Policy) -> Deadlines:
    idle_at = None if policy.idle_seconds is None else session.last_activity + policy.idle_seconds
    absolute_at = None if policy.absolute_seconds is None else session.started + policy.absolute_seconds
    warn_at = None if idle_at is None or policy.warn_seconds is None else idle_at - policy.warn_seconds
    return Deadlines(idle_at, absolute_at, warn_at)


# ------------------------------------------------------------------ helpers
def _session(record: UserRecord, sid: str) -> Session | None:
    for session in record.sessions:
        if session.sid == sid:
            return session
    return None


def _live(record: UserRecord, sid: str) -> Session | Denied:
    """The live session ``sid`` of a settled record, or why there is none."""
    session = _session(record, sid)
    if session is None:
        return signed_out()
    if session.ended is not None:
        return Denied(UNAUTHORIZED, session.ended)
    return session


def _lease(record: UserRecord, sid: str, tab_id: str) -> Lease | None:
    for lease in record.places:
        if lease.sid == sid and lease.tab_id == tab_id:
            return lease
    return None


def _same_key(held: str, offered: str) -> bool:
    # compare_digest refuses non-ASCII str; bytes (surrogates allowed) take any string (R16).
    return hmac.compare_digest(held.encode("utf-8", "surrogatepass"),
                               offered.encode("utf-8", "surrogatepass"))


def _holds(lease: Lease | None, epoch, key) -> bool:
    return (lease is not None and type(epoch) is int and lease.epoch == epoch
            and type(key) is str and _same_key(lease.key, key))


def _with_places(record: UserRecord, places) -> UserRecord:
    """Every change to the places bumps the counter (R6)."""
    return replace(record, places=tuple(places), epoch=record.epoch + 1)


def _free(record: UserRecord, leaving) -> tuple[UserRecord, list[Notice]]:
    """Free every place for which ``leaving(lease)`` is true; tell the user's waiting tabs."""
    kept = [lease for lease in record.places if not leaving(lease)]
    if len(kept) == len(record.places):
        return record, []
    return _with_places(record, kept), [PlaceFree(record.user)]


def _forget_moved(record: UserRecord, keep) -> UserRecord:
    return replace(record, moved=tuple(pair for pair in record.moved if keep(pair)))


def _replace_session(record: UserRecord, session: Session) -> UserRecord:
    return replace(record, sessions=tuple(session if old.sid == session.sid else old
                                          for old in record.sessions))


def _end(record: UserRecord, session: Session, reason: str, at: float) -> tuple[UserRecord, list[Notice]]:
    """End a session (R3, R11): a tombstone, its places freed, its moved tabs forgotten."""
    record = _replace_session(record, replace(session, ended=reason, ended_at=at))
    record, notices = _free(record, lambda lease: lease.sid == session.sid)
    record = _forget_moved(record, lambda pair: pair[0] != session.sid)
    return record, [Ended(session.sid, reason)] + notices


def _due(record: UserRecord, policy: Policy) -> float | None:
    times = []
    for session in record.sessions:
        if session.ended is not None:
            times.append(session.ended_at + policy.retention_seconds)
        else:
            end = deadlines(session, policy).end()
            if end is not None:
                times.append(end[0])
    return min(times) if times else None


def _forget_at(record: UserRecord, policy: Policy) -> float | None:
    """When the last session has surely ended and its tombstone passed retention; ``None`` when a
    session may live for ever (no deadline)."""
    times = []
    for session in record.sessions:
        if session.ended is not None:
            times.append(session.ended_at + policy.retention_seconds)
            continue
        end = deadlines(session, policy).end()
        if end is None:
            return None
        times.append(end[0] + policy.retention_seconds)
    return max(times) if times else None


def _change(record: UserRecord, policy: Policy, result, notices) -> Change:
    unique = tuple(dict.fromkeys(notices))
    return Change(replace(record, due=_due(record, policy), forget_at=_forget_at(record, policy)),
                  result, unique)


# ------------------------------------------------------------------ settling (R2-R4)
def settle(record: UserRecord, policy: Policy, now: float) -> tuple[UserRecord, list[Notice]]:
    """The record as of ``now``: its clock moved on, sessions past a deadline ended, tombstones
    past retention forgotten. Afterwards ``record.clock`` is the time every rule uses."""
    record = replace(record, clock=max(now, record.clock))
    notices = []
    for session in record.sessions:
        end = deadlines(session, policy).end() if session.ended is None else None
        if end is not None and record.clock >= end[0]:
            record, ended = _end(record, session, end[1], end[0])
            notices += ended
    kept = tuple(session for session in record.sessions
                 if session.ended is None or record.clock < session.ended_at + policy.retention_seconds)
    return replace(record, sessions=kept), notices


# ------------------------------------------------------------------ writes
def sign_in(record: UserRecord, policy: Policy, now: float, sid: str) -> Change:
    """A new live session for the record's user (R11). Result: the ``Session``."""
    record, notices = settle(record, policy, now)
    if _session(record, sid) is not None:
        raise ValueError("session id used twice")
    session = Session(sid, record.user, record.clock, record.clock)
    record = replace(record, sessions=record.sessions + (session,))
    return _change(record, policy, session, notices)


def sign_out(record: UserRecord, policy: Policy, now: float, sid: str) -> Change:
    """End the session ``sid`` (R11). Result: whether a live session ended."""
    record, notices = settle(record, policy, now)
    session = _live(record, sid)
    if isinstance(session, Denied):
        return _change(record, policy, False, notices)
    record, ended = _end(record, session, REASON_SIGNED_OUT, record.clock)
    return _change(record, policy, True, notices + ended)


def expire(record: UserRecord, policy: Policy, now: float) -> Change:
    """The sweep (R3, R4): settle the record. Result: ``None``; the notices say what ended."""
    record, notices = settle(record, policy, now)
    return _change(record, policy, None, notices)


def _grant(record: UserRecord, sid: str, tab_id: str, slot: int, key: str, others) -> tuple[UserRecord, Granted]:
    epoch = record.epoch + 1
    lease = Lease(sid, tab_id, slot, epoch, key, record.clock)
    record = _with_places(record, sorted(list(others) + [lease], key=lambda held: held.slot))
    return record, Granted(slot, epoch, key)


def _lowest_free_slot(places) -> int:
    taken = {lease.slot for lease in places}
    return next(slot for slot in range(len(places) + 1) if slot not in taken)


def _is_orphan(lease: Lease, policy: Policy, now: float) -> bool:
    return policy.orphan_seconds is not None and now - lease.heard() >= policy.orphan_seconds


def _least_recently_active(places) -> Lease:
    return min(places, key=lambda lease: (lease.last_active, lease.epoch))


def claim(record: UserRecord, policy: Policy, now: float, sid: str, tab_id: str,
          use_here: bool, key: str) -> Change:
    """Give the tab a place (R7). Result: ``Granted``, ``Refused`` or ``Denied``."""
    record, notices = settle(record, policy, now)
    session = _live(record, sid)
    if isinstance(session, Denied):
        return _change(record, policy, session, notices)
    record = _forget_moved(record, lambda pair: pair != (sid, tab_id))
    held = _lease(record, sid, tab_id)
    others = [lease for lease in record.places if lease is not held]
    if held is None and policy.is_full(len(record.places)):
        orphans = [lease for lease in record.places if _is_orphan(lease, policy, record.clock)]
        if orphans:  # R17: their tabs went unseen; free them as a drop would
            record, freed = _free(record, lambda lease: lease in orphans)
            notices = notices + [Moved(lease.sid, lease.tab_id) for lease in orphans] + freed
            others = list(record.places)
    if held is not None:
        record, granted = _grant(record, sid, tab_id, held.slot, key, others)
    elif not policy.is_full(len(record.places)):
        record, granted = _grant(record, sid, tab_id, _lowest_free_slot(record.places), key, others)
    elif use_here or policy.policy == TAKEOVER:
        evicted = _least_recently_active(record.places)
        others = [lease for lease in record.places if lease is not evicted]
        moved = (record.moved + ((evicted.sid, evicted.tab_id),))[-MOVED_MEMORY:]
        record, granted = _grant(replace(record, moved=moved), sid, tab_id, evicted.slot, key, others)
        notices = notices + [Moved(evicted.sid, evicted.tab_id)]
    else:
        return _change(record, policy, Refused(CONFLICT, ACTIVE_ELSEWHERE), notices)
    return _change(record, policy, granted, notices)


def keep(record: UserRecord, policy: Policy, now: float, tabs) -> Change:
    """The tabs ``(sid, tab_id, epoch)`` are connected (R17): their leases were seen now. Result:
    how many leases it found. Nobody's place changes: no epoch bump, no notices but settling's."""
    record, notices = settle(record, policy, now)
    wanted = {(sid, tab_id, epoch) for sid, tab_id, epoch in tabs}
    found = [lease for lease in record.places if (lease.sid, lease.tab_id, lease.epoch) in wanted]
    if found:
        record = replace(record, places=tuple(replace(lease, seen=record.clock) if lease in found else lease
                                              for lease in record.places))
    return _change(record, policy, len(found), notices)


def touch(record: UserRecord, policy: Policy, now: float, sid: str, tab_id: str, epoch, key) -> Change:
    """Activity in an active tab (R9). Result: the new ``Deadlines``, or check's refusal."""
    record, notices = settle(record, policy, now)
    answer = _check_settled(record, sid, tab_id, epoch, key)
    if not isinstance(answer, tuple):
        return _change(record, policy, answer, notices)
    session, held = answer
    session = replace(session, last_activity=max(session.last_activity, record.clock))
    touched = replace(held, last_active=max(held.last_active, record.clock))
    record = _replace_session(record, session)
    record = replace(record, places=tuple(touched if lease is held else lease for lease in record.places))
    return _change(record, policy, deadlines(session, policy), notices)


def release(record: UserRecord, policy: Policy, now: float, sid: str, tab_id: str, epoch, key) -> Change:
    """The tab gives its place back (R10). Result: whether a place was freed."""
    record, notices = settle(record, policy, now)
    lease = _lease(record, sid, tab_id)
    if not _holds(lease, epoch, key):
        return _change(record, policy, False, notices)
    record, freed = _free(record, lambda held: held is lease)
    return _change(record, policy, True, notices + freed)


def drop(record: UserRecord, policy: Policy, now: float, sid: str, tab_id: str, epoch=None) -> Change:
    """The server saw the tab go (R10). Result: whether a place was freed."""
    record, notices = settle(record, policy, now)
    record = _forget_moved(record, lambda pair: pair != (sid, tab_id))
    lease = _lease(record, sid, tab_id)
    if lease is None or (epoch is not None and lease.epoch != epoch):
        return _change(record, policy, False, notices)
    record, freed = _free(record, lambda held: held is lease)
    return _change(record, policy, True, notices + freed)


# ------------------------------------------------------------------ reads
def _check_settled(record: UserRecord, sid: str, tab_id: str, epoch, key):
    session = _live(record, sid)
    if isinstance(session, Denied):
        return session
    lease = _lease(record, sid, tab_id)
    if _holds(lease, epoch, key):
        return session, lease
    if lease is not None or (sid, tab_id) in record.moved:
        return Refused(CONFLICT, TAKEN_OVER)
    return Refused(CONFLICT, ACTIVE_ELSEWHERE)


def check(record: UserRecord, policy: Policy, now: float, sid: str, tab_id: str, epoch, key):
    """Is this tab the active holder of its place (R8)? ``(Session, Lease)``, ``Refused`` or
    ``Denied``."""
    return _check_settled(settle(record, policy, now)[0], sid, tab_id, epoch, key)


def live_session(record: UserRecord, policy: Policy, now: float, sid: str) -> Session | Denied:
    """The session ``sid`` if it is live now (R3, R4), else why not."""
    return _live(settle(record, policy, now)[0], sid)


def tabs(record: UserRecord, policy: Policy, now: float, sid: str) -> tuple[TabEntry, ...] | Denied:
    """The user's active tabs, in slot order, as session ``sid`` may see them (R15)."""
    record = settle(record, policy, now)[0]
    session = _live(record, sid)
    if isinstance(session, Denied):
        return session
    return tuple(TabEntry(lease.tab_id, lease.last_active, lease.sid != sid) for lease in record.places
                 if not _is_orphan(lease, policy, record.clock))
