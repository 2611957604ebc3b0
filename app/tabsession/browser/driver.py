"""The driver: feeds browser happenings to the core and carries out its commands.

It decides nothing itself, and it touches no browser object: everything it reads or does goes
through the adapters it is given (``compose.py`` builds the browser's; tests/world gives fakes),
so the same loop runs in a page and in the simulated browser of tests/world:

- ``storage``: ``problem()`` (None, or why storage is unusable), ``read_memory()`` (this tab's
  sessionStorage record), ``read_snapshot(live_ids, held_slots)``, both raising
  ``StorageError(name)`` when the read fails, and ``write(area, key, value)`` (None, or the
  error's name);
- ``locks``: Web Locks (locks.py) or leases in storage (leases.py), one face: ``mechanism``
  (its name), ``connect(on_claimed, on_acquired, on_lost, on_held_names)``, then ``claim(name)``,
  ``hold(name)``, ``acquire(names, steal)``, ``release(name)``, ``query()``, which answer
  through those callbacks later; ``check()`` on every look (leases renew and notice theft
  there), ``release_all()`` when the page hides, and ``failed`` (a storage error, or None);
- ``channel``: ``mechanism`` (its name), ``connect(on_wake, on_dropped)``, ``publish(text)``;
- ``clock``: ``now()`` in epoch seconds; ``timer``: one timer, ``set(delay_seconds, callback)``
  (replacing any pending one) and ``clear()``; ``ids``: ``random_id()``;
- ``location``: ``here()`` (path and query), ``navigate(url)`` (replacing the history entry),
  ``replace_url(url)`` (no navigation), ``reload()``;
- ``page_events``: ``listen(kind, function)`` for "activity", "pagehide", "visible" (the page
  became visible), "focus" (all called without arguments) and "pageshow" (called with
  ``persisted``);
- ``view``: what the page shows (api.py's ``_DriverView``): ``bind``, ``show_runtime``,
  ``show_coordination``, ``show``, ``show_tabs``, ``show_elsewhere`` (the user's active tabs
  in other profiles, when the server says), ``show_clock``, ``show_login_error``,
  ``show_dropped``, ``show_page`` (the tab is now the other page, in place), ``leaving``,
  ``tick``.

The driver owns the only timer, and keeps a few counters (``looks``, ``feeds``, ``queries``)
that tests and the curious can read.
"""

from tabsession.core import commands as cmd
from tabsession.core import events as ev
from tabsession.core import records
from tabsession.core.machine import TabSession, slot_lock_name, tab_lock_name, username_of
from tabsession.browser.server import decode_answer
from tabsession.core.wakeups import WakeUps

# Re-check at least this often (seconds) even when no deadline is near: the tab list follows
# crashed tabs through the lock manager, which sends no event.
MAX_TICK_SECONDS = 1.0
# Activity events are forwarded at most this often; the core throttles what it writes.
ACTIVITY_EVENT_SECONDS = 0.25


class StorageError(Exception):
    """Storage threw; ``args[0]`` is the error's name (``SecurityError``, ...)."""


