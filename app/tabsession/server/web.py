"""The HTTP face of the server authority: a Starlette app to mount at ``/api``.

    from tabsession.server.web import TabsessionAPI

    api = TabsessionAPI(max_tabs=1, policy="block", authenticate=check_password)
    app = Starlette(routes=[Mount("/api", app=api.app), ...])

Every answer is JSON; every refusal is a 4xx with ``{"reason": ...}`` (S9), never a 5xx. The
routes only translate: the rules are ``registry.py``'s, run through ``service.Authority``.

Credentials (S1, S2): the session is an ``HttpOnly``, ``SameSite=Strict`` cookie (``COOKIE``)
that scripts cannot read; a tab's place is a lease ``tab.epoch.key`` that the tab sends in the
``X-Tabsession-Tab`` header (``browser/server.py``). A request needs both to be the tab's.

Cross-site use: a state-changing request must carry the ``X-Tabsession`` header (which a form or
a simple cross-site request cannot send) and, when the browser sends ``Origin``, come from this
server's own origin; the push WebSocket checks ``Origin`` too (browsers send it on every
WebSocket handshake, and SameSite does not cover WebSockets everywhere).

Push (S3-S5): each granted tab holds one WebSocket (``/api/push``), whose first message is the
tab's credentials (never in the URL, which logs keep). The server sends it
``{"kind": "moved"}`` when its place is taken, ``{"kind": "ended", "reason": R}`` when its
session ends (sign-out, or a deadline by the server's clock, found by a sweep every
``SWEEP_SECONDS``), and ``{"kind": "places", "others": N, "elsewhere": [...]}`` (what
``GET /places`` answers) when it connects and whenever the user's places change, so a tab that
holds a place never polls. A connection that closes drops the tab's place, as a closing tab's
Web Lock is released: a crashed tab frees its place at once; but not when the server itself is
stopping (close code 1012): a restart, or one of several processes going, takes nobody's place.

Several processes (S6): the processes that share a store are one server. What one process's
write means for tabs connected to another (a take-over, a sign-out, a deadline, the user's places)
goes out on the store's bus (``Store.bus()``: SQLite's notices table, Redis pub/sub) as one JSON
message ``{"from": PROCESS, "notices": [...]}``; every process delivers to the tabs it holds. A
process that was cut off from the bus re-checks each of its tabs' credentials when it hears again
(``recheck``), so a notice it missed still reaches its tab. Every request is bounded
(``REQUEST_SECONDS``): a store that stops answering gets 503 ``server-unavailable`` (S8).
"""

import asyncio
import json
import logging
import re
import secrets
from typing import Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tabsession.core import records
from tabsession.core.machine import USERNAME_ERROR, username_of
from tabsession.server.registry import Denied, Ended, Granted, Moved, PlaceFree, Policy, Refused, Session
from tabsession.server.service import Authority
from tabsession.server.store import MemoryStore

_log = logging.getLogger("tabsession.server")

COOKIE = "tabsession"
TAB_HEADER = "x-tabsession-tab"
NOW_HEADER = "X-Tabsession-Now"
REQUEST_HEADER = "x-tabsession"
MAX_BODY_BYTES = 16 * 1024
SWEEP_SECONDS = 0.5
KEEP_ALIVE_SECONDS = 15.0  # R17: how often a process says which tabs' connections it holds
REQUEST_SECONDS = 4.5  # S8: an answer within 5 s, even when the store does not answer
PUSH_HELLO_SECONDS = 5.0  # a push connection must say whose it is within this time
SERVER_STOPPING = 1012  # the close code uvicorn gives the push connections of a stopping server
_SID = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,128}$")


def reason(status: int, why: str, **more) -> JSONResponse:
    return JSONResponse({"reason": why, **more}, status_code=status, headers={"Cache-Control": "no-store"})


def answer(data: dict) -> JSONResponse:
    return JSONResponse(data, headers={"Cache-Control": "no-store"})


