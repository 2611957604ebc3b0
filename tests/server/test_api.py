"""The server authority's HTTP API in process (Starlette's TestClient, on httpx): every route,
the rules S1-S4 as the API shows them, and S9's bad input (each a 4xx with a JSON reason, never
a 5xx, no session changed). Browser profiles are separate clients (separate cookie jars). The
tests built on the ``api`` fixture run once per store (tests/support/store_fixtures.py)."""

import dataclasses
import json
import time
from contextlib import contextmanager

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from tabsession.server.web import COOKIE, TabsessionAPI

TAB_A = "a" * 32
TAB_B = "b" * 32
TAB_C = "c" * 32
HEADERS = {"X-Tabsession": "1"}


class Clock:
    def __init__(self):
        self.now = 1_700_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def api(clock, make_store):
    """The API on each store in turn (memory, SQLite, Redis): the same answers from every one."""
    api = TabsessionAPI(max_tabs=1, policy="block", idle_timeout=60, warn_before=10, absolute_timeout=600,
                        store=make_store())
    api.authority.clock = clock
    return api


@pytest.fixture
def profiles(api):
    """Clients that share one server, like browser profiles (each keeps its own cookies)."""
    app = Starlette(routes=[Mount("/api", app=api.app)])
    made = []

    def profile():
        client = TestClient(app, base_url="http://testserver")
        client.__enter__()
        made.append(client)
        return client
    yield profile
    for client in made:
        client.__exit__(None, None, None)


def sign_in(client, name="bob"):
    response = client.post("/api/session", json={"user": name}, headers=HEADERS)
    assert 200 == response.status_code, response.text
    return response


def claim(client, tab, use_here=False):
    return client.post("/api/places", json={"tab": tab, "use_here": use_here}, headers=HEADERS)


@contextmanager
def pushing(api, client, tab, granted):
    """The push connection of `tab` (granted: the claim's answer), once the server holds it."""
    with client.websocket_connect("/api/push") as socket:
        socket.send_text(f"{tab}.{granted['epoch']}.{granted['key']}")
        deadline = time.monotonic() + 5
        while not any(tab in tabs for tabs in api.pushes.by_session.values()):
            assert time.monotonic() < deadline, "the push connection was never registered"
            time.sleep(0.01)
        first = json.loads(socket.receive_text())  # what GET /api/places would answer
        assert "places" == first["kind"], first
        yield socket


def lease(response, tab):
    data = response.json()
    return {"X-Tabsession-Tab": f"{tab}.{data['epoch']}.{data['key']}", **HEADERS}


def me(client, credentials):
    return client.get("/api/me", headers=credentials)


# ------------------------------------------------------------------ S1
def test_sign_in_sets_an_http_only_strict_cookie_scripts_cannot_read():
    api = TabsessionAPI()
    client = TestClient(Starlette(routes=[Mount("/api", app=api.app)]))

    response = sign_in(client)

    cookie = response.headers["set-cookie"].lower()
    assert (True, True, True, "bob") == ("httponly" in cookie, "samesite=strict" in cookie,
                                         "path=/" in cookie, response.json()["user"])
    assert response.cookies[COOKIE] not in response.text


def test_names_are_trimmed_and_checked(profiles):
    """Each name from a fresh profile (a live session would answer with its own user)."""
    answers = [profiles().post("/api/session", json={"user": name}, headers=HEADERS)
               for name in ("  carol  ", "", "   ", "x" * 65, "a\x00b", 42, None)]

    assert [200, 400, 400, 400, 400, 400, 400] == [a.status_code for a in answers]
    assert "carol" == answers[0].json()["user"]
    assert "bad-name" == answers[1].json()["reason"]


def test_a_second_sign_in_in_the_same_profile_keeps_the_live_session(profiles):
    """Rule 2: the profile's live session is never replaced; the answer names its user."""
    client = profiles()
    sign_in(client, "bob")

    response = client.post("/api/session", json={"user": "carol"}, headers=HEADERS)

    assert ("bob", True) == (response.json()["user"], response.json()["existing"])


def test_authenticate_decides_who_may_sign_in():
    api = TabsessionAPI(authenticate=lambda name: name if name == "alice" else None)
    client = TestClient(Starlette(routes=[Mount("/api", app=api.app)]))

    refused = client.post("/api/session", json={"user": "mallory"}, headers=HEADERS)
    accepted = client.post("/api/session", json={"user": "alice"}, headers=HEADERS)

    assert (403, "refused", 200) == (refused.status_code, refused.json()["reason"], accepted.status_code)


