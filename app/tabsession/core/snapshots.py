"""Pure reading of a storage snapshot: which tabs are alive, which records to delete, which
place a tab would take, and when the session's deadlines fall.

Every function takes what it needs (the snapshot, ``now``, this tab's id, the settings) and
returns a value; none keeps state, writes, or decides what a tab does next (``machine.py``
does). Which tabs are alive comes from the lock adapter's last answer (``Snapshot.live_ids``,
``Snapshot.held_slots``), whatever kind of locks the shell has. It must not import anything but
the core's records.
"""

from tabsession.core import records as rec

# A record whose tab's lock is gone is hidden at once and deleted after this many seconds
# (the grace covers a tab that wrote its record a moment before its lock was granted).
STALE_RECORD_SECONDS = 10.0
# For this long after a sign-in, until a tab of the new session is active, the tab that signed
# in counts as holding a place: it is on its way to the app page, and a sign-in page that
# followed must not take the place from under it.
SIGN_IN_GRACE_SECONDS = 5.0


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


def is_alive(record, live):
    """Whether ``record``'s tab is still open, as far as this tab can know (``live``: the ids
    whose lock is held, or None when the lock adapter has not answered: assume alive)."""
    return live is None or record.tab_id in live


def live_records(snapshot, self_id):
    """Decoded records of the tabs that are alive (this tab's own record is always kept)."""
    found = []
    if snapshot is None:
        return found
    for tab_id in snapshot.tab_raws:
        record = rec.decode_tab_record(snapshot.tab_raws[tab_id])
        if record is None or record.tab_id != tab_id:
            continue
        if tab_id != self_id and not is_alive(record, snapshot.live_ids):
            continue
        found.append(record)
    return found


def prunable(snapshot, now, self_id):
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
    return found


def other_active(snapshot, self_id):
    """Records of the other live tabs that are active."""
    return [record for record in live_records(snapshot, self_id)
            if record.state == rec.ACTIVE and record.tab_id != self_id]


def place_free(snapshot, max_tabs, now=None, session=None, self_id=None):
    """Whether a slot is free by the lock adapter's last answer (0: no limit, always free).

    Records alone are not trusted for this: they can be edited by hand, and a tab that trusted
    them and found the slots taken after all would bounce between the login page and the app
    page. But the answer can be older than the records (a tab that became active since, whose
    lock this tab has not asked about yet), so a place is free only when both say so. Unknown
    (no answer yet) is not free. With ``session`` and ``now``, a sign-in still on its way to the
    app page counts as holding a place (``signing_in_pending``).
    """
    if max_tabs == 0:
        return True
    held = snapshot.held_slots if snapshot is not None else None
    if held is None:
        return False
    pending = 1 if signing_in_pending(snapshot, now, session, self_id) else 0
    # The tab that signed in is counted once: by its slot once the answer has it (its record may
    # not say active yet), else as pending. Counted twice, a follower shown the sign-in page in
    # place, which hears fresher answers than a page just loaded, was refused with a place free.
    taken = max(len(held), len(other_active(snapshot, self_id)) + pending)
    return taken < max_tabs


def someone_active_in(snapshot, session, self_id):
    """Whether another live tab has been active since ``session`` began."""
    for record in other_active(snapshot, self_id):
        if record.since >= session.signed_in_at:
            return True
    return False


def signing_in_pending(snapshot, now, session, self_id):
    """Whether ``session`` began less than SIGN_IN_GRACE_SECONDS ago and no other tab is active
    in it yet (the tab that signed in has not reached its place)."""
    if session is None or now is None or not 0 <= now - session.signed_in_at < SIGN_IN_GRACE_SECONDS:
        return False
    return not someone_active_in(snapshot, session, self_id)


def victim_slot(snapshot, self_id, slots):
    """The slot to take: the first one no other active tab claims, else the least recently
    active tab's."""
    if not slots:
        return None
    holders = other_active(snapshot, self_id)
    claimed = [record.slot for record in holders]
    for slot in slots:
        if slot not in claimed:
            return slot
    holders = [record for record in holders if record.slot in slots]
    holders.sort(key=lambda record: (record.last_active, record.opened, record.tab_id))
    return holders[0].slot if holders else slots[0]


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
