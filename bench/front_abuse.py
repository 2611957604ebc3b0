"""The front end under abuse (issue 13), measured on loopback against serve.py servers it starts.

    .venv/bin/python bench/front_abuse.py [--json FILE] [--quick]

Each phase starts its own `serve.py --port 0` (the first line of its standard output names the
URL), sends traffic to 127.0.0.1 only, bounded in count and in time, and reads the server's
threads, open files and CPU from /proc/PID:

- slowloris: 300 connections each send a partial request head, then one byte every 2 s: are they
  closed (the head deadline) and when, how many threads and how much CPU the server uses, and
  whether a normal client is served meanwhile;
- fd-limit: serve.py with RLIMIT_NOFILE=64 and 200 silent connections opened at once: the
  server's CPU over 10 s (does the accept loop spin?), what it writes to standard error
  (tracebacks?), whether requests meanwhile get an answer (503) or are dropped, and that serving
  resumes once the flood closes;
- concurrency: 200 clients for 10 s, a new connection per request, GETs of / and of an app file:
  requests done, errors, p50/p99 latency, and the listen queue's overflows (TcpExtListenOverflows
  in /proc/net/netstat, system-wide: other traffic on the machine counts too);
- floor: 26,500 requests at 50, 100 and 200 concurrent clients (keep-alive, 10 requests a
  connection) with 0 errors; 10,600 downloads of the vendored Pyodide wasm cut off midway (half
  closed, half reset) with 0 tracebacks; the 79 traversal and other refused targets of the server
  tests (imported, served from their fake tree: test_allow_list.py's 58 refused targets,
  test_hostile_requests.py's 17 and the 4 of its raw request lines with a path trick) all refused.

Prints one line per phase as it goes, then a Markdown table; `--json FILE` keeps the figures.
The whole run takes about two minutes on two quiet cores (up to five on a busy machine: every
phase has a deadline of its own).
"""

import argparse
import asyncio
import json
import os
import random
import re
import resource
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVE_PY = ROOT / "serve.py"
for folder in ("app", "tests/support", "tests/server"):
    if str(ROOT / folder) not in sys.path:
        sys.path.insert(0, str(ROOT / folder))

CLK_TCK = os.sysconf("SC_CLK_TCK")
BIG_FILE = "/vendor/pyodide-314.0.7/pyodide.asm.wasm"
APP_FILE = "/app/tabsession/__init__.py"
LOAD_TARGETS = ("/", "/login", "/pyscript.toml", APP_FILE, "/static/app.css",
                "/vendor/pyscript-0.7.31/core.js")
FIRST_LINE = re.compile(r"Serving (http://127\.0\.0\.1:(\d+)/)")

# Today's http.server (issue 13), the figures to beat or to hold.
BEFORE = {
    "slowloris": "300 connections held 301 threads, nothing bounds them",
    "fd_limit": "accept loop at 56-87% CPU, requests dropped unanswered, 2,589 lines of tracebacks",
    "concurrency": "918 listen-queue overflows in 10 s",
    "host": "Host header not checked (DNS rebinding)",
    "floor_load": "26,500 requests at 50-200 concurrent, 0 errors",
    "floor_disconnects": "10,508 mid-download disconnects, 0 tracebacks",
    "floor_traversal": "79 traversal targets, all refused",
}


# ----------------------------------------------------------------------------------------------
# The server under test and what /proc says of it.


