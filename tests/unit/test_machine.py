"""The per-tab machine driven directly, event by event, with the exact commands it returns."""

import pytest

from tabsession.core import commands as cmd
from tabsession.core import events as ev
from tabsession.core import records as rec
from tabsession.core import snapshots
from tabsession.core import wire
from tabsession.core.machine import USERNAME_ERROR, TabSession, UsageError
from tabsession.core.settings import DEFAULTS, TAKEOVER, Settings

T0 = 1700000000.0
TAB_A = "a" * 32
TAB_B = "b" * 32
TAB_C = "c" * 32
TAB_D = "d" * 32
FRESH = "f" * 32
TOKEN = "1" * 32
OTHER_TOKEN = "2" * 32
IDLE = DEFAULTS["idle_timeout"]
WARN = DEFAULTS["warn_before"]
ABSOLUTE = DEFAULTS["absolute_timeout"]


# ------------------------------------------------------------------ factories
def make_settings(**changes):
    values = dict(DEFAULTS)
    values.update(changes)
    return Settings(**values)


def session_raw(token=TOKEN, user="alice", at=T0):
    return rec.Session(token, user, at).encode()


def ended_raw(reason, token=TOKEN, at=T0):
    return rec.EndedSession(token, reason, at).encode()


def activity_raw(at, token=TOKEN):
    return rec.Activity(token, at).encode()


def memory(tab_id=TAB_A, token=None, slot=None, use_here=False):
    return rec.TabMemory(tab_id, token, slot, use_here)


def other_tab(tab_id, state=rec.ACTIVE, slot=0, last_active=T0, page="app", opened=T0):
    return rec.TabRecord(tab_id, state, page, slot, opened, last_active)


def snapshot(session=None, activity=None, tabs=(), live=None):
    """Storage as a tab reads it; by default every listed tab is alive (holds its lock)."""
    tab_raws = {}
    for record in tabs:
        tab_raws[record.tab_id] = record.encode()
    live_ids = [record.tab_id for record in tabs] if live is None else list(live)
    held = [record.slot for record in tabs if record.tab_id in live_ids and record.state == rec.ACTIVE
            and record.slot is not None]
    return ev.Snapshot(session, activity, tab_raws, live_ids, held)


def signed_in(activity_at=T0, tabs=(), live=None, token=TOKEN):
    return snapshot(session_raw(token=token), activity_raw(activity_at, token=token), tabs, live)


def started(page="app", here=None, memory_raw=None, snap=None, fresh=FRESH, now=T0):
    if here is None:
        here = "/" if page == "app" else "/login"
    return ev.Started(now, page, here, memory_raw, snap or snapshot(), fresh)


def machine(**changes):
    return TabSession(make_settings(**changes))


def booted(session_settings=None, **started_changes):
    """A machine fed Started (and, when it asks, TabLockClaimed(free=True)); returns it and all commands."""
    tab = TabSession(session_settings or make_settings())
    commands = tab.handle(started(**started_changes))
    if commands and isinstance(commands[0], cmd.ClaimTabLock):
        commands += tab.handle(ev.TabLockClaimed(True))
    return tab, commands


def active_tab(session_settings=None, now=T0, snap=None, slot=0, tab_id=TAB_A):
    """A tab on the app page that was granted ``slot`` at ``now``."""
    snap = snap or signed_in()
    tab, _ = booted(session_settings, snap=snap, fresh=tab_id, now=now)
    if tab.settings.max_tabs:
        tab.handle(ev.SlotGranted(now, slot))
    return tab


def login_tab(session_settings=None, here="/login?next=%2F", snap=None, now=T0):
    return booted(session_settings, page="login", here=here, snap=snap,
                  memory_raw=memory(TAB_A).encode(), now=now)


def of_type(commands, *types):
    return [command for command in commands if isinstance(command, types)]


def shown(commands):
    """(state, reason) of each Show command."""
    return [(command.state, command.reason) for command in of_type(commands, cmd.Show)]


def navigations(commands):
    return [command.url for command in of_type(commands, cmd.Navigate)]


def stored(commands, key):
    return [command.value for command in of_type(commands, cmd.Store) if command.key == key]


def store_memory(value):
    return cmd.Store(cmd.SESSION, rec.TAB_MEMORY_KEY, value.encode())


def store_record(record):
    return cmd.Store(cmd.LOCAL, rec.tab_key(record.tab_id), record.encode())


# ------------------------------------------------------------ new tab, signed out
def test_new_tab_on_app_page_signed_out_goes_to_login():
    """A new tab on / with no session shows signed-out and goes to /login?next=%2F."""
    tab = machine()

    actual = tab.handle(started())

    record = rec.TabRecord(FRESH, rec.SIGNED_OUT, "app", None, T0, T0, since=T0, seen=T0)
    assert [
        cmd.HoldTabLock(FRESH),
        store_memory(memory(FRESH)),  # once: one write per key per handle()
        cmd.Show(rec.SIGNED_OUT, None, FRESH, None),
        store_record(record),
        cmd.Publish(wire.changed(FRESH)),
        # no ShowTabs: the page is about to go
        cmd.Navigate("/login?next=%2F"),
    ] == actual


def test_signed_out_deep_link_keeps_where_the_user_wanted_to_go():
    """A signed-out tab on /reports?x=1 names that path as next."""

    _, commands = booted(here="/reports?x=1")

    assert ["/login?next=%2Freports%3Fx%3D1"] == navigations(commands)


def test_signed_out_on_login_page_stays():
    """The login page without a session shows signed-out and stays."""

    tab, commands = login_tab()

    assert ([(rec.SIGNED_OUT, None)], [], TAB_A) == (shown(commands), navigations(commands), tab.tab_id)


def test_login_page_with_a_stale_reason_fixes_the_url():
    """reason=active-elsewhere with no session left: the URL loses the reason, data-reason too."""

    _, commands = login_tab(here="/login?reason=active-elsewhere&next=%2Freports")

    assert ([cmd.ReplaceUrl("/login?next=%2Freports")], [(rec.SIGNED_OUT, None)]) == \
        (of_type(commands, cmd.ReplaceUrl), shown(commands))


@pytest.mark.parametrize("token, expected", [
    (TOKEN, ("/login?reason=signed-out&next=%2Freports", rec.SIGNED_OUT, rec.REASON_SIGNED_OUT)),
    ("2" * 32, ("/login?next=%2Freports", rec.SIGNED_OUT, None)),
    (None, ("/login?next=%2Freports", rec.SIGNED_OUT, None)),
])
def test_refused_tab_arriving_after_the_end_takes_its_sessions_reason(token, expected):
    """reason=active-elsewhere, and the session has ended since: a tab that remembers that session's
    token was refused by it, and ends with it; any other tab is plainly signed out."""
    raw = rec.TabMemory(TAB_A, token, None, False).encode()

    _, commands = booted(page="login", here="/login?reason=active-elsewhere&next=%2Freports",
                         snap=snapshot(ended_raw(rec.REASON_SIGNED_OUT)), memory_raw=raw)

    [(state, reason)] = shown(commands)
    assert expected == ([command.url for command in of_type(commands, cmd.ReplaceUrl)][0], state, reason)


