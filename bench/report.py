"""The report: results.md's tables and targets (issue 8), and chart.png."""

import statistics

from bench.common import ACTIONS, SIGNED_IN
from bench.traces import fmt_ms


def span(summary, unit="ms", scale=1.0, digits=0):
    if not summary or summary.get("n", 0) == 0:
        return "-"
    f = lambda v: f"{v * scale:.{digits}f}"
    unit = f" {unit}" if unit else ""
    return f"{f(summary['median'])}{unit} ({f(summary['min'])}–{f(summary['max'])})"


def targets(results):
    """[(target, measured, verdict)] for the targets of issue 8, from ratios within this run."""
    rows = []
    decision = results.get("decision")
    if decision:
        for label, limit in (("warm", 3), ("cold", 7)):
            app, js = decision.get("app-mpy", {}).get(label, {}), decision.get("js", {}).get(label, {})
            if app.get("n") and js.get("n"):
                ratio = app["median"] / js["median"]
                rows.append((f"MicroPython decision, {label}: at most {limit}x the plain-JS check",
                             f"{ratio:.1f}x ({app['median']:.0f} / {js['median']:.0f} ms)", ratio <= limit))
        for label in ("warm", "cold"):  # MicroPython without PyScript: what no page can beat
            app, floor = decision.get("app-mpy", {}).get(label, {}), decision.get("floor-mpy", {}).get(label, {})
            js = decision.get("js", {}).get(label, {})
            if app.get("n") and floor.get("n") and js.get("n"):
                rows.append((f"(reference, no target) MicroPython without PyScript (the floor), {label},"
                             f" against the plain-JS check; tabsession over the floor",
                             f"{floor['median'] / js['median']:.1f}x ({floor['median']:.0f} ms);"
                             f" tabsession {app['median'] / floor['median']:.1f}x the floor", None))
        for label in ("warm",):  # issue 15: the library's own share of a MicroPython start
            app, bare = decision.get("app-mpy", {}).get(label, {}), decision.get("bare-mpy", {}).get(label, {})
            if app.get("n") and bare.get("n"):
                extra = app["median"] / bare["median"] - 1
                rows.append((f"MicroPython decision, {label}: at most +15% over bare PyScript + MicroPython",
                             f"{extra * 100:+.0f}% ({app['median']:.0f} / {bare['median']:.0f} ms)",
                             extra <= 0.15))
        for label in ("warm", "cold"):  # what PyScript alone gives: explains the ratios above
            bare, js = decision.get("bare-mpy", {}).get(label, {}), decision.get("js", {}).get(label, {})
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
    rows += authority_targets(results)
    reach = results.get("reach")
    if reach:
        for key, result in reach.items():
            action, runtime = key.split("-")
            if action not in ("signout", "takeover"):
                continue  # diagnoses and issue 13's actions (authority_targets)
            p95 = result["all_tabs"].get("p95")
            n = result["all_tabs"].get("n", 0)
            rows.append((f"{'Sign-out' if action == 'signout' else 'Take-over'} ({runtime}) reaches all"
                         f" {result['tabs']} tabs: p95 under 50 ms",
                         "-" if p95 is None else f"p95 {p95:.0f} ms, median {result['all_tabs']['median']:.0f} ms"
                         f" (n={n}; per tab p95 {result['per_tab']['p95']:.0f} ms)",
                         p95 is not None and p95 < 50))
            form = result.get("form_all_tabs", {})
            if action == "signout" and form.get("n"):
                rows.append((f"Sign-out ({runtime}): the sign-in form usable in every one of"
                             f" {result['tabs']} tabs under {FORM_USABLE_MS} ms (p95)",
                             f"p95 {form['p95']:.0f} ms, median {form['median']:.0f} ms"
                             f" (n={form['n']}); after each tab's state change: median"
                             f" {fmt_ms(result.get('form_after_state', {}).get('median'))}, max"
                             f" {fmt_ms(result.get('form_after_state', {}).get('max'))}; documents loaded per tab"
                             f" {result['documents_per_tab']['median']:g} (max {result['documents_per_tab']['max']:g})",
                             form["p95"] < FORM_USABLE_MS))
    rows += reach_limit_rows(reach or {})
    rows += cpu_limit_rows(results.get("cpu") or {})
    for key, result in (reach or {}).items():
        action, runtime = key.split("-")
        if action == "journey":
            browser = result["authorities"].get("browser", {}).get("sign_in_active", {})
            server = result["authorities"].get("server", {}).get("sign_in_active", {})
            if browser.get("n"):
                rows.append((f"Sign-in click to `active` ({runtime}), no second boot: under"
                             f" {SIGN_IN_MS} ms (browser authority; the server's adds its answer)",
                             f"median {browser['median']:.0f} ms, max {browser['max']:.0f} ms; server"
                             f" authority median {fmt_ms(server.get('median'))}",
                             browser["max"] < SIGN_IN_MS))
    for key, result in (reach or {}).items():
        action, runtime = key.split("-")
        if action == "journey" and result["documents"].get("n"):
            documents = result["documents"]
            rows.append((f"One document per tab from its first page through sign-in, sign-out and sign-in"
                         f" again ({runtime}, browser and server authority)",
                         f"{documents['median']:g} (max {documents['max']:g}; n={documents['n']})",
                         documents["max"] == 1))
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
    rows += push_targets(results)
    early = painted_early_counts(results)
    if early["loads"]:
        rows.append(("No protected content painted before the decision (#app rendered on a frame while"
                     " the tab was not active)",
                     f"{early['painted']} of {early['loads']} page loads (decision: the app's pages signed in;"
                     " many: every tab of every run)", early["painted"] == 0))
    return rows


