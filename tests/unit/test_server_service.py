"""Authority over MemoryStore with a fake clock and predictable tokens, and the store's contract."""

import asyncio
from dataclasses import replace

import pytest

from tabsession.server.registry import (CONFLICT, UNAUTHORIZED, Deadlines, Denied, Ended, Granted,
                                        Moved, PlaceFree, Policy, Refused, Session, TabEntry, UserRecord)
from tabsession.server.service import Authority
from tabsession.server.store import MemoryStore
from server_fakes import Clock, Tokens, run_async

T0 = 1700000000.0
IDLE = 900
ABSOLUTE = 28800


def make_authority(store=None, **policy):
    # orphans (R17) have their own tests: here a lease lives as long as its session
    values = {"idle_seconds": IDLE, "absolute_seconds": ABSOLUTE, "retention_seconds": 3600, "orphan_seconds": None}
    values.update(policy)
    return Authority(store or MemoryStore(), Policy(**values), clock=Clock(), token=Tokens())


def run(coroutine):
    return run_async(coroutine)


def signed_out():
    return Denied(UNAUTHORIZED, "signed-out")


# ------------------------------------------------------------------ Authority
def test_sign_in_returns_a_session_with_a_fresh_sid():
    """The sid comes from the token callable and the times from the clock."""
    authority = make_authority()

    actual = run(authority.sign_in("alice"))

    assert (Session("token-1", "alice", T0, T0), []) == actual


def test_a_session_is_found_by_its_sid_until_signed_out():
    """session(sid) answers the live session, then 401 signed-out after sign_out."""
    authority = make_authority()

    async def scenario():
        session, _ = await authority.sign_in("alice")
        before = await authority.session(session.sid)
        notices = await authority.sign_out(session.sid)
        return before == session, notices, await authority.session(session.sid)

    assert (True, [Ended("token-1", "signed-out")], signed_out()) == run(scenario())


def test_claim_check_touch_release_with_credentials():
    """A granted tab checks 200, touches (deadlines move), releases, then is active-elsewhere."""
    authority = make_authority()
    clock = authority.clock

    async def scenario():
        session, _ = await authority.sign_in("alice")
        granted, _ = await authority.claim(session.sid, "t")
        checked = await authority.check(session.sid, "t", granted.epoch, granted.key)
        clock.now += 100
        deadlines, _ = await authority.touch(session.sid, "t", granted.epoch, granted.key)
        released = await authority.release(session.sid, "t", granted.epoch, granted.key)
        after = await authority.check(session.sid, "t", granted.epoch, granted.key)
        return granted, checked[1].tab_id, deadlines.idle_at, released, after

    actual = run(scenario())

    assert (Granted(0, 1, "token-2"), "t", T0 + 100 + IDLE, (True, [PlaceFree("alice")]),
            Refused(CONFLICT, "active-elsewhere")) == actual


def test_use_here_moves_the_other_profiles_tab():
    """Across two profiles of one user: block refuses, use-here takes over and says Moved."""
    authority = make_authority()

    async def scenario():
        laptop, _ = await authority.sign_in("alice")
        phone, _ = await authority.sign_in("alice")
        first, _ = await authority.claim(laptop.sid, "t1")
        refused, _ = await authority.claim(phone.sid, "t2")
        taken, notices = await authority.claim(phone.sid, "t2", use_here=True)
        moved = await authority.check(laptop.sid, "t1", first.epoch, first.key)
        return refused, isinstance(taken, Granted), notices, moved

    actual = run(scenario())

    assert (Refused(CONFLICT, "active-elsewhere"), True, [Moved("token-1", "t1")],
            Refused(CONFLICT, "taken-over")) == actual


def test_every_operation_on_an_unknown_sid_answers_without_a_record():
    """A forged cookie: 401 signed-out for claim, check, touch, session, tabs; False for the rest;
    and the store keeps nothing."""
    store = MemoryStore()
    authority = make_authority(store)

    async def scenario():
        return [await authority.claim("forged", "t"), await authority.check("forged", "t", 1, "k"),
                await authority.touch("forged", "t", 1, "k"), await authority.session("forged"),
                await authority.tabs("forged"), await authority.release("forged", "t", 1, "k"),
                await authority.drop("forged", "t"), await authority.sign_out("forged"),
                await authority.user_of("forged"), await store.get_user("")]

    actual = run(scenario())

    assert [(signed_out(), []), signed_out(), (signed_out(), []), signed_out(), signed_out(),
            (False, []), (False, []), [], None, None] == actual


