"""Serve tabsession's pages to the browser: the app's own files, and nothing else.

This module owns:
- the command line (the README's "Options" section): its options, their validation, and the first
  `Serving http://HOST:PORT/ (...)` line on standard output;
- the URL space, as an allow-list: `/`, `/login`, `/pyscript.toml`, `.py` files under
  `app/`, `static/` assets, and `vendor/<folder>/<file>`; everything else answers 404 (suspicious
  paths 400), and no directory is ever listed;
- the templating of the pages (the run-time settings as JSON, the `<script type>` of the chosen
  interpreter, and `pyscript.toml` inlined into the entry tag as JSON, see `inline_config`) and
  of `pyscript.toml` (its `interpreter` line);
- the response headers: pinned MIME types, the Content-Security-Policy, and one Cache-Control per
  class of file.

It knows nothing of the session rules (the pages and `app/` own those; this only hands them the
settings). Besides the Python 3.11 standard library it imports only `app/tabsession/core/settings.py`,
the pure module that owns the settings' defaults and limits, so the two never disagree.
"""

import argparse
import errno
import hashlib
import html
import json
import os
import re
import signal
import socket
import socketserver
import stat
import sys
import threading
import tomllib
import urllib.parse
import webbrowser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple

# The pages' own settings module (pure Python, no browser imports) owns the defaults and limits;
# the command line offers the same ones instead of restating them.
sys.path.insert(0, str(Path(__file__).resolve().parent / "app"))
from tabsession.core import settings as page_settings  # noqa: E402


class Runtime(NamedTuple):
    """How the pages boot one Python interpreter."""

    script_type: str  # the `<script type="...">` PyScript runs with this interpreter
    interpreter: str  # pyscript.toml's `interpreter`, relative to pyscript.toml
    files: tuple[str, ...]  # what `./dev setup` must have put under the root for it to boot
    # tools/precompile.py's folder of bytecode bundles (MicroPython only; see bundled_files)
    precompiled: str | None = None


# The versions follow package.json; tools/vendor.py names the folders after them.
PYSCRIPT_FILES = ("vendor/pyscript-0.7.31/core.js",)
RUNTIMES = {
    "micropython": Runtime(
        script_type="mpy",
        interpreter="./vendor/micropython-1.27.0/micropython.mjs",
        files=(
            "vendor/micropython-1.27.0/micropython.mjs",
            "vendor/micropython-1.27.0/micropython.wasm",
        ),
        precompiled="vendor/mpy-1.27.0",
    ),
    "pyodide": Runtime(
        script_type="py",
        interpreter="./vendor/pyodide-314.0.7/pyodide.mjs",
        files=(
            "vendor/pyodide-314.0.7/pyodide.mjs",
            "vendor/pyodide-314.0.7/pyodide.asm.mjs",
            "vendor/pyodide-314.0.7/pyodide.asm.wasm",
            "vendor/pyodide-314.0.7/python_stdlib.zip",
            "vendor/pyodide-314.0.7/pyodide-lock.json",  # a 404 on it is fatal to Pyodide
        ),
    ),
}

# Pinned by suffix rather than taken from the host's mimetypes table, which varies between machines
# (Pyodide hangs unless .wasm is application/wasm). Every served suffix must be listed here.
MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".toml": "text/plain; charset=utf-8",  # PyScript fetches and parses it: any text type works
    ".py": "text/plain; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".zip": "application/zip",
    ".mpy": "application/octet-stream",  # MicroPython bytecode bundles (tools/precompile.py)
    ".txt": "text/plain; charset=utf-8",
}

# One policy for every response; adjust it here only. Measured in Chromium 156 with a
# securitypolicyviolation recorder through sign-in, a second tab, use-here and sign-out, on
# MicroPython and on Pyodide: zero violations with exactly these sources.
#   script-src 'self'          the pages' own module script, PyScript and the interpreters
#   script-src 'unsafe-eval'   required: PyScript 0.7.31 calls Function(...) (boot fails with
#                              only 'wasm-unsafe-eval'), and it also covers WebAssembly compiling
#   connect-src 'self'         fetching pyscript.toml, app/*.py and the runtimes' files
#   style-src / img-src 'self' the stylesheet and the favicon; no inline styles are needed
#   frame-ancestors 'none'     no other site may frame the app (clickjacking)
#   base-uri / form-action     nothing can re-point relative URLs or post the form elsewhere
# Not a defence on its own: an injected <script type="py"> would still run (docs/rules.md,
# platform facts), so no page ever turns user text into HTML.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; "
    "script-src 'self' 'unsafe-eval'; "
    "connect-src 'self'; "
    "style-src 'self'; "
    "img-src 'self'; "
    "base-uri 'none'; "
    "form-action 'self'; "
    "frame-ancestors 'none'"
)
# No Cross-Origin-Opener-Policy: not needed (docs/rules.md, platform facts), and a tab opened with
# window.open must keep its opener for the browser to copy sessionStorage into it (rule 5 in
# docs/rules.md).
SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)

