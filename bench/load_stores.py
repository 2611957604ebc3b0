"""Simulated tabs against two serve.py processes sharing one store (issue 14, "Measure").

    .venv/bin/python bench/load_stores.py --store redis --tabs 1000 --duration 60 [--json FILE]
        [--workers W] [--servers 2] [--pool 32] [--logs DIR] [--note TEXT]
    .venv/bin/python bench/load_stores.py --table docs/bench/stores/results.json   # Markdown
    .venv/bin/python bench/load_stores.py --chart docs/bench/stores/results.json   # chart.png

Starts, on 127.0.0.1 and in a folder of its own, the store (a SQLite file, or a redis-server on a
free port: tests/support/redis_server.py) and two `serve.py --store ...` processes on port 0
(tests/support/live_server.py), `--max-tabs 2 --policy block`. Then one asyncio loop plays
`--tabs` tabs of `--tabs / 5` users, each user signed in from two browser profiles (3 tabs and 2
tabs, one session cookie each), every tab talking to one of the two servers (tab number modulo 2:
the tabs of one profile use both, as a browser sends a host's cookies to each port). What a tab
does, as the pages do (app/tabsession/browser/server.py), with random think times:

- its profile signs in (POST /api/session) when it has no live session;
- it claims a place (POST /api/places); refused (409 active-elsewhere, the user has 2 active
  tabs elsewhere), it waits 2-6 s and claims again, the next claim with `use_here` (a take-over)
  with probability 0.35 (at most one take-over of a user in flight, so that each "moved" notice
  pairs with the take-over that caused it);
- granted, it opens its push WebSocket (/api/push, first message TAB.EPOCH.KEY) and reports
  activity (POST /api/activity) every 3-7 s; after each report it signs its profile out
  (DELETE /api/session) with probability 0.01;
- it leaves its place on `{"kind": "moved"}` (closing its socket) or `{"kind": "ended"}`; an
  activity report answered 409 without a moved notice within 2 s (S3) counts as a lost notice.

Measured: claims per second and claim latency (every POST /api/places answered); push latency of
take-overs (from the take-over's 200 answer to the moved tab's `moved` notice; a notice that came
before the answer counts negative; also
from the take-over's request, split by whether the moved tab's socket is on the same server or
the other, whose notice goes over the store's bus); CPU seconds and RSS (VmRSS at the end, VmHWM the peak) of each
serve.py and of redis-server, from /proc/PID/stat and status; the generator's own CPU and event
loop lag, and the machine's load average. The invariant is checked from the store itself by a
separate process (`--sample`): every 200 ms it reads every user record (SQLite: one read
transaction over `users`; Redis: SCAN + MGET of `tabsession:user:*`) and counts each user's
places; a user with more than --max-tabs places, or two places in one slot, is a violation. One
last sample is taken at the end, before the tabs close.

The tabs open over a ramp of tabs/200 s (at most 30 s); "steady" figures count the claims sent
after it. Every request's start, latency and answer go to timeline.json in the run's folder
(--logs), with the servers' stdout and stderr.

Traffic goes only to the servers this bench starts; everything is bounded in count (--tabs) and
in time (--duration, plus at most ~30 s to start and stop). Results: one JSON object per run
(--json FILE appends it to the file's "runs" list); --chart FILE draws chart.png beside it.
"""

import argparse
import asyncio
import collections
import json
import os
import random
import resource
import secrets
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for folder in ("app", "tests/support"):
    if str(ROOT / folder) not in sys.path:
        sys.path.insert(0, str(ROOT / folder))

CLK_TCK = os.sysconf("SC_CLK_TCK")
MAX_TABS = 2
PROFILE_TABS = (3, 2)  # tabs of each of a user's two browser profiles: 5 tabs a user
TAKEOVER_SHARE = 0.35  # a refused tab's next claim is a take-over (use_here) this often
SIGNOUT_SHARE = 0.01  # after an activity report, the tab signs its profile out this often
ACTIVITY_EVERY = (3.0, 7.0)  # seconds between activity reports of an active tab
RETRY_EVERY = (2.0, 6.0)  # seconds a refused tab waits before it claims again
AFTER_LOSS = (1.0, 4.0)  # seconds a tab that lost its place waits before it claims again
NOTICE_SECONDS = 2.0  # S3: a displaced tab learns it within 2 s
REQUEST_TIMEOUT = 10.0
SAMPLE_EVERY = 0.2
SERVERS = 2
TAB_HEADER = "X-Tabsession-Tab"


# ---------------------------------------------------------------------------------------------
# /proc


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime (fields 14 and 15)


