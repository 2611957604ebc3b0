"""``SQLiteStore``: the store for several serve.py processes on one machine (``--store sqlite:PATH``).

Every process that names the same file is one server (S6), and everything is on disk once a
write has answered, so a process killed at any moment loses nothing (S7).

- WAL mode: readers never wait for the writer, and a committed write survives the process.
- Each ``update_user`` is one ``BEGIN IMMEDIATE`` transaction: the write lock is taken *before*
  the record is read, so two processes can never both read "a place is free" and both take it
  (a plain ``BEGIN`` reads under a shared lock and fails, or lets both win, when it upgrades).
- A busy timeout bounds the wait for another process's lock; past it (a file held locked by
  someone else) the operation is ``StoreUnavailable`` and the API answers 503 within S8's 5 s.
  The waiting is ours, not SQLite's: SQLite's own busy handler sleeps ever longer (up to 100 ms
  a try), so a process with a queue of writes kept the lock between its transactions while the
  other slept, and ran out of time (seen as "database is locked" in CI with two clients of fifty
  writes each). We try again every 1-4 ms at random until the busy timeout has passed.
- sqlite3 blocks, so each process talks to the file from one thread of its own (one connection,
  no sharing across threads); an operation whose caller has already given up is skipped rather
  than run late.
- The bus is a table: ``publish`` appends a row; every process reads the rows after the last one
  it saw, every ``POLL_SECONDS``. Rows older than ``KEEP_NOTICES_SECONDS`` are pruned.

Tables: ``users(name, record JSON, due)``, ``sids(sid, user)``, ``notices(id, at, body)``.
"""

import asyncio
import concurrent.futures
import os
import random
import sqlite3
import time
from typing import Awaitable, Callable

from tabsession.server.store import (Result, StoreUnavailable, UserChange, decode_record, encode_record,
                                     sid_changes)

