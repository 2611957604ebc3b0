"""The model-based history test of tests/unit/test_server_stateful.py, on the shared stores: the
same random histories of sign-ins, claims, steals, crashes, sign-outs, sweeps and replays, with
every odd operation sent through a second client of the store (another serve.py process), so
that what one writes the other must read. Fewer examples than on memory: each step is real I/O.
"""

import importlib.util
import itertools
import os
import tempfile
from pathlib import Path

import pytest
import redis_server as redis_support
from hypothesis import settings

from tabsession.server.store_redis import RedisStore
from tabsession.server.store_sqlite import SQLiteStore

def _unit_module(name):
    path = Path(__file__).resolve().parents[1] / "unit" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"unit_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


AuthorityMachine = _unit_module("test_server_stateful").AuthorityMachine

_numbers = itertools.count()


class TwoClients:
    """A store seen through two clients, taking turns: every call goes to the next one."""

    def __init__(self, first, second):
        self._clients = itertools.cycle((first, second))

    def __getattr__(self, name):
        return getattr(next(self._clients), name)


class SQLiteMachine(AuthorityMachine):
    def __init__(self):
        super().__init__()
        self._folder = tempfile.TemporaryDirectory()
        path = os.path.join(self._folder.name, "store.db")
        self.store = TwoClients(SQLiteStore(path), SQLiteStore(path))

    def teardown(self):
        super().teardown()
        self._folder.cleanup()


class RedisMachine(AuthorityMachine):
    url = None  # set by the test, from the session's redis-server

    def __init__(self):
        super().__init__()
        prefix = f"stateful{next(_numbers)}:"
        self.store = TwoClients(RedisStore(self.url, prefix=prefix), RedisStore(self.url, prefix=prefix))


SQLiteMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)
RedisMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)
test_the_sqlite_store_against_the_model = SQLiteMachine.TestCase


@pytest.fixture
def redis_machine(redis_server):
    RedisMachine.url = redis_server.url
    return RedisMachine.TestCase("runTest")


def test_the_redis_store_against_the_model(redis_machine):
    redis_machine.runTest()
