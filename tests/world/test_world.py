"""Several tabs of one browser profile, simulated in CPython: the contract's multi-tab rules."""

import random

import pytest

import fake_browser
from fake_browser import DEADLINES, World
from tabsession.core import events as ev
from tabsession.core import records as rec

# Every scenario once per wake-up mechanism and lock mode (tests/world/conftest.py).
pytestmark = pytest.mark.usefixtures("each_mechanism", "each_lock_mode")

ACTIVE = rec.ACTIVE
BLOCKED = rec.BLOCKED
MOVED = rec.MOVED
SIGNED_OUT = rec.SIGNED_OUT
EXPIRED = rec.EXPIRED


def signed_in_world(**settings):
    """A world with one tab signed in as alice and active on /."""
    world = World(**settings)
    tab = world.open("/")
    world.sign_in(tab, "alice")
    return world, tab


def open_many(world, count, path="/"):
    return [world.open(path) for _ in range(count)]


def views(tab):
    return [(view.tab_id, view.state) for view in tab.page.tabs]


# ------------------------------------------------------------------ classic
def test_signed_out_tab_lands_on_login_with_next():
    """Opening / signed out lands on /login?next=%2F, signed-out."""
    world = World()

    tab = world.open("/")

    assert ("/login?next=%2F", SIGNED_OUT, None, []) == (tab.path, tab.state, tab.reason, world.violations())


def test_sign_in_makes_the_tab_active_on_the_app_page():
    """Signing in on /login goes to / and the tab is active as alice."""
    world = World()
    tab = world.open("/")

    world.sign_in(tab, "alice")

    assert ("/", ACTIVE, "alice", []) == (tab.path, tab.state, tab.page.user, world.violations())


def test_sign_in_goes_to_the_deep_link():
    """A signed-out deep link comes back to that path after sign-in."""
    world = World()
    tab = world.open("/?report=7")

    world.sign_in(tab, "alice")

    assert ("/?report=7", ACTIVE) == (tab.path, tab.state)


def test_bad_name_stays_on_login_with_an_error():
    """A blank name shows the error and the tab stays signed out on /login."""
    world = World()
    tab = world.open("/login")

    world.sign_in(tab, "   ")

    assert ("/login", SIGNED_OUT, True, None) == (tab.path, tab.state, bool(tab.page.login_error), world.session())


def test_classic_flow():
    """Sign in, a second tab is blocked, use-here moves the first, logout signs out both."""
    world, first = signed_in_world()

    second = world.open("/")
    blocked = (second.state, second.reason, second.path)
    world.click_use_here(second)
    after_use_here = (first.state, first.reason, second.state, second.path)
    world.sign_out(second)

    assert [
        (BLOCKED, rec.ACTIVE_ELSEWHERE, "/login?reason=active-elsewhere"),
        (MOVED, rec.TAKEN_OVER, ACTIVE, "/"),
        [(SIGNED_OUT, rec.REASON_SIGNED_OUT, "/login?reason=signed-out")] * 2,
        [],
    ] == [blocked, after_use_here,
          [(tab.state, tab.reason, tab.path) for tab in (first, second)], world.violations()]


# ------------------------------------------------------------------- block
@pytest.mark.parametrize("max_tabs", [1, 2, 3])
def test_block_admits_max_tabs_and_refuses_the_next(max_tabs):
    """With max N under block, N tabs are active and the N+1th is blocked; nobody is disturbed."""
    world, first = signed_in_world(max_tabs=max_tabs)
    others = open_many(world, max_tabs)

    actual = world.states()

    assert ([ACTIVE] * max_tabs + [BLOCKED], "/login?reason=active-elsewhere", []) == \
        (actual, others[-1].path, world.violations())


def test_blocked_tab_stays_blocked_when_reloaded():
    """Reloading /login?reason=active-elsewhere while the others are active keeps it blocked."""
    world, first = signed_in_world()
    second = world.open("/")

    world.reload(second)

    assert ([ACTIVE, BLOCKED], second.path) == (world.states(), "/login?reason=active-elsewhere")


