"""SQLiteStore.update_user on one file from 1 or 2 processes, 8 concurrent tasks each, 6 s: write
latency and throughput of the store alone (no HTTP, no rules), for docs/bench/stores/results.md.

    .venv/bin/python docs/bench/stores/sqlite_lock.py
"""
import asyncio, json, multiprocessing, os, sys, tempfile, time
FOLDER = tempfile.mkdtemp(prefix="sqlite-lock-")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "app"))
from tabsession.server.store_sqlite import SQLiteStore
from tabsession.server.registry import UserRecord, Session, Lease
from dataclasses import replace

def record(user, n):
    sessions = tuple(Session(f"{user}s{i}".ljust(32, "x"), user, 1.0, 2.0) for i in range(2))
    places = tuple(Lease(sessions[i % 2].sid, f"{i:032x}", i, i, "k" * 43, 3.0) for i in range(2))
    return UserRecord(user, epoch=n, clock=5.0, sessions=sessions, places=places, due=100.0)

def worker(path, index, tasks, seconds, busy, out):
    async def main():
        store = SQLiteStore(path)
        lat = []
        stop = time.monotonic() + seconds
        async def spin():
            while time.monotonic() < stop:
                t = time.perf_counter()
                while time.perf_counter() - t < busy: pass   # the loop busy (parsing, JSON, ...)
                await asyncio.sleep(0)
        async def one(k):
            n = 0
            while time.monotonic() < stop:
                user = f"u{index}-{k}-{n % 50}"
                t = time.perf_counter()
                await store.update_user(user, lambda old: (replace(record(user, n)), None))
                lat.append((time.perf_counter() - t) * 1000)
                n += 1
        jobs = [one(k) for k in range(tasks)] + ([spin()] if busy else [])
        await asyncio.gather(*jobs)
        await store.close()
        out.put(lat)
    asyncio.run(main())

def run(processes, tasks, busy, seconds=6):
    path = os.path.join(FOLDER, f"lock-{processes}.sqlite")
    for suffix in ("", "-wal", "-shm"):
        try: os.remove(path + suffix)
        except OSError: pass
    asyncio.run(SQLiteStore(path).open())
    out = multiprocessing.Queue()
    ps = [multiprocessing.Process(target=worker, args=(path, i, tasks, seconds, busy, out)) for i in range(processes)]
    for p in ps: p.start()
    lat = [x for _ in ps for x in out.get(timeout=seconds + 30)]
    for p in ps: p.join()
    lat.sort()
    q = lambda s: round(lat[min(len(lat) - 1, int(s * len(lat)))], 1)
    return {"processes": processes, "tasks": tasks, "busy_ms": busy * 1000, "writes_per_s": round(len(lat) / seconds),
            "p50": q(0.5), "p95": q(0.95), "p99": q(0.99), "max": round(lat[-1], 1)}

if __name__ == "__main__":
    print("load", os.getloadavg())
    for args in [(1, 8, 0), (2, 8, 0)]:
        print(json.dumps(run(*args)), flush=True)
    print("load", os.getloadavg())
