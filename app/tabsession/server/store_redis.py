"""``RedisStore``: the store for serve.py processes on several machines (``--store redis://HOST:PORT/DB``).

Through redis-py's asyncio client; Valkey speaks the same protocol.

- Each ``update_user`` is a compare-and-set: read the record, run the pure change in Python,
  then one Lua script writes the new record, its sid index and its ``due`` entry only if the
  record is still the one read. The script runs atomically on the server, so two processes can
  never both take the last place; the loser reads again and retries, at most ``MAX_ATTEMPTS``
  times (a pure change is safe to run again). No connection is held between the read and the
  write, unlike ``WATCH``/``MULTI``.
- Keys expire when nothing in them can matter any more (``UserRecord.forget_at``, as a time to
  live counted from the record's clock, since Redis's clock may differ from ours), so Redis
  forgets a user even if every serve.py stopped for good.
- Timeouts everywhere: a frozen or stopped Redis makes an operation ``StoreUnavailable`` within
  ``OPERATION_SECONDS`` (the API answers 503), never a hung request. redis-py reconnects by
  itself once Redis answers again.
- The bus is Redis pub/sub on one channel, read by a thread of its own (see ``RedisBus.listen``).
  Messages published while a process is cut off are lost to it: its reader reconnects and calls
  ``on_gap`` so the process re-checks its tabs.

Keys (under ``prefix``): ``user:NAME`` (the record as JSON), ``sid:SID`` (its user), ``due`` (a
sorted set of users by due time), and the channel ``notices``.
"""

import asyncio
import random
import threading
import weakref
from typing import Awaitable, Callable

import redis as sync_redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from tabsession.server.store import (Result, StoreUnavailable, UserChange, decode_record, encode_record,
                                     sid_changes)

PREFIX = "tabsession:"
SOCKET_SECONDS = 1.5
OPERATION_SECONDS = 4.0
MAX_ATTEMPTS = 64
EXPIRY_SLACK_SECONDS = 60.0

# KEYS: user key, due set, then the sid keys to remove, then the sid keys of the record (each
#       written again, so that its expiry follows the record's).
# ARGV: the record read ("" = none), the record to write ("" = forget it), the user's name,
#       how many sid keys to remove, the time to live in ms ("" = none), the due time
#       ("" = none).
COMPARE_AND_SET = """
local current = redis.call('GET', KEYS[1])
if (current or '') ~= ARGV[1] then return 0 end
local removing = tonumber(ARGV[4])
for i = 3, 2 + removing do redis.call('DEL', KEYS[i]) end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[3])
  return 1
end
redis.call('SET', KEYS[1], ARGV[2])
for i = 3 + removing, #KEYS do redis.call('SET', KEYS[i], ARGV[3]) end
if ARGV[5] ~= '' then
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  for i = 3 + removing, #KEYS do redis.call('PEXPIRE', KEYS[i], ARGV[5]) end
else
  redis.call('PERSIST', KEYS[1])
end
if ARGV[6] ~= '' then redis.call('ZADD', KEYS[2], ARGV[6], ARGV[3])
else redis.call('ZREM', KEYS[2], ARGV[3]) end
return 1
"""


