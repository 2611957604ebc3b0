"""The protected page works at any path (bug 4 of issue 12: the docstring said only ``/``)."""

from fake_browser import World
from tabsession.core import records as rec


def test_a_protected_page_away_from_the_root_signs_in_back_to_itself():
    """Signed out at /reports/7?x=1: the login page names it, and sign-in returns there, active."""
    world = World()
    tab = world.open("/reports/7?x=1")
    at_login = tab.path

    world.sign_in(tab, "alice")

    assert ("/login?next=%2Freports%2F7%3Fx%3D1", "/reports/7?x=1", rec.ACTIVE) == (at_login, tab.path, tab.state)


def test_a_refused_tab_away_from_the_root_keeps_its_path():
    """Refused at /reports, the tab's login page keeps next=/reports, and its use-here returns there."""
    world = World()
    first = world.open("/")
    world.sign_in(first, "alice")
    second = world.open("/reports")
    refused_at = second.path

    world.click_use_here(second)

    assert ("/login?reason=active-elsewhere&next=%2Freports", "/reports", rec.ACTIVE, rec.MOVED) == \
        (refused_at, second.path, second.state, first.state)


def test_a_sign_in_page_at_login_html_works_as_at_login():
    """Issue 17: on a plain static server the sign-in page is /login.html (login_path). Signed out,
    a protected page goes there with next; the sign-in returns; a refused tab lands there with its
    reason, and its Use here works."""
    world = World(login_path="/login.html")
    first = world.open("/notes")
    at_login = first.path
    world.sign_in(first, "alice")
    signed_in_at = first.path
    second = world.open("/")
    refused_at = second.path

    world.click_use_here(second)

    assert ("/login.html?next=%2Fnotes", "/notes", "/login.html?reason=active-elsewhere") == \
        (at_login, signed_in_at, refused_at)
    assert (rec.ACTIVE, rec.MOVED) == (second.state, first.state)
