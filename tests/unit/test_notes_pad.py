"""The demo's notes pad keeps one user's notes in one stored value, and treats anything else
under its key (corrupt, wrong-typed, another version, oversized, another user's) as no notes
(pages/notes.py; the browser half is tested by tests/e2e/test_demo_notes.py)."""

import json

import pytest

from pages import notes, texts

SAVED = 1700000000.25


def stored(**changes):
    """A stored value as the pad writes it, with ``changes`` to its fields (None: left out)."""
    value = {"v": 1, "user": "alice", "text": "milk, eggs", "saved": SAVED}
    value.update(changes)
    return json.dumps({name: field for name, field in value.items() if field is not None})


def test_a_saved_value_reads_back_for_its_user():
    """What notes_value stores, parse_notes gives back: the text and when it was saved."""
    raw = notes.notes_value("alice", "milk, eggs\nbread ✓", SAVED)

    assert ("milk, eggs\nbread ✓", SAVED) == notes.parse_notes(raw, "alice")


def test_the_stored_value_has_the_documented_shape():
    """{"v": 1, "user": NAME, "text": TEXT, "saved": epoch seconds as a float}."""
    value = json.loads(notes.notes_value("alice", "hi", 1700000000))

    assert {"v": 1, "user": "alice", "text": "hi", "saved": 1700000000.0} == value
    assert isinstance(value["saved"], float)


def test_empty_notes_are_notes():
    """An emptied pad is saved as empty text, not as no notes."""
    assert ("", SAVED) == notes.parse_notes(stored(text=""), "alice")


def test_another_users_notes_are_not_shown():
    """One pad per browser profile: bob does not see alice's notes."""
    assert notes.parse_notes(stored(), "bob") is None


@pytest.mark.parametrize("raw", [
    None, "", "{", "not json", "null", "[]", "42", '"text"', "{}",
    "\ud800",  # a lone surrogate: what a broken writer may leave
])
def test_nothing_or_corrupt_json_is_no_notes(raw):
    """Nothing stored, or text that is not the pad's JSON: no notes, never an error."""
    assert notes.parse_notes(raw, "alice") is None


@pytest.mark.parametrize("changes", [
    {"v": 2}, {"v": 0}, {"v": "1"}, {"v": True}, {"v": None},
    {"user": None}, {"user": 7}, {"user": ["alice"]},
    {"text": None}, {"text": 5}, {"text": ["milk"]}, {"text": {"a": 1}},
    {"saved": None}, {"saved": "1700000000"}, {"saved": True}, {"saved": -1}, {"saved": 1e300},
], ids=lambda changes: repr(changes))
def test_wrong_types_and_other_versions_are_no_notes(changes):
    """A field missing, of the wrong type, or another version of the format: no notes."""
    assert notes.parse_notes(stored(**changes), "alice") is None


def test_oversized_text_is_no_notes():
    """More than 20,000 characters was never written by the pad: no notes."""
    at_limit = "x" * notes.MAX_TEXT_CHARS

    assert (at_limit, SAVED) == notes.parse_notes(stored(text=at_limit), "alice")
    assert notes.parse_notes(stored(text=at_limit + "x"), "alice") is None


def test_an_oversized_value_is_no_notes_without_being_parsed():
    """A value longer than any the pad writes is dropped by its length alone."""
    raw = stored(text="") + " " * notes.MAX_VALUE_CHARS

    assert notes.parse_notes(raw, "alice") is None


def test_the_longest_notes_fit_the_longest_value():
    """Every character escaped, the longest name: still within MAX_VALUE_CHARS, so it reads back."""
    text = "\x01" * notes.MAX_TEXT_CHARS  # JSON writes \u0001: six characters each
    name = "\x02" * notes.MAX_USER_CHARS

    raw = notes.notes_value(name, text, SAVED)

    assert len(raw) <= notes.MAX_VALUE_CHARS
    assert (text, SAVED) == notes.parse_notes(raw, name)


def test_notes_over_the_limit_are_refused_when_building_the_value():
    """The pad never stores what it would not read back."""
    with pytest.raises(ValueError):
        notes.notes_value("alice", "x" * (notes.MAX_TEXT_CHARS + 1), SAVED)


@pytest.mark.parametrize("name, words", [
    ("QuotaExceededError", "Not saved: this site's storage in the browser is full."),
    ("SecurityError", "Not saved: the browser does not let this site use storage."),
    ("InvalidStateError", "Not saved: the browser refused to store your notes (InvalidStateError)."),
    ("", "Not saved: the browser refused to store your notes (Error)."),
])
def test_a_refused_save_says_why(name, words):
    """The status line names the failure as the session's own storage messages do."""
    assert words == texts.notes_not_saved(name)