class Server:
    """serve.py on port 0 in a folder of its own; `nofile` lowers its RLIMIT_NOFILE."""

    def __init__(self, *arguments, nofile=None, logs=None):
        self.arguments = [str(argument) for argument in arguments]
        self.nofile = nofile
        self.logs = Path(tempfile.mkdtemp(prefix="front-abuse-", dir=logs))
        self.process = None
        self.port = None

    def _limit(self):
        if self.nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def start(self, timeout=20.0):
        with open(self.logs / "stdout.txt", "wb") as out, open(self.logs / "stderr.txt", "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, str(SERVE_PY), "--port", "0", *self.arguments], cwd=ROOT,
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, preexec_fn=self._limit)
        deadline = time.monotonic() + timeout
        while self.port is None:
            text = (self.logs / "stdout.txt").read_text(errors="replace")
            match = FIRST_LINE.match(text)
            if match and "\n" in text:
                self.port = int(match.group(2))
            elif self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"serve.py did not start: {text!r} {self.stderr()!r}")
            else:
                time.sleep(0.05)
        while True:  # until it answers
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                    sock.sendall(b"HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    if sock.recv(100).startswith(b"HTTP/1.1"):
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("serve.py does not answer")
            time.sleep(0.05)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=8)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def stderr(self) -> str:
        return (self.logs / "stderr.txt").read_text(errors="replace")

    def cpu_ticks(self) -> int:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15)

    def threads(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
        return 0

    def open_files(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))


class Sampler:
    """Samples a server's threads, open files and CPU every `every` seconds, in the loop."""

    def __init__(self, server: Server, every=0.25):
        self.server, self.every = server, every
        self.threads, self.files = [], []
        self.started = self.ticks = None
        self.task = None

    async def _run(self):
        while True:
            self.threads.append(self.server.threads())
            self.files.append(self.server.open_files())
            await asyncio.sleep(self.every)

    def start(self):
        self.started, self.ticks = time.monotonic(), self.server.cpu_ticks()
        self.task = asyncio.get_running_loop().create_task(self._run())
        return self

    def stop(self) -> dict:
        self.task.cancel()
        seconds = time.monotonic() - self.started
        cpu = (self.server.cpu_ticks() - self.ticks) / CLK_TCK
        return {"seconds": round(seconds, 1), "cpu_percent": round(100 * cpu / seconds, 1),
                "threads_max": max(self.threads, default=0), "open_files_max": max(self.files, default=0)}


def listen_overflows() -> int:
    """TcpExt ListenOverflows of this network namespace (as `nstat -az TcpExtListenOverflows`)."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:]))
            return int(table["ListenOverflows"])
    return 0


def tracebacks(text: str) -> int:
    return text.count("Traceback (most recent call last)")


def load() -> str:
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


def cpu_times() -> tuple[int, int]:
    """The machine's busy and total CPU ticks so far (/proc/stat), every process counted."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


# ----------------------------------------------------------------------------------------------
# Clients (asyncio streams).


def request_bytes(port: int, target: str, close: bool = True) -> bytes:
    extra = "Connection: close\r\n" if close else ""
    return f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}\r\n".encode()


async def read_response(reader) -> tuple[int, int]:
    """One response's status and body size (Content-Length framed)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status, length


def outcome_of(error: BaseException) -> str:
    if isinstance(error, asyncio.TimeoutError):
        return "timeout"
    if isinstance(error, (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError)):
        return "dropped"  # closed or reset without an answer
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    return type(error).__name__


async def get(port: int, target: str, timeout: float = 10.0) -> tuple[object, float]:
    """A GET on a new connection: (status or what went wrong, seconds)."""
    started = time.monotonic()
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request_bytes(port, target))
            status, _ = await read_response(reader)
    except Exception as error:  # noqa: BLE001 (each failure is a figure)
        status = outcome_of(error)
    finally:
        if writer is not None:
            writer.close()
    return status, time.monotonic() - started


def reset_on_close(writer) -> None:
    """SO_LINGER 0: close sends a reset, as a tab killed mid-download may."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def ms(value):
    return None if value is None else round(1000 * value, 1)


# ----------------------------------------------------------------------------------------------
# The phases.


