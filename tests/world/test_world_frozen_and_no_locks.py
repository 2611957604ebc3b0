"""Frozen tabs that wake up, and the storage leases used where Web Locks are missing."""

import pytest

from test_world import signed_in_world
from tabsession.core import records as rec
from fake_browser import STORAGE_LEASES
from tabsession.browser.leases import TTL_SECONDS

# Every scenario once per wake-up mechanism (tests/world/conftest.py); each names its lock mode.
pytestmark = pytest.mark.usefixtures("each_mechanism")

ACTIVE = rec.ACTIVE
BLOCKED = rec.BLOCKED
MOVED = rec.MOVED
SIGNED_OUT = rec.SIGNED_OUT


def test_frozen_tab_that_lost_its_slot_steps_down_when_it_wakes():
    """A frozen active tab whose slot is taken learns it on waking (the lock manager tells it)."""
    world, first = signed_in_world()
    second = world.open("/")
    world.freeze(first)
    world.click_use_here(second)

    during = (first.state, second.state)
    world.thaw(first)

    assert ((ACTIVE, ACTIVE), (MOVED, ACTIVE), []) == (during, (first.state, second.state),
                                                       world.violations())


def test_frozen_tab_follows_a_sign_out_when_it_wakes():
    """A sign-out that happened while a tab was frozen reaches it on waking."""
    world, first = signed_in_world(max_tabs=2)
    second = world.open("/")
    world.freeze(second)
    world.sign_out(first)

    world.thaw(second)

    assert ([SIGNED_OUT, SIGNED_OUT], "/login?reason=signed-out") == (world.states(), second.path)


def test_without_locks_a_second_tab_is_refused():
    """Storage leases: counting fresh active records refuses the tab over the limit."""
    world, first = signed_in_world(lock_mode=STORAGE_LEASES)

    second = world.open("/")

    assert ([ACTIVE, BLOCKED], []) == ([first.state, second.state], world.violations())


def test_without_locks_use_here_moves_the_other_tab():
    """Storage leases: use-here claims the place; the older claim steps down."""
    world, first = signed_in_world(lock_mode=STORAGE_LEASES)
    second = world.open("/")

    world.click_use_here(second)

    assert ((MOVED, ACTIVE), []) == ((first.state, second.state), world.violations())


def test_without_locks_a_duplicate_gets_its_own_id():
    """Storage leases: a copy sees its original's fresh record and takes a new id."""
    world, first = signed_in_world(lock_mode=STORAGE_LEASES)

    copy = world.duplicate(first)

    assert (True, ACTIVE, BLOCKED) == (copy.tab_id != first.tab_id, first.state, copy.state)


def test_without_locks_a_reload_keeps_its_id():
    """Storage leases: the reloading page removes its record first, so it is no copy."""
    world, first = signed_in_world(lock_mode=STORAGE_LEASES)
    before = first.tab_id

    world.reload(first)

    assert (before, ACTIVE) == (first.tab_id, first.state)


def test_without_locks_a_crashed_tab_frees_its_place_once_stale():
    """Storage leases: a crashed tab's heartbeat stops; after the stale time a new tab gets in."""
    world, first = signed_in_world(lock_mode=STORAGE_LEASES)
    world.crash(first)
    world.advance(TTL_SECONDS + 1)

    second = world.open("/")

    assert (ACTIVE, []) == (second.state, world.violations())


def test_without_locks_a_frozen_tab_that_was_presumed_gone_steps_down_on_waking():
    """Storage leases: a frozen tab's place is given away; waking, it sees a newer claim and
    steps down instead of making two active tabs."""
    world, first = signed_in_world(lock_mode=STORAGE_LEASES)
    world.freeze(first)
    world.advance(TTL_SECONDS + 1)
    second = world.open("/")
    during = second.state

    world.thaw(first)

    assert (ACTIVE, [MOVED, ACTIVE], []) == (during, [first.state, second.state], world.violations())
