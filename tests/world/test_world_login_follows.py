"""A sign-in page follows a sign-in made elsewhere, and a refused tab follows the facts, not
its URL (rules 2 and 6 in docs/rules.md; rule M7 of core/machine.py)."""

import random

import pytest

import fake_browser
from fake_browser import WEB_LOCKS, World
from tabsession.core import records as rec
from tabsession.core.snapshots import SIGN_IN_GRACE_SECONDS

# Every scenario once per wake-up mechanism and lock mode (tests/world/conftest.py).
pytestmark = pytest.mark.usefixtures("each_mechanism", "each_lock_mode")

ACTIVE = rec.ACTIVE
BLOCKED = rec.BLOCKED
MOVED = rec.MOVED
REFUSED_URL = "/login?reason=active-elsewhere"


def two_sign_in_pages(**settings):
    world = World(**settings)
    return world, world.open("/login"), world.open("/login")


# ------------------------------------------------------------------ rule 2
def test_sign_in_page_stops_offering_the_form_when_the_profile_signs_in_elsewhere():
    """Sign in as bob in A: B, showing the form, is decided as a tab opened to / (refused)."""
    world, first, second = two_sign_in_pages()

    world.sign_in(first, "bob")

    assert ((ACTIVE, "/"), (BLOCKED, REFUSED_URL), "bob", []) == \
        ((first.state, first.path), (second.state, second.path), world.session().user, world.violations())


def test_a_second_sign_in_never_replaces_the_live_session():
    """B submits carol before it has seen bob's sign-in: bob's session stays, token and all,
    and B is decided as a tab opened to / would be."""
    world, first, second = two_sign_in_pages()
    world.sign_in(first, "bob", settle=False)
    bobs = world.session()

    world.sign_in(second, "carol")

    assert (bobs, ACTIVE, "bob", BLOCKED) == (world.session(), first.state, first.page.user, second.state)


@pytest.mark.parametrize("seed", range(40))
def test_the_tab_that_signed_in_ends_active_whoever_arrives_first(seed):
    """In every order of the tasks, the tab where bob signed in ends active, and under block the
    follower is refused where it stands: it never loads the app page to race for the place."""
    world, first, second = two_sign_in_pages()
    world.rng = random.Random(seed)
    navigations = second.navigations

    world.sign_in(first, "bob")

    assert (ACTIVE, BLOCKED, REFUSED_URL, 0, []) == \
        (first.state, second.state, second.path, second.navigations - navigations, world.violations())


@pytest.mark.parametrize("seed", range(20))
def test_under_takeover_a_follower_and_the_signing_tab_end_one_active_one_moved(seed):
    """Under takeover the follower goes on as a new tab would; whoever arrives second takes the
    place, and the other is moved: never two active. (With leases, two steals written in the
    same instant can leave the loser refused instead: their weaker guarantee.)"""
    world, first, second = two_sign_in_pages(policy="takeover")
    world.rng = random.Random(seed)

    world.sign_in(first, "bob")

    other = MOVED if world.lock_mode == WEB_LOCKS or MOVED in (first.state, second.state) else BLOCKED
    assert ([ACTIVE, other], []) == (sorted([first.state, second.state]), world.violations())


def test_a_follower_refused_in_place_says_a_place_is_free_when_the_signing_tab_never_arrives():
    """The signing tab closes on its way (before its app page took a place): after the sign-in
    grace the follower is told that a place is free, and its use-here makes it active."""
    world, first, second = two_sign_in_pages()
    world.sign_in(first, "bob", settle=False)
    world.run_until(lambda: second.state == BLOCKED)
    world.close(first)

    world.advance(SIGN_IN_GRACE_SECONDS + 1)
    free = second.page.place_free
    world.click_use_here(second)

    assert (True, ACTIVE, "/") == (free, second.state, second.path)


@pytest.mark.parametrize("settings, expected", [
    ({"policy": "takeover"}, (MOVED, ACTIVE)),
    ({"max_tabs": 2}, (ACTIVE, ACTIVE)),
    ({"max_tabs": 0}, (ACTIVE, ACTIVE)),
])
def test_a_following_sign_in_page_gets_what_a_new_tab_would(settings, expected):
    """Under takeover the follower takes the place; with room it is simply active."""
    world, first, second = two_sign_in_pages(**settings)

    world.sign_in(first, "bob")

    assert (expected, "/", []) == ((first.state, second.state), second.path, world.violations())