def test_a_name_the_hook_answers_untrimmed_is_refused_not_stored():
    """A hook answering " alice\u3000" would store a name every browser refuses as a record
    (core/names.py): the sign-in is refused instead."""
    api = TabsessionAPI(authenticate=lambda name: " " + name + "\u3000")
    client = TestClient(Starlette(routes=[Mount("/api", app=api.app)]))

    refused = client.post("/api/session", json={"user": "alice"}, headers=HEADERS)

    assert (403, "refused") == (refused.status_code, refused.json()["reason"])


# ------------------------------------------------------------------ S2
def test_me_answers_only_a_live_session_with_an_active_tabs_credentials(profiles):
    client = profiles()
    sign_in(client)
    granted = claim(client, TAB_A)

    ok = me(client, lease(granted, TAB_A))
    no_tab = client.get("/api/me")
    wrong_key = me(client, {"X-Tabsession-Tab": f"{TAB_A}.{granted.json()['epoch']}.wrongkey1"})

    assert (200, "bob", TAB_A) == (ok.status_code, ok.json()["user"], ok.json()["tab"])
    assert (403, "not-a-tab") == (no_tab.status_code, no_tab.json()["reason"])
    assert (409, "taken-over") == (wrong_key.status_code, wrong_key.json()["reason"])


def test_me_without_a_session_is_401_signed_out(profiles):
    client = profiles()

    response = me(client, {"X-Tabsession-Tab": f"{TAB_A}.1.somekey12"})

    assert (401, "signed-out") == (response.status_code, response.json()["reason"])


# ------------------------------------------------------------------ S3
def test_block_refuses_a_second_profiles_tab(profiles):
    first, second = profiles(), profiles()
    sign_in(first)
    sign_in(second)
    claim(first, TAB_A)

    refused = claim(second, TAB_B)

    assert (409, "active-elsewhere") == (refused.status_code, refused.json()["reason"])


def test_use_here_moves_the_other_profiles_tab_and_fences_its_credentials(profiles):
    first, second = profiles(), profiles()
    sign_in(first)
    sign_in(second)
    old = lease(claim(first, TAB_A), TAB_A)

    taken = claim(second, TAB_B, use_here=True)
    replayed = me(first, old)

    assert (200, 409, "taken-over") == (taken.status_code, replayed.status_code, replayed.json()["reason"])
    assert 200 == me(second, lease(taken, TAB_B)).status_code


def test_takeover_policy_moves_without_use_here(clock):
    api = TabsessionAPI(max_tabs=1, policy="takeover")
    app = Starlette(routes=[Mount("/api", app=api.app)])
    first, second = TestClient(app), TestClient(app)
    sign_in(first)
    sign_in(second)
    claim(first, TAB_A)

    assert 200 == claim(second, TAB_B).status_code


def test_a_push_connection_is_told_when_its_place_is_taken(api, profiles):
    first, second = profiles(), profiles()
    sign_in(first)
    sign_in(second)
    granted = claim(first, TAB_A).json()

    with pushing(api, first, TAB_A, granted) as socket:
        claim(second, TAB_B, use_here=True)
        message = json.loads(socket.receive_text())

    assert {"kind": "moved"} == message


def bob_in_two_profiles(api, profiles, max_tabs):
    """Two profiles signed in as bob, with `max_tabs` places; the first holds one for TAB_A:
    (first, second, the first's grant)."""
    api.authority.policy = dataclasses.replace(api.authority.policy, max_tabs=max_tabs)
    first, second = profiles(), profiles()
    sign_in(first)
    sign_in(second)
    return first, second, claim(first, TAB_A).json()


def test_a_push_connection_is_told_of_the_users_places_in_other_profiles(api, profiles, clock):
    """Push, not polling: a tab holding a place learns at once when another profile of its user
    takes or gives back a place (rule 9's list elsewhere; a place free for Use here)."""
    first, second, granted = bob_in_two_profiles(api, profiles, 2)

    with pushing(api, first, TAB_A, granted) as socket:
        other = lease(claim(second, TAB_B), TAB_B)
        taken = json.loads(socket.receive_text())
        second.delete("/api/places", headers=other)
        given_back = json.loads(socket.receive_text())

    assert {"kind": "places", "others": 1, "elsewhere": [{"last_active": clock.now}]} == taken
    assert {"kind": "places", "others": 0, "elsewhere": []} == given_back