# ---------------------------------------------------------------- takeover
def test_takeover_moves_the_least_recently_active_tab():
    """Under takeover, the new tab is active and the tab idle the longest is moved."""
    world, first = signed_in_world(max_tabs=2, policy="takeover")
    world.advance(10)
    second = world.open("/")
    world.advance(10)
    world.activity(first)
    world.advance(10)

    third = world.open("/")

    assert ([(first, ACTIVE), (second, MOVED), (third, ACTIVE)], second.reason, []) == \
        ([(tab, tab.state) for tab in world.tabs], rec.TAKEN_OVER, world.violations())


def test_takeover_with_one_tab_moves_the_only_active_tab():
    """max 1 takeover: each new tab takes the session; the previous one is moved."""
    world, first = signed_in_world(policy="takeover")

    world.open("/")

    assert ([MOVED, ACTIVE], "/", []) == (world.states(), first.path, world.violations())


def test_use_here_moves_the_displaced_tab():
    """A moved tab's use-here makes it active and moves the tab that displaced it."""
    world, first = signed_in_world(policy="takeover")
    second = world.open("/")

    world.click_use_here(first)

    assert ([ACTIVE, MOVED], second.reason, []) == (world.states(), rec.TAKEN_OVER, world.violations())


def test_use_here_from_blocked_login_page_lands_active_on_the_deep_link():
    """A blocked tab that wanted /?report=7 gets there after use-here."""
    world, first = signed_in_world()
    second = world.open("/?report=7")

    world.click_use_here(second)

    assert ([MOVED, ACTIVE], "/?report=7", []) == (world.states(), second.path, world.violations())


# --------------------------------------------------- duplicate and reload
def test_duplicate_gets_a_new_id_and_is_a_further_tab():
    """A duplicated active tab takes a fresh id and is blocked; the original stays active."""
    world, first = signed_in_world()
    original_id = first.tab_id

    copy = world.duplicate(first)

    assert (ACTIVE, original_id, BLOCKED, True, []) == \
        (first.state, first.tab_id, copy.state, copy.tab_id != original_id, world.violations())


def test_duplicate_with_room_is_active_beside_the_original():
    """With max 2, the duplicate is a second active tab with its own id and slot."""
    world, first = signed_in_world(max_tabs=2)

    copy = world.duplicate(first)

    assert ([ACTIVE, ACTIVE], {0, 1}, []) == \
        (world.states(), {first.machine.slot, copy.machine.slot}, world.violations())


def test_duplicate_of_a_duplicate_gets_a_third_id():
    """Copies of copies each get their own id."""
    world, first = signed_in_world(max_tabs=0)
    copy = world.duplicate(first)

    again = world.duplicate(copy)

    assert (3, [ACTIVE] * 3) == (len({first.tab_id, copy.tab_id, again.tab_id}), world.states())


def test_reload_keeps_id_and_stays_active():
    """Reloading the active tab keeps its id, its slot and the active state."""
    world, first = signed_in_world(max_tabs=3)
    second = world.open("/")
    before = (second.tab_id, second.machine.slot)

    world.reload(second)

    assert (before, ACTIVE, []) == ((second.tab_id, second.machine.slot), second.state, world.violations())


def test_reload_of_a_blocked_world_keeps_the_active_tab():
    """Reloading the active tab while another is blocked: it stays active, the other blocked."""
    world, first = signed_in_world()
    world.open("/")

    world.reload(first)

    assert ([ACTIVE, BLOCKED], []) == (world.states(), world.violations())


# ------------------------------------------------------- closing, crashing
@pytest.mark.parametrize("how", ["close", "crash"])
def test_gone_tab_frees_its_slot_for_use_here(how):
    """Closing or crashing the active tab frees its slot: a waiting tab's use-here takes it."""
    world, first = signed_in_world()
    second = world.open("/")
    getattr(world, how)(first)

    world.click_use_here(second)

    assert ([ACTIVE], "/", []) == (world.states(), second.path, world.violations())


@pytest.mark.parametrize("how", ["close", "crash"])
def test_gone_tab_is_not_moved_instead_of_a_live_one(how):
    """With max 2 and one holder gone, use-here takes the free slot and moves nobody."""
    world, first = signed_in_world(max_tabs=2)
    world.open("/")
    third = world.open("/")
    getattr(world, how)(first)

    world.click_use_here(third)

    assert ([ACTIVE, ACTIVE], []) == (world.states(), world.violations())