@pytest.mark.parametrize("query", ["reason=bogus", "reason=", "reason=%3Cb%3E", "reason=IDLE"])
def test_login_page_with_an_unknown_reason_removes_it_from_the_url(query):
    """A reason that is none of ours (typed, or forged in a link) leaves the URL, so data-reason
    (absent) equals the URL's reason (rule 8 in docs/rules.md)."""

    _, commands = login_tab(here="/login?" + query + "&next=%2Freports")

    assert ([cmd.ReplaceUrl("/login?next=%2Freports")], [(rec.SIGNED_OUT, None)]) == \
        (of_type(commands, cmd.ReplaceUrl), shown(commands))


@pytest.mark.parametrize("reason,state", [(rec.IDLE, rec.EXPIRED), (rec.REASON_EXPIRED, rec.EXPIRED),
                                          (rec.REASON_SIGNED_OUT, rec.SIGNED_OUT)])
def test_login_page_shows_the_end_reason_of_its_url(reason, state):
    """/login?reason=idle shows expired/idle; signed-out shows signed-out/signed-out."""

    _, commands = login_tab(here="/login?reason=" + reason, snap=snapshot(ended_raw(reason)))

    assert ([(state, reason)], []) == (shown(commands), of_type(commands, cmd.ReplaceUrl))


def test_expired_stays_expired_when_the_clock_goes_back():
    """The login page after an idle end stays expired even if its clock reads before the end."""

    _, commands = login_tab(here="/login?reason=idle", snap=snapshot(ended_raw(rec.IDLE, at=T0 + 900)),
                            now=T0 + 10)

    assert [(rec.EXPIRED, rec.IDLE)] == shown(commands)


# ------------------------------------------------------------------- sign in
def test_sign_in_stores_the_session_and_goes_to_next():
    """A valid name (trimmed) writes session, activity and memory, wakes others, goes to next."""
    tab, _ = login_tab(here="/login?next=%2Freports")

    actual = tab.handle(ev.SignInSubmitted(T0 + 5, "  alice  ", TOKEN))

    assert [
        cmd.Store(cmd.LOCAL, rec.SESSION_KEY, rec.Session(TOKEN, "alice", T0 + 5).encode()),
        cmd.Store(cmd.LOCAL, rec.ACTIVITY_KEY, rec.Activity(TOKEN, T0 + 5).encode()),
        store_memory(rec.TabMemory(TAB_A, TOKEN, None, False, True)),  # signed in here
        cmd.Publish(wire.changed(TAB_A)),
        cmd.Navigate("/reports"),
    ] == actual


def test_the_tab_that_signed_in_is_not_refused_by_a_tab_that_followed_it():
    """Arriving from its own sign-in to find every slot taken (a sign-in page that followed
    got there first), the tab takes the least recently active tab's slot instead of being
    refused, under either policy."""
    raw = rec.TabMemory(TAB_A, TOKEN, None, False, True).encode()
    snap = signed_in(tabs=[other_tab(TAB_B, slot=0)])
    tab, _ = booted(snap=snap, memory_raw=raw)

    commands = tab.handle(ev.SlotsBusy(T0 + 1))

    assert ([cmd.StealSlot(0)], []) == (of_type(commands, cmd.StealSlot), shown(commands))


@pytest.mark.parametrize("raw", [
    '{"v": 1, "id": "%s", "token": null, "slot": null, "use_here": false, "signed_in": false}' % TAB_A,
    '{"v": 1, "id": "%s", "token": null, "slot": null, "use_here": false, "signed_in": 1}' % TAB_A,
])
def test_tab_memory_with_a_bad_signed_in_flag_is_junk(raw):
    """signed_in is written only as true; anything else under that name is not ours."""

    assert rec.decode_tab_memory(raw) is None


def test_sign_in_accepts_64_characters():
    """A name of exactly 64 characters after trimming is accepted."""
    tab, _ = login_tab()

    commands = tab.handle(ev.SignInSubmitted(T0, " " + "x" * 64 + " ", TOKEN))

    assert ["/"] == navigations(commands)


@pytest.mark.parametrize("username", ["", "   ", "\t \n", "x" * 65, "bo\x00b", "bo\tb", "bob\x7f",
                                      "b\x85ob", None, 42, ["bob"]],
                         ids=lambda name: repr(name)[:20])
def test_sign_in_refuses_bad_names(username):
    """Blank, too long, control characters or not text: the page says what is wrong and stays."""
    tab, _ = login_tab()

    actual = tab.handle(ev.SignInSubmitted(T0, username, TOKEN))

    assert [cmd.ShowLoginError(USERNAME_ERROR)] == actual


def test_sign_in_after_an_error_works():
    """A refused name does not stop a good one from signing in."""
    tab, _ = login_tab()
    tab.handle(ev.SignInSubmitted(T0, "", TOKEN))

    commands = tab.handle(ev.SignInSubmitted(T0 + 1, "bob", TOKEN))

    assert ["/"] == navigations(commands)


def test_sign_in_on_app_page_is_ignored():
    """The sign-in event means nothing outside the login page."""
    tab = active_tab()

    actual = tab.handle(ev.SignInSubmitted(T0, "mallory", OTHER_TOKEN))

    assert [] == actual


def test_sign_in_with_a_bad_token_is_our_bug():
    """The shell must supply a 128-bit token: anything else is a UsageError."""
    tab, _ = login_tab()

    with pytest.raises(UsageError):
        tab.handle(ev.SignInSubmitted(T0, "alice", "not-a-token"))


def test_login_page_with_live_session_goes_to_next():
    """Opening /login while signed in goes on to next."""

    _, commands = login_tab(here="/login?next=%2Freports", snap=signed_in())

    assert ["/reports"] == navigations(commands)


def test_login_page_refuses_an_unsafe_next():
    """next=//evil.example is replaced by /."""

    _, commands = login_tab(here="/login?next=%2F%2Fevil.example", snap=signed_in())

    assert ["/"] == navigations(commands)


# ---------------------------------------------------------------- admission
def test_app_page_with_live_session_asks_for_a_slot():
    """A signed-in new tab asks for the slots in order."""

    _, commands = booted(make_settings(max_tabs=3), snap=signed_in())

    assert [cmd.AcquireSlot([0, 1, 2])] == of_type(commands, cmd.AcquireSlot)


def test_slot_granted_makes_the_tab_active():
    """SlotGranted: memory, active, the record, activity, and the clock."""
    tab, _ = booted(snap=signed_in())

    actual = tab.handle(ev.SlotGranted(T0 + 1, 0))

    record = rec.TabRecord(FRESH, rec.ACTIVE, "app", 0, T0, T0 + 1, since=T0 + 1, seen=T0 + 1)
    assert [
        store_memory(memory(FRESH, TOKEN, 0)),
        cmd.Show(rec.ACTIVE, None, FRESH, "alice"),
        # the record and the wake-up once, after the activity (one write per key per handle())
        cmd.ShowTabs([cmd.TabView(FRESH, rec.ACTIVE, "app", T0 + 1, True, T0)]),
        cmd.Store(cmd.LOCAL, rec.ACTIVITY_KEY, activity_raw(T0 + 1)),
        store_record(record),
        cmd.Publish(wire.changed(FRESH)),
        cmd.ShowClock(T0 + 1 + IDLE, T0 + ABSOLUTE, False),
    ] == actual


def test_slots_busy_under_block_refuses_the_tab():
    """No free slot under block: blocked/active-elsewhere and off to the login page, remembering
    the session's token but no slot."""
    tab, _ = booted(snap=signed_in(tabs=[other_tab(TAB_B)]))

    commands = tab.handle(ev.SlotsBusy(T0))

    assert ([(rec.BLOCKED, rec.ACTIVE_ELSEWHERE)], ["/login?reason=active-elsewhere"], [], TOKEN, None) == \
        (shown(commands), navigations(commands), of_type(commands, cmd.StealSlot), tab.memory.token,
         tab.memory.slot)


