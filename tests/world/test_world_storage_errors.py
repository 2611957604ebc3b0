"""Storage failing in simulated tabs (rule 11, issue 16): the page is told which error it was.

The real driver runs on the fake browser; a tab's storage adapter is made to fail the way a
browser's does (its probe at start, or a write), and the view must receive the error's name,
which the page's texts turn into a message of its own.
"""

import pytest

import fake_browser
from fake_browser import World
from pages import texts
from tabsession.core import records as rec


def fail_writes(tab, name):
    """From now on every write of this page's storage adapter fails with ``name``, as setItem
    throwing does."""
    tab.page.driver.storage.write = lambda area, key, value: name


def signed_in_world():
    world = World()
    tab = world.open("/")
    world.sign_in(tab, "alice")
    return world, tab


@pytest.mark.parametrize("name", ["SecurityError", "QuotaExceededError"])
def test_storage_unusable_from_the_start_names_its_error(monkeypatch, name):
    """The start-up probe fails (access denied, or a full area): error, storage-unavailable, and
    the view knows which, so the message fits."""
    monkeypatch.setattr(fake_browser.FakeStorage, "problem", lambda self: name)
    world = World()

    tab = world.open("/")

    assert (rec.ERROR, rec.STORAGE_UNAVAILABLE, name, "/") == (
        tab.state, tab.reason, tab.page.storage_error, tab.path)


def test_a_full_area_in_an_active_tab_says_it_is_full_and_frees_the_place():
    """An active tab whose activity write hits the quota: the error names QuotaExceededError (the
    page then says the storage is full), and a further tab is admitted in its place."""
    world, tab = signed_in_world()
    world.advance(2)
    fail_writes(tab, "QuotaExceededError")

    world.activity(tab)
    world.advance(2)
    other = world.open("/")

    assert (rec.ERROR, "QuotaExceededError", texts.QUOTA_FULL, rec.ACTIVE) == (
        tab.state, tab.page.storage_error, texts.storage_error_kind(tab.page.storage_error), other.state)


def test_a_sign_in_whose_write_fails_names_the_error():
    """A sign-in that cannot be stored, for a reason of no known kind: the error names it, and the
    message says so plainly."""
    world = World()
    tab = world.open("/login")
    fail_writes(tab, "InvalidStateError")

    world.sign_in(tab, "alice")

    title, detail = texts.storage_error_message(tab.page.storage_error)
    assert (rec.ERROR, rec.STORAGE_UNAVAILABLE, "InvalidStateError", True) == (
        tab.state, tab.reason, tab.page.storage_error, "InvalidStateError" in detail)


def test_the_other_tabs_show_no_storage_error():
    """The failure is one tab's: the others' pages carry no storage error."""
    world, tab = signed_in_world()
    blocked = world.open("/")
    fail_writes(tab, "QuotaExceededError")

    world.activity(tab)
    world.advance(2)

    assert (rec.ERROR, None) == (tab.state, blocked.page.storage_error)
