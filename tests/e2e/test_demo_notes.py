"""The demo's notes pad, the app that needs tabsession: one tab edits the notes at a time.

Typed notes are saved in this browser as they are typed and come back after a reload; a refused
tab that takes the session with Use here shows what the first tab typed, and the first tab, now
moved, keeps none of it on screen; a corrupt value under the pad's key is no notes, not an
error (pages/notes.py; its pure half: tests/unit/test_notes_pad.py). The harness fails every
test on any page error, console error, `.py-error`, CSP violation or request to another host.
"""

import json
import re

import pytest
from playwright.sync_api import expect

from tabs import sign_in, tab_id_of

# The pad is the demo's Python, the same in every engine: both interpreters, on Chromium only.
pytestmark = [pytest.mark.pyodide_engines("chromium"), pytest.mark.micropython_engines("chromium")]

NOTES_KEY = "tabsession-demo:notes"
WITHIN_MS = 2000  # rule 4's second to move, and /api/me's answer with the server as the authority
SAVED = re.compile(r"^Saved in this browser at \d\d:\d\d:\d\d$")


def stored_notes(page):
    """The pad's stored value, parsed (None: nothing stored)."""
    raw = page.evaluate("(key) => localStorage.getItem(key)", NOTES_KEY)
    return None if raw is None else json.loads(raw)


def type_notes(page, text):
    """Type into the pad as a person does (an input event per key) and wait until it is saved."""
    pad = page.locator("#notes")
    pad.click()
    pad.press_sequentially(text)
    expect(page.locator("#notes-status")).to_have_text(SAVED, timeout=WITHIN_MS)


@pytest.mark.parametrize("authority", ["server", "browser"])
def test_notes_come_back_after_a_reload_and_only_to_their_user(serve, runtime, open_tab, wait_state,
                                                                authority):
    """Typed notes are saved as they are typed and shown again after a reload (the name comes
    from /api/me with the server as the authority, from the session's record without it);
    another user signing in on the same browser starts with an empty pad."""
    server = serve(runtime, authority=authority)
    page = sign_in(open_tab("/", server=server), name="alice")
    pad = page.locator("#notes")
    expect(pad).to_be_editable(timeout=WITHIN_MS)
    expect(pad).to_have_value("")

    type_notes(page, "Buy milk\nCall Ada")
    assert {"v": 1, "user": "alice", "text": "Buy milk\nCall Ada"} == \
        {name: value for name, value in stored_notes(page).items() if name != "saved"}

    page.reload()
    wait_state(page, "active")
    expect(pad).to_have_value("Buy milk\nCall Ada", timeout=WITHIN_MS)
    expect(pad).to_be_editable()
    expect(page.locator("#notes-status")).to_have_text(SAVED)

    page.click("#logout")
    wait_state(page, "signed-out")
    expect(pad).to_have_value("")
    expect(pad).to_be_disabled()
    sign_in(page, name="bob")
    expect(pad).to_be_editable(timeout=WITHIN_MS)
    expect(pad).to_have_value("")
    assert "alice" == stored_notes(page)["user"]  # kept until bob saves his own


def test_use_here_moves_the_pad_with_its_text(open_tab, wait_state):
    """Block policy: the second tab is refused; its Use here brings the notes typed in the first,
    and the first tab, moved, shows none of them. What the second tab types next is kept."""
    first = sign_in(open_tab("/"))
    type_notes(first, "Draft: tabs must not fight")
    second = open_tab("/")
    wait_state(second, "blocked")
    expect(second.locator("#use-here")).to_be_visible()
    expect(second.locator("#notes")).to_have_value("")  # a refused tab shows nothing

    second.click("#use-here")
    wait_state(second, "active", WITHIN_MS)
    wait_state(first, "moved", WITHIN_MS)

    expect(second.locator("#notes")).to_have_value("Draft: tabs must not fight", timeout=WITHIN_MS)
    expect(second.locator("#notes")).to_be_editable()
    expect(first.locator("#notes")).to_have_value("")
    expect(first.locator("#notes")).to_be_disabled()

    type_notes(second, " (done)")
    first.wait_for_timeout(500)  # the moved tab has nothing left to write
    assert "Draft: tabs must not fight (done)" == stored_notes(first)["text"]
    assert tab_id_of(first) != tab_id_of(second)


@pytest.mark.parametrize("planted", [
    '{"v": 1, "user": "alice", "text": "cut sh',  # corrupt JSON
    '{"v": 1, "user": "alice", "text": ["milk"], "saved": 1700000000}',  # a wrong type
])
def test_a_corrupt_stored_value_is_an_empty_pad(open_tab, planted):
    """What the pad did not write under its key is no notes: an empty pad, no error; the first
    save replaces it."""
    page = open_tab("/")
    page.evaluate("([key, value]) => localStorage.setItem(key, value)", [NOTES_KEY, planted])

    sign_in(page, name="alice")

    pad = page.locator("#notes")
    expect(pad).to_be_editable(timeout=WITHIN_MS)
    expect(pad).to_have_value("")
    expect(page.locator("#notes-status")).to_have_text(re.compile(r"^Nothing saved yet"))
    type_notes(page, "fresh")
    assert "fresh" == stored_notes(page)["text"]