class Driver:
    def __init__(self, page, settings, view, storage, locks, channel, clock, timer, ids, location,
                 page_events, runtime, server=None, http=None, in_place=False):
        self.page = page  # "app" or "login": where the tab is now (in place, it changes)
        # The document shows both pages: the core moves between them without a load.
        self.in_place = in_place
        self.settings = settings
        self.view = view
        self.storage = storage
        self.locks = locks
        self.channel = channel
        self.clock = clock
        self.timer = timer
        self.ids = ids
        self.location = location
        self.page_events = page_events
        self.runtime = runtime
        # The authority, when it is a server: the ``locks`` adapter wrapping the profile's own
        # (browser/server.py), which also signs in and out. None: the browser decides.
        self.server = server
        self.http = http  # requests to the page's server (``request``), whoever decides
        self.machine = TabSession(settings)
        self.wakeups = WakeUps()
        self.queried_raws = {}
        self.failed = False
        self.slot_order = []
        self.held_slot = None
        self.started = False
        self.hidden = False  # pagehide came: this document decides nothing more
        self.last_activity_event = 0.0
        self.looks = 0  # storage reads after a wake-up
        self.feeds = 0  # Observed events fed
        self.queries = 0  # lock-manager queries after a look

    @property
    def coordination(self):
        """How the tabs coordinate: "web-locks+broadcast-channel", "storage+storage-events", ..."""
        return self.locks.mechanism + "+" + self.channel.mechanism

    # ----------------------------------------------------------------- start-up
    def start(self):
        self.view.show_runtime(self.runtime)
        problem = self.storage.problem()
        if problem is not None:
            self.view.show_coordination("none")
            self.feed(ev.StorageFailed(problem))
            return
        self.locks.connect(self._on_claimed, self._on_acquired, self._on_lost, self._on_held_names)
        if self.server is not None:
            self.server.connect_server(self._on_server_ended, self._on_server_unavailable,
                                       self.view.show_elsewhere)
        self.channel.connect(self.wake, self.view.show_dropped)
        self.view.show_coordination(self.coordination)
        self._listen()
        self.wakeups.query_started()
        self.locks.query()  # start once the live tabs are known

    def _begin(self):
        self.started = True
        try:
            memory_raw = self.storage.read_memory()
            snapshot = self._clocked(self.storage.read_snapshot(self.wakeups.live_ids, self.wakeups.held_slots))
        except StorageError as error:
            self._storage_failed(str(error.args[0]))
            return
        # The first lock query asked the server too: a page on an origin that never recorded a
        # session follows the profile's session on the server at once, if it has one (S6),
        # rather than showing the sign-in form until a second answer comes.
        server_user = None
        if self.server is not None and self._never_recorded(snapshot):
            server_user = self.server.session_user
        self.feed(ev.Started(self.clock.now(), self.page, self.location.here(), memory_raw, snapshot,
                             self.ids.random_id(), self.in_place, server_user,
                             self.ids.random_id() if server_user is not None else None))
        self._arm_timer()

    def _never_recorded(self, snapshot):
        """No session was ever recorded on this origin (this profile may have signed in through
        another origin of the host, S6). Not so after a sign-out here, whose request may have
        failed, or with a corrupt record (rule 10: no session): the page then stays signed out,
        whatever the server says."""
        return snapshot.session_raw is None and self.storage.read_local(records.RECORDED_KEY) is None

    def _listen(self):
        events = self.page_events
        events.listen("activity", self._on_activity)
        events.listen("pagehide", self._on_pagehide)
        events.listen("pageshow", self._on_pageshow)
        # Only on becoming visible (time may have passed while hidden). A page becomes hidden on
        # its way out too (reload, navigation), before pagehide: a look then, now that looks are
        # immediate, could end a session whose deadline passed and let the reload lose the
        # reason (tests/e2e/test_time.py). The next page decides anyway.
        events.listen("visible", lambda: self.wake(True))
        events.listen("focus", lambda: self.wake(True))

    # ------------------------------------------------------------ user actions
    def use_here(self):
        snapshot = self._snapshot()
        if snapshot is None:
            return
        if self.server is None:
            self.feed(ev.UseHereClicked(self.clock.now(), snapshot))
            return
        self.server.use_here = True  # the claim this click makes may displace another profile
        try:
            self.feed(ev.UseHereClicked(self.clock.now(), snapshot))
        finally:
            self.server.use_here = False

    def sign_out(self):
        if self.server is not None and self.machine.session is not None:
            self.server.sign_out()
        self.feed(ev.SignOutClicked(self.clock.now()))

    def stay_signed_in(self):
        self.feed(ev.StaySignedInClicked(self.clock.now()))

    def sign_in(self, username):
        if self.server is None or username_of(username) is None:
            self._signed_in(username)  # (a name that is none: the core says why, no request)
            return
        # The server signs the profile in first; storage is read once it has answered, so a
        # sign-in made meanwhile in another tab is seen (rule 2). Its name is the server's.
        self.server.sign_in(username, self._server_signed_in)

    def _server_signed_in(self, user, message):
        if user is not None:
            self._signed_in(user)
        elif self.started and not self.failed:
            self.view.show_login_error(message)

    def _signed_in(self, username):
        snapshot = self._snapshot()
        if snapshot is not None:
            self.feed(ev.SignInSubmitted(self.clock.now(), username, self.ids.random_id(), snapshot))

    # --------------------------------------------------------------- the loop
    def feed(self, event):
        if self.failed:
            return
        for command in self.machine.handle(event):
            self._perform(command)
            if self.failed:
                return

    def wake(self, periodic=False):
        """Something may have changed: look again (rules in core/wakeups.py). ``periodic``:
        the timer's tick, which also asks the lock manager (crashed tabs write nothing)."""
        if not self.started or self.failed or self.hidden or self.machine.leaving:
            return
        if self.wakeups.woke(periodic):
            self._look(periodic)

    def _look(self, periodic):
        self.locks.check()
        if self.locks.failed is not None:
            self._storage_failed(self.locks.failed)
            return
        if self.machine.leaving:
            return  # a lock taken from this tab (check) made it leave
        snapshot = self._snapshot()
        if snapshot is None:
            return
        self.looks += 1
        wakeups = self.wakeups
        if wakeups.worth_feeding(snapshot, self.machine.step, periodic):
            self.feeds += 1
            self.feed(ev.Observed(self.clock.now(), snapshot))
            wakeups.fed(snapshot, self.machine.step)
            self._arm_timer()
        if not self.failed and not self.machine.leaving \
                and wakeups.should_query(snapshot.tab_raws, periodic):
            wakeups.query_started()
            self.queries += 1
            self.queried_raws = snapshot.tab_raws
            self.locks.query()

    def _snapshot(self):
        """What storage holds now, or None once reading it failed (the error state follows)."""
        if self.failed:
            return None
        try:
            return self._clocked(self.storage.read_snapshot(self.wakeups.live_ids, self.wakeups.held_slots))
        except StorageError as error:
            self._storage_failed(str(error.args[0]))
            return None

    def _clocked(self, snapshot):
        """``snapshot``, once the clock has seen the latest time in it (core/clock.py): time never
        goes back for the session. (A clock without ``saw``, the server's, is the judge itself.)"""
        saw = getattr(self.clock, "saw", None)
        if saw is not None:
            saw(records.latest_time(snapshot))
        return snapshot

    def _storage_failed(self, name):
        self.feed(ev.StorageFailed(name))
        self.failed = True

    def _on_timer(self):
        self.view.tick(self.clock.now())
        self.wake(True)
        self._arm_timer()

    def _arm_timer(self):
        if self.failed:
            return
        delay = MAX_TICK_SECONDS
        deadline = self.machine.next_deadline()
        if deadline is not None:
            delay = max(0.05, min(delay, deadline - self.clock.now()))
        self.timer.set(delay, self._on_timer)

    # ------------------------------------------------------------ lock answers
    def _on_claimed(self, claimed):
        self.feed(ev.TabLockClaimed(claimed))

    def _on_acquired(self, index):
        if 0 <= index < len(self.slot_order):
            self.held_slot = self.slot_order[index]
            self.feed(ev.SlotGranted(self.clock.now(), self.held_slot))
        else:
            self.feed(ev.SlotsBusy(self.clock.now()))

    def _on_lost(self, name):
        for slot in self.settings.slots():
            if slot_lock_name(slot) == name and slot == self.held_slot:
                self.held_slot = None
                self.feed(ev.SlotLost(self.clock.now(), slot))

    def _on_held_names(self, names):
        live_ids = held_slots = None
        if names is not None:
            live_ids = [tab_id for tab_id in (records.tab_id_from_key(name) for name in names)
                        if tab_id is not None]
            held_slots = [slot for slot in self.settings.slots() if slot_lock_name(slot) in names]
        periodic = self.wakeups.answered(live_ids, self.queried_raws, held_slots)
        if not self.started:
            self._begin()
            return
        if not self.failed and not self.hidden and not self.machine.leaving:
            self._look(periodic)  # one look covers every wake-up that came during the query

    # ------------------------------------------------------------ the server
    def request(self, method, path, body, done):
        """A request to the page's server, as this tab when the server is the authority."""
        if self.server is not None:
            self.server.request(method, path, body, done)
        else:
            self.http.send(method, path, body, None, False,
                           lambda status, text: done(status, decode_answer(text)))

    def _on_server_ended(self, reason):
        if self.started and not self.hidden:
            self.feed(ev.ServerEnded(self.clock.now(), reason))

    def _on_server_unavailable(self):
        if self.started and not self.hidden:
            self._storage_failed(records.SERVER_UNAVAILABLE)

    # ------------------------------------------------------------- page events
    def _on_activity(self):
        now = self.clock.now()
        if now - self.last_activity_event < ACTIVITY_EVENT_SECONDS:
            return
        self.last_activity_event = now
        if self.started:
            self.feed(ev.UserActive(now))

    def _on_pagehide(self):
        # Unloading, or going into the back/forward cache, whose restore reloads (_on_pageshow).
        # A look in between (visibilitychange on restore comes before the reload) would act on
        # stale memory and make the reloaded page lose the reason (tests/e2e/test_hardening_bfcache.py).
        self.hidden = True
        self.view.leaving()
        if self.started:
            self.feed(ev.PageHidden(self.clock.now()))
        self.locks.release_all()

    def _on_pageshow(self, persisted):
        if persisted:
            # Restored from the back/forward cache: the page's decision is stale. Decide again
            # from scratch; the view hid the protected content when the page was hidden.
            self.location.reload()

    # -------------------------------------------------------------- commands
    def _perform(self, command):
        kind = type(command)
        if kind is cmd.Store:
            error = self.storage.write(command.area, command.key, command.value)
            if error is not None:
                self._storage_failed(error)
            elif self.server is not None and command.key == records.SESSION_KEY and command.value is not None:
                self.storage.write(cmd.LOCAL, records.RECORDED_KEY, "1")
            elif self.server is not None and command.key == records.ACTIVITY_KEY \
                    and command.value is not None:
                self.server.touch()  # the server keeps the idle deadline by its own clock
        elif kind is cmd.Publish:
            self.channel.publish(command.message)
        elif kind is cmd.Show:
            if self.server is not None and command.state == records.ACTIVE and self.held_slot is None:
                self.server.ensure_lease()  # no limit, so no slot: the server still leases a place
            self.view.show(command)
        elif kind is cmd.ShowTabs:
            self.view.show_tabs(command.tabs)
        elif kind is cmd.ShowClock:
            self.view.show_clock(command)
        elif kind is cmd.ShowLoginError:
            self.view.show_login_error(command.message)
        elif kind is cmd.Navigate:
            self.view.leaving()
            self.location.navigate(command.url)
        elif kind is cmd.ReplaceUrl:
            self.location.replace_url(command.url)
        elif kind is cmd.ShowPage:
            self.page = command.page
            self.location.replace_url(command.url)
            self.view.show_page(command.page)
        elif kind is cmd.ClaimTabLock:
            self.locks.claim(tab_lock_name(command.tab_id))
        elif kind is cmd.HoldTabLock:
            self.locks.hold(tab_lock_name(command.tab_id))
        elif kind is cmd.AcquireSlot:
            self.slot_order = list(command.order)
            self.locks.acquire([slot_lock_name(slot) for slot in command.order], False)
        elif kind is cmd.StealSlot:
            self.slot_order = [command.slot]
            self.locks.acquire([slot_lock_name(command.slot)], True)
        elif kind is cmd.ReleaseSlot:
            if command.slot == self.held_slot:
                self.locks.release(slot_lock_name(command.slot))
                self.held_slot = None
        else:
            raise TypeError("unknown command " + repr(command))