async def slowloris(server: Server, count=300, byte_every=2.0, limit_s=25.0) -> dict:
    """`count` connections trickling a request head; a normal client every 0.5 s meanwhile."""
    port = server.port
    closed_after = []
    answered = []
    sampler = Sampler(server).start()
    stop_at = time.monotonic() + limit_s

    async def loris(index):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return
        opened = time.monotonic()
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        try:
            while time.monotonic() < stop_at:
                try:
                    data = await asyncio.wait_for(reader.read(4096), byte_every)
                except asyncio.TimeoutError:
                    writer.write(b"a")
                    await writer.drain()
                    continue
                if data:
                    answered.append(data.split(b"\r\n", 1)[0].decode(errors="replace"))
                    continue
                break
            else:
                return  # still open at the phase's end
        except OSError:
            pass
        closed_after.append(time.monotonic() - opened)
        writer.close()

    async def normal():
        results = []
        while time.monotonic() < stop_at and len(closed_after) < count:
            results.append(await get(port, "/", timeout=5))
            await asyncio.sleep(0.5)
        return results

    loris_tasks = [asyncio.create_task(loris(index)) for index in range(count)]
    normal_results = await normal()
    await asyncio.gather(*loris_tasks)
    figures = sampler.stop()
    ok = [seconds for status, seconds in normal_results if status == 200]
    return {
        "connections": count, "closed": len(closed_after),
        "closed_after_s_min": round(min(closed_after), 1) if closed_after else None,
        "closed_after_s_max": round(max(closed_after), 1) if closed_after else None,
        "answers_seen": sorted(set(answered)),
        "normal_requests": len(normal_results), "normal_ok": len(ok),
        "normal_latency_ms_max": ms(max(ok, default=None)),
        **figures, "stderr_tracebacks": tracebacks(server.stderr()),
    }


async def fd_limit(server: Server, count=200, hold_s=10.0) -> dict:
    """`count` silent connections held for `hold_s` against a server limited to 64 files."""
    port = server.port
    files_before = server.open_files()
    stderr_before = len(server.stderr().splitlines())
    sampler = Sampler(server).start()
    holders = []

    async def hold():
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
        except (OSError, asyncio.TimeoutError):
            return
        holders.append(writer)

    await asyncio.gather(*(hold() for _ in range(count)))
    probes = []
    stop_at = time.monotonic() + hold_s
    while time.monotonic() < stop_at:
        probes.append(await get(port, "/", timeout=min(4.0, max(0.5, stop_at - time.monotonic()))))
        await asyncio.sleep(0.25)
    figures = sampler.stop()
    for writer in holders:
        writer.close()
    closed_at = time.monotonic()
    resumed_after = None
    while resumed_after is None and time.monotonic() < closed_at + 10:
        if (await get(port, "/", timeout=5))[0] == 200:
            resumed_after = time.monotonic() - closed_at
        else:
            await asyncio.sleep(0.1)
    after = [await get(port, "/", timeout=5) for _ in range(20)]
    text = server.stderr()
    lines = text.splitlines()[stderr_before:]
    outcomes = {}
    for status, _ in probes:
        outcomes[str(status)] = outcomes.get(str(status), 0) + 1
    return {
        "nofile": server.nofile, "open_files_before": files_before, "connections": count,
        "held_open": len(holders), "probe_outcomes": outcomes,
        "probe_latency_ms_max": ms(max((seconds for _, seconds in probes), default=None)),
        **figures, "stderr_lines": len(lines), "stderr_tracebacks": tracebacks(text),
        "stderr_sample": lines[:3],
        "after_flood_ok": sum(status == 200 for status, _ in after), "after_flood_requests": len(after),
        "resumed_after_s": None if resumed_after is None else round(resumed_after, 2),
    }


