"""The clocks of the deadlines: ForwardClock (browser mode, core/clock.py), the floor it takes
from the shared records (records.latest_time), and SyncedClock (server mode, browser/server.py):
time only moves forward for the session."""

import pytest

from tabsession.browser.server import SyncedClock
from tabsession.core import records as rec
from tabsession.core.clock import ForwardClock
from tabsession.core.events import Snapshot

T0 = 1700000000.0
HOUR = 3600.0
TOKEN = "a" * 32
TAB = "b" * 32
OTHER_TAB = "c" * 32


class Clocks:
    """A system clock that can be set (``wall``) and a monotonic one that only advances."""

    def __init__(self):
        self.wall = T0
        self.monotonic = 5.0

    def advance(self, seconds):
        self.wall += seconds
        self.monotonic += seconds

    def forward_clock(self):
        return ForwardClock(lambda: self.wall, lambda: self.monotonic)


@pytest.fixture
def clocks():
    return Clocks()


def test_forward_clock_follows_the_wall_clock(clocks):
    """With nothing set, it is the system's time."""
    clock = clocks.forward_clock()

    first = clock.now()
    clocks.advance(10)

    assert (T0, T0 + 10) == (first, clock.now())


def test_a_wall_clock_set_back_is_ignored(clocks):
    """Set back an hour: the time goes on by the monotonic clock from where it was."""
    clock = clocks.forward_clock()
    clock.now()
    clocks.advance(30)
    clocks.wall -= HOUR

    clocks.advance(31)

    assert T0 + 61 == clock.now()


def test_a_wall_clock_set_forward_is_followed(clocks):
    """Set forward two hours (or back from sleep, monotonic clock stopped): the later time."""
    clock = clocks.forward_clock()
    clock.now()

    clocks.wall += 2 * HOUR

    assert T0 + 2 * HOUR == clock.now()


def test_the_wall_clock_is_followed_again_once_it_is_ahead(clocks):
    """Back an hour, then forward two: the wall clock is ahead again and is followed."""
    clock = clocks.forward_clock()
    clock.now()
    clocks.wall -= HOUR
    clocks.advance(10)
    behind = clock.now()

    clocks.wall += 2 * HOUR

    assert (T0 + 10, T0 + HOUR + 10) == (behind, clock.now())


def test_a_monotonic_clock_that_goes_back_stops_time_only(clocks):
    """A monotonic reading lower than the last one (a bug, a fake) never makes time go back."""
    clock = clocks.forward_clock()
    clock.now()
    clocks.wall -= HOUR
    clocks.monotonic -= 3

    assert T0 == clock.now()


def test_saw_raises_the_floor_and_time_goes_on_from_there(clocks):
    """A page whose clock is an hour behind starts from the latest time in the records."""
    clocks.wall -= HOUR
    clock = clocks.forward_clock()

    clock.saw(T0 + 20)
    first = clock.now()
    clocks.advance(5)

    assert (T0 + 20, T0 + 25) == (first, clock.now())


@pytest.mark.parametrize("time", [None, T0 - 50, "1800000000", True, [T0 + 20]])
def test_saw_never_lowers_the_time_nor_takes_junk(clocks, time):
    """An earlier time, nothing found, or anything but a number changes nothing."""
    clock = clocks.forward_clock()

    clock.saw(time)

    assert T0 == clock.now()


def snapshot(session=None, activity=None, tabs=(), live=None):
    raws = {}
    for record in tabs:
        raws[record.tab_id] = record.encode()
    return Snapshot(session.encode() if session is not None else None,
                    activity.encode() if activity is not None else None, raws, live)


def tab_record(tab_id, seen):
    return rec.TabRecord(tab_id, rec.ACTIVE, "app", 0, T0, T0, T0, seen)


def test_latest_time_is_the_latest_of_session_activity_and_live_tabs():
    """The session's start, the activity and the records of live tabs count."""
    found = snapshot(rec.Session(TOKEN, "alice", T0), rec.Activity(TOKEN, T0 + 30),
                     [tab_record(TAB, T0 + 40), tab_record(OTHER_TAB, T0 + 20)], [TAB, OTHER_TAB])

    assert T0 + 40 == rec.latest_time(found)