def test_tabs_of_one_profile_opening_do_not_message_each_other(api, profiles, clock):
    """Their own places are not "elsewhere": nothing they are told changes (50 tabs of a profile
    would otherwise send 50 x 50 messages as they open)."""
    first, second, granted = bob_in_two_profiles(api, profiles, 3)

    with pushing(api, first, TAB_A, granted) as socket:
        claim(first, TAB_B)  # the same profile: no message
        claim(second, "c" * 32)  # another profile: the next message is this one
        message = json.loads(socket.receive_text())

    assert {"kind": "places", "others": 1, "elsewhere": [{"last_active": clock.now}]} == message


def test_a_new_push_connection_is_told_the_places_elsewhere_first(api, profiles, clock):
    api.authority.policy = dataclasses.replace(api.authority.policy, max_tabs=2)
    first, second = profiles(), profiles()
    sign_in(first)
    sign_in(second)
    claim(second, TAB_B)
    granted = claim(first, TAB_A).json()

    with first.websocket_connect("/api/push") as socket:
        socket.send_text(f"{TAB_A}.{granted['epoch']}.{granted['key']}")
        message = json.loads(socket.receive_text())

    assert {"kind": "places", "others": 1, "elsewhere": [{"last_active": clock.now}]} == message


def test_a_push_connection_holds_when_the_store_cannot_say_the_places(api, profiles, monkeypatch):
    """The tab is then told nothing at once (it asks at its checks), and still told of a move."""
    first, second, granted = bob_in_two_profiles(api, profiles, 1)

    async def store_away(sid):
        raise ConnectionError("store gone")

    monkeypatch.setattr(api.authority, "tabs", store_away)
    with first.websocket_connect("/api/push") as socket:
        socket.send_text(f"{TAB_A}.{granted['epoch']}.{granted['key']}")
        claim(second, TAB_B, use_here=True)
        message = json.loads(socket.receive_text())

    assert {"kind": "moved"} == message


def test_closing_the_push_connection_frees_the_place(api, profiles):
    """A crashed tab's connection closes: its place is free for the next claim at once."""
    first, second = profiles(), profiles()
    sign_in(first)
    sign_in(second)
    granted = claim(first, TAB_A).json()

    with pushing(api, first, TAB_A, granted):
        pass
    answer = claim(second, TAB_B)
    deadline = time.monotonic() + 2  # the server drops the place as it sees the close: on a
    while answer.status_code == 409 and time.monotonic() < deadline:  # shared store, a write away
        time.sleep(0.02)
        answer = claim(second, TAB_B)

    assert 200 == answer.status_code


def test_a_push_with_stale_credentials_is_told_at_once(profiles):
    client = profiles()
    sign_in(client)
    old = claim(client, TAB_A).json()
    claim(client, TAB_A)  # a reload: new credentials

    with client.websocket_connect("/api/push") as socket:
        socket.send_text(f"{TAB_A}.{old['epoch']}.{old['key']}")
        message = json.loads(socket.receive_text())

    assert {"kind": "moved"} == message


def test_a_push_from_another_origin_is_refused(profiles):
    client = profiles()
    sign_in(client)
    granted = claim(client, TAB_A).json()

    with pytest.raises(Exception):
        with client.websocket_connect("/api/push", headers={"Origin": "http://evil.example"}) as socket:
            socket.send_text(f"{TAB_A}.{granted['epoch']}.{granted['key']}")
            socket.receive_text()


@pytest.mark.parametrize("hello", ["junk", "a.b.c", f"{TAB_A}.1", "x" * 5000])
def test_a_push_that_does_not_say_whose_it_is_is_closed(profiles, hello):
    client = profiles()
    sign_in(client)

    with pytest.raises(Exception):
        with client.websocket_connect("/api/push") as socket:
            socket.send_text(hello)
            socket.receive_text()


def test_the_tab_list_marks_tabs_of_other_profiles(api, profiles):
    api.authority.policy = type(api.authority.policy)(max_tabs=2)
    first, second = profiles(), profiles()
    sign_in(first)
    sign_in(second)
    claim(first, TAB_A)
    mine = lease(claim(second, TAB_B), TAB_B)

    listed = second.get("/api/tabs", headers=mine).json()["tabs"]

    assert [(TAB_A, True, False), (TAB_B, False, True)] == \
        sorted((t["tab"], t["elsewhere"], t["is_self"]) for t in listed)


# ------------------------------------------------------------------ S4
def test_sign_out_ends_the_session_and_a_replayed_cookie_gets_401(profiles):
    first, second = profiles(), profiles()
    sign_in(first)
    sign_in(second)
    cookie = first.cookies[COOKIE]
    credentials = lease(claim(first, TAB_A), TAB_A)

    first.delete("/api/session", headers=HEADERS)
    replay = profiles()
    replay.cookies.set(COOKIE, cookie)

    answer = me(replay, credentials)
    assert (401, "signed-out") == (answer.status_code, answer.json()["reason"])
    assert 200 == second.get("/api/session").status_code  # the other profile goes on