async def concurrency(server: Server, clients=200, seconds=10.0) -> dict:
    """`clients` loops of GET / and GET of an app file, a new connection each, for `seconds`."""
    port = server.port
    latencies, errors = [], {}
    overflows_before = listen_overflows()
    sampler = Sampler(server).start()
    stop_at = time.monotonic() + seconds

    async def client(index):
        targets = ("/", APP_FILE)
        turn = index
        while time.monotonic() < stop_at:
            status, elapsed = await get(port, targets[turn % 2], timeout=10)
            turn += 1
            if status == 200:
                latencies.append(elapsed)
            else:
                errors[str(status)] = errors.get(str(status), 0) + 1

    await asyncio.gather(*(client(index) for index in range(clients)))
    figures = sampler.stop()
    return {
        "clients": clients, "requests": len(latencies) + sum(errors.values()), "errors": errors,
        "p50_ms": ms(percentile(latencies, 0.5)), "p99_ms": ms(percentile(latencies, 0.99)),
        "listen_overflows": listen_overflows() - overflows_before, **figures,
    }


async def floor_load(server: Server, stages=((50, 8500), (100, 9000), (200, 9000)),
                     per_connection=10, limit_s=150.0) -> dict:
    """Requests over keep-alive connections (`per_connection` each) at each concurrency."""
    port = server.port
    done, errors, latencies = 0, {}, []
    stop_at = time.monotonic() + limit_s
    sampler = Sampler(server).start()
    for clients, total in stages:
        left = [total]

        async def client(index):
            nonlocal done
            while left[0] > 0 and time.monotonic() < stop_at:
                batch = min(per_connection, left[0])
                left[0] -= batch
                writer = None
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    for turn in range(batch):
                        started = time.monotonic()
                        target = LOAD_TARGETS[(index + turn) % len(LOAD_TARGETS)]
                        writer.write(request_bytes(port, target, close=turn == batch - 1))
                        async with asyncio.timeout(10):
                            status, _ = await read_response(reader)
                        latencies.append(time.monotonic() - started)
                        done += 1
                        if status != 200:
                            errors[str(status)] = errors.get(str(status), 0) + 1
                except Exception as error:  # noqa: BLE001
                    key = outcome_of(error)
                    errors[key] = errors.get(key, 0) + 1
                finally:
                    if writer is not None:
                        writer.close()

        await asyncio.gather(*(client(index) for index in range(clients)))
    figures = sampler.stop()
    return {"requests": done, "cut_short_by_the_time_limit": time.monotonic() >= stop_at,
            "errors": errors, "p50_ms": ms(percentile(latencies, 0.5)),
            "p99_ms": ms(percentile(latencies, 0.99)), **figures,
            "stderr_tracebacks": tracebacks(server.stderr())}


async def floor_disconnects(server: Server, total=10600, clients=50, limit_s=90.0) -> dict:
    """Downloads of the big wasm cut off after a random part: half closed, half reset."""
    port = server.port
    done, failures = [0], {}
    left = [total]
    stop_at = time.monotonic() + limit_s
    sampler = Sampler(server).start()

    async def client(index):
        rng = random.Random(index)
        while left[0] > 0 and time.monotonic() < stop_at:
            left[0] -= 1
            writer = None
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(request_bytes(port, BIG_FILE))
                async with asyncio.timeout(10):
                    head = await reader.readuntil(b"\r\n\r\n")
                    if b" 200 " not in head.split(b"\r\n", 1)[0]:
                        raise RuntimeError(head[:40])
                    want, got = rng.randint(1, 2 * 1024 * 1024), 0
                    while got < want:
                        chunk = await reader.read(65536)
                        if not chunk:
                            break
                        got += len(chunk)
                if rng.random() < 0.5:
                    reset_on_close(writer)
                done[0] += 1
            except Exception as error:  # noqa: BLE001
                key = outcome_of(error)
                failures[key] = failures.get(key, 0) + 1
            finally:
                if writer is not None:
                    writer.close()

    await asyncio.gather(*(client(index) for index in range(clients)))
    figures = sampler.stop()
    await asyncio.sleep(0.5)
    text = server.stderr()
    after, _ = await get(port, "/", timeout=5)
    return {"disconnects": done[0], "failures": failures, **figures,
            "stderr_lines": len(text.splitlines()), "stderr_tracebacks": tracebacks(text),
            "served_after": after}


