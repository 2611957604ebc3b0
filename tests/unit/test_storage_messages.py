"""Each storage failure says what is true and what helps (issue 16, rule 11 in docs/rules.md):
the error's name travels from ``StorageFailed`` to ``Show``, and the page's texts pick the
message by it."""

import pytest

from pages import texts
from tabsession.core import commands as cmd
from tabsession.core import events as ev
from tabsession.core import records as rec
from tabsession.core.machine import TabSession
from tabsession.core.settings import DEFAULTS, Settings


def shown_after(detail):
    """The Show a fresh tab's machine returns when storage fails with ``detail``."""
    commands = TabSession(Settings(**DEFAULTS)).handle(ev.StorageFailed(detail))
    return [command for command in commands if type(command) is cmd.Show][0]


# ------------------------------------------------------------ the name travels
@pytest.mark.parametrize("name", ["QuotaExceededError", "SecurityError", "InvalidStateError"])
def test_the_error_shown_names_the_storage_failure(name):
    """StorageFailed(name): the error state, reason storage-unavailable, and the name with it."""
    show = shown_after(name)

    assert (rec.ERROR, rec.STORAGE_UNAVAILABLE, name) == (show.state, show.reason, show.storage_error)


def test_the_server_unavailable_carries_no_storage_error():
    """The server's failure has its own reason; it names no storage error."""
    show = shown_after(rec.SERVER_UNAVAILABLE)

    assert (rec.ERROR, rec.SERVER_UNAVAILABLE, None) == (show.state, show.reason, show.storage_error)


def test_a_show_names_no_storage_error_unless_told():
    """Every other Show (active, blocked...) leaves the field at None."""
    show = cmd.Show(rec.ACTIVE, None, "a" * 32, "alice")

    assert (False, None) == (show.place_free, show.storage_error)


# ------------------------------------------------------------ the messages
@pytest.mark.parametrize("name, kind", [
    ("QuotaExceededError", texts.QUOTA_FULL),
    ("NS_ERROR_DOM_QUOTA_REACHED", texts.QUOTA_FULL),
    ("SecurityError", texts.ACCESS_DENIED),
    ("InvalidStateError", texts.WRITE_FAILED),
    ("TypeError", texts.WRITE_FAILED),
    ("UnknownError", texts.WRITE_FAILED),
])
def test_each_error_name_has_its_kind(name, kind):
    """A full area, a blocked one, and anything else (a write that failed)."""
    assert kind == texts.storage_error_kind(name)


def test_a_full_storage_says_it_is_full_and_how_to_free_it():
    """Quota: the site's storage is full; clear this site's data. Not "private browsing"."""
    title, detail = texts.storage_error_message("QuotaExceededError")

    assert (True, True, False) == (
        "storage in the browser is full" in detail, "clearing this site's data" in detail,
        "private" in (title + detail).lower())


def test_blocked_storage_says_it_is_blocked_and_what_allows_it():
    """SecurityError: blocked by the browser's settings or a private mode; allow site data."""
    title, detail = texts.storage_error_message("SecurityError")

    assert (True, True, True, False) == (
        "does not let this site use storage" in detail, "settings" in detail and "private" in detail,
        "Allow site data" in detail, "full" in (title + detail))


def test_any_other_failure_names_the_error():
    """A failure of no known kind says plainly that storage failed, with the error's name."""
    title, detail = texts.storage_error_message("InvalidStateError")

    assert (True, True, False, False) == (
        "storage failed" in detail, "(InvalidStateError)" in detail, "private" in (title + detail).lower(),
        "full" in (title + detail))


def test_a_long_error_name_is_cut():
    """A thrown value's text can be anything: the message keeps a short prefix of it."""
    _, detail = texts.storage_error_message("X" * 500)

    assert ("X" * texts.MAX_ERROR_NAME_CHARS in detail, "X" * (texts.MAX_ERROR_NAME_CHARS + 1) in detail) == \
        (True, False)


@pytest.mark.parametrize("name", [None, ""])
def test_no_error_name_gives_the_general_message(name):
    """An error state without a name (none was reported) gets the general storage message."""
    assert texts.STATE_MESSAGES["error"] == texts.storage_error_message(name)


@pytest.mark.parametrize("name", [None, "QuotaExceededError", "SecurityError", "InvalidStateError"])
def test_every_storage_message_mentions_storage_and_reloading(name):
    """Rule 11: a readable message that says it is about storage and what to do next."""
    title, detail = texts.storage_error_message(name)

    assert (True, True) == ("storage" in (title + detail), "reload the page" in detail.lower())


def test_the_three_kinds_read_differently():
    """The title is the state's (the page cannot keep a session); no two kinds of failure share
    a detail or a line of the event log."""
    names = ("QuotaExceededError", "SecurityError", "InvalidStateError")
    messages = [texts.storage_error_message(name) for name in names]

    assert ({texts.STATE_MESSAGES["error"][0]}, 3, 3) == (
        {title for title, _ in messages}, len({detail for _, detail in messages}),
        len({texts.storage_error_log(name) for name in names}))


@pytest.mark.parametrize("name, words", [
    ("QuotaExceededError", "full"), ("SecurityError", "blocks"), ("InvalidStateError", "(InvalidStateError)"),
    (None, "cannot keep a session")])
def test_the_event_log_says_which_failure(name, words):
    assert words in texts.storage_error_log(name)


def test_the_server_unavailable_keeps_its_own_text():
    """server-unavailable is not a storage failure: its text stays as it was."""
    title, detail = texts.ERROR_MESSAGES[rec.SERVER_UNAVAILABLE]

    assert ("The server cannot be reached.", False) == (title, "storage" in detail)