# Cache-Control per class of file.
NO_STORE = "no-store"  # pages carry the run-time settings; errors must not stick
NO_CACHE = "no-cache"  # our own sources: revalidated on every load (ETag), so edits show at once
IMMUTABLE = "public, max-age=31536000, immutable"  # vendor folders are named after their version
# `/app/...py?v=<VERSION_LENGTH hex digits of the file's SHA-256>`: the URLs the inlined config
# uses. Immutable while the digits match the file (an edit makes a new URL); otherwise no-cache.
VERSION_PARAMETER = "v"
VERSION_LENGTH = 16


class Folder(NamedTuple):
    """A folder whose files are served under `/<name>/...`."""

    suffixes: frozenset[str]
    depth: int | None  # exact number of path segments below the folder; None = any
    cache_control: str


FOLDERS = {
    "app": Folder(frozenset({".py"}), None, NO_CACHE),
    "static": Folder(frozenset({".css", ".svg", ".js"}), None, NO_CACHE),
    "vendor": Folder(frozenset({".js", ".mjs", ".css", ".wasm", ".zip", ".json", ".mpy"}), 2, IMMUTABLE),
}
PAGES = {"/": "index.html", "/login": "login.html"}
CONFIG_URL, CONFIG_FILE = "/pyscript.toml", "pyscript.toml"
SKIPPED_SEGMENTS = {"__pycache__"}  # besides every name starting with "."

MAX_URL_LENGTH = 2048
MAX_TABS = page_settings.MAX_TABS
MAX_SECONDS = page_settings.MAX_SECONDS
DEFAULTS = page_settings.DEFAULTS

SETTINGS_OPEN_TAG = '<script type="application/json" id="tabsession-settings">'
SETTINGS_CLOSE_TAG = "</script>"
ENTRY_TAG = '<script type="mpy"'  # the one Python entry point of each page
# An entry tag naming this config gets it inlined (see inline_config); any other is left alone.
CONFIG_ATTRIBUTE = 'config="/pyscript.toml"'
# PyScript 0.7.31's optional plugins, none of which the pages use (its "error" plugin stays: it
# shows a Python error on the page, which the tests look for). Each one switched on is a module
# fetched and run before Python starts, for both interpreter types (docs/rules.md, platform facts).
PLUGINS_OFF = ("!codemirror", "!deprecations-manager", "!donkey", "!py-editor", "!py-game", "!py-terminal")
OTHER_SCRIPT_TYPE = {"mpy": "py", "py": "mpy"}
ENTRY_SOURCE = re.compile(r'\ssrc="([^"]*)"')
INTERPRETER_LINE = re.compile(r"^interpreter\s*=.*$", re.MULTILINE)
ESCAPED_URL_SEPARATOR = re.compile(r"%(2f|5c)", re.IGNORECASE)
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


class BadRequest(Exception):
    """A request target that no page of ours would ever ask for (400)."""


class TemplateError(Exception):
    """A page or pyscript.toml lacks what the templating replaces (500: the file needs fixing)."""


# ----------------------------------------------------------------------------------------------
# Routing: pure functions from a request target to a file.


