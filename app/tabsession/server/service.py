"""``Authority``: the rules of ``registry.py`` run through a store, atomically, on the real clock.

This is the only server code that reads the clock or draws random ids and keys; the HTTP routes
and the push connections are built on it and do neither. Each write is one ``update_user`` of
one user's record, so two requests (or two serve.py processes sharing a store) can never both
take the last place. Writes answer ``(result, notices)``: the push layer must deliver the
notices (``Moved``, ``Ended``, ``PlaceFree``). Reads answer a result and change nothing.

Must not import: any framework (no Starlette here; it is the caller).
"""

import secrets
import time
from typing import Callable

from tabsession.server import registry
from tabsession.server.registry import (Deadlines, Denied, Granted, Lease, Notice, Policy, Refused,
                                        Session, TabEntry, UserRecord)
from tabsession.server.store import Store


class Authority:
    def __init__(self, store: Store, policy: Policy, clock: Callable[[], float] = time.time,
                 token: Callable[[], str] = secrets.token_urlsafe):
        self.store = store
        self.policy = policy
        self.clock = clock
        self.token = token

    async def _write(self, user: str, operation, *arguments) -> tuple[object, list[Notice]]:
        now = self.clock()

        def change(record: UserRecord | None):
            outcome = operation(record or UserRecord(user), self.policy, now, *arguments)
            return outcome.record, outcome

        outcome = await self.store.update_user(user, change)
        return outcome.result, list(outcome.notices)

    async def _write_session(self, sid: str, absent, operation, *arguments) -> tuple[object, list[Notice]]:
        """Run ``operation`` on the record of session ``sid``; ``absent`` is the result when no
        record holds it (what the operation answers for a forgotten session)."""
        user = await self.store.user_of(sid)
        if user is None:
            return absent, []
        return await self._write(user, operation, sid, *arguments)

    async def _read_session(self, sid: str, reading, *arguments):
        user = await self.store.user_of(sid)
        record = await self.store.get_user(user) if user is not None else None
        if record is None:
            return registry.signed_out()
        return reading(record, self.policy, self.clock(), sid, *arguments)

    # -------------------------------------------------------------- writes
    async def sign_in(self, user: str) -> tuple[Session, list[Notice]]:
        """Start a new session for ``user`` (another profile's sessions go on). Returns the
        ``Session`` (its ``sid`` is the cookie's value) and the notices of the user's sessions
        that had ended meanwhile."""
        return await self._write(user, registry.sign_in, self.token())

    async def sign_out(self, sid: str) -> list[Notice]:
        """End session ``sid``. Returns the notices: ``Ended(sid, "signed-out")`` for every tab
        of it and ``PlaceFree`` when it held places; ``[]`` when it was not live."""
        _, notices = await self._write_session(sid, False, registry.sign_out)
        return notices

    async def claim(self, sid: str, tab_id: str, use_here: bool = False) -> tuple[Granted | Refused | Denied, list[Notice]]:
        """Ask a place for tab ``tab_id`` of session ``sid``; ``use_here`` takes one even under
        policy ``block``. Returns ``Granted(place_index, epoch, key)`` (the tab's credentials),
        ``Refused(409, "active-elsewhere")`` or ``Denied(401, reason)``, and the notices
        (``Moved`` for a tab whose place this took)."""
        return await self._write_session(sid, registry.signed_out(), registry.claim, tab_id, use_here, self.token())

    async def touch(self, sid: str, tab_id: str, epoch: int, key: str) -> tuple[Deadlines | Refused | Denied, list[Notice]]:
        """Report activity in an active tab. Returns the session's new ``Deadlines`` (see
        ``remaining``), or ``check``'s refusal, and the notices."""
        return await self._write_session(sid, registry.signed_out(), registry.touch, tab_id, epoch, key)

    async def release(self, sid: str, tab_id: str, epoch: int, key: str) -> tuple[bool, list[Notice]]:
        """The tab gives its place back. Returns whether a place was freed (``False`` for stale
        credentials or a session that is gone) and the notices (``PlaceFree``)."""
        return await self._write_session(sid, False, registry.release, tab_id, epoch, key)

    async def drop(self, sid: str, tab_id: str, epoch: int | None = None) -> tuple[bool, list[Notice]]:
        """The tab's push connection closed: free its place without its key. Pass the ``epoch``
        the connection was opened with, so that a reloaded tab's old connection closing late
        does not free its new place. Returns whether a place was freed, and the notices."""
        return await self._write_session(sid, False, registry.drop, tab_id, epoch)

    async def keep(self, user: str, tabs) -> tuple[int, list[Notice]]:
        """The tabs ``(sid, tab_id, epoch)`` of ``user`` hold their push connections here: their
        places are not orphans (R17). Returns how many leases it found, and the notices."""
        return await self._write(user, registry.keep, tuple(tabs))

    async def expire(self) -> list[Notice]:
        """The sweep: end every session past a deadline, forget old tombstones. Call it about
        once a second. Returns the notices (``Ended(sid, "idle" | "expired")``, ``PlaceFree``)."""
        notices = []
        for user in await self.store.users_due(self.clock()):
            _, more = await self._write(user, registry.expire)
            notices += more
        return notices

    # -------------------------------------------------------------- reads
    async def session(self, sid: str) -> Session | Denied:
        """The live session ``sid``, or ``Denied(401, "signed-out" | "idle" | "expired")``."""
        return await self._read_session(sid, registry.live_session)

    async def check(self, sid: str, tab_id: str, epoch: int, key: str) -> tuple[Session, Lease] | Refused | Denied:
        """Is this tab active with these credentials? ``(Session, Lease)`` if so, else
        ``Refused(409, "taken-over" | "active-elsewhere")`` or ``Denied(401, reason)``."""
        return await self._read_session(sid, registry.check, tab_id, epoch, key)

    async def tabs(self, sid: str) -> tuple[TabEntry, ...] | Denied:
        """The user's active tabs in every profile, as session ``sid`` may see them
        (``TabEntry(tab_id, last_active, elsewhere)``, no other session's sid), or ``Denied``."""
        return await self._read_session(sid, registry.tabs)

    async def user_and_tabs(self, sid: str) -> tuple[str, tuple[TabEntry, ...]] | Denied:
        """``tabs``, with the live session's user: what a sign-in page of a profile that signed
        in through another origin of the host needs to follow it (S6). One read, as ``tabs``."""
        def reading(record: UserRecord, policy: Policy, now: float, sid: str):
            entries = registry.tabs(record, policy, now, sid)
            return entries if isinstance(entries, Denied) else (record.user, entries)
        return await self._read_session(sid, reading)

    async def user_of(self, sid: str) -> str | None:
        """The user of session ``sid`` (live or ended but remembered), or ``None``."""
        return await self.store.user_of(sid)

    def remaining(self, session: Session) -> dict[str, float | None]:
        """Seconds until the session's ``idle``, ``absolute`` and ``warn`` deadlines (``None``
        = no limit): what the API sends, since the browser's clock may be wrong."""
        return registry.deadlines(session, self.policy).remaining(self.clock())
