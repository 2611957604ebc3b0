"""The server keeps the deadlines (S5 in ../shared/CONTRACT.md, rule 8 in docs/rules.md) in real tabs.

With the server as the authority a tab's clock is not trusted: a session whose tabs' clocks are
frozen, an hour behind or an hour ahead still ends on time, not before. Each case has two tabs
of one profile on the sign-in page, signs in from one (the other follows, rule 2), reads the
server's own deadline from `GET /api/session` (the profile's cookie; seconds left by the server's
clock, which a read does not move), and then samples both tabs against the test's wall clock
until they have landed:

- not before: no tab leaves `active` before the server's deadline (less SLACK_S, the time a
  sample of the test takes);
- on time: within 2 s of it every tab has left for `/login?reason=R` (R: `idle` at the idle
  deadline, `expired` at the absolute one), and then shows `expired` with `data-reason` R once the
  sign-in page has booted (booting it is not part of the 2 s: a cold Pyodide start alone is 3 s).

The page's clock is Playwright's, set on the context before the first page loads:
`set_fixed_time` freezes `Date.now` (and Python's `time.time()`) while timers run; `install`
with a time an hour off lets that clock run from there.
"""

import time

import pytest
from playwright.sync_api import Error as PlaywrightError

from tabs import sign_in

pytestmark = pytest.mark.pyodide_engines("chromium")


@pytest.fixture(autouse=True)
def smaller_pyodide_twin(request, runtime):
    """Pyodide runs one case here, the idle deadline on a frozen clock: the timekeeping is the
    same Python on both interpreters, and a Pyodide case costs about a minute (CI time)."""
    params = getattr(request.node, "callspec", None)
    clock = params.params.get("clock") if params is not None else None
    if runtime == "pyodide" and (request.node.originalname, clock) != \
            ("test_the_idle_deadline_is_the_servers", "frozen"):
        pytest.skip("smaller Pyodide twin: the idle deadline on a frozen clock only")


# serve.py's --idle-timeout and --absolute-timeout (seconds) per interpreter: long enough for the
# tabs to be active before the deadline (a Pyodide tab boots in 3-20 s on a busy machine).
IDLE = {"micropython": 6, "pyodide": 15}
ABSOLUTE = {"micropython": 8, "pyodide": 20}
WARN = 2
WITHIN_S = 2.0  # S5: every tab lands within 2 s of the server's deadline
SLACK_S = 0.3  # how late a sample of the test may see a change (the "not before" side)
HOUR = 3600


@pytest.fixture
def idle_server(serve, runtime):
    return serve(runtime, max_tabs=2, idle_timeout=IDLE[runtime], warn_before=WARN)


@pytest.fixture
def absolute_server(serve, runtime):
    return serve(runtime, max_tabs=2, absolute_timeout=ABSOLUTE[runtime])


def frozen(clock):
    clock.set_fixed_time(time.time())


def behind(clock):
    clock.install(time=time.time() - HOUR)


def ahead(clock):
    clock.install(time=time.time() + HOUR)


CLOCKS = {"frozen": frozen, "an-hour-behind": behind, "an-hour-ahead": ahead}


# Each change of a tab's state, stamped in the page when it happens: the moment it landed, not
# the moment a sample of the test saw it (over WebDriver BiDi a sample can take seconds on a busy
# machine, which made a tab that landed on time look late). The stamp is the page's
# `performance.timeOrigin + now()`, which Playwright's `install` moves with `Date` (not
# `set_fixed_time`): `clock_offset` measures how far it is from the test's clock.
RECORD_CHANGES = """
window.__changes = [];
new MutationObserver(() => window.__changes.push([performance.timeOrigin + performance.now(),
    document.documentElement.dataset.tabState, location.pathname + location.search]))
  .observe(document, {attributes: true, subtree: true, attributeFilter: ["data-tab-state", "data-reason"]});
"""


