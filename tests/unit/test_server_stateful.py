"""Authority over MemoryStore against a model, driven by Hypothesis through random histories.

Several users, several profiles (sessions) per user, several tabs each: sign-ins, claims, steals,
releases, crashes (a drop without the tab's key), sign-outs, sweeps, replays of any credential
ever granted, and a clock that steps forward. The model knows only what the rules promise from
the outside: when each session must end and why, and which credentials can no longer be current.
"""

import asyncio
from dataclasses import dataclass

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, initialize, invariant, multiple, rule

from tabsession.server.registry import Deadlines, Denied, Ended, Granted, Moved, PlaceFree, Policy, Refused
from tabsession.server.service import Authority
from tabsession.server.store import MemoryStore
from server_fakes import Clock, LoopThread, Tokens

T0 = 1700000000.0
IDLE = 600
ABSOLUTE = 2000
RETENTION = 300
USERS = ("alice", "bob")
TABS = ("t1", "t2", "t3")


@dataclass
class ModelSession:
    user: str
    started: float
    last_activity: float
    signed_out_at: float | None = None
    announced: bool = False

    def end(self) -> tuple[float, str]:
        """When and why this session ends (or ended), as the rules promise."""
        if self.signed_out_at is not None:
            return self.signed_out_at, "signed-out"
        idle_at, absolute_at = self.last_activity + IDLE, self.started + ABSOLUTE
        return (absolute_at, "expired") if absolute_at <= idle_at else (idle_at, "idle")

    def is_live(self, now: float) -> bool:
        return now < self.end()[0]

    def expected_denial(self, now: float) -> Denied:
        at, reason = self.end()
        return Denied(401, "signed-out" if now >= at + RETENTION else reason)


@dataclass
class Credential:
    sid: str
    tab_id: str
    epoch: int
    key: str
    superseded: bool = False


