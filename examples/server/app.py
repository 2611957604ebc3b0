"""Your own Starlette app, with tabsession's server side mounted at /api.

Run it from the repository root, after ./dev setup (which fetches the runtimes into vendor/):

    .venv/bin/python examples/server/app.py --port 8000

The server decides who is signed in and which tabs are active; the pages follow it. Your own
routes ask `api.require_tab(request)`, so they answer only an active tab of a live session.
"""

import argparse
import mimetypes
import socket
import sys
import tomllib
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# Here the library is this repository's app/tabsession/; in your project, wherever you copied it.
sys.path.insert(0, str(ROOT / "app"))
from tabsession.server.web import Refusal, TabsessionAPI  # noqa: E402

VENDOR = ROOT / "vendor"  # PyScript and the interpreters, fetched by ./dev setup
mimetypes.add_type("application/wasm", ".wasm")  # Pyodide needs it; not every system knows it
mimetypes.add_type("text/javascript", ".mjs")


def authenticate(name):
    """Who may sign in: the name to sign in as, or None to refuse. This example accepts any
    name; yours would look the user up (and the sign-in page would ask for more than a name)."""
    return name


# The same settings as the pages' tabsession.create(...): one active tab per user, in any
# browser or device; a further tab is refused and offered "Use here".
api = TabsessionAPI(max_tabs=1, policy="block", idle_timeout=600, authenticate=authenticate)


def notes_of(user):
    """The user's own data (in your app: a database)."""
    return [f"Welcome back, {user}.", "Only your active tab can read these notes."]


async def notes(request):
    """A protected route of your own: it answers only a tab that is active right now."""
    try:
        session, tab_id = await api.require_tab(request)
    except Refusal as refusal:  # 401 signed out, 409 another tab is active, 403 not a tab
        return JSONResponse({"reason": refusal.reason}, status_code=refusal.status_code)
    return JSONResponse({"user": session.user, "notes": notes_of(session.user)},
                        headers={"Cache-Control": "no-store"})


def page(name, media_type="text/html; charset=utf-8"):
    async def endpoint(request):
        return FileResponse(HERE / name, media_type=media_type, headers={"Cache-Control": "no-store"})
    return endpoint


# The browser gets exactly the library files pyscript.toml lists: never tabsession/server/,
# which runs here only.
BROWSER_FILES = {source.removeprefix("./")
                 for source in tomllib.loads((HERE / "pyscript.toml").read_text())["files"]}


async def library_file(request):
    path = "tabsession/" + request.path_params["path"]
    if path not in BROWSER_FILES:
        return PlainTextResponse("Not Found", status_code=404)
    return FileResponse(ROOT / "app" / path, media_type="text/plain; charset=utf-8")


# serve.py's policy: PyScript needs 'unsafe-eval'; 'self' covers the push WebSocket too.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self' 'unsafe-eval'; "
    "connect-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


async def security_headers(request, call_next):
    response = await call_next(request)
    response.headers.update(HEADERS)
    return response


app = Starlette(
    routes=[
        Mount("/api", app=api.app),
        Route("/data/notes", notes),
        Route("/", page("index.html")),
        Route("/login", page("login.html")),
        Route("/pyscript.toml", page("pyscript.toml", "text/plain; charset=utf-8")),
        Route("/tabsession/{path:path}", library_file),
        Mount("/vendor", app=StaticFiles(directory=VENDOR, check_dir=False)),
    ],
    middleware=[Middleware(BaseHTTPMiddleware, dispatch=security_headers)],
)


def main():
    parser = argparse.ArgumentParser(description="tabsession's server example")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    options = parser.parse_args()
    if not VENDOR.is_dir():
        parser.error(f"{VENDOR} is missing: run ./dev setup first")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((options.host, options.port))
    print(f"Serving http://{options.host}:{sock.getsockname()[1]}/", flush=True)
    uvicorn.Server(uvicorn.Config(app)).run(sockets=[sock])


if __name__ == "__main__":
    main()
