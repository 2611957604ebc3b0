"""The phases of a run (decision, reach, many, memory, push, cpu), driven through Playwright."""

import asyncio
import json
import os
import re
import statistics
import time

from bench import cpu
from bench.common import RUNTIME_SHORT, RUNTIMES, SIGNED_IN, TIMEOUT_MS, USERNAME, VARIANTS, log
from bench.machine import browser_cpu_ms, cpu_seconds, established_connections, renderer_memory_kb
from bench.page_scripts import (
    DECIDED,
    READ_BOOT,
    READ_WAITS,
    SOCKETS_JS,
    clear_session,
    collect_garbage,
    read_sockets,
    read_state,
    read_trace,
    trace_script,
    wait_until,
)
from bench.snapshot import SnapshotExperiment

# A closed tab's place is given back when the server sees its push connection close: a moment
# after page.close(). The next tab of a server-authority variant waits this long first, so it is
# not refused (--max-tabs 1) by the place of the tab just closed.
SERVER_DROP_S = 0.3
from bench.traces import (
    api_sent_between,
    api_steps,
    first_after,
    first_decision,
    fmt_ms,
    last_click,
    max_or_none,
    painted_early,
    peak_active,
    summarize,
)


def documents_since(trace, when):
    """How many documents this tab's trace began at or after the epoch time `when` (ms)."""
    return sum(1 for e in trace if e["kind"] == "document" and e["at"] >= when)


def form_usable(entry):
    return entry["kind"] == "form" and entry["usable"]


async def first_hit(page, since, matches, deadline):
    """The first entry of `page`'s trace after `since` (epoch ms) that `matches`, polled until
    `deadline` (time.monotonic()), or None; and the trace last read."""
    while True:
        trace = await read_trace(page)
        hit = first_after(trace, since, matches)
        if hit or time.monotonic() > deadline:
            return hit, trace
        await asyncio.sleep(0.1)


