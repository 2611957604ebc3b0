"""How long a take-over leaves one tab too many showing `active` (issue 16, rule 4 in docs/rules.md).

    .venv/bin/python bench/takeover_overlap.py [--takeovers 16] [--runtimes micropython pyodide]
                                               [--authorities server browser]
                                               [--kinds use-here new-tab] [--json FILE]

For each runtime and authority it starts its own `serve.py --max-tabs 3 --policy takeover` on
127.0.0.1 (tests/support/live_server.py), signs in one Chromium profile and opens tabs until four
are open and three active; then it takes over again and again, the least recently active tab
becoming `moved` each time. The first take-over is a fourth tab opened to `/`; each later one is,
by `--kinds`, a click on the `moved` tab's `#use-here` (`use-here`), or that tab closed and a
further tab opened to `/` (`new-tab`).

What is measured: every tab records each change of `data-tab-state` on `<html>` itself, in the
page, from a MutationObserver installed before any of the page's scripts (an init script), with
two clocks: `Date.now()` (the system's wall clock, shared by every renderer process, 1 ms steps)
and `performance.timeOrigin + performance.now()` (finer, but each process converts its own
monotonic clock to wall time, so tabs may disagree by a little). The observer's callback runs in
the same task as the change (a microtask), so a stamp is when the attribute changed, not when a
frame was painted. After the run the records of all four tabs are merged and swept in time order:
every stretch during which more than three tabs said `active` counts as an overlap, charged to
the take-over during which it began. Between two take-overs the bench waits until exactly three
tabs are `active` and one `moved` (read from the pages), then 300 ms more, so take-overs do not
run into one another. The run is bounded (a timeout per wait, and per server start).

It prints one line per take-over, then a Markdown table. It is a measurement, not a test: it
asserts nothing about times. Results: docs/bench/takeover/results.md.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT, ROOT / "tests" / "support"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import live_server  # noqa: E402
from bench.common import CHROMIUM, CHROMIUM_ARGS, SERVER_DEFAULTS, TIMEOUT_MS, USERNAME, log  # noqa: E402

MAX_TABS = 3
TABS = MAX_TABS + 1
USE_HERE = "use-here"  # the moved tab's #use-here takes over
NEW_TAB = "new-tab"  # the moved tab is closed and a further tab opened to / takes over
PAUSE_S = 0.3  # between two take-overs, once the tabs have settled
SETTLE_TIMEOUT_S = 15

# Installed in every page before its own scripts: record each data-tab-state of <html>, with
# both clocks. `document` is observed (subtree) because <html> may not exist yet when an init
# script runs; the served value ("booting") is read once the element exists.
RECORDER = """(() => {
  const records = [];
  window.__tabStates = records;
  const stamp = (state) => records.push([Date.now(), performance.timeOrigin + performance.now(), state]);
  let last = null;
  const look = () => {
    const root = document.documentElement;
    if (!root) return;
    const state = root.getAttribute("data-tab-state");
    if (state !== last) { last = state; stamp(state); }
  };
  new MutationObserver(look).observe(document, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["data-tab-state"] });
  look();
})();"""

STATE_OF = "() => document.documentElement.getAttribute('data-tab-state')"
RECORDS_OF = "() => window.__tabStates || []"
NOW_OF = "() => Date.now()"


def wait_state(page, state, timeout_ms):
    page.wait_for_function(
        "(state) => document.documentElement.getAttribute('data-tab-state') === state",
        arg=state, timeout=timeout_ms)


def states(pages):
    return [page.evaluate(STATE_OF) for page in pages]


def wait_settled(pages):
    """Until exactly MAX_TABS tabs are active and the other one moved; False on timeout."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        now = states(pages)
        if now.count("active") == MAX_TABS and now.count("moved") == 1:
            return True
        time.sleep(0.05)
    return False


