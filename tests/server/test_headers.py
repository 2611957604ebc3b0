"""The headers of serve.py's answers: Content-Type pinned by suffix, the security headers on every
response, Cache-Control by class of file, and revalidation.
"""

import pytest

from serve_support import request, serve


@pytest.mark.parametrize(
    "target, content_type",
    [
        ("/", "text/html; charset=utf-8"),
        ("/login", "text/html; charset=utf-8"),
        ("/pyscript.toml", "text/plain; charset=utf-8"),
        ("/app/x.py", "text/plain; charset=utf-8"),
        ("/static/s.css", "text/css; charset=utf-8"),
        ("/static/i.svg", "image/svg+xml"),
        ("/favicon.ico", "image/svg+xml"),
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
