"""Coordination without Web Locks or without BroadcastChannel (issue: cross-tab fallbacks).

Without Web Locks (an insecure context: the app reached through a made-up host name) tabs count
active records in localStorage, keep them alive with a heartbeat, and resolve a double claim by
letting the most recently active claim win. Without BroadcastChannel, storage events wake tabs.
The page says which mechanisms it uses in `data-coordination`.
"""

import re

import pytest

from tabs import html_data, sign_in

# Pyodide twins on Chromium only: test_engines.py runs the core scenarios on Pyodide in every
# engine; here Firefox would repeat interpreter coverage at seconds a case (CI time).
pytestmark = pytest.mark.pyodide_engines("chromium")

WITHIN_MS = 1000






def open_page(context, url, wait_booted):
    page = context.new_page()
    page.goto(url)
    wait_booted(page)
    return page


@pytest.fixture
def insecure_server(serve, runtime):
    return serve(runtime)


def test_without_web_locks_the_page_says_so_and_blocks_a_second_tab(insecure_context, insecure_server,
                                                                   insecure_url, wait_state, wait_booted):
    """Storage-only mode: the classic refusal still holds and the page names its mechanism."""
    first = sign_in(open_page(insecure_context, insecure_url(insecure_server, "/"), wait_booted))

    second = open_page(insecure_context, insecure_url(insecure_server, "/"), wait_booted)

    wait_state(second, "blocked")
    assert html_data(first)["coordination"].startswith("storage+")
    assert "active" == html_data(first)["tabState"]


@pytest.mark.no_pyodide_twin(
    "the same lease path as test_without_web_locks_the_page_says_so_and_blocks_a_second_tab")
def test_without_web_locks_use_here_moves_the_other_tab(insecure_context, insecure_server, insecure_url,
                                                        wait_state, wait_booted):
    """Storage-only mode: #use-here claims the place and the other tab steps down within 1 s."""
    first = sign_in(open_page(insecure_context, insecure_url(insecure_server, "/"), wait_booted))
    second = open_page(insecure_context, insecure_url(insecure_server, "/"), wait_booted)
    wait_state(second, "blocked")

    second.click("#use-here")

    wait_state(second, "active")
    wait_state(first, "moved", WITHIN_MS * 2)


@pytest.mark.no_pyodide_twin(
    "the same lease path as test_without_web_locks_the_page_says_so_and_blocks_a_second_tab")
def test_without_web_locks_a_duplicate_gets_its_own_id(insecure_context, insecure_server, insecure_url,
                                                       wait_state, wait_booted):
    """Storage-only mode: a window.open copy sees the original's fresh record and takes a new id."""
    first = sign_in(open_page(insecure_context, insecure_url(insecure_server, "/"), wait_booted))
    with insecure_context.expect_page() as opened:
        first.evaluate("() => { window.open(location.href); }")
    copy = opened.value

    wait_state(copy, "blocked")
    assert html_data(copy)["tabId"] != html_data(first)["tabId"]
    assert "active" == html_data(first)["tabState"]


@pytest.mark.no_pyodide_twin(
    "the same lease path as test_without_web_locks_the_page_says_so_and_blocks_a_second_tab")
def test_without_web_locks_sign_out_reaches_every_tab(insecure_context, insecure_server, insecure_url,
                                                      wait_state, wait_booted):
    """Storage-only mode: sign-out everywhere still reaches every tab."""
    first = sign_in(open_page(insecure_context, insecure_url(insecure_server, "/"), wait_booted))
    second = open_page(insecure_context, insecure_url(insecure_server, "/"), wait_booted)
    wait_state(second, "blocked")

    first.click("#logout")

    for page in (first, second):
        page.wait_for_url(re.compile(r"/login\?reason=signed-out$"), timeout=WITHIN_MS * 5)
        wait_state(page, "signed-out")


@pytest.fixture
def no_channel(context):
    """The test's context with BroadcastChannel gone by the time the app's Python runs.

    PyScript 0.7.31 itself creates a BroadcastChannel when its module loads (and fails without
    one), so it is removed once the document is parsed: after PyScript's modules ran, before
    the interpreter has booted and the app looks for it.
    """
    context.add_init_script(
        script="document.addEventListener('DOMContentLoaded', () => { delete window.BroadcastChannel; });")
    return context


def test_without_broadcast_channel_storage_events_carry_sign_out(no_channel, app_server, new_tab,
                                                                 wait_state):
    """No BroadcastChannel: the page says storage-events, and sign-out still reaches every tab."""
    first = sign_in(new_tab(no_channel, app_server, "/"))
    second = new_tab(no_channel, app_server, "/")
    wait_state(second, "blocked")

    mechanism = html_data(first)["coordination"]

    first.click("#logout")

    assert "web-locks+storage-events" == mechanism
    for page in (first, second):
        page.wait_for_url(re.compile(r"/login\?reason=signed-out$"), timeout=WITHIN_MS * 5)
        wait_state(page, "signed-out")


@pytest.mark.no_pyodide_twin(
    "the same storage-event path as test_without_broadcast_channel_storage_events_carry_sign_out")
def test_without_broadcast_channel_use_here_still_moves_within_a_second(no_channel, app_server, new_tab,
                                                                        wait_state):
    """No BroadcastChannel: a take-over still reaches the displaced tab within 1 s (lock manager)."""
    first = sign_in(new_tab(no_channel, app_server, "/"))
    second = new_tab(no_channel, app_server, "/")
    wait_state(second, "blocked")

    second.click("#use-here")

    wait_state(first, "moved", WITHIN_MS)
    wait_state(second, "active")