def overlaps(timelines, starts, clock):
    """The stretches with more than MAX_TABS tabs active, per take-over.

    ``timelines``: per tab, [(wall ms, fine ms, state), ...] as each page recorded them;
    ``starts``: the wall-clock ms at which each take-over began (read in a page just before it);
    ``clock``: 0 to sweep by ``Date.now()``, 1 by ``performance.timeOrigin + now()``.
    Returns, per take-over, the list of (start, length ms) of its overlapping stretches.
    """
    changes = []
    for tab, timeline in enumerate(timelines):
        for record in timeline:
            changes.append((record[clock], record[0], tab, record[2]))
    changes.sort(key=lambda change: (change[0], change[2]))
    current = [None] * len(timelines)
    found = [[] for _ in starts]
    opened = None  # (time, wall time) when more than MAX_TABS became active
    index = 0
    while index < len(changes):
        moment = changes[index][0]
        # Changes stamped with the same time count as simultaneous (no overlap between them).
        while index < len(changes) and changes[index][0] == moment:
            _, wall, tab, state = changes[index]
            current[tab] = state
            index += 1
        active = current.count("active")
        if active > MAX_TABS and opened is None:
            opened = (moment, wall)
        elif active <= MAX_TABS and opened is not None:
            which = max([number for number, start in enumerate(starts) if start <= opened[1] + 50] or [0])
            found[which].append((opened[0], moment - opened[0]))
            opened = None
    if opened is not None:  # never settled back: charge it up to the last record
        found[-1].append((opened[0], changes[-1][0] - opened[0]))
    return found


def lead(timelines, starts, number):
    """Milliseconds (``Date.now()``) from the taker turning ``active`` to the displaced tab turning
    ``moved`` in take-over ``number``: above 0, that long with one tab too many; below 0, the
    displaced tab said ``moved`` first (a moment with one active tab too few). None if either
    change is missing from the records."""
    begin = starts[number]
    end = starts[number + 1] if number + 1 < len(starts) else float("inf")
    firsts = {}
    for timeline in timelines:
        for wall, _, state in timeline:
            if begin <= wall < end and state in ("active", "moved") and state not in firsts:
                firsts[state] = wall
            elif begin <= wall < end and state in firsts:
                firsts[state] = min(firsts[state], wall)
    if "active" not in firsts or "moved" not in firsts:
        return None
    return firsts["moved"] - firsts["active"]


def run_one(playwright, runtime, authority, takeovers, kind, logs):
    timeout_ms = TIMEOUT_MS[runtime]
    server = live_server.LiveServer("--runtime", runtime, "--authority", authority,
                                    "--max-tabs", MAX_TABS, "--policy", "takeover", *SERVER_DEFAULTS,
                                    logs_in=logs, start_timeout_s=30).start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        context = browser.new_context()
        context.add_init_script(script=RECORDER)
        pages = []
        first = context.new_page()
        first.goto(server("/login"))
        wait_state(first, "signed-out", timeout_ms)
        first.fill("#login-form input[name=username]", USERNAME)
        first.click("#login-form button[type=submit]")
        wait_state(first, "active", timeout_ms)
        pages.append(first)
        for _ in range(MAX_TABS - 1):
            page = context.new_page()
            page.goto(server("/"))
            wait_state(page, "active", timeout_ms)
            pages.append(page)
        time.sleep(PAUSE_S)
        starts = []
        settled = []
        closed = []  # the records of tabs closed along the way (kind "new-tab")
        for number in range(takeovers):
            if number > 0 and kind == NEW_TAB:
                # The moved tab goes (it holds no place), and a further tab opens in its stead.
                gone = next(page for page in pages if page.evaluate(STATE_OF) == "moved")
                closed.append(gone.evaluate(RECORDS_OF))
                pages.remove(gone)
                gone.close()
            if number == 0 or kind == NEW_TAB:
                taker = context.new_page()
                starts.append(pages[0].evaluate(NOW_OF))
                taker.goto(server("/"))
                pages.append(taker)
            else:
                taker = next(page for page in pages if page.evaluate(STATE_OF) == "moved")
                starts.append(taker.evaluate(NOW_OF))
                taker.click("#use-here")
            wait_state(taker, "active", timeout_ms)
            settled.append(wait_settled(pages))
            time.sleep(PAUSE_S)
        timelines = closed + [page.evaluate(RECORDS_OF) for page in pages]
        context.close()
    finally:
        browser.close()
        server.stop()
    by_wall = overlaps(timelines, starts, 0)
    by_fine = overlaps(timelines, starts, 1)
    rows = []
    for number in range(takeovers):
        wall = sum(length for _, length in by_wall[number])
        fine = sum(length for _, length in by_fine[number])
        rows.append({"takeover": number + 1, "settled": settled[number],
                     "overlap_ms_wall": wall, "overlap_ms_fine": round(fine, 2),
                     "stretches_wall": len(by_wall[number]), "stretches_fine": len(by_fine[number]),
                     "moved_after_active_ms": lead(timelines, starts, number)})
        log(f"{runtime:11} {authority:7} {kind:8} take-over {number + 1:2}: overlap {wall:4} ms (Date.now), "
            f"{fine:7.2f} ms (performance), moved - active {rows[-1]['moved_after_active_ms']} ms, "
            f"settled={settled[number]}")
    return {"runtime": runtime, "authority": authority, "kind": kind, "max_tabs": MAX_TABS, "rows": rows,
            "timelines": timelines, "starts": starts}