def test_expire_sweeps_due_sessions_by_the_server_clock():
    """expire() ends sessions whose deadline passed on the server clock and says so."""
    authority = make_authority()

    async def scenario():
        session, _ = await authority.sign_in("alice")
        await authority.claim(session.sid, "t")
        authority.clock.now = T0 + IDLE - 1
        early = await authority.expire()
        authority.clock.now = T0 + IDLE
        return early, await authority.expire(), await authority.session(session.sid)

    actual = run(scenario())

    assert ([], [Ended("token-1", "idle"), PlaceFree("alice")], Denied(UNAUTHORIZED, "idle")) == actual


def test_the_store_forgets_a_user_once_the_last_tombstone_goes():
    """After retention the sid is no longer indexed and the record is gone."""
    store = MemoryStore()
    authority = make_authority(store)

    async def scenario():
        session, _ = await authority.sign_in("alice")
        await authority.sign_out(session.sid)
        kept = await authority.user_of(session.sid)
        authority.clock.now = T0 + 3600
        await authority.expire()
        return kept, await authority.user_of(session.sid), await store.get_user("alice")

    assert ("alice", None, None) == run(scenario())


def test_tabs_and_remaining_for_the_api():
    """tabs(sid) lists entries without sids; remaining(session) counts on the server clock."""
    authority = make_authority(max_tabs=2)

    async def scenario():
        laptop, _ = await authority.sign_in("alice")
        phone, _ = await authority.sign_in("alice")
        await authority.claim(laptop.sid, "t1")
        await authority.claim(phone.sid, "t2")
        authority.clock.now += 60
        return await authority.tabs(laptop.sid), authority.remaining(laptop)

    listed, remaining = run(scenario())

    assert (TabEntry("t1", T0, False), TabEntry("t2", T0, True)) == listed
    assert {"idle": IDLE - 60, "absolute": ABSOLUTE - 60, "warn": IDLE - 60 - 60} == remaining


def test_drop_with_the_connections_epoch():
    """A late close of the old connection frees nothing; the current one's close frees the place."""
    authority = make_authority()

    async def scenario():
        session, _ = await authority.sign_in("alice")
        old, _ = await authority.claim(session.sid, "t")
        new, _ = await authority.claim(session.sid, "t")
        return (await authority.drop(session.sid, "t", old.epoch),
                await authority.drop(session.sid, "t", new.epoch))

    assert ((False, []), (True, [PlaceFree("alice")])) == run(scenario())


@pytest.mark.parametrize("max_tabs", [1, 3])
def test_simultaneous_claims_never_exceed_max_tabs(max_tabs):
    """Twenty profiles claiming at once (asyncio.gather): exactly max_tabs are granted (S3)."""
    authority = make_authority(max_tabs=max_tabs)

    async def scenario():
        sessions = [(await authority.sign_in("alice"))[0] for _ in range(20)]
        answers = await asyncio.gather(*(authority.claim(session.sid, "t") for session in sessions))
        return sum(isinstance(result, Granted) for result, _ in answers)

    assert max_tabs == run(scenario())


def test_a_check_reads_at_the_time_it_is_called():
    """Deadlines follow the authority's clock: check is Denied idle once the clock passes it."""
    authority = make_authority()

    async def scenario():
        session, _ = await authority.sign_in("alice")
        granted, _ = await authority.claim(session.sid, "t")
        authority.clock.now = T0 + IDLE
        return await authority.check(session.sid, "t", granted.epoch, granted.key)

    assert Denied(UNAUTHORIZED, "idle") == run(scenario())


def test_touch_answers_deadlines():
    """touch returns Deadlines as absolute server times."""
    authority = make_authority(warn_seconds=None)

    async def scenario():
        session, _ = await authority.sign_in("alice")
        granted, _ = await authority.claim(session.sid, "t")
        return await authority.touch(session.sid, "t", granted.epoch, granted.key)

    assert (Deadlines(T0 + IDLE, T0 + ABSOLUTE, None), []) == run(scenario())

# The store's contract (every store: memory, SQLite, Redis) is tests/server/test_stores.py.
