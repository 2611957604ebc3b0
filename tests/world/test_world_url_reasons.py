"""A login page's URL tells a story; the facts decide (issue 16, "URLs tell stories the facts do
not"). A notice named by ``reason`` shows only when storage and the locks bear it out, otherwise
the page decides as if the URL had no reason, and drops it, so ``data-reason`` still equals the
URL's. The real flows (sign-out, idle, expiry, refusal) still land with their reasons, and a
``next`` that the browser would turn into ``//host`` goes to ``/``.
"""

import pytest

from fake_browser import World
from tabsession.core import records as rec
from tabsession.core.snapshots import SIGN_IN_GRACE_SECONDS

# Every scenario once per wake-up mechanism and lock mode (tests/world/conftest.py): whether a
# place is held is the lock adapter's answer.
pytestmark = pytest.mark.usefixtures("each_mechanism", "each_lock_mode")

ACTIVE = rec.ACTIVE
BLOCKED = rec.BLOCKED
EXPIRED = rec.EXPIRED
SIGNED_OUT = rec.SIGNED_OUT
OTHER_TOKEN = "d" * 32
END_REASONS = [rec.REASON_SIGNED_OUT, rec.IDLE, rec.REASON_EXPIRED]
NOT_LOGIN_REASONS = [rec.TAKEN_OVER, rec.STORAGE_UNAVAILABLE, rec.SERVER_UNAVAILABLE]


def seen(tab):
    return (tab.state, tab.reason, tab.path)


def signed_in_world(**settings):
    world = World(**settings)
    tab = world.open("/")
    world.sign_in(tab, "alice")
    return world, tab


def ended_world(reason):
    """A profile whose last session ended for ``reason`` (the record every tab reads), no tab open."""
    world = World()
    world.write_local(rec.SESSION_KEY, rec.EndedSession(OTHER_TOKEN, reason, world.now).encode(), None)
    return world


# -------------------------------------------------------- no session ever
@pytest.mark.parametrize("reason", END_REASONS + [rec.ACTIVE_ELSEWHERE] + NOT_LOGIN_REASONS)
def test_a_reason_with_no_session_ever_shows_no_notice(reason):
    """A fresh profile opens /login?reason=R&next=/reports: plainly signed out, the URL without
    the reason (before, idle, expired and signed-out showed their notice)."""
    world = World()

    tab = world.open("/login?reason=" + reason + "&next=%2Freports")

    assert ((SIGNED_OUT, None, "/login?next=%2Freports"), []) == (seen(tab), world.violations())


@pytest.mark.parametrize("reason", [
    "", "bogus", "IDLE", "idle%00", "%3Cb%3Eidle%3C%2Fb%3E", "idle&reason=expired", "%FF", "x" * 5000,
])
def test_a_forged_reason_never_crashes_nor_shows_a_notice(reason):
    """Junk, case games, markup, a second reason, bytes that are not UTF-8, a huge value."""
    world = World()

    tab = world.open("/login?reason=" + reason)

    assert (SIGNED_OUT, None, []) == (tab.state, tab.reason, world.violations())


# ------------------------------------------------ a different session ended
@pytest.mark.parametrize("reason,ended", [
    (rec.IDLE, rec.REASON_SIGNED_OUT),
    (rec.REASON_EXPIRED, rec.REASON_SIGNED_OUT),
    (rec.IDLE, rec.REASON_EXPIRED),
    (rec.REASON_EXPIRED, rec.IDLE),
])
def test_an_end_reason_the_record_does_not_give_shows_no_notice(reason, ended):
    """The last session ended for another reason: a link saying idle or expired is not believed."""
    world = ended_world(ended)

    tab = world.open("/login?reason=" + reason)

    assert ((SIGNED_OUT, None, "/login?next=%2F"), []) == (seen(tab), world.violations())


@pytest.mark.parametrize("reason", END_REASONS)
def test_an_end_reason_the_record_gives_is_shown(reason):
    """The last session ended for that reason: a tab opened to the URL says so."""
    world = ended_world(reason)

    tab = world.open("/login?reason=" + reason)

    state = SIGNED_OUT if reason == rec.REASON_SIGNED_OUT else EXPIRED
    assert ((state, reason, "/login?reason=" + reason), []) == (seen(tab), world.violations())


