"""The per-tab session machine: every decision a tab makes lives in this file.

Theory of operation
-------------------
Each open page runs one ``TabSession``. The shell feeds it events (``events.py``) and carries
out the commands it returns (``commands.py``), in order. The machine never reads a clock,
storage or the network: time, randomness and what storage held all arrive inside events.
Pure reading of a snapshot (which tabs live, deadlines, which place to take) is in
``snapshots.py``; this file decides what to do with it.

Rules (docs/rules.md gives the behaviour they serve; numbers here are this file's own)
-----
M1. Everything that changes a tab's state lives in this file. ``handle()`` checks every event
    against ``ACCEPTS``, one row per phase (and, once settled, per state): an event the row
    names is handled or deliberately ignored; an event the row does not name is our own misuse
    and raises ``UsageError``. Bad input from storage or other tabs is never a misuse: it
    arrives inside a snapshot and is decoded to "nothing there".
M2. Identity. A tab's id lives in sessionStorage, which browsers copy into duplicated tabs. At
    start the tab claims a lock named after the remembered id in one request: held elsewhere
    means this tab is a copy and takes a fresh id; a reload released it first and keeps its id.
M3. Places. ``max_tabs`` slots; a tab becomes ``active`` only once it holds one, and a tab
    whose slot was taken becomes ``moved`` once it is told (``SlotLost``; rule 4 in
    docs/rules.md: a displaced page may say ``active`` for that moment). The slots are
    locks (``tabsession:slot:<n>``) of whatever lock adapter the shell has: with Web Locks the
    browser guarantees that no more than ``max_tabs`` tabs hold a slot even when tabs open in the
    same instant, and closing or crashing a tab frees its slot; without them the shell's leases
    in storage keep the same face with a weaker guarantee (``browser/leases.py``). The machine
    never asks which one it has.
M4. Refusal. A tab that finds no free slot is refused (policy ``block``) or takes the slot of
    the least recently active tab (policy ``takeover``); the loser is told by its lock manager
    and becomes ``moved``. ``use_here`` in a blocked or moved tab takes a place the same way.
M5. The shared session lives in localStorage. When it ends it is replaced by an ended record
    naming the reason, so every tab lands on the login page with the same reason.
M6. Level-triggered. Messages are only wake-ups: on each one the machine re-reads the whole
    snapshot and decides from it, so lost, repeated or forged messages change nothing.
M7. Every settled state says what it does when, on a look, a session it is not in is live, its
    own session has ended, or a place is free (``ON_LOOK``). So a sign-in page follows a
    sign-in made elsewhere instead of offering its form (a second sign-in never replaces a live
    session), and a refused tab learns that a place is free instead of trusting its URL. The tab
    that signed in counts as holding a place until it reaches one (for a few seconds,
    ``snapshots.SIGN_IN_GRACE_SECONDS``), so a follower with no place left is refused where it
    stands rather than racing it to the app page; and should it get there first all the same,
    the tab that signed in takes a place instead of being refused (``TabMemory.signed_in``).
M8. Deadlines (idle, absolute) are absolute times derived from shared records, never counted
    ticks; time that passed while a tab slept counts, and the machine's own notion of "now"
    never goes backwards. ``next_deadline()`` says when the shell should wake it.
M9. One ``handle()`` returns at most one write per storage key and at most one publish, the
    last of each (``_outbox``): tabs woken by the first write would otherwise read a state
    that the same call goes on to change.
M10. With a server as the authority (``settings.authority``), the server's word ends a session:
    ``ServerEnded`` (a claim answered 401, or a push) ends it for the whole profile with the
    server's reason, whatever the records say. Places are the shell's business: the server's
    place is one more lock behind the slot locks (``browser/server.py``). A page that starts
    with the server's word that its profile has a session (``Started.server_user``, on an origin
    that never recorded one) records it and goes on as the page of a sign-in would: its first
    decision is never the sign-in form it would take back a moment later.
M11. In place. When one document shows both pages (``Started.in_place``), going between the app
    page and the login page is ``ShowPage``, not ``Navigate``: the tab keeps its document, its
    tab lock and any slot it holds, and decides as the page it became would on loading (the app
    page admits, the login page shows the end or the refusal it was sent with). A ``next`` the
    document does not show (neither ``/`` nor the path it started at) is still loaded. A Use
    here on the login page so keeps the very slot it took: no moment in which it is free.
"""

from tabsession.core import commands as cmd
from tabsession.core import events as ev
from tabsession.core import names
from tabsession.core import records as rec
from tabsession.core import snapshots
from tabsession.core import urls
from tabsession.core import wire
from tabsession.core.settings import TAKEOVER
# Re-exported: tests name this threshold through the machine.
from tabsession.core.snapshots import STALE_RECORD_SECONDS  # noqa: F401