def traversal_targets() -> list[tuple[str, set[int]]]:
    """The refused targets of the server tests, with the statuses they expect (by import)."""
    import test_allow_list
    import test_hostile_requests

    def params(function):
        for mark in function.pytestmark:
            if mark.name == "parametrize":
                return mark.args[1]
        raise LookupError(function.__name__)

    targets = [(target, {status}) for target, status in params(test_allow_list.test_refused_target)]
    targets += [(target, set(statuses)) for target, statuses in
                params(test_hostile_requests.test_more_hostile_targets_are_refused_and_serving_goes_on)]
    # The raw requests whose request line carries a path trick (dot segments, a NUL, a raw byte);
    # sent as written (bytes).
    raw_requests = params(test_hostile_requests.test_hostile_raw_requests_are_refused_and_serving_goes_on)
    for raw, statuses in raw_requests:
        method, _, rest = raw.partition(b" ")
        target = rest.split(b" ", 1)[0]
        if method == b"GET" and any(trick in target for trick in (b"..", b"%2e", b"\x00", b"\xff")):
            targets.append((raw, statuses if isinstance(statuses, set) else {statuses}))
    return targets


def floor_traversal(logs) -> dict:
    """The 79 targets against the server tests' fake tree (symbolic links out, a pipe, ...)."""
    from serve_support import build_tree, exchange, parse_response, request

    base = Path(tempfile.mkdtemp(prefix="front-abuse-tree-", dir=logs))
    tree = build_tree(base / "root", base / "outside")
    targets = traversal_targets()
    wrong = []
    with Server("--root", tree, logs=logs) as server:
        for target, statuses in targets:
            if isinstance(target, bytes):
                status = parse_response(exchange(server.port, target)).status
            else:
                status = request(server.port, target).status
            if status not in statuses or not 400 <= status < 500:
                wrong.append((repr(target[:60]), status))
        text = server.stderr()
    return {"targets": len(targets), "refused": len(targets) - len(wrong), "wrong": wrong,
            "stderr_tracebacks": tracebacks(text)}


def host_check(server: Server) -> dict:
    """A rebinding's Host names another site: 400; the loopback name: 200."""
    from serve_support import parse_response, exchange

    statuses = {}
    for host in ("evil.example", f"127.0.0.1:{server.port}", f"localhost:{server.port}"):
        raw = f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
        statuses[host] = parse_response(exchange(server.port, raw)).status
    return {"statuses": statuses}


# ----------------------------------------------------------------------------------------------
# The run and its report.


