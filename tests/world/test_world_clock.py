"""A system clock set back or forward while tabs run (rule 8: setting the clock back never
lengthens a session), in a simulated world of tabs.

``World.move_wall_clock`` moves what ``time.time()`` says in every tab; ``World.advance`` is the
time that really passes, which the pages' monotonic clocks count (core/clock.py). The violations
check reads the real time, so "active without a live session" is the session lengthened.
Issue 16: with the clock set back an hour, a tab was still active after 90 s idle with a 60 s
idle timeout, and a new tab was admitted.
"""

import pytest

from fake_browser import World
from tabsession.core import records as rec

# Every scenario once per wake-up mechanism (tests/world/conftest.py). Not per lock mode: leases
# keep the system's clock, shared by every tab (compose.py), which the world's pages do not.
pytestmark = pytest.mark.usefixtures("each_mechanism")

IDLE = 60
WARN = 20
ABSOLUTE = 300
HOUR = 3600.0


def signed_in_world(tabs=1):
    world = World(max_tabs=3, idle_timeout=IDLE, warn_before=WARN, absolute_timeout=ABSOLUTE)
    first = world.open("/")
    world.sign_in(first, "alice")
    return world, [first] + [world.open("/") for _ in range(tabs - 1)]


def outcome(world):
    return [(tab.state, tab.reason) for tab in world.tabs], world.violations()


def test_a_clock_set_back_does_not_lengthen_the_idle_time():
    """Set back an hour 30 s into the idle time: every tab still lands on idle at 60 s."""
    world, _ = signed_in_world(tabs=2)
    world.advance(30)
    world.move_wall_clock(-HOUR)

    world.advance(IDLE - 30 + 1)

    assert ([(rec.EXPIRED, rec.IDLE)] * 2, []) == outcome(world)


def test_a_tab_opened_after_the_clock_went_back_is_not_admitted_into_an_expired_session():
    """The issue's case: set back an hour, 90 s idle, then a new tab: the session has ended (the
    new tab, which saw none of it, is plainly signed out)."""
    world, _ = signed_in_world()
    world.advance(30)
    world.move_wall_clock(-HOUR)
    world.advance(60)

    world.open("/")

    assert ([(rec.EXPIRED, rec.IDLE), (rec.SIGNED_OUT, None)], []) == outcome(world)


def test_a_tab_opened_after_the_clock_went_back_does_not_lengthen_the_session():
    """A tab opened while the session lives, after the clock went back, is admitted; its clock
    starts from the latest time the records hold, not from the hour-old wall clock, so the
    session still ends by the idle time counted from its opening."""
    world, _ = signed_in_world()
    world.advance(30)
    world.move_wall_clock(-HOUR)
    world.advance(10)
    world.open("/")
    admitted = [tab.state for tab in world.tabs]

    world.advance(IDLE + 1)

    assert ([rec.ACTIVE] * 2, [(rec.EXPIRED, rec.IDLE)] * 2, []) == ((admitted,) + outcome(world))


def test_a_reload_after_the_clock_went_back_does_not_lengthen_the_session():
    """A reload counts as activity, no more: the reloaded page does not start an hour back."""
    world, (tab,) = signed_in_world()
    world.advance(30)
    world.move_wall_clock(-HOUR)
    world.reload(tab)
    reloaded = tab.state

    world.advance(IDLE + 1)

    assert (rec.ACTIVE, [(rec.EXPIRED, rec.IDLE)], []) == ((reloaded,) + outcome(world))


def test_a_clock_set_back_does_not_lengthen_the_absolute_time():
    """Activity every 30 s keeps the idle time; with the clock set back an hour midway the
    session still ends at the absolute timeout, as expired."""
    world, (first, second) = signed_in_world(tabs=2)
    for step in range(ABSOLUTE // 30):
        if step == 3:
            world.move_wall_clock(-HOUR)
        world.advance(30)
        world.activity(first)

    world.advance(1)

    assert ([(rec.EXPIRED, rec.REASON_EXPIRED)] * 2, []) == outcome(world)


def test_a_clock_set_back_twice_across_a_reload_does_not_lengthen_the_absolute_time():
    """Set back before and after a reload: the reloaded page keeps the session's time."""
    world, (first, second) = signed_in_world(tabs=2)
    for step in range(ABSOLUTE // 30):
        if step in (2, 6):
            world.move_wall_clock(-HOUR)
        if step == 4:
            world.reload(second)
        world.advance(30)
        world.activity(second)

    world.advance(1)

    assert ([(rec.EXPIRED, rec.REASON_EXPIRED)] * 2, []) == outcome(world)


def test_a_clock_set_forward_still_ends_the_session():
    """Set forward two hours (past the absolute timeout): every tab lands on expired at the
    next tick, as before."""
    world, _ = signed_in_world(tabs=2)
    world.move_wall_clock(2 * HOUR)

    world.advance(1)

    assert [(rec.EXPIRED, rec.REASON_EXPIRED)] * 2 == outcome(world)[0]


def test_a_clock_set_back_after_a_jump_forward_keeps_the_later_time():
    """Forward a minute (less than the idle time), then back an hour: the tabs keep the later
    time, so the session ends 60 s after the activity by the clock that was ahead."""
    world, _ = signed_in_world(tabs=2)
    world.move_wall_clock(40)
    world.advance(1)
    alive = [tab.state for tab in world.tabs]
    world.move_wall_clock(-HOUR)

    world.advance(IDLE - 40)

    assert ([rec.ACTIVE] * 2, [(rec.EXPIRED, rec.IDLE)] * 2) == ((alive,) + outcome(world)[:1])


def test_a_lone_tab_reloaded_again_and_again_after_the_clock_went_back_still_expires():
    """Each reload starts from the time the tab's last page kept (its sessionStorage), not from
    the last record it wrote: reloads within the idle time never carry the session past the
    absolute timeout."""
    world, (tab,) = signed_in_world()
    world.move_wall_clock(-HOUR)
    for _ in range(ABSOLUTE // 50):
        world.advance(50)
        world.reload(tab)

    world.advance(50)

    assert ([(rec.EXPIRED, rec.REASON_EXPIRED)], []) == outcome(world)