# Activity is counted at once but written at most this often (seconds), so a moving mouse
# does not flood the other tabs with storage events.
ACTIVITY_WRITE_INTERVAL = 1.0

APP = "app"
LOGIN = "login"

# Phases while the public state is still settling.
NEW = "new"                # before Started
CLAIMING = "claiming"      # waiting for TabLockClaimed (after ClaimTabLock)
ADMITTING = "admitting"    # waiting for SlotGranted / SlotsBusy
STEALING = "stealing"      # waiting for SlotGranted (or SlotsBusy) after StealSlot
SETTLED = "settled"        # the row is then the state's (see ACCEPTS)
LEAVING = "leaving"        # navigation requested, or failed: nothing more to decide here

# What a settled tab does on a look (rule M7).
FOLLOW_END = "follow-end"          # its session is over: land on the login page with the reason
DECIDE_AS_NEXT = "decide-as-next"  # go where the user wanted: the app page decides (rule 4)
SAY_PLACE_FREE = "say-place-free"  # show that use-here would take a free place, not displace
NOTHING = "nothing"

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
        self.phase = NEW
        self.page = None
        self.tab_id = None
        self.memory = None
        self.session = None
        self.slot = None
        self.next_path = urls.APP_PATH
        self.url_reason = None
        self.opened = None
        self.last_active = None
        self.since = None
        self.latest_now = 0.0
        self.activity_written_at = None
        self.activity_pending = False
        self.snapshot = None
        self.fresh_id = None
        self.place_free = False
        self.seen_active_in = None  # the token of a session in which another tab was seen active
        self.shown_tabs = None
        self.shown_clock = None
        self.signing_in = False
        self.quiet = False  # left following another tab's sign-out, without announcing it
        self.in_place = False  # the document shows both pages: no load between them (M11)
        self.server_user = None  # the server's session of this profile, seen at start (M10)
        self.server_token = None
        self.app_paths = (urls.APP_PATH,)  # the app pages this document shows in place
        self.awaiting_slot = False  # a slot was asked for and not answered yet

    # ----------------------------------------------------------------- dispatch
    @property
    def leaving(self):
        """True once the page decides nothing more (navigating away, or failed)."""
        return self.phase == LEAVING

    @property
    def step(self):
        """A value that changes whenever the machine's own decision does (compare with ==)."""
        return (self.state, self.phase, self.place_free)

    def row(self):
        """The ACCEPTS row in force: the phase, or once settled, the state."""
        return self.state if self.phase == SETTLED else self.phase

    def handle(self, event):
        """Feed one event; returns the list of commands to carry out, in order (rule M1)."""
        kind = type(event)
        if kind not in EVENTS:
            raise UsageError("not an event: " + repr(event))
        row = self.row()
        accepted = ACCEPTS[row]
        if kind not in accepted:
            raise UsageError(kind.__name__ + " is not expected while " + row)
        now = getattr(event, "now", None)
        if now is not None:
            self.latest_now = max(self.latest_now, now)
        handler = accepted[kind]
        if handler is None:
            return []  # deliberately ignored in this row
        return _outbox(handler(self, event))

    def next_deadline(self):
        """The next time (epoch seconds) at which a timer should fire an ``Observed``."""
        times = []
        if self.activity_pending and self.activity_written_at is not None:
            times.append(self.activity_written_at + ACTIVITY_WRITE_INTERVAL)
        if self.state == rec.ACTIVE and self.shown_clock is not None:
            idle, absolute, warning = self.shown_clock.values()
            times.append(absolute)
            times.append(idle if warning else idle - self.settings.warn_before)
        elif self.state in (rec.BLOCKED, rec.MOVED) and isinstance(self.session, rec.Session):
            # Waiting tabs end the session too when no active tab is left to do it.
            times.append(snapshots.absolute_deadline(self.session, self.settings))
            times.append(self._idle_deadline(self.session, self.snapshot))
        return min(times) if times else None

    # ----------------------------------------------------------------- start-up
    def _on_started(self, event):
        if event.page not in (APP, LOGIN):
            raise UsageError("unknown page " + repr(event.page))
        self.page = event.page
        self.in_place = bool(event.in_place)
        self.server_user = username_of(event.server_user)
        if self.server_user is not None and not rec.is_id(event.fresh_token):
            raise UsageError("fresh_token must be 32 lowercase hex digits")
        self.server_token = event.fresh_token
        self.snapshot = event.snapshot
        self.fresh_id = event.fresh_id
        self.opened = event.now
        self.last_active = event.now
        self.since = event.now
        if self.page == APP:
            self.next_path = urls.safe_next(event.here, self.settings.login_path)
            self.app_paths = (urls.APP_PATH, _path_of(self.next_path))
        else:
            query = urls.parse_query(_query_of(event.here))
            self.next_path = urls.safe_next(query.get("next"), self.settings.login_path)
            # As written, even when it is no reason of ours: data-reason must equal the URL's
            # reason, so an unknown one is removed from the URL (see _decide_login).
            self.url_reason = query.get("reason")
        self.memory = rec.decode_tab_memory(event.memory_raw)
        if self.memory is not None:
            self.phase = CLAIMING
            return [cmd.ClaimTabLock(self.memory.tab_id)]
        commands = []
        if event.memory_raw is not None:
            commands.append(cmd.Store(cmd.SESSION, rec.TAB_MEMORY_KEY, None))  # repair junk
        return commands + self._identified(False, event.now)

    def _on_tab_lock_claimed(self, event):
        return self._identified(event.claimed, self.latest_now)

    def _identified(self, keep_memory, now):
        """The tab knows who it is: a reload keeps its memory, a copy or a new tab starts afresh."""
        if keep_memory:
            self.tab_id = self.memory.tab_id
        else:
            self.tab_id = self.fresh_id
            self.memory = rec.TabMemory(self.tab_id, None, None, False)
        commands = []
        if not keep_memory:
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
        user, self.server_user = self.server_user, None
        if session is None and user is not None:
            # The server's word (M10): the profile is signed in; this origin records it now.
            commands += self._begin_session(user, self.server_token, now, False)
            return commands + (self._go_next(now) if self.page == LOGIN else self._admit(now))
        if self.page == LOGIN:
            return commands + self._decide_login(session, now)
        if not isinstance(session, rec.Session):
            reason = None
            if isinstance(session, rec.EndedSession) and session.token == self.memory.token:
                reason = session.reason
            return commands + self._leave_for_login(reason, now)
        return commands + self._admit(now)

    def _decide_login(self, session, now):
        """What a login page shows. Its URL's reason is a claim anybody can write into a link:
        the notice it names is shown only when the facts bear it out, otherwise the page decides
        as if the URL had no reason (and drops it from the URL, see below)."""
        if isinstance(session, rec.Session):
            # From the facts, not from the URL (rule 6): a refused tab whose place has freed
            # goes on to the app page, which admits it.
            if self.url_reason == rec.ACTIVE_ELSEWHERE and self._places_all_held():
                return self._settle(rec.BLOCKED, rec.ACTIVE_ELSEWHERE)
            return self._go_next(now)
        reason = self._url_end_reason(session)
        if reason is None and isinstance(session, rec.EndedSession) and self.memory.token == session.token:
            # This tab was in that session (refused, on its way here) when it ended: it ends
            # with it, as every tab of the session does (rule 7).
            reason = session.reason
        commands = []
        if reason != self.url_reason:
            # The URL claims a reason that no longer applies: keep data-reason equal to the URL.
            # The same URL a tab that follows the end gets (see _leave_for_login).
            next_path = self.next_path if reason is None else self._next_if_not_home()
            commands.append(cmd.ReplaceUrl(self._login_url(reason, next_path)))
        state = rec.EXPIRED if reason in (rec.IDLE, rec.REASON_EXPIRED) else rec.SIGNED_OUT
        return commands + self._settle(state, reason)

    def _places_all_held(self):
        """Whether ``active-elsewhere`` is true of this login page: other tabs hold every place.

        Only places really held count here, not a sign-in on its way to the app page
        (``_place_is_free``): a link to ``/login?reason=active-elsewhere`` opened just after
        the tab that signed in was closed would otherwise say "already active in another tab"
        with none open. Without the reason such a page goes on to the app page, which decides
        with the slot locks; with it the page must decide the same.
        """
        return not snapshots.place_free(self.snapshot, self.settings.max_tabs, None, None, self.tab_id)

    def _url_end_reason(self, session):
        """The URL's end reason (signed-out, idle, expired) when storage says a session ended
        so, else None. ``session`` is not live here. The stored record keeps why the last
        session ended: idle and expired must be that reason; signed-out only needs a session to
        have ended (a tab whose session was replaced, or ended by a forged record of another
        token, follows as plainly signed out: ``_session_gone``). With no record, no session
        ever ended here, so no link may say one did. (A tab that was in the ended session knows
        its reason from its memory: see ``_decide_login``.)"""
        reason = self.url_reason
        if reason not in rec.END_REASONS or not isinstance(session, rec.EndedSession):
            return None
        return reason if reason in (session.reason, rec.REASON_SIGNED_OUT) else None

    def _place_is_free(self, now):
        """Whether a place is free for this tab. A sign-in still on its way to the app page holds
        one, unless this tab knows a tab of that session has had a place already (it was refused
        in it, or has seen one active)."""
        session = self.session if isinstance(self.session, rec.Session) else None
        if session is not None:
            if snapshots.someone_active_in(self.snapshot, session, self.tab_id):
                self.seen_active_in = session.token
            if session.token in (self.memory.token, self.seen_active_in):
                session = None
        return snapshots.place_free(self.snapshot, self.settings.max_tabs, now, session, self.tab_id)

    # ---------------------------------------------------------------- admission
    def _admit(self, now):
        """A signed-in tab on the app page asks for a slot."""
        if self.settings.max_tabs == 0:
            return self._become_active(None, now)
        if self.memory.use_here:
            return self._take_a_place(self._preferred_slot_to_steal(), now)
        order = self.settings.slots()
        remembered = self.memory.slot
        if remembered in order and self.memory.token == self.session.token:
            order.remove(remembered)
            order.insert(0, remembered)
        self.phase = ADMITTING
        self.awaiting_slot = True
        return [cmd.AcquireSlot(order)]

    def _take_a_place(self, slot, now):
        """Become active at another tab's expense ("Use here", policy takeover).

        The slot is stolen and its holder is told by its lock adapter. With no limit there are
        no slots: the tab simply goes where it was going.
        """
        if slot is not None:
            self.phase = STEALING
            self.awaiting_slot = True
            return [cmd.StealSlot(slot)]
        if self.page == LOGIN:
            self.memory = rec.TabMemory(self.tab_id, self.session.token, None, True)
            return [self._store_memory()] + self._go_next(now)
        return self._become_active(None, now)

    def _on_slot_granted(self, event):
        self.awaiting_slot = False
        session, commands = self._read_session(self.snapshot)
        if not isinstance(session, rec.Session):
            # The session ended while this tab waited for its slot: give the slot back.
            self.slot = event.slot
            return commands + self._session_gone(session, event.now)
        self.session = session
        if self.page == LOGIN:
            # "Use here" from the login page: the other tab is moved now. In place this tab
            # keeps the slot it holds; an app page we load takes it again (locks do not survive
            # navigation).
            self.memory = rec.TabMemory(self.tab_id, self.session.token, event.slot, True)
            if self._shows_next():
                return self._show_page(APP, self.next_path) + self._become_active(event.slot, event.now)
            return [self._store_memory()] + self._navigate(self.next_path)
        return self._become_active(event.slot, event.now)

    def _on_late_slot(self, event):
        """A slot granted after this tab left the session (in place, the session ended while
        the tab waited for it): give it back at once. Unasked, it is the shell's bug (M1)."""
        self._answered_late()
        return [cmd.ReleaseSlot(event.slot)]

    def _on_late_busy(self, event):
        self._answered_late()
        return []

    def _answered_late(self):
        if not self.awaiting_slot:
            raise UsageError("a slot answer nobody asked for while " + self.row())
        self.awaiting_slot = False

    def _on_steal_failed(self, event):
        """A steal did not take (leases: another tab took the slot in the same instant). A
        settled tab stays as it was (the user may try again); a page that arrived to take a
        place is refused, as any tab that finds no place."""
        self.awaiting_slot = False
        if self.state in (rec.BLOCKED, rec.MOVED):
            self.phase = SETTLED
            return []
        return self._refused(event.now, steal=False)

    def _on_slots_busy(self, event):
        self.awaiting_slot = False
        if self.memory.signed_in and self.memory.token == self.session.token:
            # The tab where the user just signed in is not refused by tabs that followed it.
            return self._take_a_place(self._victim_slot(self.snapshot, event.now), event.now)
        return self._refused(event.now)

    def _refused(self, now, steal=True):
        if steal and self.settings.policy == TAKEOVER:
            return self._take_a_place(self._victim_slot(self.snapshot, now), now)
        # The token goes with the tab to the login page: should the session end before that page
        # decides, the tab still knows it was in the session (see _decide_login).
        self.memory = rec.TabMemory(self.tab_id, self.session.token, None, False)
        commands = [self._store_memory()]
        url = self._login_url(rec.ACTIVE_ELSEWHERE, self._next_if_not_home())
        if self.in_place:
            # The login page, shown here, is refused as it would be after a load (M11).
            commands += self._show_page(LOGIN, url)
            commands += self._settle(rec.BLOCKED, rec.ACTIVE_ELSEWHERE)
            return commands
        commands += self._settle(rec.BLOCKED, rec.ACTIVE_ELSEWHERE)
        return commands + self._navigate(url)

    def _become_active(self, slot, now):
        self.slot = slot
        self.last_active = now
        self.place_free = False
        self.signing_in = False  # the sign-in, if any, is seen through
        self.memory = rec.TabMemory(self.tab_id, self.session.token, slot, False)
        commands = [self._store_memory()]
        commands += self._settle(rec.ACTIVE, None)
        commands += self._write_activity(now)
        return commands + self._show_clock(now)

    def _on_slot_lost(self, event):
        if event.slot != self.slot:
            return []
        self.slot = None
        self.memory = rec.TabMemory(self.tab_id, self.session.token, None, False)
        self.place_free = self._place_is_free(self.latest_now)
        return [self._store_memory()] + self._settle(rec.MOVED, rec.TAKEN_OVER)

    def _on_use_here(self, event):
        self.snapshot = event.snapshot
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
        return snapshots.victim_slot(snapshot, self.tab_id, self.settings.slots())

    def _preferred_slot_to_steal(self):
        slots = self.settings.slots()
        if not slots:
            return None
        if self.memory.slot in slots:
            return self.memory.slot
        return self._victim_slot(self.snapshot, self.latest_now)

    # -------------------------------------------------------------- observation
    def _on_observed_while_waiting(self, event):
        self.snapshot = event.snapshot
        return []

    def _on_observed(self, event):
        """A look at storage while settled: what changed decides (rule M7, ``ON_LOOK``)."""
        self.snapshot = event.snapshot
        now = self.latest_now
        session, commands = self._read_session(event.snapshot)
        on_started, on_ended, on_free = ON_LOOK[self.state]
        if self.state in IN_SESSION:
            mine = isinstance(session, rec.Session) and isinstance(self.session, rec.Session) \
                and session.token == self.session.token
            if not mine:
                return commands + self._act(on_ended, session, now)
            ended = self._deadline_passed(session, event.snapshot, now)
            if ended:
                return commands + self._end_session(session, ended, now)
            self.session = session
        elif isinstance(session, rec.Session) and not self._deadline_passed(session, event.snapshot, now):
            self.session = session
            return commands + self._act(on_started, session, now)
        if on_free == SAY_PLACE_FREE:
            free = self._place_is_free(now)
            if free != self.place_free:
                self.place_free = free
                commands += [self._show()]
        if self.activity_pending and now - self.activity_written_at >= ACTIVITY_WRITE_INTERVAL:
            commands += self._write_activity(now)
        for tab_id in snapshots.prunable(event.snapshot, now, self.tab_id):
            commands.append(cmd.Store(cmd.LOCAL, rec.tab_key(tab_id), None))
        commands += self._show_tabs(now)
        if self.state == rec.ACTIVE:
            commands += self._show_clock(now)
        return commands

    def _act(self, action, session, now):
        if action == FOLLOW_END:
            return self._session_gone(session, now)
        if action == DECIDE_AS_NEXT:
            # A sign-in made elsewhere: this page stops offering its form and is decided as a tab
            # opened to next would be. When no place is left for it (the signing tab, still on
            # its way, counts as holding one) it is refused here and now, with no page load that
            # would race the signing tab for the place.
            self.session = session
            if self.settings.policy == TAKEOVER or self._place_is_free(now):
                return self._go_next(now)
            # (The memory keeps no token: this tab was not refused by an app page of the session.)
            commands = [cmd.ReplaceUrl(self._login_url(rec.ACTIVE_ELSEWHERE, self._next_if_not_home()))]
            self.url_reason = rec.ACTIVE_ELSEWHERE
            return commands + self._settle(rec.BLOCKED, rec.ACTIVE_ELSEWHERE)
        return []

    def _session_gone(self, session, now):
        """Another tab ended the session (or it vanished, or another one replaced it): follow it
        to the login page.

        Quietly: the tab that ended it has already told everyone, and every tab reads the same
        ended record. Announcing our own departure as well (a record write and a message per
        tab, to every tab) made a sign-out across ten tabs a storm of wake-ups (issue 8); the
        record goes when this page hides, which other tabs' lists follow.
        """
        reason = rec.REASON_SIGNED_OUT
        if isinstance(session, rec.EndedSession) and self.session is not None \
                and session.token == self.session.token:
            reason = session.reason
        commands = self._leave_for_login(reason, now, announce=False)
        if self.in_place and isinstance(session, rec.Session) \
                and not self._deadline_passed(session, self.snapshot, now):
            # Another session replaced ours: the login page goes on to next, as it would
            # decide on loading (M11).
            self.session = session
            commands += self._go_next(now)
        return commands

    def _ended_by_deadline(self, now):
        """Commands that end the session when a deadline has already passed (activity that
        arrives after the deadline must not revive the session), else []."""
        ended = self._deadline_passed(self.session, self.snapshot, self.latest_now)
        return self._end_session(self.session, ended, self.latest_now) if ended else []

    def _deadline_passed(self, session, snapshot, now):
        return snapshots.deadline_passed(session, snapshot, now, self.settings)

    def _idle_deadline(self, session, snapshot):
        return snapshots.idle_deadline(session, snapshot, self.settings)

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
            self._wrote(self.snapshot.session_raw, activity.encode())
        return [cmd.Store(cmd.LOCAL, rec.ACTIVITY_KEY, activity.encode()),
                self._store_record(), cmd.Publish(self._wake())]

    # ------------------------------------------------------------ sign in / out
    def _on_sign_in(self, event):
        if self.page != LOGIN:
            return []
        if event.snapshot is not None:
            self.snapshot = event.snapshot
        session, commands = self._read_session(self.snapshot)
        if isinstance(session, rec.Session) and \
                not self._deadline_passed(session, self.snapshot, self.latest_now):
            # The profile signed in elsewhere since this page last looked: never replace a live
            # session (rule 2); decide as a tab opened to next would.
            self.session = session
            return commands + self._act(DECIDE_AS_NEXT, session, self.latest_now)
        name = username_of(event.username)
        if name is None:
            return commands + [cmd.ShowLoginError(USERNAME_ERROR)]
        if not rec.is_id(event.fresh_token):
            raise UsageError("fresh_token must be 32 lowercase hex digits")
        return commands + self._begin_session(name, event.fresh_token, event.now) + self._go_next(event.now)

    def _begin_session(self, name, token, now, signed_in_here=True):
        """This tab records a new session of ``name``, as its first tab (the caller goes on).
        ``signed_in_here``: the user signed in in this tab, which then takes a place rather than
        be refused (M7); not so when it follows a sign-in made through another origin."""
        session = rec.Session(token, name, now)
        self.session = session
        self.signing_in = True
        self.memory = rec.TabMemory(self.tab_id, session.token, None, False, signed_in_here)
        session_raw = session.encode()
        activity_raw = rec.Activity(session.token, now).encode()
        self._wrote(session_raw, activity_raw)  # (in place, the app page decides on it)
        return [cmd.Store(cmd.LOCAL, rec.SESSION_KEY, session_raw),
                cmd.Store(cmd.LOCAL, rec.ACTIVITY_KEY, activity_raw),
                self._store_memory(),
                cmd.Publish(self._wake())]

    def _on_sign_out(self, event):
        if self.session is None:
            return []
        return self._end_session(self.session, rec.REASON_SIGNED_OUT, event.now)

    def _on_server_ended(self, event):
        """The server ended the session (rule M10): end it here too, whatever storage says."""
        reason = event.reason if event.reason in (rec.IDLE, rec.REASON_EXPIRED) else rec.REASON_SIGNED_OUT
        if self.session is None:
            return self._leave_for_login(reason, event.now)
        return self._end_session(self.session, reason, event.now)

    def _end_session(self, session, reason, now):
        """This tab ends the shared session for every tab, recording why."""
        ended = rec.EndedSession(session.token, reason, now)
        self.session = session
        ended_raw = ended.encode()
        self._wrote(ended_raw, None)  # (in place, it goes on deciding on it)
        commands = [cmd.Store(cmd.LOCAL, rec.SESSION_KEY, ended_raw),
                    cmd.Store(cmd.LOCAL, rec.ACTIVITY_KEY, None)]
        return commands + self._leave_for_login(reason, now)

    def _leave_for_login(self, reason, now, announce=True):
        state = rec.EXPIRED if reason in (rec.IDLE, rec.REASON_EXPIRED) else rec.SIGNED_OUT
        self.memory = rec.TabMemory(self.tab_id, None, None, False)
        self.place_free = False
        self.signing_in = False
        commands = []
        if self.slot is not None:
            commands.append(cmd.ReleaseSlot(self.slot))
            self.slot = None
        commands.append(self._store_memory())
        if reason is None:
            url = self._login_url(None, self.next_path)
        else:
            url = self._login_url(reason, self._next_if_not_home())
        if self.in_place:
            # The login page is shown here and now, as a load of ``url`` would decide it (M11).
            # Following another tab's end, the record is rewritten without a message: every
            # tab is woken by the ended record already (the storm of issue 8 was the messages).
            commands += self._show_page(LOGIN, url)
            commands += self._settle(state, reason, announce)
            if not announce:
                commands.append(self._store_record())
            self.session = None
            self.seen_active_in = None
            self.shown_clock = None
            self.activity_pending = False
            self.activity_written_at = None
            return commands
        # No tab list: the page is about to go, and drawing one delayed the navigation.
        commands += self._settle(state, reason, announce, list_tabs=False)
        self.quiet = not announce
        return commands + self._navigate(url)

    # ------------------------------------------------------------------ errors
    def _fail(self, detail):
        """Storage failed (or the server, the authority, gave no decision: ``detail`` is then
        "server-unavailable"): show the error and let go of what this tab held.

        The clean-up only removes keys (removing fits in a full storage area); a store that fails
        during it is ignored (we are already failing). A sign-in cut short is undone, so no
        session is left that no tab saw through.
        """
        if self.state == rec.ERROR:
            return []
        self.state = rec.ERROR
        self.reason = rec.SERVER_UNAVAILABLE if detail == rec.SERVER_UNAVAILABLE else rec.STORAGE_UNAVAILABLE
        self.place_free = False
        self.phase = LEAVING  # nothing more can be decided without storage
        # The error's name goes to the page: a full area and a blocked one need different advice.
        storage_error = None if self.reason == rec.SERVER_UNAVAILABLE else detail
        commands = [cmd.Show(self.state, self.reason, self.tab_id or "", None, False, storage_error)]
        if self.slot is not None:
            commands.append(cmd.ReleaseSlot(self.slot))
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
    def _show(self):
        user = None
        if isinstance(self.session, rec.Session) and self.state != rec.ERROR:
            user = self.session.user
        return cmd.Show(self.state, self.reason, self.tab_id or "", user, self.place_free)

    def _settle(self, state, reason, announce=True, list_tabs=True):
        """Take ``state``; ``announce``: write this tab's record and wake the other tabs;
        ``list_tabs``: show the tab list when it changed."""
        if state != self.state:
            self.since = self.latest_now
        self.state = state
        self.reason = reason
        self.phase = SETTLED
        if state not in (rec.BLOCKED, rec.MOVED):
            self.place_free = False
        commands = [self._show()]
        if announce:
            commands += [self._store_record(), cmd.Publish(self._wake())]
        return commands + (self._show_tabs(self.latest_now) if list_tabs else [])

    def _wrote(self, session_raw, activity_raw):
        """What this tab wrote under the session and activity keys is what it reads next: its
        snapshot follows at once (no storage event tells a tab of its own writes)."""
        if self.snapshot is not None:
            self.snapshot = ev.Snapshot(session_raw, activity_raw, self.snapshot.tab_raws,
                                        self.snapshot.live_ids, self.snapshot.held_slots)

    def _navigate(self, url):
        self.phase = LEAVING
        return [cmd.Navigate(url)]

    def _shows_next(self):
        """Whether this document shows ``next_path`` itself (M11): then no load is needed."""
        return self.in_place and _path_of(self.next_path) in self.app_paths

    def _show_page(self, page, url):
        """Become ``page`` in place (M11), the URL as a load of ``url`` would have it."""
        self.page = page
        self.url_reason = urls.parse_query(_query_of(url)).get("reason") if page == LOGIN else None
        return [cmd.ShowPage(page, url)]

    def _go_next(self, now):
        """Go where the user wanted, as a tab opened to ``next_path`` would: in place when this
        document shows it (the app page then admits this tab here), else by loading it."""
        if not self._shows_next():
            return self._navigate(self.next_path)
        return self._show_page(APP, self.next_path) + self._admit(now)

    def _next_if_not_home(self):
        return None if self.next_path == urls.APP_PATH else self.next_path

    def _login_url(self, reason, next_path):
        return urls.login_url(reason, next_path, self.settings.login_path)

    def _store_memory(self):
        return cmd.Store(cmd.SESSION, rec.TAB_MEMORY_KEY, self.memory.encode())

    def _record(self):
        return rec.TabRecord(self.tab_id, self.state, self.page, self.slot, self.opened,
                             self.last_active, self.since, self.latest_now)

    def _store_record(self):
        return cmd.Store(cmd.LOCAL, rec.tab_key(self.tab_id), self._record().encode())

    def _wake(self):
        return wire.changed(self.tab_id)

    def _read_session(self, snapshot):
        """The decoded session, and commands that repair a corrupt session or activity value."""
        session, repair = snapshots.read_session(snapshot)
        return session, [cmd.Store(cmd.LOCAL, key, None) for key in repair]

    def _show_tabs(self, now):
        views = []
        for record in snapshots.live_records(self.snapshot, self.tab_id):
            if record.tab_id != self.tab_id:
                views.append(cmd.TabView(record.tab_id, record.state, record.page,
                                         record.last_active, False, record.opened))
        if self.tab_id is not None:
            views.append(cmd.TabView(self.tab_id, self.state, self.page, self.last_active, True,
                                     self.opened))
        views.sort(key=lambda view: view.tab_id)
        if views == self.shown_tabs:
            return []
        self.shown_tabs = views
        return [cmd.ShowTabs(views)]

    def _show_clock(self, now):
        if not isinstance(self.session, rec.Session):
            return []
        idle = self._idle_deadline(self.session, self.snapshot)
        absolute = snapshots.absolute_deadline(self.session, self.settings)
        warning = now >= idle - self.settings.warn_before
        clock = cmd.ShowClock(idle, absolute, warning)
        if clock == self.shown_clock:
            return []
        self.shown_clock = clock
        return [clock]


