"""The server's lease registry driven directly with a fake clock, one rule (R1-R17) at a time."""

import ast
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tabsession.server import registry
from tabsession.server.registry import (CONFLICT, MOVED_MEMORY, UNAUTHORIZED, Deadlines, Denied, Ended,
                                        Granted, Lease, Moved, PlaceFree, Policy, Refused, Session,
                                        TabEntry, UserRecord)

T0 = 1700000000.0
IDLE = 900
ABSOLUTE = 28800
WARN = 60
RETENTION = 3600


# ------------------------------------------------------------------ factories
def make_policy(**changes):
    values = {"idle_seconds": IDLE, "absolute_seconds": ABSOLUTE, "warn_seconds": WARN,
              "retention_seconds": RETENTION}
    values.update(changes)
    return Policy(**values)


class Account:
    """One user's record, kept between calls, with the fake clock the calls pass as ``now``."""

    def __init__(self, policy=None, user="alice"):
        self.policy = policy or make_policy()
        self.record = UserRecord(user)
        self.now = T0
        self.keys = 0

    def write(self, operation, *arguments):
        change = operation(self.record, self.policy, self.now, *arguments)
        self.record = change.record
        return change.result, list(change.notices)

    def read(self, reading, *arguments):
        return reading(self.record, self.policy, self.now, *arguments)

    def sign_in(self, sid):
        return self.write(registry.sign_in, sid)[0]

    def claim(self, sid, tab_id, use_here=False):
        self.keys += 1
        return self.write(registry.claim, sid, tab_id, use_here, "key-%d" % self.keys)

    def granted(self, sid, tab_id, use_here=False):
        granted, _ = self.claim(sid, tab_id, use_here)
        assert isinstance(granted, Granted)
        return granted

    def check(self, sid, tab_id, granted):
        return self.read(registry.check, sid, tab_id, granted.epoch, granted.key)

    def touch(self, sid, tab_id, granted):
        return self.write(registry.touch, sid, tab_id, granted.epoch, granted.key)


def active_elsewhere():
    return Refused(CONFLICT, "active-elsewhere")


def taken_over():
    return Refused(CONFLICT, "taken-over")


def denied(reason):
    return Denied(UNAUTHORIZED, reason)


# ------------------------------------------------------------------ purity (R1)
SERVER = Path(registry.__file__).parent
PURE_IMPORTS = {
    "registry.py": {"hmac", "dataclasses", "typing", "tabsession.core.records", "tabsession.core.settings"},
    "store.py": {"__future__", "json", "typing", "tabsession.server.registry"},
}


