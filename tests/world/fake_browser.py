"""A fake browser profile for the real driver: N tabs, shared localStorage, Web Locks, a channel, a clock.

Each page load runs the browser driver itself (``tabsession.browser.driver.Driver``) on fake
adapters: storage over ``World.local`` and the tab's sessionStorage dict, locks over one
``LockManager``, a channel, the world's clock, one timer per page that ``World.tick`` fires,
navigation that loads another page in the tab, and page events that ``World`` fires (pagehide,
activity). So the loop that feeds the core and carries out its commands is the one the browser
runs. What a browser does later (a lock result, a storage event in another tab, a message, a
navigation) is a *task* in one queue; ``World.settle()`` runs the queue first-in first-out, or in
a shuffled order given a ``random.Random``, to try interleavings. A task belongs to one page
load: when the tab navigates, reloads, closes or crashes, its old page's tasks are dropped, as a
browser drops the callbacks of a document that is gone.

What is faked, and how faithfully:

- localStorage: one dict; a write that changes a value fires a storage event in every *other* tab.
- sessionStorage: one dict per tab; duplicating a tab copies it (``window.open``, "Duplicate tab").
- Web Locks: exclusive named locks held by a page load; ``ifAvailable`` requests, waiting requests
  (``ClaimTabLock``, ``HoldTabLock``), ``steal`` (the old holder is told the lock is lost), release
  when the page goes away (navigation, reload, close, crash), and ``query`` of held names
  (``Snapshot.live_ids``). Every answer is a task. ``lock_mode=STORAGE_LEASES``: the browser has
  none, and the page runs the real lease adapter (``browser/leases.py``) over this localStorage;
  a crashed page's leases then stay until they expire, as in a browser.
- Wake-ups (``mechanism``): ``BROADCAST_CHANNEL``, a message reaches every other tab (undecodable
  ones are dropped and counted) and storage events fire too; ``STORAGE_EVENTS``, storage events
  alone (a publish reaches no one), as in a browser without BroadcastChannel.
- Time: ``World.now`` moves only through ``advance``. Then, by default, every tab's timer fires
  once (``timers=EVERY_TAB``, like the browser driver, which ticks at least once a second); with
  ``timers=DEADLINES`` only the tabs whose machine asked for a wake-up by now (``next_deadline()``)
  are woken, to test what the core itself promises.

- Documents (``document_mode``): ``LOADS``, the app page and the login page are two documents,
  so going between them is a navigation (a new ``Page`` in the tab); ``IN_PLACE``, one document
  shows both, so the page goes on and only its ``path`` changes (``ShowPage``).

``DEFAULT_MECHANISM``, ``DEFAULT_LOCK_MODE`` and ``DEFAULT_DOCUMENT_MODE`` are what ``World()`` uses when not told
(tests/world/conftest.py runs scenario files once per mechanism through them).
"""

import itertools

from tabsession.browser import leases, tabindex
from tabsession.browser.driver import Driver
from tabsession.core import commands as cmd
from tabsession.core import events as ev
from tabsession.core import records as rec
from tabsession.core import urls
from tabsession.core import wire
from tabsession.core.clock import MEMORY_KEY, ForwardClock
from tabsession.core.machine import slot_lock_name, tab_lock_name
from tabsession.core.settings import DEFAULTS, Settings

T0 = 1700000000.0
TAB_LOCK_PREFIX = tab_lock_name("")
SLOT_LOCK_PREFIX = rec.PREFIX + "slot:"
MAX_TASKS = 20000
EVERY_TAB = "every-tab"
DEADLINES = "deadlines"
BROADCAST_CHANNEL = "broadcast-channel"  # the names of browser/channel.py
STORAGE_EVENTS = "storage-events"
MECHANISMS = (BROADCAST_CHANNEL, STORAGE_EVENTS)
WEB_LOCKS = "web-locks"  # the lock adapters' names (browser/locks.py, browser/leases.py)
STORAGE_LEASES = "storage"
LOCK_MODES = (WEB_LOCKS, STORAGE_LEASES)
DEFAULT_MECHANISM = BROADCAST_CHANNEL
DEFAULT_LOCK_MODE = WEB_LOCKS
LOADS = "loads"  # document modes: a page per document (a load between them) ...
IN_PLACE = "in-place"  # ... or one document showing both pages (``create("both")``)
DOCUMENT_MODES = (LOADS, IN_PLACE)
DEFAULT_DOCUMENT_MODE = LOADS


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


