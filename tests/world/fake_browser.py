"""A fake browser profile for the core: N tabs, shared localStorage, Web Locks, a channel, a clock.

Each ``FakeTab`` drives ``TabSession`` the way the real browser driver does: it feeds events,
carries out the returned commands in order, and on every wake-up (storage event, channel
message, timer tick) it looks at storage and feeds ``Observed(now, snapshot)`` following the
driver's rules (``core/wakeups.py``): the live tab ids in a snapshot are those of the tab's last
lock-manager query, and a query is itself a task, asked for only when those rules say so. What a browser does later (a lock
result, a storage event in another tab, a message, a navigation) is a *task* in one queue;
``World.settle()`` runs the queue first-in first-out, or in a shuffled order given a
``random.Random``, to try interleavings. A task belongs to one page load: when the tab
navigates, reloads, closes or crashes, its old page's tasks are dropped, as a browser drops the
callbacks of a document that is gone.

What is faked, and how faithfully:

- localStorage: one dict; a write that changes a value fires a storage event in every *other* tab.
- sessionStorage: one dict per tab; duplicating a tab copies it (``window.open``, "Duplicate tab").
- Web Locks: exclusive named locks held by a page load; ``ifAvailable`` requests, waiting requests
  (``ClaimTabLock``, ``HoldTabLock``), ``steal`` (the old holder is told ``SlotLost``), release when the page goes
  away (navigation, reload, close, crash), and ``query`` of held names (``Snapshot.live_ids``).
- BroadcastChannel: a message reaches every other tab; undecodable messages are dropped.
- Time: ``World.now`` moves only through ``advance``. Then, by default, every tab's timer fires
  once (``timers=EVERY_TAB``, like the browser driver, which ticks at least once a second); with
  ``timers=DEADLINES`` only the tabs whose machine asked for a wake-up by now (``next_deadline()``)
  are woken, to test what the core itself promises.
"""

import itertools

from tabsession.core import commands as cmd
from tabsession.core import events as ev
from tabsession.core import records as rec
from tabsession.core import urls
from tabsession.core import wire
from tabsession.core.machine import TabSession, slot_lock_name, tab_lock_name
from tabsession.core.settings import DEFAULTS, Settings
from tabsession.core.wakeups import WakeUps

T0 = 1700000000.0
TAB_LOCK_PREFIX = tab_lock_name("")
SLOT_LOCK_PREFIX = rec.PREFIX + "slot:"
MAX_TASKS = 20000
EVERY_TAB = "every-tab"
DEADLINES = "deadlines"


class WorldError(AssertionError):
    """The simulation itself went wrong (a redirect loop, a runaway queue)."""


class LockManager:
    """Exclusive named locks, held by page loads (``Page``)."""

    def __init__(self):
        self.holders = {}
        self.waiting = {}

    def holder(self, name):
        return self.holders.get(name)

    def try_acquire(self, name, page):
        if name in self.holders:
            return False
        self.holders[name] = page
        return True

    def acquire_or_wait(self, name, page):
        if not self.try_acquire(name, page):
            self.waiting.setdefault(name, []).append(page)

    def steal(self, name, page):
        """Give ``name`` to ``page``; returns the page that held it (or None)."""
        previous = self.holders.get(name)
        self.holders[name] = page
        return previous

    def release(self, name, page):
        if self.holders.get(name) is page:
            del self.holders[name]
            queue = [waiter for waiter in self.waiting.pop(name, []) if waiter.alive]
            if queue:
                self.holders[name] = queue.pop(0)
                if queue:
                    self.waiting[name] = queue

    def release_all(self, page):
        for name in [name for name, holder in self.holders.items() if holder is page]:
            self.release(name, page)
        for name in list(self.waiting):
            self.waiting[name] = [waiter for waiter in self.waiting[name] if waiter is not page]

    def held_by(self, page):
        return sorted(name for name, holder in self.holders.items() if holder is page)

    def query(self):
        return sorted(self.holders)


