"""Pure reading of a storage snapshot: which tabs are alive, which records to delete, which
place a tab would take, who steps down in a conflict, and when the session's deadlines fall.

Every function takes what it needs (the snapshot, ``now``, this tab's id, the lock mode, the
settings) and returns a value; none keeps state, writes, or decides what a tab does next
(``machine.py`` does). It must not import anything but the core's records and events.
"""

from tabsession.core import events as ev
from tabsession.core import records as rec

# A record whose tab's lock is gone is hidden at once and deleted after this many seconds
# (the grace covers a tab that wrote its record a moment before its lock was granted).
STALE_RECORD_SECONDS = 10.0
# Without Web Locks nothing tells a tab that another one died, so records carry a heartbeat:
# rewritten every HEARTBEAT_SECONDS, a record older than STALE_WITHOUT_LOCKS belongs to a tab
# that is gone (or frozen: it steps down when it wakes, see ``steps_down``), and is deleted
# after PRUNE_WITHOUT_LOCKS.
HEARTBEAT_SECONDS = 5.0
STALE_WITHOUT_LOCKS = 20.0
PRUNE_WITHOUT_LOCKS = 120.0


def read_session(snapshot):
    """The decoded session (``Session``, ``EndedSession`` or None) and the keys that hold a
    corrupt value and should be removed."""
    raw = snapshot.session_raw if snapshot is not None else None
    session = rec.decode_session(raw)
    repair = []
    if session is None and raw is not None:
        repair.append(rec.SESSION_KEY)
    activity_raw = snapshot.activity_raw if snapshot is not None else None
    if activity_raw is not None and rec.decode_activity(activity_raw) is None:
        repair.append(rec.ACTIVITY_KEY)
    return session, repair


def is_alive(record, live, now, locks):
    """Whether ``record``'s tab is still open, as far as this tab can know."""
    if live is not None:
        return record.tab_id in live
    if locks == ev.WEB_LOCKS:
        return True  # which locks are held is not known yet: assume alive
    return now - record.seen <= STALE_WITHOUT_LOCKS


def live_records(snapshot, now, self_id, locks):
    """Decoded records of the tabs that are alive (this tab's own record is always kept)."""
    found = []
    if snapshot is None:
        return found
    live = snapshot.live_ids
    for tab_id in snapshot.tab_raws:
        record = rec.decode_tab_record(snapshot.tab_raws[tab_id])
        if record is None or record.tab_id != tab_id:
            continue
        if tab_id != self_id and not is_alive(record, live, now, locks):
            continue
        found.append(record)
    return found


def prunable(snapshot, now, self_id, locks):
    """Ids whose records are corrupt, or whose tab is gone and its record stale."""
    found = []
    if snapshot is None:
        return found
    live = snapshot.live_ids
    for tab_id in snapshot.tab_raws:
        if tab_id == self_id:
            continue
        record = rec.decode_tab_record(snapshot.tab_raws[tab_id])
        if record is None or record.tab_id != tab_id:
            found.append(tab_id)
        elif live is not None and tab_id not in live and abs(now - record.seen) > STALE_RECORD_SECONDS:
            # abs: a dead tab's record dated in the future (forged) would otherwise stay for ever
            found.append(tab_id)
        elif locks != ev.WEB_LOCKS and now - record.seen > PRUNE_WITHOUT_LOCKS:
            found.append(tab_id)
    return found


def other_active(snapshot, now, self_id, locks):
    """Records of the other live tabs that are active."""
    return [record for record in live_records(snapshot, now, self_id, locks)
            if record.state == rec.ACTIVE and record.tab_id != self_id]


def place_free(snapshot, now, self_id, locks, max_tabs):
    """Whether fewer than ``max_tabs`` other tabs are active (0: no limit, always free)."""
    if max_tabs == 0:
        return True
    return len(other_active(snapshot, now, self_id, locks)) < max_tabs


def free_slot(snapshot, now, self_id, locks, slots):
    """The first slot no other active tab claims, or None."""
    claimed = [record.slot for record in other_active(snapshot, now, self_id, locks)]
    for slot in slots:
        if slot not in claimed:
            return slot
    return None


def victim_slot(snapshot, now, self_id, locks, slots):
    """The slot to take: the first unclaimed one, else the least recently active tab's."""
    if not slots:
        return None
    free = free_slot(snapshot, now, self_id, locks, slots)
    if free is not None:
        return free
    holders = [record for record in other_active(snapshot, now, self_id, locks) if record.slot in slots]
    holders.sort(key=lambda record: (record.last_active, record.opened, record.tab_id))
    return holders[0].slot if holders else slots[0]


def steps_down(snapshot, now, self_id, last_active, locks, max_tabs):
    """Without Web Locks two tabs can claim a place at once (storage has no locking), and a
    frozen tab can wake up still believing it is active. Every tab applies the same rule to the
    same records: the most recently active claims keep the places; True when this tab is not
    among them."""
    if max_tabs == 0:
        return False
    claims = [(record.last_active, record.tab_id) for record in other_active(snapshot, now, self_id, locks)]
    claims.append((last_active, self_id))
    if len(claims) <= max_tabs:
        return False
    claims.sort()
    claims.reverse()
    winners = [tab_id for _, tab_id in claims[:max_tabs]]
    return self_id not in winners


def fresh_elsewhere(snapshot, tab_id, now):
    """Without Web Locks: a fresh record under ``tab_id`` means another live tab has that id.

    A reload removes its record when the old page hides, so it is not mistaken for a copy.
    """
    raw = snapshot.tab_raws.get(tab_id) if snapshot is not None else None
    record = rec.decode_tab_record(raw)
    return record is not None and now - record.seen <= STALE_WITHOUT_LOCKS


def idle_deadline(session, snapshot, settings):
    """When the session ends for want of activity (epoch seconds)."""
    last = session.signed_in_at
    activity = rec.decode_activity(snapshot.activity_raw) if snapshot is not None else None
    if activity is not None and activity.token == session.token:
        last = max(last, activity.at)
    return last + settings.idle_timeout


def absolute_deadline(session, settings):
    return session.signed_in_at + settings.absolute_timeout


def deadline_passed(session, snapshot, now, settings):
    """The end reason (``expired`` before ``idle``) when a deadline has passed, else None."""
    if now >= absolute_deadline(session, settings):
        return rec.REASON_EXPIRED
    if now >= idle_deadline(session, snapshot, settings):
        return rec.IDLE
    return None