def test_blocked_deep_link_keeps_next():
    """A refused tab that wanted /reports keeps it as next on the login page."""
    tab, _ = booted(snap=signed_in(tabs=[other_tab(TAB_B)]), here="/reports")

    commands = tab.handle(ev.SlotsBusy(T0))

    assert ["/login?reason=active-elsewhere&next=%2Freports"] == navigations(commands)


def test_slots_busy_under_takeover_steals_from_the_least_recently_active():
    """Under takeover the slot of the least recently active live tab is stolen."""
    tabs = [other_tab(TAB_B, slot=0, last_active=T0 - 10), other_tab(TAB_C, slot=1, last_active=T0 - 50),
            other_tab(TAB_D, slot=0, last_active=T0 - 900)]  # D: a dead tab's leftover record
    snap = signed_in(tabs=tabs, live=[TAB_B, TAB_C])
    tab, _ = booted(make_settings(max_tabs=2, policy=TAKEOVER), snap=snap)

    actual = tab.handle(ev.SlotsBusy(T0))

    assert [cmd.StealSlot(1)] == actual


def test_takeover_ties_go_to_the_oldest_tab():
    """Equal activity: the tab opened first is moved."""
    tabs = [other_tab(TAB_B, slot=0, opened=T0 - 5), other_tab(TAB_C, slot=1, opened=T0 - 9)]
    tab, _ = booted(make_settings(max_tabs=2, policy=TAKEOVER), snap=signed_in(tabs=tabs))

    actual = tab.handle(ev.SlotsBusy(T0))

    assert [cmd.StealSlot(1)] == actual


def test_takeover_prefers_a_slot_no_live_tab_claims():
    """When a slot's holder is gone from the records, that slot is taken instead of moving anyone."""
    snap = signed_in(tabs=[other_tab(TAB_B, slot=1)])
    tab, _ = booted(make_settings(max_tabs=2, policy=TAKEOVER), snap=snap)

    actual = tab.handle(ev.SlotsBusy(T0))

    assert [cmd.StealSlot(0)] == actual


def test_stolen_slot_granted_makes_the_tab_active():
    """After StealSlot, SlotGranted makes the tab active."""
    tab, _ = booted(make_settings(policy=TAKEOVER), snap=signed_in(tabs=[other_tab(TAB_B)]))
    tab.handle(ev.SlotsBusy(T0))

    commands = tab.handle(ev.SlotGranted(T0, 0))

    assert ([(rec.ACTIVE, None)], 0) == (shown(commands), tab.slot)


def test_slot_lost_moves_the_tab():
    """SlotLost for the tab's own slot: moved/taken-over, memory forgets the slot, no navigation."""
    tab = active_tab()

    commands = tab.handle(ev.SlotLost(T0 + 3, 0))

    assert ([(rec.MOVED, rec.TAKEN_OVER)], [], [store_memory(memory(TAB_A, TOKEN))]) == \
        (shown(commands), navigations(commands),
         [command for command in of_type(commands, cmd.Store) if command.key == rec.TAB_MEMORY_KEY])


def test_slot_lost_for_another_slot_is_ignored():
    """A SlotLost that names a slot this tab does not hold changes nothing."""
    tab = active_tab(make_settings(max_tabs=2), slot=1)

    actual = tab.handle(ev.SlotLost(T0, 0))

    assert ([], rec.ACTIVE) == (actual, tab.state)


def test_use_here_from_moved_steals_back():
    """A moved tab's use-here steals the slot of the least recently active live tab."""
    tab = active_tab(make_settings(max_tabs=2), slot=1)
    tab.handle(ev.SlotLost(T0 + 1, 1))
    snap = signed_in(tabs=[other_tab(TAB_B, slot=0, last_active=T0 + 2),
                           other_tab(TAB_C, slot=1, last_active=T0 + 1)])

    commands = tab.handle(ev.UseHereClicked(T0 + 5, snap))
    commands += tab.handle(ev.SlotGranted(T0 + 5, 1))

    assert ([cmd.StealSlot(1)], [(rec.ACTIVE, None)]) == (of_type(commands, cmd.StealSlot), shown(commands))


def test_use_here_when_active_is_ignored():
    """Only a blocked or moved tab can take the session here."""
    tab = active_tab()

    actual = tab.handle(ev.UseHereClicked(T0, signed_in(tabs=[other_tab(TAB_B)])))

    assert [] == actual


def test_login_page_with_reason_active_elsewhere_and_live_session_is_blocked():
    """/login?reason=active-elsewhere while signed in: blocked, and stays."""

    _, commands = login_tab(here="/login?reason=active-elsewhere", snap=signed_in(tabs=[other_tab(TAB_B)]))

    assert ([(rec.BLOCKED, rec.ACTIVE_ELSEWHERE)], []) == (shown(commands), navigations(commands))


def test_use_here_on_login_page_steals_then_goes_to_the_app_page():
    """Blocked on /login: use-here steals the slot, remembers it, and goes to next."""
    snap = signed_in(tabs=[other_tab(TAB_B)])
    tab, _ = login_tab(here="/login?reason=active-elsewhere&next=%2Freports", snap=snap)

    commands = tab.handle(ev.UseHereClicked(T0 + 1, snap))
    commands += tab.handle(ev.SlotGranted(T0 + 1, 0))

    assert [cmd.StealSlot(0), store_memory(memory(TAB_A, TOKEN, 0, True)), cmd.Navigate("/reports")] == commands


def test_app_page_after_use_here_steals_its_remembered_slot():
    """The app page reached through use-here takes its remembered slot back at once."""
    snap = signed_in(tabs=[other_tab(TAB_B, slot=1)])
    tab, commands = booted(make_settings(max_tabs=2), snap=snap,
                           memory_raw=memory(TAB_A, TOKEN, 0, True).encode())

    commands += tab.handle(ev.SlotGranted(T0, 0))

    assert ([cmd.StealSlot(0)], [(rec.ACTIVE, None)], memory(TAB_A, TOKEN, 0, False)) == \
        (of_type(commands, cmd.StealSlot), shown(commands), tab.memory)


# --------------------------------------------------------- identity, reload
def test_reload_keeps_the_id_and_asks_for_its_slot_first():
    """Memory present and the tab lock free: same id, remembered slot tried first."""
    tab = machine(max_tabs=3)

    commands = tab.handle(started(snap=signed_in(), memory_raw=memory(TAB_A, TOKEN, 2).encode()))
    commands += tab.handle(ev.TabLockClaimed(True))

    assert ([cmd.ClaimTabLock(TAB_A), store_memory(memory(TAB_A, TOKEN, 2)),
             cmd.AcquireSlot([2, 0, 1])], TAB_A) == (commands, tab.tab_id)


def test_remembered_slot_of_an_old_session_is_not_preferred():
    """A slot remembered under another session's token gives no preference."""

    _, commands = booted(make_settings(max_tabs=3), snap=signed_in(),
                         memory_raw=memory(TAB_A, OTHER_TOKEN, 2).encode())

    assert [cmd.AcquireSlot([0, 1, 2])] == of_type(commands, cmd.AcquireSlot)