def test_closed_tab_leaves_the_tab_list():
    """Closing a tab removes it from the other tabs' lists."""
    world, first = signed_in_world(max_tabs=2)
    second = world.open("/")
    both = len(views(first))

    world.close(second)

    assert (2, [(first.tab_id, ACTIVE)]) == (both, views(first))


@pytest.mark.web_locks_only("a crashed tab's leases stay until they expire "
                             "(test_world_frozen_and_no_locks.py)")
def test_crashed_tab_leaves_the_tab_list_at_once():
    """A crashed tab (no pagehide) disappears from the lists on the next wake-up."""
    world, first = signed_in_world(max_tabs=2)
    second = world.open("/")

    world.crash(second)
    world.advance(1)

    assert [(first.tab_id, ACTIVE)] == views(first)


# ------------------------------------------------------------------ logout
@pytest.mark.parametrize("policy", ["block", "takeover"])
def test_logout_reaches_every_tab(policy):
    """Logout in one tab lands every tab on /login?reason=signed-out; none signs back in."""
    world, first = signed_in_world(max_tabs=2, policy=policy)
    others = open_many(world, 3)
    world.duplicate(others[0])

    world.sign_out(others[-1])
    world.advance(5)

    assert ([(SIGNED_OUT, rec.REASON_SIGNED_OUT, "/login?reason=signed-out")] * 5, rec.EndedSession, []) == \
        ([(tab.state, tab.reason, tab.path) for tab in world.tabs], type(world.session()), world.violations())


def test_after_logout_a_new_tab_is_plain_signed_out():
    """A tab opened after logout lands on /login?next=%2F and can sign in again."""
    world, first = signed_in_world()
    world.sign_out(first)

    tab = world.open("/")
    landed = tab.path
    world.sign_in(tab, "bob")

    assert ("/login?next=%2F", ACTIVE, "bob", []) == (landed, tab.state, tab.page.user, world.violations())


# ---------------------------------------------------------------- timeouts
def test_idle_expiry_reaches_every_tab():
    """At the idle timeout every tab lands on /login?reason=idle, expired."""
    world, first = signed_in_world(max_tabs=2)
    open_many(world, 2)

    world.advance(900)

    assert [(EXPIRED, rec.IDLE, "/login?reason=idle")] * 3 == \
        [(tab.state, tab.reason, tab.path) for tab in world.tabs]


def test_idle_warning_then_stay_signed_in_everywhere():
    """The warning shows in every active tab; stay-signed-in in one hides it in all."""
    world, first = signed_in_world(max_tabs=2)
    second = world.open("/")
    world.advance(850)
    warned = [tab.page.clock.warning for tab in world.tabs]

    world.stay_signed_in(second)
    world.tick()

    assert ([True, True], [False, False]) == (warned, [tab.page.clock.warning for tab in world.tabs])


def test_activity_in_one_tab_keeps_the_others_alive():
    """Activity in tab B keeps tab A signed in past A's own idle deadline."""
    world, first = signed_in_world(max_tabs=2)
    second = world.open("/")
    world.advance(600)
    world.activity(second)

    world.advance(600)

    assert ([ACTIVE, ACTIVE], []) == (world.states(), world.violations())


def test_activity_in_a_blocked_tab_does_not_count():
    """Only active tabs keep the session alive."""
    world, first = signed_in_world()
    second = world.open("/")
    world.advance(600)
    world.activity(second)

    world.advance(300)

    assert [EXPIRED, EXPIRED] == world.states()


def test_absolute_expiry_despite_activity():
    """At the absolute timeout every tab lands on /login?reason=expired however busy it was."""
    world, first = signed_in_world(max_tabs=2, absolute_timeout=3000)
    world.open("/")
    for _ in range(5):
        world.advance(590)
        for tab in world.tabs:
            world.activity(tab)
    before = world.states()

    world.advance(50)

    assert ([ACTIVE, ACTIVE], [(EXPIRED, rec.REASON_EXPIRED, "/login?reason=expired")] * 2) == \
        (before, [(tab.state, tab.reason, tab.path) for tab in world.tabs])


