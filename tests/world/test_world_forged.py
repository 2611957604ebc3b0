"""Forged storage and messages from another same-origin page, in a simulated world of tabs.

What the browser suite (tests/e2e/test_hardening_*.py) tries in real tabs, here with exact states
and many more variants: a forger can end the session (anything that writes storage can), but it
can neither sign anybody in, nor take or hold a place, nor stop a real tab from being admitted.
"""

import pytest

from fake_browser import T0, World
from tabsession.core import records as rec
from tabsession.core import wire
from tabsession.core.machine import STALE_RECORD_SECONDS

# Every scenario once per wake-up mechanism (tests/world/conftest.py). Not per lock mode: that a
# forged record takes no place is what Web Locks give; without them tabs count records in storage.
pytestmark = pytest.mark.usefixtures("each_mechanism")

FORGED_ID = "e" * 32
FORGED_TOKEN = "d" * 32
YEAR = 365 * 24 * 3600.0


def forged_record(tab_id=FORGED_ID, state=rec.ACTIVE, slot=0, seen_offset=0.0, now=T0):
    return rec.TabRecord(tab_id, state, "app", slot, now, now, now, now + seen_offset).encode()


def signed_in_world(**settings):
    world = World(**settings)
    tab = world.open("/")
    world.sign_in(tab, "alice")
    return world, tab


@pytest.mark.parametrize("seen_offset", [0.0, YEAR, -YEAR / 2])
def test_forged_active_records_take_no_place(seen_offset):
    """Records of tabs that do not exist, claiming slot 0 (dated now, far ahead or far back): the
    real tab stays active, a new tab is refused by it alone and takes its place with Use here."""
    world, first = signed_in_world()
    world.forge_tab_record(FORGED_ID, forged_record(seen_offset=seen_offset, now=world.now))
    world.settle()

    second = world.open("/")
    blocked = (first.state, second.state)
    world.click_use_here(second)

    assert ((rec.ACTIVE, rec.BLOCKED), [rec.MOVED, rec.ACTIVE], []) == \
        (blocked, world.states(), world.violations())
    assert FORGED_ID not in [view.tab_id for view in second.page.tabs]


@pytest.mark.parametrize("seen_offset", [0.0, YEAR])
def test_forged_records_of_dead_tabs_are_pruned(seen_offset):
    """With Web Locks a record whose tab holds no lock is deleted once its grace is over, even
    when it claims to have been written in the future (it would otherwise stay for ever)."""
    world, first = signed_in_world()
    world.forge_tab_record(FORGED_ID, forged_record(seen_offset=seen_offset, now=world.now))

    world.advance(STALE_RECORD_SECONDS + 1)

    assert (rec.tab_key(FORGED_ID) not in world.local, rec.ACTIVE) == (True, first.state)


def test_forged_records_never_sign_in_a_signed_out_profile():
    """Active-looking records and activity with no session: every tab stays signed out."""
    world = World()
    first = world.open("/login")
    world.forge_tab_record(FORGED_ID, forged_record(now=world.now))
    world.write_local(rec.ACTIVITY_KEY, rec.Activity(FORGED_TOKEN, world.now).encode(), None)
    world.settle()

    second = world.open("/")

    assert ([rec.SIGNED_OUT, rec.SIGNED_OUT], "/login?next=%2F", []) == \
        (world.states(), second.path, world.violations())


def test_forged_ended_session_of_another_token_signs_out_plainly():
    """An ended record with a token no tab holds, and a reason it claims: every tab lands signed
    out with the plain reason (the forged reason is not repeated), and nobody is signed in."""
    world, first = signed_in_world(max_tabs=2)
    second = world.open("/")
    ended = rec.EndedSession(FORGED_TOKEN, rec.IDLE, world.now).encode()

    world.write_local(rec.SESSION_KEY, ended, None)
    world.settle()
    third = world.open("/")

    assert ([rec.SIGNED_OUT] * 3, [rec.REASON_SIGNED_OUT] * 2, []) == \
        (world.states(), [first.reason, second.reason], world.violations())
    assert "/login?next=%2F" == third.path


@pytest.mark.parametrize("message", [
    "", "junk", "{}", wire.changed("not-an-id"), '{"v": 1, "type": "moved", "from": "' + "e" * 32 + '"}',
    wire.changed(FORGED_ID), "x" * 10000,
])
def test_forged_messages_change_nothing(message):
    """Any message on the channel, valid wake-up or junk: states, ids and storage stay as they are."""
    world, first = signed_in_world()
    second = world.open("/")
    before = (world.states(), [tab.tab_id for tab in world.tabs], dict(world.local))

    world.publish(message, None)
    world.settle()

    assert before == (world.states(), [tab.tab_id for tab in world.tabs], dict(world.local))

