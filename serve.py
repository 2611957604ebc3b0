"""Serve tabsession's pages to the browser: the app's own files, and nothing else.

This module owns:
- the command line (the README's "Options" section): its options, their validation, and the first
  `Serving http://HOST:PORT/ (...)` line on standard output;
- the URL space, as an allow-list: `/`, `/login`, `/pyscript.toml`, `/favicon.ico` (the SVG
  icon), `.py` files under `app/`, `static/` assets, and `vendor/<folder>/<file>`; everything else answers 404 (suspicious
  paths 400), and no directory is ever listed;
- the templating of the pages (the run-time settings as JSON, the `<script type>` of the chosen
  interpreter, and `pyscript.toml` inlined into the entry tag as JSON, see `inline_config`) and
  of `pyscript.toml` (its `interpreter` line);
- the response headers: pinned MIME types, the Content-Security-Policy, and one Cache-Control per
  class of file;
- `create_app(options, api=None)`, the Starlette application (webserver/app.py) that serves all
  this and mounts the server's API at `/api`, and `main()`, which runs it on uvicorn
  (webserver/front.py: the limits that keep it serving under abuse).

It knows nothing of the session rules (the pages and `app/` own those; this only hands them the
settings). Importing it needs only the Python 3.11 standard library and
`app/tabsession/core/settings.py`, the pure module that owns the settings' defaults and limits, so
the two never disagree: tools import its helpers (`import serve`). Serving needs
requirements.txt (Starlette, uvicorn), imported by create_app and main only.
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
import stat
import sys
import threading
import tomllib
import urllib.parse
import webbrowser
from http import HTTPStatus
from pathlib import Path
from typing import NamedTuple

# The pages' own settings module (pure Python, no browser imports) owns the defaults and limits;
# the command line offers the same ones instead of restating them.
# The repository root too, for the package webserver/ (serve.py may be loaded from a file path).
_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE / "app"))
if str(_HERE) not in sys.path:
    sys.path.insert(1, str(_HERE))
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
# One document for both: the tab goes between the app and the sign-in page in place (one boot).
PAGES = {"/": "index.html", "/login": "index.html"}
CONFIG_URL, CONFIG_FILE = "/pyscript.toml", "pyscript.toml"
# Browsers ask for /favicon.ico on their own (for a document that names no icon, such as a
# stylesheet opened in a tab): it is the pages' SVG icon, so the answer is never a 404.
ICON_URL, ICON_FILE = "/favicon.ico", "static/favicon.svg"
# Besides every name starting with ".": never served, never bundled. `server` is the server side
# of the library (app/tabsession/server/): it runs here and must never be shipped to a browser.
SKIPPED_SEGMENTS = {"__pycache__", "server"}

MAX_URL_LENGTH = 2048
MAX_TABS = page_settings.MAX_TABS
MAX_SECONDS = page_settings.MAX_SECONDS
MAX_WORKERS = 64
DEFAULTS = page_settings.DEFAULTS
# Who decides (CONTRACT.md, "The server as the authority"): serve.py's default is the server; the
# pages read it from their settings as "authority".
AUTHORITIES = ("server", "browser")
DEFAULT_AUTHORITY = "server"
WILDCARD_HOSTS = {"0.0.0.0", "::"}
# A page that opens many connections at once (ten tabs booting) must queue, not be reset.
LISTEN_BACKLOG = 1024

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
# HTTP: what to answer, as plain data. webserver/app.py carries it over ASGI (Starlette on
# uvicorn); this part needs nothing but the standard library.


class Site(NamedTuple):
    """What the static part serves: a folder, for one runtime, with the pages' settings."""

    root: Path
    runtime: Runtime
    settings: dict
    versions: SourceVersions


