"""One document that shows both pages (``create("both")``): every change of page in place.

Every other world scenario runs in this mode too (tests/world/conftest.py); these say what only
this mode promises: a tab loads one document for its whole life, and a place it takes on the
login page is never let go on the way to the app page.
"""

import pytest

from fake_browser import IN_PLACE, World
from tabsession.core import records as rec

pytestmark = [pytest.mark.usefixtures("each_mechanism", "each_lock_mode"), pytest.mark.own_document_mode]


def in_place_world(**settings):
    return World(document_mode=IN_PLACE, **settings)


def test_one_document_from_the_first_page_through_sign_in_sign_out_and_sign_in_again():
    world = in_place_world()
    tab = world.open("/")
    first_page = tab.page
    seen = [(tab.path, tab.state)]

    world.sign_in(tab, "alice")
    seen.append((tab.path, tab.state))
    world.sign_out(tab)
    seen.append((tab.path, tab.state))
    world.sign_in(tab, "bob")
    seen.append((tab.path, tab.state, tab.page.user))

    assert [("/login?next=%2F", rec.SIGNED_OUT), ("/", rec.ACTIVE),
            ("/login?reason=signed-out", rec.SIGNED_OUT), ("/", rec.ACTIVE, "bob")] == seen
    assert (first_page, 0, []) == (tab.page, tab.navigations, world.violations())


def test_a_sign_out_reaches_ten_tabs_in_place_and_a_sign_in_then_refuses_them_in_place():
    world = in_place_world(max_tabs=11)
    first = world.open("/")
    world.sign_in(first, "alice")
    others = [world.open("/") for _ in range(10)]

    world.sign_out(others[3])

    assert [("/login?reason=signed-out", rec.SIGNED_OUT)] * 11 == \
        [(tab.path, tab.state) for tab in world.tabs]
    world.sign_in(first, "carol")
    # The other ten login pages follow the sign-in (rule 2) and are admitted: the limit is 11.
    assert ([rec.ACTIVE] * 11, [0] * 11, []) == \
        ([tab.state for tab in world.tabs], [tab.navigations for tab in world.tabs], world.violations())


def test_login_pages_that_follow_a_sign_in_are_refused_in_place_at_the_limit():
    world = in_place_world(max_tabs=1)
    first, second = world.open("/"), world.open("/")

    world.sign_in(first, "alice")

    assert [("/", rec.ACTIVE), ("/login?reason=active-elsewhere", rec.BLOCKED)] == \
        [(tab.path, tab.state) for tab in world.tabs]
    assert ([0, 0], []) == ([tab.navigations for tab in world.tabs], world.violations())


def test_use_here_on_the_login_page_keeps_the_place_it_took():
    """A refused tab's Use here steals the slot and becomes active with that very lock: no load
    in between, so no moment in which the place is free for a third tab."""
    world = in_place_world(max_tabs=1)
    first = world.open("/")
    world.sign_in(first, "alice")
    second = world.open("/")
    assert ("/login?reason=active-elsewhere", rec.BLOCKED) == (second.path, second.state)

    world.click_use_here(second)

    assert [(rec.MOVED, "/"), (rec.ACTIVE, "/")] == [(tab.state, tab.path) for tab in (first, second)]
    assert (True, 0, []) == (world.holds_slot(second.page, second.machine.slot), second.navigations,
                             world.violations())


def test_a_deep_link_comes_back_in_place_and_another_path_is_loaded():
    """The document shows ``/`` and the path it was opened at; a ``next`` elsewhere is loaded
    (that document decides), as with a page per document."""
    world = in_place_world()
    deep = world.open("/report?week=7")
    world.sign_in(deep, "alice")
    assert ("/report?week=7", rec.ACTIVE, 0) == (deep.path, deep.state, deep.navigations)

    world.sign_out(deep)
    other = world.open("/login?next=%2Fother")
    world.sign_in(other, "alice")

    assert ("/other", rec.ACTIVE, 1) == (other.path, other.state, other.navigations)
    assert [] == world.violations()


def test_idle_and_absolute_ends_land_in_place_with_their_reasons():
    world = in_place_world(idle_timeout=900, warn_before=60, absolute_timeout=3600)
    first = world.open("/")
    world.sign_in(first, "alice")
    second = world.open("/login")  # follows the sign-in... and is refused (max_tabs 1)

    world.advance(901)
    idle = [(tab.path, tab.state, tab.reason) for tab in (first, second)]
    world.sign_in(first, "alice")
    for _ in range(5):  # active all along (before each warning), so the absolute timeout ends it
        world.advance(800)
        world.activity(first)
    expired = (first.path, first.state, first.reason)

    assert [("/login?reason=idle", rec.EXPIRED, rec.IDLE)] * 2 == idle
    assert ("/login?reason=expired", rec.EXPIRED, rec.REASON_EXPIRED) == expired
    assert ([0, 0], []) == ([first.navigations, second.navigations], world.violations())
