"""serve.py as a user and a browser meet it: its command line, and HTTP on a real socket.

serve.py runs as a subprocess on port 0. Most tests serve a small fake tree built in a temporary
folder (`--root`), so they depend neither on `./dev setup` nor on the real pages; one module-wide
server per runtime keeps the file fast. Requests go over raw sockets, so that odd request lines
and targets reach the server exactly as written.
"""

import http.client
import importlib.util
import io
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest
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
}
PYODIDE_OPTIONS = [
    "--runtime", "pyodide", "--policy", "takeover", "--max-tabs", "3",
    "--idle-timeout", "120", "--warn-before", "30", "--absolute-timeout", "600",
]
PYODIDE_SETTINGS = {
    "runtime": "pyodide",
    "max_tabs": 3,
    "policy": "takeover",
    "idle_timeout": 120,
    "warn_before": 30,
    "absolute_timeout": 600,
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


# ----------------------------------------------------------------------------------------------
# Helpers: a fake tree, a running server, requests.


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
    write(root / "login.html", PAGE_TEMPLATE.replace("TITLE", "Login"))
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


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return build_tree(tmp_path_factory.mktemp("root"), tmp_path_factory.mktemp("outside"))


@pytest.fixture(scope="module")
def server(tree, tmp_path_factory):
    """One server with the default options for the whole module; it must print nothing."""
    running = start(tree, tmp=tmp_path_factory.mktemp("logs"))
    yield running
    assert 0 == stop(running)
    assert "" == running.stderr()


@pytest.fixture(scope="module")
def pyodide_server(tree, tmp_path_factory):
    """One server with every option changed from its default."""
    running = start(tree, *PYODIDE_OPTIONS, tmp=tmp_path_factory.mktemp("logs"))
    yield running
    assert 0 == stop(running)
    assert "" == running.stderr()


# ----------------------------------------------------------------------------------------------
# The command line.


def test_option_defaults_match_the_contract():
    """Every option's default is the one CONTRACT.md names."""
    expected = {
        "host": "127.0.0.1", "port": 8000, "runtime": "micropython", "max_tabs": 1,
        "policy": "block", "idle_timeout": 900, "warn_before": 60, "absolute_timeout": 28800,
        "open": False, "verbose": False, "root": None,
    }

    actual = vars(serve.parse_options(serve.build_parser(), []))

    assert expected == actual


def test_first_line_names_the_url_and_the_default_options(server):
    """The first line is `Serving http://HOST:PORT/ (...)` with the real port and the defaults."""
    expected = f"Serving http://127.0.0.1:{server.port}/ (runtime=micropython, policy=block, max-tabs=1)"

    actual = server.first_line

    assert expected == actual
    assert server.port > 0


def test_first_line_names_the_chosen_options(pyodide_server):
    """The first line follows --runtime, --policy and --max-tabs."""
    expected = ("pyodide", "takeover", "3")

    actual = FIRST_LINE.fullmatch(pyodide_server.first_line).group(2, 3, 4)

    assert expected == actual


def test_default_settings_reach_the_page(server):
    """Without options, the page's settings are the contract's defaults."""
    expected = DEFAULT_SETTINGS

    actual = settings_of(request(server.port, "/").body)

    assert expected == actual


def test_every_option_reaches_the_page(pyodide_server):
    """Each option's value reaches the page's settings."""
    expected = PYODIDE_SETTINGS

    actual = settings_of(request(pyodide_server.port, "/login").body)

    assert expected == actual


@pytest.mark.parametrize(
    "arguments, named",
    [
        (["--port", "abc"], "argument --port: expected a whole number, got 'abc'"),
        (["--port", "-1"], "argument --port: must be from 0 to 65535, got -1"),
        (["--port", "65536"], "argument --port: must be from 0 to 65535, got 65536"),
        (["--port", "80.5"], "argument --port: expected a whole number"),
        (["--host", ""], "argument --host: must not be empty"),
        (["--runtime", "cpython"], "argument --runtime: invalid choice: 'cpython'"),
        (["--runtime", "MicroPython"], "argument --runtime: invalid choice"),
        (["--policy", "steal"], "argument --policy: invalid choice: 'steal'"),
        (["--max-tabs", "-1"], "argument --max-tabs: must be from 0 to 1000, got -1"),
        (["--max-tabs", "1.5"], "argument --max-tabs: expected a whole number, got '1.5'"),
        (["--max-tabs", "1001"], "argument --max-tabs: must be from 0 to 1000, got 1001"),
        (["--max-tabs", "1_0"], "argument --max-tabs: expected a whole number"),
        (["--max-tabs", "１"], "argument --max-tabs: expected a whole number"),
        (["--max-tabs", ""], "argument --max-tabs: expected a whole number"),
        (["--idle-timeout", "0"], "argument --idle-timeout: must be from 1 to 2678400"),
        (["--idle-timeout", "-5"], "argument --idle-timeout: must be from 1"),
        (["--idle-timeout", "ten"], "argument --idle-timeout: expected a whole number"),
        (["--idle-timeout", "99999999999999999999"], "argument --idle-timeout: must be from 1"),
        (["--warn-before", "-1"], "argument --warn-before: must be from 0"),
        (["--warn-before", "x"], "argument --warn-before: expected a whole number"),
        (["--warn-before", "900"], "argument --warn-before: must be less than --idle-timeout"),
        (["--idle-timeout", "30", "--warn-before", "60"], "must be less than --idle-timeout (60 >= 30)"),
        (["--absolute-timeout", "0"], "argument --absolute-timeout: must be from 1"),
        (["--absolute-timeout", "2678401"], "argument --absolute-timeout: must be from 1 to 2678400"),
        (["--absolute-timeout", "1e3"], "argument --absolute-timeout: expected a whole number"),
        (["--max"], "unrecognized arguments: --max"),  # no abbreviations
        (["--nope"], "unrecognized arguments: --nope"),
        (["extra"], "unrecognized arguments: extra"),
        (["--port"], "argument --port: expected one argument"),
    ],
)
def test_bad_option_gives_usage_and_one_line(arguments, named):
    """A bad option: the usage line, one line naming the problem, no traceback, exit 2."""
    expected = (2, "", "usage: serve.py [options]", True, 2)

    result = run_serve(*arguments)
    lines = result.stderr.splitlines()

    actual = (result.returncode, result.stdout, lines[0], named in lines[1], len(lines))
    assert expected == actual, result.stderr


@pytest.mark.parametrize(
    "arguments, option, value",
    [
        (["--port", "0"], "port", 0),
        (["--port", "65535"], "port", 65535),
        (["--max-tabs", "0"], "max_tabs", 0),
        (["--max-tabs", "1000"], "max_tabs", 1000),
        (["--max-tabs=+2"], "max_tabs", 2),
        (["--warn-before", "0"], "warn_before", 0),
        (["--idle-timeout", "2678400", "--warn-before", "2678399"], "warn_before", 2678399),
        (["--idle-timeout", "1", "--warn-before", "0"], "idle_timeout", 1),
        (["--absolute-timeout", "2678400"], "absolute_timeout", 2678400),
        (["--runtime", "pyodide"], "runtime", "pyodide"),
        (["--policy", "takeover"], "policy", "takeover"),
        (["--host", "::1"], "host", "::1"),
    ],
)
def test_edge_values_are_accepted(arguments, option, value):
    """Values at the edges of each range are accepted as given."""
    expected = value

    actual = getattr(serve.parse_options(serve.build_parser(), arguments), option)

    assert expected == actual


def test_help_lists_every_option():
    """--help documents every option, --root as a test aid, and exits 0."""
    expected = (0, True)

    result = run_serve("--help")
    names = ["--host", "--port", "--runtime", "--max-tabs", "--policy", "--idle-timeout",
             "--warn-before", "--absolute-timeout", "--open", "--verbose", "--root DIR", "(for tests)"]

    actual = (result.returncode, all(name in result.stdout for name in names))
    assert expected == actual, result.stdout


def test_port_in_use_is_refused(server, tree):
    """A second server on a port in use: usage line, one line saying so, exit 2."""
    expected = (
        2,
        "usage: serve.py [options]\n"
        f"serve.py: error: argument --port: 127.0.0.1 port {server.port} is already in use\n",
    )

    result = run_serve("--port", str(server.port), "--root", str(tree))

    actual = (result.returncode, result.stderr)
    assert expected == actual


def test_unknown_host_is_refused(tree):
    """A host that cannot be bound: usage line, one line naming it, exit 2."""
    expected = (2, "usage: serve.py [options]", True, 2)

    result = run_serve("--host", "no.such.host.invalid", "--port", "0", "--root", str(tree))
    lines = result.stderr.splitlines()

    actual = (result.returncode, lines[0], lines[1].startswith(
        "serve.py: error: cannot listen on no.such.host.invalid port 0: "), len(lines))
    assert expected == actual, result.stderr


def test_missing_vendor_folder_names_dev_setup(tmp_path):
    """Without `./dev setup`: one line naming it on standard error, nothing served, exit 1."""
    write(tmp_path / "index.html", PAGE_TEMPLATE)
    expected = (
        1,
        "",
        "serve.py: error: the micropython runtime is not set up (vendor/pyscript-0.7.31/core.js "
        f"and 2 more missing under {tmp_path.resolve()}); run ./dev setup first\n",
    )

    result = run_serve("--port", "0", "--root", str(tmp_path))

    actual = (result.returncode, result.stdout, result.stderr)
    assert expected == actual


def test_missing_pyodide_files_only_stop_pyodide(tmp_path):
    """A tree set up without Pyodide refuses --runtime pyodide and names the first missing file."""
    root = build_tree(tmp_path / "root", tmp_path / "outside", pyodide=False)
    expected = (1, True, True)

    result = run_serve("--port", "0", "--root", str(root), "--runtime", "pyodide")

    actual = (
        result.returncode,
        "(vendor/pyodide-314.0.7/pyodide.mjs and 4 more missing" in result.stderr,
        result.stderr.endswith("; run ./dev setup first\n"),
    )
    assert expected == actual, result.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_stopping_is_quiet(tree, tmp_path, signum):
    """Ctrl-C (or a plain kill) stops the server with exit 0 and nothing on standard error."""
    running = start(tree, tmp=tmp_path)
    request(running.port, "/")
    expected = (0, "")

    actual = (stop(running, signum), running.stderr())

    assert expected == actual


def test_open_starts_the_browser_at_the_url(tree, tmp_path):
    """--open hands the served URL to the default browser ($BROWSER here) once listening."""
    opened = tmp_path / "opened.txt"
    browser = write(tmp_path / "browser", f'#!/bin/sh\nprintf "%s" "$1" > "{opened}.part"\n'
                                         f'mv "{opened}.part" "{opened}"\n')
    browser.chmod(0o755)
    env = {**os.environ, "BROWSER": str(browser)}

    with serving(tree, "--open", tmp=tmp_path, env=env) as running:
        deadline = time.monotonic() + 5
        while not opened.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        expected = f"http://127.0.0.1:{running.port}/"

        actual = opened.read_text() if opened.exists() else None

    assert expected == actual


def test_requests_are_not_logged_by_default(server):
    """Without --verbose, serving requests prints nothing on standard error."""
    request(server.port, "/")
    request(server.port, "/nope")
    expected = ""

    actual = server.stderr()

    assert expected == actual


def test_verbose_logs_each_request(tree, tmp_path):
    """--verbose logs one line per request to standard error."""
    with serving(tree, "--verbose", tmp=tmp_path) as running:
        request(running.port, "/login?next=%2F")
        request(running.port, "/nope")
        time.sleep(0.1)
        stderr = running.stderr()
    expected = (True, True)

    actual = ('"GET /login?next=%2F HTTP/1.1" 200' in stderr, '"GET /nope HTTP/1.1" 404' in stderr)

    assert expected == actual, stderr


# ----------------------------------------------------------------------------------------------
# The allow-list.


@pytest.mark.parametrize(
    "target",
    [
        "/",
        "/?x=1",
        "/login",
        "/login?reason=x&next=%2F",
        "/pyscript.toml",
        "/pyscript.toml?v=2",
        "/app/x.py",
        "/app/%78.py",  # an escaped ordinary letter is just that letter
        "/app/pkg/y.py",
        "/app/alias.py",  # a symbolic link that stays inside app/
        "/static/s.css",
        "/static/i.svg",
        "/static/s.js",
        "/vendor/pyscript-0.7.31/core.js",
        "/vendor/pyscript-0.7.31/core.css",
        "/vendor/micropython-1.27.0/micropython.mjs",
        "/vendor/micropython-1.27.0/micropython.wasm",
        "/vendor/pyodide-314.0.7/pyodide.mjs",
        "/vendor/pyodide-314.0.7/pyodide.asm.mjs",
        "/vendor/pyodide-314.0.7/python_stdlib.zip",
        "/vendor/pyodide-314.0.7/pyodide-lock.json",
    ],
)
def test_allowed_route_is_served(server, target):
    """Every route of the allow-list answers 200."""
    expected = 200

    actual = request(server.port, target).status

    assert expected == actual


@pytest.mark.parametrize(
    "target, file",
    [
        ("/app/x.py", "app/x.py"),
        ("/app/pkg/y.py", "app/pkg/y.py"),
        ("/static/i.svg", "static/i.svg"),
        ("/vendor/micropython-1.27.0/micropython.wasm", "vendor/micropython-1.27.0/micropython.wasm"),
        ("/vendor/pyodide-314.0.7/python_stdlib.zip", "vendor/pyodide-314.0.7/python_stdlib.zip"),
    ],
)
def test_plain_files_are_served_byte_for_byte(server, tree, target, file):
    """Files outside the templating arrive unchanged."""
    expected = (tree / file).read_bytes()

    actual = request(server.port, target).body

    assert expected == actual


@pytest.mark.parametrize(
    "target, status",
    [
        # Not in the allow-list.
        ("/.git/config", 404),
        ("/.git/", 404),
        ("/tests/t.py", 404),
        ("/serve.py", 404),
        ("/README.md", 404),
        ("/index.html", 404),
        ("/login.html", 404),
        ("/login/", 404),
        ("/favicon.ico", 404),
        ("/APP/x.py", 404),
        ("/app/x.PY", 404),
        ("/app/notes.txt", 404),
        ("/app/.hidden.py", 404),
        ("/app/__pycache__/x.pyc", 404),
        ("/app/__pycache__/x.cpython-311.pyc", 404),
        ("/app/__pycache__/z.py", 404),
        ("/app/missing.py", 404),
        ("/static/readme.txt", 404),
        ("/vendor/pyscript-0.7.31/core.js.map", 404),
        ("/vendor/pyscript-0.7.31/deeper/more.js", 404),  # one folder level only
        ("/vendor/top.js", 404),
        # Folders: never listed.
        ("/app", 404),
        ("/app/", 404),
        ("/app/pkg", 404),
        ("/app/pkg/", 404),
        ("/static/", 404),
        ("/vendor/", 404),
        ("/vendor/pyscript-0.7.31", 404),
        ("/vendor/pyscript-0.7.31/", 404),
        # Symbolic links out of their folder, or to a file of another kind; a pipe.
        ("/static/escape.css", 404),
        ("/static/outside/secret.css", 404),
        ("/app/escape.py", 404),
        ("/app/up.py", 404),
        ("/app/notes.py", 404),
        ("/vendor/pyscript-0.7.31/escape.js", 404),
        ("/static/fifo.css", 404),
        # Traversal and other tricks: refused before any file is looked at.
        ("/../etc/passwd", 400),
        ("/%2e%2e/%2e%2e/etc/passwd", 400),
        ("/%2E%2E/serve.py", 400),
        ("/app/../serve.py", 400),
        ("/app/%2e%2e/serve.py", 400),
        ("/app/..%2fserve.py", 400),
        ("/app/..%2Fserve.py", 400),
        ("/app/..%5cserve.py", 400),
        ("/app/./x.py", 400),
        ("/app/%2e/x.py", 400),
        ("//etc/passwd", 400),
        ("/app//x.py", 400),
        ("/app\\x.py", 400),
        ("/app%5cx.py", 400),
        ("/static/%00", 400),
        ("/app/x.py%00.css", 400),
        ("/static/%0a.css", 400),
        ("/static/%7f.css", 400),
        ("/app/%ff.py", 400),  # not UTF-8
        ("/app/%e2%80.py", 400),  # truncated UTF-8
        ("http://127.0.0.1/app/x.py", 400),  # absolute form: not from a browser to its origin
        ("*", 400),
    ],
)
def test_refused_target(server, target, status):
    """Anything outside the allow-list answers 404, a suspicious path 400: no body but the code."""
    expected = (status, "text/plain; charset=utf-8")

    response = request(server.port, target)

    actual = (response.status, response.headers["Content-Type"])
    assert expected == actual
    assert response.body.startswith(str(status).encode()) and len(response.body) < 40


def test_route_table_only_names_pinned_suffixes():
    """Every suffix the allow-list serves has a pinned MIME type."""
    expected = set()

    served = set().union(*(folder.suffixes for folder in serve.FOLDERS.values())) | {".html", ".toml"}
    actual = served - set(serve.MIME_TYPES)

    assert expected == actual


def test_vendor_versions_match_package_json():
    """The vendor folders serve.py needs are named after the versions package.json pins."""
    pins = json.loads((REPOSITORY / "package.json").read_text())["dependencies"]
    expected = {
        f"vendor/pyscript-{pins['@pyscript/core']}",
        f"vendor/micropython-{pins['@micropython/micropython-webassembly-pyscript']}",
        f"vendor/pyodide-{pins['pyodide']}",
    }

    needed = serve.PYSCRIPT_FILES + sum((runtime.files for runtime in serve.RUNTIMES.values()), ())
    actual = {os.path.dirname(name) for name in needed}

    assert expected == actual


# ----------------------------------------------------------------------------------------------
# Headers.


@pytest.mark.parametrize(
    "target, content_type",
    [
        ("/", "text/html; charset=utf-8"),
        ("/login", "text/html; charset=utf-8"),
        ("/pyscript.toml", "text/plain; charset=utf-8"),
        ("/app/x.py", "text/plain; charset=utf-8"),
        ("/static/s.css", "text/css; charset=utf-8"),
        ("/static/i.svg", "image/svg+xml"),
        ("/static/s.js", "text/javascript; charset=utf-8"),
        ("/vendor/pyscript-0.7.31/core.js", "text/javascript; charset=utf-8"),
        ("/vendor/pyscript-0.7.31/core.css", "text/css; charset=utf-8"),
        ("/vendor/micropython-1.27.0/micropython.mjs", "text/javascript; charset=utf-8"),
        ("/vendor/micropython-1.27.0/micropython.wasm", "application/wasm"),
        ("/vendor/pyodide-314.0.7/python_stdlib.zip", "application/zip"),
        ("/vendor/pyodide-314.0.7/pyodide-lock.json", "application/json"),
    ],
)
def test_content_type_is_pinned_by_suffix(server, target, content_type):
    """Content-Type comes from serve.py's own table, whatever the host's mimetypes say."""
    expected = content_type

    actual = request(server.port, target).headers["Content-Type"]

    assert expected == actual


SAMPLE_RESPONSES = [
    ("GET", "/"),
    ("GET", "/pyscript.toml"),
    ("GET", "/app/x.py"),
    ("GET", "/vendor/pyscript-0.7.31/core.js"),
    ("HEAD", "/login"),
    ("GET", "/nope"),
    ("GET", "/../etc/passwd"),
    ("POST", "/"),
    ("GET", "/" + "a" * 3000),
]


@pytest.mark.parametrize("method, target", SAMPLE_RESPONSES)
def test_security_headers_are_on_every_response(server, method, target):
    """Success or error, every response carries the CSP, nosniff and no-referrer, and no COOP."""
    expected = (serve.CONTENT_SECURITY_POLICY, "nosniff", "no-referrer", None)

    headers = request(server.port, target, method).headers

    actual = (
        headers["Content-Security-Policy"],
        headers["X-Content-Type-Options"],
        headers["Referrer-Policy"],
        headers["Cross-Origin-Opener-Policy"],
    )
    assert expected == actual


def test_content_security_policy_forbids_framing_and_other_hosts(server):
    """The CSP allows no other host and no framing."""
    expected = {
        "default-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "connect-src": ["'self'"],
    }

    policy = request(server.port, "/").headers["Content-Security-Policy"]
    directives = {name: values for name, *values in (part.split() for part in policy.split(";"))}

    actual = {name: directives[name] for name in expected}
    assert expected == actual
    assert not [value for values in directives.values() for value in values
                if value.startswith("http") or value == "*"]


def test_server_header_names_no_python_version(server):
    """The Server header does not advertise the Python version."""
    expected = "tabsession"

    actual = request(server.port, "/").headers["Server"]

    assert expected == actual


@pytest.mark.parametrize(
    "target, cache_control",
    [
        ("/", "no-store"),
        ("/login?next=%2F", "no-store"),
        ("/pyscript.toml", "no-cache"),
        ("/app/x.py", "no-cache"),
        ("/static/s.css", "no-cache"),
        ("/vendor/pyscript-0.7.31/core.js", "public, max-age=31536000, immutable"),
        ("/vendor/pyodide-314.0.7/pyodide-lock.json", "public, max-age=31536000, immutable"),
        ("/nope", "no-store"),
        ("/../x", "no-store"),
    ],
)
def test_cache_control_follows_the_class_of_file(server, target, cache_control):
    """Pages are never stored, our sources revalidate, vendor files are immutable, errors not kept."""
    expected = cache_control

    actual = request(server.port, target).headers["Cache-Control"]

    assert expected == actual


@pytest.mark.parametrize("target", ["/pyscript.toml", "/app/x.py", "/static/s.css"])
def test_revalidation_answers_304(server, target):
    """A request naming the ETag the browser holds gets 304 Not Modified and no body."""
    etag = request(server.port, target).headers["ETag"]
    expected = (304, etag, b"")

    response = request(server.port, target, headers={"If-None-Match": f'W/"other", {etag}'})

    actual = (response.status, response.headers["ETag"], response.body)
    assert expected == actual


def test_pages_carry_no_etag(server):
    """Pages are built per request and never stored, so they carry no validator."""
    expected = None

    actual = request(server.port, "/").headers["ETag"]

    assert expected == actual


# ----------------------------------------------------------------------------------------------
# Templating.


@pytest.mark.parametrize("target, title", [("/", "Index"), ("/login", "Login")])
def test_micropython_page_is_the_template_with_settings(server, target, title):
    """For MicroPython the page is its file with only the settings' JSON replaced."""
    expected = without_settings(PAGE_TEMPLATE.replace("TITLE", title).encode())

    actual = without_settings(request(server.port, target).body)

    assert expected == actual


@pytest.mark.parametrize("target, title", [("/", "Index"), ("/login", "Login")])
def test_pyodide_page_boots_pyodide(pyodide_server, target, title):
    """For Pyodide the entry point becomes `<script type="py"`, and nothing else changes."""
    template = PAGE_TEMPLATE.replace("TITLE", title).replace('<script type="mpy"', '<script type="py"')
    expected = without_settings(template.encode())

    actual = without_settings(request(pyodide_server.port, target).body)

    assert expected == actual


def test_micropython_config_names_micropython(server):
    """pyscript.toml is served as written for MicroPython."""
    expected = CONFIG_TEMPLATE

    actual = request(server.port, "/pyscript.toml").body.decode()

    assert expected == actual


def test_pyodide_config_names_pyodide(pyodide_server):
    """For Pyodide, pyscript.toml's interpreter line names Pyodide; the rest is untouched."""
    expected = CONFIG_TEMPLATE.replace(MICROPYTHON_INTERPRETER, PYODIDE_INTERPRETER)

    actual = request(pyodide_server.port, "/pyscript.toml").body.decode()

    assert expected == actual


def test_settings_json_cannot_close_its_script_element():
    """Characters that could end the <script> element or start markup are escaped in the JSON."""
    settings = {"runtime": "</script><script>alert(1)</script>", "policy": "a & b > c"}
    expected = (settings, [])

    text = serve.settings_json(settings)

    actual = (json.loads(text), re.findall(r"[<>&]", text))
    assert expected == actual


def test_edited_templates_show_without_restart(tmp_path):
    """A page edited while the server runs is served edited on the next request."""
    root = build_tree(tmp_path / "root", tmp_path / "outside", pyodide=False)
    with serving(root, tmp=tmp_path) as running:
        request(running.port, "/")
        write(root / "index.html", PAGE_TEMPLATE.replace("TITLE", "Edited"))
        expected = "<title>Edited</title>"

        actual = re.search(r"<title>.*</title>", request(running.port, "/").body.decode()).group(0)

    assert expected == actual


@pytest.mark.parametrize(
    "file, content, target, problem",
    [
        ("login.html", "<html><script type=\"mpy\"></script></html>", "/login",
         'login.html: expected exactly one <script type="application/json" id="tabsession-settings">'),
        ("index.html", PAGE_TEMPLATE.replace('<script type="mpy"', "<script"), "/",
         'index.html: expected exactly one <script type="mpy" tag, found 0'),
        ("index.html", PAGE_TEMPLATE + '<script type="mpy" src="./app/pkg/y.py"></script>', "/",
         'index.html: expected exactly one <script type="mpy" tag, found 2'),
        ("pyscript.toml", "[files]\n", "/pyscript.toml",
         "pyscript.toml: expected exactly one interpreter line, found 0"),
        ("login.html", b"\xff\xfe not UTF-8", "/login", "login.html: not UTF-8"),
    ],
)
def test_broken_template_is_a_500_naming_the_problem(tmp_path, file, content, target, problem):
    """A template missing what is replaced answers 500 and says why, and the server carries on."""
    root = build_tree(tmp_path / "root", tmp_path / "outside", pyodide=False)
    write(root / file, content)
    with serving(root, tmp=tmp_path) as running:
        broken = request(running.port, target)
        after = request(running.port, "/app/x.py")
        stderr = running.stderr()
    expected = (500, True, True, 200)

    actual = (broken.status, problem in broken.body.decode(), problem in stderr, after.status)

    assert expected == actual, (broken.body, stderr)


# ----------------------------------------------------------------------------------------------
# Methods, malformed requests, many clients.


@pytest.mark.parametrize(
    "target", ["/", "/pyscript.toml", "/app/x.py", "/vendor/pyodide-314.0.7/pyodide.asm.wasm", "/nope"]
)
def test_head_has_the_headers_of_get_and_no_body(server, target):
    """HEAD answers what GET would, Content-Length included, without the body."""
    get = request(server.port, target)
    expected = (get.status, get.headers["Content-Type"], get.headers["Content-Length"], b"")

    head = request(server.port, target, "HEAD")

    actual = (head.status, head.headers["Content-Type"], head.headers["Content-Length"], head.body)
    assert expected == actual


def test_standard_client_reads_head_and_get(server):
    """http.client gets consistent GET and HEAD answers (Content-Length frames the body)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("HEAD", "/vendor/micropython-1.27.0/micropython.wasm")
    head = connection.getresponse()
    head.read()
    connection.close()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", "/vendor/micropython-1.27.0/micropython.wasm")
    get = connection.getresponse()
    expected = (200, "8", b"\x00asm\x01\x00\x00\x00")

    actual = (get.status, head.getheader("Content-Length"), get.read())

    connection.close()
    assert expected == actual


@pytest.mark.parametrize(
    "method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "BREW"]
)
def test_other_methods_are_405(server, method):
    """Methods other than GET and HEAD answer 405 with `Allow: GET, HEAD`."""
    expected = (405, "GET, HEAD")

    response = request(server.port, "/app/x.py", method)

    actual = (response.status, response.headers["Allow"])
    assert expected == actual


def test_long_url_is_414_and_serving_goes_on(server):
    """A URL over 2048 characters answers 414; the next request is served."""
    expected = (414, 414, 200)

    actual = (
        request(server.port, "/" + "a" * 3000).status,
        request(server.port, "/login?next=" + "%2F" * 1000).status,
        request(server.port, "/").status,
    )

    assert expected == actual


@pytest.mark.parametrize(
    "junk, status",
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/x\r\n\r\n", 400),
        (b"GET / HTTP/1.1 extra\r\n\r\n", 400),
        (b"GET /\r\n\r\n", 400),  # HTTP/0.9
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(32) + b"\r\n\r\n", 400),  # TLS hello
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n", 431),
    ],
)
def test_junk_request_is_refused_and_serving_goes_on(server, junk, status):
    """A malformed request gets a short 4xx answer; the next request is served."""
    expected = (status, 200)

    refused = parse_response(exchange(server.port, junk))
    after = request(server.port, "/")

    actual = (refused.status, after.status)
    assert expected == actual


def test_empty_connection_is_closed_and_serving_goes_on(server):
    """A connection that sends nothing but an end of line is closed without an answer."""
    expected = (b"", 200)

    actual = (exchange(server.port, b"\r\n"), request(server.port, "/").status)

    assert expected == actual


def test_many_tabs_load_at_once_beside_a_silent_client(server):
    """Twenty simultaneous loads succeed while another client holds a connection silently."""
    expected = [200] * 20
    statuses = [None] * 20

    def load(index: int) -> None:
        target = "/" if index % 2 else "/vendor/pyscript-0.7.31/core.js"
        statuses[index] = request(server.port, target).status

    with socket.create_connection(("127.0.0.1", server.port)):
        threads = [threading.Thread(target=load, args=(index,)) for index in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)

    actual = statuses
    assert expected == actual


def test_tab_closing_mid_download_prints_no_traceback(server):
    """Clients that vanish mid-download (reset or plain close) leave standard error empty."""
    target = b"GET /vendor/pyodide-314.0.7/pyodide.asm.wasm HTTP/1.1\r\nHost: x\r\n\r\n"
    for reset in (True, False, True):
        connection = socket.socket()
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        connection.connect(("127.0.0.1", server.port))
        connection.sendall(target)
        connection.recv(4096)
        if reset:  # like a crashed tab: RST instead of FIN
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()
    time.sleep(0.3)  # let the server's threads hit the broken connections
    expected = (200, "")

    actual = (request(server.port, "/").status, server.stderr())

    assert expected == actual


# ----------------------------------------------------------------------------------------------
# The real repository (once `./dev setup` has run).


@pytest.mark.skipif(
    not (REPOSITORY / "vendor").is_dir() or not (REPOSITORY / "index.html").is_file(),
    reason="needs ./dev setup (vendor/) and the real pages",
)
def test_real_repository_is_served_from_any_working_directory(tmp_path):
    """Without --root, serve.py serves the folder it lives in, whatever the working directory."""
    running = LiveServer(logs_in=tmp_path / "logs", cwd=tmp_path).start()
    try:
        port = int(FIRST_LINE.fullmatch(running.first_line).group(1))
        expected = (200, 200, 200, 404, 404)

        actual = (
            request(port, "/").status,
            request(port, "/pyscript.toml").status,
            request(port, "/" + serve.PYSCRIPT_FILES[0]).status,
            request(port, "/serve.py").status,
            request(port, "/.git/config").status,
        )
    finally:
        running.stop(signal.SIGINT)

    assert expected == actual


# ----------------------------------------------------------------------------------------------
# Hardening (issue 5): more hostile requests, each refused with a clean 4xx, serving goes on.


@pytest.mark.parametrize(
    "target, statuses",
    [
        ("/app/%252e%252e/serve.py", {404}),  # double-encoded: decoded once only, no traversal
        ("/app/%252e%252e%252fserve.py", {404}),
        ("/app/..%255cserve.py", {404}),
        ("/app/%c0%ae%c0%ae/serve.py", {400}),  # overlong UTF-8 dots
        ("/app/%ef%bc%8e%ef%bc%8e/serve.py", {404}),  # fullwidth dots are not dots
        ("/app/..;/serve.py", {404}),  # path parameters are not a thing here
        ("/vendor/%2e%2e/serve.py", {400}),
        ("/static/..%2f..%2fserve.py", {400}),
        ("/%2e%2e%2f%2e%2e%2fetc/passwd", {400}),
        ("/app/x.py%0d%0aSet-Cookie:%20a=b", {400}),  # header injection through the target
        ("/login%00", {400}),
        ("/login#fragment", {404}),  # browsers never send a fragment
        ("http://127.0.0.1/../serve.py", {400}),
        ("/" + "a" * 2047, {404}),  # 2048 characters: long, but allowed
        ("/" + "a" * 2048, {414}),
        ("/app/" + "../" * 700 + "serve.py", {414}),
        ("/app/" + "../" * 300 + "serve.py", {400}),
    ],
    ids=lambda value: value[:40] if isinstance(value, str) else None,
)
def test_more_hostile_targets_are_refused_and_serving_goes_on(server, target, statuses):
    """Traversal in more encodings, injection through the target and the length limit's edge:
    a 4xx from the allow-list (never a file outside it, never a 5xx); the next request is served."""
    response = request(server.port, target)

    assert response.status in statuses, (target, response.status)
    assert response.body.startswith(str(response.status).encode()) and len(response.body) < 40
    assert "Set-Cookie" not in response.headers
    assert 200 == request(server.port, "/").status


@pytest.mark.parametrize(
    "raw, status",
    [
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),  # past http.server's line limit
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n", 431),
        (b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /app/\xff.py HTTP/1.1\r\nHost: x\r\n\r\n", 404),  # raw non-ASCII byte
        (b"GET /app/../serve.py HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /app/%2e%2e/serve.py HTTP/1.0\r\n\r\n", 400),  # HTTP/1.0, no Host
        (b"get / HTTP/1.1\r\nHost: x\r\n\r\n", 405),  # methods are case-sensitive
        (b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nname=", 405),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 405),
        (b"PUT /app/x.py HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", 405),
        (b"GET / HTTP/1.1 HTTP/1.1\r\n\r\n", 400),
        (b"\x00\x01\x02\x03\r\n\r\n", 400),
    ],
    ids=lambda value: repr(value[:30]) if isinstance(value, bytes) else None,
)
def test_hostile_raw_requests_are_refused_and_serving_goes_on(server, tree, raw, status):
    """Raw request lines and headers no browser sends: a short 4xx, nothing written under the
    root, and the next request is served."""
    before = (tree / "app/x.py").read_bytes()

    refused = parse_response(exchange(server.port, raw))

    assert (status, 200) == (refused.status, request(server.port, "/").status)
    assert before == (tree / "app/x.py").read_bytes()


def test_a_burst_of_hostile_requests_leaves_the_server_serving(server):
    """Two hundred refused requests in a row: every one answered, then a normal page load."""
    targets = ["/../serve.py", "/%2e%2e/", "/.git/config", "/" + "x" * 3000, "//evil.example/"] * 40

    statuses = {request(server.port, target).status for target in targets}

    assert statuses <= {400, 404, 414}
    assert 200 == request(server.port, "/login").status


def test_a_hundred_connections_at_once_are_all_served(server):
    """A burst of simultaneous connections (many tabs booting, each fetching several files)
    is queued, not reset: every request gets its answer."""
    statuses = [None] * 100
    barrier = threading.Barrier(len(statuses))

    def load(index: int) -> None:
        barrier.wait()
        try:
            statuses[index] = request(server.port, "/static/s.css").status
        except OSError as error:
            statuses[index] = type(error).__name__

    threads = [threading.Thread(target=load, args=(index,)) for index in range(len(statuses))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert [200] * len(statuses) == statuses


# ----------------------------------------------------------------------------------------------
# The config inlined into the pages, and versioned sources (issue 8: start-up).

INLINE_PAGE = PAGE_TEMPLATE.replace('src="./app/x.py" config="./pyscript.toml"',
                                    'src="/app/x.py" config="/pyscript.toml"')


def inline_tree(tmp_path):
    root = tmp_path / "root"
    build_tree(root, tmp_path / "outside")
    write(root / "index.html", INLINE_PAGE.replace("TITLE", "Index"))
    return root


def entry_config(page: str) -> dict:
    """The JSON inlined in the entry tag's config attribute."""
    import html
    match = re.search(r'<script type="(?:mpy|py)" src="[^"]*" config="([^"]*)"', page)
    return json.loads(html.unescape(match.group(1)))


def test_the_config_is_inlined_with_plugins_off_and_versioned_files(tmp_path):
    """A page naming /pyscript.toml gets it inline as JSON: the interpreter, the unused plugins
    off, and each [files] source with its version, so that no request waits for the config."""
    root = inline_tree(tmp_path)
    versions = serve.SourceVersions()
    config = serve.inline_config(CONFIG_TEMPLATE, serve.RUNTIMES["micropython"], root, versions)

    page = serve.render_page(INLINE_PAGE, {}, serve.RUNTIMES["micropython"], config,
                             lambda url: serve.versioned_url(url, root, versions))

    digits = versions(root / "app" / "x.py")
    assert ({"interpreter": MICROPYTHON_INTERPRETER, "files": {f"./app/x.py?v={digits}": "x.py"},
             "plugins": list(serve.PLUGINS_OFF)},
            True, True) == \
        (entry_config(page), f'src="/app/x.py?v={digits}"' in page,
         '<py-config type="json" hidden>' in page)


def test_for_pyodide_the_other_config_element_is_for_micropython(tmp_path):
    """The plugins of the interpreter type not in use are switched off by its own element."""
    root = inline_tree(tmp_path)
    config = serve.inline_config(CONFIG_TEMPLATE, serve.RUNTIMES["pyodide"], root, serve.SourceVersions())

    page = serve.render_page(INLINE_PAGE, {}, serve.RUNTIMES["pyodide"], config)

    assert (True, False, serve.RUNTIMES["pyodide"].interpreter) == \
        ('<mpy-config type="json" hidden>' in page, "<py-config" in page, entry_config(page)["interpreter"])


def test_a_page_naming_another_config_is_left_alone():
    """Only the entry tag's config="/pyscript.toml" is replaced; other pages keep theirs."""
    page = serve.render_page(PAGE_TEMPLATE, {}, serve.RUNTIMES["micropython"], '{"files": {}}')

    assert ('config="./pyscript.toml"' in page, "-config type" in page) == (True, False)


def test_a_source_is_immutable_only_at_its_current_version(tmp_path):
    """`?v=` with the file's digits may be cached for good; a stale or absent one revalidates."""
    root = inline_tree(tmp_path)
    versions = serve.SourceVersions()
    path = root / "app" / "x.py"
    digits = versions(path)

    actual = [serve.cache_control_for(path, f"/app/x.py?v={digits}", serve.NO_CACHE, versions),
              serve.cache_control_for(path, "/app/x.py?v=0000000000000000", serve.NO_CACHE, versions),
              serve.cache_control_for(path, "/app/x.py", serve.NO_CACHE, versions)]
    write(path, "print('edited')\n")
    actual.append(serve.cache_control_for(path, f"/app/x.py?v={digits}", serve.NO_CACHE, versions))

    assert [serve.IMMUTABLE, serve.NO_CACHE, serve.NO_CACHE, serve.NO_CACHE] == actual


def test_served_page_and_source_carry_the_version(tmp_path):
    """Through the server: the page names the versioned source, which comes back immutable."""
    root = inline_tree(tmp_path)
    with serving(root, tmp=tmp_path) as running:
        page = request(running.port, "/").body.decode()
        url = next(iter(entry_config(page)["files"])).removeprefix(".")
        response = request(running.port, url)

    assert (200, serve.IMMUTABLE) == (response.status, response.headers["Cache-Control"])


# MicroPython bytecode bundles of whole packages (tools/precompile.py; issue 8: start-up).

PACKAGE_CONFIG = f"""interpreter = "{MICROPYTHON_INTERPRETER}"

[files]
"./app/pkg/__init__.py" = "./pkg/__init__.py"
"./app/pkg/y.py" = "./pkg/y.py"
"./app/pkg/sub/z.py" = "./pkg/sub/z.py"
"./app/x.py" = "x.py"
"""
BUNDLE_BYTES = b"M\x06\x00\x1f"


def bundled_tree(tmp_path):
    """inline_tree with a package app/pkg and, as set-up leaves it, its bundle."""
    root = inline_tree(tmp_path)
    write(root / "app/pkg/__init__.py", "")
    write(root / "app/pkg/sub/z.py", "Z = 1\n")
    write(root / "app/pkg/__pycache__/y.cpython-311.py", "not a source\n")
    digits = serve.package_digits(root / "app/pkg", serve.SourceVersions())
    bundle = serve.bundle_path(serve.RUNTIMES["micropython"], "pkg", digits)
    write(root / bundle, BUNDLE_BYTES)
    return root, bundle


def files_for(root, runtime="micropython", text=PACKAGE_CONFIG):
    return json.loads(serve.inline_config(text, serve.RUNTIMES[runtime], root, serve.SourceVersions()))["files"]


def test_micropython_gets_a_whole_package_as_one_bundle(tmp_path):
    """The package's entries become one: the bundle, as the package's __init__.mpy; the file
    outside any package keeps its versioned source."""
    root, bundle = bundled_tree(tmp_path)

    files = files_for(root)

    assert {f"./{bundle}": "./pkg/__init__.mpy",
            f"./app/x.py?v={serve.SourceVersions()(root / 'app/x.py')}": "x.py"} == files


@pytest.mark.parametrize("change", ["edit", "add", "remove"])
def test_a_package_changed_since_set_up_gets_its_sources(tmp_path, change):
    """A bundle of an older version of the package is never used: an edited, added or removed
    file changes the package's digits."""
    root, _ = bundled_tree(tmp_path)
    if change == "edit":
        write(root / "app/pkg/y.py", "Y = 2\n")
    elif change == "add":
        write(root / "app/pkg/new.py", "N = 1\n")
    else:
        (root / "app/pkg/sub/z.py").unlink()

    files = files_for(root)

    assert [] == [source for source in files if source.endswith(".mpy")]


def test_a_config_listing_part_of_a_package_gets_its_sources(tmp_path):
    """The bundle holds every file of the package; a config that lists fewer keeps its own list."""
    root, _ = bundled_tree(tmp_path)
    partial = PACKAGE_CONFIG.replace('"./app/pkg/sub/z.py" = "./pkg/sub/z.py"\n', "")

    files = files_for(root, text=partial)

    assert 3 == len(files) and [] == [source for source in files if source.endswith(".mpy")]


def test_pyodide_never_gets_a_bundle(tmp_path):
    root, _ = bundled_tree(tmp_path)

    files = files_for(root, runtime="pyodide")

    assert 4 == len(files) and [] == [source for source in files if source.endswith(".mpy")]


def test_served_bundle_is_immutable_binary(tmp_path):
    """Through the server: the page's bundle URL answers with the file, cached for good."""
    root, _ = bundled_tree(tmp_path)
    write(root / "pyscript.toml", PACKAGE_CONFIG)
    with serving(root, tmp=tmp_path) as running:
        page = request(running.port, "/").body.decode()
        url = next(source for source in entry_config(page)["files"] if source.endswith(".mpy"))
        response = request(running.port, url.removeprefix("."))

    assert (200, serve.IMMUTABLE, "application/octet-stream", BUNDLE_BYTES) == \
        (response.status, response.headers["Cache-Control"], response.headers["Content-Type"], response.body)