class Answer(NamedTuple):
    """One response: status, headers, and either a body or the first `length` bytes of a file.
    The security headers and `Server` are added by webserver/app.py to every response."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    file: Path | None = None
    length: int = 0
    problem: str | None = None  # a line for standard error: a template that needs fixing


def plain(status: int, detail: str = "", extra_headers: tuple[tuple[str, str], ...] = ()) -> Answer:
    """A short plain-text answer: `404 Not Found`, and why when there is something to say."""
    status = HTTPStatus(status)
    text = f"{status.value} {status.phrase}" + (f": {detail}" if detail else "") + "\n"
    body = text.encode("utf-8")
    return Answer(status.value, extra_headers + content_headers("text/plain; charset=utf-8", len(body),
                                                                NO_STORE, None), body)


def content_headers(content_type: str, length: int, cache_control: str, etag: str | None) -> tuple:
    headers = (("Content-Type", content_type), ("Content-Length", str(length)),
               ("Cache-Control", cache_control))
    return headers + ((("ETag", etag),) if etag is not None else ())


def not_modified(etag: str, cache_control: str, if_none_match: str) -> Answer | None:
    """304 when the browser already holds this version (its If-None-Match names the ETag)."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    if etag not in tags and "*" not in tags:
        return None
    return Answer(HTTPStatus.NOT_MODIFIED, (("ETag", etag), ("Cache-Control", cache_control)))


def text_answer(text: str, content_type: str, cache_control: str, if_none_match: str) -> Answer:
    body = text.encode("utf-8")
    etag = None
    if cache_control == NO_CACHE:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        unchanged = not_modified(etag, cache_control, if_none_match)
        if unchanged is not None:
            return unchanged
    return Answer(HTTPStatus.OK, content_headers(content_type, len(body), cache_control, etag), body)


def file_answer(path: Path, cache_control: str, if_none_match: str) -> Answer:
    info = path.stat()
    size = info.st_size
    etag = f'"{info.st_mtime_ns:x}-{size:x}"'
    unchanged = not_modified(etag, cache_control, if_none_match)
    if unchanged is not None:
        return unchanged
    return Answer(HTTPStatus.OK, content_headers(MIME_TYPES[path.suffix], size, cache_control, etag),
                  file=path, length=size)


def answer(site: Site, method: str, target: str, if_none_match: str = "") -> Answer:
    """The answer to `method target` (the request target exactly as sent) over the allow-list."""
    if len(target) > MAX_URL_LENGTH:
        return plain(HTTPStatus.REQUEST_URI_TOO_LONG)
    if method not in ("GET", "HEAD"):
        return plain(HTTPStatus.METHOD_NOT_ALLOWED, extra_headers=(("Allow", "GET, HEAD"),))
    try:
        path = split_target(target)
    except BadRequest:
        return plain(HTTPStatus.BAD_REQUEST)
    root, runtime = site.root, site.runtime
    found = None
    try:
        if path in PAGES:
            found = safe_file(root, [PAGES[path]], frozenset({".html"}))
            if found is not None:
                # Read on every request (a few kB): an edited page shows on reload, no restart.
                config = None
                config_file = safe_file(root, [CONFIG_FILE], frozenset({".toml"}))
                if config_file is not None:
                    config = inline_config(read_text(config_file), runtime, root, site.versions)
                page = render_page(read_text(found), site.settings, runtime, config,
                                   lambda url: versioned_url(url, root, site.versions))
                return text_answer(page, MIME_TYPES[".html"], NO_STORE, if_none_match)
        elif path == ICON_URL:
            found = safe_file(root, ICON_FILE.split("/"), frozenset({".svg"}))
            if found is not None:
                return file_answer(found, NO_CACHE, if_none_match)
        elif path == CONFIG_URL:
            found = safe_file(root, [CONFIG_FILE], frozenset({".toml"}))
            if found is not None:
                config = render_config(read_text(found), runtime)
                return text_answer(config, MIME_TYPES[".toml"], NO_CACHE, if_none_match)
        else:
            in_folder = find_folder_file(root, path)
            if in_folder is not None:
                file, cache_control = in_folder
                return file_answer(file, cache_control_for(file, target, cache_control, site.versions),
                                   if_none_match)
    except TemplateError as error:
        problem = f"{found.name}: {error}"
        answered = plain(HTTPStatus.INTERNAL_SERVER_ERROR, problem)
        return answered._replace(problem=f"serve.py: cannot serve {path}: {problem}")
    except OSError:  # the file went away (or turned unreadable) since it was found
        pass
    return plain(HTTPStatus.NOT_FOUND)


