"""The per-tab session machine: every decision a tab makes lives in this file.

Theory of operation
-------------------
Each open page runs one ``TabSession``. The shell feeds it events (``events.py``) and carries
out the commands it returns (``commands.py``), in order. The machine never reads a clock,
storage or the network: time, randomness and what storage held all arrive inside events.

Who may be active is decided by *slots*: ``max_tabs`` locks named ``tabsession:slot:<n>``.
A tab is ``active`` exactly while it holds a slot, so the browser's lock manager, not
storage, guarantees that no more than ``max_tabs`` tabs are active, even when tabs open in the
same instant. A tab that cannot get a slot is refused (policy ``block``) or steals the slot
of the least recently active tab (policy ``takeover``); the loser is told by its lock manager
and becomes ``moved``. Closing or crashing a tab releases its locks, so its slot frees by
itself.

A tab's identity is a random id kept in sessionStorage. Browsers copy sessionStorage into
duplicated tabs, so at start the tab claims a lock named after the id: if another live tab
holds it, this tab is a copy and takes a fresh id. A reload releases the lock first, so a
reload keeps its id.

The shared session lives in localStorage. When it ends, the record is replaced by an ended
record that names the reason, so every tab can land on the login page with the same reason.
Messages between tabs are only wake-ups: on every wake-up the machine re-reads the whole
snapshot and decides from it (level-triggered), so lost, repeated or forged messages cannot
change a decision.

Deadlines (idle, absolute) are absolute times derived from shared records, never counted
ticks; time that passed while a tab slept counts, and the machine never lets its own notion
of "now" go backwards.
"""

from tabsession.core import commands as cmd
from tabsession.core import events as ev
from tabsession.core import records as rec
from tabsession.core import urls
from tabsession.core import wire
from tabsession.core.settings import TAKEOVER

# Activity is counted at once but written at most this often (seconds), so a moving mouse
# does not flood the other tabs with storage events.
ACTIVITY_WRITE_INTERVAL = 1.0
# A record whose tab's lock is gone is hidden at once and deleted after this many seconds
# (the grace covers a tab that wrote its record a moment before its lock was granted).
STALE_RECORD_SECONDS = 10.0
# Without Web Locks nothing tells a tab that another one died, so records carry a heartbeat:
# rewritten every HEARTBEAT_SECONDS, a record older than STALE_WITHOUT_LOCKS belongs to a tab
# that is gone (or frozen: it steps down when it wakes, see _resolve_conflict), and is deleted
# after PRUNE_WITHOUT_LOCKS.
HEARTBEAT_SECONDS = 5.0
STALE_WITHOUT_LOCKS = 20.0
PRUNE_WITHOUT_LOCKS = 120.0

APP = "app"
LOGIN = "login"

# Internal phases while the public state is still settling.
CLAIMING = "claiming"      # waiting for TabLockClaimed (after ClaimTabLock)
ADMITTING = "admitting"    # waiting for SlotGranted / SlotsBusy
STEALING = "stealing"      # waiting for SlotGranted after StealSlot
SETTLED = "settled"
LEAVING = "leaving"        # navigation requested: nothing more to decide here

USERNAME_ERROR = "Enter a user name of 1 to 64 characters."


class UsageError(Exception):
    """The shell used the machine wrongly (our bug, not bad input): fail loudly."""


def slot_lock_name(slot):
    return rec.PREFIX + "slot:" + str(slot)


def tab_lock_name(tab_id):
    return rec.PREFIX + "tab:" + tab_id