def _outbox(commands):
    """At most one write per storage key and one publish per ``handle()``: the last of each,
    where it stands (rule M9)."""
    last_write = {}
    last_publish = None
    for index in range(len(commands)):
        command = commands[index]
        if type(command) is cmd.Store:
            last_write[(command.area, command.key)] = index
        elif type(command) is cmd.Publish:
            last_publish = index
    kept = []
    for index in range(len(commands)):
        command = commands[index]
        if type(command) is cmd.Store and last_write[(command.area, command.key)] != index:
            continue
        if type(command) is cmd.Publish and index != last_publish:
            continue
        kept.append(command)
    return kept


def _path_of(url):
    return url.split("?", 1)[0].split("#", 1)[0]


def _query_of(here):
    if not isinstance(here, str) or "?" not in here:
        return ""
    return here.split("?", 1)[1]


def username_of(text):
    """The name to sign in as (trimmed), or None when it is not one (``USERNAME_ERROR``).
    ``names.py`` decides, with its own table: ``str.strip`` differs between the runtimes."""
    return names.name_of(text)


# ------------------------------------------------------------------ the tables
IN_SESSION = (rec.ACTIVE, rec.BLOCKED, rec.MOVED)

# Rule M7: what a settled tab does when, on a look, it finds
#                a live session it is not in   its own session over   a place free
ON_LOOK = {
    rec.ACTIVE:     (FOLLOW_END,                 FOLLOW_END,            NOTHING),
    rec.BLOCKED:    (FOLLOW_END,                 FOLLOW_END,            SAY_PLACE_FREE),
    rec.MOVED:      (FOLLOW_END,                 FOLLOW_END,            SAY_PLACE_FREE),
    rec.SIGNED_OUT: (DECIDE_AS_NEXT,             NOTHING,               NOTHING),
    rec.EXPIRED:    (DECIDE_AS_NEXT,             NOTHING,               NOTHING),
}

