"""The tab's side of the server authority (browser/server.py) over a fake transport.

``ServerPlaces`` wraps the profile's lock adapter: these tests give it a fake one that grants or
refuses at once, and a fake server whose answers the test writes, and check what the driver is
told and what is sent.
"""

import json

import pytest

from tabsession.browser.server import PLACES, ServerPlaces, SyncedClock

TAB = "a" * 32
SLOT = "tabsession:slot:0"
SLOT1 = "tabsession:slot:1"


class FakeLocks:
    mechanism = "web-locks"
    failed = None

    def __init__(self, grant=True):
        self.grant = grant
        self.held = set()
        self.released = []

    def connect(self, on_claimed, on_acquired, on_lost, on_held_names):
        self.on_claimed, self.on_acquired, self.on_lost = on_claimed, on_acquired, on_lost

    def claim(self, name):
        self.held.add(name)
        self.on_claimed(True)

    def hold(self, name):
        self.held.add(name)

    def acquire(self, names, steal):
        if self.grant or steal:
            self.held.add(names[0])
            self.on_acquired(0)
        else:
            self.on_acquired(-1)

    def release(self, name):
        self.held.discard(name)
        self.released.append(name)

    def release_all(self):
        self.held.clear()

    def query(self):
        pass

    def check(self):
        pass


class FakeHttp:
    """Records requests; the test answers them with ``answer``."""

    def __init__(self):
        self.sent = []

    def send(self, method, path, body, header_value, keepalive, done):
        self.sent.append((method, path, body, header_value, keepalive, done))

    def answer(self, status, data):
        method, path, body, header_value, keepalive, done = self.sent[-1]
        done(status, json.dumps(data) if isinstance(data, dict) else data)

    def requests(self):
        return [(method, path, header_value) for method, path, _b, header_value, _k, _d in self.sent]


class FakePush:
    def __init__(self):
        self.opened = []
        self.closed = 0

    def open(self, url, hello, on_text, on_close):
        self.opened.append((url, on_text, on_close, hello))
        push = self

        class Connection:
            def close(self):
                push.closed += 1
        return Connection()

    def send(self, data):
        self.opened[-1][1](json.dumps(data))


class Tab:
    def __init__(self, grant=True):
        self.locks = FakeLocks(grant)
        self.http = FakeHttp()
        self.push = FakePush()
        self.places = ServerPlaces(self.locks, self.http, self.push, [SLOT, SLOT1])
        self.told = []
        self.places.connect(lambda claimed: self.told.append(("claimed", claimed)),
                            lambda index: self.told.append(("acquired", index)),
                            lambda name: self.told.append(("lost", name)),
                            lambda names: self.told.append(("held", names)))
        self.places.connect_server(lambda reason: self.told.append(("ended", reason)),
                                   lambda: self.told.append(("unavailable",)),
                                   lambda entries: self.told.append(("elsewhere", entries)))
        self.places.claim("tabsession:tab:" + TAB)

    def acquire(self, steal=False, use_here=None):
        self.places.use_here = steal if use_here is None else use_here
        self.places.acquire([SLOT], steal)
        self.places.use_here = False


def look(tab, local, server=None, server_first=False):
    """One query, as the driver makes: the profile's lock manager answers ``local`` and the
    server answers ``server`` (a dict, or (status, text)), in either order; returns what the
    driver was told (a list of one answer, or [] while the query waits)."""
    answers = []
    tab.places.query()
    status, text = server if isinstance(server, tuple) else (200, json.dumps(server))
    if server_first:
        tab.http.answer(status, text)
        tab.places._local_held(answers.append, local)
    else:
        tab.places._local_held(answers.append, local)
        if server is not None:
            tab.http.answer(status, text)
    return answers


GRANT = {"place": 0, "epoch": 7, "key": "k3y", "user": "bob"}


def granted_tab():
    """A tab the server granted a place; requests before the grant are forgotten, so tests see
    only what comes after."""
    tab = Tab()
    look(tab, [], {"others": 0})  # the decision's look, as the driver makes
    tab.acquire()
    tab.http.answer(200, GRANT)
    del tab.http.sent[:-1]
    return tab


