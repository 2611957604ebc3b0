"""The store that ``--store`` names (CONTRACT: memory, ``sqlite:PATH``, ``redis://HOST:PORT/DB``).

Each kind imports only when named: a server on memory or SQLite needs no Redis client installed.
"""

from tabsession.server.store import MemoryStore


def open_store(spec: str):
    """The store that ``--store`` names: ``memory``, ``sqlite:PATH`` or ``redis://HOST:PORT/DB``
    (not yet opened: call ``await store.open()`` in the event loop that will use it)."""
    if spec == "memory":
        return MemoryStore()
    if spec.startswith("sqlite:") and len(spec) > len("sqlite:"):
        from tabsession.server.store_sqlite import SQLiteStore
        return SQLiteStore(spec[len("sqlite:"):])
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from tabsession.server.store_redis import RedisStore
        return RedisStore(spec)
    raise ValueError(f"expected memory, sqlite:PATH or redis://HOST:PORT/DB, got {spec!r}")