class Refusal(HTTPException):
    """A refusal with a JSON reason; ``require_tab`` raises it for a user's own routes."""

    def __init__(self, status: int, why: str):
        super().__init__(status_code=status, detail=why)
        self.reason = why


def any_name(name: str) -> str | None:
    """The demo's authentication: any name is accepted, as its sign-in page says."""
    return name


class Pushes:
    """The open push connections of this process, by session and tab."""

    def __init__(self):
        self.by_session: dict[str, dict[str, WebSocket]] = {}
        self.by_user: dict[str, set[str]] = {}  # user -> sids with a connection here
        self.places_told: dict[str, str] = {}  # sid -> the last places message its tabs got
        self.credentials: dict[WebSocket, tuple[int, str]] = {}  # what each tab connected with
        self.user_of_socket: dict[WebSocket, str] = {}

    def add(self, sid: str, tab_id: str, socket: WebSocket, user: str, epoch: int, key: str) -> WebSocket | None:
        tabs = self.by_session.setdefault(sid, {})
        old = tabs.get(tab_id)
        tabs[tab_id] = socket
        self.by_user.setdefault(user, set()).add(sid)
        self.credentials[socket] = (epoch, key)
        self.user_of_socket[socket] = user
        return old

    def remove(self, sid: str, tab_id: str, socket: WebSocket, user: str) -> None:
        self.credentials.pop(socket, None)
        self.user_of_socket.pop(socket, None)
        tabs = self.by_session.get(sid, {})
        if tabs.get(tab_id) is socket:
            del tabs[tab_id]
            if not tabs:
                self.by_session.pop(sid, None)
                self.places_told.pop(sid, None)
                sids = self.by_user.get(user, set())
                sids.discard(sid)
                if not sids:
                    self.by_user.pop(user, None)

    def sessions_of(self, user: str) -> list[str]:
        return list(self.by_user.get(user, ()))

    def users(self) -> list[str]:
        return list(self.by_user)

    def connections(self) -> list[tuple[str, str, WebSocket, tuple[int, str]]]:
        return [(sid, tab_id, socket, self.credentials[socket])
                for sid, tabs in list(self.by_session.items()) for tab_id, socket in list(tabs.items())
                if socket in self.credentials]

    def targets(self, notice) -> list[tuple[WebSocket, dict]]:
        if isinstance(notice, Moved):
            socket = self.by_session.get(notice.sid, {}).get(notice.tab_id)
            return [(socket, {"kind": "moved"})] if socket is not None else []
        if isinstance(notice, Ended):
            message = {"kind": "ended", "reason": notice.reason}
            return [(socket, message) for socket in self.by_session.get(notice.sid, {}).values()]
        return []


async def _close_quietly(socket: WebSocket, code: int = 1000) -> None:
    try:
        await socket.close(code=code)
    except Exception:
        pass  # it went meanwhile


def _wire(notice) -> list | None:
    if isinstance(notice, Moved):
        return ["moved", notice.sid, notice.tab_id]
    if isinstance(notice, Ended):
        return ["ended", notice.sid, notice.reason]
    if isinstance(notice, PlaceFree):
        return ["places", notice.user]
    return None


def _unwire(item) -> Moved | Ended | PlaceFree | None:
    """A notice from the bus, or ``None`` for anything that is not one (never an error)."""
    if not isinstance(item, list) or not item or not all(isinstance(part, str) for part in item):
        return None
    kind, *parts = item
    if kind == "moved" and len(parts) == 2:
        return Moved(*parts)
    if kind == "ended" and len(parts) == 2:
        return Ended(*parts)
    if kind == "places" and len(parts) == 1:
        return PlaceFree(*parts)
    return None