def test_probe_held_means_a_copy_fresh_id_and_memory_reset():
    """The remembered id's lock is held by a live tab: this is a copy; it takes a fresh id."""
    tab = machine(max_tabs=3)

    commands = tab.handle(started(snap=signed_in(), memory_raw=memory(TAB_A, TOKEN, 2).encode()))
    commands += tab.handle(ev.TabLockClaimed(False))

    assert ([cmd.ClaimTabLock(TAB_A), cmd.HoldTabLock(FRESH), store_memory(memory(FRESH)),
             cmd.AcquireSlot([0, 1, 2])], FRESH) == (commands, tab.tab_id)


def test_corrupt_memory_is_repaired_and_a_fresh_id_taken():
    """Junk in sessionStorage is removed and the tab starts afresh."""
    tab = machine()

    commands = tab.handle(started(memory_raw='{"v": 1, "id": "x"}', snap=signed_in()))

    assert ([memory(FRESH).encode()], FRESH) == (stored(commands, rec.TAB_MEMORY_KEY), tab.tab_id)


# ------------------------------------------------------------------- logout
def test_logout_ends_the_session_for_everyone():
    """Logout writes an ended record, clears activity, frees the slot and goes to the login page."""
    tab = active_tab()

    commands = tab.handle(ev.SignOutClicked(T0 + 30))

    assert ([ended_raw(rec.REASON_SIGNED_OUT, at=T0 + 30)], [None], 1, [(rec.SIGNED_OUT, rec.REASON_SIGNED_OUT)],
            ["/login?reason=signed-out"]) == \
        (stored(commands, rec.SESSION_KEY), stored(commands, rec.ACTIVITY_KEY),
         len(of_type(commands, cmd.ReleaseSlot)), shown(commands), navigations(commands))


def test_after_logout_the_machine_is_leaving():
    """Once leaving, later events change nothing."""
    tab = active_tab()
    tab.handle(ev.SignOutClicked(T0 + 30))

    actual = tab.handle(ev.Observed(T0 + 31, signed_in()))

    assert [] == actual


@pytest.mark.parametrize("reason,state", [(rec.REASON_SIGNED_OUT, rec.SIGNED_OUT), (rec.IDLE, rec.EXPIRED),
                                          (rec.REASON_EXPIRED, rec.EXPIRED)])
def test_another_tabs_ended_record_is_followed_with_its_reason(reason, state):
    """An ended record for our session: leave for the login page with the same reason."""
    tab = active_tab()

    commands = tab.handle(ev.Observed(T0 + 10, snapshot(ended_raw(reason))))

    assert ([(state, reason)], ["/login?reason=" + reason], 1) == \
        (shown(commands), navigations(commands), len(of_type(commands, cmd.ReleaseSlot)))


def test_a_tab_following_a_logout_leaves_quietly():
    """Following another tab's logout writes no record and wakes no one, on leaving or hiding:
    the ended record already told every tab (issue 8: ten tabs announcing made a storm)."""
    tab = active_tab()

    commands = tab.handle(ev.Observed(T0 + 10, snapshot(ended_raw(rec.REASON_SIGNED_OUT))))
    commands += tab.handle(ev.PageHidden(T0 + 10))

    assert ([], [None], [rec.SIGNED_OUT]) == \
        (of_type(commands, cmd.Publish), stored(commands, rec.tab_key(TAB_A)),
         [command.state for command in of_type(commands, cmd.Show)])


def test_the_tab_that_logs_out_announces_it():
    """The acting tab still writes its record and wakes the others, and again when it hides."""
    tab = active_tab()

    commands = tab.handle(ev.SignOutClicked(T0 + 30))
    commands += tab.handle(ev.PageHidden(T0 + 30))

    assert (2, 2) == (len(of_type(commands, cmd.Publish)), len(stored(commands, rec.tab_key(TAB_A))))


@pytest.mark.parametrize("state_of", ["moved", "blocked"])
def test_moved_and_blocked_tabs_follow_a_logout(state_of):
    """A moved tab on / and a blocked tab on /login both follow the logout."""
    if state_of == "moved":
        tab = active_tab()
        tab.handle(ev.SlotLost(T0, 0))
    else:
        tab, _ = login_tab(here="/login?reason=active-elsewhere", snap=signed_in(tabs=[other_tab(TAB_B)]))

    commands = tab.handle(ev.Observed(T0 + 10, snapshot(ended_raw(rec.REASON_SIGNED_OUT))))

    assert ["/login?reason=signed-out"] == navigations(commands)


def test_ended_record_of_another_session_reads_as_signed_out():
    """An ended record with a token not ours still ends this tab, as signed-out."""
    tab = active_tab()

    commands = tab.handle(ev.Observed(T0 + 10, snapshot(ended_raw(rec.IDLE, token=OTHER_TOKEN))))

    assert ["/login?reason=signed-out"] == navigations(commands)


def test_vanished_session_reads_as_signed_out():
    """The session key removed (storage cleared): leave as signed-out."""
    tab = active_tab()

    commands = tab.handle(ev.Observed(T0 + 10, snapshot()))

    assert ["/login?reason=signed-out"] == navigations(commands)


def test_app_page_after_our_session_ended_shows_why():
    """Opening / after our own session ended idle lands on the login page with that reason."""

    _, commands = booted(snap=snapshot(ended_raw(rec.IDLE)), memory_raw=memory(TAB_A, TOKEN, 0).encode())

    assert ["/login?reason=idle"] == navigations(commands)


def test_app_page_after_someone_elses_session_ended_is_plain_signed_out():
    """A new tab that never had the session lands on /login?next=%2F, not on a reason."""

    _, commands = booted(snap=snapshot(ended_raw(rec.IDLE)))

    assert ["/login?next=%2F"] == navigations(commands)


# ---------------------------------------------------------------- deadlines
def test_idle_deadline_passed_ends_the_session_as_idle():
    """No activity for idle_timeout: ended record with reason idle, expired, /login?reason=idle."""
    tab = active_tab()

    commands = tab.handle(ev.Observed(T0 + IDLE, signed_in()))

    assert ([ended_raw(rec.IDLE, at=T0 + IDLE)], [(rec.EXPIRED, rec.IDLE)], ["/login?reason=idle"]) == \
        (stored(commands, rec.SESSION_KEY), shown(commands), navigations(commands))


def test_activity_in_any_tab_moves_the_idle_deadline():
    """Shared activity at T0+500 keeps the session alive at T0+900."""
    tab = active_tab()

    commands = tab.handle(ev.Observed(T0 + IDLE, signed_in(activity_at=T0 + 500)))

    assert ([], rec.ACTIVE) == (navigations(commands), tab.state)


def test_activity_of_another_session_does_not_count():
    """An activity record with another token does not move our idle deadline."""
    tab = active_tab()
    snap = snapshot(session_raw(), activity_raw(T0 + 500, token=OTHER_TOKEN))

    commands = tab.handle(ev.Observed(T0 + IDLE, snap))

    assert ["/login?reason=idle"] == navigations(commands)


def test_absolute_deadline_passed_ends_the_session_as_expired():
    """At the absolute timeout the session ends whatever the activity."""
    tab = active_tab()

    commands = tab.handle(ev.Observed(T0 + ABSOLUTE, signed_in(activity_at=T0 + ABSOLUTE - 1)))

    assert ([(rec.EXPIRED, rec.REASON_EXPIRED)], ["/login?reason=expired"]) == \
        (shown(commands), navigations(commands))


