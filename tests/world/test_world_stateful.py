"""Random sequences of what people do with tabs; the contract's invariants hold after every step."""

import random

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from fake_browser import DOCUMENT_MODES, World
from tabsession.core import records as rec

PATHS = st.sampled_from(["/", "/login", "/?report=7", "/login?reason=active-elsewhere",
                         "/login?next=%2F%2Fevil.example", "/login?reason=idle"])
NAMES = st.sampled_from(["alice", "bob", "  carol  ", "", "x" * 65])
PICK = st.integers(min_value=0, max_value=10 ** 6)
MAX_NAVIGATIONS_PER_STEP = 3


class Tabs(RuleBasedStateMachine):
    """One browser profile; each rule is one thing a person (or the machine) does."""

    @initialize(max_tabs=st.integers(min_value=0, max_value=3),
                policy=st.sampled_from(["block", "takeover"]),
                shuffled=st.booleans(), seed=st.integers(min_value=0, max_value=2 ** 16),
                document_mode=st.sampled_from(DOCUMENT_MODES))
    def make_world(self, max_tabs, policy, shuffled, seed, document_mode):
        self.world = World(max_tabs=max_tabs, policy=policy, idle_timeout=900, warn_before=60,
                           absolute_timeout=3600, document_mode=document_mode)
        # Within each step, pending tasks run in order or shuffled (lock results, storage events
        # and messages of one step may arrive in any order).
        self.world.rng = random.Random(seed) if shuffled else None
        self.navigations = {}

    def pick(self, index):
        tabs = self.world.tabs
        return tabs[index % len(tabs)]

    def has_tabs(self):
        return bool(self.world.tabs)

    def counting(self):
        self.navigations = {tab: tab.navigations for tab in self.world.tabs}

    @rule(path=PATHS)
    def open(self, path):
        self.counting()
        self.world.open(path)

    @precondition(has_tabs)
    @rule(index=PICK)
    def duplicate(self, index):
        self.counting()
        self.world.duplicate(self.pick(index))

    @precondition(has_tabs)
    @rule(index=PICK)
    def reload(self, index):
        self.counting()
        self.world.reload(self.pick(index))

    @precondition(has_tabs)
    @rule(index=PICK, path=PATHS)
    def navigate(self, index, path):
        self.counting()
        self.world.navigate(self.pick(index), path)

    @precondition(has_tabs)
    @rule(index=PICK)
    def close(self, index):
        self.counting()
        self.world.close(self.pick(index))

    @precondition(has_tabs)
    @rule(index=PICK)
    def crash(self, index):
        self.counting()
        self.world.crash(self.pick(index))

    @precondition(has_tabs)
    @rule(index=PICK)
    def use_here(self, index):
        self.counting()
        self.world.click_use_here(self.pick(index))

    @precondition(has_tabs)
    @rule(index=PICK)
    def logout(self, index):
        self.counting()
        tab = self.pick(index)
        in_session = tab.state in (rec.ACTIVE, rec.MOVED, rec.BLOCKED)
        self.world.sign_out(tab)
        if in_session:
            # Every tab has followed the logout to the login page; none is still in the session.
            assert [] == [other for other in self.world.tabs
                          if other.state in (rec.ACTIVE, rec.MOVED, rec.BLOCKED)]
            assert [] == [other for other in self.world.tabs if other.page.kind == "app"]

    @precondition(has_tabs)
    @rule(index=PICK, name=NAMES)
    def sign_in(self, index, name):
        self.counting()
        self.world.sign_in(self.pick(index), name)

    @precondition(has_tabs)
    @rule(index=PICK)
    def activity(self, index):
        self.counting()
        self.world.activity(self.pick(index))

    @precondition(has_tabs)
    @rule(index=PICK)
    def stay_signed_in(self, index):
        self.counting()
        self.world.stay_signed_in(self.pick(index))

    @rule(seconds=st.sampled_from([0.5, 1, 30, 300, 850, 901, 4000]))
    def advance(self, seconds):
        self.counting()
        self.world.advance(seconds)

    @invariant()
    def contract_holds(self):
        world = getattr(self, "world", None)
        if world is None:
            return
        assert [] == world.violations()

    @invariant()
    def no_redirect_loops(self):
        world = getattr(self, "world", None)
        if world is None:
            return
        loops = [(tab, tab.navigations - self.navigations.get(tab, 0)) for tab in world.tabs
                 if tab.navigations - self.navigations.get(tab, 0) > MAX_NAVIGATIONS_PER_STEP]
        assert [] == loops

    @invariant()
    def expired_sessions_show_nobody_active(self):
        world = getattr(self, "world", None)
        if world is None or world.session_is_live():
            return
        assert [] == world.active()


Tabs.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None,
                                  suppress_health_check=[HealthCheck.too_slow])
TestTabs = Tabs.TestCase
TestTabs.__doc__ = "Random open/duplicate/reload/close/crash/use-here/logout/sign-in/advance keep the contract."
