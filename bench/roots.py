"""Roots and servers: the folders the bench's own pages are served from (serve.py --root), and
the serve.py configurations it runs, each started once, on first use, through
tests/support/live_server.py.
"""

import json
import re
import shutil
import sys

from bench.common import AUTHORITIES, BENCH, ROOT, SERVER_DEFAULTS, VARIANTS

if str(ROOT / "tests" / "support") not in sys.path:  # live_server.py, shared with the tests
    sys.path.insert(0, str(ROOT / "tests" / "support"))

import live_server  # noqa: E402


def pyscript_core_path():
    """The PyScript module the app's own pages load (so the bare page loads the very same)."""
    match = re.search(r'<script type="module" src="([^"]+core\.js)"', (ROOT / "index.html").read_text())
    if not match:
        sys.exit("bench: cannot find the PyScript core.js in index.html")
    return match.group(1)


def build_roots(folder):
    """Folders for serve.py --root: the baseline page, and the bare PyScript page."""
    roots = {}
    js = folder / "root-js"
    (js / "static").mkdir(parents=True)
    shutil.copy(BENCH / "pages" / "baseline.html", js / "index.html")
    shutil.copy(BENCH / "pages" / "baseline.js", js / "static" / "baseline.js")
    shutil.copy(ROOT / "static" / "favicon.svg", js / "static" / "favicon.svg")  # as the app's pages
    (js / "vendor").symlink_to(ROOT / "vendor")  # serve.py checks that the runtime is set up
    roots["js"] = js
    bare = folder / "root-bare"
    bare.mkdir()
    text = (BENCH / "pages" / "bare.html").read_text().replace("{PYSCRIPT_CORE}", pyscript_core_path())
    (bare / "index.html").write_text(text)
    shutil.copy(ROOT / "pyscript.toml", bare / "pyscript.toml")  # the same config as the app
    (bare / "vendor").symlink_to(ROOT / "vendor")
    (bare / "app").symlink_to(ROOT / "app")  # the config's [files] are fetched, as in the app
    (bare / "static").symlink_to(ROOT / "static")  # the favicon
    roots["bare"] = bare
    floor = folder / "root-floor"
    (floor / "static").mkdir(parents=True)
    shutil.copy(BENCH / "pages" / "floor.html", floor / "index.html")
    (floor / "static" / "floor.js").write_text(
        (BENCH / "pages" / "floor.js").read_text().replace("{MICROPYTHON}", micropython_path()))
    shutil.copy(ROOT / "static" / "favicon.svg", floor / "static" / "favicon.svg")
    (floor / "vendor").symlink_to(ROOT / "vendor")
    roots["floor"] = floor
    # The app itself, without the bytecode bundles set-up built (tools/precompile.py): what MicroPython
    # costs when it fetches and compiles every module on every load.
    source = folder / "root-appsrc"
    (source / "vendor").mkdir(parents=True)
    for name in ("index.html", "pyscript.toml"):
        shutil.copy(ROOT / name, source / name)
    for name in ("app", "static"):
        (source / name).symlink_to(ROOT / name)
    for runtime in (ROOT / "vendor").iterdir():
        # Copies: serve.py refuses a file whose real path leaves its folder (a symlink out of it).
        if runtime.name.startswith(("pyscript-", "micropython-")):
            shutil.copytree(runtime, source / "vendor" / runtime.name)
    roots["appsrc"] = source
    roots.update(build_snap_roots(folder))
    return roots


def pyodide_path():
    """The local Pyodide module (vendor/pyodide-<version>/pyodide.mjs), as an absolute path."""
    found = sorted(ROOT.glob("vendor/pyodide-*/pyodide.mjs"))
    if len(found) != 1:
        sys.exit(f"bench: expected one vendor/pyodide-*/pyodide.mjs, found {len(found)}: run ./dev setup")
    return "/" + found[0].relative_to(ROOT).as_posix()


def app_files():
    """pyscript.toml's [files] as [url, path in the interpreter's file system], the URLs carrying
    the version digits serve.py's inlined config uses (`serve.versioned_url`), so the browser
    caches them exactly as it does for the app's own pages."""
    import tomllib

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import serve

    files = tomllib.loads((ROOT / "pyscript.toml").read_text())["files"]
    versions = serve.SourceVersions()
    return [[serve.versioned_url(source, ROOT, versions).removeprefix("."), target.removeprefix("./")]
            for source, target in files.items()]


def early_modules(files):
    """The modules a snapshot holds imported: the package `tabsession` and its pure core."""
    names = []
    for _, path in files:
        if path == "tabsession/__init__.py" or path.startswith("tabsession/core/"):
            name = path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
            names.append(name)
    return sorted(names, key=lambda name: (name.count("."), name))


SNAPSHOT_URL = "/vendor/snapshot/pyodide-memory.wasm"  # serve.py serves vendor/<folder>/<file>
# The same, gzipped: the page inflates it with DecompressionStream while it downloads. Named .zip
# only because serve.py's allow-list has no .gz (it is a gzip stream, not a zip archive).
SNAPSHOT_GZ_URL = "/vendor/snapshot/pyodide-memory.gz.zip"