_S = TabSession
IGNORED = None
EVENTS = (ev.Started, ev.TabLockClaimed, ev.SlotGranted, ev.SlotsBusy, ev.SlotLost, ev.Observed,
          ev.UserActive, ev.UseHereClicked, ev.SignOutClicked, ev.StaySignedInClicked,
          ev.SignInSubmitted, ev.ServerEnded, ev.StorageFailed, ev.PageHidden)


def _row(**handlers):
    """A row of ACCEPTS: the user's actions and page events are ignored unless named."""
    row = {ev.UserActive: IGNORED, ev.UseHereClicked: IGNORED, ev.SignOutClicked: IGNORED,
           ev.StaySignedInClicked: IGNORED, ev.SignInSubmitted: IGNORED, ev.SlotLost: IGNORED,
           ev.Observed: IGNORED, ev.ServerEnded: _S._on_server_ended,
           ev.PageHidden: _S._on_page_hidden,
           ev.StorageFailed: _S._on_storage_failed}
    for name in handlers:
        row[getattr(ev, name)] = handlers[name]
    return row


# Rule M1: what each phase, and once settled each state, accepts. An event a row does not name
# is a UsageError (lock answers never asked for, a second Started); IGNORED is deliberate.
_WAITING = {"Observed": _S._on_observed_while_waiting, "UserActive": _S._on_user_active}
ACCEPTS = {
    NEW: _row(Started=_S._on_started, PageHidden=IGNORED, ServerEnded=IGNORED),  # (Observed removed below)
    CLAIMING: _row(TabLockClaimed=_S._on_tab_lock_claimed, ServerEnded=IGNORED, **_WAITING),
    ADMITTING: _row(SlotGranted=_S._on_slot_granted, SlotsBusy=_S._on_slots_busy, **_WAITING),
    STEALING: _row(SlotGranted=_S._on_slot_granted, SlotsBusy=_S._on_steal_failed, **_WAITING),
    rec.ACTIVE: _row(Observed=_S._on_observed, UserActive=_S._on_user_active,
                     SignOutClicked=_S._on_sign_out, StaySignedInClicked=_S._on_stay_signed_in,
                     SlotLost=_S._on_slot_lost),
    rec.BLOCKED: _row(Observed=_S._on_observed, UserActive=_S._on_user_active,
                      UseHereClicked=_S._on_use_here, SignOutClicked=_S._on_sign_out),
    rec.MOVED: _row(Observed=_S._on_observed, UserActive=_S._on_user_active,
                    UseHereClicked=_S._on_use_here, SignOutClicked=_S._on_sign_out),
    # (In place a slot asked for before the session ended can still be answered: given back.)
    rec.SIGNED_OUT: _row(Observed=_S._on_observed, UserActive=_S._on_user_active,
                         SignInSubmitted=_S._on_sign_in, ServerEnded=IGNORED,
                         SlotGranted=_S._on_late_slot, SlotsBusy=_S._on_late_busy),
    rec.EXPIRED: _row(Observed=_S._on_observed, UserActive=_S._on_user_active,
                      SignInSubmitted=_S._on_sign_in, ServerEnded=IGNORED,
                      SlotGranted=_S._on_late_slot, SlotsBusy=_S._on_late_busy),
    # A page on its way out (or failed) decides nothing more: late lock answers are dropped.
    LEAVING: _row(TabLockClaimed=IGNORED, SlotGranted=IGNORED, SlotsBusy=IGNORED, ServerEnded=IGNORED),
}
# Before Started nothing has been read, so a look is the shell's bug; a click is not (it can
# come before the page has decided) and is ignored.
del ACCEPTS[NEW][ev.Observed]
