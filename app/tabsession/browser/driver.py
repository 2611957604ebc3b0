"""The driver: feeds browser happenings to the core and carries out its commands.

It owns the only timer, reads the clock (``time.time()``) and randomness, and turns lock,
storage, channel and page events into core events. It decides nothing itself.
"""

import time

from tabsession.browser import storage
from tabsession.browser.channel import Channel
from tabsession.browser.interop import RUNTIME, callback, document, is_none, listen, random_id, window
from tabsession.browser.locks import WebLocks, available as locks_available
from tabsession.core import commands as cmd
from tabsession.core import events as ev
from tabsession.core import records
from tabsession.core.machine import TabSession, slot_lock_name, tab_lock_name
from tabsession.core.settings import Settings
from tabsession.core.wakeups import WakeUps

# Re-check at least this often (seconds) even when no deadline is near: the tab list follows
# crashed tabs through the lock manager, which sends no event.
MAX_TICK_SECONDS = 1.0
# Activity events are forwarded at most this often; the core throttles what it writes.
ACTIVITY_EVENT_SECONDS = 0.25
ACTIVITY_EVENTS = ("pointerdown", "pointermove", "keydown", "wheel", "scroll", "touchstart", "focus")


def read_settings():
    """The settings serve.py embedded in the page, or defaults (problems are reported)."""
    element = document.getElementById("tabsession-settings")
    raw = None if is_none(element) else element.textContent
    return Settings.from_json(raw if isinstance(raw, str) else "{}")


