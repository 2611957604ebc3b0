"""serve.py's allow-list: the routes it serves, byte for byte, and everything else refused (404
outside the list, 400 for a suspicious path).
"""

import json
import os

import pytest

from serve_support import REPOSITORY, request, serve


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
        ("/favicon.ico", "static/favicon.svg"),  # what browsers ask for on their own
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
        ("/favicon.ico/x", 404),
        ("/static/favicon.ico", 404),
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