def test_long_sleep_counts():
    """A profile asleep for hours wakes up signed out as idle (time asleep counts)."""
    world, first = signed_in_world()

    world.advance(5 * 3600)

    assert [(EXPIRED, rec.IDLE)] == [(tab.state, tab.reason) for tab in world.tabs]


def test_expired_tab_can_sign_in_again():
    """After idle expiry the login page signs a new session in."""
    world, first = signed_in_world()
    world.advance(900)

    world.sign_in(first, "alice")

    assert ("/", ACTIVE, []) == (first.path, first.state, world.violations())


# --------------------------------------------------------------- unlimited
def test_max_tabs_zero_means_no_limit():
    """With max_tabs 0 every tab is active, each with its own id."""
    world, first = signed_in_world(max_tabs=0)

    open_many(world, 5)
    world.duplicate(first)

    assert ([ACTIVE] * 7, 7, []) == (world.states(), len({tab.tab_id for tab in world.tabs}), world.violations())


# ------------------------------------------------------- simultaneous starts
@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("max_tabs,policy", [(1, "block"), (2, "block"), (3, "block"), (1, "takeover"),
                                             (2, "takeover")])
def test_simultaneous_starts_never_exceed_max_tabs(max_tabs, policy, seed):
    """K tabs start in the same instant, their results arrive in any order: at most N are active."""
    world, first = signed_in_world(max_tabs=max_tabs, policy=policy)
    world.close(first)
    for _ in range(5):
        world.open("/", settle=False)

    world.settle(random.Random(seed))

    assert (max_tabs, []) == (len(world.active()), world.violations())


@pytest.mark.parametrize("seed", range(12))
def test_simultaneous_use_here_never_exceeds_max_tabs(seed):
    """Several blocked tabs clicking use-here at once: still at most N active, each on its own slot."""
    world, first = signed_in_world(max_tabs=2)
    blocked = open_many(world, 4)
    for tab in blocked:
        world.click_use_here(tab, settle=False)

    world.settle(random.Random(seed))

    assert (True, []) == (len(world.active()) <= 2, world.violations())


def test_lock_holders_are_the_active_tabs():
    """Each slot lock (or lease) is held by exactly the active tab that believes it holds it."""
    world, first = signed_in_world(max_tabs=3)
    open_many(world, 3)

    actual = sorted((slot, tab.name) for tab in world.tabs for slot in world.settings.slots()
                    if world.holds_slot(tab.page, slot))

    assert sorted((tab.machine.slot, tab.name) for tab in world.active()) == actual


class LastFirst:
    """A task order that runs the newest task first (what a busy browser may well do)."""

    def randrange(self, count):
        return count - 1


def test_logout_while_a_tab_is_starting_reaches_it():
    """Tab B starts; A logs out before B's slot request is answered: B must end signed out."""
    world, first = signed_in_world(max_tabs=2)
    world.open("/", settle=False)
    world.sign_out(first, settle=False)

    world.settle(LastFirst())

    assert ([SIGNED_OUT, SIGNED_OUT], []) == (world.states(), world.violations())


@pytest.mark.loads_only("the refused tab's way to the login page is a pending load")
@pytest.mark.parametrize("how", ["logout", "idle"])
def test_an_end_reaches_a_refused_tab_on_its_way_to_the_login_page(how):
    """B is refused and leaving / for the login page when A's session ends: B lands with the
    session's reason (rule 7: /login?reason=signed-out), not as a plain signed-out tab."""
    world, first = signed_in_world()
    second = world.open("/", settle=False)
    world.run_until(lambda: second.state == BLOCKED)
    assert "/" == second.path  # the navigation to the login page is still pending

    if how == "logout":
        world.sign_out(first)
    else:
        world.advance(900)

    reason = rec.REASON_SIGNED_OUT if how == "logout" else rec.IDLE
    state = SIGNED_OUT if how == "logout" else EXPIRED
    assert [(state, reason, "/login?reason=" + reason)] * 2 == \
        [(tab.state, tab.reason, tab.path) for tab in world.tabs]