class FakeLocalArea:
    """The world's localStorage as the page's index of records (``tabindex.py``) uses it."""

    def __init__(self, page):
        self.page = page

    def read_many(self, keys):
        return [self.page.world.local.get(key) for key in keys]

    def write(self, key, value):
        self.page.world.write_local(key, value, self.page)
        return None


class FakeStorage:
    """Both storage areas as the driver reads and writes them; never fails. localStorage's
    records are read by name through the browser's own index (``tabindex.IndexedLocal``), as a
    page does."""

    def __init__(self, page):
        self.page = page
        self.local = tabindex.IndexedLocal(FakeLocalArea(page))

    def problem(self):
        return None

    def read_memory(self):
        return self.page.tab.session_storage.get(rec.TAB_MEMORY_KEY)

    def read_snapshot(self, live_ids, held_slots):
        session_raw, activity_raw, tab_raws = self.local.read()
        return ev.Snapshot(session_raw, activity_raw, tab_raws, live_ids, held_slots)

    def read_local(self, key):
        return self.page.world.local.get(key)

    def write(self, area, key, value):
        if area == cmd.LOCAL:
            return self.local.write(key, value)
        self.page.tab.write_session(key, value)
        return None


class FakeLeaseStore:
    """The world's localStorage as the lease adapter reads and writes it."""

    def __init__(self, page):
        self.page = page

    def read(self, key):
        return self.page.world.local.get(key)

    def write(self, key, value):
        self.page.world.write_local(key, value, self.page)
        return None

    def keys(self):
        """The leases that can exist, by name, as browser/storage.py's ``LocalStore`` names them."""
        page = self.page
        names = [slot_lock_name(slot) for slot in page.world.settings.slots()]
        local = page.storage.local
        for tab_id in local.indexed_ids() + local.own:
            if tab_lock_name(tab_id) not in names:
                names.append(tab_lock_name(tab_id))
        return [leases.lease_key(name) for name in names]


class FakeLocks:
    """Web Locks over the world's ``LockManager``; every answer is a task of the page."""

    mechanism = WEB_LOCKS
    failed = None

    def check(self):
        pass  # the lock manager tells a holder at once (a task) when its lock is stolen

    def release_all(self):
        pass  # the page's locks go when it unloads (Page.unload)

    def __init__(self, page):
        self.page = page
        self.manager = page.world.locks
        self.on_claimed = self.on_acquired = self.on_lost = self.on_held_names = None

    def connect(self, on_claimed, on_acquired, on_lost, on_held_names):
        self.on_claimed = on_claimed
        self.on_acquired = on_acquired
        self.on_lost = on_lost
        self.on_held_names = on_held_names

    def claim(self, name):
        # One request that takes the lock when it is free and keeps it.
        self.page.later(lambda: self.on_claimed(self.manager.try_acquire(name, self.page)))

    def hold(self, name):
        self.page.later(lambda: self.manager.acquire_or_wait(name, self.page))

    def acquire(self, names, steal):
        names = list(names)
        self.page.later(lambda: self._acquire(names, steal))

    def _acquire(self, names, steal):
        page = self.page
        if steal:
            previous = self.manager.steal(names[0], page)
            if previous is not None and previous is not page:
                previous.later(lambda: previous.locks.on_lost(names[0]))
            self.on_acquired(0)
            return
        for index, name in enumerate(names):
            if self.manager.try_acquire(name, page):
                self.on_acquired(index)
                return
        self.on_acquired(-1)

    def release(self, name):
        self.manager.release(name, self.page)

    def query(self):
        self.page.later(lambda: self.on_held_names(self.manager.query()))


