"""Methods, malformed requests and many clients at once: each answered cleanly, and serving goes on.
"""

import http.client
import socket
import struct
import threading
import time

import pytest

from serve_support import exchange, parse_response, request


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
        (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X: y\r\n" * 200 + b"\r\n", 431),
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n", 400),  # no Host: h11 refuses first
    ],
)
def test_junk_request_is_refused_and_serving_goes_on(server, junk, status):
    """A malformed request gets a short 4xx answer; the next request is served (h11 answers most
    of these itself; serve.py's own checks answer 505 and 431)."""
    expected = (status, 200)

    refused = parse_response(exchange(server.port, junk))
    after = request(server.port, "/")

    actual = (refused.status, after.status)
    assert expected == actual


@pytest.mark.parametrize("data", [b"", b"\r\n", b"GET / HTT"])
def test_empty_connection_is_closed_and_serving_goes_on(server, data):
    """A connection that sends nothing, an end of line alone or half a request line, then
    closes, is closed with at most a 400 (h11 refuses a blank line, where http.server said
    nothing); the next request is served."""
    answered = exchange(server.port, data)

    assert answered == b"" or parse_response(answered).status == 400, answered
    assert 200 == request(server.port, "/").status


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
