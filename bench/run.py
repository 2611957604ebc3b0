"""Benchmark: how fast a tab decides, how fast an action reaches other tabs, many tabs, memory.

    .venv/bin/python bench/run.py [--quick] [--only PHASES] [--out DIR]

One run serves the app with serve.py (several configurations, `--port 0`), drives Debian's
Chromium with Playwright, and measures side by side, several repetitions each:

1. decision: navigation start to the first time `<html data-tab-state>` leaves `booting`,
   measured inside the page (an init script's MutationObserver, performance.now()), on a cold
   cache (a new browser context) and a warm one (a second tab of the same context), for
   - `js`: the seed's check in plain JavaScript (bench/pages/baseline.*),
   - `bare-mpy`, `bare-pyodide`: a PyScript page whose Python only sets the attribute
     (bench/pages/bare.html) with the app's own pyscript.toml and local interpreters,
   - `app-mpy`, `app-pyodide`: the app's protected page `/`, signed in.
   - `appsrc-mpy`: the same, served without the bytecode bundles set-up builds
     (tools/precompile.py), so MicroPython fetches and compiles every source.
   - `direct-pyodide`, `snap-pyodide`, `snapgz-pyodide` (the memory-snapshot experiment of
     issue 8): the same page `/` and its real Python (core, browser adapter, demo view) on
     Pyodide loaded directly, PyScript replaced by a small shim (bench/pages/snap.js): without
     a snapshot; from a memory snapshot that holds the pure core already imported (built at the
     start of the run in this browser, into the run's temporary folder, never committed); and
     from the same snapshot gzipped. Then damaged copies of the snapshot, one load each, show
     what the page does with them (it should boot without the snapshot and say so).
   Every variant is served by serve.py itself: the bench pages through its `--root` option (a
   temporary folder holding the bench page as index.html beside links to the app's vendor/
   and app/ folders), so they get the same headers, caching and CSP as the app. Nothing is
   routed through Playwright (routing would turn the HTTP cache off).
2. reach: 11 tabs open; one acts, and the time until each of the 10 others shows the result,
   from `performance.timeOrigin + performance.now()` at the click in the acting tab to the
   mutation in each other tab (kept in sessionStorage, which survives navigations).
   - sign-out (`--max-tabs 11`: all 11 active): #logout in one tab; each other tab's
     data-tab-state leaves `active`.
   - take-over (`--policy takeover --max-tabs 1`: one tab active, ten `moved`): #use-here in a
     moved tab. It reaches the displaced tab (its data-tab-state becomes `moved`) and the nine
     bystanders (their tab list `#tabs` shows the acting tab `active`).
3. many: N tabs of one signed-in context navigated at the same moment (`--max-tabs 3`, block):
   time from the command to the last tab's decision, and whether the decisions were right
   (never more than 3 active at any instant; at the end exactly min(N, 3) active, the rest
   blocked).
4. memory: Pss from /proc/<pid>/smaps_rollup summed over this browser's renderer processes
   (`--type=renderer`), before and after opening N tabs, divided by N.

It prints the tables and writes docs/bench/results.{md,json} and docs/bench/chart.png
(matplotlib: bench/requirements.txt, installed into the running venv when missing).
"""

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
if str(ROOT / "tests" / "support") not in sys.path:  # live_server.py, shared with the tests
    sys.path.insert(0, str(ROOT / "tests" / "support"))

import live_server  # noqa: E402