class RedisStore:
    def __init__(self, url: str, prefix: str = PREFIX):
        self.url = url
        self.prefix = prefix
        # One client per event loop: redis-py's connections belong to the loop that opened them
        # (a server process has one loop; the in-process tests run one per simulated profile).
        self._clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis]" = \
            weakref.WeakKeyDictionary()
        self._scripts = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r})"

    def _redis(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = aioredis.Redis.from_url(
                self.url, socket_timeout=SOCKET_SECONDS, socket_connect_timeout=SOCKET_SECONDS,
                # one retry: a pooled connection that Redis's restart closed is re-opened once
                retry=Retry(NoBackoff(), 1), health_check_interval=10)
            self._clients[loop] = client
            self._scripts[loop] = client.register_script(COMPARE_AND_SET)
        return client

    async def _call(self, work: Callable[[aioredis.Redis], Awaitable[Result]]) -> Result:
        try:
            async with asyncio.timeout(OPERATION_SECONDS):
                return await work(self._redis())
        except (RedisError, OSError, TimeoutError) as error:
            raise StoreUnavailable(f"redis: {type(error).__name__}: {str(error)[:120]}") from None

    def _user_key(self, user: str) -> str:
        return f"{self.prefix}user:{user}"

    def _sid_key(self, sid: str) -> str:
        return f"{self.prefix}sid:{sid}"

    # -------------------------------------------------------------- Store
    async def open(self) -> None:
        await self._call(lambda client: client.ping())

    async def close(self) -> None:
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            try:
                await client.aclose()
            except (RedisError, OSError):
                pass

    async def update_user(self, user: str, change: UserChange) -> Result:
        async def work(client: aioredis.Redis):
            for attempt in range(MAX_ATTEMPTS):
                raw = await client.get(self._user_key(user))
                old = decode_record(raw)
                record, result = change(old)
                _, removed = sid_changes(old, record)
                keys = [self._user_key(user), self.prefix + "due",
                        *(self._sid_key(sid) for sid in sorted(removed)),
                        *(self._sid_key(sid) for sid in sorted(record.sids()))]
                if record.is_empty():
                    # forgetting the record unindexes every sid it held
                    keys[2:] = [self._sid_key(sid) for sid in sorted(old.sids())] if old else []
                    removed = old.sids() if old else set()
                # a time to live, from the record's own clock: Redis's clock may differ from ours
                expiry = "" if record.forget_at is None else \
                    str(max(1000, int((record.forget_at - record.clock + EXPIRY_SLACK_SECONDS) * 1000)))
                arguments = [raw or b"", b"" if record.is_empty() else encode_record(record), user,
                             len(removed), expiry, "" if record.due is None else repr(record.due)]
                if await self._scripts[asyncio.get_running_loop()](keys=keys, args=arguments, client=client):
                    return result
                # another process wrote between our read and our write: read again
                await asyncio.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))
            raise StoreUnavailable(f"redis: {user!r} changed under us {MAX_ATTEMPTS} times running")

        return await self._call(work)

    async def get_user(self, user: str):
        return decode_record(await self._call(lambda client: client.get(self._user_key(user))))

    async def user_of(self, sid: str) -> str | None:
        value = await self._call(lambda client: client.get(self._sid_key(sid)))
        return value.decode("utf-8", "replace") if value is not None else None

    async def users_due(self, now: float) -> list[str]:
        values = await self._call(lambda client: client.zrangebyscore(
            self.prefix + "due", "-inf", now, start=0, num=1000))
        return [value.decode("utf-8", "replace") for value in values]

    def bus(self) -> "RedisBus":
        return RedisBus(self)


class RedisBus:
    """The ``Bus`` of a ``RedisStore``: Redis pub/sub on ``PREFIX + "notices"``."""

    def __init__(self, store: RedisStore):
        self.store = store
        self.channel = store.prefix + "notices"

    async def publish(self, message: str) -> None:
        await self.store._call(lambda client: client.publish(self.channel, message))

    async def listen(self, on_message: Callable[[str], Awaitable[None]],
                     on_gap: Callable[[], Awaitable[None]]) -> None:
        """The reading happens in a thread of its own, with redis-py's blocking client: its
        asyncio pub/sub read, cancelled at shutdown, could go on waiting for data for ever
        (seen in the tests: every task of a closing loop is cancelled, and one never ended).
        Here the task only waits on a queue, which cancels cleanly; the thread stops within
        a second of being told."""
        loop = asyncio.get_running_loop()
        heard: asyncio.Queue = asyncio.Queue()
        stop = threading.Event()
        reader = threading.Thread(target=self._read, args=(loop, heard, stop), daemon=True,
                                  name="tabsession-redis-bus")
        reader.start()
        try:
            while True:
                kind, data = await heard.get()
                if kind == "gap":
                    await on_gap()
                else:
                    await on_message(data)
        finally:
            stop.set()

    def _read(self, loop: asyncio.AbstractEventLoop, heard: asyncio.Queue, stop: threading.Event) -> None:
        def put(item) -> None:
            try:
                loop.call_soon_threadsafe(heard.put_nowait, item)
            except RuntimeError:
                stop.set()  # the loop has closed

        cut_off = False
        while not stop.is_set():
            client = pubsub = None
            try:
                client = sync_redis.Redis.from_url(self.store.url, socket_timeout=SOCKET_SECONDS,
                                                   socket_connect_timeout=SOCKET_SECONDS,
                                                   health_check_interval=10)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                if cut_off:
                    cut_off = False
                    put(("gap", None))
                while not stop.is_set():
                    message = pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        data = message["data"]
                        put(("message", data.decode("utf-8", "replace") if isinstance(data, bytes) else data))
            except (RedisError, OSError):
                cut_off = True
                stop.wait(0.5)
            finally:
                for closing in (pubsub, client):
                    try:
                        if closing is not None:
                            closing.close()
                    except (RedisError, OSError):
                        pass