def verdicts(results: dict) -> list[tuple[str, str, str, str]]:
    rows = []

    def row(key, now, met):
        rows.append((key, BEFORE[key], now, "met" if met else "NOT met"))

    if "slowloris" in results:
        s = results["slowloris"]
        row("slowloris", f"{s['closed']}/{s['connections']} closed {s['closed_after_s_min']}-"
            f"{s['closed_after_s_max']} s after opening; {s['threads_max']} threads, "
            f"{s['cpu_percent']}% CPU; normal client {s['normal_ok']}/{s['normal_requests']} "
            f"served (max {s['normal_latency_ms_max']} ms)",
            s["closed"] == s["connections"] and s["normal_ok"] == s["normal_requests"]
            and s["threads_max"] < 10)
    if "fd_limit" in results:
        f = results["fd_limit"]
        row("fd_limit", f"{f['cpu_percent']}% CPU over {f['seconds']} s; probes {f['probe_outcomes']}; "
            f"{f['stderr_lines']} stderr lines, {f['stderr_tracebacks']} tracebacks; serving resumed "
            f"{f['resumed_after_s']} s after the flood closed, then {f['after_flood_ok']}/"
            f"{f['after_flood_requests']} served",
            f["cpu_percent"] < 25 and f["stderr_tracebacks"] == 0
            and f["resumed_after_s"] is not None and f["after_flood_ok"] == f["after_flood_requests"]
            and not set(f["probe_outcomes"]) - {"200", "503"})
    if "concurrency" in results:
        c = results["concurrency"]
        row("concurrency", f"{c['listen_overflows']} overflows in {c['seconds']} s; {c['requests']} "
            f"requests, errors {c['errors'] or 0}, p50 {c['p50_ms']} ms, p99 {c['p99_ms']} ms",
            c["listen_overflows"] == 0 and not c["errors"])
    if "host" in results:
        h = results["host"]["statuses"]
        row("host", ", ".join(f"{host}: {status}" for host, status in h.items()),
            list(h.values())[0] == 400 and set(list(h.values())[1:]) == {200})
    if "floor_load" in results:
        fl = results["floor_load"]
        short = f" (cut short at {fl['seconds']} s)" if fl["cut_short_by_the_time_limit"] else ""
        row("floor_load", f"{fl['requests']} requests{short} in {fl['seconds']} s, errors {fl['errors'] or 0}, "
            f"p50 {fl['p50_ms']} ms, p99 {fl['p99_ms']} ms", fl["requests"] >= 26500 and not fl["errors"])
    if "floor_disconnects" in results:
        fd = results["floor_disconnects"]
        row("floor_disconnects", f"{fd['disconnects']} disconnects, failures {fd['failures'] or 0}, "
            f"{fd['stderr_tracebacks']} tracebacks, {fd['stderr_lines']} stderr lines",
            fd["disconnects"] >= 10508 and fd["stderr_tracebacks"] == 0 and fd["served_after"] == 200)
    if "floor_traversal" in results:
        ft = results["floor_traversal"]
        row("floor_traversal", f"{ft['refused']}/{ft['targets']} refused",
            ft["refused"] == ft["targets"] == 79)
    return rows


async def run(phases, logs) -> dict:
    results = {"machine": {"cores": os.cpu_count(), "load_before": load()}}
    busy, total = cpu_times()

    def note(name):
        print(f"{name}: {json.dumps(results[name])}", flush=True)

    if "slowloris" in phases:
        with Server(logs=logs) as server:
            results["slowloris"] = await slowloris(server)
            results["host"] = host_check(server)
        note("slowloris")
        note("host")
    if "fd_limit" in phases:
        with Server(nofile=64, logs=logs) as server:
            results["fd_limit"] = await fd_limit(server)
        note("fd_limit")
    if "concurrency" in phases:
        with Server(logs=logs) as server:
            results["concurrency"] = await concurrency(server)
        note("concurrency")
    if "floor" in phases:
        with Server(logs=logs) as server:
            results["floor_load"] = await floor_load(server)
            note("floor_load")
            results["floor_disconnects"] = await floor_disconnects(server)
            note("floor_disconnects")
        results["floor_traversal"] = floor_traversal(logs)
        note("floor_traversal")
    results["machine"]["load_after"] = load()
    busy_now, total_now = cpu_times()
    results["machine"]["cpu_busy_percent"] = round(100 * (busy_now - busy) / max(1, total_now - total), 1)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", metavar="FILE", help="write the figures there as JSON")
    parser.add_argument("--phase", action="append", choices=("slowloris", "fd_limit", "concurrency", "floor"),
                        help="run only these phases (repeatable; default: all)")
    options = parser.parse_args(argv)
    phases = options.phase or ("slowloris", "fd_limit", "concurrency", "floor")
    logs = tempfile.mkdtemp(prefix="front-abuse-")
    started = time.monotonic()
    results = asyncio.run(run(phases, logs))
    results["machine"]["seconds"] = round(time.monotonic() - started)
    print(f"\nmachine: {results['machine']} (server logs under {logs})\n")
    print("| attack | http.server (issue 13) | uvicorn front | |")
    print("|---|---|---|---|")
    for key, before, now, verdict in verdicts(results):
        print(f"| {key} | {before} | {now} | {verdict} |")
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