class Page:
    """One page load in a tab: its own machine, its own locks, its own pending tasks."""

    def __init__(self, tab, path):
        self.tab = tab
        self.world = tab.world
        self.path = path
        self.alive = True
        self.machine = TabSession(self.world.settings)
        self.wakeups = WakeUps()
        self.looks = 0  # storage reads after a wake-up
        self.feeds = 0  # Observed events fed
        self.queries = 0  # lock-manager queries
        self.state = rec.BOOTING
        self.reason = None
        self.shown_tab_id = None
        self.user = None
        self.clock = None
        self.tabs = None
        self.login_error = None

    @property
    def kind(self):
        return "login" if self.path.split("?", 1)[0] == urls.LOGIN_PATH else "app"

    def start(self):
        tab = self.tab
        # The driver asks the lock manager once before it starts the machine.
        self.wakeups.answered(self.world.live_ids(), {}, self.world.held_slots())
        self.feed(ev.Started(self.world.now, self.kind, self.path,
                             tab.session_storage.get(rec.TAB_MEMORY_KEY),
                             self.world.snapshot(self.wakeups.live_ids, self.wakeups.held_slots),
                             self.world.new_id(), self.world.lock_mode))

    def feed(self, event):
        if not self.alive:
            return
        for command in self.machine.handle(event):
            if not self.alive:
                return
            self.carry_out(command)

    def wake(self, periodic=False):
        """A storage event or message (``periodic``: the timer tick, focus, visibility)."""
        if not self.alive or self.machine.leaving:
            return
        if self.wakeups.woke(periodic):
            self.look(periodic)

    def look(self, periodic):
        world = self.world
        wakeups = self.wakeups
        self.looks += 1
        snapshot = world.snapshot(wakeups.live_ids, wakeups.held_slots)
        if wakeups.worth_feeding(snapshot, self._machine_key(), periodic):
            self.feeds += 1
            self.feed(ev.Observed(world.now, snapshot))
            wakeups.fed(snapshot, self._machine_key())
        if world.lock_mode == ev.WEB_LOCKS and self.alive and not self.machine.leaving \
                and wakeups.should_query(snapshot.tab_raws, periodic):
            wakeups.query_started()
            self.queries += 1
            raws = snapshot.tab_raws
            self.later(lambda: self.answer(raws))

    def answer(self, raws):
        periodic = self.wakeups.answered(self.world.live_ids(), raws, self.world.held_slots())
        if not self.machine.leaving:
            self.look(periodic)

    def _machine_key(self):
        return self.machine.step

    def later(self, action):
        self.world.post(self, action)

    # ------------------------------------------------------------- commands
    def carry_out(self, command):
        world = self.world
        locks = world.locks
        kind = type(command)
        if kind is cmd.Store:
            if command.area == cmd.LOCAL:
                world.write_local(command.key, command.value, self)
            else:
                self.tab.write_session(command.key, command.value)
        elif kind is cmd.Publish:
            world.publish(command.message, self)
        elif kind is cmd.ClaimTabLock:
            name = tab_lock_name(command.tab_id)
            # One request that takes the lock when it is free and keeps it (like the driver's).
            self.later(lambda: self.feed(ev.TabLockClaimed(locks.try_acquire(name, self))))
        elif kind is cmd.HoldTabLock:
            # A lock request is answered later, like every Web Locks call.
            self.later(lambda: locks.acquire_or_wait(tab_lock_name(command.tab_id), self))
        elif kind is cmd.AcquireSlot:
            self.later(lambda: self._acquire(list(command.order)))
        elif kind is cmd.StealSlot:
            self.later(lambda: self._steal(command.slot))
        elif kind is cmd.ReleaseSlot:
            locks.release(slot_lock_name(command.slot), self)
        elif kind is cmd.Show:
            self.state, self.reason, self.shown_tab_id, self.user, self.place_free = command.values()
        elif kind is cmd.ShowTabs:
            self.tabs = list(command.tabs)
        elif kind is cmd.ShowClock:
            self.clock = command
        elif kind is cmd.ShowLoginError:
            self.login_error = command.message
        elif kind is cmd.ReplaceUrl:
            self.path = command.url
        elif kind is cmd.Navigate:
            self.later(lambda: self.tab.follow(command.url))
        else:
            raise WorldError("unknown command " + repr(command))

    def _acquire(self, order):
        for slot in order:
            if self.world.locks.try_acquire(slot_lock_name(slot), self):
                self.feed(ev.SlotGranted(self.world.now, slot))
                return
        self.feed(ev.SlotsBusy(self.world.now))

    def _steal(self, slot):
        previous = self.world.locks.steal(slot_lock_name(slot), self)
        if previous is not None and previous is not self:
            previous.later(lambda: previous.feed(ev.SlotLost(self.world.now, slot)))
        self.feed(ev.SlotGranted(self.world.now, slot))

    def unload(self):
        self.alive = False
        self.world.locks.release_all(self)


