"""The server side in a user's own FastAPI app: the API mounted at /api, and routes of the app's
own that depend on ``require_tab`` (S2's answers: 200 to an active tab, 409 to a tab whose place
was taken, 401 once the session ended, 403 to a request that is no tab's), as the README says."""

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from tabsession.server.web import Refusal, TabsessionAPI

TAB_A = "a" * 32
TAB_B = "b" * 32
HEADERS = {"X-Tabsession": "1"}


def make_app():
    api = TabsessionAPI(max_tabs=1, policy="block")
    app = FastAPI()
    app.mount("/api", api.app)
    app.add_exception_handler(Refusal, api.answer_refusal)

    @app.get("/notes")
    async def notes(tab=Depends(api.require_tab)):
        session, tab_id = tab
        return {"user": session.user, "tab": tab_id}

    return app


def signed_in_tab(client, tab, use_here=False):
    """Sign `client` in as bob (once) and claim a place for `tab`: its credentials header."""
    if "tabsession" not in client.cookies:
        assert 200 == client.post("/api/session", json={"user": "bob"}, headers=HEADERS).status_code
    granted = client.post("/api/places", json={"tab": tab, "use_here": use_here}, headers=HEADERS)
    assert 200 == granted.status_code, granted.text
    data = granted.json()
    return {"X-Tabsession-Tab": f"{tab}.{data['epoch']}.{data['key']}"}


def test_an_active_tab_gets_the_apps_own_route():
    with TestClient(make_app()) as client:
        credentials = signed_in_tab(client, TAB_A)

        answer = client.get("/notes", headers=credentials)

    assert (200, {"user": "bob", "tab": TAB_A}) == (answer.status_code, answer.json())


def test_a_tab_whose_place_was_taken_gets_409_with_a_reason():
    with TestClient(make_app()) as client:
        first = signed_in_tab(client, TAB_A)
        signed_in_tab(client, TAB_B, use_here=True)

        answer = client.get("/notes", headers=first)

    assert (409, {"reason": "taken-over"}) == (answer.status_code, answer.json())


def test_after_sign_out_the_same_credentials_get_401():
    with TestClient(make_app()) as client:
        credentials = signed_in_tab(client, TAB_A)
        cookie = client.cookies["tabsession"]
        client.delete("/api/session", headers=HEADERS)
        client.cookies.set("tabsession", cookie)  # replayed

        answer = client.get("/notes", headers=credentials)

    assert (401, {"reason": "signed-out"}) == (answer.status_code, answer.json())


def test_a_request_that_is_no_tabs_gets_a_4xx_with_a_reason():
    with TestClient(make_app()) as client:
        signed_in_tab(client, TAB_A)

        answers = [client.get("/notes"), client.get("/notes", headers={"X-Tabsession-Tab": "junk"})]

    assert all(400 <= answer.status_code < 500 and isinstance(answer.json().get("reason"), str)
               for answer in answers), [(a.status_code, a.text) for a in answers]