def two_tabs(context, server, new_tab, wait_state):
    """Two tabs of `context` booted on the sign-in page, then signed in from the first: the
    second follows within a second (rule 2), so the deadline starts with both tabs ready."""
    context.add_init_script(script=RECORD_CHANGES)
    pages = [context.new_page() for _ in range(2)]
    for page in pages:
        page.goto(server("/"), wait_until="commit")
    for page in pages:
        wait_state(page, "signed-out", server.boot_timeout_ms * 2)
    sign_in(pages[0], timeout_ms=server.boot_timeout_ms * 2)
    wait_state(pages[1], "active", server.boot_timeout_ms)
    return pages


def server_deadline(context, server, which):
    """The server's deadline `which` ("idle" or "absolute") as (earliest, latest) wall times."""
    before = time.time()
    answer = context.request.get(server("/api/session"))
    after = time.time()
    assert answer.status == 200, f"GET /api/session answered {answer.status}: {answer.text()}"
    left = answer.json()[which + "_in"]
    assert isinstance(left, (int, float)), answer.json()
    return before + left, after + left


def sample(page):
    """(state, path) of a tab; state None while it is between documents."""
    try:
        return page.evaluate(
            "() => [document.documentElement.dataset.tabState, location.pathname + location.search]")
    except PlaywrightError:
        return None, None


def clock_offset(page):
    """The test's clock minus the page's stamping clock (s), from the quickest of a few reads."""
    best = None
    for _ in range(5):
        before = time.time()
        page_now = page.evaluate("() => performance.timeOrigin + performance.now()") / 1000
        after = time.time()
        if best is None or after - before < best[0]:
            best = (after - before, (before + after) / 2 - page_now)
    return best[1]


def changes(page, offset):
    """[(epoch seconds by the test's clock, state, path)] of the page's changes so far
    (RECORD_CHANGES), or []."""
    try:
        stamped = page.evaluate("() => window.__changes || []")
    except PlaywrightError:
        return []
    return [(at / 1000 + offset, state, path) for at, state, path in stamped]


def watch_until_landed(pages, why, latest, offsets):
    """Sample the tabs until each has left for /login?reason=`why` (or until `latest` + WITHIN_S
    + a little has passed). Returns (first moment a tab was not active, moment each left), from
    the moments the pages stamped (RECORD_CHANGES); the moment a sample saw it where a page has
    no stamp."""
    first_change, left_at = sampled_until_landed(pages, why, latest)
    target = f"/login?reason={why}"
    for index, page in enumerate(pages):
        stamped = changes(page, offsets[index])
        left = [at for at, _, path in stamped if path == target]
        if left_at[index] is not None and left:
            left_at[index] = left[0]
        # The moment it left `active` for good: the first change after its last `active`.
        last_active = max((i for i, (_, state, _) in enumerate(stamped) if state == "active"), default=None)
        gone = [] if last_active is None else [at for at, state, _ in stamped[last_active + 1:] if state != "active"]
        if gone and first_change is not None:
            first_change = min(first_change, gone[0])
    return first_change, left_at


def sampled_until_landed(pages, why, latest):
    """watch_until_landed's sampling: (first moment a sample saw a tab not active, moment a
    sample first saw each tab on /login?reason=`why`)."""
    target = f"/login?reason={why}"
    first_change, left_at = None, [None] * len(pages)
    give_up = latest + WITHIN_S + 3
    while time.time() < give_up and None in left_at:
        for index, page in enumerate(pages):
            state, path = sample(page)
            now = time.time()
            if state != "active" and first_change is None:
                first_change = now
            if left_at[index] is None and (path == target or page.url.endswith(target)):
                left_at[index] = now
        pages[0].wait_for_timeout(50)
    return first_change, left_at