def imported_modules(name):
    tree = ast.parse((SERVER / name).read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
    return found


@pytest.mark.parametrize("name", sorted(PURE_IMPORTS))
def test_the_rules_and_the_store_interface_import_no_clock_randomness_io_or_framework(name):
    """registry.py and store.py import only what they are allowed (no time, secrets, os, starlette...)."""

    actual = imported_modules(name) - PURE_IMPORTS[name]

    assert set() == actual


# ------------------------------------------------------------------ Policy
@pytest.mark.parametrize("changes", [
    {"max_tabs": -1}, {"max_tabs": 1.5}, {"max_tabs": True}, {"policy": "steal"},
    {"idle_seconds": 0}, {"absolute_seconds": -5}, {"absolute_seconds": "8h"},
    {"warn_seconds": -1}, {"warn_seconds": IDLE}, {"retention_seconds": None},
])
def test_a_bad_policy_is_our_misuse(changes):
    """Policy refuses values that would make the rules meaningless."""

    with pytest.raises(ValueError):
        make_policy(**changes)


def test_policy_defaults_match_the_pages_defaults():
    """One tab, block, 15 minutes idle, 8 hours absolute, a minute's warning."""

    actual = Policy()

    assert (1, "block", 900, 28800, 60) == (actual.max_tabs, actual.policy, actual.idle_seconds,
                                            actual.absolute_seconds, actual.warn_seconds)


# ------------------------------------------------------------------ R1, JSON
def test_a_record_round_trips_through_json():
    """Stores keep records as JSON: to_dict, json and from_dict give back an equal record."""
    account = Account(make_policy(max_tabs=2, policy="takeover"))
    account.sign_in("s1")
    account.sign_in("s2")
    account.granted("s1", "t1")
    account.granted("s2", "t2")
    account.granted("s2", "t3")
    account.write(registry.sign_out, "s1")

    actual = UserRecord.from_dict(json.loads(json.dumps(account.record.to_dict())))

    assert account.record == actual


def test_the_limit_counts_tabs_across_every_session_of_the_user():
    """Two profiles of one user share max_tabs (S3)."""
    account = Account()
    account.sign_in("laptop")
    account.sign_in("phone")
    account.granted("laptop", "t1")

    actual, _ = account.claim("phone", "t2")

    assert active_elsewhere() == actual


def test_other_users_do_not_share_places():
    """The limit is per user: another user's record is untouched by this one's tabs."""
    alice, bob = Account(user="alice"), Account(user="bob")
    alice.sign_in("a")
    bob.sign_in("b")
    alice.granted("a", "t")

    actual, _ = bob.claim("b", "t")

    assert isinstance(actual, Granted)


# ------------------------------------------------------------------ R2
def test_a_clock_set_back_does_not_extend_a_session():
    """The record's time never goes backwards: idle at T0+IDLE even if now later reads earlier."""
    account = Account()
    account.sign_in("s")
    account.now = T0 + IDLE - 1
    account.write(registry.expire)
    account.now = T0 + IDLE

    account.write(registry.expire)
    account.now = T0  # the clock jumps back an idle period
    actual = account.read(registry.live_session, "s")

    assert denied("idle") == actual


def test_activity_reported_by_a_clock_set_back_counts_from_the_record_time():
    """A touch after the clock went back moves last_activity to the record's time, not before."""
    account = Account()
    account.sign_in("s")
    granted = account.granted("s", "t")
    account.now = T0 + 100
    account.write(registry.expire)
    account.now = T0 + 10

    deadlines, _ = account.touch("s", "t", granted)

    assert T0 + 100 + IDLE == deadlines.idle_at


# ------------------------------------------------------------------ R3
def test_a_session_is_live_until_just_before_its_idle_deadline():
    """Live at idle_at - epsilon, ended "idle" at idle_at."""
    account = Account()
    session = account.sign_in("s")
    account.now = T0 + IDLE - 0.001
    assert session == account.read(registry.live_session, "s")

    account.now = T0 + IDLE
    actual = account.read(registry.live_session, "s")

    assert denied("idle") == actual


def test_activity_keeps_a_session_until_its_absolute_deadline():
    """Touching keeps the idle deadline away, but the absolute one ends it with "expired"."""
    account = Account()
    account.sign_in("s")
    granted = account.granted("s", "t")
    while account.now + IDLE / 2 < T0 + ABSOLUTE:
        account.now += IDLE / 2
        assert isinstance(account.touch("s", "t", granted)[0], Deadlines)

    account.now = T0 + ABSOLUTE
    actual = account.read(registry.check, "s", "t", granted.epoch, granted.key)

    assert denied("expired") == actual


def test_the_earlier_deadline_gives_the_reason():
    """With a short absolute limit the session ends "expired" even though idle is also past."""
    account = Account(make_policy(absolute_seconds=IDLE / 2))
    account.sign_in("s")
    account.now = T0 + 10 * IDLE

    _, notices = account.write(registry.expire)

    assert [Ended("s", "expired")] == notices


def test_a_tie_between_deadlines_counts_as_expired():
    """idle_at == absolute_at: the reason is "expired"."""
    account = Account(make_policy(absolute_seconds=IDLE))
    account.sign_in("s")
    account.now = T0 + IDLE

    actual = account.read(registry.live_session, "s")

    assert denied("expired") == actual


def test_no_limits_means_a_session_never_times_out():
    """idle_seconds and absolute_seconds None: live forever, no due time, no warning."""
    account = Account(make_policy(idle_seconds=None, absolute_seconds=None))
    session = account.sign_in("s")
    account.now = T0 + 10 ** 9

    actual = (account.read(registry.live_session, "s"), account.record.due,
              registry.deadlines(session, account.policy))

    assert (session, None, Deadlines(None, None, None)) == actual


def test_the_sweep_ends_a_session_at_its_deadline_and_says_so_once():
    """expire: Ended and PlaceFree for a session with a place; a second sweep says nothing."""
    account = Account()
    account.sign_in("s")
    account.granted("s", "t")
    account.now = T0 + IDLE

    first = account.write(registry.expire)[1]
    second = account.write(registry.expire)[1]

    assert ([Ended("s", "idle"), PlaceFree("alice")], []) == (first, second)


def test_the_records_due_time_is_its_next_deadline():
    """due follows last activity; after the end it is the tombstone's end."""
    account = Account()
    account.sign_in("s")
    granted = account.granted("s", "t")
    assert T0 + IDLE == account.record.due
    account.now = T0 + 100
    account.touch("s", "t", granted)
    assert T0 + 100 + IDLE == account.record.due

    account.now = T0 + 100 + IDLE
    account.write(registry.expire)

    assert T0 + 100 + IDLE + RETENTION == account.record.due


def test_a_write_ends_due_sessions_first_and_frees_their_places():
    """A claim after another session's deadline takes the place that session held."""
    account = Account()
    account.sign_in("old")
    account.granted("old", "t1")
    account.now = T0 + IDLE - 10
    account.sign_in("new")
    account.now = T0 + IDLE

    actual, notices = account.claim("new", "t2")

    assert (Granted(0, 3, "key-2"), [Ended("old", "idle"), PlaceFree("alice")]) == (actual, notices)


def test_deadlines_and_remaining_seconds():
    """Absolute server times, and seconds remaining that never go below zero."""
    session = Session("s", "alice", T0, T0 + 100)

    actual = registry.deadlines(session, make_policy())

    assert Deadlines(T0 + 100 + IDLE, T0 + ABSOLUTE, T0 + 100 + IDLE - WARN) == actual
    assert {"idle": IDLE - 50, "absolute": ABSOLUTE - 150, "warn": IDLE - WARN - 50} == actual.remaining(T0 + 150)
    assert {"idle": 0.0, "absolute": 0.0, "warn": 0.0} == actual.remaining(T0 + ABSOLUTE + 1)


def test_no_warning_without_a_warn_time():
    """warn_seconds None: no warn deadline."""

    actual = registry.deadlines(Session("s", "alice", T0, T0), make_policy(warn_seconds=None))

    assert None is actual.warn_at


# ------------------------------------------------------------------ R4
def test_an_ended_session_keeps_its_reason_until_retention_then_reads_signed_out():
    """A tombstone answers its reason; after retention it is forgotten and answers signed-out."""
    account = Account()
    account.sign_in("s")
    account.now = T0 + IDLE
    account.write(registry.expire)
    account.now = T0 + IDLE + RETENTION - 1
    assert denied("idle") == account.read(registry.live_session, "s")

    account.now = T0 + IDLE + RETENTION
    account.write(registry.expire)

    assert (denied("signed-out"), True) == (account.read(registry.live_session, "s"), account.record.is_empty())


def test_an_unknown_session_is_signed_out():
    """A sid no record holds (forged, or from another store) answers 401 signed-out."""

    actual = Account().read(registry.check, "forged", "t", 1, "key")

    assert denied("signed-out") == actual


def test_an_ended_session_cannot_claim_or_touch_or_be_signed_out_again():
    """Nothing revives an ended session (S4)."""
    account = Account()
    account.sign_in("s")
    granted = account.granted("s", "t")
    account.write(registry.sign_out, "s")

    actual = (account.claim("s", "t"), account.touch("s", "t", granted), account.write(registry.sign_out, "s"))

    assert ((denied("signed-out"), []), (denied("signed-out"), []), (False, [])) == actual


# ------------------------------------------------------------------ R5, R7
def test_a_free_place_is_granted_in_the_lowest_free_slot():
    """Slots 0, 1, then 0 again after the tab in slot 0 left."""
    account = Account(make_policy(max_tabs=3))
    account.sign_in("s")
    first = account.granted("s", "t1")
    account.granted("s", "t2")
    account.write(registry.release, "s", "t1", first.epoch, first.key)

    actual = account.granted("s", "t3")

    assert 0 == actual.place_index


def test_block_refuses_a_tab_beyond_the_limit():
    """Policy block, no use-here: Refused 409 active-elsewhere, nothing changes."""
    account = Account(make_policy(max_tabs=2))
    account.sign_in("s")
    account.granted("s", "t1")
    account.granted("s", "t2")
    before = account.record

    actual = account.claim("s", "t3")

    assert ((active_elsewhere(), []), before.places) == (actual, account.record.places)


def test_max_tabs_zero_means_no_limit():
    """max_tabs 0 grants every tab."""
    account = Account(make_policy(max_tabs=0))
    account.sign_in("s")

    actual = [account.granted("s", "t%d" % number).place_index for number in range(5)]

    assert [0, 1, 2, 3, 4] == actual


def test_a_reload_is_granted_its_place_again_with_new_credentials():
    """Same sid and tab id: same slot, a newer epoch, the new key; the old ones are stale."""
    account = Account()
    account.sign_in("s")
    first = account.granted("s", "t")

    second = account.granted("s", "t")

    assert (0, True, "key-2") == (second.place_index, second.epoch > first.epoch, second.key)
    assert taken_over() == account.check("s", "t", first)


@pytest.mark.parametrize("policy, use_here", [("takeover", False), ("block", True)])
def test_a_steal_takes_the_least_recently_active_place(policy, use_here):
    """Takeover (or use-here) moves out the tab whose last activity is oldest, in any session."""
    account = Account(make_policy(max_tabs=2, policy=policy))
    account.sign_in("laptop")
    account.sign_in("phone")
    older = account.granted("laptop", "t1")
    newer = account.granted("phone", "t2")
    account.now += 5
    account.touch("laptop", "t1", older)
    account.now += 5

    actual, notices = account.claim("laptop", "t3", use_here)

    assert (Granted(1, 3, "key-3"), [Moved("phone", "t2")]) == (actual, notices)
    assert taken_over() == account.check("phone", "t2", newer)


def test_equal_activity_steals_the_oldest_grant():
    """Ties on last activity go to the lowest epoch."""
    account = Account(make_policy(max_tabs=2, policy="takeover"))
    account.sign_in("s")
    account.granted("s", "t1")
    account.granted("s", "t2")

    _, notices = account.claim("s", "t3")

    assert [Moved("s", "t1")] == notices


def test_a_claim_needs_a_live_session():
    """A claim of an idle session is Denied 401 idle and grants nothing."""
    account = Account()
    account.sign_in("s")
    account.now = T0 + IDLE

    actual, _ = account.claim("s", "t")

    assert (denied("idle"), ()) == (actual, account.record.places)


# ------------------------------------------------------------------ R6
def test_every_change_to_the_places_bumps_the_epoch():
    """Grant, re-grant, steal, release, drop and a sign-out each bump once; touch does not."""
    account = Account(make_policy(max_tabs=1, policy="takeover"))
    account.sign_in("s")
    account.sign_in("other")
    epochs = []
    first = account.granted("s", "t1")
    epochs.append(account.record.epoch)
    second = account.granted("s", "t1")
    epochs.append(account.record.epoch)
    account.touch("s", "t1", second)
    epochs.append(account.record.epoch)
    account.granted("s", "t2")
    epochs.append(account.record.epoch)
    account.write(registry.drop, "s", "t2")
    epochs.append(account.record.epoch)
    third = account.granted("other", "t3")
    account.write(registry.release, "other", "t3", third.epoch, third.key)
    epochs.append(account.record.epoch)
    account.granted("s", "t1")
    account.write(registry.sign_out, "s")
    epochs.append(account.record.epoch)

    assert ([1, 2, 2, 3, 4, 6, 8], 1) == (epochs, first.epoch)


# ------------------------------------------------------------------ R8
def test_check_accepts_exactly_the_current_credentials():
    """200 with the right epoch and key; a wrong key or epoch is refused."""
    account = Account()
    account.sign_in("s")
    granted = account.granted("s", "t")

    actual = [account.read(registry.check, "s", "t", epoch, key) for epoch, key in
              ((granted.epoch, granted.key), (granted.epoch, "forged"), (granted.epoch + 1, granted.key),
               (str(granted.epoch), granted.key), (granted.epoch, None))]

    assert isinstance(actual[0], tuple) and (granted.epoch, granted.key) == (actual[0][1].epoch, actual[0][1].key)
    assert [taken_over()] * 4 == actual[1:]


def test_check_of_a_tab_that_never_held_a_place_is_active_elsewhere():
    """A refused tab, or one that released its place, answers 409 active-elsewhere."""
    account = Account()
    account.sign_in("s")
    granted = account.granted("s", "t1")
    refused_before = account.read(registry.check, "s", "t2", 1, "key-1")
    account.write(registry.release, "s", "t1", granted.epoch, granted.key)

    actual = (refused_before, account.check("s", "t1", granted))

    assert (active_elsewhere(), active_elsewhere()) == actual


def test_a_tab_moved_out_that_claims_again_and_is_refused_is_active_elsewhere():
    """The moved memory is forgotten when the tab claims again (R13)."""
    account = Account(make_policy(max_tabs=1))
    account.sign_in("s")
    moved = account.granted("s", "t1")
    account.granted("s", "t2", use_here=True)
    assert taken_over() == account.check("s", "t1", moved)

    account.claim("s", "t1")

    assert active_elsewhere() == account.check("s", "t1", moved)


def test_check_after_sign_out_is_denied_signed_out():
    """A request replayed after sign-out gets 401 (S2, S4)."""
    account = Account()
    account.sign_in("s")
    granted = account.granted("s", "t")
    account.write(registry.sign_out, "s")

    actual = account.check("s", "t", granted)

    assert denied("signed-out") == actual


def test_check_changes_nothing():
    """A read past a deadline judges the session ended but keeps the record as it was."""
    account = Account()
    account.sign_in("s")
    granted = account.granted("s", "t")
    before = account.record
    account.now = T0 + IDLE

    actual = account.check("s", "t", granted)

    assert (denied("idle"), before) == (actual, account.record)


# ------------------------------------------------------------------ R9
def test_touch_moves_the_activity_and_answers_the_deadlines():
    """last_activity and last_active become now; the idle deadline moves with them."""
    account = Account()
    account.sign_in("s")
    granted = account.granted("s", "t")
    account.now = T0 + 300

    actual, _ = account.touch("s", "t", granted)

    assert Deadlines(T0 + 300 + IDLE, T0 + ABSOLUTE, T0 + 300 + IDLE - WARN) == actual
    assert (T0 + 300, T0 + 300) == (account.record.sessions[0].last_activity, account.record.places[0].last_active)


def test_touch_with_stale_credentials_changes_nothing():
    """A moved tab's activity report is refused and does not extend the session."""
    account = Account(make_policy(policy="takeover"))
    account.sign_in("s")
    moved = account.granted("s", "t1")
    account.granted("s", "t2")
    before = account.record
    account.now = T0 + 300

    actual, _ = account.touch("s", "t1", moved)

    assert (taken_over(), before.sessions, before.places) == (actual, account.record.sessions, account.record.places)


# ------------------------------------------------------------------ R10
def test_a_stale_release_frees_nothing():
    """After a reload, the old page load's release leaves the new place alone."""
    account = Account()
    account.sign_in("s")
    old = account.granted("s", "t")
    new = account.granted("s", "t")

    actual = account.write(registry.release, "s", "t", old.epoch, old.key)

    assert ((False, []), (new.epoch,)) == (actual, tuple(lease.epoch for lease in account.record.places))


def test_release_frees_the_place_and_says_a_place_is_free():
    """A release with current credentials frees the place: PlaceFree for the user's waiting tabs."""
    account = Account()
    account.sign_in("s")
    granted = account.granted("s", "t")

    actual = account.write(registry.release, "s", "t", granted.epoch, granted.key)

    assert ((True, [PlaceFree("alice")]), ()) == (actual, account.record.places)


def test_drop_frees_a_place_without_its_key():
    """The server saw the tab's connection close: its place is free for another tab."""
    account = Account()
    account.sign_in("s")
    account.granted("s", "t1")

    dropped = account.write(registry.drop, "s", "t1")
    actual, _ = account.claim("s", "t2")

    assert ((True, [PlaceFree("alice")]), 0) == (dropped, actual.place_index)


def test_a_late_drop_of_an_old_connection_leaves_the_reloaded_place():
    """drop with the old epoch after a reload frees nothing; with the current one it frees."""
    account = Account()
    account.sign_in("s")
    old = account.granted("s", "t")
    new = account.granted("s", "t")

    actual = (account.write(registry.drop, "s", "t", old.epoch)[0],
              account.write(registry.drop, "s", "t", new.epoch)[0])

    assert (False, True) == actual


def test_drop_forgets_that_a_tab_was_moved():
    """A moved tab that closed is no longer remembered (R13)."""
    account = Account(make_policy(policy="takeover"))
    account.sign_in("s")
    moved = account.granted("s", "t1")
    account.granted("s", "t2")

    account.write(registry.drop, "s", "t1")

    assert ((), active_elsewhere()) == (account.record.moved, account.check("s", "t1", moved))


# ------------------------------------------------------------------ R11
def test_sign_in_never_ends_another_session():
    """A second profile's sign-in leaves the first one live and its tab active (S4)."""
    account = Account()
    first = account.sign_in("laptop")
    granted = account.granted("laptop", "t")

    account.sign_in("phone")

    assert (first, True) == (account.read(registry.live_session, "laptop"),
                             isinstance(account.check("laptop", "t", granted), tuple))


def test_sign_out_ends_one_session_and_frees_its_places_only():
    """Sign-out: Ended for the session's tabs, its places freed, the other profile untouched."""
    account = Account(make_policy(max_tabs=3))
    account.sign_in("laptop")
    phone = account.sign_in("phone")
    account.granted("laptop", "t1")
    account.granted("laptop", "t2")
    kept = account.granted("phone", "t3")

    actual = account.write(registry.sign_out, "laptop")

    assert (True, [Ended("laptop", "signed-out"), PlaceFree("alice")]) == actual
    assert (phone, ("t3",)) == (account.read(registry.live_session, "phone"),
                                tuple(lease.tab_id for lease in account.record.places))
    assert isinstance(account.check("phone", "t3", kept), tuple)


def test_a_session_id_used_twice_is_our_misuse():
    """sign_in with a sid the record already holds raises ValueError."""
    account = Account()
    account.sign_in("s")

    with pytest.raises(ValueError):
        account.sign_in("s")


# ------------------------------------------------------------------ R12
def test_a_change_tells_each_thing_once():
    """Two sessions ending in one settle: one PlaceFree for the user, one Ended each."""
    account = Account(make_policy(max_tabs=2))
    account.sign_in("a")
    account.sign_in("b")
    account.granted("a", "t1")
    account.granted("b", "t2")
    account.now = T0 + IDLE

    _, notices = account.write(registry.expire)

    assert [Ended("a", "idle"), PlaceFree("alice"), Ended("b", "idle")] == notices


# ------------------------------------------------------------------ R13
def test_the_moved_memory_keeps_only_the_newest_entries():
    """After more than MOVED_MEMORY steals, the oldest moved tab is forgotten."""
    account = Account(make_policy(policy="takeover"))
    account.sign_in("s")
    first = account.granted("s", "t0")
    for number in range(1, MOVED_MEMORY + 2):
        account.granted("s", "t%d" % number)

    actual = (len(account.record.moved), account.check("s", "t0", first), account.record.moved[0])

    assert (MOVED_MEMORY, active_elsewhere(), ("s", "t1")) == actual


def test_a_session_end_forgets_its_moved_tabs():
    """Signing out clears the moved memory of that session."""
    account = Account(make_policy(policy="takeover"))
    account.sign_in("s")
    account.granted("s", "t1")
    account.granted("s", "t2")

    account.write(registry.sign_out, "s")

    assert () == account.record.moved


# ------------------------------------------------------------------ R15
def test_tabs_lists_the_users_places_without_other_sids():
    """Each entry: tab id, last activity, elsewhere when another session holds it."""
    account = Account(make_policy(max_tabs=2))
    account.sign_in("laptop")
    account.sign_in("phone")
    account.granted("laptop", "t1")
    account.now += 7
    account.granted("phone", "t2")

    actual = account.read(registry.tabs, "laptop")

    assert (TabEntry("t1", T0, False), TabEntry("t2", T0 + 7, True)) == actual
    assert "phone" not in repr(actual)


def test_tabs_needs_a_live_session():
    """An ended session lists nothing."""
    account = Account()
    account.sign_in("s")
    account.write(registry.sign_out, "s")

    actual = account.read(registry.tabs, "s")

    assert denied("signed-out") == actual


# ------------------------------------------------------------------ R16
@given(sid=st.text(), tab_id=st.text(), key=st.text(), user=st.text())
def test_any_string_is_safe(sid, tab_id, key, user):
    """Odd names, ids and keys (surrogates, NULs, empty) never crash a rule."""
    account = Account(user=user)
    account.sign_in(sid)
    granted = account.granted(sid, tab_id)

    actual = (account.read(registry.check, sid, tab_id, granted.epoch, key),
              account.read(registry.check, key, tab_id, granted.epoch, key))

    assert isinstance(actual[0], tuple) == (key == granted.key)
    assert key == sid or denied("signed-out") == actual[1]


def test_leases_round_trip_alone():
    """Lease and Session to_dict/from_dict are inverses."""
    lease = Lease("s", "t", 2, 7, "k", T0)
    session = Session("s", "alice", T0, T0 + 1, "idle", T0 + 2)

    actual = (Lease.from_dict(lease.to_dict()), Session.from_dict(session.to_dict()))

    assert (lease, session) == actual


# ------------------------------------------------------------------ R17 orphans
ORPHAN = registry.DEFAULT_ORPHAN_SECONDS


def two_profiles(policy=None):
    account = Account(policy or make_policy(idle_seconds=None, warn_seconds=None))
    account.sign_in("laptop")
    account.sign_in("phone")
    return account


def test_a_place_unheard_of_for_orphan_seconds_is_freed_by_the_next_claim():
    """R17: the laptop's tab went unseen (its server was killed); a minute later the phone's
    claim finds the user full, frees the orphan (its tab told Moved, in case it comes back) and
    takes the place, even under block."""
    account = two_profiles()
    old = account.granted("laptop", "t1")
    account.now += ORPHAN - 1
    early, _ = account.claim("phone", "t2")
    account.now += 1

    granted, notices = account.claim("phone", "t2")

    assert (active_elsewhere(), True) == (early, isinstance(granted, Granted))
    assert [Moved("laptop", "t1"), PlaceFree("alice")] == notices
    assert active_elsewhere() == account.check("laptop", "t1", old)


def test_keep_and_activity_keep_a_place_from_being_an_orphan():
    """A tab whose connection is held (keep) or that reports activity (touch) is heard of; only
    the exact (sid, tab, epoch) counts, and keep changes nobody's place (no epoch bump)."""
    account = two_profiles()
    laptop = account.granted("laptop", "t1")
    account.now += ORPHAN - 10
    kept, _ = account.write(registry.keep, [("laptop", "t1", laptop.epoch), ("laptop", "t1", laptop.epoch + 9),
                                            ("nobody", "t9", 1)])
    epoch_after_keep = account.record.epoch
    account.now += ORPHAN - 10
    account.touch("laptop", "t1", laptop)
    account.now += ORPHAN - 10

    refused, _ = account.claim("phone", "t2")

    assert (1, laptop.epoch, active_elsewhere()) == (kept, epoch_after_keep, refused)
    assert isinstance(account.check("laptop", "t1", laptop), tuple)


def test_reads_leave_orphans_out_but_their_own_tab_still_holds():
    """tabs() lists no orphan (a refused tab sees the place free and claims it); the orphan's own
    credentials still check until someone claims (its tab may come back first)."""
    account = two_profiles()
    laptop = account.granted("laptop", "t1")
    account.now += ORPHAN

    assert () == account.read(registry.tabs, "phone")
    assert isinstance(account.check("laptop", "t1", laptop), tuple)


def test_no_orphans_when_the_policy_says_none():
    account = two_profiles(make_policy(idle_seconds=None, warn_seconds=None, orphan_seconds=None))
    account.granted("laptop", "t1")
    account.now += 10 * ORPHAN

    assert active_elsewhere() == account.claim("phone", "t2")[0]


def test_a_record_written_before_seen_existed_still_reads():
    """Leases kept by an older version have no "seen": they count from their last activity."""
    data = {"sid": "s", "tab_id": "t", "slot": 0, "epoch": 1, "key": "k", "last_active": T0}

    assert (None, T0) == (Lease.from_dict(data).seen, Lease.from_dict(data).heard())