# ------------------------------------------------------------------ S5
def test_the_server_ends_an_idle_session_by_its_own_clock(profiles, clock):
    client = profiles()
    sign_in(client)
    credentials = lease(claim(client, TAB_A), TAB_A)

    clock.now += 61
    answer = me(client, credentials)

    assert (401, "idle") == (answer.status_code, answer.json()["reason"])


def test_activity_keeps_the_session_and_answers_remaining_seconds(profiles, clock):
    client = profiles()
    sign_in(client)
    credentials = lease(claim(client, TAB_A), TAB_A)

    clock.now += 50
    touched = client.post("/api/activity", headers=credentials)
    clock.now += 50

    assert (200, 60.0, 200) == (touched.status_code, touched.json()["idle_in"], me(client, credentials).status_code)


# ------------------------------------------------------------------ S9: bad input
@pytest.mark.parametrize("method, path, kwargs, status", [
    ("PUT", "/api/session", {}, 405),
    ("PATCH", "/api/places", {}, 405),
    ("GET", "/api/nowhere", {}, 404),
    ("POST", "/api/session", {"content": b"{not json"}, 400),
    ("POST", "/api/session", {"content": b"[1, 2]"}, 400),
    ("POST", "/api/session", {"content": b"\xff\xfe"}, 400),
    ("POST", "/api/session", {"content": b"x" * (2 * 1024 * 1024)}, 413),
    ("POST", "/api/places", {"json": {"tab": "../../etc", "use_here": False}}, 400),
    ("POST", "/api/places", {"json": {"tab": TAB_A, "use_here": "yes"}}, 400),
    ("DELETE", "/api/places", {"headers": {"X-Tabsession-Tab": "junk"}}, 403),
    ("POST", "/api/activity", {"headers": {"X-Tabsession-Tab": f"{TAB_A}.99999999999999999999.k"}}, 403),
    ("GET", "/api/me", {"headers": {"X-Tabsession-Tab": f"{TAB_A}.-1.abcdefghij"}}, 403),
])
def test_bad_input_is_a_4xx_with_a_json_reason_and_changes_nothing(profiles, method, path, kwargs, status):
    client = profiles()
    sign_in(client)
    credentials = lease(claim(client, TAB_A), TAB_A)
    headers = {**HEADERS, **kwargs.pop("headers", {})}

    response = client.request(method, path, headers=headers, **kwargs)

    assert (status, str) == (response.status_code, type(response.json()["reason"]))
    assert (200, "bob") == (me(client, credentials).status_code, me(client, credentials).json()["user"])


@pytest.mark.parametrize("cookie", ["", "x", "a" * 4000, "'; DROP TABLE", "%C3%A9" * 8,
                                    "abcdefghijklmnopqrstuvwxyz012345"])
def test_junk_or_foreign_cookies_are_401(profiles, cookie):
    client = profiles()
    client.cookies.set(COOKIE, cookie)

    response = client.get("/api/session")

    assert (401, "signed-out") == (response.status_code, response.json()["reason"])


@pytest.mark.parametrize("headers, why", [({}, "missing-header"),
                                          ({**HEADERS, "Origin": "http://evil.example"}, "cross-origin")])
def test_state_changing_requests_from_elsewhere_are_refused(profiles, headers, why):
    client = profiles()

    response = client.post("/api/session", json={"user": "bob"}, headers=headers)

    assert (403, why, None) == (response.status_code, response.json()["reason"], response.cookies.get(COOKIE))


def test_a_store_that_fails_is_503_server_unavailable(profiles, api):
    client = profiles()

    class Broken:
        async def update_user(self, user, change):
            raise ConnectionError("store gone")

        async def user_of(self, sid):
            raise ConnectionError("store gone")

    api.authority.store = Broken()
    response = client.post("/api/session", json={"user": "bob"}, headers=HEADERS)

    assert (503, "server-unavailable") == (response.status_code, response.json()["reason"])


def test_places_counts_what_other_profiles_hold_and_never_fails(profiles):
    first, second, nobody = profiles(), profiles(), profiles()
    sign_in(first)
    sign_in(second)
    claim(first, TAB_A)

    counts = [client.get("/api/places").json()["others"] for client in (first, second, nobody)]

    assert [0, 1, 0] == counts