def test_app_page_opened_after_the_deadline_ends_the_session():
    """A tab that starts after the idle deadline ends the session instead of asking for a slot."""

    _, commands = booted(snap=signed_in(), now=T0 + IDLE + 5, memory_raw=memory(TAB_A, TOKEN, 0).encode())

    assert ([ended_raw(rec.IDLE, at=T0 + IDLE + 5)], ["/login?reason=idle"], []) == \
        (stored(commands, rec.SESSION_KEY), navigations(commands), of_type(commands, cmd.AcquireSlot))


def test_warning_window_shows_the_warning():
    """From warn_before seconds before the idle deadline the clock shows the warning."""
    tab = active_tab()

    commands = tab.handle(ev.Observed(T0 + IDLE - WARN, signed_in()))

    assert [cmd.ShowClock(T0 + IDLE, T0 + ABSOLUTE, True)] == of_type(commands, cmd.ShowClock)


def test_no_warning_just_before_the_window():
    """A second before the window, the clock already shown does not change."""
    tab = active_tab()

    commands = tab.handle(ev.Observed(T0 + IDLE - WARN - 1, signed_in()))

    assert ([], rec.ACTIVE) == (of_type(commands, cmd.ShowClock), tab.state)


def test_activity_during_the_warning_does_not_dismiss_it():
    """Once the warning shows, pointer or key activity extends nothing: only the button does."""
    tab = active_tab()
    tab.handle(ev.Observed(T0 + IDLE - WARN + 1, signed_in()))

    commands = tab.handle(ev.UserActive(T0 + IDLE - WARN + 2))

    assert ([], True) == (commands, tab.shown_clock.warning)


def test_activity_before_the_warning_extends_the_idle_time():
    """A second before the warning window, activity is written and moves the deadline."""
    tab = active_tab()
    tab.handle(ev.Observed(T0 + IDLE - WARN - 2, signed_in()))

    commands = tab.handle(ev.UserActive(T0 + IDLE - WARN - 1))

    assert [activity_raw(T0 + IDLE - WARN - 1)] == stored(commands, rec.ACTIVITY_KEY)


def test_stay_signed_in_restarts_the_idle_time():
    """Stay signed in writes activity now and hides the warning."""
    tab = active_tab()
    tab.handle(ev.Observed(T0 + IDLE - 30, signed_in()))

    commands = tab.handle(ev.StaySignedInClicked(T0 + IDLE - 20))

    assert ([activity_raw(T0 + IDLE - 20)], [cmd.ShowClock(T0 + 2 * IDLE - 20, T0 + ABSOLUTE, False)]) == \
        (stored(commands, rec.ACTIVITY_KEY), of_type(commands, cmd.ShowClock))


def test_warning_does_not_go_away_when_the_clock_goes_back():
    """After the warning showed, an earlier clock reading does not hide it."""
    tab = active_tab()
    tab.handle(ev.Observed(T0 + IDLE - 30, signed_in()))

    commands = tab.handle(ev.Observed(T0 + 100, signed_in()))

    assert ([], True) == (of_type(commands, cmd.ShowClock), tab.shown_clock.warning)


def test_clock_going_back_does_not_un_expire():
    """Once the machine has seen a late time, an earlier clock reading still counts as late."""
    tab = active_tab()
    tab.handle(ev.PageHidden(T0 + IDLE + 100))

    commands = tab.handle(ev.Observed(T0 + 10, signed_in()))

    assert ["/login?reason=idle"] == navigations(commands)


def test_next_deadline_is_the_warning_then_the_idle_deadline():
    """The one timer points at the warning, then, once warned, at the idle deadline."""
    tab = active_tab()
    before = tab.next_deadline()
    tab.handle(ev.Observed(T0 + IDLE - WARN, signed_in()))

    actual = (before, tab.next_deadline())

    assert (T0 + IDLE - WARN, T0 + IDLE) == actual


def test_no_deadline_while_signed_out():
    """A signed-out login page has nothing to wake up for."""
    tab, _ = login_tab()

    actual = tab.next_deadline()

    assert None is actual


def test_user_activity_is_written_at_most_once_a_second():
    """Activity within a second of the last write is held back, then written on the next wake-up."""
    tab = active_tab()
    first = tab.handle(ev.UserActive(T0 + 0.5))
    deadline = tab.next_deadline()

    later = tab.handle(ev.Observed(T0 + 1, signed_in()))

    assert ([], T0 + 1, [activity_raw(T0 + 1)]) == (first, deadline, stored(later, rec.ACTIVITY_KEY))


def test_activity_after_the_idle_deadline_does_not_revive_the_session():
    """A focus/pointer event arriving after the idle deadline (tab slept) must not extend it."""
    tab = active_tab()

    commands = tab.handle(ev.UserActive(T0 + IDLE + 100))

    # The only activity write is the removal that goes with ending the session.
    assert (["/login?reason=idle"], [None]) == (navigations(commands), stored(commands, rec.ACTIVITY_KEY))


def test_stay_signed_in_after_the_idle_deadline_does_not_revive_the_session():
    """Clicking stay-signed-in too late ends the session instead of writing fresh activity."""
    tab = active_tab()
    tab.handle(ev.Observed(T0 + IDLE - 10, signed_in()))

    commands = tab.handle(ev.StaySignedInClicked(T0 + IDLE + 5))

    # The only activity write is the removal that goes with ending the session.
    assert (["/login?reason=idle"], [None]) == (navigations(commands), stored(commands, rec.ACTIVITY_KEY))


# ------------------------------------------------------- corrupt shared values
@pytest.mark.parametrize("raw", ["{junk", "null", '{"v": 1, "token": "x"}', '{"v": 2}', "x" * 5000])
def test_corrupt_session_is_repaired_at_start(raw):
    """Junk under the session key is removed and treated as no session."""

    _, commands = booted(snap=snapshot(raw))

    assert ([None], ["/login?next=%2F"]) == (stored(commands, rec.SESSION_KEY), navigations(commands))


def test_corrupt_session_while_active_is_repaired_and_followed():
    """Junk replacing a live session: repaired, and the tab leaves as signed-out."""
    tab = active_tab()

    commands = tab.handle(ev.Observed(T0 + 5, snapshot("{junk")))

    assert ([None], ["/login?reason=signed-out"]) == (stored(commands, rec.SESSION_KEY), navigations(commands))


@pytest.mark.parametrize("page", ["app", "login"])
def test_corrupt_activity_while_signed_out_is_repaired_at_start(page):
    """Junk under the activity key is removed even when there is no session to follow."""

    _, commands = booted(page=page, snap=snapshot(None, "{junk"))

    assert [None] == stored(commands, rec.ACTIVITY_KEY)


def test_corrupt_activity_while_active_is_repaired_and_the_session_kept():
    """Junk replacing the activity record: removed; the session and the tab's state hold."""
    tab = active_tab()

    commands = tab.handle(ev.Observed(T0 + 5, snapshot(session_raw(), '{"v": 1, "token": 7, "at": 1}')))

    assert ([None], [], rec.ACTIVE) == (stored(commands, rec.ACTIVITY_KEY), navigations(commands), tab.state)


def test_valid_activity_is_never_removed():
    """An activity record of another session is not junk: it is left alone."""
    tab = active_tab()

    commands = tab.handle(ev.Observed(T0 + 5, snapshot(session_raw(), activity_raw(T0, token=OTHER_TOKEN))))

    assert [] == stored(commands, rec.ACTIVITY_KEY)