CHROMIUM = os.environ.get("TABSESSION_BROWSER", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Long enough that no session times out during a run (a stored session is reused for minutes).
SERVER_DEFAULTS = ["--idle-timeout", "86400", "--warn-before", "60"]
USERNAME = "bench"

FULL = {
    "decision_reps": 10,
    "reach_reps": {"micropython": 10, "pyodide": 3},
    "held_reps": {"micropython": 3, "pyodide": 1},  # the diagnoses
    "reach_tabs": 10,
    "many": {"micropython": [10, 25, 50], "pyodide": [10]},
    "many_reps": {"micropython": 3, "pyodide": 3},
    "memory_tabs": 10,
    "memory_reps": {"micropython": 2, "pyodide": 2, "js": 2},  # min and max were within 1%
}
QUICK = {
    "decision_reps": 2,
    "reach_reps": {"micropython": 1, "pyodide": 1},
    "held_reps": {"micropython": 1, "pyodide": 1},
    "reach_tabs": 5,
    "many": {"micropython": [5, 10], "pyodide": [3]},
    "many_reps": {"micropython": 1, "pyodide": 1},
    "memory_tabs": 3,
    "memory_reps": {"micropython": 1, "pyodide": 1, "js": 1},
}
PHASES = ("decision", "reach", "many", "memory")
RUNTIMES = ("micropython", "pyodide")
# variant -> (runtime of its server, what it is)
VARIANTS = {
    "js": ("micropython", "plain JavaScript check (seed)"),
    "floor-mpy": ("micropython", "MicroPython without PyScript (floor)"),
    "bare-mpy": ("micropython", "bare PyScript + MicroPython"),
    "app-mpy": ("micropython", "tabsession, MicroPython"),
    "appsrc-mpy": ("micropython", "tabsession, MicroPython, sources instead of bundles"),
    "bare-pyodide": ("pyodide", "bare PyScript + Pyodide"),
    "app-pyodide": ("pyodide", "tabsession, Pyodide"),
    # The app's page `/` and its real Python (core, browser adapter, demo view) on Pyodide loaded
    # directly, PyScript replaced by a small shim (bench/pages/snap.js); the same page booting
    # from a memory snapshot that already holds the core imported, and without one.
    "direct-pyodide": ("pyodide", "tabsession, Pyodide without PyScript, no snapshot"),
    "snap-pyodide": ("pyodide", "tabsession, Pyodide from a memory snapshot, without PyScript"),
    "snapgz-pyodide": ("pyodide", "tabsession, Pyodide from a gzipped memory snapshot, without PyScript"),
}
# Variants whose page is the app's protected page, which decides `active` only when signed in.
SIGNED_IN = ("app", "appsrc", "direct", "snap", "snapgz")
ACTIONS = {"signout": "sign-out", "takeover": "take-over",
           "signout_held": "sign-out, next page held (diagnosis)",
           "signout_one": "sign-out reaching 1 tab (diagnosis)"}
RUNTIME_SHORT = {"micropython": "mpy", "pyodide": "pyodide"}
TIMEOUT_MS = {"micropython": 30_000, "pyodide": 90_000}

# In every page, before its own scripts: a trace of <html data-tab-state> (and, with TABS, of
# the #tabs list) and of clicks, appended to sessionStorage so it survives navigations.
# Each entry: {kind, at: epoch ms (timeOrigin + now), t: ms since this document's navigation
# start, path, state | list | id}.
TRACE_JS = """
(() => {
  if (window.top !== window) return;
  const KEY = "__bench.trace";
  const WATCH_TABS = %(tabs)s;
  const push = (entry) => {
    entry.path = location.pathname + location.search;
    try {
      const list = JSON.parse(sessionStorage.getItem(KEY) || "[]");
      list.push(entry);
      sessionStorage.setItem(KEY, JSON.stringify(list));
    } catch (error) { /* storage blocked: the entry is lost */ }
  };
  const stamp = (entry) => {
    const now = performance.now();
    entry.t = now;
    entry.at = performance.timeOrigin + now;
    return entry;
  };
  push({kind: "state", state: "booting", t: 0, at: performance.timeOrigin});
  let lastState = "booting";
  let lastList = "";
  const check = () => {
    const root = document.documentElement;
    const state = root && root.getAttribute("data-tab-state");
    if (state !== null && state !== lastState) {
      lastState = state;
      push(stamp({kind: "state", state, id: root.getAttribute("data-tab-id") || ""}));
    }
    if (WATCH_TABS) {
      const list = Array.from(document.querySelectorAll("#tabs li[data-tab-id]"),
                              (li) => li.dataset.tabId + "=" + li.dataset.state).join(",");
      if (list !== lastList) {
        lastList = list;
        push(stamp({kind: "tabs", list}));
      }
    }
  };
  const options = WATCH_TABS
    ? {subtree: true, childList: true, attributes: true,
       attributeFilter: ["data-tab-state", "data-state"]}
    : {subtree: true, attributes: true, attributeFilter: ["data-tab-state"]};
  new MutationObserver(check).observe(document, options);
  if (WATCH_TABS) {
    // When the wake-ups arrive (BroadcastChannel message, storage event), to tell delivery from
    // the work a tab does once woken. Registered before the page's own listeners.
    addEventListener("storage", () => push(stamp({kind: "wake", via: "storage"})), true);
    const Native = window.BroadcastChannel;
    if (Native) {
      window.BroadcastChannel = class extends Native {
        constructor(name) {
          super(name);
          super.addEventListener("message", () => push(stamp({kind: "wake", via: "message"})));
        }
      };
    }
  }
  // PyScript's own events on the <script type="mpy|py"> element: "ready" when the interpreter
  // is up and the page's Python is about to run, "done" when it has run.
  for (const type of ["mpy", "py"]) {
    for (const name of ["ready", "done"]) {
      document.addEventListener(type + ":" + name, () => push(stamp({kind: "pyscript", event: name})), true);
    }
  }
  // The rule every page keeps (issue 8 asks the bench to check it): the protected element #app
  // is never rendered while the tab is not active. Looked at on every animation frame, which is
  // before every paint (a page in the background paints nothing and gets no frames).
  let paintedEarly = false;
  const watchPaint = () => {
    const app = document.getElementById("app");
    const state = document.documentElement && document.documentElement.getAttribute("data-tab-state");
    if (!paintedEarly && app && state !== "active"
        && (app.checkVisibility ? app.checkVisibility() : app.getClientRects().length > 0)) {
      paintedEarly = true;
      push(stamp({kind: "painted-early", state}));
    }
    requestAnimationFrame(watchPaint);
  };
  requestAnimationFrame(watchPaint);
  addEventListener("click", (event) => {
    const target = event.target && event.target.closest ? event.target.closest("[id]") : null;
    push(stamp({kind: "click", id: target ? target.id : ""}));
  }, true);
})();
"""
READ_TRACE = "() => JSON.parse(sessionStorage.getItem('__bench.trace') || '[]')"
READ_STATE = """() => ({state: document.documentElement.getAttribute('data-tab-state'),
  id: document.documentElement.getAttribute('data-tab-id'), path: location.pathname + location.search})"""
# How the bench's own Pyodide pages booted (bench/pages/snap.js); nulls on other pages.
READ_BOOT = """() => ({boot: document.documentElement.getAttribute('data-boot'),
  verify_ms: document.documentElement.getAttribute('data-snapshot-verify-ms'),
  marks: JSON.parse(document.documentElement.getAttribute('data-boot-marks') || 'null')})"""
DECIDED = 'html[data-tab-state]:not([data-tab-state="booting"])'


def log(message):
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------- set-up


def ensure_dependencies():
    try:
        import playwright  # noqa: F401
    except ImportError:
        sys.exit("bench: Playwright is missing: run ./dev setup, then .venv/bin/python bench/run.py")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        log("bench: installing bench/requirements.txt (matplotlib) into " + sys.prefix)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "-r", str(BENCH / "requirements.txt")], check=True)
    if not os.access(CHROMIUM, os.X_OK):
        sys.exit(f"bench: no Chromium at {CHROMIUM} (apt-get install chromium, or set TABSESSION_BROWSER)")


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
    for name in ("index.html", "login.html", "pyscript.toml"):
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
        for name in ("app.css", "favicon.svg"):
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
    """Each configuration starts once, on first use, and all stop at the end."""

    def __init__(self, roots, logs):
        self.roots = roots
        self.logs = logs
        self.running = {}

    def get(self, key):
        if key not in self.running:
            self.running[key] = Server(key, self.arguments(key), self.logs).start()
        return self.running[key]

    def arguments(self, key):
        kind, runtime = key.rsplit(":", 1)
        args = ["--runtime", runtime]
        if kind == "js":
            return args + ["--root", str(self.roots["js"])]
        if kind in ("bare", "floor", "appsrc", "snap", "snapgz", "direct"):
            return args + ["--root", str(self.roots[kind])]
        if kind.startswith("open-"):  # a bench root without a tab limit (the memory phase)
            return args + ["--root", str(self.roots[kind.removeprefix("open-")]), "--max-tabs", "0"]
        return args + {
            "app": [],  # the defaults: block, --max-tabs 1
            "signout": ["--max-tabs", "11"],
            "takeover": ["--policy", "takeover", "--max-tabs", "1"],
            "many": ["--max-tabs", "3"],
            "open": ["--max-tabs", "0"],
        }[kind]

    def for_variant(self, variant):
        runtime = VARIANTS[variant][0]
        kind = variant.split("-")[0]
        return self.get(f"{kind}:{runtime}")

    def stop_all(self):
        for server in self.running.values():
            server.stop()


# --------------------------------------------------------------------------------- statistics


def percentile(values, fraction):
    """Linear interpolation between closest ranks (numpy's default)."""
    data = sorted(values)
    if not data:
        return None
    position = (len(data) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (position - low)


def summarize(values):
    values = [v for v in values if v is not None]
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "p5": percentile(values, 0.05),
        "p95": percentile(values, 0.95),
    }


# ----------------------------------------------------------------------------------- browsing