class FakeTab:
    """A browser tab: a sessionStorage that outlives its page loads, and the current page."""

    def __init__(self, world, name, session_storage):
        self.world = world
        self.name = name
        self.session_storage = session_storage
        self.page = None
        self.open = True
        self.navigations = 0

    def __repr__(self):
        page = self.page
        return "<tab %s %s %s %s>" % (self.name, page.path, page.state, page.machine.tab_id)

    # What a test reads, as the page shows it.
    @property
    def state(self):
        return self.page.state

    @property
    def reason(self):
        return self.page.reason

    @property
    def path(self):
        return self.page.path

    @property
    def tab_id(self):
        return self.page.shown_tab_id

    @property
    def machine(self):
        return self.page.machine

    def write_session(self, key, value):
        if value is None:
            self.session_storage.pop(key, None)
        else:
            self.session_storage[key] = value

    def load(self, path):
        """A new document in this tab: the old one goes (its locks with it), the new one starts."""
        if self.page is not None:
            self.page.unload()
        self.page = Page(self, path)
        self.page.start()

    def follow(self, url):
        """The page asked to navigate: pagehide, then the new document."""
        self.navigations += 1
        if self.navigations > 50:
            raise WorldError("redirect loop in " + repr(self))
        self.page.feed(ev.PageHidden(self.world.now))
        self.load(url)