# Issue 15: a sign-out leaves every tab's sign-in form usable within this (p95); a sign-in
# click makes the tab active within this, without a second boot.
FORM_USABLE_MS = 100
SIGN_IN_MS = 30


def reach_limit_rows(reach):
    """What limits a sign-out's reach: the same action reaching 1, 5 and 10 tabs. Time that grows
    by a steady amount per tab is the tabs' handling queued on the machine's cores."""
    rows = []
    for runtime in ("mpy", "pyodide"):
        points = [(r["tabs"], r["all_tabs"]["median"]) for r in
                  (reach.get(f"{action}-{runtime}") for action in ("signout_one", "signout_five", "signout"))
                  if r and r.get("all_tabs", {}).get("n")]
        if len(points) < 2:
            continue
        (few, first), (many, last) = points[0], points[-1]
        rows.append((f"(reference, no target) Sign-out ({runtime}): what limits the reach; the last tab"
                     f" reached, median, against the number of tabs",
                     "; ".join(f"{tabs} tab{'s' if tabs > 1 else ''} {ms:.0f} ms" for tabs, ms in points)
                     + f": each further tab adds {(last - first) / (many - few):.1f} ms", None))
    return rows


def cpu_limit_rows(cpu):
    """Where a sign-out's CPU goes (the cpu phase), as reference rows beside the reach targets."""
    rows = []
    for key, r in cpu.items():
        runtime = key.split("-")[1]
        if not r.get("last", {}).get("n"):
            continue
        rows.append((f"(reference, no target) Sign-out ({runtime}) reaching {r['tabs']} tabs: the CPU"
                     f" it costs each tab, median, in the second after the click",
                     f"script {r['signout_script']['median']:.1f} ms (the Python runs there; at rest"
                     f" {r['rest_script']['median']:.1f}), rendering {r['signout_rendering']['median']:.1f} ms,"
                     f" the rest of the tasks {r['signout_other']['median']:.1f} ms; every renderer"
                     f" {r['signout_renderers']['median'] * (r['tabs'] + 1):.0f} ms and the browser process"
                     f" {r['signout_browser']['median']:.0f} ms on {r['cores']} cores; last tab reached"
                     f" {r['last']['median']:.0f} ms", None))
    return rows