def test_a_slot_is_granted_only_once_the_server_grants_a_place():
    """The profile's lock alone is not enough: the driver hears nothing until the server answers."""
    tab = Tab()

    tab.acquire()
    before = list(tab.told)
    tab.http.answer(200, GRANT)

    assert ([("claimed", True)], ("acquired", 0), ("POST", PLACES, None)) == \
        (before, tab.told[-1], tab.http.requests()[0])
    assert {"tab": TAB, "use_here": False} == json.loads(tab.http.sent[0][2])


def test_use_here_asks_the_server_to_displace():
    tab = Tab()

    tab.acquire(steal=True)

    assert {"tab": TAB, "use_here": True} == json.loads(tab.http.sent[0][2])


def test_a_refusal_lets_the_profiles_lock_go_and_answers_busy():
    tab = Tab()
    tab.acquire()

    tab.http.answer(409, {"reason": "active-elsewhere"})

    assert (("acquired", -1), [SLOT], set()) == (tab.told[-1], tab.locks.released, tab.locks.held - {"tabsession:tab:" + TAB})


def test_no_session_on_the_server_ends_it_here_with_the_servers_reason():
    tab = Tab()
    tab.acquire()

    tab.http.answer(401, {"reason": "idle"})

    assert (("ended", "idle"), [SLOT]) == (tab.told[-1], tab.locks.released)


@pytest.mark.parametrize("status, text", [(0, ""), (503, '{"reason": "server-unavailable"}'),
                                          (200, "<html>not json"), (200, '{"epoch": "7", "key": "k"}'),
                                          (200, '{"epoch": 7, "key": "a.b"}'), (500, "Traceback")])
def test_no_usable_answer_is_server_unavailable_not_a_grant(status, text):
    """The error is told before "busy": the other way round, the core refused the tab first and
    sent it to the sign-in page, which sent it back while the server was away (an S8 loop found
    by tests/e2e/test_several_servers.py)."""
    tab = Tab()
    tab.acquire()

    tab.http.answer(status, text)

    assert ([("unavailable",), ("acquired", -1)], None) == (tab.told[-2:], tab.places.lease)


def test_a_busy_profile_does_not_ask_the_server():
    """The profile's own limit refuses first: no request is sent."""
    tab = Tab(grant=False)

    tab.acquire()

    assert (("acquired", -1), []) == (tab.told[-1], tab.http.sent)


def test_a_grant_opens_a_push_connection_that_says_the_lease_first_never_in_its_url():
    tab = granted_tab()

    assert [("/api/push", TAB + ".7.k3y")] == [(url, hello) for url, _t, _c, hello in tab.push.opened]


def test_moved_by_the_server_loses_the_slot():
    tab = granted_tab()

    tab.push.send({"kind": "moved"})

    assert (("lost", SLOT), [SLOT], None, 1) == \
        (tab.told[-1], tab.locks.released, tab.places.lease, tab.push.closed)


@pytest.mark.parametrize("reason, told", [("signed-out", "signed-out"), ("expired", "expired"),
                                          ("idle", "idle"), ("<script>", "signed-out"), (None, "signed-out")])
def test_ended_by_the_server_is_told_with_a_known_reason(reason, told):
    tab = granted_tab()

    tab.push.send({"kind": "ended", "reason": reason})

    assert ("ended", told) == tab.told[-1]


@pytest.mark.parametrize("junk", ["", "null", "[]", '{"kind": "unknown"}', "{", '"moved"'])
def test_junk_pushed_changes_nothing(junk):
    tab = granted_tab()
    told = list(tab.told)

    tab.push.opened[-1][1](junk)

    assert (told, True) == (tab.told, tab.places.lease is not None)


def test_losing_the_slot_in_the_profile_gives_the_place_back():
    """Another tab of this profile stole the slot: the server is told, with this tab's lease."""
    tab = granted_tab()

    tab.locks.on_lost(SLOT)

    assert (("lost", SLOT), ("DELETE", PLACES, TAB + ".7.k3y"), True) == \
        (tab.told[-1], tab.http.requests()[-1], tab.http.sent[-1][4])


def test_leaving_gives_the_place_back_once():
    tab = granted_tab()

    tab.places.release_all()
    tab.places.release_all()

    deletes = [request for request in tab.http.requests() if request[0] == "DELETE"]
    assert [("DELETE", PLACES, TAB + ".7.k3y")] == deletes