class AuthorityMachine(RuleBasedStateMachine):
    sids = Bundle("sids")
    credentials = Bundle("credentials")

    def __init__(self):
        super().__init__()
        self.loop = LoopThread(asyncio.new_event_loop())
        self.clock = Clock()
        self.store = MemoryStore()
        self.sessions: dict[str, ModelSession] = {}
        self.granted: list[Credential] = []
        self.last_epoch: dict[str, int] = {}

    def teardown(self):
        self.loop.close()

    def run(self, coroutine):
        return self.loop.run(coroutine)

    @initialize(max_tabs=st.integers(1, 3), policy=st.sampled_from(["block", "takeover"]))
    def start(self, max_tabs, policy):
        self.policy = Policy(max_tabs=max_tabs, policy=policy, idle_seconds=IDLE,
                             absolute_seconds=ABSOLUTE, warn_seconds=60, retention_seconds=RETENTION,
                             orphan_seconds=None)  # the model has no connections (R17)
        self.authority = Authority(self.store, self.policy, clock=self.clock, token=Tokens())

    # -------------------------------------------------------------- model bookkeeping
    def is_current(self, credential: Credential) -> bool:
        return not credential.superseded and self.sessions[credential.sid].is_live(self.clock.now)

    def supersede(self, sid: str, tab_id: str):
        for credential in self.granted:
            if credential.sid == sid and credential.tab_id == tab_id:
                credential.superseded = True

    def take_notices(self, notices):
        """Notices agree with the model: each end told once, with its reason; moves supersede."""
        for notice in notices:
            if isinstance(notice, Ended):
                session = self.sessions[notice.sid]
                assert not session.announced
                assert not session.is_live(self.clock.now)
                assert session.end()[1] == notice.reason
                session.announced = True
            elif isinstance(notice, Moved):
                assert self.current_of(notice.sid, notice.tab_id) is not None
                self.supersede(notice.sid, notice.tab_id)
            else:
                assert isinstance(notice, PlaceFree)

    def current_of(self, sid: str, tab_id: str) -> Credential | None:
        found = [c for c in self.granted if c.sid == sid and c.tab_id == tab_id and self.is_current(c)]
        assert len(found) <= 1
        return found[0] if found else None

    # -------------------------------------------------------------- rules
    @rule(target=sids, user=st.sampled_from(USERS))
    def sign_in(self, user):
        if self.run(self.store.get_user(user)) is None:
            self.last_epoch.pop(user, None)  # a new record: its counter starts again (R14)
        session, notices = self.run(self.authority.sign_in(user))
        self.take_notices(notices)
        self.sessions[session.sid] = ModelSession(user, self.clock.now, self.clock.now)
        return session.sid

    @rule(target=credentials, sid=sids, tab_id=st.sampled_from(TABS), use_here=st.booleans())
    def claim(self, sid, tab_id, use_here):
        model = self.sessions[sid]
        result, notices = self.run(self.authority.claim(sid, tab_id, use_here))
        self.take_notices(notices)
        if not model.is_live(self.clock.now):
            assert model.expected_denial(self.clock.now) == result
            return multiple()
        if isinstance(result, Refused):
            assert (Refused(409, "active-elsewhere"), False, "block") == (result, use_here, self.policy.policy)
            return multiple()
        assert isinstance(result, Granted)
        self.assert_epoch_grows(model.user, result.epoch)
        self.supersede(sid, tab_id)
        credential = Credential(sid, tab_id, result.epoch, result.key)
        self.granted.append(credential)
        return credential

    def assert_epoch_grows(self, user, epoch):
        """Fencing numbers only grow while the user's record exists (R6, R14)."""
        assert epoch > self.last_epoch.get(user, 0)
        self.last_epoch[user] = epoch

    @rule(credential=credentials)
    def check(self, credential):
        """Replays of any credential ever granted: accepted exactly while it is current."""
        result = self.run(self.authority.check(credential.sid, credential.tab_id, credential.epoch, credential.key))
        self.assert_answer(credential, result, tuple)

    @rule(credential=credentials, other=credentials)
    def forge(self, credential, other):
        """A tab's sid, tab id and epoch with another grant's key (or epoch) is never accepted."""
        for epoch, key in ((credential.epoch, other.key), (other.epoch, credential.key)):
            result = self.run(self.authority.check(credential.sid, credential.tab_id, epoch, key))
            forged = (epoch, key) != (credential.epoch, credential.key)
            assert not (forged and isinstance(result, tuple))

    @rule(credential=credentials)
    def touch(self, credential):
        result, notices = self.run(self.authority.touch(credential.sid, credential.tab_id,
                                                        credential.epoch, credential.key))
        self.take_notices(notices)
        self.assert_answer(credential, result, Deadlines)
        if isinstance(result, Deadlines):
            self.sessions[credential.sid].last_activity = self.clock.now

    def assert_answer(self, credential, result, accepted_type):
        model = self.sessions[credential.sid]
        if not model.is_live(self.clock.now):
            assert model.expected_denial(self.clock.now) == result
        elif credential.superseded:
            assert isinstance(result, Refused)
        else:
            assert isinstance(result, accepted_type)

    @rule(credential=consumes(credentials))
    def release(self, credential):
        current = self.is_current(credential)
        freed, notices = self.run(self.authority.release(credential.sid, credential.tab_id,
                                                         credential.epoch, credential.key))
        self.take_notices(notices)
        assert current == freed
        credential.superseded = True

    @rule(sid=sids, tab_id=st.sampled_from(TABS))
    def crash(self, sid, tab_id):
        """The tab's push connection closed: its place is freed without its consent."""
        current = self.current_of(sid, tab_id) if self.sessions[sid].is_live(self.clock.now) else None
        freed, notices = self.run(self.authority.drop(sid, tab_id))
        self.take_notices(notices)
        assert (current is not None) == freed
        self.supersede(sid, tab_id)

    @rule(sid=sids)
    def sign_out(self, sid):
        model = self.sessions[sid]
        was_live = model.is_live(self.clock.now)
        if was_live:
            model.signed_out_at = self.clock.now
        notices = self.run(self.authority.sign_out(sid))
        self.take_notices(notices)
        assert was_live == (Ended(sid, "signed-out") in notices)

    @rule(seconds=st.sampled_from([0.5, 1, 30, 299, 300, 599, 600, 1000]))
    def step_clock(self, seconds):
        self.clock.now += seconds

    @rule()
    def sweep(self):
        """After a sweep every session that ended has been told, exactly once."""
        self.take_notices(self.run(self.authority.expire()))
        assert all(model.announced for model in self.sessions.values() if not model.is_live(self.clock.now))

    # -------------------------------------------------------------- invariants
    @invariant()
    def never_more_than_max_tabs(self):
        for user in USERS:
            record = self.run(self.store.get_user(user))
            assert record is None or len(record.places) <= self.policy.max_tabs

    @invariant()
    def sessions_live_exactly_until_their_deadline(self):
        """Deadlines follow the server clock; an ended session never comes back."""
        for sid, model in self.sessions.items():
            actual = self.run(self.authority.session(sid))
            if model.is_live(self.clock.now):
                assert sid == actual.sid
            else:
                assert model.expected_denial(self.clock.now) == actual

    @invariant()
    def accepted_credentials_are_current_and_few(self):
        accepted = {user: 0 for user in USERS}
        for credential in self.granted:
            result = self.run(self.authority.check(credential.sid, credential.tab_id,
                                                   credential.epoch, credential.key))
            assert isinstance(result, tuple) == self.is_current(credential)
            accepted[self.sessions[credential.sid].user] += isinstance(result, tuple)
        assert all(count <= self.policy.max_tabs for count in accepted.values())


AuthorityMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
test_authority_against_the_model = AuthorityMachine.TestCase