def read_text(path: Path) -> str:
    """A template's text; one that is not UTF-8 is a template to fix."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise TemplateError(f"not UTF-8 ({error.reason})") from None


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


def store_spec(text: str) -> str:
    """An argparse type: `memory`, `sqlite:PATH` or `redis://HOST:PORT/DB` (CONTRACT: --store)."""
    if text == "memory" or (text.startswith("sqlite:") and len(text) > len("sqlite:")) \
            or (text.startswith("redis://") and len(text) > len("redis://")):
        return text
    raise argparse.ArgumentTypeError(f"expected memory, sqlite:PATH or redis://HOST:PORT/DB, got {text!r}")


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
    add("--authority", choices=AUTHORITIES, default=DEFAULT_AUTHORITY,
        help="server: the server keeps every session and active tab and enforces the rules; "
             "browser: the tabs of one profile coordinate among themselves only "
             "(default: %(default)s)")
    add("--store", type=store_spec, default="memory", metavar="STORE",
        help="where the server keeps sessions: memory (this process), sqlite:PATH (every serve.py "
             "on this machine that names the file), redis://HOST:PORT/DB (every serve.py that "
             "names that Redis) (default: %(default)s)")
    add("--workers", type=whole_number(1, MAX_WORKERS), default=1, metavar="N",
        help="server processes sharing the port; more than 1 needs a shared --store "
             "(default: %(default)s)")
    add("--allow-host", action="append", default=[], type=host_name, metavar="NAME",
        help="a further host name the server answers (repeatable), e.g. this machine's LAN name; "
             "requests naming any other host get 400 (DNS rebinding)")
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
    if options.workers > 1 and options.store == "memory" and options.authority == "server":
        parser.error("argument --workers: several processes need a shared store "
                     "(--store sqlite:PATH or --store redis://HOST:PORT/DB): memory is one process's")
    return options


def check_store(parser: argparse.ArgumentParser, options: argparse.Namespace) -> None:
    """Open the store once before serving (creating an SQLite file's tables, asking Redis for a
    PING): one that cannot be opened or reached exits with one line naming it (CONTRACT)."""
    if options.authority != "server" or options.store == "memory":
        return
    import asyncio

    from tabsession.server.store import StoreUnavailable
    from tabsession.server.stores import open_store

    async def probe():
        store = open_store(options.store)
        try:
            await store.open()
        finally:
            await store.close()
    try:
        asyncio.run(probe())
    except (StoreUnavailable, OSError, ValueError, ImportError) as error:
        parser.error(f"argument --store: cannot open {options.store}: {str(error)[:300]}")


def settings_for(options: argparse.Namespace) -> dict:
    """The run-time settings every page carries (as JSON, see render_page)."""
    return {
        "runtime": options.runtime,
        "max_tabs": options.max_tabs,
        "policy": options.policy,
        "idle_timeout": options.idle_timeout,
        "warn_before": options.warn_before,
        "absolute_timeout": options.absolute_timeout,
        "authority": options.authority,
    }


def root_of(options: argparse.Namespace) -> Path:
    return Path(options.root).resolve() if options.root else Path(__file__).resolve().parent


def allowed_hosts(host: str, more: list[str] = ()) -> list[str]:
    """The Host header values (without port) the server answers: its loopback names, the
    address it was told to bind and the names given with --allow-host. Any other name is refused with 400 (a page on another site whose
    name a DNS rebinding points at this machine must not read the app)."""
    names = ["127.0.0.1", "localhost", "[::1]", url_host(host).lower(), *(name.lower() for name in more)]
    if host in WILDCARD_HOSTS:  # every address of this machine: its own names, as best known
        machine = socket.gethostname().lower()
        names += [machine, f"{machine}.local"]
        try:
            names += [url_host(info[4][0]) for info in socket.getaddrinfo(machine, None)]
        except OSError:
            pass
    return sorted(set(names))


def create_app(options: argparse.Namespace, api=None):
    """The Starlette application serving `options` (from parse_options); `api`, an ASGI
    application, is mounted at /api when given (webserver/app.py)."""
    from webserver.app import build_app  # the third-party part: imported only to serve

    site = Site(root_of(options), RUNTIMES[options.runtime], settings_for(options), SourceVersions())
    return build_app(lambda method, target, if_none_match: answer(site, method, target, if_none_match),
                     allowed_hosts=allowed_hosts(options.host, options.allow_host), security_headers=SECURITY_HEADERS,
                     api=api)


def build_api(options: argparse.Namespace):
    """The ASGI application of /api for `options`, or None (nothing mounted): with the server as
    the authority, the library's API (app/tabsession/server/web.py) on this process's memory."""
    if options.authority != "server":
        return None
    sys.path.insert(0, str(_HERE / "app"))  # serve.py itself imports only the standard library
    from tabsession.server.web import TabsessionAPI

    from tabsession.server.stores import open_store

    return TabsessionAPI(max_tabs=options.max_tabs, policy=options.policy,
                         idle_timeout=options.idle_timeout, warn_before=options.warn_before,
                         absolute_timeout=options.absolute_timeout, store=open_store(options.store)).app


WORKER_ARGV = "TABSESSION_SERVE_ARGV"  # how a worker process learns serve.py's options


def worker_app():
    """The application of one worker process of `--workers N` (uvicorn calls this factory in
    each process it spawns; the options come from the parent through WORKER_ARGV)."""
    from webserver.front import configure_logging

    options = parse_options(build_parser(), json.loads(os.environ[WORKER_ARGV]))
    configure_logging(options.verbose)
    return create_app(options, api=build_api(options))


def listening_socket(parser: argparse.ArgumentParser, host: str, port: int) -> socket.socket:
    """A socket bound to host:port and listening; a port in use or a host that cannot be bound
    exits with the usage line and one line naming the problem."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        address = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)[0][4]
        # IPPROTO_TCP named: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose protocol
        # says TCP, and with Nagle on each answer's body waited ~40 ms for a delayed ACK (bench).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            # SO_REUSEADDR on POSIX only lets a restarted server bind over connections left in
            # TIME_WAIT; it never lets two servers listen on one port (that still fails with
            # EADDRINUSE). On Windows it would let a second server steal the port: off there.
            if os.name != "nt":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(LISTEN_BACKLOG)
        except BaseException:
            sock.close()
            raise
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            parser.error(f"argument --port: {host} port {port} is already in use")
        reason = error.strerror or error
        parser.error(f"cannot listen on {host} port {port}: {reason}")
    return sock


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    options = parse_options(parser, argv)
    root = root_of(options)
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

    from webserver.front import make_server, make_workers  # the third-party part: only to serve

    check_store(parser, options)
    app = create_app(options, api=build_api(options)) if options.workers == 1 else None
    sock = listening_socket(parser, options.host, options.port)
    port = sock.getsockname()[1]
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
    if options.store != "memory" or options.workers > 1:
        processes = f" by {options.workers} worker processes" if options.workers > 1 else ""
        print(f"Sessions kept in {options.store}, shared{processes} with every serve.py naming it.",
              flush=True)
    if options.open:
        wildcard = {"0.0.0.0": "127.0.0.1", "::": "::1"}
        browser_url = f"http://{url_host(wildcard.get(options.host, options.host))}:{port}/"
        # In a thread: some browser launchers block until the browser exits.
        threading.Thread(target=webbrowser.open, args=(browser_url,), daemon=True).start()
    # uvicorn stops on SIGINT and SIGTERM (finishing the answers under way), then raises the
    # signal again with the handlers restored: `stop` below turns that into a quiet exit 0.
    if options.workers > 1:
        os.environ[WORKER_ARGV] = json.dumps(sys.argv[1:] if argv is None else list(argv))
        make_workers("serve:worker_app", options.workers, verbose=options.verbose, sockets=[sock]).run()
        return 0
    make_server(app, verbose=options.verbose).run(sockets=[sock])
    return 0


def stop(signum, frame) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, stop)  # `kill` stops it as quietly as Ctrl-C
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
