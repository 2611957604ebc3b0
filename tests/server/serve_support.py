"""What the server tests share: a fake tree, serve.py on a real socket, raw requests.

serve.py runs as a subprocess on port 0 (through tests/support/live_server.py). Most tests serve
a small fake tree built in a temporary folder (`--root`), so they depend neither on `./dev setup`
nor on the real pages; one module-wide server per runtime keeps each file fast (the fixtures are
in conftest.py). Requests go over raw sockets, so that odd request lines and targets reach the
server exactly as written.

A plain module (the test files import it by name, as pytest puts this folder on sys.path).
"""

import http.client
import importlib.util
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from live_server import LiveServer

REPOSITORY = Path(__file__).resolve().parents[2]
SERVE_PY = REPOSITORY / "serve.py"


def load_serve_module():
    """serve.py as a module, for its constants and pure helpers (it has no import side effects)."""
    spec = importlib.util.spec_from_file_location("serve", SERVE_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


serve = load_serve_module()

MICROPYTHON_INTERPRETER = "./vendor/micropython-1.27.0/micropython.mjs"
PYODIDE_INTERPRETER = "./vendor/pyodide-314.0.7/pyodide.mjs"
SETTINGS_ELEMENT = re.compile(
    r'<script type="application/json" id="tabsession-settings">(.*?)</script>', re.DOTALL
)
DEFAULT_SETTINGS = {
    "runtime": "micropython",
    "max_tabs": 1,
    "policy": "block",
    "idle_timeout": 900,
    "warn_before": 60,
    "absolute_timeout": 28800,
    "authority": "server",
}
PYODIDE_OPTIONS = [
    "--runtime", "pyodide", "--policy", "takeover", "--max-tabs", "3",
    "--idle-timeout", "120", "--warn-before", "30", "--absolute-timeout", "600",
    "--authority", "browser",
]
PYODIDE_SETTINGS = {
    "runtime": "pyodide",
    "max_tabs": 3,
    "policy": "takeover",
    "idle_timeout": 120,
    "warn_before": 30,
    "absolute_timeout": 600,
    "authority": "browser",
}
FIRST_LINE = re.compile(
    r"Serving http://127\.0\.0\.1:(\d+)/ \(runtime=(\w+), policy=(\w+), max-tabs=(\d+)\)"
)
BIG_FILE_SIZE = 16 * 1024 * 1024  # more than the socket buffers hold, so a send is in flight

PAGE_TEMPLATE = """<!doctype html>
<html lang="en" data-tab-state="booting">
<head>
<meta charset="utf-8">
<title>TITLE</title>
<script type="application/json" id="tabsession-settings">{"placeholder": true}</script>
<script type="module" src="./vendor/pyscript-0.7.31/core.js"></script>
</head>
<body>
<main id="app" hidden>TITLE &amp; more</main>
<script type="mpy" src="./app/x.py" config="./pyscript.toml"></script>
</body>
</html>
"""
CONFIG_TEMPLATE = f"""# PyScript configuration
interpreter = "{MICROPYTHON_INTERPRETER}"

[files]
"./app/x.py" = "x.py"
"""


def write(path: Path, content: str | bytes = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def build_tree(root: Path, outside: Path, pyodide: bool = True) -> Path:
    """A folder shaped like the repository after `./dev setup`, with traps beside the app's files."""
    write(root / "index.html", PAGE_TEMPLATE.replace("TITLE", "Index"))
    write(root / "login.html", PAGE_TEMPLATE.replace("TITLE", "Login"))  # not served: /login is index.html
    write(root / "pyscript.toml", CONFIG_TEMPLATE)
    write(root / "app/x.py", "print('x')\n")
    write(root / "app/pkg/y.py", "Y = 1\n")
    write(root / "app/notes.txt", "not Python\n")
    write(root / "app/.hidden.py", "SECRET = 1\n")
    write(root / "app/__pycache__/x.cpython-311.pyc", b"\x00pyc")
    write(root / "app/__pycache__/x.pyc", b"\x00pyc")
    write(root / "app/__pycache__/z.py", "cached = 1\n")
    write(root / "static/s.css", "body { color: black }\n")
    write(root / "static/i.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>\n")
    write(root / "static/favicon.svg", "<svg xmlns='http://www.w3.org/2000/svg'><circle r='1'/></svg>\n")
    write(root / "static/s.js", "export const s = 1;\n")
    write(root / "static/readme.txt", "not served\n")
    write(root / "vendor/pyscript-0.7.31/core.js", "export {};\n")
    write(root / "vendor/pyscript-0.7.31/core.css", ".py-error {}\n")
    write(root / "vendor/pyscript-0.7.31/core.js.map", "{}\n")
    write(root / "vendor/pyscript-0.7.31/deeper/more.js", "export {};\n")
    write(root / "vendor/micropython-1.27.0/micropython.mjs", "export {};\n")
    write(root / "vendor/micropython-1.27.0/micropython.wasm", b"\x00asm\x01\x00\x00\x00")
    write(root / "vendor/top.js", "export {};\n")
    if pyodide:
        write(root / "vendor/pyodide-314.0.7/pyodide.mjs", "export {};\n")
        write(root / "vendor/pyodide-314.0.7/pyodide.asm.mjs", "export {};\n")
        write(root / "vendor/pyodide-314.0.7/python_stdlib.zip", b"PK\x05\x06" + bytes(18))
        write(root / "vendor/pyodide-314.0.7/pyodide-lock.json", '{"packages": {}}\n')
        with open(write(root / "vendor/pyodide-314.0.7/pyodide.asm.wasm"), "wb") as big:
            big.truncate(BIG_FILE_SIZE)
    write(root / ".git/config", "[core]\n")
    write(root / "tests/t.py", "def test(): pass\n")
    write(root / "serve.py", "# not served\n")
    write(root / "README.md", "# not served\n")

    write(outside / "secret.css", "body { secret: 1 }\n")
    write(outside / "secret.py", "SECRET = 1\n")
    write(outside / "secret.js", "export const secret = 1;\n")
    (root / "static/escape.css").symlink_to(outside / "secret.css")
    (root / "static/outside").symlink_to(outside, target_is_directory=True)
    (root / "app/escape.py").symlink_to(outside / "secret.py")
    (root / "app/up.py").symlink_to("../serve.py")
    (root / "app/alias.py").symlink_to("x.py")
    (root / "app/notes.py").symlink_to("notes.txt")
    (root / "vendor/pyscript-0.7.31/escape.js").symlink_to(outside / "secret.js")
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "static/fifo.css")  # opening it would block a naive server forever
    return root


class Response(NamedTuple):
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def exchange(port: int, data: bytes) -> bytes:
    """Send bytes on a fresh connection; everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def parse_response(data: bytes, method: str = "GET") -> Response:
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, _, header_lines = head.partition(b"\r\n")
    headers = http.client.parse_headers(io.BytesIO(header_lines + b"\r\n\r\n"))
    if method != "HEAD" and headers["Content-Length"] is not None:
        assert int(headers["Content-Length"]) == len(body), "Content-Length must frame the body"
    return Response(int(status_line.split()[1]), headers, body)


def request(port: int, target: str, method: str = "GET", headers: dict | None = None) -> Response:
    """One request with `target` sent exactly as given."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    return parse_response(exchange(port, data), method)


def start(root: Path, *options: str, tmp: Path, env: dict | None = None) -> LiveServer:
    """serve.py serving `root` on a free port, once it answers (tests/support/live_server.py);
    its first line is checked in full."""
    running = LiveServer("--root", str(root), *options, logs_in=tmp, env=env).start()
    if FIRST_LINE.fullmatch(running.first_line) is None:
        running.stop()
        raise AssertionError(f"unexpected first line {running.first_line!r}: {running.stderr()}")
    return running


def stop(running: LiveServer, signum: int = signal.SIGINT) -> int:
    """Stop with `signum` (killed after a timeout); the exit status."""
    return running.stop(signum)


@contextmanager
def serving(root: Path, *options: str, tmp: Path, env: dict | None = None):
    running = start(root, *options, tmp=tmp, env=env)
    try:
        yield running
    finally:
        stop(running)


def run_serve(*arguments: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """serve.py with arguments that make it exit at once."""
    return subprocess.run(
        [sys.executable, str(SERVE_PY), *arguments],
        capture_output=True, text=True, timeout=10, cwd=cwd,
    )


def settings_of(page: bytes) -> dict:
    return json.loads(SETTINGS_ELEMENT.search(page.decode("utf-8")).group(1))


def without_settings(page: bytes) -> str:
    return SETTINGS_ELEMENT.sub(
        '<script type="application/json" id="tabsession-settings">{}</script>', page.decode("utf-8")
    )
