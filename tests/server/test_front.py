"""The front end under abuse (webserver/front.py, webserver/app.py): the Host allow-list, the body
limit under /api, bounded concurrency, deadlines for request heads, half-closing clients.

Most run uvicorn in a thread of this process (make_server on a socket of our own, with small
limits so that a test takes a second, not ten); the application ones go through httpx's ASGI
transport, without sockets. The API is a stand-in here: it echoes what it is sent.
"""

import asyncio
import json
import os
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
from webserver.app import MAX_API_BODY
from live_server import LiveServer
from webserver.front import Limits, fitting_connections, make_server

from serve_support import SERVE_PY, exchange, parse_response, request, serve

TWO_MB = 2 * 1024 * 1024


async def echo_api(scope, receive, send):
    """A stand-in for the API: answers JSON naming the method, the path and the body's size."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    answer = json.dumps({"method": scope["method"], "path": scope["path"], "size": len(body)}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(answer)).encode())]})
    await send({"type": "http.response.body", "body": answer})


def app_for(tree, *arguments, api=echo_api):
    options = serve.parse_options(serve.build_parser(), ["--root", str(tree), *arguments])
    return serve.create_app(options, api=api)


def call(app, method, url, **kwargs) -> httpx.Response:
    """One request to the ASGI application, in process. Its event loop runs in a thread of its
    own: in a whole run, Playwright's sync API (the browser tests, before these) keeps a loop
    running in the main thread, where asyncio.run refuses to start another."""
    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
            return await client.request(method, url, **kwargs)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, go()).result()


@contextmanager
def running(app, limits: Limits):
    """uvicorn serving `app` on a free loopback port in a thread; yields the port."""
    sock = socket.create_server(("127.0.0.1", 0))
    server = make_server(app, limits=limits)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def front(tree):
    """A server with small limits: 4 connections, 0.5 s for a request head."""
    with running(app_for(tree), Limits(max_connections=4, header_timeout=0.5, keep_alive=1)) as port:
        yield port


# The Host allow-list (Starlette's TrustedHostMiddleware).

@pytest.mark.parametrize("host, status", [
    ("127.0.0.1:8000", 200), ("127.0.0.1", 200), ("localhost:8000", 200), ("LOCALHOST", 200),
    ("[::1]:8000", 200),
    ("evil.example", 400), ("127.0.0.1.nip.io:8000", 400), ("192.168.1.9:8000", 400), ("", 400),
])
def test_only_loopback_names_are_answered_by_default(tree, host, status):
    """A name a DNS rebinding could point at this machine is refused: 400, with the security headers."""
    response = call(app_for(tree), "GET", "/", headers={"Host": host})

    assert (status, "nosniff") == (response.status_code, response.headers["X-Content-Type-Options"])


def test_the_host_given_is_answered_too(tree):
    """--host names one more acceptable Host: the address or name the server was told to bind."""
    app = app_for(tree, "--host", "my-box.lan")

    statuses = [call(app, "GET", "/", headers={"Host": host}).status_code
                for host in ("my-box.lan:8000", "127.0.0.1:8000", "other.lan:8000")]

    assert [200, 200, 400] == statuses


def test_allow_host_adds_names(tree):
    """--allow-host (repeatable) names further hosts, e.g. a LAN name the demo is reached by."""
    app = app_for(tree, "--allow-host", "Box.LAN", "--allow-host", "tabsession.test")

    statuses = [call(app, "GET", "/", headers={"Host": host}).status_code
                for host in ("box.lan:8000", "tabsession.test:1", "other.lan:8000")]

    assert [200, 200, 400] == statuses


# The API's mount point and its body limit.

def test_the_api_is_mounted_at_api(tree):
    """create_app(options, api) hands /api/... to the API, with the security headers."""
    response = call(app_for(tree), "POST", "/api/session", content=b"{}")

    assert ({"method": "POST", "path": "/api/session", "size": 2}, serve.CONTENT_SECURITY_POLICY) == \
        (response.json(), response.headers["Content-Security-Policy"])


def test_without_an_api_nothing_is_mounted(tree):
    assert 404 == call(app_for(tree, api=None), "GET", "/api/me").status_code


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "chunked"])
def test_a_body_over_64_kib_is_413_too_large(tree, announced):
    """2 MB for the API: 413 with JSON {"reason": "too-large"}, announced or not (chunked)."""
    body = b"x" * TWO_MB

    async def chunks():
        for start in range(0, len(body), 65536):
            yield body[start:start + 65536]

    content = body if announced else chunks()

    response = call(app_for(tree), "POST", "/api/sign-in", content=content)

    assert (413, {"reason": "too-large"}) == (response.status_code, response.json())


def test_a_body_of_64_kib_reaches_the_api(tree):
    response = call(app_for(tree), "POST", "/api/sign-in", content=b"x" * MAX_API_BODY)

    assert (200, MAX_API_BODY) == (response.status_code, response.json()["size"])


def test_a_2_mb_body_over_a_socket_is_refused_and_serving_goes_on(front):
    """Through uvicorn: the 2 MB body is answered 413 (the rest is read and dropped), and the
    server answers the next request."""
    head = (f"POST /api/sign-in HTTP/1.1\r\nHost: 127.0.0.1:{front}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {TWO_MB}\r\n\r\n").encode()

    refused = parse_response(exchange(front, head + b"{" * TWO_MB))

    assert (413, {"reason": "too-large"}, 200) == \
        (refused.status, json.loads(refused.body), request(front, "/").status)


# Bounded concurrency and deadlines.

def test_past_the_connection_limit_requests_get_503_then_serving_resumes(front):
    """With the limit's worth of connections open, one more request is answered 503 at once;
    once they close, requests are served again."""
    idle = [socket.create_connection(("127.0.0.1", front)) for _ in range(4)]
    try:
        time.sleep(0.1)
        busy = request(front, "/").status
    finally:
        for connection in idle:
            connection.close()
    time.sleep(0.2)

    assert (503, 200) == (busy, request(front, "/").status)


@pytest.mark.parametrize("trickle", [b"", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX: "],
                         ids=["silent", "byte-by-byte"])
def test_a_request_head_must_arrive_in_time(front, trickle):
    """A client that sends nothing, or a head one byte at a time, is closed at the deadline
    (0.5 s here): it cannot hold a connection, and a place under the limit, for long."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", front), timeout=5) as connection:
        closed = None
        for index in range(60):
            try:
                connection.sendall(trickle[index:index + 1] or b"a" if trickle else b"")
                connection.settimeout(0.1)
                if connection.recv(1024) == b"":
                    closed = time.monotonic() - started
                    break
            except socket.timeout:
                continue
            except OSError:
                closed = time.monotonic() - started
                break

    assert closed is not None and 0.4 < closed < 2.0, closed