# ---------------------------------------------- timers as the real driver sets them
def test_deadline_timers_end_every_tab_when_one_is_active():
    """With only requested timers firing, the active tab ends the session and wakes the others."""
    world, first = signed_in_world(timers=DEADLINES)
    world.open("/")

    world.advance(900)

    assert [(EXPIRED, rec.IDLE), (EXPIRED, rec.IDLE)] == [(tab.state, tab.reason) for tab in world.tabs]


def test_deadline_timers_show_the_warning():
    """The timer the active tab asks for fires at the warning time."""
    world, first = signed_in_world(timers=DEADLINES)

    world.advance(840)

    assert (ACTIVE, True) == (first.state, first.page.clock.warning)


@pytest.mark.parametrize("policy", ["block", "takeover"])
def test_waiting_tab_alone_still_expires(policy):
    """The active tab closes; the blocked (or moved) tab left must still land on /login?reason=idle."""
    world, first = signed_in_world(timers=DEADLINES, policy=policy)
    second = world.open("/")
    world.close(second if policy == "takeover" else first)

    world.advance(900)

    assert [(EXPIRED, rec.IDLE)] == [(tab.state, tab.reason) for tab in world.tabs]


def test_duplicate_of_a_reloading_tab_gets_its_own_id():
    """A tab duplicated while it reloads (both remember its id) must still end with two ids."""
    world, first = signed_in_world(max_tabs=2)
    world.reload(first, settle=False)
    copy = world.duplicate(first, settle=False)

    world.settle()

    assert (True, []) == (first.tab_id != copy.tab_id, world.violations())


def test_duplicate_of_a_settled_tab_gets_its_own_id_in_any_order():
    """Duplicating a tab that is not reloading never shares its id, whatever the task order."""
    ids = set()
    for seed in range(20):
        world, first = signed_in_world(max_tabs=2)
        copy = world.duplicate(first, settle=False)
        world.settle(random.Random(seed))
        ids.add(first.tab_id != copy.tab_id and not world.violations())

    assert {True} == ids


# ----------------------------------------------------------- wake-up storms (issue 8)
@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_a_sign_out_is_decided_on_the_first_look_without_the_lock_manager(seed):
    """Ten tabs reached by a sign-out each decide on their first look at storage, in any order
    of delivery: no lock-manager round trip first, and the others' writes cost them nothing."""
    world, first = signed_in_world(max_tabs=11)
    world.rng = random.Random(seed) if seed is not None else None
    others = open_many(world, 10)
    pages = [tab.page for tab in others]
    for page in pages:
        page.looks = page.feeds = page.queries = 0

    first_feeds = []
    for page in pages:
        follow_first_feed(page, first_feeds)

    world.sign_out(first)

    assert ([SIGNED_OUT] * 10, [SIGNED_OUT] * 11, []) == (first_feeds, world.states(), world.violations())
    if fake_browser.DEFAULT_DOCUMENT_MODE == fake_browser.LOADS:
        # Each page goes at once: it looks once and is gone.
        assert [(1, 1, 0)] * 10 == [(page.looks, page.feeds, page.queries) for page in pages]
    else:
        # In place each page goes on: it sees the ten others' records change to signed-out
        # (their storage events; a browser merges those into a wake-up or two, see
        # core/wakeups.py), and asks the lock manager again since they let their slots go. One
        # query covers every change before it: 2 to 4 queries per page here, by the order of
        # delivery, not one per change.
        assert max(page.queries for page in pages) <= 4, [page.queries for page in pages]


def follow_first_feed(page, seen):
    """Append the state ``page`` shows after its first Observed, once."""
    feed = page.driver.feed
    noted = []

    def feed_and_note(event):
        feed(event)
        if type(event) is ev.Observed and not noted:
            noted.append(page.state)
            seen.append(page.state)

    page.driver.feed = feed_and_note


def test_a_new_tab_is_listed_after_one_query():
    """A tab that opens is named in storage before the others know it lives: they ask once."""
    world, first = signed_in_world(max_tabs=2)
    first.page.queries = 0

    second = world.open("/")

    assert (1, [(first.tab_id, ACTIVE), (second.tab_id, ACTIVE)]) == \
        (first.page.queries, sorted(views(first)))
