"""The demo's words, as a person reads them (usability review): a first visit is an invitation
to sign in, tabs are named as people name them ("This tab", "Tab 2, opened 18:57", "On another
device or browser"), and a refused tab says where the session is, following the tab list.

The contract's names stay as they are: `li[data-tab-id]` with `data-state`, and the refused
tab's message still contains "already have an active session" (rule 4). The harness fails every
test on any page error, console error, `.py-error`, CSP violation or request to another host.
"""

import re

import pytest
from playwright.sync_api import expect

from tabs import html_data, sign_in, tab_id_of

# The words are the demo's Python, the same in every engine: both interpreters, on Chromium only.
pytestmark = [pytest.mark.pyodide_engines("chromium"), pytest.mark.micropython_engines("chromium")]

WITHIN_MS = 2000  # rule 9's second, and a tick of the tab list
CLOCK = r"\d\d:\d\d"


def notice_title(page):
    return page.locator("#notice-title")


def tab_item(page, tab_id):
    return page.locator(f'#tabs li[data-tab-id="{tab_id}"]')


def name_of(page, tab_id):
    """The name the page gives a tab in its list (read even while the list is hidden)."""
    return tab_item(page, tab_id).locator(".tab-name").text_content().strip()


def test_first_visit_invites_to_sign_in(open_tab):
    """Signed out with no reason: the page says what the demo is and offers the form."""
    page = open_tab("/")

    assert ("signed-out", None) == (html_data(page)["tabState"], html_data(page).get("reason"))
    title = notice_title(page).inner_text().strip()
    detail = page.locator("#notice-detail").inner_text().strip()
    assert title.startswith("Sign in"), title
    assert "signed out" not in (title + " " + detail).lower()
    assert "tabs" in detail
    assert page.locator("#login-form").is_visible()


def test_a_refused_tab_names_the_tab_that_has_the_session(open_tab, wait_state):
    """A second tab is refused and names the first; the first tab's list names both."""
    first = sign_in(open_tab("/"))
    second = open_tab("/")
    wait_state(second, "blocked")
    first_id, second_id = tab_id_of(first), tab_id_of(second)

    # The refused tab names the first by its number and the time it was opened (both tabs
    # number the tabs alike: by when they were opened).
    expect(notice_title(second)).to_have_text(re.compile(
        r"^You already have an active session in another tab \(Tab 1, opened " + CLOCK + r"\)\.$"),
        timeout=WITHIN_MS)
    assert name_of(second, first_id) in notice_title(second).inner_text()
    assert "already have an active session" in second.locator("#notice").inner_text()

    # The active tab: "This tab", and the newcomer by number and the time it was seen to open.
    expect(tab_item(first, second_id)).to_have_attribute("data-state", "blocked", timeout=WITHIN_MS)
    assert "This tab" == name_of(first, first_id)
    assert re.fullmatch(r"Tab 2, opened " + CLOCK, name_of(first, second_id)), name_of(first, second_id)
    assert "active" == tab_item(first, first_id).get_attribute("data-state")
    # The short id stays at hand for the curious.
    for tab_id in (first_id, second_id):
        assert tab_id[:6] in tab_item(first, tab_id).get_attribute("title")
    # The event log names tabs the same way, without ids.
    # (text contents: the log is folded under "Session details", where inner_text reads nothing)
    log = " ".join(first.locator("#event-log li .log-text").all_text_contents())
    assert "Tab 2 opened" in log and second_id[:6] not in log, log


def test_a_refused_tab_follows_where_the_session_goes(open_tab, wait_state):
    """The session moves from Tab 1 to a third tab: the refused tab's notice names that one."""
    first = sign_in(open_tab("/"))
    second = open_tab("/")
    wait_state(second, "blocked")
    expect(notice_title(second)).to_contain_text("(Tab 1, opened ", timeout=WITHIN_MS)

    third = open_tab("/")
    wait_state(third, "blocked")
    third.click("#use-here")
    wait_state(third, "active", WITHIN_MS)
    wait_state(first, "moved", WITHIN_MS)

    expect(notice_title(second)).to_have_text(re.compile(
        r"^You already have an active session in another tab \(Tab 3, opened " + CLOCK + r"\)\.$"),
        timeout=WITHIN_MS)
    assert "already have an active session" in second.locator("#announce").text_content()
    assert "blocked" == html_data(second)["tabState"]


@pytest.mark.no_pyodide_twin("the list elsewhere comes from the server; the words are the same Python")
def test_a_refused_profile_says_the_session_is_on_another_device_or_browser(new_context, new_tab, serve,
                                                                            runtime, wait_state):
    """S3: the user's place is held in another profile: no tab of this one is active, so the
    refused tab says the session is on another device or browser, and so does its list of the
    user's tabs elsewhere (kept, while hidden with the rest of #app)."""
    server = serve(runtime, authority="server")
    first = sign_in(new_tab(new_context(), server, "/"), name="bob")
    second = new_tab(new_context(), server, "/")
    second.fill("#login-form input[name=username]", "bob")
    second.click("#login-form button[type=submit]")
    wait_state(second, "blocked", 20_000)

    expect(notice_title(second)).to_have_text(
        "You already have an active session on another device or browser.", timeout=WITHIN_MS)
    assert "Use here" in second.locator("#notice-detail").inner_text()
    elsewhere = second.locator("#tabs-elsewhere li[data-elsewhere]")
    expect(elsewhere).to_have_count(1, timeout=WITHIN_MS)
    assert "On another device or browser" in elsewhere.text_content()
    assert "active" == first.get_attribute("html", "data-tab-state")