def cpu_lines(cpu):
    """The cpu phase's table: per tab, the renderer's main-thread CPU by kind of work."""
    if not cpu:
        return []
    lines = ["### Where the CPU goes while a sign-out reaches the tabs", "",
             "11 signed-in tabs (one renderer each), a second at rest, then the second after a"
             " sign-out clicked in one of them. Per tab: the renderer main thread's CPU (Chromium's"
             " trace, thread time) by kind: script (timers, promise callbacks, event listeners: where"
             " a page's Python runs), rendering (style, layout, paint, compositing no script forced),"
             " the rest of the tasks (IPC, scheduling); script entries: how many times a task"
             " called into JavaScript. Renderer process: all its threads, from /proc. Browser"
             " process and others (GPU, network, storage): in all, not per tab. Median (min–max) of"
             " the repetitions.", "",
             "| runtime | second | script, per tab | script entries, per tab | rendering, per tab |"
             " rest of the tasks, per tab | renderer process, per tab | browser process | other processes |"
             " last tab reached | repetitions |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for key, r in cpu.items():
        runtime = key.split("-")[1]
        for name, label in (("rest", "at rest"), ("signout", "after the click")):
            lines.append(f"| {runtime} | {label} | {span(r[f'{name}_script'], digits=1)} |"
                         f" {span(r[f'{name}_script_entries'], unit='', digits=1)} |"
                         f" {span(r[f'{name}_rendering'], digits=1)} | {span(r[f'{name}_other'], digits=1)} |"
                         f" {span(r[f'{name}_renderers'], digits=1)} | {span(r[f'{name}_browser'])} |"
                         f" {span(r[f'{name}_others'])} |"
                         f" {span(r['last']) if name == 'signout' else '-'} | {r['last'].get('n', 0)} |")
    lines.append("")
    return lines


# Issue 13: the server as the authority may cost at most this much over the browser's own
# decision (warm, loopback), and an action must reach the tabs of two profiles within REACH_P95_MS.
SERVER_EXTRA_MS = 15
REACH_P95_MS = 100


def authority_targets(results):
    """[(target, measured, verdict)] for issue 13: the server's cost to a decision, and reach
    across two profiles."""
    rows = []
    decision = results.get("decision") or {}
    for runtime in ("mpy", "pyodide"):
        for label in ("warm", "cold"):
            server = decision.get(f"appsrv-{runtime}", {}).get(label, {})
            browser = decision.get(f"app-{runtime}", {}).get(label, {})
            if server.get("n") and browser.get("n"):
                extra = server["median"] - browser["median"]
                rows.append((f"{RUNTIME_NAMES[runtime]} decision, {label}: the server authority at most"
                             f" +{SERVER_EXTRA_MS} ms over the browser authority" + (
                                 "" if label == "warm" else " (reference: the target is warm)"),
                             f"{extra:+.0f} ms ({server['median']:.0f} / {browser['median']:.0f} ms)",
                             extra <= SERVER_EXTRA_MS if label == "warm" else None))
    for key, result in (results.get("reach") or {}).items():
        action, runtime = key.split("-")
        if "2p" not in action:
            continue
        measured = result["displaced"] if action.startswith("takeover") else result["all_tabs"]
        what = ("the displaced tab in the other profile shows `moved`" if action.startswith("takeover")
                else f"all {result['tabs']} other tabs of the profile leave `active`")
        kept = ""
        if "other_profile_active" in result["samples"]:
            kept = (f"; the other profile's tabs still active: {sum(result['samples']['other_profile_active'])}"
                    f" of {result['other_profile_tabs'] * len(result['samples']['other_profile_active'])}")
        p95 = measured.get("p95")
        rows.append((f"{ACTIONS[action]} ({runtime}): {what}, p95 under {REACH_P95_MS} ms",
                     "-" if p95 is None else f"p95 {p95:.0f} ms, median {measured['median']:.0f} ms"
                     f" (n={measured['n']}){kept}", p95 is not None and p95 < REACH_P95_MS))
    return rows


RUNTIME_NAMES = {"mpy": "MicroPython", "pyodide": "Pyodide"}


def push_targets(results):
    """[(target, measured, verdict)] for issue 13's push connections: one WebSocket per active tab,
    and (for reference) what open tabs cost a new tab's load, and a sign-out's reach."""
    rows = []
    push = results.get("push") or {}
    server = {r["tabs"]: r for r in push.values() if r["authority"] == "server"}
    browser = {r["tabs"]: r for r in push.values() if r["authority"] == "browser"}
    held = [(count, h) for count, r in sorted(server.items()) for h in r["held"]]
    if held:
        right = all(h["active"] == h["tabs"] == h["page_open"] == h["playwright_open"] and h["page_max_open"] == 1
                    for _, h in held)
        rows.append(("Server authority: every tab of one profile active, each holding one WebSocket (issue 13:"
                     " one per tab, 10 and 50 tabs)",
                     "; ".join(f"{count} tabs: {h['active']} active, {h['page_open']} WebSockets open"
                               f" (Playwright {h['playwright_open']}, most in one page {h['page_max_open']}),"
                               f" server holds {h['server_connections']} TCP connections"
                               for count, h in held[:1] + [x for i, x in enumerate(held) if i and x[0] != held[i - 1][0]]),
                     right))
    for authority, by_count in (("server", server), ("browser", browser)):
        base = by_count.get(0, {}).get("new_tab_summary", {})
        for count, r in sorted(by_count.items()):
            now = r.get("new_tab_summary", {})
            if count and base.get("n") and now.get("n"):
                rows.append((f"(reference, no target) a new tab's decision with {count} tabs of its profile open,"
                             f" against none, {authority} authority",
                             f"{now['median'] - base['median']:+.0f} ms ({now['median']:.0f} /"
                             f" {base['median']:.0f} ms, medians)", None))
    for count, r in sorted(server.items()):
        reach = r.get("reach")
        if reach and reach["all_tabs"].get("n"):
            rows.append((f"(reference, no target) push: a sign-out reaching the {reach['tabs']} other tabs of"
                         f" {count} (one profile); issue 13's 100 ms is for 10 tabs across two profiles",
                         f"last tab p95 {reach['all_tabs']['p95']:.0f} ms, median {reach['all_tabs']['median']:.0f}"
                         f" ms (n={reach['all_tabs']['n']}); each tab p95 {reach['per_tab']['p95']:.0f} ms",
                         None))
    return rows


def idle_requests(held):
    """The /api/ requests idle tabs sent per second (3 s window), by request, over repetitions."""
    if not all("idle_api" in h for h in held):
        return "-"  # measured since this column was added
    names = sorted({name for h in held for name in h["idle_api"]})
    if not names:
        return "0"
    return "; ".join(f"{name} {min(h['idle_api'].get(name, 0) for h in held) / 3:.0f}"
                     + (f"–{max(h['idle_api'].get(name, 0) for h in held) / 3:.0f}"
                        if len({h['idle_api'].get(name, 0) for h in held}) > 1 else "") for name in names)


def push_lines(push):
    """results.md's section for the push phase."""
    if not push:
        return []
    runs = list(push.values())
    lines = ["### Push connections (one profile, `--max-tabs 60`, MicroPython)", "",
             "With the server as the authority each active tab holds one WebSocket at `/api/push`. One"
             " browser context (a profile) signed in, its tabs opened at once and left to settle. WebSockets"
             " open: counted in each page (an init script wrapping `WebSocket`) and by Playwright's"
             " `websocket` events; the server's TCP connections: those established to its port, counted on"
             " its side (/proc/net/tcp; WebSockets and the browser's kept-alive HTTP connections). Idle CPU:"
             " every process the bench started, over 3 s with nothing happening, and the /api/ requests the"
             " tabs sent meanwhile. Renderer Pss: added per"
             " tab, each tab in its own renderer process. Per repetition: min–max over repetitions.", "",
             "| authority | tabs open | active | WebSockets open, pages / Playwright | most in one page |"
             " server's TCP connections | idle CPU, cores | /api/ requests while idle, per second |"
             " renderer Pss per tab | repetitions |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    rng = lambda values, fmt="{:.0f}": (fmt.format(min(values)) if min(values) == max(values)
                                       else f"{fmt.format(min(values))}–{fmt.format(max(values))}")
    for r in runs:
        held = r["held"]
        if not held:
            continue
        lines.append(f"| {r['authority']} | {r['tabs']} | {rng([h['active'] for h in held])} |"
                     f" {rng([h['page_open'] for h in held])} / {rng([h['playwright_open'] for h in held])} |"
                     f" {rng([h['page_max_open'] for h in held])} | {rng([h['server_connections'] for h in held])} |"
                     f" {rng([h['idle_cpu'] for h in held], '{:.2f}')} |"
                     f" {idle_requests(held)} |"
                     f" {rng([h['pss_per_tab_mb'] for h in held], '{:.1f}')} MB | {len(held)} |")
    lines += ["", "A new tab of the same profile opened beside them: navigation start to `data-tab-state`"
              " leaving `booting` (as the decision phase, warm cache). POST /api/places: from its sending to"
              " its answer's body read. Waited for a connection: Resource Timing's `requestStart -"
              " startTime` of the page's requests that went to the network (queueing and connecting), the"
              " longest in each load. The open tabs' /api/ requests: those the tabs already open sent"
              " between the new tab's navigation start and its decision (they share the new tab's"
              " connections to the server).", "",
              "| authority | tabs already open | new tab decides, median (min–max) | p95 | decided |"
              " POST /api/places, median (max) | waited for a connection, median (max) |"
              " the open tabs' /api/ requests meanwhile, median (max) | loads |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        states = [str(s) for s in r["new_tab_states"]]
        decided = ", ".join(f"{state} ×{states.count(state)}" for state in sorted(set(states)))
        post, queued = r["new_tab_post"], r["new_tab_queued_max"]
        asked = r.get("others_api") or []
        others = f"{statistics.median(asked):.0f} ({max(asked)})" if asked else "-"
        lines.append(f"| {r['authority']} | {r['tabs']} | {span(r['new_tab_summary'])} |"
                     f" {fmt_ms(r['new_tab_summary'].get('p95'))} | {decided} |"
                     f" {fmt_ms(post.get('median'))} ({fmt_ms(post.get('max'))}) |"
                     f" {fmt_ms(queued.get('median'))} ({fmt_ms(queued.get('max'))}) |"
                     f" {others} | {r['new_tab_summary'].get('n', 0)} |")
    reach = [r for r in runs if r.get("reach")]
    if reach:
        lines += ["", "A sign-out (#logout) in one of the tabs: click to each other tab leaving `active`"
                  " (as the reach phase measures it).", "",
                  "| tabs open | tabs reached | last of the tabs, median (min–max) | last, p95 | each tab, median |"
                  " each tab, p95 | acting tab done, median | wake-up, median | handling, median (min–max) |"
                  " repetitions |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in reach:
            x = r["reach"]
            lines.append(f"| {r['tabs']} | {x['tabs']} | {span(x['all_tabs'])} | {fmt_ms(x['all_tabs'].get('p95'))} |"
                         f" {fmt_ms(x['per_tab'].get('median'))} | {fmt_ms(x['per_tab'].get('p95'))} |"
                         f" {fmt_ms(x['actor_done'].get('median'))} | {fmt_ms(x['wake'].get('median'))} |"
                         f" {span(x['handling'])} | {x['all_tabs'].get('n', 0)} |")
    return [*lines, ""]


def journey_lines(reach):
    """The table of the reach phase's "journey": one tab's documents from its first page through
    sign-in, sign-out and sign-in again, and how long each step took."""
    rows = []
    for key, r in reach.items():
        action, runtime = key.split("-")
        if action != "journey":
            continue
        for authority, a in r["authorities"].items():
            documents = a["documents"]
            loads = sorted({" → ".join(run["loads"]) for run in a["runs"]})
            rows.append(f"| {runtime} | {authority} | "
                        + (f"{documents['median']:g} (max {documents['max']:g})" if documents.get("n") else "-")
                        + f" | {span(a['first_form'])} | {span(a['sign_in_active'])} | {span(a['sign_out_form'])} |"
                        f" {span(a['sign_in_again_active'])} | {documents.get('n', 0)} | {'; '.join(loads)} |")
    if not rows:
        return []
    return ["### Documents per tab (first page → sign-in → sign-out → sign-in)", "",
            "One tab of a new profile opens `/` signed out, signs in, signs out and signs in again (target:"
            " one document). Form usable: navigation start to its sign-in form usable; signed in: the"
            " submit click to `active`; sign-out: the click on #logout to the form usable again; median"
            " (min–max). Documents: the navigation type and path of each document the tab loaded.", "",
            "| runtime | authority | documents per tab | form usable, first page | signed in |"
            " sign-out to form usable | signed in again | repetitions | documents loaded |",
            "|---|---|---|---|---|---|---|---|---|", *rows, ""]


def api_step_lines(decision):
    """The server authority's steps to a decision (TRACE_JS's "api" entries), against the same
    page with the browser as the authority: median ms since navigation start, cold / warm."""
    lines = []
    for variant, r in decision.items():
        steps = r.get("api_steps")
        if not steps:
            continue
        both = lambda name: " / ".join(fmt_ms(steps.get(label, {}).get(name)) for label in ("cold", "warm"))
        gap = lambda start, end: " / ".join(fmt_ms(
            steps[label][end] - steps[label][start]
            if start in steps.get(label, {}) and end in steps.get(label, {}) else None)
            for label in ("cold", "warm"))
        parts = [f"Python starts {both('python_ready')}"]
        after = "python_ready"
        for step, request in (("places_get", "GET /api/places"), ("places_post", "POST /api/places")):
            if not any(f"{step}_sent" in steps.get(label, {}) for label in ("cold", "warm")):
                continue  # the page did not send it (the decision asks with the POST only)
            parts.append(f"{request} sent {both(step + '_sent')} ({gap(after, step + '_sent')} after"
                         f" {'Python started' if after == 'python_ready' else 'the previous answer'}),"
                         f" taking {gap(step + '_sent', step + '_answered')} (head"
                         f" {gap(step + '_sent', step + '_head')}, head to body"
                         f" {gap(step + '_head', step + '_answered')})")
            after = step + "_answered"
        parts.append(f"decided {both('decided')} ({gap(after, 'decided')} after"
                     f" {'Python started' if after == 'python_ready' else 'the last answer'})")
        lines.append(f"- `{variant}`: " + "; ".join(parts))
        browser = decision.get(variant.replace("appsrv-", "app-", 1), {})
        if variant.startswith("appsrv-") and browser.get("cold", {}).get("n"):
            ready = {label: browser.get(label + "_ready", {}).get("median") for label in ("cold", "warm")}
            decided = {label: browser[label].get("median") for label in ("cold", "warm")}
            lines.append(f"  - the same page, browser authority (`{browser_name(variant)}`): Python starts"
                         f" {' / '.join(fmt_ms(ready[label]) for label in ('cold', 'warm'))}; decided"
                         f" {' / '.join(fmt_ms(decided[label]) for label in ('cold', 'warm'))} ("
                         + " / ".join(fmt_ms(decided[label] - ready[label] if ready[label] is not None
                                             and decided[label] is not None else None)
                                      for label in ("cold", "warm")) + " after Python started)")
    if not lines:
        return []
    return ["### The server authority's steps to a decision", "",
            "Median ms since navigation start, cold / warm, from the page's own `fetch` calls (a request"
            " is answered when its body has been read; durations are differences of the medians). The"
            " browser authority decides without these requests.", "", *lines, ""]


def browser_name(variant):
    return variant.replace("appsrv-", "app-", 1)


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
    if results.get("notes"):  # the reading of this run, written after it (run.py --report --notes)
        lines += [results["notes"].strip(), ""]
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
    lines += api_step_lines(decision or {})
    snapshot = (decision or {}).get("snap-pyodide", {}).get("snapshot")
    if snapshot:
        lines += snapshot_lines(snapshot, decision["snap-pyodide"]["samples"].get("boots", []),
                                {v: r["marks"] for v, r in decision.items() if r.get("marks")})
    reach = results.get("reach")
    if reach and any(key.split("-")[0] != "journey" for key in reach):
        lines += ["### One action reaching other tabs (click in the acting tab to the change in each)", "",
                  "Per repetition the last of the tabs to change; each tab: every tab of every repetition."
                  " Wake-up: the first BroadcastChannel message, storage event or server push a tab received"
                  " after the click; handling: from that wake-up to the tab's change (min–max over tabs)."
                  " Two profiles: two browser contexts signed in as the same user (sign-out: the acting"
                  " profile's tabs are reached, the other profile's must stay active; take-over: the"
                  " displaced tab is in the other profile, and the acting profile's other tabs are reached"
                  " too).", "",
                  "Sign-out only: form usable, from the click until the tab's sign-in form is usable"
                  " (`#login-form` rendered and its submit button enabled), the last of the tabs per"
                  " repetition; documents: the documents each reached tab loaded from the click until then"
                  " (0 when the tab moves to the sign-in page in place), median (max).", "",
                  "| action | runtime | tabs reached | last of the tabs, median (min–max) | last, p95 | each tab, median |"
                  " each tab, p95 | acting tab done, median | wake-up, median | handling, median (min–max) |"
                  " repetitions | form usable, last of the tabs, median | form usable, last, p95 |"
                  " documents per tab, median (max) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for key, r in reach.items():
            action, runtime = key.split("-")
            if action == "journey":
                continue  # its own table, below
            name = ACTIONS[action]
            p = r["per_tab"]
            form = r.get("form_all_tabs", {})
            documents = r.get("documents_per_tab", {})
            lines.append(f"| {name} | {runtime} | {r['tabs']} | {span(r['all_tabs'])} | "
                         f"{fmt_ms(r['all_tabs'].get('p95'))} | {fmt_ms(p.get('median'))} | "
                         f"{fmt_ms(p.get('p95'))} | {fmt_ms(r['actor_done'].get('median'))} | "
                         f"{fmt_ms(r['wake'].get('median'))} | {span(r['handling'])} | "
                         f"{r['all_tabs'].get('n', 0)} | {fmt_ms(form.get('median'))} | "
                         f"{fmt_ms(form.get('p95'))} | "
                         + (f"{documents['median']:g} ({documents['max']:g})" if documents.get("n") else "-")
                         + " |")
        lines.append("")
    lines += journey_lines(reach or {})
    lines += cpu_lines(results.get("cpu") or {})
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
    lines += push_lines(results.get("push"))
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
        lines += ["### Targets (issues 8, 13 and 15)", "", "| target | measured | met |", "|---|---|---|"]
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

    panels = [k for k in ("decision", "reach", "many", "memory", "push") if results.get(k)]
    if not panels:
        return
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
            names = [n for n in data if "all_tabs" in data[n]]  # not the journey
            med = [data[n]["all_tabs"].get("median") or 0 for n in names]
            p95 = [data[n]["all_tabs"].get("p95") or 0 for n in names]
            ax.bar([i - 0.2 for i in range(len(names))], med, 0.4, label="median", color="#55a868")
            ax.bar([i + 0.2 for i in range(len(names))], p95, 0.4, label="p95", color="#c44e52")
            ax.axhline(50, color="gray", linestyle="--", linewidth=1, label="target 50 ms (issue 8)")
            if any("2p" in name for name in names):
                ax.axhline(REACH_P95_MS, color="gray", linestyle=":", linewidth=1,
                           label=f"target {REACH_P95_MS} ms (two profiles, issue 13)")
            ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
            ax.set_ylabel("ms")
            ax.set_title("Action reaching the other tabs\n"
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
        elif panel == "push":
            for authority, color in (("server", "#4c72b0"), ("browser", "#dd8452")):
                rows = sorted((r for r in data.values() if r["authority"] == authority
                               and r["new_tab_summary"].get("n")), key=lambda r: r["tabs"])
                if not rows:
                    continue
                xs = [r["tabs"] for r in rows]
                med = [r["new_tab_summary"]["median"] for r in rows]
                low = [m - r["new_tab_summary"]["min"] for r, m in zip(rows, med)]
                high = [r["new_tab_summary"]["max"] - m for r, m in zip(rows, med)]
                ax.errorbar(xs, med, yerr=[low, high], marker="o", capsize=3, color=color,
                            label=f"new tab decides, {authority} authority")
            reach = sorted((r for r in data.values() if r.get("reach")), key=lambda r: r["tabs"])
            if reach:
                ax.plot([r["tabs"] for r in reach], [r["reach"]["all_tabs"].get("p95") or 0 for r in reach],
                        marker="s", linestyle=":", color="#c44e52", label="sign-out reaching the others, p95")
            ax.set_xlabel("tabs of the profile already open")
            ax.set_ylabel("ms")
            ax.set_title("Push connections (one profile, server authority)\nnew tab's decision, median min–max")
            ax.legend(fontsize=8)
    m = results["machine"]
    fig.suptitle(f"tabsession benchmark: {m['nproc']} CPUs, {m['memory_gib']} GiB, Chromium {m['chromium']}"
                 f"{' (quick run)' if results['quick'] else ''}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