def split_target(target: str) -> str:
    """The decoded path of a request target; raises BadRequest for anything suspicious."""
    path = target.split("?", 1)[0]  # the query never takes part in routing
    if not path.startswith("/"):
        raise BadRequest("not a path")
    if "\\" in path or "//" in path or ESCAPED_URL_SEPARATOR.search(path):
        raise BadRequest("backslash, double slash or escaped separator")
    try:
        decoded = urllib.parse.unquote(path, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest("not UTF-8") from None
    if CONTROL_CHARACTER.search(decoded) or "\\" in decoded:
        raise BadRequest("control character or backslash")
    if any(segment in (".", "..") for segment in decoded.split("/")):
        raise BadRequest("dot segment")
    return decoded


def safe_file(folder: Path, segments: list[str], suffixes: frozenset[str]) -> Path | None:
    """The regular file `folder/segments`, if it really lies inside folder; else None."""
    base = os.path.realpath(folder)
    candidate = os.path.realpath(os.path.join(base, *segments))
    try:
        if candidate == base or os.path.commonpath([base, candidate]) != base:
            return None  # a symbolic link that leads out of the folder
        if os.path.splitext(candidate)[1] not in suffixes:
            return None  # a symbolic link to a file of another kind
        if not stat.S_ISREG(os.stat(candidate).st_mode):
            return None  # a folder, a pipe, a device...
    except (OSError, ValueError):  # a name too long; another drive (Windows)
        return None
    return Path(candidate)


def find_folder_file(root: Path, path: str) -> tuple[Path, str] | None:
    """The file behind `/<folder>/...` and its Cache-Control, when the allow-list has it."""
    name, _, rest = path[1:].partition("/")
    folder = FOLDERS.get(name)
    if folder is None or not rest:
        return None
    segments = rest.split("/")
    if folder.depth is not None and len(segments) != folder.depth:
        return None
    if any(not s or s.startswith(".") or s in SKIPPED_SEGMENTS for s in segments):
        return None
    if os.path.splitext(segments[-1])[1] not in folder.suffixes:
        return None
    found = safe_file(root / name, segments, folder.suffixes)
    return None if found is None else (found, folder.cache_control)


# ----------------------------------------------------------------------------------------------
# Templating: plain string replacement, no template engine.


def settings_json(settings: dict) -> str:
    """Settings as JSON that is safe inside a <script> element (nothing in it can close it)."""
    text = json.dumps(settings, separators=(",", ":"))  # ensure_ascii also escapes U+2028/9
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_page(
    text: str, settings: dict, runtime: Runtime, config: str | None = None, version=None
) -> str:
    """A page with the run-time settings filled in and its entry point booting `runtime`;
    `config` (JSON) replaces the entry tag's `config="/pyscript.toml"` when it has one, and
    then `version(url)` names the entry's `src` with its version."""
    if text.count(SETTINGS_OPEN_TAG) != 1:
        raise TemplateError(f"expected exactly one {SETTINGS_OPEN_TAG}")
    start = text.index(SETTINGS_OPEN_TAG) + len(SETTINGS_OPEN_TAG)
    end = text.find(SETTINGS_CLOSE_TAG, start)
    if end < 0:
        raise TemplateError(f"the settings element has no {SETTINGS_CLOSE_TAG}")
    text = text[:start] + settings_json(settings) + text[end:]
    entries = text.count(ENTRY_TAG)
    if entries != 1:
        raise TemplateError(f"expected exactly one {ENTRY_TAG} tag, found {entries}")
    entry_start = text.index(ENTRY_TAG)
    entry_end = text.find(">", entry_start)
    entry = text[entry_start:entry_end]
    if config is not None and entry.count(CONFIG_ATTRIBUTE) == 1:
        entry = entry.replace(CONFIG_ATTRIBUTE, f'config="{html.escape(config, quote=True)}"')
        # The other interpreter type loads its plugins unless told otherwise, even with no script
        # of its type on the page; a config element (hidden: it is text) tells it.
        other = OTHER_SCRIPT_TYPE[runtime.script_type]
        plugins = html.escape(json.dumps({"plugins": list(PLUGINS_OFF)}), quote=False)
        entry = f'<{other}-config type="json" hidden>{plugins}</{other}-config>\n  ' + entry
        source = ENTRY_SOURCE.search(entry)
        if source is not None and version is not None:
            url = html.escape(version(html.unescape(source.group(1))), quote=True)
            entry = entry[:source.start(1)] + url + entry[source.end(1):]
    entry = entry.replace(ENTRY_TAG, f'<script type="{runtime.script_type}"')
    return text[:entry_start] + entry + text[entry_end:]


def render_config(text: str, runtime: Runtime) -> str:
    """pyscript.toml with its `interpreter` line naming `runtime`'s local module."""
    line = f'interpreter = "{runtime.interpreter}"'
    text, count = INTERPRETER_LINE.subn(lambda match: line, text)
    if count != 1:
        raise TemplateError(f"expected exactly one interpreter line, found {count}")
    return text


class SourceVersions:
    """The version digits of the app's Python files, by path, re-hashed only when a file changes."""

    def __init__(self) -> None:
        self._known: dict[Path, tuple[int, int, str]] = {}
        self._lock = threading.Lock()

    def __call__(self, path: Path) -> str | None:
        try:
            info = path.stat()
            with self._lock:
                known = self._known.get(path)
                if known is not None and known[:2] == (info.st_mtime_ns, info.st_size):
                    return known[2]
            digits = hashlib.sha256(path.read_bytes()).hexdigest()[:VERSION_LENGTH]
        except OSError:
            return None
        with self._lock:
            self._known[path] = (info.st_mtime_ns, info.st_size, digits)
        return digits


def inline_config(text: str, runtime: Runtime, root: Path, versions: SourceVersions) -> str:
    """pyscript.toml as the JSON the pages carry inline in their entry tag, instead of a URL.

    Measured to shorten start-up (docs/rules.md, platform facts; issue 8): no request for the
    config before anything else can start, JSON instead of PyScript's TOML parser (a module of
    its own), the unused plugins off, and every `[files]` source named with its version
    (`?v=`), so a warm load takes all of them from the browser's cache instead of revalidating
    each one.
    Paths stay relative: the pages live at `/` and `/login`, so they resolve as from
    `/pyscript.toml`. `/pyscript.toml` itself is still served, unchanged, for other pages.
    """
    try:
        config = tomllib.loads(render_config(text, runtime))
    except tomllib.TOMLDecodeError as error:
        raise TemplateError(f"not TOML ({error})") from None
    files = config.get("files")
    if isinstance(files, dict):
        files = bundled_files(files, runtime, root, versions)
        config["files"] = {versioned_url(source, root, versions): target for source, target in files.items()}
    plugins = config.get("plugins") if isinstance(config.get("plugins"), list) else []
    config["plugins"] = plugins + [name for name in PLUGINS_OFF if name not in plugins]
    return json.dumps(config, separators=(",", ":"))


def versioned_url(url: str, root: Path, versions: SourceVersions) -> str:
    """`./app/x.py` -> `./app/x.py?v=<digits>` for a file of the app folder; others unchanged."""
    if not isinstance(url, str) or "?" in url:
        return url
    path = url.removeprefix(".")
    found = find_folder_file(root, path) if path.startswith("/app/") else None
    digits = versions(found[0]) if found is not None else None
    return url if digits is None else f"{url}?{VERSION_PARAMETER}={digits}"


PACKAGE_ENTRY = re.compile(r"\./app/([A-Za-z_][A-Za-z0-9_]*)/(.+\.py)")


def package_sources(folder: Path) -> list[str]:
    """The Python files of a package folder, as sorted paths relative to it (what a bundle holds)."""
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*.py")
                  if not any(part.startswith(".") or part in SKIPPED_SEGMENTS
                             for part in path.relative_to(folder).parts))