def test_corrupt_and_stale_tab_records_are_pruned():
    """A junk record and a long-dead tab's record are deleted; a live tab's is kept."""
    tab = active_tab()
    snap = signed_in(tabs=[other_tab(TAB_B), other_tab(TAB_C, opened=T0 - 100, last_active=T0 - 100)],
                     live=[TAB_B])
    snap.tab_raws[TAB_D] = "{junk"

    commands = tab.handle(ev.Observed(T0 + 1, snap))

    assert [rec.tab_key(TAB_C), rec.tab_key(TAB_D)] == \
        sorted(command.key for command in of_type(commands, cmd.Store) if command.value is None)


def test_forged_tab_record_under_another_key_is_ignored():
    """A record whose id does not match its key neither shows nor claims a slot."""
    snap = signed_in(tabs=[other_tab(TAB_B)])
    snap.tab_raws[TAB_C] = snap.tab_raws.pop(TAB_B)
    tab, _ = booted(make_settings(policy=TAKEOVER), snap=snap)

    commands = tab.handle(ev.SlotsBusy(T0))

    assert [cmd.StealSlot(0)] == commands


def test_tabs_list_shows_live_tabs_only():
    """ShowTabs lists this tab and the other live tabs, sorted by id."""
    tab = active_tab(tab_id=TAB_B)
    snap = signed_in(tabs=[other_tab(TAB_A, state=rec.BLOCKED, slot=None, page="login"), other_tab(TAB_C)],
                     live=[TAB_A])

    commands = tab.handle(ev.Observed(T0 + 1, snap))

    assert [[(TAB_A, rec.BLOCKED, False), (TAB_B, rec.ACTIVE, True)]] == \
        [[(view.tab_id, view.state, view.is_self) for view in command.tabs]
         for command in of_type(commands, cmd.ShowTabs)]


# --------------------------------------------------------------- unlimited
def test_max_tabs_zero_admits_without_slots():
    """max_tabs 0: a signed-in tab is active at once, with no slot and no lock request."""

    tab, commands = booted(make_settings(max_tabs=0), snap=signed_in(tabs=[other_tab(TAB_B)]))

    assert ([(rec.ACTIVE, None)], [], None) == (shown(commands), of_type(commands, cmd.AcquireSlot), tab.slot)


# ------------------------------------------------------------ storage errors
def test_storage_failure_shows_the_error_and_stops():
    """StorageFailed: error/storage-unavailable, then nothing more."""
    tab = machine()

    first = tab.handle(ev.StorageFailed("SecurityError"))
    later = tab.handle(ev.Observed(T0, snapshot()))

    assert ([(rec.ERROR, rec.STORAGE_UNAVAILABLE)], []) == (shown(first), later)


def test_storage_failure_during_sign_in_shows_the_error_and_undoes_the_sign_in():
    """A store of the sign-in fails (the machine is already leaving for next): the error state
    shows all the same, and what the sign-in may have written is removed."""
    tab, _ = login_tab()
    tab.handle(ev.SignInSubmitted(T0 + 1, "alice", TOKEN))

    commands = tab.handle(ev.StorageFailed("QuotaExceededError"))

    assert ([(rec.ERROR, rec.STORAGE_UNAVAILABLE)], [None], [None], [None]) == (
        shown(commands), stored(commands, rec.SESSION_KEY), stored(commands, rec.ACTIVITY_KEY),
        stored(commands, rec.tab_key(TAB_A)))


def test_storage_failure_while_active_gives_up_the_slot_and_the_record():
    """An active tab whose storage fails shows the error, releases its slot and removes its
    record (removing fits in a full area), and leaves the shared session alone."""
    tab = active_tab()

    commands = tab.handle(ev.StorageFailed("QuotaExceededError"))

    assert [cmd.Show(rec.ERROR, rec.STORAGE_UNAVAILABLE, TAB_A, None, storage_error="QuotaExceededError"),
            cmd.ReleaseSlot(0),
            cmd.Store(cmd.LOCAL, rec.tab_key(TAB_A), None), cmd.Publish(wire.changed(TAB_A))] == commands
    assert (rec.ERROR, None) == (tab.state, tab.slot)


def test_storage_failure_reported_again_changes_nothing():
    """The clean-up's own stores may fail too: a second StorageFailed is ignored (no loop)."""
    tab = active_tab()
    tab.handle(ev.StorageFailed("QuotaExceededError"))

    assert [] == tab.handle(ev.StorageFailed("SecurityError"))


# ------------------------------------------------------------------ misuse
@pytest.mark.parametrize("event", [
    ev.Observed(T0, snapshot()),
    ev.TabLockClaimed(True),
    ev.SlotGranted(T0, 0),
])
def test_events_before_started_are_usage_errors(event):
    """Anything but Started (or StorageFailed) first is the shell's bug."""
    tab = machine()

    with pytest.raises(UsageError):
        tab.handle(event)


def test_started_twice_is_a_usage_error():
    """A machine serves one page load."""
    tab, _ = login_tab()

    with pytest.raises(UsageError):
        tab.handle(started(page="login"))


def test_unknown_page_is_a_usage_error():
    """Only the app and login pages exist."""
    tab = machine()

    with pytest.raises(UsageError):
        tab.handle(started(page="settings"))


def test_non_event_is_a_usage_error():
    """Feeding something that is not an event is the shell's bug."""
    tab = machine()

    with pytest.raises(UsageError):
        tab.handle("Started")


@pytest.mark.parametrize("event", [ev.TabLockClaimed(True), ev.SlotGranted(T0, 0), ev.SlotsBusy(T0)])
def test_answers_nobody_asked_for_are_usage_errors(event):
    """TabLockClaimed, SlotGranted or SlotsBusy without the matching command are the shell's bug."""
    tab, _ = login_tab()

    with pytest.raises(UsageError):
        tab.handle(event)


def test_a_steal_that_did_not_take_leaves_a_blocked_tab_as_it_was():
    """With leases another tab can take the slot in the same instant: the steal answers
    SlotsBusy, and the blocked tab stays blocked (its use-here can be clicked again)."""
    tab, _ = login_tab(here="/login?reason=active-elsewhere", snap=signed_in(tabs=[other_tab(TAB_B)]))
    tab.handle(ev.UseHereClicked(T0 + 1, signed_in(tabs=[other_tab(TAB_B)])))

    commands = tab.handle(ev.SlotsBusy(T0 + 1))

    assert ([], rec.BLOCKED, "settled") == (commands, tab.state, tab.phase)


def test_a_steal_that_did_not_take_on_arrival_refuses_the_tab():
    """An app page that arrived to take a place (use-here memory) and lost the slot to a tab
    writing in the same instant is refused like any tab that finds no place, even under
    takeover (no second steal: two tabs could otherwise take turns for ever)."""
    raw = memory(TAB_A, TOKEN, 0, True).encode()
    tab, commands = booted(make_settings(policy=TAKEOVER), snap=signed_in(tabs=[other_tab(TAB_B)]),
                           memory_raw=raw)

    commands = tab.handle(ev.SlotsBusy(T0 + 1))

    assert ([(rec.BLOCKED, rec.ACTIVE_ELSEWHERE)], [], 1) == \
        (shown(commands), of_type(commands, cmd.StealSlot), len(navigations(commands)))


# ------------------------------------------------------ races found by tests
def test_logout_seen_while_waiting_for_a_slot_is_not_forgotten():
    """Started -> AcquireSlot; the ended record arrives; SlotGranted must not make the tab active."""
    tab, _ = booted(snap=signed_in())
    tab.handle(ev.Observed(T0 + 1, snapshot(ended_raw(rec.REASON_SIGNED_OUT))))

    commands = tab.handle(ev.SlotGranted(T0 + 1, 0))

    assert ["/login?reason=signed-out"] == navigations(commands)