class TabsessionAPI:
    """The API app (``app``) and what a user's own routes need (``require_tab``).

    ``authenticate(name) -> name or None`` (sync or async) decides who may sign in: the
    demo's accepts any name. ``store`` defaults to this process's memory; give a shared one
    (``stores.open_store("sqlite:PATH")``, ``"redis://HOST:PORT/DB"``) to run several processes.
    """

    def __init__(self, max_tabs: int = 1, policy: str = "block", idle_timeout: float | None = 900,
                 warn_before: float | None = 60, absolute_timeout: float | None = 28800,
                 store=None, authenticate: Callable[[str], str | None | Awaitable[str | None]] = any_name,
                 authority: Authority | None = None):
        self.authority = authority or Authority(
            store or MemoryStore(),
            Policy(max_tabs=max_tabs, policy=policy, idle_seconds=idle_timeout,
                   absolute_seconds=absolute_timeout, warn_seconds=warn_before))
        self.authenticate = authenticate
        self.pushes = Pushes()
        self._sweeper: asyncio.Task | None = None
        self._listener: asyncio.Task | None = None
        self._background: set[asyncio.Task] = set()
        bus = getattr(self.authority.store, "bus", None)
        self.bus = bus() if bus is not None else None
        self.process = secrets.token_hex(8)  # names this process's messages on the bus
        self.app = Starlette(
            routes=[
                Route("/session", self._safe(self.get_session), methods=["GET"]),
                Route("/session", self._safe(self.sign_in), methods=["POST"]),
                Route("/session", self._safe(self.sign_out), methods=["DELETE"]),
                Route("/places", self._safe(self.places), methods=["GET"]),
                Route("/places", self._safe(self.claim), methods=["POST"]),
                Route("/places", self._safe(self.release), methods=["DELETE"]),
                Route("/activity", self._safe(self.touch), methods=["POST"]),
                Route("/me", self._safe(self.me), methods=["GET"]),
                Route("/tabs", self._safe(self.tabs), methods=["GET"]),
                WebSocketRoute("/push", self.push),
            ],
            exception_handlers={HTTPException: self.answer_refusal},
        )

    # ------------------------------------------------------------ plumbing
    async def answer_refusal(self, request: Request, error: HTTPException) -> JSONResponse:
        """An exception handler that answers ``Refusal`` (and Starlette's HTTP errors) as JSON
        ``{"reason": ...}``: in a FastAPI app whose routes depend on ``require_tab``,
        ``app.add_exception_handler(Refusal, api.answer_refusal)``."""
        if isinstance(error, Refusal):
            return reason(error.status_code, error.reason)
        words = {404: "not-found", 405: "method-not-allowed"}
        return reason(error.status_code, words.get(error.status_code, "bad-request"))

    def _safe(self, endpoint):
        """The endpoint, answering a refusal as JSON and anything that fails (the store stopped
        answering) as 503 ``server-unavailable``: never a traceback to the client (S8, S9).
        Every answer says the server's time (``NOW_HEADER``): the pages keep deadlines by it."""
        async def answering(request: Request) -> JSONResponse:
            try:
                async with asyncio.timeout(REQUEST_SECONDS):
                    response = await endpoint(request)
            except Refusal as refusal:
                response = reason(refusal.status_code, refusal.reason)
            except Exception as error:
                _log.warning("tabsession: %s answered 503: %s: %s", request.url.path,
                             type(error).__name__, str(error)[:200])
                response = reason(503, records.SERVER_UNAVAILABLE)
            response.headers[NOW_HEADER] = repr(self.authority.clock())
            return response
        return answering

    def _start_sweeping(self) -> None:
        """The deadline sweep, and the bus's listener, run in whichever event loop serves us
        (mounted apps get no lifespan of their own, so they start with the first request)."""
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())
        if self.bus is not None and (self._listener is None or self._listener.done()):
            self._listener = asyncio.get_running_loop().create_task(
                self.bus.listen(self._heard, self.recheck))

    async def _heard(self, message: str) -> None:
        """A message on the bus: deliver another process's notices to our tabs."""
        try:
            data = json.loads(message)
            if not isinstance(data, dict) or data.get("from") == self.process:
                return
            notices = [notice for notice in map(_unwire, data.get("notices") or ()) if notice is not None]
        except (ValueError, TypeError, AttributeError):
            return
        await self.deliver(notices, publish=False)

    async def recheck(self) -> None:
        """After a gap in the bus: check every connected tab's credentials again and tell each
        what it missed (``moved``, ``ended``), then every user's places."""
        for sid, tab_id, socket, (epoch, key) in self.pushes.connections():
            try:
                async with asyncio.timeout(REQUEST_SECONDS):
                    result = await self.authority.check(sid, tab_id, epoch, key)
            except Exception:
                return  # the store is away again: the next gap brings us back here
            if isinstance(result, Denied):
                await self.deliver([Ended(sid, result.reason)], publish=False)
            elif isinstance(result, Refused):
                await self.deliver([Moved(sid, tab_id)], publish=False)
        self.pushes.places_told.clear()
        for user in self.pushes.users():
            await self.tell_places(user)

    async def _sweep(self) -> None:
        kept = asyncio.get_running_loop().time()
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            if asyncio.get_running_loop().time() - kept >= KEEP_ALIVE_SECONDS:
                kept = asyncio.get_running_loop().time()
                await self.keep_alive()
            try:
                async with asyncio.timeout(REQUEST_SECONDS):
                    notices = await self.authority.expire()
                await self.deliver(notices)
            except Exception:
                pass  # the store is away: try again at the next sweep

    async def keep_alive(self) -> None:
        """Tell the store which tabs' push connections this process holds (R17: their places
        are not orphans), one write per user."""
        by_user: dict[str, list[tuple[str, str, int]]] = {}
        for sid, tab_id, socket, (epoch, key) in self.pushes.connections():
            user = self.pushes.user_of_socket.get(socket)
            if user is not None:
                by_user.setdefault(user, []).append((sid, tab_id, epoch))
        for user, tabs in by_user.items():
            try:
                async with asyncio.timeout(REQUEST_SECONDS):
                    _, notices = await self.authority.keep(user, tabs)
                await self.deliver(notices)
            except Exception:
                pass  # the store is away: the next keep-alive tries again

    async def deliver(self, notices, publish: bool = True) -> None:
        """Tell our tabs what ``notices`` say and, with ``publish``, the other processes."""
        if publish and self.bus is not None and notices:
            wired = [item for item in map(_wire, notices) if item is not None]
            try:
                await self.bus.publish(json.dumps({"from": self.process, "notices": wired}))
            except Exception as error:
                _log.warning("tabsession: the bus did not take a message: %s", str(error)[:200])
        users = []
        for notice in notices:
            if isinstance(notice, PlaceFree) and notice.user not in users:
                users.append(notice.user)
            for socket, message in self.pushes.targets(notice):
                try:
                    await socket.send_text(json.dumps(message))
                    if message["kind"] == "ended":
                        await socket.close()
                except Exception:
                    pass  # it closed meanwhile; its own handler drops it
        for user in users:
            await self.tell_places(user)

    async def tell_places(self, user: str | None) -> None:
        """Push ``{"kind": "places", ...}`` (what ``GET /places`` answers) to every tab of
        ``user`` connected here: their places changed. Tabs that hold a place then need not ask
        at each periodic check (push, not polling). A session's tabs are told only what changed
        for them: tabs of one profile opening and closing change nothing they are told (their
        own places are not "elsewhere"), so they do not message each other."""
        if user is None:
            return
        for sid in self.pushes.sessions_of(user):
            sockets = list(self.pushes.by_session.get(sid, {}).values())
            if not sockets:
                continue
            try:
                message = json.dumps({"kind": "places", **self._places_of(await self.authority.tabs(sid))})
            except Exception:
                continue  # the store is away: the tabs ask at their next check
            if self.pushes.places_told.get(sid) == message:
                continue
            self.pushes.places_told[sid] = message
            for socket in sockets:
                try:
                    await socket.send_text(message)
                except Exception:
                    pass  # it closed meanwhile; its own handler drops it

    @staticmethod
    def _places_of(entries) -> dict:
        """The user's places that tabs of other profiles hold, as session ``sid``'s ``tabs``
        answer shows them: how many, and when each was last used (never ids or keys)."""
        elsewhere = [] if isinstance(entries, Denied) else [entry for entry in entries if entry.elsewhere]
        return {"others": len(elsewhere),
                "elsewhere": [{"last_active": entry.last_active} for entry in elsewhere]}

    def _sid(self, connection: HTTPConnection) -> str | None:
        sid = connection.cookies.get(COOKIE)
        return sid if sid is not None and _SID.match(sid) else None

    def _check_origin(self, connection: HTTPConnection) -> None:
        origin = connection.headers.get("origin")
        scheme = {"ws": "http", "wss": "https"}.get(connection.url.scheme, connection.url.scheme)
        if origin is not None and origin != f"{scheme}://{connection.url.netloc}":
            raise Refusal(403, "cross-origin")

    def _guard(self, request: Request) -> None:
        """State-changing requests: from this origin, by our script (S9, cross-site use)."""
        self._start_sweeping()
        self._check_origin(request)
        if request.headers.get(REQUEST_HEADER) != "1":
            raise Refusal(403, "missing-header")

    async def _body(self, request: Request) -> dict:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            raise Refusal(413, "too-large")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise Refusal(413, "too-large")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Refusal(400, "malformed") from None
        if not isinstance(data, dict):
            raise Refusal(400, "malformed")
        return data

    @staticmethod
    def _lease(value: str | None) -> tuple[str, int, str]:
        parts = (value or "").split(".")
        if len(parts) != 3 or not records.is_id(parts[0]) or not parts[1].isdigit() \
                or len(parts[1]) > 18 or not _KEY.match(parts[2]):
            raise Refusal(403, "not-a-tab")
        return parts[0], int(parts[1]), parts[2]

    def _deadlines(self, session: Session) -> dict:
        remaining = self.authority.remaining(session)
        return {"idle_in": remaining.get("idle"), "absolute_in": remaining.get("absolute"),
                "warn_in": remaining.get("warn")}

    @staticmethod
    def _refusal(result) -> JSONResponse:
        return reason(result.status, result.reason)

    # ------------------------------------------------------------ a user's own routes
    async def require_tab(self, request: HTTPConnection) -> tuple[Session, str]:
        """The (session, tab id) of an active tab making this request, else ``Refusal`` 401/409
        (S2). Use it in a FastAPI dependency, or call it at the top of a Starlette endpoint."""
        self._start_sweeping()
        sid = self._sid(request)
        if sid is None:
            raise Refusal(401, records.REASON_SIGNED_OUT)
        tab_id, epoch, key = self._lease(request.headers.get(TAB_HEADER))
        result = await self.authority.check(sid, tab_id, epoch, key)
        if isinstance(result, (Refused, Denied)):
            raise Refusal(result.status, result.reason)
        return result[0], tab_id

    # ------------------------------------------------------------ routes
    async def get_session(self, request: Request) -> JSONResponse:
        self._start_sweeping()
        sid = self._sid(request)
        if sid is None:
            return reason(401, records.REASON_SIGNED_OUT)
        result = await self.authority.session(sid)
        if isinstance(result, Denied):
            return self._refusal(result)
        return answer({"user": result.user, **self._deadlines(result)})

    async def sign_in(self, request: Request) -> JSONResponse:
        self._guard(request)
        data = await self._body(request)
        sid = self._sid(request)
        if sid is not None:
            # A live session in this profile is never replaced by a second sign-in (rule 2):
            # the tab is told whose it is and follows it.
            current = await self.authority.session(sid)
            if isinstance(current, Session):
                return answer({"user": current.user, "existing": True, **self._deadlines(current)})
        name = username_of(data.get("user"))
        if name is None:
            return reason(400, "bad-name", message=USERNAME_ERROR)
        accepted = self.authenticate(name)
        if asyncio.iscoroutine(accepted):
            accepted = await accepted
        if not isinstance(accepted, str) or username_of(accepted) != accepted:
            # (a hook's answer must be a name as a sign-in trims it: the browser refuses a
            # stored " bob " as a record that is not a session, rule 10)
            return reason(403, "refused", message="This name may not sign in here.")
        session, notices = await self.authority.sign_in(accepted)
        await self.deliver(notices)
        response = answer({"user": session.user, **self._deadlines(session)})
        response.set_cookie(COOKIE, session.sid, httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https")
        return response

    async def sign_out(self, request: Request) -> JSONResponse:
        self._guard(request)
        sid = self._sid(request)
        if sid is not None:
            await self.deliver(await self.authority.sign_out(sid))
        response = answer({"reason": records.REASON_SIGNED_OUT})
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    async def places(self, request: Request) -> JSONResponse:
        """The user's places that tabs of *other* profiles hold: how many (a refused tab learns
        from it whether a place is free for it) and, for the tab list (rule 9), when each was
        last used by the server's clock; never their ids or keys. No session: none, and never
        an error."""
        self._start_sweeping()
        sid = self._sid(request)
        found = await self.authority.user_and_tabs(sid) if sid is not None else Denied(401, records.REASON_SIGNED_OUT)
        # ... and whose the live session is: a sign-in page of this profile on another origin of
        # the host, which never recorded it, follows it instead of showing its form (S6).
        user, entries = (None, found) if isinstance(found, Denied) else found
        # ... and how many places the profile's own session holds ("mine"): a page counts those
        # beyond the slots its origin's locks see, which are the profile's tabs on another origin
        # of this host (S6). Only here: the pushed message stays what other profiles change.
        mine = 0 if isinstance(entries, Denied) else sum(1 for entry in entries if not entry.elsewhere)
        more = {"ended": entries.reason} if isinstance(entries, Denied) else {"user": user}
        # "ended": no live session (no cookie: a sign-out through any origin of the host deletes
        # it for all of them). A tab that holds no place has no push connection: this is how it
        # learns of a sign-out made through another origin (S6).
        return answer({**self._places_of(entries), "mine": mine, **more})

    async def claim(self, request: Request) -> JSONResponse:
        self._guard(request)
        data = await self._body(request)
        sid = self._sid(request)
        if sid is None:
            return reason(401, records.REASON_SIGNED_OUT)
        tab_id = data.get("tab")
        use_here = data.get("use_here", False)
        if not records.is_id(tab_id) or not isinstance(use_here, bool):
            return reason(400, "malformed")
        result, notices = await self.authority.claim(sid, tab_id, use_here)
        user = await self.authority.user_of(sid) if isinstance(result, Granted) else None
        if user is not None:
            notices = list(notices) + [PlaceFree(user)]  # the user's places changed: tell every tab
        await self.deliver(notices)  # one message on the bus for all of it
        if not isinstance(result, Granted):
            return self._refusal(result)
        return answer({"place": result.place_index, "epoch": result.epoch, "key": result.key,
                       "user": user})

    def _as_tab(self, request: Request) -> tuple[str, str, int, str]:
        """(sid, tab, epoch, key) of a state-changing request made as a tab, else a Refusal."""
        self._guard(request)
        sid = self._sid(request)
        if sid is None:
            raise Refusal(401, records.REASON_SIGNED_OUT)
        return (sid, *self._lease(request.headers.get(TAB_HEADER)))

    async def release(self, request: Request) -> JSONResponse:
        sid, tab_id, epoch, key = self._as_tab(request)
        released, notices = await self.authority.release(sid, tab_id, epoch, key)
        await self.deliver(notices)
        return answer({"released": bool(released)})

    async def touch(self, request: Request) -> JSONResponse:
        sid, tab_id, epoch, key = self._as_tab(request)
        result, notices = await self.authority.touch(sid, tab_id, epoch, key)
        await self.deliver(notices)
        if isinstance(result, (Refused, Denied)):
            return self._refusal(result)
        session = await self.authority.session(sid)
        return answer(self._deadlines(session) if isinstance(session, Session) else {})

    async def me(self, request: Request) -> JSONResponse:
        session, tab_id = await self.require_tab(request)
        return answer({"user": session.user, "tab": tab_id, **self._deadlines(session)})

    async def tabs(self, request: Request) -> JSONResponse:
        session, tab_id = await self.require_tab(request)
        entries = await self.authority.tabs(self._sid(request))
        if isinstance(entries, Denied):
            return self._refusal(entries)
        return answer({"tabs": [{"tab": entry.tab_id, "last_active": entry.last_active,
                                 "elsewhere": entry.elsewhere, "is_self": entry.tab_id == tab_id}
                                for entry in entries]})

    async def push(self, socket: WebSocket) -> None:
        self._start_sweeping()
        try:
            self._check_origin(socket)
        except Refusal:
            await socket.close(code=1008)
            return
        sid = self._sid(socket)
        await socket.accept()
        try:
            # The tab's credentials come as the first message, never in the URL (URLs end up in
            # logs); a connection that says nothing in time is closed.
            first = await asyncio.wait_for(socket.receive_text(), PUSH_HELLO_SECONDS)
            tab_id, epoch, key = self._lease(first[:300])
        except (Refusal, asyncio.TimeoutError, WebSocketDisconnect, RuntimeError, KeyError):
            await _close_quietly(socket, 1008)
            return
        try:
            async with asyncio.timeout(REQUEST_SECONDS):
                result = await self.authority.check(sid, tab_id, epoch, key) if sid else Denied(401, records.REASON_SIGNED_OUT)
        except Exception:
            # The store is away (S8): the tab keeps its place and checks again at its next query.
            await _close_quietly(socket, 1013)
            return
        if isinstance(result, Denied):
            await socket.send_text(json.dumps({"kind": "ended", "reason": result.reason}))
            await socket.close()
            return
        if isinstance(result, Refused):
            await socket.send_text(json.dumps({"kind": "moved"}))
            await socket.close()
            return
        user = result[0].user
        server_stopping = False
        old = self.pushes.add(sid, tab_id, socket, user, epoch, key)
        if old is not None:
            try:
                await old.close()
            except Exception:
                pass
        try:
            # What GET /places would answer, now; then again whenever the user's places change.
            # (The store away: nothing now, and the tab asks at its checks meanwhile.)
            try:
                async with asyncio.timeout(REQUEST_SECONDS):
                    message = json.dumps({"kind": "places", **self._places_of(await self.authority.tabs(sid))})
            except Exception:
                message = None
            if message is not None:
                await socket.send_text(message)
                self.pushes.places_told.setdefault(sid, message)
            try:  # a tab back after a while (its server restarted): no orphan (R17)
                async with asyncio.timeout(REQUEST_SECONDS):
                    await self.authority.keep(user, [(sid, tab_id, epoch)])
            except Exception:
                pass
            while True:
                await socket.receive_text()  # the tab says nothing; this waits for the close
        except WebSocketDisconnect as gone:
            # 1012 (service restart): this process is stopping, not the tab. The place stays the
            # tab's: it reconnects to the next process of the store (or this one, restarted).
            server_stopping = gone.code == SERVER_STOPPING
        except RuntimeError:
            pass
        finally:
            self.pushes.remove(sid, tab_id, socket, user)
            if server_stopping:
                return
            # A task of its own: the server may cancel this handler as the connection goes (a
            # shutdown), and the place must be dropped all the same.
            dropping = asyncio.get_running_loop().create_task(self._drop(sid, tab_id, epoch))
            self._background.add(dropping)
            dropping.add_done_callback(self._background.discard)

    async def _drop(self, sid: str, tab_id: str, epoch: int) -> None:
        try:
            async with asyncio.timeout(REQUEST_SECONDS):
                _, notices = await self.authority.drop(sid, tab_id, epoch)
                await self.deliver(notices)
        except Exception:
            pass  # the store is away: the place stays the tab's until it comes back or ends