def build_snap_roots(folder):
    """The app's page `/` with PyScript replaced by bench/pages/snap.js, twice: `snap` (boots from
    the memory snapshot at SNAPSHOT_URL, built later by build_snapshot) and `direct` (without).
    serve.py refuses files whose real path leaves the served folder, so the snapshot cannot sit
    beside links into the app's vendor/: the Pyodide files are copied (13 MB) into a vendor/
    folder of the bench's own, which also receives the snapshot. Nothing lands in the app's tree."""
    roots = {}
    pyodide = pyodide_path()
    vendor = folder / "vendor"
    for name in (pyodide.rsplit("/", 1)[0], pyscript_core_path().rsplit("/", 1)[0]):
        (vendor / name.split("/", 2)[2]).mkdir(parents=True)
    for source in (ROOT / pyodide.lstrip("/")).parent.iterdir():
        shutil.copy(source, vendor / source.parent.name / source.name)
    core = pyscript_core_path()  # serve.py checks that PyScript is set up, though never loaded here
    shutil.copy(ROOT / core.lstrip("/"), vendor / core.split("/", 2)[2])
    (vendor / "snapshot").mkdir()
    files = app_files()
    entry = re.search(r'<script type="mpy" src="/app/([^"]+)"', (ROOT / "index.html").read_text())
    page = (ROOT / "index.html").read_text().replace(
        f'<script type="module" src="{pyscript_core_path()}"></script>',
        '<script type="module" src="/static/snap.js"></script>')
    if "/static/snap.js" not in page or not entry:
        sys.exit("bench: cannot find PyScript's core.js or the entry script in index.html")
    entry_path = next(path for url, path in files if url.startswith("/app/" + entry.group(1) + "?"))
    for kind, snapshot in (("snap", SNAPSHOT_URL), ("snapgz", SNAPSHOT_GZ_URL), ("direct", "")):
        root = folder / f"root-{kind}"
        (root / "static").mkdir(parents=True)
        (root / "index.html").write_text(page)
        for name in ("app.css", "favicon.svg", "boot.js"):
            shutil.copy(ROOT / "static" / name, root / "static" / name)
        text = (BENCH / "pages" / "snap.js").read_text()
        for key, value in (("{PYODIDE}", pyodide), ("{SNAPSHOT}", snapshot), ("{FILES}", json.dumps(files)),
                           ("{EARLY}", json.dumps(early_modules(files))), ("{ENTRY}", entry_path)):
            text = text.replace(key, value)
        (root / "static" / "snap.js").write_text(text)
        (root / "vendor").symlink_to(vendor)
        (root / "app").symlink_to(ROOT / "app")
        roots[kind] = root
    roots["snapshot_folder"] = vendor / "snapshot"
    return roots


def micropython_path():
    """The MicroPython module the app's pyscript.toml names, as an absolute path."""
    match = re.search(r'^interpreter\s*=\s*"\.(/[^"]+micropython\.mjs)"', (ROOT / "pyscript.toml").read_text(),
                      re.MULTILINE)
    if not match:
        sys.exit("bench: cannot find the MicroPython interpreter in pyscript.toml")
    return match.group(1)


class Server(live_server.LiveServer):
    """serve.py with the bench's defaults on a free port (tests/support/live_server.py starts and
    stops it); `url` is the origin. A server that does not come up ends the run."""

    def __init__(self, name, args, logs):
        super().__init__(*SERVER_DEFAULTS, *args, logs_in=logs, name=f"serve-{name}")

    def start(self):
        try:
            return super().start()
        except live_server.ServerStartError as error:
            sys.exit(f"bench: {error}")


class Servers:
    """Each configuration (kind, runtime, authority) starts once, on first use, and all stop at
    the end. Every server is told its authority (`--authority`), never left to serve.py's default."""

    def __init__(self, roots, logs):
        self.roots = roots
        self.logs = logs
        self.running = {}

    def get(self, kind, runtime, authority):
        key = f"{kind}:{runtime}:{authority}"
        if key not in self.running:
            self.running[key] = Server(key, self.arguments(kind, runtime, authority), self.logs).start()
        return self.running[key]

    def arguments(self, kind, runtime, authority):
        if authority not in AUTHORITIES:
            raise ValueError(f"unknown authority {authority!r}")
        return ["--runtime", runtime, "--authority", authority, *self.kind_arguments(kind)]

    def kind_arguments(self, kind):
        if kind in ("js", "bare", "floor", "appsrc", "snap", "snapgz", "direct"):
            return ["--root", str(self.roots[kind])]
        if kind.startswith("open-"):  # a bench root without a tab limit (the memory phase)
            return ["--root", str(self.roots[kind.removeprefix("open-")]), "--max-tabs", "0"]
        return {
            "app": [],  # the defaults: block, --max-tabs 1
            "signout": ["--max-tabs", "11"],
            "takeover": ["--policy", "takeover", "--max-tabs", "1"],
            "many": ["--max-tabs", "3"],
            "open": ["--max-tabs", "0"],
            # The push phase: up to 51 tabs of one profile, each active. 60 rather than 0 (no
            # limit) so that, with the server as the authority, every tab claims its place with
            # POST /api/places before it is active, as under the app's own configuration.
            "push": ["--max-tabs", "60"],
        }[kind]

    def for_variant(self, variant):
        runtime, authority, _ = VARIANTS[variant]
        kind = variant.split("-")[0]
        # `appsrv` is the app's own configuration (`app`) with the server as the authority.
        if kind == "appsrv":
            return self.get("app", runtime, authority)
        return self.get(kind, runtime, authority)

    def stop_all(self):
        for server in self.running.values():
            server.stop()