class World:
    def __init__(self, timers=EVERY_TAB, lock_mode=ev.WEB_LOCKS, **settings):
        """``lock_mode=ev.NO_LOCKS`` simulates a browser without Web Locks (insecure context)."""
        self.timers = timers
        self.lock_mode = lock_mode
        self.frozen = set()
        values = dict(DEFAULTS)
        values.update(settings)
        self.settings = Settings(**values)
        self.now = T0
        self.local = {}
        self.locks = LockManager()
        self.tabs = []
        self.tasks = []
        self.rng = None
        self._ids = itertools.count(1)
        self._names = itertools.count(1)

    # ------------------------------------------------------------ plumbing
    def new_id(self):
        return "%032x" % next(self._ids)

    def post(self, page, action):
        self.tasks.append((page, action))

    def settle(self, rng=None):
        """Run every pending task (FIFO, or shuffled with ``rng``) until nothing is left."""
        done = 0
        while True:
            runnable = [index for index, (page, _) in enumerate(self.tasks)
                        if page.tab not in self.frozen]
            if not runnable:
                return  # a frozen tab's tasks wait until it thaws
            done += 1
            if done > MAX_TASKS:
                raise WorldError("the tabs never settle")
            index = runnable[rng.randrange(len(runnable))] if rng is not None else runnable[0]
            page, action = self.tasks.pop(index)
            if page.alive:
                action()

    def run_until(self, done):
        """Run pending tasks in order until ``done()`` holds (a moment in the middle of a flow)."""
        while not done():
            if not self.tasks:
                raise WorldError("the moment never came")
            page, action = self.tasks.pop(0)
            if page.alive:
                action()

    def live_ids(self):
        """What a lock-manager query answers now: the ids of the tabs whose lock is held."""
        if self.lock_mode != ev.WEB_LOCKS:
            return None  # nothing tells a tab which others are alive
        return [name[len(TAB_LOCK_PREFIX):] for name in self.locks.query()
                if name.startswith(TAB_LOCK_PREFIX)]

    def held_slots(self):
        """The slots whose lock a lock-manager query finds held now."""
        if self.lock_mode != ev.WEB_LOCKS:
            return None
        return [slot for slot in self.settings.slots() if self.locks.holder(slot_lock_name(slot)) is not None]

    def snapshot(self, live_ids=None, held_slots=None):
        """Storage now, with ``live_ids`` and ``held_slots`` as a tab last heard them (default:
        the truth now)."""
        tab_raws = {}
        for key, value in self.local.items():
            tab_id = rec.tab_id_from_key(key)
            if tab_id is not None:
                tab_raws[tab_id] = value
        live = self.live_ids() if live_ids is None else live_ids
        held = self.held_slots() if live_ids is None else held_slots
        return ev.Snapshot(self.local.get(rec.SESSION_KEY), self.local.get(rec.ACTIVITY_KEY), tab_raws, live, held)

    def write_local(self, key, value, writer):
        if self.local.get(key) == value:
            return  # the spec fires no storage event when nothing changes
        if value is None:
            del self.local[key]
        else:
            self.local[key] = value
        for page in self.pages():
            if page is not writer:
                page.later(page.wake)

    def publish(self, message, sender):
        for page in self.pages():
            if page is not sender:
                page.later(lambda page=page: page.wake() if wire.decode(message) else None)

    def pages(self):
        return [tab.page for tab in self.tabs if tab.page is not None and tab.page.alive]

    # ------------------------------------------------------- what people do
    def open(self, path="/", settle=True):
        """A new tab (empty sessionStorage) at ``path``."""
        return self._new_tab(path, {}, settle)

    def duplicate(self, tab, settle=True):
        """A copy of ``tab`` (its sessionStorage copied), as window.open or "Duplicate tab"."""
        return self._new_tab(tab.path, dict(tab.session_storage), settle)

    def _new_tab(self, path, session_storage, settle):
        tab = FakeTab(self, "t%d" % next(self._names), session_storage)
        self.tabs.append(tab)
        tab.load(path)
        self._maybe_settle(settle)
        return tab

    def reload(self, tab, settle=True):
        tab.page.feed(ev.PageHidden(self.now))
        tab.load(tab.path)
        self._maybe_settle(settle)

    def navigate(self, tab, path, settle=True):
        tab.page.feed(ev.PageHidden(self.now))
        tab.load(path)
        self._maybe_settle(settle)

    def close(self, tab, settle=True):
        tab.page.feed(ev.PageHidden(self.now))
        self._remove(tab)
        self._maybe_settle(settle)

    def crash(self, tab, settle=True):
        """The tab's process dies: no pagehide, but the browser frees its locks."""
        self._remove(tab)
        self._maybe_settle(settle)

    def _remove(self, tab):
        tab.page.unload()
        tab.open = False
        self.tabs.remove(tab)

    def click_use_here(self, tab, settle=True):
        # The driver reads storage with the live ids of its last query.
        tab.page.feed(ev.UseHereClicked(self.now, self.snapshot(tab.page.wakeups.live_ids, tab.page.wakeups.held_slots)))
        self._maybe_settle(settle)

    def sign_out(self, tab, settle=True):
        tab.page.feed(ev.SignOutClicked(self.now))
        self._maybe_settle(settle)

    def stay_signed_in(self, tab, settle=True):
        tab.page.feed(ev.StaySignedInClicked(self.now))
        self._maybe_settle(settle)

    def sign_in(self, tab, name="alice", settle=True):
        tab.page.feed(ev.SignInSubmitted(self.now, name, self.new_id(), self.snapshot(tab.page.wakeups.live_ids, tab.page.wakeups.held_slots)))
        self._maybe_settle(settle)

    def activity(self, tab, settle=True):
        tab.page.feed(ev.UserActive(self.now))
        self._maybe_settle(settle)

    def advance(self, seconds, settle=True):
        """Time passes (asleep or not); then every tab's timer fires once."""
        self.now += seconds
        self.tick(settle)

    def freeze(self, tab):
        """The tab stops running (a frozen or deeply throttled background tab): no timers, and
        whatever happens to it (lock results, storage events, messages) waits until ``thaw``.
        It keeps its locks, as a frozen tab does."""
        self.frozen.add(tab)

    def thaw(self, tab, settle=True):
        self.frozen.discard(tab)
        tab.page.wake(True)
        self._maybe_settle(settle)

    def tick(self, settle=True):
        for page in self.pages():
            if page.tab in self.frozen:
                continue
            if self.timers == EVERY_TAB:
                page.wake(True)
            else:
                deadline = page.machine.next_deadline()
                if deadline is not None and deadline <= self.now:
                    page.wake(True)
        self._maybe_settle(settle)

    def _maybe_settle(self, settle):
        if settle:
            self.settle(self.rng)

    # ------------------------------------------------------------ reading
    def active(self):
        return [tab for tab in self.tabs if tab.state == rec.ACTIVE]

    def states(self):
        return [tab.state for tab in self.tabs]

    def session(self):
        return rec.decode_session(self.local.get(rec.SESSION_KEY))

    def violations(self):
        """Every broken rule of the contract that a snapshot of the world can show."""
        problems = []
        max_tabs = self.settings.max_tabs
        active = self.active()
        if max_tabs and len(active) > max_tabs:
            problems.append("%d active tabs, max %d: %r" % (len(active), max_tabs, active))
        slots = []
        for tab in active:
            slot = tab.machine.slot
            if max_tabs and self.lock_mode == ev.WEB_LOCKS:
                if slot is None or self.locks.holder(slot_lock_name(slot)) is not tab.page:
                    problems.append("active without holding its slot lock: %r slot %r" % (tab, slot))
                slots.append(slot)
            if tab.page.kind != "app":
                problems.append("active on the login page: %r" % tab)
            if not self.session_is_live():
                problems.append("active without a live session: %r" % tab)
        if len(set(slots)) != len(slots):
            problems.append("two active tabs share a slot: %r" % active)
        ids = [tab.tab_id for tab in self.tabs]
        if None in ids or "" in ids or len(set(ids)) != len(ids):
            problems.append("tab ids not unique and set: %r" % self.tabs)
        for tab in self.tabs:
            if tab.tab_id != tab.machine.tab_id:
                problems.append("shown id differs from the machine's: %r" % tab)
            if tab.state == rec.BOOTING or tab.machine.phase not in ("settled",):
                problems.append("not settled: %r phase %r" % (tab, tab.machine.phase))
            if tab.page.kind == "login":
                url_reason = urls.parse_query(tab.path.split("?", 1)[1] if "?" in tab.path else "").get("reason")
                if url_reason != tab.reason:
                    problems.append("data-reason %r but URL %r" % (tab.reason, tab.path))
        return problems

    def session_is_live(self):
        session = self.session()
        if not isinstance(session, rec.Session):
            return False
        activity = rec.decode_activity(self.local.get(rec.ACTIVITY_KEY))
        last = session.signed_in_at
        if activity is not None and activity.token == session.token:
            last = max(last, activity.at)
        return self.now < last + self.settings.idle_timeout and \
            self.now < session.signed_in_at + self.settings.absolute_timeout