class TabSession:
    def __init__(self, settings):
        self.settings = settings
        self.state = rec.BOOTING
        self.reason = None
        self.phase = None
        self.page = None
        self.tab_id = None
        self.locks = ev.WEB_LOCKS
        self.memory = None
        self.session = None
        self.slot = None
        self.next_path = urls.APP_PATH
        self.url_reason = None
        self.opened = None
        self.last_active = None
        self.since = None
        self.record_written_at = None
        self.latest_now = 0.0
        self.activity_written_at = None
        self.activity_pending = False
        self.snapshot = None
        self.fresh_id = None
        self.shown_tabs = None
        self.shown_clock = None
        self.signing_in = False
        self.quiet = False  # left following another tab's sign-out, without announcing it

    # ----------------------------------------------------------------- dispatch
    def handle(self, event):
        """Feed one event; returns the list of commands to carry out, in order."""
        now = getattr(event, "now", None)
        if now is not None:
            self.latest_now = max(self.latest_now, now)
        if self.phase == LEAVING and type(event) not in (ev.PageHidden, ev.StorageFailed):
            return []  # a write that fails on the way out still ends in the error state
        handler = _HANDLERS.get(type(event))
        if handler is None:
            raise UsageError("not an event: " + repr(event))
        if self.phase is None and type(event) is not ev.Started:
            if type(event) is ev.StorageFailed:
                return self._fail(event.detail)
            raise UsageError("the first event must be Started, not " + type(event).__name__)
        return handler(self, event)

    def next_deadline(self):
        """The next time (epoch seconds) at which a timer should fire an ``Observed``."""
        times = []
        if self.activity_pending and self.activity_written_at is not None:
            times.append(self.activity_written_at + ACTIVITY_WRITE_INTERVAL)
        if self.locks != ev.WEB_LOCKS and self.record_written_at is not None:
            times.append(self.record_written_at + HEARTBEAT_SECONDS)
        if self.state == rec.ACTIVE and self.shown_clock is not None:
            idle, absolute, warning = self.shown_clock.values()
            times.append(absolute)
            times.append(idle if warning else idle - self.settings.warn_before)
        elif self.state in (rec.BLOCKED, rec.MOVED) and isinstance(self.session, rec.Session):
            # Waiting tabs end the session too when no active tab is left to do it.
            times.append(self.session.signed_in_at + self.settings.absolute_timeout)
            times.append(self._idle_deadline(self.session, self.snapshot))
        return min(times) if times else None

    # ----------------------------------------------------------------- start-up
    def _on_started(self, event):
        if self.phase is not None:
            raise UsageError("Started twice")
        if event.page not in (APP, LOGIN):
            raise UsageError("unknown page " + repr(event.page))
        self.page = event.page
        self.locks = event.locks
        self.snapshot = event.snapshot
        self.fresh_id = event.fresh_id
        self.opened = event.now
        self.last_active = event.now
        self.since = event.now
        if self.page == APP:
            self.next_path = urls.safe_next(event.here)
        else:
            query = urls.parse_query(_query_of(event.here))
            self.next_path = urls.safe_next(query.get("next"))
            # As written, even when it is no reason of ours: data-reason must equal the URL's
            # reason, so an unknown one is removed from the URL (see _decide_login).
            self.url_reason = query.get("reason")
        self.memory = rec.decode_tab_memory(event.memory_raw)
        if self.memory is not None and self.locks == ev.WEB_LOCKS:
            self.phase = CLAIMING
            return [cmd.ClaimTabLock(self.memory.tab_id)]
        commands = []
        if self.memory is None and event.memory_raw is not None:
            commands.append(cmd.Store(cmd.SESSION, rec.TAB_MEMORY_KEY, None))  # repair junk
        keep = self.memory is not None and not self._alive_elsewhere(self.memory.tab_id, event.now)
        return commands + self._identified(keep, event.now)

    def _alive_elsewhere(self, tab_id, now):
        """Without Web Locks: a fresh record under our remembered id means we are a copy.

        A reload removes its record when the old page hides, so it is not mistaken for a copy.
        """
        raw = self.snapshot.tab_raws.get(tab_id) if self.snapshot is not None else None
        record = rec.decode_tab_record(raw)
        return record is not None and now - record.seen <= STALE_WITHOUT_LOCKS

    def _on_tab_lock_claimed(self, event):
        if self.phase != CLAIMING:
            raise UsageError("TabLockClaimed without ClaimTabLock")
        return self._identified(event.claimed, self.latest_now)

    def _identified(self, keep_memory, now):
        """The tab knows who it is: a reload keeps its memory, a copy or a new tab starts afresh."""
        if keep_memory:
            self.tab_id = self.memory.tab_id
        else:
            self.tab_id = self.fresh_id
            self.memory = rec.TabMemory(self.tab_id, None, None, False)
        commands = []
        if self.locks == ev.WEB_LOCKS and not (keep_memory and self.phase == CLAIMING):
            commands.append(cmd.HoldTabLock(self.tab_id))  # a claimed lock is held already
        commands.append(self._store_memory())
        self.phase = SETTLED
        return commands + self._decide_at_start(now)

    def _decide_at_start(self, now):
        session, commands = self._read_session(self.snapshot)
        if isinstance(session, rec.Session):
            ended = self._deadline_passed(session, self.snapshot, now)
            if ended:
                return commands + self._end_session(session, ended, now)
            self.session = session
        if self.page == LOGIN:
            return commands + self._decide_login(session)
        if not isinstance(session, rec.Session):
            reason = None
            if isinstance(session, rec.EndedSession) and session.token == self.memory.token:
                reason = session.reason
            return commands + self._leave_for_login(reason, now)
        return commands + self._admit(now)

    def _decide_login(self, session):
        if isinstance(session, rec.Session):
            if self.url_reason == rec.ACTIVE_ELSEWHERE:
                return self._settle(rec.BLOCKED, rec.ACTIVE_ELSEWHERE)
            return self._navigate(self.next_path)
        reason = self.url_reason if self.url_reason in rec.END_REASONS else None
        if reason is None and isinstance(session, rec.EndedSession) and self.memory.token == session.token:
            # This tab was in that session (refused, on its way here) when it ended: it ends
            # with it, as every tab of the session does (rule 7).
            reason = session.reason
        commands = []
        if reason != self.url_reason:
            # The URL claims a reason that no longer applies: keep data-reason equal to the URL.
            # The same URL a tab that follows the end gets (see _leave_for_login).
            next_path = self.next_path if reason is None else self._next_if_not_home()
            commands.append(cmd.ReplaceUrl(urls.login_url(reason, next_path)))
        state = rec.EXPIRED if reason in (rec.IDLE, rec.REASON_EXPIRED) else rec.SIGNED_OUT
        return commands + self._settle(state, reason)

    # ---------------------------------------------------------------- admission
    def _admit(self, now):
        """A signed-in tab on the app page asks for a slot."""
        if self.settings.max_tabs == 0:
            return self._become_active(None, now)
        if self.memory.use_here:
            return self._take_a_place(self._preferred_slot_to_steal(), now)
        if self.locks != ev.WEB_LOCKS:
            return self._admit_without_locks(now)
        order = self.settings.slots()
        remembered = self.memory.slot
        if remembered in order and self.memory.token == self.session.token:
            order.remove(remembered)
            order.insert(0, remembered)
        self.phase = ADMITTING
        return [cmd.AcquireSlot(order)]

    def _admit_without_locks(self, now):
        """Best effort when the browser has no Web Locks: count the active tabs in storage.

        Two tabs opening in the same instant can both get in; the page says which mechanism
        it uses so that this is never silent.
        """
        taken = [view.slot for view in self._live_records(self.snapshot, now)
                 if view.state == rec.ACTIVE and view.tab_id != self.tab_id]
        for slot in self.settings.slots():
            if slot not in taken:
                return self._become_active(slot, now)
        return self._refused(now)

    def _take_a_place(self, slot, now):
        """Become active at another tab's expense ("Use here", policy takeover).

        With Web Locks the slot is stolen and its holder is told by the browser. Without them
        this tab simply claims; the conflict rule makes the least recently active tab step down.
        """
        if self.locks == ev.WEB_LOCKS and slot is not None:
            return self._steal(slot)
        if self.page == LOGIN:
            self.memory = rec.TabMemory(self.tab_id, self.session.token, None, True)
            return [self._store_memory()] + self._navigate(self.next_path)
        return self._become_active(None, now)

    def _on_slot_granted(self, event):
        if self.phase not in (ADMITTING, STEALING):
            raise UsageError("SlotGranted without AcquireSlot or StealSlot")
        session, commands = self._read_session(self.snapshot)
        if not isinstance(session, rec.Session):
            # The session ended while this tab waited for its slot: give the slot back.
            self.slot = event.slot
            return commands + self._session_gone(session, event.now)
        self.session = session
        if self.page == LOGIN:
            # "Use here" from the login page: the other tab is moved now; the app page we go
            # to takes the slot again (locks do not survive navigation).
            self.memory = rec.TabMemory(self.tab_id, self.session.token, event.slot, True)
            return [self._store_memory()] + self._navigate(self.next_path)
        return self._become_active(event.slot, event.now)

    def _on_slots_busy(self, event):
        if self.phase != ADMITTING:
            raise UsageError("SlotsBusy without AcquireSlot")
        return self._refused(event.now)

    def _refused(self, now):
        if self.settings.policy == TAKEOVER:
            return self._take_a_place(self._victim_slot(self.snapshot, now), now)
        # The token goes with the tab to the login page: should the session end before that page
        # decides, the tab still knows it was in the session (see _decide_login).
        self.memory = rec.TabMemory(self.tab_id, self.session.token, None, False)
        commands = [self._store_memory()]
        commands += self._settle(rec.BLOCKED, rec.ACTIVE_ELSEWHERE)
        return commands + self._navigate(urls.login_url(rec.ACTIVE_ELSEWHERE, self._next_if_not_home()))

    def _steal(self, slot):
        self.phase = STEALING
        return [cmd.StealSlot(slot)]

    def _become_active(self, slot, now):
        self.slot = slot
        self.last_active = now
        self.memory = rec.TabMemory(self.tab_id, self.session.token, slot, False)
        commands = [self._store_memory()]
        commands += self._settle(rec.ACTIVE, None)
        commands += self._write_activity(now)
        return commands + self._show_clock(now)

    def _on_slot_lost(self, event):
        if self.state != rec.ACTIVE or event.slot != self.slot:
            return []
        self.slot = None
        self.memory = rec.TabMemory(self.tab_id, self.session.token, None, False)
        return [self._store_memory()] + self._settle(rec.MOVED, rec.TAKEN_OVER)

    def _on_use_here(self, event):
        self.snapshot = event.snapshot
        if self.state not in (rec.BLOCKED, rec.MOVED) or self.phase != SETTLED:
            return []
        session, commands = self._read_session(event.snapshot)
        if not isinstance(session, rec.Session):
            return commands + self._on_observed(ev.Observed(event.now, event.snapshot))
        self.session = session
        self.last_active = event.now
        if self.settings.max_tabs == 0 and self.page == APP:
            return commands + self._become_active(None, event.now)
        return commands + self._take_a_place(self._victim_slot(event.snapshot, event.now), event.now)

    def _victim_slot(self, snapshot, now):
        """The slot of the least recently active other tab (or the first unclaimed slot)."""
        slots = self.settings.slots()
        holders = [view for view in self._live_records(snapshot, now)
                   if view.state == rec.ACTIVE and view.slot in slots and view.tab_id != self.tab_id]
        claimed = [view.slot for view in holders]
        if not slots:
            return None
        for slot in slots:
            if slot not in claimed:
                return slot
        holders.sort(key=lambda view: (view.last_active, view.opened, view.tab_id))
        return holders[0].slot

    def _preferred_slot_to_steal(self):
        slots = self.settings.slots()
        if not slots:
            return None
        if self.memory.slot in slots:
            return self.memory.slot
        return self._victim_slot(self.snapshot, self.latest_now)

    # -------------------------------------------------------------- observation
    def _on_observed(self, event):
        self.snapshot = event.snapshot
        if self.phase != SETTLED:
            return []
        now = self.latest_now
        session, commands = self._read_session(event.snapshot)
        in_session = self.state in (rec.ACTIVE, rec.MOVED, rec.BLOCKED)
        if in_session:
            if not isinstance(session, rec.Session):
                return commands + self._session_gone(session, now)
            ended = self._deadline_passed(session, event.snapshot, now)
            if ended:
                return commands + self._end_session(session, ended, now)
            self.session = session
        if self.state == rec.ACTIVE and self.locks != ev.WEB_LOCKS:
            conflict = self._resolve_conflict(now)
            if conflict:
                return commands + conflict
        if self.activity_pending and now - self.activity_written_at >= ACTIVITY_WRITE_INTERVAL:
            commands += self._write_activity(now)
        elif self.locks != ev.WEB_LOCKS and now - self.record_written_at >= HEARTBEAT_SECONDS:
            commands += [self._store_record()]
        commands += self._prune(event.snapshot, now)
        commands += self._show_tabs(now)
        if self.state == rec.ACTIVE:
            commands += self._show_clock(now)
        return commands

    def _resolve_conflict(self, now):
        """Without Web Locks two tabs can claim a place at once (storage has no locking), and a
        frozen tab can wake up still believing it is active. Every tab applies the same rule to
        the same records: the most recently active claims keep the places, the others step down.
        """
        if self.settings.max_tabs == 0:
            return []
        claims = [(record.last_active, record.tab_id) for record in self._live_records(self.snapshot, now)
                  if record.state == rec.ACTIVE and record.tab_id != self.tab_id]
        claims.append((self.last_active, self.tab_id))
        if len(claims) <= self.settings.max_tabs:
            return []
        claims.sort()
        claims.reverse()
        winners = [tab_id for _, tab_id in claims[:self.settings.max_tabs]]
        if self.tab_id in winners:
            return []
        self.slot = None
        self.memory = rec.TabMemory(self.tab_id, self.session.token, None, False)
        return [self._store_memory()] + self._settle(rec.MOVED, rec.TAKEN_OVER)

    def _session_gone(self, session, now):
        """Another tab ended the session (or it vanished): follow it to the login page.

        Quietly: the tab that ended it has already told everyone, and every tab reads the same
        ended record. Announcing our own departure as well (a record write and a message per
        tab, to every tab) made a sign-out across ten tabs a storm of wake-ups (issue 8); the
        record goes when this page hides, which other tabs' lists follow.
        """
        reason = rec.REASON_SIGNED_OUT
        if isinstance(session, rec.EndedSession) and self.session is not None \
                and session.token == self.session.token:
            reason = session.reason
        return self._leave_for_login(reason, now, announce=False)

    def _ended_by_deadline(self, now):
        """Commands that end the session when a deadline has already passed (activity that
        arrives after the deadline must not revive the session), else []."""
        ended = self._deadline_passed(self.session, self.snapshot, self.latest_now)
        return self._end_session(self.session, ended, self.latest_now) if ended else []

    def _deadline_passed(self, session, snapshot, now):
        """The end reason when a deadline has passed, else None."""
        if now >= session.signed_in_at + self.settings.absolute_timeout:
            return rec.REASON_EXPIRED
        if now >= self._idle_deadline(session, snapshot):
            return rec.IDLE
        return None

    def _idle_deadline(self, session, snapshot):
        last = session.signed_in_at
        activity = rec.decode_activity(snapshot.activity_raw) if snapshot else None
        if activity is not None and activity.token == session.token:
            last = max(last, activity.at)
        return last + self.settings.idle_timeout

    # ---------------------------------------------------------------- activity
    def _on_user_active(self, event):
        if self.state != rec.ACTIVE:
            self.last_active = max(self.last_active or 0, event.now)
            return []
        ended = self._ended_by_deadline(event.now)
        if ended:
            return ended
        if self.latest_now >= self._idle_deadline(self.session, self.snapshot) - self.settings.warn_before:
            # Once the warning shows, only #stay-signed-in extends the session: a stray pointer
            # movement must not dismiss a warning the user has not read (or is about to click).
            return []
        self.last_active = max(self.last_active or 0, event.now)
        if self.activity_written_at is not None and \
                event.now - self.activity_written_at < ACTIVITY_WRITE_INTERVAL:
            self.activity_pending = True
            return []
        return self._write_activity(event.now) + self._show_clock(event.now)

    def _on_stay_signed_in(self, event):
        if self.state != rec.ACTIVE:
            return []
        ended = self._ended_by_deadline(event.now)
        if ended:
            return ended
        self.last_active = max(self.last_active or 0, event.now)
        return self._write_activity(event.now) + self._show_clock(event.now)

    def _write_activity(self, now):
        self.activity_written_at = now
        self.activity_pending = False
        activity = rec.Activity(self.session.token, max(now, self.last_active))
        # Keep the snapshot in step with what we wrote so deadlines use it immediately.
        if self.snapshot is not None:
            self.snapshot = ev.Snapshot(self.snapshot.session_raw, activity.encode(),
                                        self.snapshot.tab_raws, self.snapshot.live_ids)
        return [cmd.Store(cmd.LOCAL, rec.ACTIVITY_KEY, activity.encode()),
                self._store_record(), cmd.Publish(self._wake())]

    # ------------------------------------------------------------ sign in / out
    def _on_sign_in(self, event):
        if self.page != LOGIN or self.phase != SETTLED:
            return []
        if self.state not in (rec.SIGNED_OUT, rec.EXPIRED):
            return []
        name = event.username.strip() if isinstance(event.username, str) else ""
        if not rec.is_user(name) or not _printable(name):
            return [cmd.ShowLoginError(USERNAME_ERROR)]
        if not rec.is_id(event.fresh_token):
            raise UsageError("fresh_token must be 32 lowercase hex digits")
        session = rec.Session(event.fresh_token, name, event.now)
        self.session = session
        self.signing_in = True
        self.memory = rec.TabMemory(self.tab_id, session.token, None, False)
        return [cmd.Store(cmd.LOCAL, rec.SESSION_KEY, session.encode()),
                cmd.Store(cmd.LOCAL, rec.ACTIVITY_KEY, rec.Activity(session.token, event.now).encode()),
                self._store_memory(),
                cmd.Publish(self._wake())] + self._navigate(self.next_path)

    def _on_logout(self, event):
        if self.session is None or self.phase != SETTLED:
            return []
        return self._end_session(self.session, rec.REASON_SIGNED_OUT, event.now)

    def _end_session(self, session, reason, now):
        """This tab ends the shared session for every tab, recording why."""
        ended = rec.EndedSession(session.token, reason, now)
        self.session = session
        commands = [cmd.Store(cmd.LOCAL, rec.SESSION_KEY, ended.encode()),
                    cmd.Store(cmd.LOCAL, rec.ACTIVITY_KEY, None)]
        return commands + self._leave_for_login(reason, now)

    def _leave_for_login(self, reason, now, announce=True):
        state = rec.EXPIRED if reason in (rec.IDLE, rec.REASON_EXPIRED) else rec.SIGNED_OUT
        self.memory = rec.TabMemory(self.tab_id, None, None, False)
        commands = []
        if self.slot is not None:
            commands.append(cmd.ReleaseSlot())
            self.slot = None
        commands.append(self._store_memory())
        # No tab list: the page is about to go, and drawing one delayed the navigation.
        commands += self._settle(state, reason, announce, list_tabs=False)
        self.quiet = not announce
        if reason is None:
            url = urls.login_url(None, self.next_path)
        else:
            url = urls.login_url(reason, self._next_if_not_home())
        return commands + self._navigate(url)

    # ------------------------------------------------------------------ errors
    def _fail(self, detail):
        """Storage failed: show the error and let go of what this tab held.

        The clean-up only removes keys (removing fits in a full storage area); a store that fails
        during it is ignored (we are already failing). A sign-in cut short is undone, so no
        session is left that no tab saw through.
        """
        if self.state == rec.ERROR:
            return []
        self.state = rec.ERROR
        self.reason = rec.STORAGE_UNAVAILABLE
        self.phase = LEAVING  # nothing more can be decided without storage
        commands = [cmd.Show(rec.ERROR, rec.STORAGE_UNAVAILABLE, self.tab_id or "", None)]
        if self.slot is not None:
            commands.append(cmd.ReleaseSlot())
            self.slot = None
        if self.signing_in:
            commands += [cmd.Store(cmd.LOCAL, rec.SESSION_KEY, None),
                         cmd.Store(cmd.LOCAL, rec.ACTIVITY_KEY, None)]
        if self.tab_id is not None:
            commands += [cmd.Store(cmd.LOCAL, rec.tab_key(self.tab_id), None), cmd.Publish(self._wake())]
        return commands

    def _on_storage_failed(self, event):
        return self._fail(event.detail)

    def _on_page_hidden(self, event):
        if self.tab_id is None:
            return []
        if self.quiet:
            # Following a sign-out: the removal's storage event is enough for the tab lists.
            return [cmd.Store(cmd.LOCAL, rec.tab_key(self.tab_id), None)]
        return [cmd.Store(cmd.LOCAL, rec.tab_key(self.tab_id), None), cmd.Publish(self._wake())]

    # ----------------------------------------------------------------- helpers
    def _settle(self, state, reason, announce=True, list_tabs=True):
        """Take ``state``; ``announce``: write this tab's record and wake the other tabs;
        ``list_tabs``: show the tab list when it changed."""
        if state != self.state:
            self.since = self.latest_now
        self.state = state
        self.reason = reason
        self.phase = SETTLED
        user = self.session.user if isinstance(self.session, rec.Session) else None
        commands = [cmd.Show(state, reason, self.tab_id, user)]
        if announce:
            commands += [self._store_record(), cmd.Publish(self._wake())]
        return commands + (self._show_tabs(self.latest_now) if list_tabs else [])

    def _navigate(self, url):
        self.phase = LEAVING
        return [cmd.Navigate(url)]

    def _next_if_not_home(self):
        return None if self.next_path == urls.APP_PATH else self.next_path

    def _store_memory(self):
        return cmd.Store(cmd.SESSION, rec.TAB_MEMORY_KEY, self.memory.encode())

    def _record(self):
        return rec.TabRecord(self.tab_id, self.state, self.page, self.slot, self.opened,
                             self.last_active, self.since, self.latest_now)

    def _store_record(self):
        self.record_written_at = self.latest_now
        return cmd.Store(cmd.LOCAL, rec.tab_key(self.tab_id), self._record().encode())

    def _wake(self):
        return wire.changed(self.tab_id)

    def _read_session(self, snapshot):
        """The decoded session, and commands that repair a corrupt session or activity value."""
        raw = snapshot.session_raw if snapshot is not None else None
        session = rec.decode_session(raw)
        commands = []
        if session is None and raw is not None:
            commands.append(cmd.Store(cmd.LOCAL, rec.SESSION_KEY, None))
        activity_raw = snapshot.activity_raw if snapshot is not None else None
        if activity_raw is not None and rec.decode_activity(activity_raw) is None:
            commands.append(cmd.Store(cmd.LOCAL, rec.ACTIVITY_KEY, None))
        return session, commands

    def _live_records(self, snapshot, now):
        """Decoded records of the tabs that are alive (lock held, when that can be known)."""
        found = []
        if snapshot is None:
            return found
        live = snapshot.live_ids
        for tab_id in snapshot.tab_raws:
            record = rec.decode_tab_record(snapshot.tab_raws[tab_id])
            if record is None or record.tab_id != tab_id:
                continue
            if tab_id != self.tab_id and not self._is_alive(record, live, now):
                continue
            found.append(record)
        return found

    def _is_alive(self, record, live, now):
        if live is not None:
            return record.tab_id in live
        if self.locks == ev.WEB_LOCKS:
            return True  # which locks are held is not known yet: assume alive
        return now - record.seen <= STALE_WITHOUT_LOCKS

    def _prune(self, snapshot, now):
        """Delete records that are corrupt, or whose tab is gone and stale."""
        commands = []
        if snapshot is None:
            return commands
        live = snapshot.live_ids
        for tab_id in snapshot.tab_raws:
            if tab_id == self.tab_id:
                continue
            record = rec.decode_tab_record(snapshot.tab_raws[tab_id])
            if record is None or record.tab_id != tab_id:
                commands.append(cmd.Store(cmd.LOCAL, rec.tab_key(tab_id), None))
            elif live is not None and tab_id not in live and abs(now - record.seen) > STALE_RECORD_SECONDS:
                # abs: a dead tab's record dated in the future (forged) would otherwise stay for ever
                commands.append(cmd.Store(cmd.LOCAL, rec.tab_key(tab_id), None))
            elif self.locks != ev.WEB_LOCKS and now - record.seen > PRUNE_WITHOUT_LOCKS:
                commands.append(cmd.Store(cmd.LOCAL, rec.tab_key(tab_id), None))
        return commands

    def _show_tabs(self, now):
        views = []
        for record in self._live_records(self.snapshot, now):
            if record.tab_id != self.tab_id:
                views.append(cmd.TabView(record.tab_id, record.state, record.page,
                                         record.last_active, False))
        if self.tab_id is not None:
            views.append(cmd.TabView(self.tab_id, self.state, self.page, self.last_active, True))
        views.sort(key=lambda view: view.tab_id)
        if views == self.shown_tabs:
            return []
        self.shown_tabs = views
        return [cmd.ShowTabs(views)]

    def _show_clock(self, now):
        if not isinstance(self.session, rec.Session):
            return []
        idle = self._idle_deadline(self.session, self.snapshot)
        absolute = self.session.signed_in_at + self.settings.absolute_timeout
        warning = now >= idle - self.settings.warn_before
        clock = cmd.ShowClock(idle, absolute, warning)
        if clock == self.shown_clock:
            return []
        self.shown_clock = clock
        return [clock]


def _query_of(here):
    if not isinstance(here, str) or "?" not in here:
        return ""
    return here.split("?", 1)[1]


def _printable(text):
    for char in text:
        if ord(char) < 32 or 127 <= ord(char) < 160:
            return False
    return True


_HANDLERS = {
    ev.Started: TabSession._on_started,
    ev.TabLockClaimed: TabSession._on_tab_lock_claimed,
    ev.SlotGranted: TabSession._on_slot_granted,
    ev.SlotsBusy: TabSession._on_slots_busy,
    ev.SlotLost: TabSession._on_slot_lost,
    ev.Observed: TabSession._on_observed,
    ev.UserActive: TabSession._on_user_active,
    ev.UseHereClicked: TabSession._on_use_here,
    ev.LogoutClicked: TabSession._on_logout,
    ev.StaySignedInClicked: TabSession._on_stay_signed_in,
    ev.SignInSubmitted: TabSession._on_sign_in,
    ev.StorageFailed: TabSession._on_storage_failed,
    ev.PageHidden: TabSession._on_page_hidden,
}