BUSY_TIMEOUT_SECONDS = 2.0
RETRY_SECONDS = (0.001, 0.004)  # the pause between two tries for a lock another process holds
OPERATION_SECONDS = 4.0  # an operation not started by then is skipped: its caller answered 503
POLL_SECONDS = 0.05
KEEP_NOTICES_SECONDS = 120.0
PRUNE_EVERY_SECONDS = 10.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, record TEXT NOT NULL, due REAL);
CREATE INDEX IF NOT EXISTS users_due ON users (due) WHERE due IS NOT NULL;
CREATE TABLE IF NOT EXISTS sids (sid TEXT PRIMARY KEY, user TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notices (id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, body TEXT NOT NULL);
"""


class SQLiteStore:
    def __init__(self, path: str, busy_timeout: float = BUSY_TIMEOUT_SECONDS):
        self.path = path
        self.busy_timeout = busy_timeout
        self._connection: sqlite3.Connection | None = None
        self._thread: concurrent.futures.ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    # -------------------------------------------------------------- the thread
    def _connect(self) -> None:
        if self._connection is not None:
            return
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise StoreUnavailable(f"no folder {folder}")
        connection = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
        try:
            connection.execute("PRAGMA busy_timeout = 0")  # _run waits, fairly (see above)
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreUnavailable(f"{self.path} cannot use WAL mode (journal_mode is {mode})")
            # WAL with synchronous=NORMAL: a committed transaction survives a crash of the process
            # (S7); only a power cut may lose the last ones.
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.executescript(SCHEMA)
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    async def _run(self, work: Callable[[sqlite3.Connection], Result]) -> Result:
        """``work(connection)`` in this store's thread; sqlite3's errors become StoreUnavailable."""
        if self._thread is None:
            self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tabsession-sqlite")
        give_up = time.monotonic() + OPERATION_SECONDS

        def run():
            if time.monotonic() > give_up:
                raise StoreUnavailable("skipped: its caller gave up waiting")
            busy_until = time.monotonic() + self.busy_timeout
            while True:
                try:
                    self._connect()
                    return work(self._connection)
                except sqlite3.OperationalError as error:
                    if not _is_busy(error) or time.monotonic() >= busy_until:
                        raise StoreUnavailable(f"sqlite: {error}") from None
                except sqlite3.Error as error:
                    raise StoreUnavailable(f"sqlite: {error}") from None
                time.sleep(random.uniform(*RETRY_SECONDS))  # nothing was written: work rolled back

        return await asyncio.get_running_loop().run_in_executor(self._thread, run)

    # -------------------------------------------------------------- Store
    async def open(self) -> None:
        try:
            await self._run(lambda connection: connection.execute("SELECT count(*) FROM users").fetchone())
        except OSError as error:
            raise StoreUnavailable(f"sqlite: {error}") from None

    async def close(self) -> None:
        if self._thread is not None:
            def shut(connection):
                connection.close()
                self._connection = None
            try:
                await self._run(shut)
            except StoreUnavailable:
                pass
            self._thread.shutdown(wait=False)
            self._thread = None

    async def update_user(self, user: str, change: UserChange) -> Result:
        def work(connection: sqlite3.Connection):
            connection.execute("BEGIN IMMEDIATE")
            try:
                row = connection.execute("SELECT record FROM users WHERE name = ?", (user,)).fetchone()
                old = decode_record(row[0]) if row else None
                record, result = change(old)
                added, removed = sid_changes(old, record)
                connection.executemany("DELETE FROM sids WHERE sid = ?", [(sid,) for sid in removed])
                connection.executemany("INSERT OR REPLACE INTO sids (sid, user) VALUES (?, ?)",
                                       [(sid, user) for sid in added])
                if record.is_empty():
                    connection.execute("DELETE FROM users WHERE name = ?", (user,))
                else:
                    connection.execute("INSERT OR REPLACE INTO users (name, record, due) VALUES (?, ?, ?)",
                                       (user, encode_record(record), record.due))
                connection.execute("COMMIT")
                return result
            except BaseException:
                connection.execute("ROLLBACK")
                raise

        return await self._run(work)

    async def get_user(self, user: str):
        row = await self._run(lambda connection: connection.execute(
            "SELECT record FROM users WHERE name = ?", (user,)).fetchone())
        return decode_record(row[0]) if row else None

    async def user_of(self, sid: str) -> str | None:
        row = await self._run(lambda connection: connection.execute(
            "SELECT user FROM sids WHERE sid = ?", (sid,)).fetchone())
        return row[0] if row else None

    async def users_due(self, now: float) -> list[str]:
        rows = await self._run(lambda connection: connection.execute(
            "SELECT name FROM users WHERE due IS NOT NULL AND due <= ? ORDER BY due LIMIT 1000",
            (now,)).fetchall())
        return [row[0] for row in rows]

    def bus(self) -> "SQLiteBus":
        return SQLiteBus(self)


def _is_busy(error: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED: another connection holds the lock, so trying again may work."""
    code = getattr(error, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(error) or "busy" in str(error)


class SQLiteBus:
    """The ``Bus`` of an ``SQLiteStore``: a table every process appends to and polls."""

    def __init__(self, store: SQLiteStore):
        self.store = store

    async def publish(self, message: str) -> None:
        await self.store._run(lambda connection: connection.execute(
            "INSERT INTO notices (at, body) VALUES (?, ?)", (time.time(), message)))

    async def listen(self, on_message: Callable[[str], Awaitable[None]],
                     on_gap: Callable[[], Awaitable[None]]) -> None:
        last = None
        pruned = 0.0
        missed = False
        while True:
            try:
                if last is None:
                    last = await self.store._run(lambda connection: connection.execute(
                        "SELECT coalesce(max(id), 0) FROM notices").fetchone()[0])
                after = last
                rows = await self.store._run(lambda connection: connection.execute(
                    "SELECT id, body FROM notices WHERE id > ? ORDER BY id LIMIT 500", (after,)).fetchall())
                if rows and rows[0][0] != after + 1 and after:
                    missed = True  # pruned before we read them (a long stop), or ids skipped
                if missed:
                    missed = False
                    await on_gap()
                for identifier, body in rows:
                    last = identifier
                    await on_message(body)
                if time.monotonic() - pruned > PRUNE_EVERY_SECONDS:
                    pruned = time.monotonic()
                    await self.store._run(lambda connection: connection.execute(
                        "DELETE FROM notices WHERE at < ?", (time.time() - KEEP_NOTICES_SECONDS,)))
                if len(rows) < 500:
                    await asyncio.sleep(POLL_SECONDS)
            except StoreUnavailable:
                missed = True  # rows are kept, but a long stop may outlast them: re-check after
                await asyncio.sleep(POLL_SECONDS * 10)