def test_latest_time_counts_when_the_session_ended():
    assert T0 + 90 == rec.latest_time(snapshot(rec.EndedSession(TOKEN, rec.IDLE, T0 + 90),
                                               rec.Activity(TOKEN, T0 + 30)))


@pytest.mark.parametrize("live", [[], [OTHER_TAB], None])
def test_latest_time_skips_records_of_tabs_not_known_alive(live):
    """A record whose tab holds no lock (forged, or left behind) moves no clock: a time far ahead
    in it would end the session for nothing. Unknown liveness counts as not alive here."""
    found = snapshot(rec.Session(TOKEN, "alice", T0), None, [tab_record(TAB, T0 + 365 * 24 * HOUR)], live)

    assert T0 == rec.latest_time(found)


def test_latest_time_of_empty_or_corrupt_storage_is_none():
    junk = Snapshot('{"v": 1, "token": "x"}', "[]", {TAB: "{"}, [TAB])

    assert (None, None, None) == (rec.latest_time(None), rec.latest_time(snapshot(live=[])),
                                  rec.latest_time(junk))


# --------------------------------------------------------------- server mode
def test_synced_clock_ignores_a_wall_clock_set_back_once_synced(clocks):
    """With the server as the authority its time, carried by the monotonic clock, is the judge:
    the page's clock set back (or forward) changes nothing after the first answer."""
    clock = SyncedClock(lambda: clocks.monotonic, lambda: clocks.wall)
    clock.sync(T0 + 7)
    clocks.advance(30)
    clocks.wall -= HOUR
    behind = clock.now()

    clocks.wall += 3 * HOUR

    assert (T0 + 37, T0 + 37) == (behind, clock.now())


def test_synced_clock_has_no_floor_from_the_records():
    """The driver tells only clocks that take one (``saw``): records written by tabs may be
    ahead of the server, whose deadlines a page must not anticipate (S5)."""
    assert False is hasattr(SyncedClock(lambda: 0.0, lambda: T0), "saw")


# ------------------------------------------------------ the tab's memory of its time
class Memory:
    """The tab's sessionStorage item, as compose.ClockMemory reads and writes it."""

    def __init__(self, text=None):
        self.text = text
        self.writes = 0

    def read(self):
        return self.text

    def write(self, text):
        self.text = text
        self.writes += 1


def test_the_next_page_of_the_tab_starts_from_the_time_kept(clocks):
    """A reload after the clock went back starts where the previous page was, not an hour back."""
    memory = Memory()
    before = ForwardClock(lambda: clocks.wall, lambda: clocks.monotonic, memory)
    before.now()
    clocks.advance(40)
    before.now()
    clocks.wall -= HOUR

    after = ForwardClock(lambda: clocks.wall, lambda: clocks.monotonic, memory)

    assert T0 + 40 == after.now()


def test_the_time_is_kept_at_most_once_a_second(clocks):
    """Many readings within a second write once (a reload loses at most that second)."""
    memory = Memory()
    clock = ForwardClock(lambda: clocks.wall, lambda: clocks.monotonic, memory)
    for _ in range(10):
        clock.now()
        clocks.advance(0.25)

    assert (3, T0 + 2.0) == (memory.writes, float(memory.text))


def test_a_raised_floor_is_kept_at_once(clocks):
    memory = Memory()
    clock = ForwardClock(lambda: clocks.wall, lambda: clocks.monotonic, memory)
    clock.now()

    clock.saw(T0 + 0.5)

    assert T0 + 0.5 == float(memory.text)


@pytest.mark.parametrize("text", [None, "", "junk", "true", '"1800000000"', "[1800000000]", "-5", "1e12"])
def test_junk_in_the_memory_is_no_time(clocks, text):
    """Nothing kept, or anything but a time in range: the wall clock."""
    clock = ForwardClock(lambda: clocks.wall, lambda: clocks.monotonic, Memory(text))

    assert T0 == clock.now()