def test_a_broken_push_asks_whether_the_place_is_still_ours():
    tab = granted_tab()

    tab.push.opened[-1][2]()
    tab.http.answer(409, {"reason": "taken-over"})

    assert (("GET", "/api/me", TAB + ".7.k3y"), ("lost", SLOT)) == (tab.http.requests()[1], tab.told[-1])


def test_with_the_server_away_each_periodic_query_asks_again_until_it_answers():
    """S8: the push broke and the check got no answer; the tab neither gives up nor floods."""
    tab = granted_tab()
    tab.push.opened[-1][2]()
    tab.http.answer(0, "")  # the server is away
    tab.places.query()
    asked_again = tab.http.requests()[-2:]
    tab.places.query()  # the check is still out: not asked twice
    twice = [r for r in tab.http.requests() if r[1] == "/api/me"]

    tab.http.sent[-3][5](200, json.dumps({"user": "bob"}))  # the check of the first query answers

    assert [("GET", "/api/me", TAB + ".7.k3y"), ("GET", PLACES, None)] == asked_again
    assert 2 == len(twice)
    assert 2 == len(tab.push.opened)  # connected again


def test_a_tab_told_the_places_over_its_push_asks_nothing_at_its_checks():
    """Push, not polling: the last ``places`` message answers for the server."""
    tab = granted_tab()
    tab.push.send({"kind": "places", "others": 1, "elsewhere": [{"last_active": 5.0}]})

    answers = look(tab, [SLOT])

    assert ([[SLOT, SLOT1]], [], (5.0,)) == (answers, tab.http.requests()[1:], tab.places.elsewhere)


def test_once_the_push_is_gone_the_checks_ask_the_server_again():
    tab = granted_tab()
    tab.push.send({"kind": "places", "others": 1, "elsewhere": []})
    tab.push.opened[-1][2]()  # the connection broke
    tab.http.answer(0, "")

    tab.places.query()

    assert ("GET", PLACES, None) == tab.http.requests()[-1]


def test_a_tab_whose_push_is_up_does_not_check_at_each_query():
    tab = granted_tab()

    tab.places.query()

    assert [("GET", PLACES, None)] == tab.http.requests()[1:]


def test_a_broken_push_reconnects_while_the_place_is_ours():
    tab = granted_tab()

    tab.push.opened[-1][2]()
    tab.http.answer(200, {"user": "bob"})

    assert 2 == len(tab.push.opened)


def test_activity_is_reported_one_request_at_a_time():
    tab = granted_tab()

    tab.places.touch()
    tab.places.touch()

    assert 1 == [r[1] for r in tab.http.requests()].count("/api/activity")


def test_sign_in_answers_the_servers_name():
    tab = Tab()
    answers = []

    tab.places.sign_in("  bob ", lambda user, message: answers.append((user, message)))
    tab.http.answer(200, {"user": "bob"})

    assert ([("bob", None)], {"user": "  bob "}) == (answers, json.loads(tab.http.sent[-1][2]))


@pytest.mark.parametrize("status, data, message", [
    (400, {"reason": "bad-name", "message": "Names are 1 to 64 characters."}, "Names are 1 to 64 characters."),
    (400, "junk", "The server refused this sign-in."),
    (0, "", "The server cannot be reached; try again in a moment."),
    (503, {"reason": "server-unavailable"}, "The server cannot be reached; try again in a moment.")])
def test_a_refused_sign_in_gives_a_message(status, data, message):
    tab = Tab()
    answers = []

    tab.places.sign_in("bob", lambda user, text: answers.append((user, text)))
    tab.http.answer(status, data)

    assert [(None, message)] == answers


def test_signing_out_ends_the_session_on_the_server_even_while_unloading():
    tab = granted_tab()

    tab.places.sign_out()

    assert [("DELETE", PLACES, TAB + ".7.k3y", True), ("DELETE", "/api/session", None, True)] == \
        [(m, p, h, k) for m, p, _b, h, k, _d in tab.http.sent[1:]]


def test_the_cores_own_steal_does_not_ask_to_displace_another_profile():
    """A tab that just signed in steals in its profile; the server is asked without use_here."""
    tab = Tab()

    tab.acquire(steal=True, use_here=False)

    assert {"tab": TAB, "use_here": False} == json.loads(tab.http.sent[0][2])


def test_use_here_asks_to_displace_even_when_the_profile_had_a_free_slot():
    tab = Tab()

    tab.acquire(steal=False, use_here=True)

    assert {"tab": TAB, "use_here": True} == json.loads(tab.http.sent[0][2])


