"""Fixtures for the stores (imported by the conftest files that need them):

- ``redis_server``: one real redis-server for the whole run (tests/support/redis_server.py);
  skipped where Debian's redis-server is not installed, except in CI (CI=true), where that fails.
- ``store_spec``: parametrised over ``memory``, ``sqlite`` and ``redis``; a ``--store`` value
  naming a fresh, empty store for this test.
- ``make_store``: ``make_store()`` opens another client of that same store, as another serve.py
  process would (memory has one process only, so it returns the same store).
"""

import itertools
import os

import pytest
import redis_server as redis_support

STORE_KINDS = ["memory", "sqlite", "redis"]
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    if not redis_support.available():
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed (./dev setup installs Debian's redis-server)")
        pytest.skip("redis-server is not installed (sudo apt-get install redis-server)")
    server = redis_support.RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(params=STORE_KINDS)
def store_kind(request):
    return request.param


@pytest.fixture
def store_spec(store_kind, tmp_path, request):
    if store_kind == "memory":
        return "memory"
    if store_kind == "sqlite":
        return f"sqlite:{tmp_path / 'tabsession.db'}"
    server = request.getfixturevalue("redis_server")
    # a database of its own per test would run out (16); a fresh one: flush it
    return f"{server.url[:-2]}/{next(_numbers) % 15 + 1}"


@pytest.fixture
def make_store(store_spec):
    from tabsession.server.store import MemoryStore
    from tabsession.server.stores import open_store

    if store_spec.startswith("redis://"):
        import redis

        redis.Redis.from_url(store_spec).flushdb()
    made = []
    memory = MemoryStore()

    def make():
        if store_spec == "memory":
            return memory
        store = open_store(store_spec)
        made.append(store)
        return store
    return make
