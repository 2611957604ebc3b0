"""Where the server keeps its records: the store interface, and ``MemoryStore``.

A store knows nothing of the rules (``registry.py``). It keeps one ``UserRecord`` per user, an
index from session id to user (a request names only its sid), and the index of each record's
``due`` time for the sweep. Its one atomic primitive is ``update_user``: read a user's record,
apply a pure synchronous function, write the result, as one operation. So a store for SQLite
(one ``BEGIN IMMEDIATE`` transaction) or Redis (``WATCH``/``MULTI``, retried; the function is
pure, so running it again is safe) is added beside this one without touching the rules, keeping
records as JSON through ``UserRecord.to_dict``/``from_dict``.

Must not import: any framework, the clock, randomness.
"""

from __future__ import annotations

import json
from typing import Awaitable, Callable, Protocol, TypeVar

from tabsession.server.registry import UserRecord

Result = TypeVar("Result")
UserChange = Callable[[UserRecord | None], tuple[UserRecord, Result]]


class Store(Protocol):
    """The face every store shows. All methods are async: real stores wait on I/O."""

    async def update_user(self, user: str, change: UserChange) -> Result:
        """Atomically: ``record, result = change(current record or None)``; keep ``record``
        (forget it when ``record.is_empty()``), index its sids and ``due``; return ``result``.
        ``change`` is pure and may be called more than once (an optimistic store retries)."""

    async def get_user(self, user: str) -> UserRecord | None:
        """The user's record as last written, or ``None``."""

    async def user_of(self, sid: str) -> str | None:
        """The user whose record holds session ``sid`` (live or tombstone), or ``None``."""

    async def users_due(self, now: float) -> list[str]:
        """The users whose record's ``due`` time is at or before ``now``."""

    async def open(self) -> None:
        """Connect, create what is missing, and prove the store answers; raise
        ``StoreUnavailable`` with a one-line reason if it does not (serve.py exits then)."""

    async def close(self) -> None: ...

    def bus(self) -> Bus | None:
        """The message bus shared by every process of this store, or ``None`` (one process)."""


class StoreUnavailable(Exception):
    """The store did not answer in time, or refused (locked, gone, busy past the retry bound).
    The API answers 503 ``server-unavailable`` (S8); nothing was written."""


class Bus(Protocol):
    """How the server processes sharing a store tell each other what happened (S6): a shared
    store offers one (``store.bus()``); ``MemoryStore`` has none, its process being the only one.
    Messages are short strings; a process hears every message, its own too, in order, except
    while it cannot reach the store: ``listen`` then calls ``on_gap`` once it hears again, so that
    the process can re-check what it may have missed."""

    async def publish(self, message: str) -> None: ...

    async def listen(self, on_message: Callable[[str], Awaitable[None]],
                     on_gap: Callable[[], Awaitable[None]]) -> None:
        """Run until cancelled, calling ``on_message`` for each message."""


def encode_record(record: UserRecord) -> str:
    return json.dumps(record.to_dict(), separators=(",", ":"))


def decode_record(text: str | bytes | None) -> UserRecord | None:
    """A stored record, or ``None``; a record that does not decode (written by something else,
    or damaged) is ``StoreUnavailable``: answered 503, never taken for "no record"."""
    if text is None:
        return None
    try:
        return UserRecord.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise StoreUnavailable(f"a stored record does not decode: {type(error).__name__}") from None


def sid_changes(old: UserRecord | None, new: UserRecord) -> tuple[set[str], set[str]]:
    """The sids to add to and remove from the sid index when ``old`` becomes ``new``."""
    before = old.sids() if old is not None else set()
    after = new.sids()
    return after - before, before - after


class MemoryStore:
    """Everything in dicts of this process: for one serve.py, and for the tests.

    ``update_user`` is atomic without a lock: ``change`` is synchronous and nothing between
    the read and the write awaits, so no other task can run in between.
    """

    def __init__(self):
        self._users: dict[str, UserRecord] = {}
        self._user_by_sid: dict[str, str] = {}

    async def update_user(self, user: str, change: UserChange) -> Result:
        old = self._users.get(user)
        record, result = change(old)
        added, removed = sid_changes(old, record)
        for sid in removed:
            del self._user_by_sid[sid]
        for sid in added:
            self._user_by_sid[sid] = user
        if record.is_empty():
            self._users.pop(user, None)
        else:
            self._users[user] = record
        return result

    async def get_user(self, user: str) -> UserRecord | None:
        return self._users.get(user)

    async def user_of(self, sid: str) -> str | None:
        return self._user_by_sid.get(sid)

    async def users_due(self, now: float) -> list[str]:
        return [user for user, record in self._users.items() if record.due is not None and record.due <= now]

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    def bus(self) -> None:
        return None

