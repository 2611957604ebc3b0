"""The Starlette application: serve.py's answers for the app's files, and the API's mount point.

    build_app(answer, allowed_hosts=[...], security_headers=(...), api=None) -> Starlette

`answer(method, target, if_none_match)` is serve.answer bound to a site: it returns a
serve.Answer (status, headers, and a body or a file). Every response, whoever makes it, carries
the security headers and `Server: tabsession`. In front of everything, outermost first:

- `Guard`: a request over HTTP/1.0 or 1.1 only (h11 lets `HTTP/2.0` through: 505), with at most
  MAX_HEADERS header fields of MAX_HEADER_BYTES in all (431), as http.server enforced before;
- Starlette's TrustedHostMiddleware: a Host header naming this server (400 otherwise);
- under `/api` only, `BodyLimit`: a request body of at most MAX_API_BODY bytes, else 413 with JSON
  `{"reason": "too-large"}` (CONTRACT S9: bad input gets a 4xx with a JSON reason).
"""

import asyncio
import json
import sys
from http import HTTPStatus

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.routing import Mount

SERVER_NAME = "tabsession"  # no Python or uvicorn version in the Server header
MAX_HEADERS = 100  # http.server's limit, kept: no browser sends nearly as many
# h11 refuses a request head over its limit (front.py) only while the head is incomplete: one that
# arrives whole in one read passes it. This bounds the header fields whatever the reads.
MAX_HEADER_BYTES = 16 * 1024
MAX_API_BODY = 64 * 1024
FILE_CHUNK = 256 * 1024
HTTP_VERSIONS = {"1.0", "1.1"}


def encode_headers(headers) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


async def send_simple(send, status: int, content_type: str, body: bytes, headers=()) -> None:
    """A whole response with a small body (HEAD bodies are dropped by the server)."""
    await send({"type": "http.response.start", "status": status, "headers": encode_headers(
        (("Content-Type", content_type), ("Content-Length", str(len(body))),
         ("Cache-Control", "no-store")) + tuple(headers))})
    await send({"type": "http.response.body", "body": body})


async def send_plain(send, status: int) -> None:
    """`404 Not Found`-style plain text, the shape of serve.plain."""
    status = HTTPStatus(status)
    await send_simple(send, status.value, "text/plain; charset=utf-8",
                      f"{status.value} {status.phrase}\n".encode())


def request_target(scope) -> str:
    """The request target as the client sent it (path and query, never decoded)."""
    raw = scope.get("raw_path")
    if raw is None:  # not every ASGI server sends raw_path
        from urllib.parse import quote
        raw = quote(scope.get("root_path", "") + scope["path"]).encode("ascii")
    target = raw.decode("latin-1")
    query = scope.get("query_string", b"")
    if query and "?" not in target:  # uvicorn's raw_path stops at "?", some clients' does not
        target += "?" + query.decode("latin-1")
    return target


def header(scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


class StaticSite:
    """GET and HEAD over serve.py's allow-list (its `answer`); any other method 405."""

    def __init__(self, answer):
        self.answer = answer

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":  # a WebSocket outside /api: refused
            await send({"type": "websocket.close", "code": 1008})
            return
        given = self.answer(scope["method"], request_target(scope), header(scope, b"if-none-match"))
        if given.problem:
            sys.stderr.write(given.problem + "\n")
            sys.stderr.flush()
        await send({"type": "http.response.start", "status": int(given.status),
                    "headers": encode_headers(given.headers)})
        if given.file is None or scope["method"] == "HEAD" or given.length == 0:
            await send({"type": "http.response.body", "body": given.body})
            return
        # Plain reads: local files, mostly in the page cache, read faster than a thread hop.
        # A client gone mid-download makes each send return at once (uvicorn), so this ends.
        left = given.length
        with open(given.file, "rb") as file:
            while left > 0:
                chunk = file.read(min(FILE_CHUNK, left))
                if not chunk:  # the file shrank since it was measured: pad what was promised
                    chunk = bytes(min(FILE_CHUNK, left))
                left -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": left > 0})
                # uvicorn's send waits only when the socket's buffer is full: yield anyway, so that
                # other connections get their turn and a reset connection is seen at once (its
                # writes then return at once instead of failing, which asyncio logs).
                await asyncio.sleep(0)


class SecurityHeaders:
    """Adds the security headers and `Server` to every response that lacks them."""

    def __init__(self, app, headers):
        self.app = app
        self.headers = encode_headers(tuple(headers) + (("Server", SERVER_NAME),))
        self.names = {name for name, _ in self.headers}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                given = list(message.get("headers", []))
                present = {name.lower() for name, _ in given}
                given += [(name, value) for name, value in self.headers if name not in present]
                message = {**message, "headers": given}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Guard:
    """HTTP/1.0 or 1.1 only (505), at most MAX_HEADERS header fields, MAX_HEADER_BYTES in all (431)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            if scope.get("http_version") not in HTTP_VERSIONS:
                await send_plain(send, HTTPStatus.HTTP_VERSION_NOT_SUPPORTED)
                return
            headers = scope["headers"]
            if len(headers) > MAX_HEADERS or sum(len(n) + len(v) for n, v in headers) > MAX_HEADER_BYTES:
                await send_plain(send, HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """The whole request body, read before the API sees it, of at most `limit` bytes; a larger
    one (announced or sent) gets 413 `{"reason": "too-large"}` and is never read further."""

    def __init__(self, app, limit: int = MAX_API_BODY):
        self.app = app
        self.limit = limit

    async def too_large(self, send) -> None:
        await send_simple(send, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "application/json",
                          json.dumps({"reason": "too-large"}).encode())

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced = header(scope, b"content-length")
        if announced.isdigit() and int(announced) > self.limit:
            await self.too_large(send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left: nobody to answer
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self.too_large(send)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # then: the disconnect, when it comes

        await self.app(scope, replay, send)


def build_app(answer, *, allowed_hosts, security_headers, api=None) -> Starlette:
    """The application; `api` (an ASGI app) is mounted at /api when given."""
    routes = [Mount("/api", app=BodyLimit(api))] if api is not None else []
    app = Starlette(routes=routes, middleware=[
        Middleware(SecurityHeaders, headers=security_headers),
        Middleware(Guard),
        Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts), www_redirect=False),
    ])
    # Everything else goes to the static site as sent: the router's own 404s and slash
    # redirects would answer targets (`*`, `http://...`, `/x/`) that serve.answer refuses.
    app.router.default = StaticSite(answer)
    app.router.redirect_slashes = False
    return app
