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

from typing import Callable, Protocol, TypeVar

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