def summary(result):
    rows = result["rows"]
    out = {"runtime": result["runtime"], "authority": result["authority"], "kind": result["kind"],
           "takeovers": len(rows),
           "unsettled": sum(1 for row in rows if not row["settled"])}
    leads = [row["moved_after_active_ms"] for row in rows if row["moved_after_active_ms"] is not None]
    out["moved_after_active_ms"] = {"min": min(leads) if leads else None,
                                    "median": statistics.median(leads) if leads else None,
                                    "max": max(leads) if leads else None}
    for clock in ("wall", "fine"):
        lengths = [row["overlap_ms_" + clock] for row in rows]
        over = [length for length in lengths if length > 0]
        out[clock] = {"with_overlap": len(over), "max_ms": max(lengths) if lengths else 0,
                      "median_of_overlaps_ms": statistics.median(over) if over else 0,
                      "lengths": lengths}
    return out


def table(summaries):
    lines = ["| runtime | authority | taker | take-overs | with more than 3 active (Date.now) | longest | "
             "median of those | with more than 3 active (performance.now) | longest | median of those | "
             "moved minus active: min / median / max |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for item in summaries:
        wall, fine, lead = item["wall"], item["fine"], item["moved_after_active_ms"]
        lines.append(f"| {item['runtime']} | {item['authority']} | {item['kind']} | {item['takeovers']} | "
                     f"{wall['with_overlap']} | {wall['max_ms']} ms | {wall['median_of_overlaps_ms']} ms | "
                     f"{fine['with_overlap']} | {fine['max_ms']:.1f} ms | {fine['median_of_overlaps_ms']:.1f} ms | "
                     f"{lead['min']} / {lead['median']} / {lead['max']} ms |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--takeovers", type=int, default=16)
    parser.add_argument("--runtimes", nargs="+", default=["micropython", "pyodide"],
                        choices=["micropython", "pyodide"])
    parser.add_argument("--authorities", nargs="+", default=["server", "browser"], choices=["server", "browser"])
    parser.add_argument("--kinds", nargs="+", default=[USE_HERE, NEW_TAB], choices=[USE_HERE, NEW_TAB],
                        help="how each take-over after the first is made")
    parser.add_argument("--json", type=Path)
    arguments = parser.parse_args()
    from playwright.sync_api import sync_playwright

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-takeover-") as logs, sync_playwright() as playwright:
        for runtime in arguments.runtimes:
            for authority in arguments.authorities:
                for kind in arguments.kinds:
                    results.append(run_one(playwright, runtime, authority, arguments.takeovers, kind, logs))
    summaries = [summary(result) for result in results]
    print(table(summaries))
    if arguments.json:
        arguments.json.parent.mkdir(parents=True, exist_ok=True)
        arguments.json.write_text(json.dumps({"summaries": summaries, "runs": results}, indent=1))


if __name__ == "__main__":
    main()