@pytest.mark.parametrize("local, others, reported", [
    ([], 0, []),
    ([], 1, [SLOT]),
    ([SLOT], 1, [SLOT, SLOT1]),
    (["tabsession:tab:x"], 5, ["tabsession:tab:x", SLOT, SLOT1]),
])
def test_places_held_by_other_profiles_count_as_held_slots(local, others, reported):
    """So that "a place is free" means free for this user, not only in this profile."""
    tab = Tab()

    answers = look(tab, local, {"others": others})

    assert [reported] == answers


@pytest.mark.parametrize("local, mine, reported", [
    ([], 1, [SLOT]),  # the profile's tab on another origin of the host: only the server sees it
    ([SLOT], 1, [SLOT]),  # the one place of this session is the slot held here
    ([SLOT], 2, [SLOT, SLOT1]),
    (["tabsession:tab:x"], 9, ["tabsession:tab:x", SLOT, SLOT1]),  # never more than the slots
    ([], 0, []), ([], -3, []), ([], "1", []), ([], True, []),  # junk: nothing added
])
def test_the_profiles_own_places_beyond_its_locks_count_as_held_slots(local, mine, reported):
    """S6: a tab of this profile opened on another port of the host holds a place of the same
    session that this origin's locks cannot see; the server's "mine" counts it."""
    tab = Tab()

    answers = look(tab, local, {"others": 0, "mine": mine})

    assert [reported] == answers


def test_others_and_mine_add_up():
    tab = Tab()

    assert [[SLOT, SLOT1]] == look(tab, [], {"others": 1, "mine": 1})


@pytest.mark.parametrize("status, text", [(0, ""), (503, "{}"), (200, '{"others": "2"}'), (200, "junk")])
def test_without_the_servers_count_the_profiles_answer_stands(status, text):
    tab = Tab()

    answers = look(tab, [SLOT], (status, text))

    assert [[SLOT]] == answers


def test_the_server_is_asked_at_the_same_moment_as_the_profiles_lock_manager():
    """The first decision waits for the slower of the two answers, not for both in turn."""
    tab = Tab()

    tab.places.query()

    assert [("GET", PLACES, None)] == tab.http.requests()


@pytest.mark.parametrize("server_first", [False, True])
def test_the_answer_waits_for_both_in_either_order(server_first):
    tab = Tab()

    answers = look(tab, [SLOT], {"others": 1}, server_first=server_first)

    assert [[SLOT, SLOT1]] == answers


def test_without_the_servers_answer_yet_nothing_is_decided():
    tab = Tab()

    answers = look(tab, [])

    assert [] == answers


def test_when_the_lock_manager_cannot_tell_the_answer_is_unknown():
    tab = Tab()

    answers = look(tab, None, {"others": 1, "elsewhere": [{"last_active": 5.0}]})

    assert ([None], (5.0,)) == (answers, tab.places.elsewhere)


def test_a_granted_tab_learns_of_the_users_tabs_in_other_profiles():
    tab = Tab()
    tab.acquire()
    tab.http.answer(200, GRANT)

    tab.push.send({"kind": "places", "others": 2, "elsewhere": [{"last_active": 1700000000.5},
                                                                 {"last_active": 1700000001}]})

    assert ("elsewhere", (1700000000.5, 1700000001.0)) == tab.told[-1]
    assert (1700000000.5, 1700000001.0) == tab.places.elsewhere


def test_each_periodic_answer_updates_the_list_and_only_a_change_is_told():
    tab = granted_tab()
    look(tab, [SLOT], {"others": 1, "elsewhere": [{"last_active": 5.0}]})
    look(tab, [SLOT], {"others": 1, "elsewhere": [{"last_active": 5.0}]})
    look(tab, [SLOT], {"others": 0, "elsewhere": []})

    assert [("elsewhere", (5.0,)), ("elsewhere", ())] == [told for told in tab.told if told[0] == "elsewhere"]


@pytest.mark.parametrize("elsewhere", ["junk", None, [1, "x", {"last_active": "2"}, {"last_active": -1}],
                                       [{"last_active": 1.0}] * 500])