def proc_memory_mb(pid: int) -> dict:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM", "Threads"):
            values[name] = int(rest.split()[0])
    return {"rss_mb": round(values.get("VmRSS", 0) / 1024, 1), "peak_rss_mb": round(values.get("VmHWM", 0) / 1024, 1),
            "threads": values.get("Threads", 0)}


def open_files(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def load() -> list:
    return [round(value, 2) for value in os.getloadavg()]


def machine_cpu() -> tuple[int, int]:
    """The machine's busy and total CPU ticks so far (/proc/stat), every process counted."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def percentile(values, share):
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(share * (len(ordered) - 1)))))
    return round(ordered[index], 2)


# ---------------------------------------------------------------------------------------------
# The invariant, read from the store by a process of its own (`--sample`)


def sample_forever(spec: str, max_tabs: int, every: float) -> int:
    """Read every user record every `every` s until a line arrives on stdin; then one final
    sample, and the summary as one JSON line on stdout."""
    if spec.startswith("sqlite:"):
        import sqlite3
        connection = sqlite3.connect(f"file:{spec[len('sqlite:'):]}?mode=ro", uri=True, timeout=5,
                                     isolation_level=None)

        def records():
            connection.execute("BEGIN")
            try:
                return [row[0] for row in connection.execute("SELECT record FROM users")]
            finally:
                connection.execute("COMMIT")
    else:
        import redis
        client = redis.Redis.from_url(spec, socket_timeout=5)

        def records():
            keys = list(client.scan_iter(match="tabsession:user:*", count=1000))
            found = []
            for start in range(0, len(keys), 500):
                found += [value for value in client.mget(keys[start:start + 500]) if value is not None]
            return found

    summary = {"samples": 0, "violations": 0, "violation_examples": [], "max_places": 0,
               "users_max": 0, "places_max": 0, "read_ms": [], "errors": 0}

    def sample(final=False):
        started = time.perf_counter()
        try:
            raw = records()
        except Exception as error:  # the store busy: counted, tried again at the next tick
            summary["errors"] += 1
            summary.setdefault("error_examples", []).append(f"{type(error).__name__}: {error}"[:200])
            return
        places_total = 0
        for text in raw:
            record = json.loads(text)
            places = record["places"]
            places_total += len(places)
            slots = [place["slot"] for place in places]
            summary["max_places"] = max(summary["max_places"], len(places))
            if (max_tabs and len(places) > max_tabs) or len(set(slots)) != len(slots):
                summary["violations"] += 1
                if len(summary["violation_examples"]) < 10:
                    summary["violation_examples"].append(record)
        summary["read_ms"].append((time.perf_counter() - started) * 1000)
        summary["samples"] += 1
        summary["users_max"] = max(summary["users_max"], len(raw))
        summary["places_max"] = max(summary["places_max"], places_total)
        if final:
            summary["final"] = {"users": len(raw), "places": places_total}

    print("ready", flush=True)
    while True:
        ticked = time.monotonic()
        sample()
        ready, _, _ = select.select([sys.stdin], [], [], max(0.0, every - (time.monotonic() - ticked)))
        if ready:
            sys.stdin.readline()
            break
    sample(final=True)
    read = summary.pop("read_ms")
    summary["read_ms_p50"] = percentile(read, 0.5)
    summary["read_ms_max"] = round(max(read), 2) if read else None
    summary["cpu_seconds"] = round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), 2)
    print(json.dumps(summary), flush=True)
    return 0


class StoreSampler:
    def __init__(self, spec: str, max_tabs: int):
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--sample", spec, "--max-tabs", str(max_tabs)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the store sampler did not start")

    def finish(self) -> dict:
        self.process.stdin.write("final\n")
        self.process.stdin.flush()
        out, _ = self.process.communicate(timeout=60)
        return json.loads(out.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# The simulated tabs


class Stats:
    def __init__(self):
        self.claim_ms = []  # every claim answered (200, 409, 401)
        self.claim_granted_ms = []
        self.takeover_ms = []  # the claims with use_here
        self.activity_ms = []
        self.signin_ms = []
        self.push_ms = []  # take-over answer -> the moved tab's notice (negative: the notice came first)
        self.push_from_request_ms = []  # take-over request sent -> the notice
        self.push_same_ms = []  # the same, when the moved tab's socket is on the taking tab's server
        self.push_cross_ms = []  # ... on the other server: the notice went over the store's bus
        self.counts = collections.Counter()
        self.errors = collections.Counter()
        self.error_examples = []
        self.lag_ms = []
        self.timeline = []  # (seconds since the start, ms, what, server): kept in the run's folder
        self.started = time.perf_counter()

    def error(self, kind: str, detail: str = "") -> None:
        self.errors[kind] += 1
        if len(self.error_examples) < 20:
            self.error_examples.append(f"{kind}: {detail}"[:300])


class User:
    def __init__(self, name: str):
        self.name = name
        self.takeover = None  # the take-over in flight: {"sent", "answer", "moved", "event"}


class Profile:
    def __init__(self, user: User):
        self.user = user
        self.sid = None
        self.lock = asyncio.Lock()


class Tab:
    def __init__(self, number: int, profile: Profile, server: int):
        self.number = number
        self.id = secrets.token_hex(16)  # 32 lowercase hex digits (records.is_id)
        self.profile = profile
        self.server = server
        self.lost = None  # set when the place is lost (moved, ended)
        self.moved = None  # the event set by a moved notice for the current place


class Load:
    def __init__(self, urls: list[str], tabs: int, duration: float, ramp: float, seed: int = 14, pool: int = 32):
        import httpx
        import http.cookiejar
        self.httpx = httpx
        self.urls = urls
        self.duration = duration
        self.ramp = ramp
        self.random = random.Random(seed)
        self.stats = Stats()
        self.stopping = asyncio.Event()
        self.sockets = set()
        self.open_sockets_max = 0
        # One pooled client a server for every profile: the session cookie goes in each request's
        # header (a jar that accepts nothing, so no cookie leaks from one profile to another).
        never = http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool, keepalive_expiry=4)
        self.clients = [httpx.AsyncClient(base_url=url, cookies=never, limits=limits,
                                          timeout=REQUEST_TIMEOUT) for url in urls]
        self.users = [User(f"load{index:05d}") for index in range(max(1, tabs // sum(PROFILE_TABS)))]
        self.tabs = []
        number = 0
        for user in self.users:
            for count in PROFILE_TABS:
                profile = Profile(user)
                for _ in range(count):
                    if number < tabs:
                        self.tabs.append(Tab(number, profile, number % len(urls)))
                        number += 1

    # --------------------------------------------------------------------- requests
    async def request(self, tab: Tab, method: str, path: str, sid: str | None, body=None, credentials=None):
        headers = {"X-Tabsession": "1"}
        if sid:
            headers["Cookie"] = f"tabsession={sid}"
        if credentials:
            headers[TAB_HEADER] = credentials
        started = time.perf_counter()
        try:
            response = await self.clients[tab.server].request(method, path, json=body, headers=headers)
        except Exception as error:
            self.stats.error(f"{method} {path}: {type(error).__name__}", str(error))
            return None, None, None, (time.perf_counter() - started) * 1000
        ms = (time.perf_counter() - started) * 1000
        self.stats.timeline.append((round(started - self.stats.started, 4), round(ms, 2),
                                    f"{method} {path} {response.status_code}", tab.server))
        self.stats.counts[f"{method} {path} {response.status_code}"] += 1
        if response.status_code >= 500:
            self.stats.error(f"{method} {path}: {response.status_code}", response.text[:200])
        try:
            data = response.json()
        except ValueError:
            data = None
            self.stats.error(f"{method} {path}: not JSON", response.text[:200])
        return response.status_code, data, response, ms

    async def signed_in(self, tab: Tab) -> str | None:
        profile = tab.profile
        async with profile.lock:
            if profile.sid is None:
                status, _, response, ms = await self.request(tab, "POST", "/api/session", None,
                                                             {"user": profile.user.name})
                if status == 200:
                    self.stats.signin_ms.append(ms)
                    for header in response.headers.get_list("set-cookie"):
                        if header.startswith("tabsession="):
                            profile.sid = header.split("=", 1)[1].split(";", 1)[0]
                    if profile.sid is None:
                        self.stats.error("sign-in: no cookie", str(response.headers))
            return profile.sid

    def forget(self, profile: Profile, sid: str) -> None:
        if profile.sid == sid:
            profile.sid = None

    async def pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stopping.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    # --------------------------------------------------------------------- a tab's life
    async def life(self, tab: Tab) -> None:
        await self.pause(self.random.uniform(0, self.ramp))
        use_here = False
        while not self.stopping.is_set():
            sid = await self.signed_in(tab)
            if sid is None:
                await self.pause(1.0)
                continue
            user = tab.profile.user
            taking = None
            if use_here and user.takeover is None:
                taking = user.takeover = {"sent": time.perf_counter(), "answer": None, "moved": None,
                                          "event": asyncio.Event(), "server": tab.server, "moved_server": None}
            status, data, _, ms = await self.request(tab, "POST", "/api/places", sid,
                                                     {"tab": tab.id, "use_here": taking is not None})
            if status in (200, 401, 409):
                self.stats.claim_ms.append(ms)
                if taking is not None:
                    self.stats.takeover_ms.append(ms)
            if taking is not None:
                if status == 200:
                    self.stats.counts["take-overs granted"] += 1
                    taking["answer"] = time.perf_counter()
                    asyncio.get_running_loop().create_task(self.await_moved(user, taking))
                else:
                    user.takeover = None
            use_here = False
            if status == 200:
                self.stats.claim_granted_ms.append(ms)
                await self.hold(tab, sid, f"{tab.id}.{data['epoch']}.{data['key']}")
                await self.pause(self.random.uniform(*AFTER_LOSS))
            elif status == 409:
                use_here = self.random.random() < TAKEOVER_SHARE
                await self.pause(self.random.uniform(*RETRY_EVERY))
            elif status == 401:
                self.forget(tab.profile, sid)
            else:
                await self.pause(1.0)

    async def await_moved(self, user: User, taking: dict) -> None:
        """One take-over's push latency: its answer to the moved tab's notice (within 2 s)."""
        try:
            await asyncio.wait_for(taking["event"].wait(), NOTICE_SECONDS + 1)
            # signed: a notice that came before the answer counts negative
            self.stats.push_ms.append((taking["moved"] - taking["answer"]) * 1000)
            self.stats.push_from_request_ms.append((taking["moved"] - taking["sent"]) * 1000)
            (self.stats.push_same_ms if taking["moved_server"] == taking["server"] else
             self.stats.push_cross_ms).append((taking["moved"] - taking["sent"]) * 1000)
            if taking["moved"] < taking["answer"]:
                self.stats.counts["moved before the answer"] += 1
        except asyncio.TimeoutError:
            # no moved notice: a place was free when it claimed (nothing was taken), or it was lost
            self.stats.counts["take-overs without a moved notice"] += 1
        finally:
            if user.takeover is taking:
                user.takeover = None

    def heard_moved(self, tab: Tab) -> None:
        self.stats.counts["moved notices"] += 1
        taking = tab.profile.user.takeover
        if taking is not None and taking["moved"] is None:
            taking["moved"] = time.perf_counter()
            taking["moved_server"] = tab.server
            taking["event"].set()
        elif taking is None:
            self.stats.counts["moved notices without a take-over in flight"] += 1

    async def listen(self, tab: Tab, socket, sid: str, lost: asyncio.Event, moved: asyncio.Event) -> None:
        try:
            async for message in socket:
                kind = json.loads(message).get("kind")
                self.stats.counts[f"push {kind}"] += 1
                if kind == "moved":
                    if not moved.is_set():
                        self.heard_moved(tab)
                    moved.set()
                    lost.set()
                    return
                if kind == "ended":
                    self.forget(tab.profile, sid)
                    lost.set()
                    return
        except Exception as error:
            if not self.stopping.is_set() and not lost.is_set():
                self.stats.error(f"push socket: {type(error).__name__}", str(error))

    async def hold(self, tab: Tab, sid: str, credentials: str) -> None:
        """Active: the push socket open, activity reported, until the place is lost or the end."""
        from websockets.asyncio.client import connect
        lost, moved = asyncio.Event(), asyncio.Event()
        socket = listener = None
        url = self.urls[tab.server]
        try:
            socket = await connect(url.replace("http://", "ws://") + "/api/push", origin=url,
                                   additional_headers={"Cookie": f"tabsession={sid}"},
                                   open_timeout=REQUEST_TIMEOUT, ping_interval=None, close_timeout=1)
            await socket.send(credentials)
            self.sockets.add(socket)
            self.open_sockets_max = max(self.open_sockets_max, len(self.sockets))
            listener = asyncio.get_running_loop().create_task(self.listen(tab, socket, sid, lost, moved))
        except Exception as error:
            self.stats.error(f"push connect: {type(error).__name__}", str(error))
            socket = None
        try:
            while not self.stopping.is_set() and not lost.is_set():
                waiting = asyncio.get_running_loop().create_task(lost.wait())
                stopping = asyncio.get_running_loop().create_task(self.stopping.wait())
                await asyncio.wait({waiting, stopping}, timeout=self.random.uniform(*ACTIVITY_EVERY),
                                   return_when=asyncio.FIRST_COMPLETED)
                waiting.cancel()
                stopping.cancel()
                if self.stopping.is_set() or lost.is_set():
                    break
                status, data, _, ms = await self.request(tab, "POST", "/api/activity", sid, {}, credentials)
                if status == 200:
                    self.stats.activity_ms.append(ms)
                    if self.random.random() < SIGNOUT_SHARE:
                        status, _, _, _ = await self.request(tab, "DELETE", "/api/session", sid)
                        self.stats.counts["sign-outs"] += 1
                        self.forget(tab.profile, sid)
                        try:
                            await asyncio.wait_for(lost.wait(), NOTICE_SECONDS)  # its own ended notice
                        except asyncio.TimeoutError:
                            self.stats.counts["sign-out without an ended notice"] += 1
                        break
                elif status == 409:
                    self.stats.activity_ms.append(ms)
                    try:
                        await asyncio.wait_for(moved.wait(), NOTICE_SECONDS)
                    except asyncio.TimeoutError:
                        kind = "without a push socket" if socket is None else "with its socket open"
                        self.stats.counts[f"place lost, no moved notice within 2 s ({kind})"] += 1
                        self.stats.counts[f"activity 409 {data and data.get('reason')}"] += 1
                    break
                elif status == 401:
                    self.stats.activity_ms.append(ms)
                    self.forget(tab.profile, sid)
                    break
        finally:
            if socket is not None:
                self.sockets.discard(socket)
                if not self.stopping.is_set():
                    await self.close_socket(socket)
            if listener is not None and not self.stopping.is_set():
                listener.cancel()

    async def close_socket(self, socket) -> None:
        try:
            await asyncio.wait_for(socket.close(), 2)
        except Exception:
            pass

    async def lag(self) -> None:
        """The generator's own event loop lag: how late a 100 ms sleep wakes up."""
        while not self.stopping.is_set():
            started = time.perf_counter()
            await asyncio.sleep(0.1)
            self.stats.lag_ms.append((time.perf_counter() - started - 0.1) * 1000)

    async def run(self, before_stop=None) -> None:
        lives = [asyncio.get_running_loop().create_task(self.life(tab)) for tab in self.tabs]
        lagging = asyncio.get_running_loop().create_task(self.lag())
        await asyncio.sleep(self.duration)
        self.measured_at_end = {"open_sockets": len(self.sockets)}
        if before_stop is not None:
            await before_stop()  # the final sample, while every tab still holds its place
        self.stopping.set()
        finished, pending = await asyncio.wait(lives, timeout=REQUEST_TIMEOUT + 5)
        for task in pending:
            task.cancel()
        self.stats.counts["tabs not stopped in time"] = len(pending)
        await asyncio.gather(*(self.close_socket(socket) for socket in list(self.sockets)))
        lagging.cancel()
        for client in self.clients:
            await client.aclose()


# ---------------------------------------------------------------------------------------------
# One run


def raise_open_files() -> tuple[int, int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def run_once(store: str, tabs: int, duration: float, workers: int = 1, keep: str | None = None,
             server_count: int = SERVERS, pool: int = 32) -> dict:
    from live_server import LiveServer
    from redis_server import RedisServer

    folder = Path(tempfile.mkdtemp(prefix=f"load-stores-{store}-{tabs}-", dir=keep))
    nofile = raise_open_files()
    redis = None
    servers = []
    result = {"store": store, "tabs": tabs, "users": tabs // sum(PROFILE_TABS), "duration_s": duration,
              "max_tabs": MAX_TABS, "servers": server_count, "client_pool": pool, "workers": workers, "open_files_limit": list(nofile),
              "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "load_before": load()}
    try:
        if store == "redis":
            redis = RedisServer(folder / "redis").start()
            spec = redis.url
        else:
            spec = f"sqlite:{folder / 'tabsession.sqlite'}"
        for index in range(server_count):
            servers.append(LiveServer("--store", spec, "--max-tabs", MAX_TABS, "--policy", "block",
                                      "--idle-timeout", 86400, "--warn-before", 60, "--workers", workers,
                                      logs_in=folder, name=f"serve{index}",
                                      start_timeout_s=30).start())
        pids = {f"serve{index}": server.process.pid for index, server in enumerate(servers)}
        if redis is not None:
            pids["redis"] = redis.process.pid

        def all_pids(name, pid):  # with --workers, uvicorn's worker processes are children
            from machine import descendants
            return [pid] + (descendants(pid) if name.startswith("serve") else [])

        sys.path.insert(0, str(ROOT / "bench"))
        sampler = StoreSampler(spec, MAX_TABS)
        cpu_before = {name: sum(proc_cpu_seconds(p) for p in all_pids(name, pid)) for name, pid in pids.items()}
        own_before = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        busy_before, total_before = machine_cpu()
        started = time.perf_counter()
        load_run = None
        # the tabs open over the ramp (200 a second, at most 30 s): a page load is not a storm
        ramp = min(30.0, max(2.0, tabs / 200), duration / 2)
        samples = {}

        async def main():
            nonlocal load_run
            load_run = Load([server.url for server in servers], tabs, duration, ramp=ramp, pool=pool)

            async def at_end():
                samples["processes"] = {}
                for name, pid in pids.items():
                    memory = [proc_memory_mb(p) for p in all_pids(name, pid)]  # summed over workers
                    samples["processes"][name] = {
                        **{key: round(sum(m[key] for m in memory), 1) for key in memory[0]},
                        "open_files": sum(open_files(p) for p in all_pids(name, pid)),
                        "processes": len(memory)}
                samples["store"] = await asyncio.get_running_loop().run_in_executor(None, sampler.finish)

            await load_run.run(at_end)

        asyncio.run(main())
        elapsed = time.perf_counter() - started
        (folder / "timeline.json").write_text(json.dumps(load_run.stats.timeline))
        busy_after, total_after = machine_cpu()
        stats = load_run.stats
        processes = {}
        for name, pid in pids.items():
            cpu = sum(proc_cpu_seconds(p) for p in all_pids(name, pid)) - cpu_before[name]
            processes[name] = {"cpu_s": round(cpu, 2), "cpu_percent": round(100 * cpu / elapsed, 1),
                               **samples["processes"][name]}
        own = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - own_before
        claims = len(stats.claim_ms)
        steady = [ms for at, ms, what, _ in stats.timeline
                  if at >= ramp and what.startswith("POST /api/places ") and what[-3:] in ("200", "401", "409")]
        result.update({
            "ramp_s": ramp,
            "steady_claims_per_s": round(len(steady) / max(1e-9, duration - ramp), 1),
            "steady_claim_ms": {"n": len(steady), "p50": percentile(steady, 0.5), "p95": percentile(steady, 0.95),
                                "p99": percentile(steady, 0.99)},
            "elapsed_s": round(elapsed, 1),
            "claims": claims,
            "claims_per_s": round(claims / duration, 1),
            "claim_ms": {"p50": percentile(stats.claim_ms, 0.5), "p95": percentile(stats.claim_ms, 0.95),
                         "p99": percentile(stats.claim_ms, 0.99), "max": percentile(stats.claim_ms, 1.0)},
            "claim_granted_ms_p95": percentile(stats.claim_granted_ms, 0.95),
            "takeover_ms": {"n": len(stats.takeover_ms), "p50": percentile(stats.takeover_ms, 0.5),
                            "p95": percentile(stats.takeover_ms, 0.95)},
            "push_ms": {"n": len(stats.push_ms), "p50": percentile(stats.push_ms, 0.5),
                        "p95": percentile(stats.push_ms, 0.95), "p99": percentile(stats.push_ms, 0.99),
                        "max": percentile(stats.push_ms, 1.0)},
            "push_from_request_ms": {"p50": percentile(stats.push_from_request_ms, 0.5),
                                     "p95": percentile(stats.push_from_request_ms, 0.95),
                                     "p99": percentile(stats.push_from_request_ms, 0.99)},
            "push_from_request_same_server_ms": {
                "n": len(stats.push_same_ms), "p50": percentile(stats.push_same_ms, 0.5),
                "p95": percentile(stats.push_same_ms, 0.95)},
            "push_from_request_other_server_ms": {
                "n": len(stats.push_cross_ms), "p50": percentile(stats.push_cross_ms, 0.5),
                "p95": percentile(stats.push_cross_ms, 0.95)},
            "activity_ms": {"n": len(stats.activity_ms), "p50": percentile(stats.activity_ms, 0.5),
                            "p95": percentile(stats.activity_ms, 0.95)},
            "signin_ms": {"n": len(stats.signin_ms), "p50": percentile(stats.signin_ms, 0.5),
                          "p95": percentile(stats.signin_ms, 0.95)},
            "processes": processes,
            "generator": {"cpu_s": round(own, 2), "cpu_percent": round(100 * own / elapsed, 1),
                          "loop_lag_ms_p50": percentile(stats.lag_ms, 0.5),
                          "loop_lag_ms_p99": percentile(stats.lag_ms, 0.99),
                          "loop_lag_ms_max": percentile(stats.lag_ms, 1.0),
                          "open_sockets_max": load_run.open_sockets_max,
                          "open_sockets_at_end": load_run.measured_at_end["open_sockets"]},
            "machine_cpu_percent": round(100 * (busy_after - busy_before) / max(1, total_after - total_before), 1),
            # what the rest of the machine used meanwhile, in % of one core (others share it)
            "others_cpu_percent": round(100 * (busy_after - busy_before) / CLK_TCK / elapsed
                                        - sum(p["cpu_percent"] for p in processes.values())
                                        - 100 * (own + samples["store"]["cpu_seconds"]) / elapsed, 1),
            "store_check": samples["store"],
            "violations": samples["store"]["violations"],
            "counts": dict(sorted(stats.counts.items())),
            "errors": dict(sorted(stats.errors.items())),
            "error_examples": stats.error_examples,
            "load_after": load(),
        })
    finally:
        for server in servers:
            server.stop()
        if redis is not None:
            redis.stop()
    stderr = {f"serve{index}": server.stderr() for index, server in enumerate(servers)}
    result["server_stderr_lines"] = {name: len(text.splitlines()) for name, text in stderr.items()}
    result["server_stderr_tail"] = {name: text[-3000:] for name, text in stderr.items() if text.strip()}
    result["server_exit"] = {f"serve{index}": server.process.returncode for index, server in enumerate(servers)}
    result["logs"] = str(folder)
    return result


def summary_line(result: dict) -> str:
    processes = result["processes"]
    serve = [value for name, value in processes.items() if name.startswith("serve")]
    return (f"{result['store']:6} {result['tabs']:5} tabs {result['duration_s']:.0f} s: "
            f"{result['claims_per_s']} claims/s, claim p50/p95/p99 {result['claim_ms']['p50']}/"
            f"{result['claim_ms']['p95']}/{result['claim_ms']['p99']} ms, push p50/p95 "
            f"{result['push_ms']['p50']}/{result['push_ms']['p95']} ms (n={result['push_ms']['n']}), "
            f"serve CPU {'/'.join(str(p['cpu_s']) for p in serve)} s, RSS "
            f"{'/'.join(str(p['rss_mb']) for p in serve)} MB, generator {result['generator']['cpu_percent']}%, "
            f"violations {result['violations']} in {result['store_check']['samples']} samples, "
            f"errors {sum(result['errors'].values())}, load {result['load_before']} -> {result['load_after']}")


# ---------------------------------------------------------------------------------------------
# The chart


def chart(path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [run for run in json.loads(path.read_text())["runs"] if run.get("chart", True)]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for store, colour in (("sqlite", "tab:blue"), ("redis", "tab:red")):
        mine = sorted((run for run in runs if run["store"] == store), key=lambda run: run["tabs"])
        if not mine:
            continue
        tabs = [run["tabs"] for run in mine]
        axes[0].plot(tabs, [run["claim_ms"]["p95"] for run in mine], "o-", color=colour, label=f"{store} claim p95")
        axes[0].plot(tabs, [run["claim_ms"]["p50"] for run in mine], "o--", color=colour, alpha=0.5,
                     label=f"{store} claim p50")
        axes[0].plot(tabs, [run["push_from_request_ms"]["p95"] for run in mine], "s:", color=colour,
                     label=f"{store} push p95 (from the take-over's request)")
        axes[1].plot(tabs, [run["claims_per_s"] for run in mine], "o-", color=colour, label=store)
        axes[2].plot(tabs, [sum(p["cpu_percent"] for n, p in run["processes"].items() if n.startswith("serve"))
                            for run in mine], "o-", color=colour, label=f"{store}: both serve.py, CPU %")
        axes[2].plot(tabs, [sum(p["rss_mb"] for n, p in run["processes"].items() if n.startswith("serve"))
                            for run in mine], "s--", color=colour, label=f"{store}: both serve.py, RSS MB")
        axes[2].plot(tabs, [run["generator"]["cpu_percent"] for run in mine], "^:", color=colour,
                     label=f"{store}: the load generator, CPU %")
    axes[0].axhline(20, color="grey", linewidth=0.8, linestyle="--")
    axes[0].axhline(50, color="grey", linewidth=0.8, linestyle=":")
    axes[0].set(xscale="log", yscale="log", xlabel="tabs", ylabel="ms",
                title="claim and push latency (targets: 20 ms, 50 ms)")
    axes[1].set(xscale="log", xlabel="tabs", ylabel="claims / s", title="claims answered per second")
    axes[2].set(xscale="log", xlabel="tabs", title="cost: CPU % (of one core) and RSS MB\n(5,000: 2 serve.py x 3 workers)")
    for axis in axes:
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7)
    figure.suptitle("two serve.py sharing one store, max-tabs 2, 5 tabs a user (bench/load_stores.py)")
    figure.tight_layout()
    out = path.with_name("chart.png")
    figure.savefig(out, dpi=100)
    return out


# ---------------------------------------------------------------------------------------------
# The table


def table(runs: list[dict]) -> str:
    """The Markdown table of results.md, one row a run."""
    def ms(value):
        return "-" if value is None else (f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}")

    rows = ["| store | tabs (users) | serve.py | s | load avg before → after | others' CPU | claims/s "
            "| claim p50 / p95 / p99 ms | after the ramp: p50 / p95 / p99 ms "
            "| push p50 / p95 ms from the answer | push p50 / p95 ms from the request | serve.py CPU s (% of a core) "
            "| serve.py RSS MB | redis CPU s, RSS MB | generator CPU, loop lag p99 ms | violations (samples) "
            "| errors |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        serve = [value for name, value in sorted(run["processes"].items()) if name.startswith("serve")]
        redis = run["processes"].get("redis")
        errors = run["errors"]
        rows.append("| " + " | ".join([
            run["store"], f"{run['tabs']:,} ({run['users']:,})",
            f"{run['servers']}" + (f" × {run['workers']} workers" if run.get("workers", 1) > 1 else ""),
            f"{run['duration_s']:.0f}",
            f"{run['load_before'][0]:.1f} → {run['load_after'][0]:.1f}",
            f"{run.get('others_cpu_percent', '-')}%",
            f"{run['claims_per_s']:.0f}",
            " / ".join(ms(run["claim_ms"][key]) for key in ("p50", "p95", "p99")),
            " / ".join(ms(run["steady_claim_ms"][key]) for key in ("p50", "p95", "p99"))
            if "steady_claim_ms" in run else "-",
            " / ".join(ms(run["push_ms"][key]) for key in ("p50", "p95")) + f" (n={run['push_ms']['n']:,})",
            " / ".join(ms(run["push_from_request_ms"][key]) for key in ("p50", "p95")),
            " + ".join(f"{p['cpu_s']:.1f} ({p['cpu_percent']:.0f}%)" for p in serve),
            " + ".join(f"{p['rss_mb']:.0f}" for p in serve),
            f"{redis['cpu_s']:.1f}, {redis['rss_mb']:.0f}" if redis else "-",
            f"{run['generator']['cpu_percent']:.0f}%, {ms(run['generator']['loop_lag_ms_p99'])}",
            f"{run['violations']} ({run['store_check']['samples']})",
            (", ".join(f"{count} {kind}" for kind, count in errors.items() if "not JSON" not in kind) or "0"),
        ]) + " |")
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--store", choices=("sqlite", "redis"), default="redis")
    parser.add_argument("--tabs", type=int, default=100)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    parser.add_argument("--workers", type=int, default=1, help="serve.py --workers of each of the two")
    parser.add_argument("--servers", type=int, default=SERVERS, help="serve.py processes sharing the store")
    parser.add_argument("--pool", type=int, default=32, help="the generator's HTTP connections to each server")
    parser.add_argument("--json", metavar="FILE", help="append the run to this file's runs")
    parser.add_argument("--note", help="a note kept with the run")
    parser.add_argument("--logs", help="keep the servers' logs under this folder")
    parser.add_argument("--chart", metavar="FILE", help="only draw chart.png beside this results.json")
    parser.add_argument("--table", metavar="FILE", help="only print the Markdown table of this results.json")
    parser.add_argument("--sample", metavar="STORE", help=argparse.SUPPRESS)
    parser.add_argument("--max-tabs", type=int, default=MAX_TABS, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.sample:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        return sample_forever(options.sample, options.max_tabs, SAMPLE_EVERY)
    if options.table:
        print(table(json.loads(Path(options.table).read_text())["runs"]))
        return 0
    if options.chart:
        print(chart(Path(options.chart)))
        return 0
    if not 1 <= options.tabs <= 20000 or not 1 <= options.duration <= 600:
        parser.error("--tabs 1..20000, --duration 1..600")
    result = run_once(options.store, options.tabs, options.duration, options.workers, options.logs,
                      options.servers, options.pool)
    if options.note:
        result["note"] = options.note
    print(summary_line(result), file=sys.stderr)
    if options.json:
        path = Path(options.json)
        data = json.loads(path.read_text()) if path.exists() else {"runs": []}
        data["runs"].append(result)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1) + "\n")
    else:
        print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
