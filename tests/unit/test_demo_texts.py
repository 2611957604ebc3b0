"""The demo names tabs as people do, and a refused tab says where the session is (the words
live in pages/texts.py; the view picks them)."""

from pages import texts


def test_tabs_are_named_by_number_and_the_time_they_were_first_seen():
    assert ("Tab 2", "Tab 2, opened 18:57", "Tab 1, opened before 18:57") == (
        texts.tab_short_name(2), texts.tab_name(2, "18:57"), texts.tab_name(1, "18:57", before=True))


def test_a_refused_tab_names_the_tab_that_holds_the_session():
    title = texts.blocked_title(["Tab 2, opened 18:57"], 0)

    assert "You already have an active session in another tab (Tab 2, opened 18:57)." == title


def test_a_refused_tab_names_every_tab_that_holds_a_place():
    title = texts.blocked_title(["Tab 1, opened 18:50", "Tab 3, opened 18:52"], 1)

    assert "in other tabs (Tab 1, opened 18:50; Tab 3, opened 18:52)." in title


def test_a_session_held_only_elsewhere_is_said_to_be_on_another_device_or_browser():
    assert "You already have an active session on another device or browser." == texts.blocked_title([], 2)


def test_without_knowing_where_a_refused_tab_keeps_the_plain_message():
    assert texts.STATE_MESSAGES["blocked"][0] == texts.blocked_title([], 0)


def test_every_refused_title_says_already_have_an_active_session():
    titles = [texts.blocked_title(names, elsewhere)
              for names in ([], ["Tab 2, opened 18:57"], ["Tab 2, opened 18:57", "Tab 3, opened 18:58"])
              for elsewhere in (0, 1)]

    assert all("already have an active session" in title for title in titles), titles


def test_a_first_visit_invites_to_sign_in_and_says_what_the_demo_is():
    title, detail = texts.WELCOME

    assert ("Sign in" in title, "signed out" in (title + detail).lower(), "tabs" in detail) == (True, False, True)