def test_a_list_of_junk_is_ignored_and_a_long_one_cut(elsewhere):
    tab = granted_tab()

    look(tab, [SLOT], {"others": 1, "elsewhere": elsewhere})

    expected = (1.0,) * 64 if isinstance(elsewhere, list) and len(elsewhere) == 500 else ()
    assert expected == tab.places.elsewhere


def test_the_list_empties_when_the_session_ends():
    tab = granted_tab()
    look(tab, [SLOT], {"others": 1, "elsewhere": [{"last_active": 5.0}]})

    tab.push.send({"kind": "ended", "reason": "signed-out"})

    assert [("elsewhere", ()), ("ended", "signed-out")] == tab.told[-2:]


def test_without_a_limit_an_active_tab_still_gets_a_lease_and_requests_wait_for_it():
    tab = Tab()
    answers = []

    tab.places.ensure_lease()
    tab.places.request("GET", "/api/me", None, lambda status, data: answers.append((status, data)))
    waiting = len(tab.http.sent)
    tab.http.answer(200, GRANT)
    tab.http.answer(200, {"user": "bob"})

    assert (1, ("GET", "/api/me", TAB + ".7.k3y"), [(200, {"user": "bob"})]) == \
        (waiting, tab.http.requests()[-1], answers)


# ------------------------------------------------------------------ the server's time (S5)
class Readings:
    def __init__(self):
        self.monotonic = 10.0
        self.wall = 5000.0


def synced_clock():
    readings = Readings()
    return readings, SyncedClock(lambda: readings.monotonic, lambda: readings.wall)


def test_before_any_answer_the_page_has_only_its_own_clock():
    readings, clock = synced_clock()

    assert (5000.0, False) == (clock.now(), clock.synced)


def test_the_servers_time_is_carried_by_the_monotonic_clock_whatever_the_wall_does():
    """An hour set forward, or a frozen wall clock, moves nothing: only real time passing does."""
    readings, clock = synced_clock()
    clock.sync(1_700_000_000.0)

    readings.wall += 3600  # the system clock set an hour ahead
    readings.monotonic += 2.5

    assert 1_700_000_002.5 == clock.now()


@pytest.mark.parametrize("junk", [None, "1700000000", -5, 0, True])
def test_a_junk_time_is_ignored(junk):
    readings, clock = synced_clock()

    clock.sync(junk)

    assert (False, 5000.0) == (clock.synced, clock.now())


@pytest.mark.parametrize("ended, told", [("signed-out", [("ended", "signed-out")]), ("idle", [("ended", "idle")]),
                                         ("bogus", []), (None, []), (7, [])])
def test_a_tab_without_a_place_learns_its_session_ended_from_the_places_answer(ended, told):
    """S6: signed out through another origin of the host, a refused tab (no push connection)
    hears it from its next GET /api/places; junk reasons are ignored."""
    tab = Tab()

    look(tab, [], {"others": 0, "mine": 0, "ended": ended})

    assert told == [entry for entry in tab.told if entry[0] == "ended"]


def test_a_tab_holding_a_place_leaves_endings_to_its_push():
    tab = granted_tab()
    tab.places._connection = None  # (a query goes to the server only without a push)

    look(tab, [SLOT], {"others": 0, "mine": 1, "ended": "signed-out"})

    assert [] == [entry for entry in tab.told if entry[0] == "ended"]


@pytest.mark.parametrize("server, user", [
    ({"others": 0, "mine": 0, "user": "bob"}, "bob"),
    ({"others": 0, "mine": 0, "ended": "signed-out"}, None),
    ({"others": 0, "mine": 0, "user": ""}, None), ({"others": 0, "mine": 0, "user": ["bob"]}, None),
    ((503, '{"reason": "server-unavailable", "user": "bob"}'), None), ((0, ""), None), ((200, "<html>"), None),
])
def test_the_places_answer_says_whose_the_profiles_session_is(server, user):
    """S6: what a sign-in page of an origin that never recorded a session decides on at start;
    only a 200 naming a user says there is one."""
    tab = Tab()

    answers = look(tab, [], server)

    assert ([[]], user) == (answers, tab.places.session_user)


def test_a_later_answer_without_a_session_forgets_the_user():
    tab = Tab()
    look(tab, [], {"others": 0, "mine": 0, "user": "bob"})

    look(tab, [], {"others": 0, "mine": 0, "ended": "signed-out"})

    assert tab.places.session_user is None