def expect_on_time(pages, why, deadline, wait_state, boot_timeout_ms):
    earliest, latest = deadline
    offsets = [clock_offset(page) for page in pages]
    first_change, left_at = watch_until_landed(pages, why, latest, offsets)

    assert first_change is not None and first_change >= earliest - SLACK_S, (
        f"a tab left `active` {earliest - first_change:.2f} s before the server's deadline")
    late = [None if at is None else round(at - latest, 2) for at in left_at]
    assert all(at is not None and at <= latest + WITHIN_S for at in left_at), (
        f"not every tab left for /login?reason={why} within {WITHIN_S} s of the server's deadline:"
        f" seconds after it (None: not at all) {late}")
    for page in pages:
        wait_state(page, "expired", boot_timeout_ms)
        assert why == page.evaluate("() => document.documentElement.dataset.reason")


@pytest.mark.parametrize("clock", CLOCKS)
def test_the_idle_deadline_is_the_servers(clock, context, idle_server, new_tab, wait_state):
    """S5 with rule 8's idle timeout: whatever the tabs' clock (frozen, an hour behind, an hour
    ahead), no tab ends before the server's idle deadline and every tab lands on
    /login?reason=idle, expired, within 2 s of it."""
    CLOCKS[clock](context.clock)
    pages = two_tabs(context, idle_server, new_tab, wait_state)
    deadline = server_deadline(context, idle_server, "idle")

    expect_on_time(pages, "idle", deadline, wait_state, idle_server.boot_timeout_ms)


@pytest.mark.parametrize("clock", CLOCKS)
def test_the_absolute_deadline_is_the_servers(clock, runtime, context, absolute_server, new_tab, wait_state):
    """S5 with rule 8's absolute timeout: whatever the tabs' clock, no tab ends before the
    server's absolute deadline and every tab lands on /login?reason=expired, expired, within 2 s
    of it."""
    if runtime == "pyodide" and clock != "frozen":
        pytest.skip("smaller Pyodide twin: a clock an hour off meets the absolute deadline on "
                    "MicroPython (the same page code), the idle one on both")
    CLOCKS[clock](context.clock)
    pages = two_tabs(context, absolute_server, new_tab, wait_state)
    deadline = server_deadline(context, absolute_server, "absolute")

    expect_on_time(pages, "expired", deadline, wait_state, absolute_server.boot_timeout_ms)


def test_a_clock_jumping_an_hour_ahead_does_not_end_the_session(context, idle_server, new_tab,
                                                                wait_state):
    """S5, a clock set ahead while signed in (a wrong time from NTP, a user's change): the page
    cannot tell it from an hour asleep, but the server, whose deadline has not passed, decides.
    No tab ends before the server's idle deadline; every tab lands on /login?reason=idle within
    2 s of it."""
    context.clock.install(time=time.time())
    pages = two_tabs(context, idle_server, new_tab, wait_state)
    deadline = server_deadline(context, idle_server, "idle")

    context.clock.set_system_time(time.time() + HOUR)

    expect_on_time(pages, "idle", deadline, wait_state, idle_server.boot_timeout_ms)


def test_activity_on_a_frozen_clock_keeps_the_session(context, runtime, idle_server, new_tab,
                                                      wait_state):
    """S5 with rule 8's activity: the server keeps the idle deadline from the activity the tabs
    report, so pointer and key activity every second on a frozen clock keeps both tabs active past
    the idle timeout (and the server's deadline moves on with it)."""
    frozen(context.clock)
    first, second = two_tabs(context, idle_server, new_tab, wait_state)
    started = time.time()
    first.bring_to_front()

    while time.time() < started + IDLE[runtime] + 2 * WITHIN_S:
        first.mouse.move(10 + int(time.time() * 10) % 50, 10)
        first.mouse.click(5, 5)
        first.keyboard.press("Shift")
        first.wait_for_timeout(1000)
    states = [sample(page)[0] for page in (first, second)]

    assert ["active", "active"] == states
    assert server_deadline(context, idle_server, "idle")[0] - time.time() > IDLE[runtime] - 2