@pytest.mark.parametrize("event", [
    ev.UserActive(T0), ev.UseHereClicked(T0, snapshot()), ev.SignOutClicked(T0),
    ev.StaySignedInClicked(T0), ev.SignInSubmitted(T0, "alice", TOKEN), ev.PageHidden(T0),
])
def test_the_users_actions_before_started_are_ignored(event):
    """A click or key before the page has decided is ignored on purpose, not an error."""
    tab = machine()

    assert ([], rec.BOOTING) == (tab.handle(event), tab.state)


def test_old_refusal_url_without_a_limit_goes_on_to_the_app_page():
    """max_tabs 0 and /login?reason=active-elsewhere (an old URL): the page decides from the
    facts (rule 6), not from its URL: a place is always free, so it goes on to next."""
    snap = signed_in(tabs=[other_tab(TAB_B, slot=None)])

    _, commands = login_tab(make_settings(max_tabs=0), here="/login?reason=active-elsewhere", snap=snap)

    assert ([], ["/"], []) == (of_type(commands, cmd.StealSlot), navigations(commands), shown(commands))


@pytest.mark.parametrize("state_of", ["moved", "blocked"])
def test_waiting_tabs_ask_to_be_woken_by_the_idle_deadline(state_of):
    """A moved or blocked tab still needs a timer no later than the idle deadline."""
    if state_of == "moved":
        tab = active_tab()
        tab.handle(ev.SlotLost(T0, 0))
    else:
        tab, _ = login_tab(here="/login?reason=active-elsewhere", snap=signed_in(tabs=[other_tab(TAB_B)]))

    actual = tab.next_deadline()

    assert actual is not None and actual <= T0 + IDLE


def test_a_tab_leaving_for_the_login_page_draws_no_tab_list():
    """Following a logout, the tab shows its new state and goes: no tab list to draw first."""
    tab = active_tab(snap=signed_in(tabs=[other_tab(TAB_B)]))

    commands = tab.handle(ev.Observed(T0 + 10, snapshot(ended_raw(rec.REASON_SIGNED_OUT), tabs=[other_tab(TAB_B)])))

    assert ([], ["/login?reason=signed-out"]) == (of_type(commands, cmd.ShowTabs), navigations(commands))


# ------------------------------------------------ a sign-in page follows a sign-in elsewhere
def test_sign_in_page_refused_in_place_while_the_signing_tab_is_on_its_way():
    """A fresh session, no slot held yet: the signing tab counts as holding the one place, so
    the sign-in page is refused where it stands (no navigation to race it for the place)."""
    tab, _ = login_tab(here="/login?next=%2Freports")

    commands = tab.handle(ev.Observed(T0 + 1, signed_in()))

    assert ([(rec.BLOCKED, rec.ACTIVE_ELSEWHERE)], [], [cmd.ReplaceUrl("/login?reason=active-elsewhere&next=%2Freports")]) == \
        (shown(commands), navigations(commands), of_type(commands, cmd.ReplaceUrl))


def test_sign_in_page_goes_on_when_a_place_is_left_beside_the_signing_tab():
    """max_tabs 2: one place for the signing tab, one for this page: it goes on to next."""
    tab, _ = login_tab(make_settings(max_tabs=2))

    commands = tab.handle(ev.Observed(T0 + 1, signed_in()))

    assert (["/"], []) == (navigations(commands), shown(commands))


def test_sign_in_page_once_the_signing_tab_is_active_counts_the_held_slots_only():
    """The signing tab is active (its record, its slot): no place is reserved twice."""
    tab, _ = login_tab(make_settings(max_tabs=2))
    signer = rec.TabRecord(TAB_B, rec.ACTIVE, "app", 0, T0, T0, since=T0, seen=T0)

    commands = tab.handle(ev.Observed(T0 + 1, signed_in(tabs=[signer])))

    assert ["/"] == navigations(commands)


def test_the_sign_in_grace_ends():
    """Past the grace, a sign-in no tab has taken a place for reserves nothing."""
    session = rec.Session(TOKEN, "alice", T0)
    snap = signed_in()

    assert (True, False) == (snapshots.signing_in_pending(snap, T0 + 1, session, TAB_A),
                             snapshots.signing_in_pending(snap, T0 + snapshots.SIGN_IN_GRACE_SECONDS, session, TAB_A))


def test_a_place_is_not_free_while_a_record_shows_a_tab_active_that_the_lock_answer_missed():
    """The lock answer is older than a record of a tab that became active since: not free (the
    demo said "a place is free" for a moment while the signing tab arrived)."""
    active = rec.TabRecord(TAB_B, rec.ACTIVE, "app", 0, T0, T0, since=T0, seen=T0)
    snap = ev.Snapshot(session_raw(), activity_raw(T0), {TAB_B: active.encode()}, [TAB_B], [])

    assert (False, True) == (snapshots.place_free(snap, 1), snapshots.place_free(snap, 2))


# ------------------------------------------------------- the server's word (rule M10)
@pytest.mark.parametrize("reason,state", [(rec.REASON_SIGNED_OUT, rec.SIGNED_OUT), (rec.IDLE, rec.EXPIRED),
                                          (rec.REASON_EXPIRED, rec.EXPIRED)])
def test_the_server_ending_the_session_ends_it_for_the_profile(reason, state):
    """Whatever the records say, the server's end is written as an ended record with its reason."""
    tab = active_tab()

    commands = tab.handle(ev.ServerEnded(T0 + 10, reason))

    assert ([ended_raw(reason, at=T0 + 10)], [(state, reason)], ["/login?reason=" + reason], 1) == \
        (stored(commands, rec.SESSION_KEY), shown(commands), navigations(commands),
         len(of_type(commands, cmd.ReleaseSlot)))


def test_the_server_ending_a_session_while_waiting_for_a_place_leaves_for_login():
    """A claim answered 401 comes while the tab waits for its slot: no slot answer follows."""
    tab, _ = booted(snap=signed_in())

    commands = tab.handle(ev.ServerEnded(T0 + 1, rec.IDLE))

    assert (["/login?reason=idle"], []) == (navigations(commands), tab.handle(ev.SlotGranted(T0 + 1, 0)))


def test_the_server_ending_a_session_on_a_sign_in_page_changes_nothing():
    tab, _ = login_tab()

    assert [] == tab.handle(ev.ServerEnded(T0 + 1, rec.REASON_SIGNED_OUT))


def test_the_server_unavailable_is_an_error_with_its_own_reason():
    tab = active_tab()

    commands = tab.handle(ev.StorageFailed(rec.SERVER_UNAVAILABLE))

    assert ([(rec.ERROR, rec.SERVER_UNAVAILABLE)], 1) == (shown(commands), len(of_type(commands, cmd.ReleaseSlot)))


# ------------------------------------------------------------ in place (rule M11)
def in_place(commands):
    """(page, url) of each ShowPage command."""
    return [(command.page, command.url) for command in of_type(commands, cmd.ShowPage)]


def test_in_place_a_signed_out_app_page_shows_the_login_page_without_loading():
    tab = machine()
    commands = tab.handle(ev.Started(T0, "app", "/", None, snapshot(), FRESH, True))

    assert ([("login", "/login?next=%2F")], [], [(rec.SIGNED_OUT, None)], "login") == \
        (in_place(commands), navigations(commands), shown(commands), tab.page)