def test_places_says_when_each_tab_elsewhere_was_last_used_and_nothing_that_names_it(profiles, clock):
    """Rule 9 across profiles: the tab list shows the user's tabs in other profiles."""
    first, second = profiles(), profiles()
    sign_in(first)
    sign_in(second)
    claim(first, TAB_A)

    answers = [client.get("/api/places").json() for client in (first, second)]

    assert [{"others": 0, "elsewhere": [], "mine": 1, "user": "bob"},
            {"others": 1, "elsewhere": [{"last_active": clock.now}], "mine": 0, "user": "bob"}] == answers
    assert TAB_A not in json.dumps(answers)


def test_every_answer_says_the_servers_time(profiles, clock):
    """The pages keep the deadlines by the server's clock (S5), refusals included."""
    client = profiles()

    answers = [sign_in(client), client.get("/api/me", headers={"X-Tabsession-Tab": "junk"}),
               client.post("/api/places", json={}, headers=HEADERS)]

    assert [repr(clock.now)] * 3 == [a.headers["x-tabsession-now"] for a in answers]


def test_a_process_cut_off_from_the_bus_tells_its_tabs_what_it_missed(tmp_path):
    """Two processes on one SQLite store; the take-over happens through the other while this one
    hears nothing (its bus listener is not running, as when cut off): when it hears again,
    ``recheck`` finds its tab's credentials stale and tells the tab ``moved``."""
    from concurrent.futures import ThreadPoolExecutor

    from tabsession.server.registry import Granted
    from tabsession.server.stores import open_store
    from server_fakes import run_async

    spec = f"sqlite:{tmp_path / 'shared.db'}"
    here = TabsessionAPI(max_tabs=1, store=open_store(spec))
    elsewhere = TabsessionAPI(max_tabs=1, store=open_store(spec))
    here.bus = None  # cut off: nothing it publishes or hears goes through the bus
    with TestClient(Starlette(routes=[Mount("/api", app=here.app)])) as client:
        sign_in(client)
        granted = claim(client, TAB_A).json()
        with pushing(here, client, TAB_A, granted) as socket:
            async def take_over():
                session, _ = await elsewhere.authority.sign_in("bob")
                return await elsewhere.authority.claim(session.sid, TAB_B, use_here=True)
            taken, _ = run_async(take_over())
            client.portal.call(here.recheck)
            with ThreadPoolExecutor(1) as waiting:  # a bounded wait: no message must fail, not hang
                told = json.loads(waiting.submit(socket.receive_text).result(timeout=5))

    assert (True, {"kind": "moved"}) == (isinstance(taken, Granted), told)


def test_a_tab_whose_connection_is_held_keeps_its_place_and_an_unseen_one_loses_it(api, clock, profiles):
    """R17 through the API: the process that holds a tab's push connection keeps its place alive
    (``keep_alive``, every few seconds); a place whose tab nobody has heard of for a minute (its
    server was killed) goes to the next profile that claims it."""
    held, unseen, newcomer = profiles(), profiles(), profiles()
    for client in (held, unseen, newcomer):
        sign_in(client)
    api.authority.policy = dataclasses.replace(api.authority.policy, max_tabs=2, idle_seconds=None,
                                               warn_seconds=None)
    granted = claim(held, TAB_A).json()
    assert 200 == claim(unseen, TAB_B).status_code
    with pushing(api, held, TAB_A, granted):
        for _ in range(4):
            clock.now += 50
            held.portal.call(api.keep_alive)
        taken = claim(newcomer, TAB_C)
        still = me(held, {"X-Tabsession-Tab": f"{TAB_A}.{granted['epoch']}.{granted['key']}"})
        refused = claim(unseen, TAB_B)

    assert (200, 200, 409) == (taken.status_code, still.status_code, refused.status_code)


def test_places_says_when_the_profile_has_no_live_session(profiles):
    """A refused tab has no push: its GET /api/places says the session ended (S6's sign-out
    through another origin of the host deletes the cookie for every port; a cookie replayed
    names an ended session)."""
    client, stranger = profiles(), profiles()
    sign_in(client)
    live = client.get("/api/places").json()
    sid = client.cookies[COOKIE]
    client.delete("/api/session", headers=HEADERS)
    gone = client.get("/api/places").json()
    client.cookies.clear()
    client.cookies.set(COOKIE, sid)
    replayed = client.get("/api/places").json()

    assert (None, "signed-out", "signed-out", "signed-out") == (
        live.get("ended"), gone.get("ended"), replayed.get("ended"), stranger.get("/api/places").json().get("ended"))
    # whose the live session is, and only while it is live (S6: another origin's sign-in page follows it)
    assert ("bob", None, None) == (live.get("user"), gone.get("user"), replayed.get("user"))