def test_a_keep_alive_connection_serves_several_requests(front):
    """A browser's connection is kept between requests (HTTP/1.1)."""
    with socket.create_connection(("127.0.0.1", front), timeout=5) as connection:
        statuses = []
        for _ in range(3):
            connection.sendall(f"GET /app/x.py HTTP/1.1\r\nHost: 127.0.0.1:{front}\r\n\r\n".encode())
            data = b""
            while b"print('x')" not in data:
                data += connection.recv(65536)
            statuses.append(parse_response(data).status)

    assert [200, 200, 200] == statuses


def test_the_listening_socket_says_tcp_so_connections_get_no_nagle():
    """asyncio sets TCP_NODELAY only on sockets whose protocol is IPPROTO_TCP; with Nagle on, an
    answer's body waited about 40 ms for the browser's delayed ACK (bench/, issue 13)."""
    sock = serve.listening_socket(serve.build_parser(), "127.0.0.1", 0)
    try:
        actual = sock.proto
    finally:
        sock.close()

    assert socket.IPPROTO_TCP == actual


# Out of file descriptors.

def test_the_connection_limit_fits_the_open_files_limit():
    """A connection serving a file holds two descriptors, besides the server's own few."""
    assert (512, 496, 16, 1) == (fitting_connections(512, None), fitting_connections(512, 1024),
                                 fitting_connections(512, 64), fitting_connections(512, 20))


LOW_FILES_LIMIT = 64
RUN_WITH_FEW_FILES = f"""import resource, runpy, sys
resource.setrlimit(resource.RLIMIT_NOFILE, ({LOW_FILES_LIMIT}, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
sys.argv = [{str(SERVE_PY)!r}, *sys.argv[1:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def cpu_ticks(pid: int) -> int:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def first_line(connection: socket.socket) -> str:
    try:
        return connection.recv(64).split(b"\r\n", 1)[0].decode("latin-1") or "closed"
    except OSError as error:
        return type(error).__name__


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_NOFILE and /proc/PID/stat")
def test_out_of_file_descriptors_answers_503_without_tracebacks_or_spinning(tree, tmp_path):
    """serve.py with 64 files: 60 silent connections take what is left, then 100 clients ask for
    the 16 MB file. Each of them gets a 503 (by uvicorn past the connection limit, which fits the
    files limit, or from the accept loop, which answers the listen queue with a reserve
    descriptor), nothing but one line on standard error, the server's CPU stays low; once they
    close, serving resumes. Before: asyncio wrote a traceback per waiting connection and spun
    (CPython gh-151615), and the application's open() of the file failed (a 200 cut short)."""
    script = tmp_path / "few_files.py"
    script.write_text(RUN_WITH_FEW_FILES)
    big = "GET /vendor/pyodide-314.0.7/pyodide.asm.wasm HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    with LiveServer("--root", str(tree), script=script, logs_in=tmp_path) as running:
        address = ("127.0.0.1", running.port)
        silent = [socket.create_connection(address, timeout=5) for _ in range(60)]
        burst = []
        try:
            time.sleep(0.3)
            for _ in range(100):
                connection = socket.create_connection(address, timeout=5)
                burst.append(connection)
                connection.sendall(big)
            ticks = cpu_ticks(running.process.pid)
            started = time.monotonic()
            time.sleep(2)
            seconds = time.monotonic() - started
            cpu = (cpu_ticks(running.process.pid) - ticks) / os.sysconf("SC_CLK_TCK") / seconds
            answers = {first_line(connection) for connection in burst}
        finally:
            for connection in silent + burst:
                connection.close()
        deadline = time.monotonic() + 5
        while (after := request(running.port, "/").status) != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        stderr = running.stderr()

    assert "Traceback" not in stderr and len(stderr.splitlines()) <= 1, stderr[:3000]
    assert ({"HTTP/1.1 503 Service Unavailable"}, 200) == (answers, after)
    assert cpu < 0.5, f"{cpu:.0%} of a core"