def package_digits(folder: Path, versions: SourceVersions) -> str | None:
    """The version digits of a whole package: one hash over each file's path and digits."""
    lines = []
    for name in package_sources(folder):
        digits = versions(folder / name)
        if digits is None:
            return None
        lines.append(f"{name} {digits}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()[:VERSION_LENGTH] if lines else None


def bundle_path(runtime: Runtime, package: str, digits: str) -> str:
    return f"{runtime.precompiled}/{package}-{digits}.mpy"


def bundled_files(files: dict, runtime: Runtime, root: Path, versions: SourceVersions) -> dict:
    """`[files]` with each whole app package replaced by its MicroPython bytecode bundle.

    tools/precompile.py compiles each package of `app/` into one module, named after the
    package's digits: its `__init__` writes the package's other modules (bytecode) into
    PyScript's file system, then runs the package's own `__init__`. So a page fetches two
    files instead of two dozen, and MicroPython compiles nothing (issue 8: measured 85 ms less
    to a decision cold, 34 ms warm). A package is bundled only when the config lists exactly
    its files, each at its own path, and a bundle for the package as it is now exists: an edit
    since set-up, or another runtime, gets the sources.
    """
    if not runtime.precompiled:
        return files
    listed: dict[str, set] = {}
    for source, target in files.items():
        match = PACKAGE_ENTRY.fullmatch(source) if isinstance(source, str) else None
        if match and target == f"./{match.group(1)}/{match.group(2)}":
            listed.setdefault(match.group(1), set()).add(match.group(2))
    bundles = {}
    for package, names in listed.items():
        folder = root / "app" / package
        digits = package_digits(folder, versions) if names == set(package_sources(folder)) else None
        if digits is not None and (root / bundle_path(runtime, package, digits)).is_file():
            bundles[package] = bundle_path(runtime, package, digits)
    out = {}
    for source, target in files.items():
        match = PACKAGE_ENTRY.fullmatch(source) if isinstance(source, str) else None
        if match and match.group(1) in bundles:
            out[f"./{bundles[match.group(1)]}"] = f"./{match.group(1)}/__init__.mpy"
        else:
            out[source] = target
    return out


def cache_control_for(path: Path, target: str, cache_control: str, versions: SourceVersions) -> str:
    """A source asked for by its current version may be kept for good; otherwise as given."""
    query = target.partition("?")[2]
    if cache_control != NO_CACHE or not query.startswith(VERSION_PARAMETER + "="):
        return cache_control
    return IMMUTABLE if query == f"{VERSION_PARAMETER}={versions(path)}" else cache_control


# ----------------------------------------------------------------------------------------------
# HTTP.


class RequestHandler(BaseHTTPRequestHandler):
    """GET and HEAD over the allow-list; every response carries the security headers."""

    # HTTP/1.0 (the default): one request per connection. Keep-alive (HTTP/1.1) measured slower
    # on cold loads here (docs/rules.md, platform facts), and closing makes every response
    # self-delimiting.
    server_version = "tabsession"
    sys_version = ""
    timeout = 30  # seconds a silent client may hold a connection (and its thread)
    server: "Server"

    def version_string(self) -> str:
        return self.server_version  # no Python version in the Server header

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if self.request_version == "HTTP/0.9":  # `GET /path` alone: no browser sends these
            self.send_error(HTTPStatus.BAD_REQUEST)
            return False
        # The target as sent: http.server has already turned a leading "//" into "/".
        self.target = self.requestline.split()[1]
        if len(self.target) > MAX_URL_LENGTH:
            self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
            return False
        if self.command not in ("GET", "HEAD"):
            self.send_plain(HTTPStatus.METHOD_NOT_ALLOWED, extra_headers={"Allow": "GET, HEAD"})
            return False
        return True

    def do_GET(self) -> None:
        try:
            path = split_target(self.target)
        except BadRequest:
            self.send_plain(HTTPStatus.BAD_REQUEST)
            return
        root, runtime = self.server.root, self.server.runtime
        found = None
        try:
            if path in PAGES:
                found = safe_file(root, [PAGES[path]], frozenset({".html"}))
                if found is not None:
                    # Read on every request (a few kB): an edited page shows on reload, no restart.
                    config = None
                    config_file = safe_file(root, [CONFIG_FILE], frozenset({".toml"}))
                    if config_file is not None:
                        config = inline_config(read_text(config_file), runtime, root,
                                               self.server.versions)
                    versions = self.server.versions
                    page = render_page(read_text(found), self.server.settings, runtime, config,
                                       lambda url: versioned_url(url, root, versions))
                    self.send_text(page, MIME_TYPES[".html"], NO_STORE)
                    return
            elif path == CONFIG_URL:
                found = safe_file(root, [CONFIG_FILE], frozenset({".toml"}))
                if found is not None:
                    config = render_config(read_text(found), runtime)
                    self.send_text(config, MIME_TYPES[".toml"], NO_CACHE)
                    return
            else:
                in_folder = find_folder_file(root, path)
                if in_folder is not None:
                    file, cache_control = in_folder
                    self.send_file(file, cache_control_for(file, self.target, cache_control, self.server.versions))
                    return
        except TemplateError as error:
            problem = f"{found.name}: {error}"
            sys.stderr.write(f"serve.py: cannot serve {path}: {problem}\n")
            self.send_plain(HTTPStatus.INTERNAL_SERVER_ERROR, problem)
            return
        self.send_plain(HTTPStatus.NOT_FOUND)

    do_HEAD = do_GET  # the same headers; the body writers skip the body for HEAD

    def send_text(self, text: str, content_type: str, cache_control: str) -> None:
        body = text.encode("utf-8")
        etag = None
        if cache_control == NO_CACHE:
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            if self.not_modified(etag, cache_control):
                return
        self.send_response(HTTPStatus.OK)
        self.send_content_headers(content_type, len(body), cache_control, etag)
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_file(self, path: Path, cache_control: str) -> None:
        with open(path, "rb") as file:
            info = os.fstat(file.fileno())
            size, modified = info.st_size, info.st_mtime_ns
            etag = f'"{modified:x}-{size:x}"'
            if self.not_modified(etag, cache_control):
                return
            self.send_response(HTTPStatus.OK)
            self.send_content_headers(MIME_TYPES[path.suffix], size, cache_control, etag)
            if self.command != "HEAD" and size:
                self.connection.sendfile(file, 0, size)  # zero-copy: the wasm files are large

    def not_modified(self, etag: str, cache_control: str) -> bool:
        """Answer 304 when the browser already holds this version."""
        held = self.headers.get("If-None-Match", "")
        tags = {tag.strip().removeprefix("W/") for tag in held.split(",")}
        if etag not in tags and "*" not in tags:
            return False
        self.send_response(HTTPStatus.NOT_MODIFIED)
        self.send_header("ETag", etag)
        self.send_header("Cache-Control", cache_control)
        self.end_headers()
        return True

    def send_content_headers(
        self, content_type: str, length: int, cache_control: str, etag: str | None
    ) -> None:
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", cache_control)
        if etag is not None:
            self.send_header("ETag", etag)
        self.end_headers()

    def send_plain(self, status: int, detail: str = "", extra_headers: dict | None = None) -> None:
        """A short plain-text answer: `404 Not Found`, and why when there is something to say."""
        status = HTTPStatus(status)
        text = f"{status.value} {status.phrase}" + (f": {detail}" if detail else "") + "\n"
        body = text.encode("utf-8")
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # a junk or 0.9 request line: still send headers
            self.request_version = "HTTP/1.0"
        self.send_response(status)
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.send_content_headers("text/plain; charset=utf-8", len(body), NO_STORE, None)
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (bad request line, too long...), in our plain shape."""
        self.log_error("code %d, message %s", code, message)
        self.send_plain(code)

    def end_headers(self) -> None:
        for name, value in SECURITY_HEADERS:
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


def read_text(path: Path) -> str:
    """A template's text; one that is not UTF-8 is a template to fix."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise TemplateError(f"not UTF-8 ({error.reason})") from None


class Server(ThreadingHTTPServer):
    """Many tabs load at once: one daemon thread per connection."""

    daemon_threads = True
    # socketserver's default backlog is 5: a page that opens many connections at once (ten tabs
    # booting, a burst of requests) overflowed it on a busy machine and connections were reset.
    request_queue_size = 128
    # SO_REUSEADDR on POSIX only lets a restarted server bind over connections left in TIME_WAIT;
    # it never lets two servers listen on one port (that still fails with EADDRINUSE). On Windows
    # it would let a second server steal the port, so it is off there.
    allow_reuse_address = os.name != "nt"
    allow_reuse_port = False

    def __init__(
        self, address: tuple[str, int], root: Path, runtime: Runtime, settings: dict, verbose: bool
    ):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.root = root
        self.runtime = runtime
        self.settings = settings
        self.verbose = verbose
        self.versions = SourceVersions()
        super().__init__(address, RequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind also calls socket.getfqdn(), a DNS lookup that can take seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address) -> None:
        # A tab closed mid-download, or a client went silent: normal life, not a bug to print.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


# ----------------------------------------------------------------------------------------------
# Command line.


def whole_number(low: int, high: int, unit: str = ""):
    """An argparse type: a whole number from low to high inclusive."""

    def parse(text: str) -> int:
        if not re.fullmatch(r"\s*[+-]?[0-9]+\s*", text):
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}{unit}, got {value}")
        return value

    return parse