def test_in_place_a_sign_in_becomes_the_app_page_and_asks_for_a_slot_here():
    tab = machine()
    tab.handle(ev.Started(T0, "login", "/login?next=%2F%3Fweek%3D7", None, snapshot(), FRESH, True))

    commands = tab.handle(ev.SignInSubmitted(T0 + 1, "alice", TOKEN, snapshot()))
    commands += tab.handle(ev.SlotGranted(T0 + 1, 0))

    assert ([("app", "/?week=7")], [], [cmd.AcquireSlot([0])], (rec.ACTIVE, "app", 0)) == \
        (in_place(commands), navigations(commands), of_type(commands, cmd.AcquireSlot),
         (tab.state, tab.page, tab.slot))


def test_in_place_use_here_on_the_login_page_keeps_the_slot_it_took():
    """No second steal and no load: the slot taken on the login page is the app page's."""
    snap = signed_in(tabs=[other_tab(TAB_B)])
    tab = machine()
    tab.handle(ev.Started(T0, "login", "/login?reason=active-elsewhere", memory(TAB_A).encode(), snap,
                          FRESH, True))
    tab.handle(ev.TabLockClaimed(True))

    commands = tab.handle(ev.UseHereClicked(T0 + 1, snap))
    commands += tab.handle(ev.SlotGranted(T0 + 1, 0))

    assert ([cmd.StealSlot(0)], [("app", "/")], [], (rec.ACTIVE, 0)) == \
        (of_type(commands, cmd.StealSlot), in_place(commands), navigations(commands), (tab.state, tab.slot))


def test_in_place_a_sign_out_releases_the_slot_and_shows_the_login_page_with_the_reason():
    tab = TabSession(make_settings())
    tab.handle(ev.Started(T0, "app", "/", None, signed_in(), FRESH, True))
    tab.handle(ev.SlotGranted(T0, 0))

    commands = tab.handle(ev.SignOutClicked(T0 + 5))

    assert ([cmd.ReleaseSlot(0)], [("login", "/login?reason=signed-out")], [],
            [(rec.SIGNED_OUT, rec.REASON_SIGNED_OUT)], (None, False)) == \
        (of_type(commands, cmd.ReleaseSlot), in_place(commands), navigations(commands), shown(commands),
         (tab.session, tab.leaving))


def test_in_place_a_next_the_document_does_not_show_is_loaded():
    tab = machine()
    tab.handle(ev.Started(T0, "login", "/login?next=%2Freports", None, snapshot(), FRESH, True))

    commands = tab.handle(ev.SignInSubmitted(T0 + 1, "alice", TOKEN, snapshot()))

    assert ([], ["/reports"]) == (in_place(commands), navigations(commands))


def test_in_place_a_slot_granted_after_the_session_ended_is_given_back():
    """The server ended the session while the tab, signed in here, waited for its place: the
    late grant is released, not a usage error (a page that loads instead has left by then)."""
    tab = machine()
    tab.handle(ev.Started(T0, "login", "/login", None, snapshot(), FRESH, True))
    tab.handle(ev.SignInSubmitted(T0 + 1, "alice", TOKEN, snapshot()))

    ended = tab.handle(ev.ServerEnded(T0 + 2, rec.REASON_SIGNED_OUT))
    late = tab.handle(ev.SlotGranted(T0 + 3, 0))

    assert ([(rec.SIGNED_OUT, rec.REASON_SIGNED_OUT)], [cmd.ReleaseSlot(0)], rec.SIGNED_OUT) == \
        (shown(ended), late, tab.state)


def test_a_sign_in_whose_tab_holds_its_slot_already_is_counted_once():
    """The tab that signed in holds slot 0 by the lock answer but its record is not active yet:
    with max_tabs 2 a place is still free (it was counted twice: by its slot and as pending)."""
    session = rec.Session(TOKEN, "alice", T0)
    snap = ev.Snapshot(session.encode(), activity_raw(T0), {}, [], [0])

    assert (True, False) == (snapshots.place_free(snap, 2, T0 + 0.1, session, TAB_A),
                             snapshots.place_free(snap, 1, T0 + 0.1, session, TAB_A))


# ------------------------------------------ a session the server knows of at start (M10, S6)
def test_a_sign_in_page_follows_the_servers_session_in_its_first_decision():
    """An origin that never recorded a session, whose profile signed in through another origin
    of the host: the page's first decision is the sign-in's, never the form first."""
    tab = machine()
    commands = tab.handle(ev.Started(T0, "login", "/login?next=%2F", None, snapshot(), FRESH, True,
                                     "bob", TOKEN))
    commands += tab.handle(ev.SlotGranted(T0, 0))

    assert ([(rec.ACTIVE, None)], [("app", "/")], [rec.Session(TOKEN, "bob", T0).encode()],
            (rec.ACTIVE, "bob")) == \
        (shown(commands), in_place(commands), stored(commands, rec.SESSION_KEY),
         (tab.state, tab.session.user))


def test_a_reloaded_sign_in_page_follows_the_servers_session_once_it_knows_who_it_is():
    """With a tab memory the decision waits for the tab lock's answer; the server's word waits
    with it."""
    tab = machine()
    commands = tab.handle(ev.Started(T0, "login", "/login", memory(TAB_A).encode(), snapshot(), FRESH,
                                     True, "bob", TOKEN))
    assert ([], []) == (shown(commands), stored(commands, rec.SESSION_KEY))

    commands = tab.handle(ev.TabLockClaimed(True))

    assert ([rec.Session(TOKEN, "bob", T0).encode()], [cmd.AcquireSlot([0])]) == \
        (stored(commands, rec.SESSION_KEY), of_type(commands, cmd.AcquireSlot))


def test_a_session_recorded_here_wins_over_the_servers_word_at_start():
    """A tab of this origin signed in meanwhile: it is followed as usual, nothing rewritten."""
    tab = machine()
    commands = tab.handle(ev.Started(T0, "login", "/login", None, signed_in(), FRESH, True,
                                     "bob", OTHER_TOKEN))

    assert ([], "alice") == (stored(commands, rec.SESSION_KEY), tab.session.user)


@pytest.mark.parametrize("user", [None, "", "   ", 7, "x" * 65])
def test_no_name_from_the_server_leaves_the_sign_in_form(user):
    tab = machine()
    commands = tab.handle(ev.Started(T0, "login", "/login", None, snapshot(), FRESH, True, user, TOKEN))

    assert ([(rec.SIGNED_OUT, None)], []) == (shown(commands), stored(commands, rec.SESSION_KEY))


def test_the_servers_word_without_a_token_is_our_bug():
    with pytest.raises(UsageError):
        machine().handle(ev.Started(T0, "login", "/login", None, snapshot(), FRESH, True, "bob", None))


def test_an_app_page_with_the_servers_word_records_the_session_and_asks_for_a_place():
    """The app page of a never-recorded origin does not go to the sign-in form first."""
    tab = machine()
    commands = tab.handle(ev.Started(T0, "app", "/", None, snapshot(), FRESH, True, "bob", TOKEN))
    commands += tab.handle(ev.SlotsBusy(T0))

    assert ([rec.Session(TOKEN, "bob", T0).encode()], [cmd.AcquireSlot([0])], [(rec.BLOCKED, rec.ACTIVE_ELSEWHERE)]) == \
        (stored(commands, rec.SESSION_KEY), of_type(commands, cmd.AcquireSlot), shown(commands))
