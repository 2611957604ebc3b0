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
   - `app-mpy`, `app-pyodide`: the app's protected page `/`, signed in, the browser as the
     authority; `appsrv-mpy`, `appsrv-pyodide`: the same with the server as the authority
     (issue 13: the page claims its place with POST /api/places before it may be active; the
     bench records when each /api/ request was sent, when its answer's head and body arrived).
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
   - across two profiles (issue 13: two browser contexts signed in as the same user, N tabs
     each): a sign-out in one profile, with the browser and with the server as the authority
     (the profile's other tabs leave `active`; the other profile's must stay active), and,
     with the server as the authority, `--policy takeover --max-tabs 1`: Use here in a moved
     tab of one profile, until the tab it displaces in the other profile shows `moved`.
3. many: N tabs of one signed-in context navigated at the same moment (`--max-tabs 3`, block):
   time from the command to the last tab's decision, and whether the decisions were right
   (never more than 3 active at any instant; at the end exactly min(N, 3) active, the rest
   blocked).
4. memory: Pss from /proc/<pid>/smaps_rollup summed over this browser's renderer processes
   (`--type=renderer`), before and after opening N tabs, divided by N.
5. push (issue 13; MicroPython only): with the server as the authority each active tab holds one
   WebSocket at /api/push. One profile (`--max-tabs 60`, so every tab still claims its place
   with POST /api/places) with 10, then 50 tabs open and active: the WebSockets held (counted in
   each page by an init script, by Playwright's `websocket` events, and as the TCP connections
   established to the server's port), idle CPU and renderer memory; the time a NEW tab of the
   profile takes from navigation start to its decision with 0, 10 and 50 tabs open (do open push
   connections starve page loads? a browser allows six HTTP/1.1 connections per host), with
   Resource Timing's queueing of its requests; a sign-out in one tab reaching the others. The
   new-tab loads again with the browser as the authority and 0 and 50 tabs (no WebSocket): the
   cost of 50 open tabs apart from their connections.
6. cpu (issue 15: what limits the reach): 11 signed-in tabs; a second of them at rest, then the
   second after a sign-out in one of them, each traced by Chromium (bench/cpu.py): the
   renderers' main-thread CPU per tab by kind (script, which is where the pages' Python runs;
   rendering; the rest of each task), and every browser process's CPU from /proc.

Every serve.py the bench starts is given `--authority` (server or browser) explicitly: the
configurations are (kind, runtime, authority) in bench/roots.py's Servers.

It prints the tables and writes docs/bench/results.{md,json} and docs/bench/chart.png
(matplotlib: bench/requirements.txt, installed into the running venv when missing).
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Run as a script, Python puts this folder first on sys.path: put the folder that holds the
# package `bench` there instead, so that its modules are imported as bench.* and never shadow
# another top-level module of the same name.
if sys.path and Path(sys.path[0] or ".").resolve() == HERE:
    sys.path[0] = str(HERE.parent)
elif str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from bench.common import ACTIONS, BENCH, CHROMIUM, CHROMIUM_ARGS, ROOT, RUNTIMES, VARIANTS, log  # noqa: E402
from bench.machine import load_average, machine  # noqa: E402
from bench.phases import Bench  # noqa: E402
from bench.report import chart, markdown  # noqa: E402
from bench.roots import Servers, build_roots  # noqa: E402

FULL = {
    "decision_reps": 10,
    "reach_reps": {"micropython": 10, "pyodide": 3},
    "held_reps": {"micropython": 3, "pyodide": 1},  # the diagnoses
    "reach_tabs": 10,
    "profile_tabs": 5,  # reach across two profiles: tabs in each
    "many": {"micropython": [10, 25, 50], "pyodide": [10]},
    "many_reps": {"micropython": 3, "pyodide": 3},
    "memory_tabs": 10,
    "memory_reps": {"micropython": 2, "pyodide": 2, "js": 2},  # min and max were within 1%
    # push: tabs of one profile open (each count), repetitions per count (each opens them anew),
    # new-tab loads per repetition (three times as many with none open).
    "push": {"tabs": [10, 50], "reps": {10: 4, 50: 3}, "new_tab_loads": 2},
    "cpu_reps": {"micropython": 3, "pyodide": 2},
}
QUICK = {
    "decision_reps": 2,
    "reach_reps": {"micropython": 1, "pyodide": 1},
    "held_reps": {"micropython": 1, "pyodide": 1},
    "reach_tabs": 5,
    "profile_tabs": 2,
    "many": {"micropython": [5, 10], "pyodide": [3]},
    "many_reps": {"micropython": 1, "pyodide": 1},
    "memory_tabs": 3,
    "memory_reps": {"micropython": 1, "pyodide": 1, "js": 1},
    "push": {"tabs": [3, 5], "reps": {3: 1, 5: 1}, "new_tab_loads": 1},
    "cpu_reps": {"micropython": 1, "pyodide": 1},
}
PHASES = ("decision", "reach", "many", "memory", "push", "cpu")


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
                bench = Bench(browser, servers, counts, options.runtimes, options.variants, options.actions)
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


def choices(parser, option, text, allowed):
    """A comma-separated option as a list of names from `allowed`, or None when not given."""
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = set(names) - set(allowed)
    if unknown or not names:
        parser.error(f"{option}: choose from {','.join(allowed)}")
    return names


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke run of every phase")
    parser.add_argument("--only", default=",".join(PHASES),
                        help=f"comma-separated phases to run (default: all of {','.join(PHASES)})")
    parser.add_argument("--report", metavar="JSON",
                        help="measure nothing: write results.md and chart.png again from a results.json")
    parser.add_argument("--notes", metavar="MD", help="with --report: the reading of the run (markdown),"
                                                       " kept in results.json and put first in results.md")
    parser.add_argument("--out", help="folder for results.md, results.json and chart.png "
                                      "(default: docs/bench, or a temporary folder with --quick)")
    parser.add_argument("--runtimes", default=",".join(RUNTIMES),
                        help="comma-separated runtimes to measure (default: %(default)s); the"
                             " plain-JS check is always measured")
    parser.add_argument("--decision-reps", type=int, metavar="N",
                        help="repetitions of the decision phase (default: 10, or 2 with --quick)")
    parser.add_argument("--reach-reps", type=int, metavar="N",
                        help="repetitions of each reach action (default: 10 MicroPython, 3 Pyodide)")
    parser.add_argument("--variants", help="comma-separated pages of the decision and memory phases"
                                           f" (default: all; choose from {','.join(VARIANTS)})")
    parser.add_argument("--actions", help="comma-separated actions of the reach phase"
                                          f" (default: all; choose from {','.join(ACTIONS)})")
    options = parser.parse_args(argv)
    options.only = [p.strip() for p in options.only.split(",") if p.strip()]
    options.runtimes = [r.strip() for r in options.runtimes.split(",") if r.strip()]
    if set(options.runtimes) - set(RUNTIMES) or not options.runtimes:
        parser.error(f"--runtimes: choose from {','.join(RUNTIMES)}")
    unknown = set(options.only) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    options.variants = choices(parser, "--variants", options.variants, VARIANTS)
    options.actions = choices(parser, "--actions", options.actions, ACTIONS)
    if options.report:
        ensure_dependencies()
        source = Path(options.report)
        out = Path(options.out) if options.out else source.parent
        results = json.loads(source.read_text())
        out.mkdir(parents=True, exist_ok=True)
        if options.notes:
            results["notes"] = Path(options.notes).read_text()
            (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
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
    if options.reach_reps:
        counts["reach_reps"] = {runtime: options.reach_reps for runtime in RUNTIMES}
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