class Bench:
    def __init__(self, browser, servers, counts, runtimes=RUNTIMES):
        self.runtimes = runtimes
        self.browser = browser
        self.servers = servers
        self.counts = counts
        self.signed_in = {}  # server url -> storage state with a signed-in session
        self.errors = []  # page errors and console errors seen anywhere

    async def context(self, storage_state=None, watch_tabs=False):
        context = await self.browser.new_context(storage_state=storage_state)
        await context.add_init_script(script=TRACE_JS % {"tabs": "true" if watch_tabs else "false"})
        context.on("page", self._watch)
        return context

    def _watch(self, page):
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: pageerror {error}"))
        page.on("console", lambda message: message.type == "error" and self.errors.append(
            f"{page.url}: console {message.text[:300]}"))
        page.on("response", lambda response: response.status >= 400 and self.errors.append(
            f"{page.url}: HTTP {response.status} for {response.url}"))

    async def sign_in(self, context, server, runtime):
        """A tab of `context` signs in through /login and ends `active` on `/`; returns it."""
        page = await context.new_page()
        await page.goto(server("/login"))
        await page.locator('html[data-tab-state="signed-out"]').wait_for(
            state="attached", timeout=TIMEOUT_MS[runtime])
        await page.locator("#username").fill(USERNAME)
        await page.locator("#login-form button[type=submit]").click()
        await page.locator('html[data-tab-state="active"]').wait_for(
            state="attached", timeout=TIMEOUT_MS[runtime])
        return page

    async def signed_in_state(self, server, runtime):
        """Storage (localStorage) of a context that has signed in on `server`."""
        if server.url not in self.signed_in:
            context = await self.context()
            await self.sign_in(context, server, runtime)
            self.signed_in[server.url] = await context.storage_state()
            await context.close()
        return self.signed_in[server.url]

    async def state_for(self, variant, server=None):
        """The storage a variant's contexts start with: signed in for the app's page `/`. The
        bench's own roots have no sign-in page, so their session is the app server's, moved to
        their origin (the same localStorage items; nothing in them names the origin)."""
        kind = variant.split("-")[0]
        if kind not in SIGNED_IN:
            return None
        runtime = VARIANTS[variant][0]
        server = server or self.servers.for_variant(variant)
        if kind in ("app", "appsrc"):  # served with their own sign-in page
            return await self.signed_in_state(server, runtime)
        state = json.loads(json.dumps(await self.signed_in_state(self.servers.get(f"app:{runtime}"), runtime)))
        for origin in state.get("origins", []):
            origin["origin"] = server.url
        return state

    # ------------------------------------------------------------------ the memory snapshot
    async def ensure_snapshot(self):
        """The snapshot's facts, built on first use (once per run)."""
        if getattr(self, "snapshot", None) is None:
            self.snapshot = await self.build_snapshot()
        return self.snapshot

    async def build_snapshot(self):
        """Build the Pyodide memory snapshot the `snap` page boots from, in this browser: the page
        at `/?snapshot=build` (bench/pages/snap.js) hands it over as a download."""
        import gzip

        server = self.servers.get("snap:pyodide")
        target = self.servers.roots["snapshot_folder"] / SNAPSHOT_URL.rsplit("/", 1)[1]
        context = await self.browser.new_context(accept_downloads=True)
        page = await context.new_page()
        started = time.monotonic()
        async with page.expect_download(timeout=TIMEOUT_MS["pyodide"]) as info:
            await page.goto(server("/?snapshot=build"), wait_until="commit")
        download = await info.value
        await download.save_as(target)
        seconds = time.monotonic() - started
        import hashlib

        data = target.read_bytes()
        manifest = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                    "pyodide": pyodide_path().split("/")[2].removeprefix("pyodide-")}
        target.with_suffix(".json").write_text(json.dumps(manifest))
        in_page_ms = float(await page.evaluate(
            "() => document.documentElement.getAttribute('data-snapshot-ms')"))
        await context.close()
        compress_started = time.monotonic()
        packed = gzip.compress(data, 6)
        (target.parent / SNAPSHOT_GZ_URL.rsplit("/", 1)[1]).write_bytes(packed)
        deflated = len(packed)
        info = {"bytes": len(data), "gzip_bytes": deflated,
                "gzip_seconds": round(time.monotonic() - compress_started, 2),
                "build_seconds": round(seconds, 2), "snapshot_call_ms": round(in_page_ms),
                "pyodide": pyodide_path().split("/")[2]}
        log(f"  snapshot: {len(data) / 1e6:.1f} MB ({deflated / 1e6:.1f} MB gzipped), built in {seconds:.1f} s"
            f" (page load to download; writing and importing the core + makeMemorySnapshot {in_page_ms:.0f} ms)")
        return info

    async def snapshot_robustness(self):
        """Damaged copies of the snapshot: what the page does with each (it should say so on the
        console and boot without the snapshot)."""
        folder = self.servers.roots["snapshot_folder"]
        good = (folder / SNAPSHOT_URL.rsplit("/", 1)[1]).read_bytes()
        cases = damaged_snapshots(good)
        for name, data in cases.items():
            if data is not None:
                (folder / f"{name}.wasm").write_bytes(data)
        server = self.servers.get("snap:pyodide")
        state = await self.state_for("snap-pyodide")
        out = {}
        for name, verify in ((name, verify) for verify in ("", "0", "none") for name in cases):
            context = await self.browser.new_context(storage_state=state)
            await context.add_init_script(script=TRACE_JS % {"tabs": "false"})
            page = await context.new_page()
            messages = []
            page.on("console", lambda m: m.type in ("warning", "error") and messages.append(
                f"{m.type}: {m.text[:240]}"))
            page.on("pageerror", lambda error: messages.append(f"pageerror: {str(error)[:240]}"))
            await page.goto(server(f"/?snapshot-file={name}.wasm" + (f"&verify={verify}" if verify else "")),
                            wait_until="commit")
            try:
                await page.locator(DECIDED).wait_for(state="attached", timeout=TIMEOUT_MS["pyodide"])
                decided = first_decision(await read_trace(page))
            except Exception:  # noqa: BLE001 - a page that never decided is the finding
                decided = None
            boot = await page.evaluate("""() => ({boot: document.documentElement.getAttribute('data-boot'),
              problem: document.documentElement.getAttribute('data-boot-problem')})""")
            await context.close()
            key = name + {"": "", "0": ",no-digest", "none": ",no-page-checks"}[verify]
            out[key] = {"what": DAMAGE[name], "page_checks": CHECKS[verify], "boot": boot["boot"],
                        "problem": boot["problem"], "state": decided["state"] if decided else None,
                        "decided_ms": decided["t"] if decided else None, "console": messages[:6]}
            log(f"  damaged snapshot {key}: booted {boot['boot']}, decided"
                f" {out[key]['state']} in {fmt_ms(out[key]['decided_ms'])}; {boot['problem'] or ''}")
        return out

    async def load(self, context, url, runtime):
        """Open `url` in a new tab of `context`; the page and its trace once it has decided."""
        page = await context.new_page()
        await page.goto(url, wait_until="commit")
        await page.locator(DECIDED).wait_for(state="attached", timeout=TIMEOUT_MS[runtime])
        return page, await read_trace(page)

    # ------------------------------------------------------------------------- 1. decision
    async def decision(self):
        reps = self.counts["decision_reps"]
        results = {variant: {"cold": [], "warm": [], "states": [], "cold_ready": [], "warm_ready": [],
                             "boots": [], "painted_early": 0}
                   for variant in VARIANTS}
        snapshot = None
        if any(variant == "snap-pyodide" for variant, _ in self.variants()):
            snapshot = await self.ensure_snapshot()
        for rep in range(reps):
            for variant, (runtime, _) in self.variants():  # interleaved: load drifts hit all alike
                server = self.servers.for_variant(variant)
                state = await self.state_for(variant)
                context = await self.context(storage_state=state)
                for label in ("cold", "warm"):
                    page, trace = await self.load(context, server("/"), runtime)
                    results[variant]["boots"].append(await page.evaluate(READ_BOOT))
                    decision = first_decision(trace)
                    results[variant][label].append(decision["t"] if decision else None)
                    results[variant]["states"].append(decision["state"] if decision else None)
                    results[variant]["painted_early"] += painted_early(trace)
                    ready = next((e for e in trace if e["kind"] == "pyscript" and e["event"] == "ready"), None)
                    results[variant][label + "_ready"].append(ready["t"] if ready else None)
                    await page.close()
                await context.close()
            log(f"  decision rep {rep + 1}/{reps}: " + ", ".join(
                f"{v} {fmt_ms(r['cold'][-1])}/{fmt_ms(r['warm'][-1])}" for v, r in results.items() if r["cold"]))
        out = {variant: {"cold": summarize(r["cold"]), "warm": summarize(r["warm"]),
                         "cold_ready": summarize(r["cold_ready"]), "warm_ready": summarize(r["warm_ready"]),
                         "samples": r, "what": VARIANTS[variant][1]}
               for variant, r in results.items() if r["cold"]}
        for r in out.values():  # where the bench's own Pyodide pages spent their time, by step
            for label, boots in (("cold", r["samples"]["boots"][0::2]), ("warm", r["samples"]["boots"][1::2])):
                marks = [b["marks"] for b in boots if b and b.get("marks")]
                if marks:
                    r.setdefault("marks", {})[label] = {
                        name: statistics.median(m[name] for m in marks if name in m) for name in marks[0]}
        if snapshot is not None:
            snapshot["damaged"] = await self.snapshot_robustness()
            out["snap-pyodide"]["snapshot"] = snapshot
        return out

    # ---------------------------------------------------------------------------- 2. reach
    async def open_tabs(self, context, server, count, runtime, settled):
        """Open `count` tabs at `/` at once; wait until `settled(states)` holds for all of them."""
        pages = [await context.new_page() for _ in range(count)]
        await asyncio.gather(*(page.goto(server("/"), wait_until="commit") for page in pages))
        return pages, await wait_until(pages, settled, TIMEOUT_MS[runtime])

    async def reach_signout(self, runtime, hold_next=False, others=None):
        """Diagnoses: hold_next answers the signed-out tabs' navigation to /login with 204, so
        they stay where they are instead of booting the sign-in page while other tabs still
        handle the sign-out; others=1 measures the same action reaching a single tab."""
        server = self.servers.get(f"signout:{runtime}")
        diagnosis = hold_next or others is not None
        others = others or self.counts["reach_tabs"]
        context = await self.context(watch_tabs=True)
        login = re.compile(r"^https?://[^/]+/login(\?|$)")

        async def answer_204(route):
            await route.fulfill(status=204)

        per_tab, all_tabs, wake_ms, actor_ms, handling_ms = [], [], [], [], []
        for rep in range(self.counts["held_reps" if diagnosis else "reach_reps"][runtime]):
            actor = await self.sign_in(context, server, runtime)
            pages, _ = await self.open_tabs(context, server, others, runtime,
                                            lambda states: all(s["state"] == "active" for s in states))
            await asyncio.sleep(0.5)
            if hold_next:
                await context.route(login, answer_204)
            await actor.locator("#logout").click(no_wait_after=hold_next)
            await wait_until(pages, lambda states: all(s["state"] == "signed-out" for s in states),
                             TIMEOUT_MS[runtime])
            if hold_next:
                await asyncio.sleep(0.5)
                await context.unroute(login, answer_204)
            actor_trace = await read_trace(actor)
            click = last_click(actor_trace, "logout")
            done = first_after(actor_trace, click, lambda e: e["kind"] == "state" and e["state"] != "active")
            actor_ms.append(done["at"] - click if done else None)
            latencies = []
            for page in pages:
                trace = await read_trace(page)
                left = first_after(trace, click, lambda e: e["kind"] == "state" and e["state"] != "active")
                latencies.append(left["at"] - click if left else None)
                woke = first_after(trace, click, lambda e: e["kind"] == "wake")
                wake_ms.append(woke["at"] - click if woke else None)
                handling_ms.append(left["at"] - woke["at"] if left and woke and woke["at"] <= left["at"] else None)
            per_tab += latencies
            all_tabs.append(max_or_none(latencies))
            log(f"  sign-out{' (next page held)' if hold_next else ''} {runtime} rep {rep + 1}: all {others} tabs in {fmt_ms(all_tabs[-1])}"
                f" (each: {', '.join(fmt_ms(v) for v in latencies)}); acting tab left active in"
                f" {fmt_ms(actor_ms[-1])}, first wake-up per tab: {', '.join(fmt_ms(v) for v in wake_ms[-others:])}")
            for page in context.pages:
                await page.close()
        await context.close()
        return {"per_tab": summarize(per_tab), "all_tabs": summarize(all_tabs),
                "wake": summarize(wake_ms), "actor_done": summarize(actor_ms),
                "handling": summarize(handling_ms),
                "samples": {"per_tab": per_tab, "all_tabs": all_tabs, "wake": wake_ms,
                            "actor_done": actor_ms, "handling": handling_ms}, "tabs": others}

    async def reach_takeover(self, runtime):
        server = self.servers.get(f"takeover:{runtime}")
        others = self.counts["reach_tabs"]
        context = await self.context(watch_tabs=True)
        per_tab, all_tabs, displaced_ms, actor_ms, wake_ms, handling_ms = [], [], [], [], [], []
        one_active = lambda states: (sum(s["state"] == "active" for s in states) == 1
                                     and all(s["state"] in ("active", "moved") for s in states))
        for rep in range(self.counts["reach_reps"][runtime]):
            first = await self.sign_in(context, server, runtime)
            pages, _ = await self.open_tabs(context, server, others, runtime, lambda states: True)
            pages.append(first)
            states = await wait_until(pages, one_active, TIMEOUT_MS[runtime])
            await asyncio.sleep(0.5)
            displaced = pages[[s["state"] for s in states].index("active")]
            actor = pages[[s["state"] for s in states].index("moved")]
            actor_id = states[pages.index(actor)]["id"]
            await actor.locator("#use-here").click()
            reached = [page for page in pages if page is not actor]
            await wait_until([actor], lambda s: s[0]["state"] == "active", TIMEOUT_MS[runtime])
            await wait_until([displaced], lambda s: s[0]["state"] == "moved", TIMEOUT_MS[runtime])
            click = last_click(await read_trace(actor), "use-here")
            became = first_after(await read_trace(actor), click,
                                 lambda e: e["kind"] == "state" and e["state"] == "active")
            actor_ms.append(became["at"] - click if became else None)
            shows_actor = f"{actor_id}=active"
            latencies = []
            deadline = time.monotonic() + 5
            for page in reached:
                while True:
                    trace = await read_trace(page)
                    if page is displaced:
                        hit = first_after(trace, click, lambda e: e["kind"] == "state" and e["state"] == "moved")
                    else:
                        hit = first_after(trace, click, lambda e: e["kind"] == "tabs"
                                          and shows_actor in e["list"].split(","))
                    if hit or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.1)
                latencies.append(hit["at"] - click if hit else None)
                woke = first_after(trace, click, lambda e: e["kind"] == "wake")
                wake_ms.append(woke["at"] - click if woke else None)
                # The displaced tab may learn from its lock manager before any message arrives.
                handling_ms.append(hit["at"] - woke["at"] if hit and woke and woke["at"] <= hit["at"] else None)
                if page is displaced:
                    displaced_ms.append(latencies[-1])
            per_tab += latencies
            all_tabs.append(max_or_none(latencies))
            log(f"  take-over {runtime} rep {rep + 1}: all {others} tabs in {fmt_ms(all_tabs[-1])},"
                f" displaced {fmt_ms(displaced_ms[-1])}, actor active {fmt_ms(actor_ms[-1])}")
            for page in context.pages:
                await page.close()
            await clear_session(context, server)
        await context.close()
        return {"per_tab": summarize(per_tab), "all_tabs": summarize(all_tabs),
                "displaced": summarize(displaced_ms), "actor_done": summarize(actor_ms),
                "wake": summarize(wake_ms), "handling": summarize(handling_ms),
                "samples": {"per_tab": per_tab, "all_tabs": all_tabs, "displaced": displaced_ms,
                            "actor_done": actor_ms, "wake": wake_ms, "handling": handling_ms},
                "tabs": others}

    def variants(self):
        """The variants of the runtimes this run measures (the plain-JS check always)."""
        return [(variant, (runtime, what)) for variant, (runtime, what) in VARIANTS.items()
                if variant == "js" or runtime in self.runtimes]

    async def reach(self):
        out = {}
        for runtime in self.runtimes:
            out[f"signout-{RUNTIME_SHORT[runtime]}"] = await self.reach_signout(runtime)
            out[f"takeover-{RUNTIME_SHORT[runtime]}"] = await self.reach_takeover(runtime)
            out[f"signout_held-{RUNTIME_SHORT[runtime]}"] = await self.reach_signout(runtime, hold_next=True)
            out[f"signout_one-{RUNTIME_SHORT[runtime]}"] = await self.reach_signout(runtime, others=1)
        return out

    # ----------------------------------------------------------------------------- 3. many
    async def many_once(self, runtime, count):
        server = self.servers.get(f"many:{runtime}")
        state = await self.signed_in_state(server, runtime)
        context = await self.context(storage_state=state)
        page, _ = await self.load(context, server("/"), runtime)  # warm the cache
        await page.close()
        pages = [await context.new_page() for _ in range(count)]
        started = time.time() * 1000
        await asyncio.gather(*(page.goto(server("/"), wait_until="commit") for page in pages))
        limit = 3
        settled = lambda states: all(
            (s["state"] == "active" and s["path"] == "/")
            or (s["state"] == "blocked" and s["path"].startswith("/login")) for s in states)
        try:
            await wait_until(pages, settled, TIMEOUT_MS[runtime] * max(1, count // 10))
            timed_out = False
        except TimeoutError:
            timed_out = True
        await asyncio.sleep(1.0)  # anything that changes late shows in the traces
        traces = [await read_trace(page) for page in pages]
        final = [await read_state(page) for page in pages]
        await context.close()
        decided = [first_decision(trace) for trace in traces]
        decided_at = [d["at"] for d in decided if d]
        active = sum(s["state"] == "active" for s in final)
        blocked = sum(s["state"] == "blocked" for s in final)
        peak = peak_active(traces)
        early = sum(painted_early(trace) for trace in traces)
        correct = (not timed_out and len(decided_at) == count and active == min(count, limit)
                   and blocked == count - active and peak <= limit and early == 0)
        return {
            "all_decided_ms": (max(decided_at) - started) if len(decided_at) == count else None,
            "median_decided_ms": statistics.median([at - started for at in decided_at]) if decided_at else None,
            "active": active, "blocked": blocked, "peak_active": peak, "correct": correct,
            "timed_out": timed_out, "painted_early": early,
        }

    async def many(self):
        out = {}
        for runtime in self.runtimes:
            for count in self.counts["many"][runtime]:
                runs = []
                for rep in range(self.counts["many_reps"][runtime]):
                    runs.append(await self.many_once(runtime, count))
                    r = runs[-1]
                    log(f"  many {runtime} {count} tabs rep {rep + 1}: all decided in"
                        f" {fmt_ms(r['all_decided_ms'])}, active {r['active']}, blocked {r['blocked']},"
                        f" peak active {r['peak_active']}, correct {r['correct']}")
                out[f"{RUNTIME_SHORT[runtime]}-{count}"] = {
                    "runtime": runtime, "tabs": count,
                    "all_decided": summarize([r["all_decided_ms"] for r in runs]),
                    "median_decided": summarize([r["median_decided_ms"] for r in runs]),
                    "correct": sum(r["correct"] for r in runs), "reps": len(runs),
                    "peak_active": max(r["peak_active"] for r in runs), "runs": runs,
                }
        return out

    # --------------------------------------------------------------------------- 4. memory
    async def memory_once(self, variant, server, runtime, state, shared):
        """Renderer Pss added per tab by opening N tabs of `variant` (MB), and new processes.

        shared=False: each tab a new page of the context (Playwright gives each its own
        renderer process, as tabs opened from the address bar get). shared=True: the N tabs are
        opened by one tab with window.open, so they stay in its renderer process: what the page
        itself costs, without a process's own overhead.
        """
        count = self.counts["memory_tabs"]
        timeout = TIMEOUT_MS[runtime] * max(1, count // 5)
        context = await self.context(storage_state=state)
        first, _ = await self.load(context, server("/"), runtime)  # warms the cache
        if not shared:
            await first.close()
        await asyncio.sleep(1.0)
        await collect_garbage(context)
        before = renderer_memory_kb()
        if shared:
            opened = []
            context.on("page", lambda page: opened.append(page))
            await first.evaluate("([url, count]) => { for (let i = 0; i < count; i++) window.open(url); }",
                                 [server("/"), count])
            deadline = time.monotonic() + 10
            while len(opened) < count and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            pages = opened
        else:
            pages = [await context.new_page() for _ in range(count)]
            await asyncio.gather(*(page.goto(server("/"), wait_until="commit") for page in pages))
        await wait_until(pages, lambda states: all(s["state"] == "active" for s in states), timeout)
        await asyncio.sleep(2.0)
        await collect_garbage(context)
        after = renderer_memory_kb()
        await context.close()
        pss, private, processes = ((a - b) for a, b in zip(after, before))
        return pss / count / 1024, private / count / 1024, processes

    async def memory(self):
        out = {}
        count = self.counts["memory_tabs"]
        for variant, (runtime, what) in self.variants():
            kind = variant.split("-")[0]
            if kind in ("floor", "snapgz", "appsrc"):
                continue  # start-up experiments only (snapgz: the same page in memory as snap)
            if kind == "app":
                server = self.servers.get(f"open:{runtime}")
            elif kind in SIGNED_IN:  # the bench's copies of the app's page, without a tab limit
                server = self.servers.get(f"open-{kind}:{runtime}")
            else:
                server = self.servers.for_variant(variant)
            if kind == "snap":
                await self.ensure_snapshot()
            state = await self.state_for(variant, server)
            reps = self.counts["memory_reps"]["js" if kind == "js" else runtime]
            out[variant] = {"what": what, "tabs": count}
            for mode, shared in (("own_process", False), ("shared_process", True)):
                per_tab, private, processes = [], [], []
                for rep in range(reps):
                    mb, private_mb, new_processes = await self.memory_once(variant, server, runtime, state, shared)
                    per_tab.append(mb)
                    private.append(private_mb)
                    processes.append(new_processes)
                    log(f"  memory {variant} {mode} rep {rep + 1}: {mb:.1f} MB Pss per tab"
                        f" ({private_mb:.1f} MB private; {new_processes} more renderer processes"
                        f" for {count} tabs)")
                out[variant][mode] = {"per_tab_mb": summarize(per_tab), "samples": per_tab,
                                      "private_per_tab_mb": summarize(private), "private_samples": private,
                                      "new_renderers": processes}
        return out


async def collect_garbage(context):
    """A full garbage collection in every page of `context`, so memory is what is live."""
    for page in context.pages:
        try:
            session = await context.new_cdp_session(page)
            await session.send("HeapProfiler.collectGarbage")
            await session.detach()
        except Exception:  # noqa: BLE001 - a page that closed meanwhile
            pass


async def read_trace(page):
    for _ in range(50):  # a page in mid-navigation has no document for a moment
        try:
            return await page.evaluate(READ_TRACE)
        except Exception:  # noqa: BLE001 - Playwright's "execution context was destroyed"
            await asyncio.sleep(0.05)
    return []


async def read_state(page):
    for _ in range(50):
        try:
            return await page.evaluate(READ_STATE)
        except Exception:  # noqa: BLE001
            await asyncio.sleep(0.05)
    return {"state": None, "id": None, "path": ""}


async def wait_until(pages, settled, timeout_ms):
    """Poll every tab's state until `settled(states)`; the states, or TimeoutError."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        states = list(await asyncio.gather(*(read_state(page) for page in pages)))
        if settled(states):
            return states
        if time.monotonic() > deadline:
            raise TimeoutError("tabs did not settle: " + ", ".join(
                f"{s['state']}@{s['path']}" for s in states))
        await asyncio.sleep(0.05)


async def clear_session(context, server):
    """Sign out through a fresh tab so the next repetition starts from a signed-out profile."""
    page = await context.new_page()
    await page.goto(server("/login"), wait_until="commit")
    await page.evaluate("() => localStorage.clear()")
    await page.close()


# What each damaged copy of a snapshot is (see damaged_snapshots).
DAMAGE = {
    "other-build": "one byte of the header's Pyodide build id changed (what a snapshot of another"
                   " Pyodide version or build looks like)",
    "truncated-half": "cut to its first half",
    "truncated-page": "its last 64 KiB cut off (still whole wasm pages)",
    "flipped-header": "one byte of its JSON header inverted",
    "flipped-image": "one byte in the middle of the memory image inverted",
    "flipped-spread": "one byte of every 64 KiB of the memory image inverted",
    "missing": "no such file (HTTP 404)",
}


# What the snap page checks itself before handing a snapshot to Pyodide, by its `verify` parameter.
CHECKS = {"": "layout and SHA-256 against the manifest", "0": "layout only", "none": "none (Pyodide's own)"}


def damaged_snapshots(good):
    """{name: bytes (None: no file)} for every kind of damage in DAMAGE, from a good snapshot.

    The layout read here is Pyodide 314's (API.makeSnapshot): little-endian 32-bit words, [1] the
    offset of the memory image, [2] the length of the JSON header that starts at byte 48, [4:12]
    the build id."""
    image = int.from_bytes(good[4:8], "little")
    header = int.from_bytes(good[8:12], "little")
    if not 48 < image < len(good) or header <= 0:
        raise ValueError("not a Pyodide memory snapshot")

    def flipped(offsets):
        data = bytearray(good)
        for offset in offsets:
            data[offset] ^= 0xFF
        return bytes(data)

    return {
        "other-build": flipped([16]),
        "truncated-half": good[:len(good) // 2 // 4 * 4],
        "truncated-page": good[:-65536],
        "flipped-header": flipped([48 + header // 2]),
        "flipped-image": flipped([image + (len(good) - image) // 2]),
        "flipped-spread": flipped(range(image + 32768, len(good), 65536)),
        "missing": None,
    }


def painted_early(trace):
    """How many documents of this trace rendered #app while the tab was not active."""
    return sum(1 for entry in trace if entry["kind"] == "painted-early")


def first_decision(trace):
    """The first entry of the first document whose data-tab-state is not `booting`."""
    for entry in trace[1:]:
        if entry["kind"] != "state":
            continue
        if entry["state"] == "booting":
            return None  # a second document began before the first decided
        return entry
    return None


def last_click(trace, element_id):
    clicks = [e for e in trace if e["kind"] == "click" and e["id"] == element_id]
    if not clicks:
        raise RuntimeError(f"no click on #{element_id} was recorded")
    return clicks[-1]["at"]


def first_after(trace, when, matches):
    for entry in trace:
        if entry["at"] >= when and matches(entry):
            return entry
    return None


def peak_active(traces):
    """The most tabs `active` at one instant, from every tab's state history."""
    changes = []
    for trace in traces:
        active_since = None
        for entry in trace:
            if entry["kind"] != "state":
                continue
            if entry["state"] == "active" and active_since is None:
                active_since = entry["at"]
                changes.append((entry["at"], 1))
            elif entry["state"] != "active" and active_since is not None:
                active_since = None
                changes.append((entry["at"], -1))
    peak = level = 0
    for _, step in sorted(changes, key=lambda c: (c[0], c[1])):  # a drop before a rise at a tie
        level += step
        peak = max(peak, level)
    return peak


def max_or_none(values):
    return None if any(v is None for v in values) or not values else max(values)


def fmt_ms(value):
    return "-" if value is None else f"{value:.0f} ms"


# ------------------------------------------------------------------------------------ memory


def descendants(pid):
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                stat = file.read()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def renderer_memory_kb():
    """(Pss, private, processes) summed over the renderer processes of the browser we started.

    Pss (proportional set size) is what issue 8 asks for; it shares pages mapped by several
    processes among them, so it moves a little when any other Chromium on the machine starts or
    stops. Private (Private_Clean + Private_Dirty) counts pages of one process only.
    """
    pss = private = count = 0
    for pid in descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                if b"--type=renderer" not in file.read():
                    continue
            with open(f"/proc/{pid}/smaps_rollup") as file:
                fields = dict(line.split(":", 1) for line in file if ":" in line and not line[0].isdigit())
        except OSError:
            continue  # the process ended meanwhile
        pss += int(fields["Pss"].split()[0])
        private += int(fields["Private_Clean"].split()[0]) + int(fields["Private_Dirty"].split()[0])
        count += 1
    return pss, private, count


# ----------------------------------------------------------------------------------- machine


def load_average():
    return list(os.getloadavg())


def machine(browser_version):
    with open("/proc/meminfo") as file:
        total_kb = int(next(line for line in file if line.startswith("MemTotal:")).split()[1])
    cpu = ""
    try:
        with open("/proc/cpuinfo") as file:
            cpu = next((line.split(":", 1)[1].strip() for line in file if line.startswith("model name")), "")
    except OSError:
        pass
    import playwright
    from importlib.metadata import version
    return {
        "nproc": os.cpu_count(), "cpu": cpu, "memory_gib": round(total_kb / 1024 / 1024, 1),
        "chromium": browser_version, "os": platform.platform(), "python": platform.python_version(),
        "playwright": version("playwright"),
    }


# ----------------------------------------------------------------------------------- reporting


def span(summary, unit="ms", scale=1.0, digits=0):
    if not summary or summary.get("n", 0) == 0:
        return "-"
    f = lambda v: f"{v * scale:.{digits}f}"
    return f"{f(summary['median'])} {unit} ({f(summary['min'])}–{f(summary['max'])})"


def targets(results):
    """[(target, measured, verdict)] for the targets of issue 8, from ratios within this run."""
    rows = []
    decision = results.get("decision")
    if decision:
        for label, limit in (("warm", 3), ("cold", 7)):
            app, js = decision.get("app-mpy", {}).get(label, {}), decision["js"][label]
            if app.get("n") and js.get("n"):
                ratio = app["median"] / js["median"]
                rows.append((f"MicroPython decision, {label}: at most {limit}x the plain-JS check",
                             f"{ratio:.1f}x ({app['median']:.0f} / {js['median']:.0f} ms)", ratio <= limit))
        for label in ("warm", "cold"):  # MicroPython without PyScript: what no page can beat
            app, floor = decision.get("app-mpy", {}).get(label, {}), decision.get("floor-mpy", {}).get(label, {})
            js = decision["js"][label]
            if app.get("n") and floor.get("n") and js.get("n"):
                rows.append((f"(reference, no target) MicroPython without PyScript (the floor), {label},"
                             f" against the plain-JS check; tabsession over the floor",
                             f"{floor['median'] / js['median']:.1f}x ({floor['median']:.0f} ms);"
                             f" tabsession {app['median'] / floor['median']:.1f}x the floor", None))
        for label in ("warm", "cold"):  # what PyScript alone gives: explains the ratios above
            bare, js = decision.get("bare-mpy", {}).get(label, {}), decision["js"][label]
            if bare.get("n") and js.get("n"):
                rows.append((f"(reference, no target) bare PyScript + MicroPython, {label}, against the"
                             f" plain-JS check", f"{bare['median'] / js['median']:.1f}x"
                             f" ({bare['median']:.0f} / {js['median']:.0f} ms)", None))
        for label in ("cold", "warm"):  # the memory snapshot against the same page without it
            snap = decision.get("snap-pyodide", {}).get(label, {})
            direct = decision.get("direct-pyodide", {}).get(label, {})
            app = decision.get("app-pyodide", {}).get(label, {})
            if snap.get("n") and direct.get("n"):
                rows.append((f"(reference, no target) Pyodide without PyScript, {label}: from a memory snapshot"
                             f" against the same page without one" + (", and against the app on PyScript"
                                                                       if app.get("n") else ""),
                             f"{snap['median'] / direct['median']:.2f}x ({snap['median']:.0f} /"
                             f" {direct['median']:.0f} ms)" + (f"; {snap['median'] / app['median']:.2f}x"
                                                              f" ({app['median']:.0f} ms)" if app.get("n") else ""),
                             None))
        for label in ("cold", "warm"):
            app = decision.get("app-pyodide", {}).get(label, {})
            bare = decision.get("bare-pyodide", {}).get(label, {})
            if app.get("n") and bare.get("n"):
                extra = app["median"] / bare["median"] - 1
                rows.append((f"Pyodide decision, {label}: at most +15% over bare PyScript + Pyodide",
                             f"{extra * 100:+.0f}% ({app['median']:.0f} / {bare['median']:.0f} ms)",
                             extra <= 0.15))
    reach = results.get("reach")
    if reach:
        for key, result in reach.items():
            action, runtime = key.split("-")
            if action not in ("signout", "takeover"):
                continue  # diagnoses, not targets
            p95 = result["all_tabs"].get("p95")
            n = result["all_tabs"].get("n", 0)
            rows.append((f"{'Sign-out' if action == 'signout' else 'Take-over'} ({runtime}) reaches all"
                         f" {result['tabs']} tabs: p95 under 50 ms",
                         "-" if p95 is None else f"p95 {p95:.0f} ms, median {result['all_tabs']['median']:.0f} ms"
                         f" (n={n}; per tab p95 {result['per_tab']['p95']:.0f} ms)",
                         p95 is not None and p95 < 50))
    many = results.get("many")
    if many:
        for key, result in many.items():
            if result["runtime"] == "micropython" and result["tabs"] == max(
                    r["tabs"] for r in many.values() if r["runtime"] == "micropython"):
                rows.append((f"{result['tabs']} MicroPython tabs at once all decide correctly",
                             f"{result['correct']}/{result['reps']} runs correct, peak active"
                             f" {result['peak_active']} (limit 3)",
                             result["correct"] == result["reps"]))
    memory = results.get("memory")
    if memory and "app-mpy" in memory:
        app = memory["app-mpy"]
        shared = app["shared_process"]["per_tab_mb"]
        if shared.get("n"):
            rows.append(("MicroPython memory per tab under 15 MB PSS: tabs sharing one renderer",
                         f"{shared['median']:.1f} MB", shared["median"] < 15))
        own = app["own_process"]["per_tab_mb"]
        js = memory.get("js", {}).get("own_process", {}).get("per_tab_mb", {})
        if own.get("n") and js.get("n"):
            net = own["median"] - js["median"]
            rows.append(("MicroPython memory per tab under 15 MB PSS: each tab in its own renderer,"
                         " net of a plain-JS tab", f"{net:.1f} MB ({own['median']:.1f} MB in all,"
                         f" {js['median']:.1f} MB for a plain-JS tab)", net < 15))
    early = painted_early_counts(results)
    if early["loads"]:
        rows.append(("No protected content painted before the decision (#app rendered on a frame while"
                     " the tab was not active)",
                     f"{early['painted']} of {early['loads']} page loads (decision: the app's pages signed in;"
                     " many: every tab of every run)", early["painted"] == 0))
    return rows


def painted_early_counts(results):
    """{"painted": documents that rendered #app while not active, "loads": documents watched}."""
    painted = loads = 0
    for variant, r in (results.get("decision") or {}).items():
        if variant.split("-")[0] in SIGNED_IN:  # the pages that hold an #app
            painted += r["samples"].get("painted_early", 0)
            loads += len(r["samples"]["states"])
    for result in (results.get("many") or {}).values():
        for run in result["runs"]:
            painted += run.get("painted_early", 0)
            loads += result["tabs"]
    return {"painted": painted, "loads": loads}


def snapshot_lines(snapshot, boots, steps=None):
    """The report's section on the Pyodide memory snapshot (`snap-pyodide`): its size and build
    time, how the measured loads booted, where the time went (`steps`: {variant: {"cold"|"warm":
    {step: median ms since navigation start}}}), and what each damaged copy did."""
    mb = lambda n: f"{n / 1e6:.1f} MB"
    how = ", ".join(f"{name} ×{count}" for name, count in sorted(
        {b.get("boot"): sum(1 for c in boots if c.get("boot") == b.get("boot")) for b in boots}.items(),
        key=lambda item: str(item[0])))
    verify = [float(b["verify_ms"]) for b in boots if b.get("verify_ms")]
    lines = ["### Pyodide memory snapshot (`snap-pyodide`; an experiment, not a supported feature)", "",
             f"Built by the bench in this browser from Pyodide {snapshot['pyodide'].removeprefix('pyodide-')}"
             f" (private `_makeSnapshot` option, the core imported, `makeMemorySnapshot()`), never committed:"
             f" {mb(snapshot['bytes'])} ({mb(snapshot['gzip_bytes'])} gzipped, in"
             f" {snapshot['gzip_seconds']:.1f} s, for `snapgz-pyodide`), page load to saved file"
             f" {snapshot['build_seconds']:.1f} s, of which writing and importing the core and making the snapshot"
             f" {snapshot['snapshot_call_ms']} ms. Measured loads booted: {how or '-'}."
             + (f" The page's SHA-256 check of the file took {statistics.median(verify):.0f} ms (median)."
                if verify else ""), ""]
    if steps:
        lines += ["Steps of the bench's own Pyodide pages (bench/pages/snap.js), median ms since navigation"
                  " start, cold / warm:", ""]
        for variant, by_label in steps.items():
            names = list(by_label.get("cold") or by_label.get("warm"))
            lines.append(f"- `{variant}`: " + ", ".join(
                f"{name.replace('_', ' ')} " + " / ".join(
                    fmt_ms(by_label.get(label, {}).get(name)) for label in ("cold", "warm"))
                for name in names))
        lines.append("")
    damaged = snapshot.get("damaged")
    if damaged:
        lines += ["Damaged copies (each one load, signed in, cold):", "",
                  "| damage | the page's own checks | booted | decided | what the page said |",
                  "|---|---|---|---|---|"]
        for r in damaged.values():
            said = (r["problem"] or "-").replace("|", "/")
            lines.append(f"| {r['what']} | {r['page_checks']} | {r['boot']} | {r['state'] or 'never'}"
                         f" in {fmt_ms(r['decided_ms'])} | {said} |")
        lines.append("")
    return lines


def markdown(results):
    lines = []
    decision = results.get("decision")
    if decision:
        lines += ["### Time to a decision (navigation start to `data-tab-state` leaving `booting`)", "",
                  "median (min–max) over " f"{results['counts']['decision_reps']} repetitions", "",
                  "Python starts: PyScript's `mpy:ready` / `py:ready` event (the interpreter is up and the"
                  " page's Python is about to run), median.", "",
                  "| page | cold cache | warm cache | Python starts, cold / warm | decided |",
                  "|---|---|---|---|---|"]
        for variant, r in decision.items():
            states = r["samples"]["states"]
            decided = ", ".join(f"{state} ×{states.count(state)}" for state in sorted(set(map(str, states))))
            if r["samples"].get("painted_early"):
                decided += f"; **#app rendered before active ×{r['samples']['painted_early']}**"
            ready = " / ".join(fmt_ms(r.get(f"{label}_ready", {}).get("median")) for label in ("cold", "warm"))
            lines.append(f"| {r['what']} (`{variant}`) | {span(r['cold'])} | {span(r['warm'])} | "
                         f"{ready if '-' != ready.split(' / ')[0] else '-'} | {decided} |")
        lines.append("")
    snapshot = (decision or {}).get("snap-pyodide", {}).get("snapshot")
    if snapshot:
        lines += snapshot_lines(snapshot, decision["snap-pyodide"]["samples"].get("boots", []),
                                {v: r["marks"] for v, r in decision.items() if r.get("marks")})
    reach = results.get("reach")
    if reach:
        tabs = next(iter(reach.values()))["tabs"]
        lines += [f"### One action reaching {tabs} other tabs (click in the acting tab to the change in each)", "",
                  "Per repetition the last of the tabs to change; each tab: every tab of every repetition."
                  " Wake-up: the first BroadcastChannel message or storage event a tab received after the"
                  " click; handling: from that wake-up to the tab's change (min–max over tabs).", "",
                  "| action | runtime | last of the tabs, median (min–max) | last, p95 | each tab, median | each tab, p95 |"
                  " acting tab done, median | wake-up, median | handling, median (min–max) | repetitions |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for key, r in reach.items():
            action, runtime = key.split("-")
            name = ACTIONS[action]
            p = r["per_tab"]
            lines.append(f"| {name} | {runtime} | {span(r['all_tabs'])} | "
                         f"{fmt_ms(r['all_tabs'].get('p95'))} | {fmt_ms(p.get('median'))} | "
                         f"{fmt_ms(p.get('p95'))} | {fmt_ms(r['actor_done'].get('median'))} | "
                         f"{fmt_ms(r['wake'].get('median'))} | {span(r['handling'])} | "
                         f"{r['all_tabs'].get('n', 0)} |")
        lines.append("")
    many = results.get("many")
    if many:
        lines += ["### Tabs opened at the same moment (`--max-tabs 3`, warm cache)", "",
                  "| runtime | tabs | all decided, median (min–max) | each tab, median | correct runs | peak active |",
                  "|---|---|---|---|---|---|"]
        for r in many.values():
            lines.append(f"| {r['runtime']} | {r['tabs']} | {span(r['all_decided'], 's', 0.001, 2)} | "
                         f"{span(r['median_decided'], 's', 0.001, 2).split(' (')[0]} | "
                         f"{r['correct']}/{r['reps']} | {r['peak_active']} |")
        lines.append("")
    memory = results.get("memory")
    if memory:
        js = memory.get("js", {}).get("own_process", {}).get("per_tab_mb", {})
        lines += ["### Memory per tab (renderer PSS before and after opening "
                  f"{results['counts']['memory_tabs']} tabs, divided by their number)", "",
                  "Own renderer: each tab a new page (a renderer process each). Shared renderer: the tabs"
                  " opened by one tab with `window.open`, so they live in its renderer process.", "",
                  "| page | own renderer, median (min–max) | own, net of a plain-JS tab |"
                  " shared renderer, median (min–max) | shared, private only | repetitions |",
                  "|---|---|---|---|---|---|"]
        for variant, r in memory.items():
            own = r["own_process"]["per_tab_mb"]
            net = f"{own['median'] - js['median']:.1f} MB" if own.get("n") and js.get("n") else "-"
            lines.append(f"| {r['what']} (`{variant}`) | {span(own, 'MB', 1, 1)} | {net} | "
                         f"{span(r['shared_process']['per_tab_mb'], 'MB', 1, 1)} | "
                         f"{span(r['shared_process']['private_per_tab_mb'], 'MB', 1, 1).split(' (')[0]} | "
                         f"{own.get('n', 0)} |")
        lines.append("")
    rows = targets(results)
    if rows:
        lines += ["### Targets (issue 8)", "", "| target | measured | met |", "|---|---|---|"]
        lines += [f"| {t} | {m} | {'–' if ok is None else 'yes' if ok else '**no**'} |" for t, m, ok in rows]
        lines.append("")
    m = results["machine"]
    loads = results["load"]
    lines += [f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB memory, Chromium "
              f"{m['chromium']}, Playwright {m['playwright']}, Python {m['python']}, {m['os']}. "
              f"1-minute load average {loads['start'][0]:.2f} at the start, {loads['end'][0]:.2f} at the end"
              f" (the machine is shared). Run took {results['seconds']:.0f} s"
              f"{' (--quick)' if results['quick'] else ''}."]
    return "\n".join(lines) + "\n"


def chart(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [k for k in ("decision", "reach", "many", "memory") if results.get(k)]
    columns = 2 if len(panels) > 2 else len(panels)
    rows = (len(panels) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(6.2 * columns, 4.6 * rows), squeeze=False)
    axes = axes.flatten()
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    for ax, panel in zip(axes, panels):
        data = results[panel]
        if panel == "decision":
            names = list(data)
            for offset, label, color in ((-0.2, "cold", "#4c72b0"), (0.2, "warm", "#dd8452")):
                med = [data[n][label].get("median", 0) for n in names]
                low = [m - data[n][label].get("min", m) for n, m in zip(names, med)]
                high = [data[n][label].get("max", m) - m for n, m in zip(names, med)]
                ax.bar([i + offset for i in range(len(names))], med, 0.4, yerr=[low, high],
                       capsize=3, label=label, color=color)
            ax.set_yscale("log")
            ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
            ax.set_ylabel("ms (log scale)")
            ax.set_title("Time to a decision\nmedian, min–max")
            ax.legend()
        elif panel == "reach":
            names = list(data)
            med = [data[n]["all_tabs"].get("median") or 0 for n in names]
            p95 = [data[n]["all_tabs"].get("p95") or 0 for n in names]
            ax.bar([i - 0.2 for i in range(len(names))], med, 0.4, label="median", color="#55a868")
            ax.bar([i + 0.2 for i in range(len(names))], p95, 0.4, label="p95", color="#c44e52")
            ax.axhline(50, color="gray", linestyle="--", linewidth=1, label="target 50 ms")
            ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
            ax.set_ylabel("ms")
            ax.set_title(f"Action reaching all {next(iter(data.values()))['tabs']} other tabs\n"
                         "(last tab to change, per repetition)")
            ax.legend(fontsize=8)
        elif panel == "many":
            for runtime, color in (("micropython", "#4c72b0"), ("pyodide", "#dd8452")):
                rows = [r for r in data.values() if r["runtime"] == runtime and r["all_decided"].get("n")]
                if not rows:
                    continue
                xs = [r["tabs"] for r in rows]
                med = [r["all_decided"]["median"] / 1000 for r in rows]
                low = [m - r["all_decided"]["min"] / 1000 for r, m in zip(rows, med)]
                high = [r["all_decided"]["max"] / 1000 - m for r, m in zip(rows, med)]
                ax.errorbar(xs, med, yerr=[low, high], marker="o", capsize=3, label=runtime, color=color)
            ax.set_xlabel("tabs opened at once")
            ax.set_ylabel("s until every tab decided")
            ax.set_title("Many tabs at once (--max-tabs 3)")
            ax.legend()
        elif panel == "memory":
            names = list(data)
            for offset, mode, label, color in ((-0.2, "own_process", "own renderer", "#8172b3"),
                                               (0.2, "shared_process", "shared renderer", "#937860")):
                stats = [data[n][mode]["per_tab_mb"] for n in names]
                med = [st.get("median", 0) for st in stats]
                low = [m - st.get("min", m) for st, m in zip(stats, med)]
                high = [st.get("max", m) - m for st, m in zip(stats, med)]
                ax.bar([i + offset for i in range(len(names))], med, 0.4, yerr=[low, high], capsize=3,
                       label=label, color=color)
            ax.axhline(15, color="gray", linestyle="--", linewidth=1, label="target 15 MB (MicroPython)")
            ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
            ax.set_ylabel("MB PSS per tab")
            ax.set_title("Memory per tab")
            ax.legend(fontsize=8)
    m = results["machine"]
    fig.suptitle(f"tabsession benchmark: {m['nproc']} CPUs, {m['memory_gib']} GiB, Chromium {m['chromium']}"
                 f"{' (quick run)' if results['quick'] else ''}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------------------- main


async def run(options, counts):
    from playwright.async_api import async_playwright

    started = time.monotonic()
    results = {"quick": options.quick, "counts": counts, "load": {"start": load_average()},
               "phases": {}}
    with tempfile.TemporaryDirectory(prefix="tabsession-bench-") as scratch:
        scratch = Path(scratch)
        servers = Servers(build_roots(scratch), scratch)
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                results["machine"] = machine(browser.version)
                bench = Bench(browser, servers, counts, options.runtimes)
                for phase in options.only:
                    log(f"bench: {phase} (load average {os.getloadavg()[0]:.2f})")
                    phase_started = time.monotonic()
                    results[phase] = await getattr(bench, phase)()
                    results["phases"][phase] = {"seconds": round(time.monotonic() - phase_started, 1),
                                                "load_after": load_average()}
                results["errors"] = bench.errors
                await browser.close()
        finally:
            servers.stop_all()
    results["load"]["end"] = load_average()
    results["seconds"] = time.monotonic() - started
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke run of every phase")
    parser.add_argument("--only", default=",".join(PHASES),
                        help=f"comma-separated phases to run (default: all of {','.join(PHASES)})")
    parser.add_argument("--report", metavar="JSON",
                        help="measure nothing: write results.md and chart.png again from a results.json")
    parser.add_argument("--out", help="folder for results.md, results.json and chart.png "
                                      "(default: docs/bench, or a temporary folder with --quick)")
    parser.add_argument("--runtimes", default=",".join(RUNTIMES),
                        help="comma-separated runtimes to measure (default: %(default)s); the"
                             " plain-JS check is always measured")
    parser.add_argument("--decision-reps", type=int, metavar="N",
                        help="repetitions of the decision phase (default: 10, or 2 with --quick)")
    options = parser.parse_args(argv)
    options.only = [p.strip() for p in options.only.split(",") if p.strip()]
    options.runtimes = [r.strip() for r in options.runtimes.split(",") if r.strip()]
    if set(options.runtimes) - set(RUNTIMES) or not options.runtimes:
        parser.error(f"--runtimes: choose from {','.join(RUNTIMES)}")
    unknown = set(options.only) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    if options.report:
        ensure_dependencies()
        source = Path(options.report)
        out = Path(options.out) if options.out else source.parent
        results = json.loads(source.read_text())
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.md").write_text(markdown(results))
        chart(results, out / "chart.png")
        print(markdown(results))
        return 0
    ensure_dependencies()
    out = Path(options.out) if options.out else (
        Path(tempfile.gettempdir()) / "tabsession-bench-quick" if options.quick else ROOT / "docs" / "bench")
    counts = dict(QUICK if options.quick else FULL)
    if options.decision_reps:
        counts["decision_reps"] = options.decision_reps
    results = asyncio.run(run(options, counts))
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(results)
    (out / "results.md").write_text(text)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    chart(results, out / "chart.png")
    print(text)
    if results["errors"]:
        print(f"{len(results['errors'])} page or console errors (first 5):", *results["errors"][:5], sep="\n  ")
    print(f"Wrote {out / 'results.md'}, results.json and chart.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