def host_name(text: str) -> str:
    """An argparse type: a non-empty address or host name."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text.strip()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="serve.py",
        usage="%(prog)s [options]",
        description="Serve tabsession's pages (run from the repository root after ./dev setup).",
        allow_abbrev=False,
    )
    seconds = whole_number(1, MAX_SECONDS, " seconds (31 days)")
    add = parser.add_argument
    add("--host", type=host_name, default="127.0.0.1",
        help="address to bind (default: %(default)s)")
    add("--port", type=whole_number(0, 65535), default=8000,
        help="port to bind; 0 picks a free one (default: %(default)s)")
    add("--runtime", choices=sorted(RUNTIMES), default=DEFAULTS["runtime"],
        help="the interpreter every page boots (default: %(default)s)")
    add("--max-tabs", type=whole_number(0, MAX_TABS), default=DEFAULTS["max_tabs"], metavar="N",
        help="tabs of one browser profile that may hold the session at once; 0 = no limit "
             "(default: %(default)s)")
    add("--policy", choices=page_settings.POLICIES, default=DEFAULTS["policy"],
        help="when a tab would exceed --max-tabs: refuse it (block), or let it in and move the "
             "least recently active tab out (takeover) (default: %(default)s)")
    add("--idle-timeout", type=seconds, default=DEFAULTS["idle_timeout"], metavar="SECONDS",
        help="seconds without activity in any tab before every tab is signed out "
             "(default: %(default)s)")
    add("--warn-before", type=whole_number(0, MAX_SECONDS, " seconds (31 days)"),
        default=DEFAULTS["warn_before"],
        metavar="SECONDS",
        help="seconds before the idle timeout at which active tabs warn; less than "
             "--idle-timeout (default: %(default)s)")
    add("--absolute-timeout", type=seconds, default=DEFAULTS["absolute_timeout"], metavar="SECONDS",
        help="seconds after sign-in at which the session ends whatever the activity "
             "(default: %(default)s)")
    add("--open", action="store_true", help="open the default browser at the URL once serving")
    add("--verbose", action="store_true", help="log every request to standard error")
    add("--root", metavar="DIR",
        help="(for tests) serve this folder instead of the one serve.py is in")
    return parser


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def parse_options(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """The options, checked; a bad one exits with the usage line and one line naming it."""
    options = parser.parse_args(argv)
    if options.warn_before >= options.idle_timeout:
        parser.error(
            f"argument --warn-before: must be less than --idle-timeout "
            f"({options.warn_before} >= {options.idle_timeout})"
        )
    return options


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    options = parse_options(parser, argv)
    root = Path(options.root).resolve() if options.root else Path(__file__).resolve().parent
    runtime = RUNTIMES[options.runtime]

    missing = [name for name in PYSCRIPT_FILES + runtime.files if not (root / name).is_file()]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        print(
            f"{parser.prog}: error: the {options.runtime} runtime is not set up "
            f"({missing[0]}{more} missing under {root}); run ./dev setup first",
            file=sys.stderr,
        )
        return 1

    settings = {
        "runtime": options.runtime,
        "max_tabs": options.max_tabs,
        "policy": options.policy,
        "idle_timeout": options.idle_timeout,
        "warn_before": options.warn_before,
        "absolute_timeout": options.absolute_timeout,
    }
    try:
        server = Server((options.host, options.port), root, runtime, settings, options.verbose)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            parser.error(f"argument --port: {options.host} port {options.port} is already in use")
        reason = error.strerror or error
        parser.error(f"cannot listen on {options.host} port {options.port}: {reason}")

    with server:
        port = server.server_address[1]
        url = f"http://{url_host(options.host)}:{port}/"
        print(
            f"Serving {url} (runtime={options.runtime}, policy={options.policy}, "
            f"max-tabs={options.max_tabs})",
            flush=True,
        )
        print(
            f"Idle timeout {options.idle_timeout} s (warning {options.warn_before} s before), "
            f"absolute timeout {options.absolute_timeout} s. Press Ctrl-C to stop.",
            flush=True,
        )
        if options.open:
            wildcard = {"0.0.0.0": "127.0.0.1", "::": "::1"}
            browser_url = f"http://{url_host(wildcard.get(options.host, options.host))}:{port}/"
            # In a thread: some browser launchers block until the browser exits.
            threading.Thread(target=webbrowser.open, args=(browser_url,), daemon=True).start()
        server.serve_forever()
    return 0


def stop(signum, frame) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, stop)  # `kill` stops it as quietly as Ctrl-C
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