class FakeChannel:
    """The page's end of the wake-ups (``World.publish`` and ``World.write_local`` deliver)."""

    def __init__(self, page):
        self.page = page
        self.mechanism = page.world.mechanism
        self.on_wake = self.on_dropped = None
        self.dropped = 0

    def connect(self, on_wake, on_dropped):
        self.on_wake = on_wake
        self.on_dropped = on_dropped

    def publish(self, message):
        self.page.world.publish(message, self.page)

    def message(self, message):
        if wire.decode(message) is None:
            self.dropped += 1
            self.on_dropped(self.dropped)
        else:
            self.on_wake()

    def storage_event(self):
        self.on_wake()


class FakeTimer:
    """The page's one timer; ``World.tick`` fires it (``due`` says when it would)."""

    def __init__(self, page):
        self.page = page
        self.function = None
        self.due = None

    def set(self, delay_seconds, function):
        self.function = function
        self.due = self.page.world.now + delay_seconds

    def clear(self):
        self.function = self.due = None

    def fire(self):
        function = self.function
        self.clear()
        if function is not None:
            function()


class FakeClock(ForwardClock):
    """The page's clock as compose.py builds it (core/clock.py) over the world's: ``World.now``
    is the time that passes (the monotonic clock), the wall clock is ``World.now`` moved by
    ``World.move_wall_clock`` (a system clock set back or forward). It is its own memory: the
    sessionStorage of the tab whose page's driver has it (the lease adapter's clock has none)."""

    def __init__(self, world):
        ForwardClock.__init__(self, lambda: world.now + getattr(world, "wall_offset", 0.0),
                              lambda: world.now, self)
        self.world = world

    def _session_storage(self):
        for tab in self.world.tabs:
            if tab.page is not None and getattr(tab.page, "driver", None) is not None \
                    and tab.page.driver.clock is self:
                return tab.session_storage
        return None

    def read(self):
        area = self._session_storage()
        return None if area is None else area.get(MEMORY_KEY)

    def write(self, value):
        area = self._session_storage()
        if area is not None:
            area[MEMORY_KEY] = value


class FakeIds:
    def __init__(self, world):
        self.world = world

    def random_id(self):
        return self.world.new_id()


class FakeLocation:
    def __init__(self, page):
        self.page = page

    def here(self):
        return self.page.path

    def navigate(self, url):
        page = self.page
        page.later(lambda: page.tab.follow(url))

    def replace_url(self, url):
        self.page.path = url
        self.page.tab.url_changes += 1

    def reload(self):
        page = self.page
        page.later(lambda: page.tab.follow(page.path))


class Page:
    """One page load in a tab: the real driver on fake adapters, its locks, its pending tasks.

    It is also the driver's view: it keeps what the page shows (``state``, ``reason``, ``user``,
    ``place_free``, ``tabs``, ``clock``, ``login_error``...)."""

    def __init__(self, tab, path):
        self.tab = tab
        self.world = tab.world
        self.path = path
        self.alive = True
        self.state = rec.BOOTING
        self.reason = None
        self.shown_tab_id = None
        self.shown_page = None  # the page shown in place (ShowPage), if the page changed
        self.user = None
        self.place_free = False
        self.clock = None
        self.tabs = None
        self.login_error = None
        self.runtime = self.coordination = None
        self.dropped = 0
        self.left = False
        self.handlers = {}
        if self.world.lock_mode == WEB_LOCKS:
            self.locks = FakeLocks(self)
        else:
            self.locks = leases.StorageLeases(FakeLeaseStore(self), FakeClock(self.world),
                                              FakeIds(self.world), self.later)
        self.channel = FakeChannel(self)
        self.timer = FakeTimer(self)
        self.storage = FakeStorage(self)
        self.driver = Driver(self.kind, self.world.settings, self, self.storage, self.locks,
                             self.channel, FakeClock(self.world), self.timer, FakeIds(self.world),
                             FakeLocation(self),
                             self, "cpython", in_place=self.world.document_mode == IN_PLACE)

    @property
    def kind(self):
        return "login" if self.path.split("?", 1)[0] == self.world.settings.login_path else "app"

    @property
    def machine(self):
        return self.driver.machine

    @property
    def wakeups(self):
        return self.driver.wakeups

    # Counters of the driver (tests reset them).
    looks = property(lambda self: self.driver.looks, lambda self, value: setattr(self.driver, "looks", value))
    feeds = property(lambda self: self.driver.feeds, lambda self, value: setattr(self.driver, "feeds", value))
    queries = property(lambda self: self.driver.queries,
                       lambda self, value: setattr(self.driver, "queries", value))

    def start(self):
        self.bind(self.driver)
        self.driver.start()

    def later(self, action):
        self.world.post(self, action)

    def unload(self):
        self.alive = False
        self.timer.clear()
        self.world.locks.release_all(self)

    # ----------------------------------------------------- page events (driver.page_events)
    def listen(self, kind, function):
        self.handlers[kind] = function

    def fire(self, kind, *args):
        """The browser fires a page event ("pagehide", "activity", "focus", "visible", ...)."""
        handler = self.handlers.get(kind)
        if handler is not None and self.alive:
            handler(*args)

    # ------------------------------------------------------------ the view (driver.view)
    def bind(self, driver):
        pass

    def show_runtime(self, runtime):
        self.runtime = runtime

    def show_coordination(self, coordination):
        self.coordination = coordination

    def show(self, command):
        (self.state, self.reason, self.shown_tab_id, self.user, self.place_free,
         self.storage_error) = command.values()

    def show_tabs(self, tabs):
        self.tabs = list(tabs)

    def show_elsewhere(self, entries):
        self.elsewhere = list(entries)

    def show_clock(self, clock):
        self.clock = clock

    def show_login_error(self, message):
        self.login_error = message

    def show_page(self, page):
        self.shown_page = page

    def show_dropped(self, count):
        self.dropped = count

    def leaving(self):
        self.left = True

    def tick(self, now):
        pass


