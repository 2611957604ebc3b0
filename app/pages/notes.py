"""The demo's notes pad: what the signed-in user types in ``#notes``, kept in this browser.

The notes are why the demo needs tabsession: two tabs editing one pad would each overwrite what
the other saved. Only the active tab edits (the view opens the pad when the tab becomes active
and closes it when it leaves), and the tab that becomes active reads the latest saved text, so
Use here and takeover move the pad with its text.

One pad per browser profile, in localStorage under ``NOTES_KEY`` as JSON
``{"v": 1, "user": NAME, "text": TEXT, "saved": EPOCH_SECONDS}``. It is shown only to the user
who saved it: another name starts with an empty pad and replaces it on its first save.

The pure half (``parse_notes``, ``notes_value``) imports nothing of the browser, so CPython tests
it (tests/unit/test_notes_pad.py). ``NotesPad`` is the browser half: localStorage goes through
a few lines of JavaScript, because MicroPython cannot catch an exception thrown inside a JS call
(``setItem`` over quota: docs/rules.md, "Platform facts"). It uses nothing of tabsession.
"""

import json

NOTES_KEY = "tabsession-demo:notes"
VERSION = 1
MAX_TEXT_CHARS = 20000  # also the textarea's maxlength (index.html)
MAX_USER_CHARS = 64  # a user name's limit (sign-in refuses longer ones)
# The longest value we could have written: every character JSON-escaped (\\uXXXX), plus the
# rest of the object. Only this much crosses into Python: a longer value is not ours.
MAX_VALUE_CHARS = 6 * (MAX_TEXT_CHARS + MAX_USER_CHARS) + 200


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_notes(raw, user):
    """``(text, saved)`` of ``user``'s notes in the stored value ``raw``, or None: no notes.

    None for nothing stored, another user's notes, and anything we did not write: text that is
    not JSON, wrong types, another version, a text over ``MAX_TEXT_CHARS``. Never raises.
    """
    if not isinstance(raw, str) or not raw or len(raw) > MAX_VALUE_CHARS:
        return None
    try:
        value = json.loads(raw)
    except Exception:  # noqa: BLE001 - ValueError in CPython, other types elsewhere: not ours
        return None
    if not isinstance(value, dict):
        return None
    version, name, text, saved = value.get("v"), value.get("user"), value.get("text"), value.get("saved")
    if not _is_number(version) or version != VERSION:
        return None
    if not isinstance(name, str) or not isinstance(text, str) or not _is_number(saved):
        return None
    if len(text) > MAX_TEXT_CHARS or not 0 <= saved < 1e11:  # 1e11 s: the year 5138 (and no inf)
        return None
    if name != user:
        return None
    return text, float(saved)


def notes_value(user, text, saved):
    """The value to store for ``user``'s ``text`` saved at ``saved`` (epoch seconds)."""
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError("notes longer than " + str(MAX_TEXT_CHARS) + " characters")
    return json.dumps({"v": VERSION, "user": user, "text": text, "saved": float(saved)})


# localStorage through JS try/catch. read: "" (no item), "v" + the value, or "e" + the error's
# name; write: "" or the error's name. Strings only, so both interpreters read them alike.
STORAGE_SOURCE = """
"use strict";
const nameOf = (error) => String((error && error.name) || error || "Error");
return {
  read(key, maxChars) {
    try {
      const value = window.localStorage.getItem(key);
      return value === null ? "" : "v" + String(value).slice(0, maxChars);
    } catch (error) { return "e" + nameOf(error); }
  },
  write(key, value) {
    try { window.localStorage.setItem(key, value); return ""; }
    catch (error) { return nameOf(error); }
  },
};
"""
_storage = []  # the helper, built on first use (CPython tests never build it)


def _helper():
    if not _storage:
        from pyscript import window

        _storage.append(window.Function(STORAGE_SOURCE)())
    return _storage[0]


def read_stored():
    """(the stored value or None, the error's name or None)."""
    answer = str(_helper().read(NOTES_KEY, MAX_VALUE_CHARS + 1))
    if not answer:
        return None, None
    if answer[0] == "e":
        return None, answer[1:] or "Error"
    return answer[1:], None


def write_stored(value):
    """Store ``value``; returns None, or the name of the error the browser threw."""
    return str(_helper().write(NOTES_KEY, value)) or None


class NotesPad:
    """The textarea and its status line. Closed (disabled, empty) until ``open(user)``.

    ``textarea`` and ``status`` are the elements (None: the page has no pad, and nothing
    happens); ``now`` gives epoch seconds; ``words`` is pages.texts (what the status says);
    ``clock_label(epoch_seconds)`` says when, as "18:57:03".
    """

    def __init__(self, textarea, status, now, words, clock_label):
        self.textarea = textarea
        self.status = status
        self.now = now
        self.words = words
        self.clock_label = clock_label
        self.user = None  # whose notes are open; None: the pad is closed
        self.seen = None  # the stored value as this tab last read or wrote it

    def open(self, user):
        """Show ``user``'s latest saved notes and let them be edited (again: nothing)."""
        if self.textarea is None or user == self.user:
            return
        raw, error = read_stored()
        notes = parse_notes(raw, user)
        self.user = user
        self.seen = raw
        self.textarea.value = notes[0] if notes is not None else ""
        self.textarea.disabled = False
        if error is not None:
            self.say(self.words.notes_not_saved(error))
        elif notes is not None:
            self.say(self.words.NOTES_SAVED + self.clock_label(notes[1]))
        else:
            self.say(self.words.NOTES_EMPTY)

    def save(self):
        """Store what the pad holds now (on every input: localStorage is synchronous)."""
        if self.textarea is None or self.user is None:
            return
        text = str(self.textarea.value)
        if len(text) > MAX_TEXT_CHARS:
            self.say(self.words.NOTES_TOO_LONG)
            return
        saved = self.now()
        value = notes_value(self.user, text, saved)
        error = write_stored(value)
        if error is not None:
            self.say(self.words.notes_not_saved(error))
            return
        self.seen = value
        self.say(self.words.NOTES_SAVED + self.clock_label(saved))

    def flush(self):
        """Save what is not saved yet (a save refused earlier), unless another tab has saved
        since this one last did: a tab that is leaving must not overwrite newer notes."""
        if self.textarea is None or self.user is None:
            return
        raw, error = read_stored()
        if error is not None or raw != self.seen:
            return
        notes = parse_notes(raw, self.user)
        if (notes[0] if notes is not None else "") != str(self.textarea.value):
            self.save()

    def close(self):
        """The tab is no longer active: save what is due, then empty and disable the pad."""
        if self.textarea is None:
            return
        self.flush()
        self.user = None
        self.seen = None
        self.textarea.value = ""
        self.textarea.disabled = True
        self.say("")

    def say(self, words):
        if self.status is not None:
            self.status.textContent = words