class Bench(SnapshotExperiment):
    """The phases, each an async method named after it (see run.py's docstring)."""

    def __init__(self, browser, servers, counts, runtimes=RUNTIMES, only_variants=None, actions=None):
        self.runtimes = runtimes
        self.only_variants = only_variants  # decision and memory: these variants only (None: all)
        self.actions = actions  # reach: these actions only (None: all)
        self.browser = browser
        self.servers = servers
        self.counts = counts
        self.signed_in = {}  # server url -> storage state with a signed-in session
        self.errors = []  # page errors and console errors seen anywhere

    async def context(self, storage_state=None, watch_tabs=False):
        context = await self.browser.new_context(storage_state=storage_state)
        await context.add_init_script(script=trace_script(watch_tabs))
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
        if kind in ("app", "appsrv", "appsrc"):  # served with their own sign-in page
            return await self.signed_in_state(server, runtime)
        # (browser authority only: a server authority's session is in its own memory)
        app = self.servers.get("app", runtime, "browser")
        state = json.loads(json.dumps(await self.signed_in_state(app, runtime)))
        for origin in state.get("origins", []):
            origin["origin"] = server.url
        return state

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
                             "boots": [], "painted_early": 0, "cold_api": [], "warm_api": []}
                   for variant in VARIANTS}
        snapshot = None
        if any(variant == "snap-pyodide" for variant, _ in self.variants()):
            snapshot = await self.ensure_snapshot()
        for rep in range(reps):
            for variant, (runtime, authority, _) in self.variants():  # interleaved: drifts hit all alike
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
                    results[variant][label + "_api"].append(api_steps(trace, decision["t"]) if decision else {})
                    await page.close()
                    if authority == "server":
                        await asyncio.sleep(SERVER_DROP_S)
                await context.close()
            log(f"  decision rep {rep + 1}/{reps}: " + ", ".join(
                f"{v} {fmt_ms(r['cold'][-1])}/{fmt_ms(r['warm'][-1])}" for v, r in results.items() if r["cold"]))
        out = {variant: {"cold": summarize(r["cold"]), "warm": summarize(r["warm"]),
                         "cold_ready": summarize(r["cold_ready"]), "warm_ready": summarize(r["warm_ready"]),
                         "samples": r, "what": VARIANTS[variant][2], "authority": VARIANTS[variant][1]}
               for variant, r in results.items() if r["cold"]}
        for r in out.values():  # with the server as the authority: its requests, by step
            for label in ("cold", "warm"):
                steps = [dict(s, python_ready=ready, decided=t) for s, ready, t in zip(
                    r["samples"][label + "_api"], r["samples"][label + "_ready"], r["samples"][label]) if s]
                if steps:
                    r.setdefault("api_steps", {})[label] = {
                        name: statistics.median(s[name] for s in steps if s.get(name) is not None)
                        for name in steps[0]}
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
    async def open_tabs(self, context, server, count, runtime, settled, timeout_ms=None):
        """Open `count` tabs at `/` at once; wait until `settled(states)` holds for all of them."""
        pages = [await context.new_page() for _ in range(count)]
        await asyncio.gather(*(page.goto(server("/"), wait_until="commit") for page in pages))
        return pages, await wait_until(pages, settled, timeout_ms or TIMEOUT_MS[runtime])

    async def reach_signout(self, runtime, hold_next=False, others=None):
        """Diagnoses: hold_next answers the signed-out tabs' navigation to /login with 204, so
        they stay where they are instead of booting the sign-in page while other tabs still
        handle the sign-out; others=1 (or 5) measures the same action reaching that many tabs."""
        server = self.servers.get("signout", runtime, "browser")
        diagnosis = hold_next or others is not None
        others = others or self.counts["reach_tabs"]
        context = await self.context(watch_tabs=True)
        login = re.compile(r"^https?://[^/]+/login(\?|$)")

        async def answer_204(route):
            await route.fulfill(status=204)

        per_tab, all_tabs, wake_ms, actor_ms, handling_ms = [], [], [], [], []
        # From the click to each reached tab's sign-in form being usable (FORM_USABLE), the last
        # of them per repetition, the acting tab's own; documents each tab began meanwhile.
        form_ms, form_all, form_actor, documents, actor_documents = [], [], [], [], []
        form_after = []  # per reached tab: from its leaving `active` to its form usable
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
            if not hold_next:  # (held: the tabs never reach a sign-in page)
                forms, loads, actor_form, actor_loads = await self.forms_usable(pages, actor, click, runtime)
                form_after += [f - t if f is not None and t is not None else None for f, t in zip(forms, latencies)]
                form_ms += forms
                form_all.append(max_or_none(forms))
                form_actor.append(actor_form)
                documents += loads
                actor_documents.append(actor_loads)
                log(f"  sign-out {runtime} rep {rep + 1}: sign-in form usable in all {others} tabs in"
                    f" {fmt_ms(form_all[-1])} (each: {', '.join(fmt_ms(v) for v in forms)}; acting tab"
                    f" {fmt_ms(actor_form)}); documents loaded per tab since the click: {loads}")
            for page in context.pages:
                await page.close()
        await context.close()
        out = {"per_tab": summarize(per_tab), "all_tabs": summarize(all_tabs),
               "wake": summarize(wake_ms), "actor_done": summarize(actor_ms),
               "handling": summarize(handling_ms),
               "samples": {"per_tab": per_tab, "all_tabs": all_tabs, "wake": wake_ms,
                           "actor_done": actor_ms, "handling": handling_ms}, "tabs": others}
        if not hold_next:
            out.update(form_per_tab=summarize(form_ms), form_all_tabs=summarize(form_all),
                       form_actor=summarize(form_actor), documents_per_tab=summarize(documents),
                       documents_actor=summarize(actor_documents), form_after_state=summarize(form_after))
            out["samples"].update(form_per_tab=form_ms, form_all_tabs=form_all, form_actor=form_actor,
                                  documents_per_tab=documents, documents_actor=actor_documents,
                                  form_after_state=form_after)
        return out

    async def forms_usable(self, pages, actor, click, runtime):
        """After a sign-out clicked at `click` (epoch ms, the acting tab's clock): ms from the
        click until each of `pages` showed a usable sign-in form (its trace's first "form" entry
        with usable true after the click; polled until the runtime's time-out, as a tab that
        loads a new document must boot Python first), the documents each began since the click,
        and the acting tab's own time to a usable form."""
        deadline = time.monotonic() + TIMEOUT_MS[runtime] / 1000
        forms, loads = [], []
        for page in [*pages, actor]:
            hit, trace = await first_hit(page, click, form_usable, deadline)
            forms.append(hit["at"] - click if hit else None)
            loads.append(documents_since(trace, click))
        return forms[:-1], loads[:-1], forms[-1], loads[-1]

    async def wait_form(self, page, since, runtime):
        """The first "form" entry (usable) of `page`'s trace at or after the epoch time `since`,
        polled through the tab's navigations; TimeoutError after the runtime's time-out."""
        deadline = time.monotonic() + TIMEOUT_MS[runtime] / 1000
        while True:
            hit = first_after(await read_trace(page), since, form_usable)
            if hit:
                return hit
            if time.monotonic() > deadline:
                raise TimeoutError(f"the sign-in form at {page.url} never became usable")
            await asyncio.sleep(0.05)

    async def journey_once(self, server, runtime):
        """One tab of a new (signed-out) profile: its first page `/`, sign-in, sign-out, sign-in
        again. The documents it loaded (one "document" trace entry each, with its navigation
        type and path) and the time of each step, ms, on the page's own clock."""
        context = await self.context()
        page = await context.new_page()
        await page.goto(server("/"), wait_until="commit")
        start = (await read_trace(page))[0]["at"]
        form = await self.wait_form(page, start, runtime)
        steps = {"first_form": form["at"] - start}
        active = page.locator('html[data-tab-state="active"]')
        for step in ("sign_in", "sign_in_again"):
            if step == "sign_in_again":
                await page.locator("#logout").click()
                click = last_click(await read_trace(page), "logout")
                steps["sign_out_form"] = (await self.wait_form(page, click, runtime))["at"] - click
            await page.locator("#username").fill(USERNAME)
            await page.locator("#login-form button[type=submit]").click()
            await active.wait_for(state="attached", timeout=TIMEOUT_MS[runtime])
            trace = await read_trace(page)
            click = last_click(trace, "login-form")
            became = first_after(trace, click, lambda e: e["kind"] == "state" and e["state"] == "active")
            steps[step + "_active"] = became["at"] - click if became else None
        trace = await read_trace(page)
        await context.close()
        loaded = [e for e in trace if e["kind"] == "document"]
        return {"documents": len(loaded), "loads": [f"{e['nav']} {e['path']}" for e in loaded], **steps}

    async def journey(self, runtime):
        """Documents a tab loads from its first page `/` (signed out) through sign-in, sign-out
        and sign-in again (one document: the tab moves between the pages in place), with the
        browser and with the server as the authority; the time of each step too."""
        reps = min(3, self.counts["reach_reps"][runtime])
        out = {"reps": reps, "authorities": {}}
        for authority in ("browser", "server"):
            server = self.servers.get("signout", runtime, authority)
            runs = []
            for rep in range(reps):
                runs.append(await self.journey_once(server, runtime))
                r = runs[-1]
                log(f"  journey {runtime}, {authority} authority, rep {rep + 1}: {r['documents']} documents"
                    f" ({', '.join(r['loads'])}); form usable {fmt_ms(r['first_form'])} after navigation"
                    f" start; signed in {fmt_ms(r['sign_in_active'])} after the click; sign-out to usable"
                    f" form {fmt_ms(r['sign_out_form'])}; signed in again {fmt_ms(r['sign_in_again_active'])}")
                if authority == "server":
                    await asyncio.sleep(SERVER_DROP_S)
            out["authorities"][authority] = {
                "documents": summarize([r["documents"] for r in runs]),
                **{name: summarize([r[name] for r in runs])
                   for name in ("first_form", "sign_in_active", "sign_out_form", "sign_in_again_active")},
                "runs": runs}
        out["documents"] = summarize([r["documents"] for a in out["authorities"].values() for r in a["runs"]])
        return out

    async def reach_takeover(self, runtime):
        server = self.servers.get("takeover", runtime, "browser")
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

    # ------------------------------------------------ 2b. reach across two profiles (issue 13)
    async def profile(self, server, runtime, tabs, settled):
        """A new browser context (a profile of the same user) signed in on `server`, and `tabs`
        more tabs at `/` once `settled(states)` holds: (context, [its sign-in tab, *tabs])."""
        context = await self.context(watch_tabs=True)
        first = await self.sign_in(context, server, runtime)
        pages, _ = await self.open_tabs(context, server, tabs, runtime, settled)
        return context, [first, *pages]

    async def close_profiles(self, *contexts):
        for context in contexts:
            await context.close()
        await asyncio.sleep(SERVER_DROP_S)  # the server gives back the closed tabs' places

    async def reach_signout_profiles(self, runtime, authority):
        """Profile A (the acting tab and `profile_tabs` more) signs out; profile B of the same
        user (`profile_tabs` tabs) must stay active (a sign-out ends only its own profile)."""
        server = self.servers.get("signout", runtime, authority)
        tabs = self.counts["profile_tabs"]
        all_active = lambda states: all(s["state"] == "active" for s in states)
        samples = {"per_tab": [], "all_tabs": [], "wake": [], "actor_done": [], "handling": [],
                   "other_profile_active": []}
        for rep in range(self.counts["reach_reps"][runtime]):
            context_a, pages_a = await self.profile(server, runtime, tabs, all_active)
            context_b, pages_b = await self.profile(server, runtime, tabs - 1, all_active)
            await asyncio.sleep(0.5)
            actor, reached = pages_a[0], pages_a[1:]
            await actor.locator("#logout").click()
            await wait_until(reached, lambda states: all(s["state"] == "signed-out" for s in states),
                             TIMEOUT_MS[runtime])
            await asyncio.sleep(0.5)  # a wrong sign-out of profile B would show by now
            actor_trace = await read_trace(actor)
            click = last_click(actor_trace, "logout")
            left = lambda e: e["kind"] == "state" and e["state"] != "active"
            done = first_after(actor_trace, click, left)
            samples["actor_done"].append(done["at"] - click if done else None)
            latencies = await self.reached(reached, click, left, samples)
            states_b = await asyncio.gather(*(read_state(page) for page in pages_b))
            samples["other_profile_active"].append(sum(s["state"] == "active" for s in states_b))
            log(f"  sign-out, two profiles, {authority} authority, {runtime} rep {rep + 1}: all {len(reached)}"
                f" tabs in {fmt_ms(samples['all_tabs'][-1])} (each: {', '.join(map(fmt_ms, latencies))});"
                f" other profile active {samples['other_profile_active'][-1]}/{len(pages_b)}")
            await self.close_profiles(context_a, context_b)
        return self.reach_result(samples, tabs, authority, other_profile_tabs=tabs)

    async def reach_takeover_profiles(self, runtime):
        """Two profiles of one user, `profile_tabs` tabs each (`--max-tabs 1 --policy takeover`,
        server authority: one place for the user). The place is put in profile A; a moved tab
        of profile B clicks Use here. Reached: A's displaced tab (via the server) and B's other
        tabs (their #tabs list shows the actor active)."""
        server = self.servers.get("takeover", runtime, "server")
        tabs = self.counts["profile_tabs"]
        samples = {"per_tab": [], "all_tabs": [], "wake": [], "actor_done": [], "handling": [],
                   "displaced": []}
        for rep in range(self.counts["reach_reps"][runtime]):
            context_a, pages_a = await self.profile(server, runtime, tabs - 1, lambda states: True)
            context_b, pages_b = await self.profile(server, runtime, tabs - 1, lambda states: True)
            displaced = await self.place_in(pages_a, pages_a + pages_b, runtime)
            await asyncio.sleep(0.5)
            states_b = await asyncio.gather(*(read_state(page) for page in pages_b))
            actor = pages_b[[s["state"] for s in states_b].index("moved")]
            actor_id = states_b[pages_b.index(actor)]["id"]
            await actor.locator("#use-here").click()
            await wait_until([actor], lambda s: s[0]["state"] == "active", TIMEOUT_MS[runtime])
            await wait_until([displaced], lambda s: s[0]["state"] == "moved", TIMEOUT_MS[runtime])
            actor_trace = await read_trace(actor)
            click = last_click(actor_trace, "use-here")
            became = first_after(actor_trace, click, lambda e: e["kind"] == "state" and e["state"] == "active")
            samples["actor_done"].append(became["at"] - click if became else None)
            # The acting tab's requests after the click: [method, path, sent, head, answered], ms
            # since the click (its claim goes through the server before the displaced tab hears).
            samples.setdefault("actor_api", []).append([
                [e["method"], e["api"], e["at"] - click, e["at"] - click + e["end"] - e["t"],
                 e["at"] - click + e.get("body", e["end"]) - e["t"]]
                for e in actor_trace if e["kind"] == "api" and e["at"] >= click])
            moved = lambda e: e["kind"] == "state" and e["state"] == "moved"
            samples["displaced"] += await self.reached([displaced], click, moved, samples)
            shows_actor = lambda e: e["kind"] == "tabs" and f"{actor_id}=active" in e["list"].split(",")
            bystanders = await self.reached([p for p in pages_b if p is not actor], click, shows_actor, samples)
            samples["all_tabs"][-2:] = [max_or_none(samples["all_tabs"][-2:])]  # one repetition
            log(f"  take-over, two profiles, server authority, {runtime} rep {rep + 1}: displaced tab"
                f" {fmt_ms(samples['displaced'][-1])}, the actor's profile {', '.join(map(fmt_ms, bystanders))},"
                f" actor active {fmt_ms(samples['actor_done'][-1])}")
            await self.close_profiles(context_a, context_b)
        return self.reach_result(samples, tabs, "server")  # the displaced tab and tabs - 1 bystanders

    async def place_in(self, pages, every_page, runtime):
        """Make a tab of `pages` the one active tab of `every_page` (Use here in one, if needed)."""
        one_active = lambda states: (sum(s["state"] == "active" for s in states) == 1
                                     and all(s["state"] in ("active", "moved") for s in states))
        states = await wait_until(every_page, one_active, TIMEOUT_MS[runtime])
        holder = every_page[[s["state"] for s in states].index("active")]
        if holder in pages:
            return holder
        await pages[0].locator("#use-here").click()
        await wait_until(every_page, lambda s: one_active(s) and s[0]["state"] == "active", TIMEOUT_MS[runtime])
        return pages[0]

    async def reached(self, pages, click, matches, samples):
        """When each of `pages` first matched after `click` (in-page clocks, polled until 5 s):
        adds its latency, first wake-up and handling to `samples`; the latencies."""
        latencies = []
        deadline = time.monotonic() + 5
        for page in pages:
            hit, trace = await first_hit(page, click, matches, deadline)
            latencies.append(hit["at"] - click if hit else None)
            woke = first_after(trace, click, lambda e: e["kind"] == "wake")
            samples["wake"].append(woke["at"] - click if woke else None)
            samples["handling"].append(hit["at"] - woke["at"] if hit and woke and woke["at"] <= hit["at"] else None)
        samples["per_tab"] += latencies
        samples["all_tabs"].append(max_or_none(latencies))
        return latencies

    @staticmethod
    def reach_result(samples, tabs, authority, **more):
        out = {name: summarize(values) for name, values in samples.items() if name != "actor_api"}
        return {**out, "samples": samples, "tabs": tabs, "authority": authority, **more}

    def variants(self):
        """[(variant, (runtime, authority, what))] of the runtimes this run measures (the plain-JS
        check always), or of --variants."""
        return [(variant, about) for variant, about in VARIANTS.items()
                if (variant == "js" or about[0] in self.runtimes)
                and (self.only_variants is None or variant in self.only_variants)]

    async def reach(self):
        out = {}
        for runtime in self.runtimes:
            for action, measure in (
                    ("signout", lambda: self.reach_signout(runtime)),
                    ("takeover", lambda: self.reach_takeover(runtime)),
                    # (signout_held, the tabs' next page held back, diagnosed the loads after
                    # a sign-out; the demo's tabs no longer load a page: run it by name only.)
                    ("signout_held", lambda: self.reach_signout(runtime, hold_next=True)),
                    ("signout_one", lambda: self.reach_signout(runtime, others=1)),
                    # With 1, 5 and 10 tabs: how the time grows with the tabs (what limits it).
                    ("signout_five", lambda: self.reach_signout(runtime, others=5)),
                    ("signout2p_browser", lambda: self.reach_signout_profiles(runtime, "browser")),
                    ("signout2p_server", lambda: self.reach_signout_profiles(runtime, "server")),
                    ("takeover2p_server", lambda: self.reach_takeover_profiles(runtime)),
                    ("journey", lambda: self.journey(runtime))):
                if (action in self.actions) if self.actions is not None else action != "signout_held":
                    out[f"{action}-{RUNTIME_SHORT[runtime]}"] = await measure()
        return out

    # ----------------------------------------------------------------------------- 3. many
    async def many_once(self, runtime, count):
        server = self.servers.get("many", runtime, "browser")
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
        for variant, (runtime, _, what) in self.variants():
            kind = variant.split("-")[0]
            if kind in ("floor", "snapgz", "appsrc", "appsrv"):
                continue  # start-up experiments only (snapgz: the same page in memory as snap)
            if kind == "app":
                server = self.servers.get("open", runtime, "browser")
            elif kind in SIGNED_IN:  # the bench's copies of the app's page, without a tab limit
                server = self.servers.get(f"open-{kind}", runtime, "browser")
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

    # ------------------------------------------------------------------------------ 6. cpu
    async def cpu(self):
        """Where the CPU goes while a sign-out reaches 10 tabs (what limits the reach)."""
        return {f"signout-{RUNTIME_SHORT[runtime]}": await self.cpu_signout(runtime) for runtime in self.runtimes}

    async def cpu_signout(self, runtime):
        """Per repetition: 11 signed-in tabs; a second of them at rest, then the second after a
        sign-out clicked in one of them, each traced (bench/cpu.py) and with every browser
        process's CPU read before and after. The click is the page's own (``element.click()`` in
        a timer), so no Playwright work in the pages falls in the second."""
        server = self.servers.get("signout", runtime, "browser")
        others = self.counts["reach_tabs"]
        context = await self.context(watch_tabs=True)
        samples = {}
        for rep in range(self.counts["cpu_reps"][runtime]):
            actor = await self.sign_in(context, server, runtime)
            pages, _ = await self.open_tabs(context, server, others, runtime,
                                            lambda states: all(s["state"] == "active" for s in states))
            await asyncio.sleep(1.0)
            seconds = {"rest": await self._traced_second(None), "signout": await self._traced_second(actor)}
            await wait_until(pages, lambda states: all(s["state"] == "signed-out" for s in states),
                             TIMEOUT_MS[runtime])
            click = last_click(await read_trace(actor), "logout")
            latencies = []
            for page in pages:
                left = first_after(await read_trace(page), click,
                                   lambda e: e["kind"] == "state" and e["state"] != "active")
                latencies.append(left["at"] - click if left else None)
            samples.setdefault("last", []).append(max_or_none(latencies))
            tabs = others + 1  # (the acting tab's renderer works too)
            for name, (work, used) in seconds.items():
                for kind in ("script", "rendering", "other", "script_entries"):
                    samples.setdefault(f"{name}_{kind}", []).append(work[kind] / tabs)
                samples.setdefault(f"{name}_renderers", []).append(used.get("renderer", 0.0) / tabs)
                samples.setdefault(f"{name}_browser", []).append(used.get("browser", 0.0))
                samples.setdefault(f"{name}_others", []).append(
                    sum(ms for kind, ms in used.items() if kind not in ("renderer", "browser")))
            log(f"  cpu {runtime} rep {rep + 1}: last tab {fmt_ms(samples['last'][-1])}; per tab in the"
                f" second after the click: script {samples['signout_script'][-1]:.1f} ms"
                f" ({samples['signout_script_entries'][-1]:.1f} entries), rendering"
                f" {samples['signout_rendering'][-1]:.1f}, other {samples['signout_other'][-1]:.1f};"
                f" at rest: script {samples['rest_script'][-1]:.1f}; browser process"
                f" {samples['signout_browser'][-1]:.0f} ms")
            for page in context.pages:
                await page.close()
        await context.close()
        return {**{name: summarize(values) for name, values in samples.items()},
                "samples": samples, "tabs": others, "cores": os.cpu_count()}

    async def _traced_second(self, actor):
        """(cpu.split of the renderers' main threads, cpu.cpu_between of the browser's processes)
        over one second; ``actor``: click its #logout at the start of it."""
        before = browser_cpu_ms()
        await self.browser.start_tracing(categories=cpu.TRACE_CATEGORIES)
        if actor is not None:
            await actor.evaluate("setTimeout(() => document.getElementById('logout').click(), 0)")
        await asyncio.sleep(1.0)
        trace = json.loads(await self.browser.stop_tracing())
        after = browser_cpu_ms()
        events = trace.get("traceEvents", []) if isinstance(trace, dict) else trace
        return cpu.split(events), cpu.cpu_between(before, after)

    # ----------------------------------------------------------------------------- 5. push
    async def push(self):
        """Issue 13's push connections: with the server as the authority each active tab holds one
        WebSocket at /api/push. One profile (`--max-tabs 60`) with N tabs open, all active, for N
        in counts["push"]["tabs"]: the WebSockets they hold (counted in each page, by Playwright,
        and the TCP connections the server has), the time a NEW tab of the profile takes to load and
        decide (as the decision phase measures it: does a profile's open push connections starve
        its page loads? Browsers allow six HTTP/1.1 connections per host), a sign-out in one tab
        reaching the N - 1 others, renderer memory and CPU while the N tabs idle. N = 0: the new
        tab's load alone. The same new-tab loads with the browser as the authority (no
        WebSocket) tell the cost of N open tabs from that of their connections."""
        push = self.counts["push"]
        out = {}
        for runtime in self.runtimes:
            if runtime != "micropython":
                continue  # 50 Pyodide tabs on 2 cores: not bounded
            for authority, counts in (("server", [0, *push["tabs"]]), ("browser", [0, max(push["tabs"])])):
                server = self.servers.get("push", runtime, authority)
                for count in counts:
                    key = f"{authority}-{RUNTIME_SHORT[runtime]}-{count}"
                    out[key] = await self.push_count(server, runtime, authority, count)
        return out

    async def push_context(self, sockets):
        """A context whose pages count their WebSockets (SOCKETS_JS), and whose WebSockets
        Playwright reports are kept in `sockets` ({"url", "open"} each)."""
        context = await self.context(watch_tabs=True)
        await context.add_init_script(script=SOCKETS_JS)

        def socket_made(socket):
            record = {"url": socket.url, "open": True}
            sockets.append(record)
            socket.on("close", lambda _: record.update(open=False))

        context.on("page", lambda page: page.on("websocket", socket_made))
        return context

    async def push_count(self, server, runtime, authority, count):
        push = self.counts["push"]
        reps = push["reps"].get(count, 1) if authority == "server" else 1
        loads_per_rep = push["new_tab_loads"] * (3 if count == 0 else 1)
        timeout = TIMEOUT_MS[runtime] * max(1, count // 5)
        all_active = lambda states: all(s["state"] == "active" for s in states)
        result = {"authority": authority, "runtime": runtime, "tabs": count, "reps": reps,
                  "new_tab": [], "new_tab_api": [], "new_tab_waits": [], "new_tab_states": [], "others_api": [],
                  "held": [], "reach": {"per_tab": [], "all_tabs": [], "wake": [], "actor_done": [],
                                        "handling": []}}
        for rep in range(reps):
            await asyncio.sleep(1.0)
            before = renderer_memory_kb()
            sockets = []
            context = await self.push_context(sockets)
            first = await self.sign_in(context, server, runtime)
            pages = [first]
            if count == 0:
                await first.close()  # the cache is warm; the profile keeps its session
                pages = []
                await asyncio.sleep(SERVER_DROP_S)
            elif count > 1:
                opened, _ = await self.open_tabs(context, server, count - 1, runtime, all_active, timeout)
                pages += opened
            if pages:
                held = await self.held(pages, sockets, server, authority, before)
                result["held"].append(held)
                log(f"  push {authority} {count} tabs rep {rep + 1}: {held['active']} active;"
                    f" WebSockets open: in the pages {held['page_open']} (made {held['page_made']},"
                    f" most in one page {held['page_max_open']}), Playwright {held['playwright_open']};"
                    f" server connections {held['server_connections']}; idle CPU"
                    f" {held['idle_cpu']:.2f} cores; renderer Pss {held['pss_per_tab_mb']:.1f} MB/tab")
            for _ in range(loads_per_rep):
                page, trace = await self.load(context, server("/"), runtime)
                decision = first_decision(trace)
                result["new_tab"].append(decision["t"] if decision else None)
                result["new_tab_states"].append(decision["state"] if decision else None)
                result["new_tab_api"].append(api_steps(trace, decision["t"]) if decision else {})
                result["new_tab_waits"].append(await page.evaluate(READ_WAITS))
                if decision and pages:  # what the open tabs asked the server meanwhile
                    traces = await asyncio.gather(*(read_trace(other) for other in pages))
                    asked = [e for t in traces for e in api_sent_between(t, trace[0]["at"], decision["at"])]
                    result["others_api"].append(len(asked))
                    paths = {}
                    for e in asked:
                        paths[f"{e['method']} {e['api']}"] = paths.get(f"{e['method']} {e['api']}", 0) + 1
                    result.setdefault("others_api_paths", []).append(paths)
                await page.close()
                await asyncio.sleep(SERVER_DROP_S)
            log(f"  push {authority} {count} tabs rep {rep + 1}: new tabs decided in "
                + ", ".join(fmt_ms(t) for t in result["new_tab"][-loads_per_rep:])
                + " (" + ", ".join(str(s) for s in result["new_tab_states"][-loads_per_rep:]) + ")"
                + (f"; /api/ requests the open tabs sent meanwhile: {result['others_api'][-loads_per_rep:]}"
                   if pages else "") + "; longest wait for a connection: "
                + ", ".join(f"{fmt_ms(w['queued_max'])} ({(w.get('worst') or {}).get('path', '-')})"
                            for w in result["new_tab_waits"][-loads_per_rep:]))
            if authority == "server" and count > 1:
                actor, reached = pages[0], pages[1:]
                await actor.locator("#logout").click()
                await wait_until(reached, lambda states: all(s["state"] == "signed-out" for s in states),
                                 timeout)
                click = last_click(await read_trace(actor), "logout")
                left = lambda e: e["kind"] == "state" and e["state"] != "active"
                done = first_after(await read_trace(actor), click, left)
                result["reach"]["actor_done"].append(done["at"] - click if done else None)
                latencies = await self.reached(reached, click, left, result["reach"])
                log(f"  push sign-out, {count} tabs, rep {rep + 1}: the last of {len(reached)} tabs in"
                    f" {fmt_ms(result['reach']['all_tabs'][-1])}, median"
                    f" {fmt_ms(statistics.median([v for v in latencies if v is not None] or [0]))}")
            await context.close()
            await asyncio.sleep(SERVER_DROP_S)
        result["new_tab_summary"] = summarize(result["new_tab"])
        posts = [s["places_post_answered"] - s["places_post_sent"] for s in result["new_tab_api"]
                 if "places_post_sent" in s]
        result["new_tab_post"] = summarize(posts)
        result["new_tab_queued_max"] = summarize([w["queued_max"] for w in result["new_tab_waits"]])
        if result["reach"]["all_tabs"]:
            result["reach"] = self.reach_result(result["reach"], count - 1, authority)
        else:
            del result["reach"]
        return result

    async def held(self, pages, sockets, server, authority, memory_before):
        """What `pages` (one profile, all decided) hold once settled: their states, WebSockets
        (in the pages, by Playwright, the server's TCP connections), idle CPU and memory."""
        expected = len(pages) if authority == "server" else 0
        deadline = time.monotonic() + 10
        while True:  # each active tab opens its push connection just after it decides
            counts = await asyncio.gather(*(read_sockets(page) for page in pages))
            if sum((c or {}).get("open", 0) for c in counts) >= expected or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
        cpu, quiet_from = cpu_seconds(), time.time() * 1000
        await asyncio.sleep(3.0)
        idle_cpu = (cpu_seconds() - cpu) / 3.0
        quiet_to = time.time() * 1000
        idle_api = {}  # what the idle tabs asked the server meanwhile, by request
        for trace in await asyncio.gather(*(read_trace(page) for page in pages)):
            for e in api_sent_between(trace, quiet_from, quiet_to):
                idle_api[f"{e['method']} {e['api']}"] = idle_api.get(f"{e['method']} {e['api']}", 0) + 1
        states = await asyncio.gather(*(read_state(page) for page in pages))
        counts = [c or {} for c in await asyncio.gather(*(read_sockets(page) for page in pages))]
        connections = established_connections(server.port)
        context = pages[0].context
        await collect_garbage(context)
        after = renderer_memory_kb()
        return {
            "tabs": len(pages), "active": sum(s["state"] == "active" for s in states),
            "page_open": sum(c.get("open", 0) for c in counts),
            "page_made": sum(c.get("made", 0) for c in counts),
            "page_closed": sum(c.get("closed", 0) for c in counts),
            "page_max_open": max((c.get("open", 0) for c in counts), default=0),
            "paths": sorted({path for c in counts for path in c.get("urls", [])}),
            "playwright_open": sum(record["open"] for record in sockets),
            "playwright_made": len(sockets),
            "server_connections": connections,
            "idle_cpu": idle_cpu,
            "idle_api": idle_api,
            "pss_per_tab_mb": (after[0] - memory_before[0]) / len(pages) / 1024,
            "private_per_tab_mb": (after[1] - memory_before[1]) / len(pages) / 1024,
            "new_renderers": after[2] - memory_before[2],
        }