class FakeTab:
    """A browser tab: a sessionStorage that outlives its page loads, and the current page."""

    def __init__(self, world, name, session_storage):
        self.world = world
        self.name = name
        self.session_storage = session_storage
        self.page = None
        self.open = True
        self.navigations = 0  # documents loaded by the page's own request (Navigate)
        self.url_changes = 0  # addresses changed without a load (ReplaceUrl, ShowPage)

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
        self.page.fire("pagehide")
        self.load(url)


class World:
    def __init__(self, timers=EVERY_TAB, lock_mode=None, mechanism=None, document_mode=None, **settings):
        """``lock_mode=STORAGE_LEASES`` simulates a browser without Web Locks (insecure context);
        ``mechanism=STORAGE_EVENTS`` one without BroadcastChannel; ``document_mode=IN_PLACE`` a
        site whose one document shows both pages (None: the defaults above)."""
        self.timers = timers
        self.document_mode = DEFAULT_DOCUMENT_MODE if document_mode is None else document_mode
        if self.document_mode not in DOCUMENT_MODES:
            raise ValueError("document_mode must be one of %r" % (DOCUMENT_MODES,))
        self.lock_mode = DEFAULT_LOCK_MODE if lock_mode is None else lock_mode
        self.mechanism = DEFAULT_MECHANISM if mechanism is None else mechanism
        if self.mechanism not in MECHANISMS:
            raise ValueError("mechanism must be one of %r" % (MECHANISMS,))
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

    def held_names(self):
        """What a query of the lock adapter answers now: the names of the locks held."""
        if self.lock_mode == WEB_LOCKS:
            return self.locks.query()
        return sorted(name for name in (key[len(leases.LEASE_PREFIX):] for key in self.local
                                        if key.startswith(leases.LEASE_PREFIX))
                      if self.lease_holder(name) is not None)

    def lease_holder(self, name):
        """The holder id of the live lease ``name`` (storage-leases mode), or None."""
        lease = leases.decode(self.local.get(leases.lease_key(name)))
        return lease[0] if lease is not None and lease[1] > self.now else None

    def live_ids(self):
        """The ids of the tabs whose lock is held now."""
        return [name[len(TAB_LOCK_PREFIX):] for name in self.held_names() if name.startswith(TAB_LOCK_PREFIX)]

    def held_slots(self):
        """The slots whose lock is held now."""
        names = self.held_names()
        return [slot for slot in self.settings.slots() if slot_lock_name(slot) in names]

    def holds_slot(self, page, slot):
        if self.lock_mode == WEB_LOCKS:
            return self.locks.holder(slot_lock_name(slot)) is page
        return self.lease_holder(slot_lock_name(slot)) == page.locks.holder

    def snapshot(self, live_ids=None, held_slots=None):
        """Storage now, with ``live_ids`` and ``held_slots`` as a tab last heard them (default:
        the truth now)."""
        live = self.live_ids() if live_ids is None else live_ids
        held = self.held_slots() if live_ids is None else held_slots
        return self.read(live, held)

    def read(self, live_ids, held_slots):
        """Storage now, as a tab reads it, with the lock manager's last answer it heard."""
        tab_raws = {}
        for key, value in self.local.items():
            tab_id = rec.tab_id_from_key(key)
            if tab_id is not None:
                tab_raws[tab_id] = value
        return ev.Snapshot(self.local.get(rec.SESSION_KEY), self.local.get(rec.ACTIVITY_KEY), tab_raws,
                           live_ids, held_slots)

    def forge_tab_record(self, tab_id, raw):
        """A tab record written by another page of the site, and indexed as a tab's own record
        is (``tabindex.py``): the forger who knows the layout, so that the tabs do read it."""
        self.write_local(rec.tab_key(tab_id), raw, None)
        ids = tabindex.decode(self.local.get(tabindex.INDEX_KEY))
        if tab_id not in ids:
            self.write_local(tabindex.INDEX_KEY, tabindex.encode(ids + [tab_id]), None)

    def write_local(self, key, value, writer):
        if self.local.get(key) == value:
            return  # the spec fires no storage event when nothing changes
        if value is None:
            del self.local[key]
        else:
            self.local[key] = value
        for page in self.pages():
            if page is not writer:
                page.later(page.channel.storage_event)

    def publish(self, message, sender):
        """A BroadcastChannel message from ``sender`` (None: from outside); nothing without one."""
        if self.mechanism != BROADCAST_CHANNEL:
            return
        for page in self.pages():
            if page is not sender:
                page.later(lambda page=page: page.channel.message(message))

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
        tab.page.fire("pagehide")
        tab.load(tab.path)
        self._maybe_settle(settle)

    def navigate(self, tab, path, settle=True):
        tab.page.fire("pagehide")
        tab.load(path)
        self._maybe_settle(settle)

    def close(self, tab, settle=True):
        tab.page.fire("pagehide")
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
        tab.page.driver.use_here()
        self._maybe_settle(settle)

    def sign_out(self, tab, settle=True):
        tab.page.driver.sign_out()
        self._maybe_settle(settle)

    def stay_signed_in(self, tab, settle=True):
        tab.page.driver.stay_signed_in()
        self._maybe_settle(settle)

    def sign_in(self, tab, name="alice", settle=True):
        tab.page.driver.sign_in(name)
        self._maybe_settle(settle)

    def activity(self, tab, settle=True):
        tab.page.fire("activity")
        self._maybe_settle(settle)

    def advance(self, seconds, settle=True):
        """Time passes (asleep or not); then every tab's timer fires once."""
        self.now += seconds
        self.tick(settle)

    def move_wall_clock(self, seconds):
        """The system clock is set ``seconds`` forward (negative: back) for every tab; the time
        that passes (``now``, the monotonic clock) goes on unchanged."""
        self.wall_offset = getattr(self, "wall_offset", 0.0) + seconds

    def freeze(self, tab):
        """The tab stops running (a frozen or deeply throttled background tab): no timers, and
        whatever happens to it (lock results, storage events, messages) waits until ``thaw``.
        It keeps its locks, as a frozen tab does."""
        self.frozen.add(tab)

    def thaw(self, tab, settle=True):
        self.frozen.discard(tab)
        tab.page.timer.fire()  # its overdue timer runs first
        self._maybe_settle(settle)

    def tick(self, settle=True):
        for page in self.pages():
            if page.tab in self.frozen:
                continue
            if self.timers == EVERY_TAB:
                page.timer.fire()
            else:
                deadline = page.machine.next_deadline()
                if deadline is not None and deadline <= self.now:
                    page.timer.fire()
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
            if max_tabs:
                if slot is None or not self.holds_slot(tab.page, slot):
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
            shown = tab.page.shown_page
            if shown is not None and shown != tab.page.kind:
                problems.append("shows the %s page at %s: %r" % (shown, tab.path, tab))
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