def test_a_sign_in_page_keeps_its_deep_link_when_it_follows():
    """A sign-in page for /reports follows to /reports, not to /."""
    world = World(max_tabs=2)
    first = world.open("/login")
    second = world.open("/reports")  # lands on /login?next=%2Freports

    world.sign_in(first, "bob")

    assert ("/reports", ACTIVE) == (second.path, second.state)


def test_sign_in_pages_ignore_a_dead_session_record():
    """A session whose deadline has passed (no tab left to end it) is not followed, and a
    sign-in replaces it."""
    world = World()
    first = world.open("/login")
    world.sign_in(first, "bob")
    world.close(first)
    world.advance(world.settings.absolute_timeout + 1)
    login = world.open("/login")

    world.sign_in(login, "carol")

    assert ("carol", ACTIVE, "/") == (world.session().user, login.state, login.path)


def test_an_active_tab_whose_session_is_replaced_is_decided_again():
    """Should a session be replaced under a tab all the same (storage edited by hand, or two
    sign-ins in the same instant), the tab does not go on showing the old user: it leaves,
    and is decided again in the new session."""
    world = World()
    first = world.open("/")
    world.sign_in(first, "bob")
    bobs_page = first.page
    replaced = rec.Session("9" * 32, "carol", world.now).encode()

    world.write_local(rec.SESSION_KEY, replaced, None)
    world.settle()

    # A new document, unless one document shows both pages (then it went and came back in place).
    loaded = fake_browser.DEFAULT_DOCUMENT_MODE == fake_browser.LOADS
    assert (loaded, ACTIVE, "carol") == (first.page is not bobs_page, first.state, first.page.user)


# ------------------------------------------------------------------ rule 6
def refused_world(**settings):
    world = World(**settings)
    first = world.open("/")
    world.sign_in(first, "bob")
    second = world.open("/")
    return world, first, second


@pytest.mark.parametrize("gone", ["close", pytest.param("crash", marks=pytest.mark.web_locks_only(
    "a crashed tab's place is free only once its lease expires"))])
def test_a_refused_tab_says_at_once_that_a_place_is_free(gone):
    """A blocked tab learns that the active tab went (closed, or crashed: the next tick)."""
    world, first, second = refused_world()
    before = second.page.place_free

    getattr(world, gone)(first)
    world.tick()

    assert ((BLOCKED, False), (BLOCKED, True)) == ((BLOCKED, before), (second.state, second.page.place_free))


@pytest.mark.parametrize("gone", ["close", pytest.param("crash", marks=pytest.mark.web_locks_only(
    "a crashed tab's place is free only once its lease expires"))])
def test_reloading_a_refused_tab_once_a_place_is_free_makes_it_active(gone):
    """The refusal URL is not trusted: a reload decides from the facts."""
    world, first, second = refused_world()
    getattr(world, gone)(first)

    world.reload(second)

    assert (ACTIVE, "/", []) == (second.state, second.path, world.violations())


def test_opening_the_app_in_a_refused_tab_once_a_place_is_free_makes_it_active():
    """Opening / in the refused tab, after the active one closed, makes it active."""
    world, first, second = refused_world()
    world.close(first)

    world.navigate(second, "/")

    assert (ACTIVE, "/") == (second.state, second.path)


def test_reloading_a_refused_tab_while_the_place_is_taken_keeps_it_refused():
    """No place free: the reload stays on the refusal page with no detour to / (no loop)."""
    world, first, second = refused_world()
    navigations = second.navigations

    world.reload(second)

    assert ((ACTIVE, BLOCKED, REFUSED_URL), 0, False) == \
        ((first.state, second.state, second.path), second.navigations - navigations, second.page.place_free)


def test_use_here_in_a_tab_told_a_place_is_free_displaces_no_one():
    """After the active tab closed, use-here takes the free place; the third tab stays blocked."""
    world, first, second = refused_world(max_tabs=1)
    third = world.open("/")
    world.close(first)

    world.click_use_here(second)

    assert (ACTIVE, BLOCKED, []) == (second.state, third.state, world.violations())