# ---------------------------------------------------------- a live session
def test_active_elsewhere_with_no_other_tab_open_goes_to_the_app_page():
    """Signed in, that tab closed at once: /login?reason=active-elsewhere&next=/reports has no
    tab holding the place, so it goes on to /reports and is active (before: blocked, "already
    have an active session", while the sign-in was a few seconds old)."""
    world, first = signed_in_world()
    world.close(first)

    tab = world.open("/login?reason=active-elsewhere&next=%2Freports")

    assert ((ACTIVE, None, "/reports"), []) == (seen(tab), world.violations())


def test_active_elsewhere_after_the_sign_in_grace_goes_to_the_app_page():
    """The same, long after the sign-in."""
    world, first = signed_in_world()
    world.advance(SIGN_IN_GRACE_SECONDS + 1)
    world.close(first)

    tab = world.open("/login?reason=active-elsewhere")

    assert ((ACTIVE, None, "/"), []) == (seen(tab), world.violations())


def test_active_elsewhere_while_another_tab_holds_the_place_is_shown():
    """Another tab is active: a tab opened to the refusal URL is refused where it stands."""
    world, first = signed_in_world()

    tab = world.open("/login?reason=active-elsewhere")

    assert ((ACTIVE, (BLOCKED, rec.ACTIVE_ELSEWHERE, "/login?reason=active-elsewhere")), []) == \
        ((first.state, seen(tab)), world.violations())


@pytest.mark.parametrize("reason", END_REASONS + NOT_LOGIN_REASONS)
def test_another_reason_with_a_live_session_decides_as_without_it(reason):
    """Live session, a place free: the page goes where the user wanted and is active; with the
    place held it is refused for the true reason, active-elsewhere."""
    world, first = signed_in_world(max_tabs=2)

    second = world.open("/login?reason=" + reason)
    third = world.open("/login?reason=" + reason)

    assert ((ACTIVE, None, "/"), (BLOCKED, rec.ACTIVE_ELSEWHERE, "/login?reason=active-elsewhere"), []) == \
        (seen(second), seen(third), world.violations())


# ---------------------------------------------------- the real flows still say why
def test_the_real_flows_still_carry_their_reasons():
    """Refusal, sign-out in another tab, idle and absolute expiry: every tab lands with the reason,
    and a tab opened afterwards to the same URL agrees with it."""
    world, first = signed_in_world(idle_timeout=60, warn_before=10)
    second = world.open("/")
    refused = seen(second)
    world.sign_out(first)
    signed_out = [seen(tab) for tab in world.tabs] + [seen(world.open("/login?reason=signed-out"))]

    world.sign_in(world.tabs[0], "alice")
    world.advance(61)
    idle = [seen(tab) for tab in world.tabs] + [seen(world.open("/login?reason=idle"))]

    assert [(BLOCKED, rec.ACTIVE_ELSEWHERE, "/login?reason=active-elsewhere"),
            [(SIGNED_OUT, rec.REASON_SIGNED_OUT, "/login?reason=signed-out")] * 3,
            [(EXPIRED, rec.IDLE, "/login?reason=idle")] * 4, []] == \
        [refused, signed_out, idle, world.violations()]


def test_absolute_expiry_still_carries_its_reason():
    """At the absolute timeout the tab lands on reason=expired, and a new tab there agrees."""
    world, first = signed_in_world(absolute_timeout=120, idle_timeout=600, warn_before=10)

    world.advance(121)
    late = world.open("/login?reason=expired")

    assert [(EXPIRED, rec.REASON_EXPIRED, "/login?reason=expired")] * 2 == [seen(first), seen(late)]


# ------------------------------------------------------------------- next
@pytest.mark.parametrize("next_query", ["/.//evil.example", "%2F.%2F%2Fevil.example",
                                        "%2F%252e%2F%2Fevil.example", "%2Fx%2F..%2F%2Fevil.example"])
def test_next_with_dot_segments_signs_in_to_the_app_page(next_query):
    """The issue's link: /login?next=/.//evil.example lands on / after signing in, not on the
    same-origin path //evil.example."""
    world = World()
    tab = world.open("/login?next=" + next_query)

    world.sign_in(tab, "alice")

    assert ((ACTIVE, None, "/"), []) == (seen(tab), world.violations())
