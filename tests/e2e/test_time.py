"""Idle and absolute timeouts shared by every tab (rule 8 in docs/rules.md), with Playwright's clock.

The clock is installed on the context before the first navigation, so `Date.now`, timers and
Python's `time.time()` in every tab follow it. Short settings keep the fake time small:
idle 60 s, warning from 20 s before, absolute 300 s.

These cases move the *page's* clock, so they run with the browser as the authority: with the
server deciding, the page keeps time by the server's clock (S5: a page clock set ahead must not
end a session), and the same rule 8 is checked in real time by test_server_time.py.
"""

import re

import pytest

from tabs import sign_in

# Pyodide twins on Chromium only: test_engines.py runs the core scenarios on Pyodide in every
# engine; here Firefox would repeat interpreter coverage at seconds a case (CI time).
pytestmark = pytest.mark.pyodide_engines("chromium")

IDLE = 60
WARN = 20
ABSOLUTE = 300
WITHIN_MS = 1000


@pytest.fixture
def timed(serve, runtime):
    return serve(runtime, max_tabs=3, idle_timeout=IDLE, warn_before=WARN, absolute_timeout=ABSOLUTE,
                 authority="browser")


@pytest.fixture
def clocked(context):
    """The test's context with Playwright's clock installed before any page loads."""
    context.clock.install()
    return context




def open_tabs(clocked, timed, new_tab, wait_state, count):
    pages = [sign_in(new_tab(clocked, timed, "/"))]
    pages += [new_tab(clocked, timed, "/") for _ in range(count - 1)]
    for page in pages:
        wait_state(page, "active")
    return pages


def page_now(page):
    """The page's (fake) time in seconds: Playwright for Python takes clock times in seconds."""
    return page.evaluate("() => Date.now()") / 1000


def reason(page):
    return page.evaluate("() => document.documentElement.dataset.reason")


def expect_landed(page, wait_state, why):
    page.wait_for_url(re.compile(r"/login\?reason=" + why + "$"), timeout=WITHIN_MS * 10)
    wait_state(page, "expired")
    assert why == reason(page)


def test_idle_timeout_expires_every_tab(clocked, timed, new_tab, wait_state):
    """With no activity, every tab lands on /login?reason=idle, expired."""
    pages = open_tabs(clocked, timed, new_tab, wait_state, 3)

    clocked.clock.fast_forward((IDLE + 1) * 1000)

    for page in pages:
        expect_landed(page, wait_state, "idle")


@pytest.mark.no_pyodide_twin(
    "the same activity key as test_warning_shows_everywhere_and_stay_signed_in_hides_it_everywhere")
def test_activity_in_one_tab_keeps_the_others_alive(clocked, timed, new_tab, wait_state):
    """Activity in tab B moves the shared idle deadline for tab A too."""
    one, two = open_tabs(clocked, timed, new_tab, wait_state, 2)

    clocked.clock.fast_forward((IDLE - 25) * 1000)
    two.bring_to_front()
    two.mouse.click(5, 5)
    two.keyboard.press("Shift")
    one.wait_for_timeout(300)  # the activity reaches storage and the other tab
    clocked.clock.fast_forward((IDLE - 25) * 1000)  # past the first deadline, not the new one

    assert ["active", "active"] == [p.evaluate("() => document.documentElement.dataset.tabState")
                                    for p in (one, two)]
    clocked.clock.fast_forward((IDLE + 1) * 1000)
    expect_landed(one, wait_state, "idle")


def test_warning_shows_everywhere_and_stay_signed_in_hides_it_everywhere(clocked, timed, new_tab,
                                                                          wait_state):
    """From WARN s before the deadline every active tab warns; #stay-signed-in in one resets all."""
    one, two = open_tabs(clocked, timed, new_tab, wait_state, 2)

    clocked.clock.fast_forward((IDLE - WARN + 2) * 1000)

    for page in (one, two):
        page.locator("#idle-warning").wait_for(state="visible", timeout=WITHIN_MS * 2)
        assert page.locator("#stay-signed-in").is_visible()
    two.click("#stay-signed-in")
    for page in (one, two):
        page.locator("#idle-warning").wait_for(state="hidden", timeout=WITHIN_MS)
    clocked.clock.fast_forward((IDLE - WARN) * 1000)  # the old deadline has passed
    assert "active" == one.evaluate("() => document.documentElement.dataset.tabState")


@pytest.mark.no_pyodide_twin(
    "deadlines are the core's; the Pyodide twin of expiry is test_idle_timeout_expires_every_tab")
def test_absolute_timeout_ends_the_session_despite_activity(clocked, timed, new_tab, wait_state):
    """Activity every 30 s (before each warning) does not keep the session past the absolute timeout."""
    one, two = open_tabs(clocked, timed, new_tab, wait_state, 2)

    one.bring_to_front()  # input goes to the front tab (Firefox fails a click on a background one)
    for _ in range(ABSOLUTE // 30):
        clocked.clock.fast_forward(30 * 1000)
        one.mouse.click(5, 5)
        one.wait_for_timeout(100)
    clocked.clock.fast_forward(30 * 1000)

    for page in (one, two):
        expect_landed(page, wait_state, "expired")


def test_time_jump_while_hidden_expires_on_visibility(clocked, timed, new_tab, wait_state):
    """A jump forward (laptop sleep) is noticed on visibilitychange, not only on a timer tick."""
    (page,) = open_tabs(clocked, timed, new_tab, wait_state, 1)
    clocked.clock.pause_at(page_now(page) + 0.1)

    clocked.clock.set_system_time(page_now(page) + IDLE + 30)
    page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")

    expect_landed(page, wait_state, "idle")


RECORD_STATES = """
new MutationObserver(() => {
  const states = JSON.parse(sessionStorage.getItem("test:states") || "[]");
  states.push(document.documentElement.dataset.tabState);
  sessionStorage.setItem("test:states", JSON.stringify(states));
}).observe(document, {attributes: true, subtree: true, attributeFilter: ["data-tab-state"]});
"""


@pytest.mark.no_pyodide_twin(
    "deadlines are the core's; the Pyodide twin of expiry is test_idle_timeout_expires_every_tab")
def test_tab_reloaded_after_the_deadline_is_expired_without_ever_being_active(clocked, timed, new_tab,
                                                                              wait_state):
    """A reload after the deadline goes straight to /login?reason=idle and is never active."""
    clocked.add_init_script(script=RECORD_STATES)
    (page,) = open_tabs(clocked, timed, new_tab, wait_state, 1)
    clocked.clock.pause_at(page_now(page) + 0.1)
    clocked.clock.set_system_time(page_now(page) + IDLE + 30)
    page.evaluate("() => sessionStorage.setItem('test:states', '[]')")

    page.reload()

    expect_landed(page, wait_state, "idle")
    states = page.evaluate("() => JSON.parse(sessionStorage.getItem('test:states'))")
    assert ("expired" in states, "active" in states) == (True, False), states