class Driver:
    def __init__(self, page, settings, view):
        self.page = page
        self.settings = settings
        self.view = view
        self.machine = TabSession(settings)
        self.web_locks = None
        self.channel = None
        self.wakeups = WakeUps()
        self.queried_raws = {}
        self.failed = False
        self.slot_order = []
        self.held_slot = None
        self.started = False
        self.hidden = False  # pagehide came: this document decides nothing more
        self.timer = None
        self.last_activity_event = 0.0
        self._tick_callback = callback(self._on_timer)

    # ----------------------------------------------------------------- start-up
    def start(self):
        root = document.documentElement
        root.setAttribute("data-runtime", RUNTIME)
        problem = storage.problem()
        if problem is not None:
            root.setAttribute("data-coordination", "none")
            self.feed(ev.StorageFailed(problem))
            return
        if locks_available():
            self.web_locks = WebLocks(self._on_claimed, self._on_acquired, self._on_lost,
                                      self._on_held_names)
        self.channel = Channel(self.wake)
        root.setAttribute("data-coordination",
                          ("web-locks" if self.web_locks else "storage") + "+" + self.channel.mechanism)
        self._listen()
        if self.web_locks is not None:
            self.wakeups.query_started()
            self.web_locks.query()  # start once the live tabs are known
        else:
            self._begin()

    def _begin(self):
        self.started = True
        here = str(window.location.pathname) + str(window.location.search)
        locks = ev.WEB_LOCKS if self.web_locks is not None else ev.NO_LOCKS
        try:
            memory_raw = storage.read_memory()
            snapshot = storage.read_snapshot(self.wakeups.live_ids, self.wakeups.held_slots)
        except storage.StorageError as error:
            self._storage_failed(str(error.args[0]))
            return
        self.feed(ev.Started(time.time(), self.page, here, memory_raw, snapshot, random_id(), locks))
        self._arm_timer()

    def _listen(self):
        for name in ACTIVITY_EVENTS:
            listen("window", name, self._on_activity, True)
        listen("window", "pagehide", self._on_pagehide)
        listen("window", "pageshow", self._on_pageshow)
        listen("document", "visibilitychange", self._on_visibility)
        listen("window", "focus", lambda event: self.wake(True))

    # ------------------------------------------------------------ user actions
    def use_here(self):
        snapshot = self._snapshot()
        if snapshot is not None:
            self.feed(ev.UseHereClicked(time.time(), snapshot))

    def sign_out(self):
        self.feed(ev.SignOutClicked(time.time()))

    def stay_signed_in(self):
        self.feed(ev.StaySignedInClicked(time.time()))

    def sign_in(self, username):
        snapshot = self._snapshot()
        if snapshot is not None:
            self.feed(ev.SignInSubmitted(time.time(), username, random_id(), snapshot))

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
        snapshot = self._snapshot()
        if snapshot is None:
            return
        wakeups = self.wakeups
        if wakeups.worth_feeding(snapshot, self._machine_key(), periodic):
            self.feed(ev.Observed(time.time(), snapshot))
            wakeups.fed(snapshot, self._machine_key())
            self._arm_timer()
        if self.web_locks is not None and not self.failed and not self.machine.leaving \
                and wakeups.should_query(snapshot.tab_raws, periodic):
            wakeups.query_started()
            self.queried_raws = snapshot.tab_raws
            self.web_locks.query()

    def _machine_key(self):
        return self.machine.step

    def _snapshot(self):
        """What storage holds now, or None once reading it failed (the error state follows)."""
        if self.failed:
            return None
        try:
            return storage.read_snapshot(self.wakeups.live_ids, self.wakeups.held_slots)
        except storage.StorageError as error:
            self._storage_failed(str(error.args[0]))
            return None

    def _storage_failed(self, name):
        self.feed(ev.StorageFailed(name))
        self.failed = True

    def _on_timer(self):
        self.timer = None
        self.view.tick(time.time())
        self.wake(True)
        self._arm_timer()

    def _arm_timer(self):
        if self.failed:
            return
        delay = MAX_TICK_SECONDS
        deadline = self.machine.next_deadline()
        if deadline is not None:
            delay = max(0.05, min(delay, deadline - time.time()))
        if self.timer is not None:
            window.clearTimeout(self.timer)
        self.timer = window.setTimeout(self._tick_callback, int(delay * 1000))

    # ------------------------------------------------------------ lock answers
    def _on_claimed(self, claimed):
        self.feed(ev.TabLockClaimed(claimed))

    def _on_acquired(self, index):
        if 0 <= index < len(self.slot_order):
            self.held_slot = self.slot_order[index]
            self.feed(ev.SlotGranted(time.time(), self.held_slot))
        else:
            self.feed(ev.SlotsBusy(time.time()))

    def _on_lost(self, name):
        for slot in self.settings.slots():
            if slot_lock_name(slot) == name and slot == self.held_slot:
                self.held_slot = None
                self.feed(ev.SlotLost(time.time(), slot))

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

    # ------------------------------------------------------------- page events
    def _on_activity(self, event):
        now = time.time()
        if now - self.last_activity_event < ACTIVITY_EVENT_SECONDS:
            return
        self.last_activity_event = now
        if self.started:
            self.feed(ev.UserActive(now))

    def _on_visibility(self, event):
        # Only on becoming visible (time may have passed while hidden). A page becomes hidden on
        # its way out too (reload, navigation), before pagehide: a look then, now that looks are
        # immediate, could end a session whose deadline passed and let the reload lose the
        # reason (tests/e2e/test_time.py). The next page decides anyway.
        if str(document.visibilityState) == "visible":
            self.wake(True)

    def _on_pagehide(self, event):
        # Unloading, or going into the back/forward cache, whose restore reloads (_on_pageshow).
        # A look in between (visibilitychange on restore comes before the reload) would act on
        # stale memory and make the reloaded page lose the reason (test_hardening.py, bfcache).
        self.hidden = True
        self.view.leaving()
        if self.started:
            self.feed(ev.PageHidden(time.time()))

    def _on_pageshow(self, event):
        if event.persisted:
            # Restored from the back/forward cache: the page's decision is stale. Decide again
            # from scratch; the view hid the protected content when the page was hidden.
            window.location.reload()

    # -------------------------------------------------------------- commands
    def _perform(self, command):
        kind = type(command)
        if kind is cmd.Store:
            error = storage.write(command.area, command.key, command.value)
            if error is not None:
                self._storage_failed(error)
        elif kind is cmd.Publish:
            self.channel.publish(command.message)
        elif kind is cmd.Show:
            self.view.show(command)
        elif kind is cmd.ShowTabs:
            self.view.show_tabs(command.tabs)
        elif kind is cmd.ShowClock:
            self.view.show_clock(command)
        elif kind is cmd.ShowLoginError:
            self.view.show_login_error(command.message)
        elif kind is cmd.Navigate:
            self.view.leaving()
            window.location.replace(command.url)
        elif kind is cmd.ReplaceUrl:
            window.history.replaceState(None, "", command.url)
        elif kind is cmd.ClaimTabLock:
            self.web_locks.claim(tab_lock_name(command.tab_id))
        elif kind is cmd.HoldTabLock:
            self.web_locks.hold(tab_lock_name(command.tab_id))
        elif kind is cmd.AcquireSlot:
            self.slot_order = list(command.order)
            self.web_locks.acquire([slot_lock_name(slot) for slot in command.order], False)
        elif kind is cmd.StealSlot:
            self.slot_order = [command.slot]
            self.web_locks.acquire([slot_lock_name(command.slot)], True)
        elif kind is cmd.ReleaseSlot:
            if self.web_locks is not None and command.slot == self.held_slot:
                self.web_locks.release(slot_lock_name(command.slot))
                self.held_slot = None
        else:
            raise TypeError("unknown command " + repr(command))


def start(page, view, settings=None):
    """Build and start the driver for ``page`` ("app" or "login") showing through ``view``."""
    driver = Driver(page, settings or read_settings(), view)
    view.bind(driver)
    driver.start()
    return driver
