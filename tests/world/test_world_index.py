"""The index of tab records (browser/tabindex.py) in a simulated profile: whatever happens to the
index key, lost entries, junk or a wipe, the tabs put it right within a tick and every rule holds
meanwhile (limits are kept by locks, sessions by the session record)."""

import json

import pytest

from fake_browser import World
from tabsession.browser import tabindex
from tabsession.core import records as rec

# Every scenario once per wake-up mechanism and lock mode (tests/world/conftest.py).
pytestmark = pytest.mark.usefixtures("each_mechanism", "each_lock_mode")


def three_tabs():
    world = World(max_tabs=3)
    first = world.open("/")
    world.sign_in(first, "alice")
    tabs = [first, world.open("/"), world.open("/")]
    return world, tabs


def listed(tab):
    return sorted(view.tab_id for view in tab.page.tabs)


def ids_of(tabs):
    return sorted(tab.page.driver.machine.tab_id for tab in tabs)


def indexed(world):
    return sorted(tabindex.decode(world.local.get(tabindex.INDEX_KEY)))


def test_every_tab_is_indexed_and_lists_the_others():
    world, tabs = three_tabs()
    assert ([rec.ACTIVE] * 3, ids_of(tabs)) == (world.states(), indexed(world))
    assert all(listed(tab) == ids_of(tabs) for tab in tabs)


@pytest.mark.parametrize("junk", [None, "", "{", "[]", json.dumps({"v": 1, "ids": "x"}),
                                  json.dumps({"v": 2, "ids": []}), "x" * 10000])
def test_an_index_wiped_or_corrupt_is_rebuilt_within_a_tick_and_nothing_else_changes(junk):
    world, tabs = three_tabs()
    world.write_local(tabindex.INDEX_KEY, junk, None)
    world.settle()
    assert ([rec.ACTIVE] * 3, []) == (world.states(), world.violations())

    world.tick()

    assert (ids_of(tabs), [rec.ACTIVE] * 3) == (indexed(world), world.states())
    assert all(listed(tab) == ids_of(tabs) for tab in tabs)


def test_an_entry_lost_to_a_concurrent_write_comes_back_and_a_fourth_tab_is_still_refused():
    world, tabs = three_tabs()
    lost = tabs[1].page.driver.machine.tab_id
    world.write_local(tabindex.INDEX_KEY, tabindex.encode([i for i in ids_of(tabs) if i != lost]), None)
    fourth = world.open("/")  # the limit is the locks', not the index's

    world.tick()

    assert (rec.BLOCKED, ids_of(tabs + [fourth])) == (fourth.state, indexed(world))
    assert [] == world.violations()


def test_a_closed_or_crashed_tab_leaves_the_index_with_its_record():
    world, tabs = three_tabs()
    world.close(tabs[2])
    world.crash(tabs[1])
    world.advance(60)
    assert ids_of(tabs[:1]) == indexed(world)


def test_sign_out_reaches_every_tab_with_the_index_gone():
    world, tabs = three_tabs()
    world.write_local(tabindex.INDEX_KEY, None, None)
    world.sign_out(tabs[0])
    assert [rec.SIGNED_OUT] * 3 == world.states()
