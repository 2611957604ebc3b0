"""What the server's tests share: a clock the test moves, predictable tokens, and a way to run
event loops that works in a whole run (after the browser tests)."""

from concurrent.futures import ThreadPoolExecutor

T0 = 1700000000.0


class Clock:
    """``clock()`` is ``clock.now``; tests move it by hand."""

    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now


class Tokens:
    """"token-1", "token-2", ...: ids and keys a test can name."""

    def __init__(self):
        self.count = 0

    def __call__(self):
        self.count += 1
        return "token-%d" % self.count


class LoopThread:
    """Runs coroutines on an event loop in a thread of its own. In a whole run the browser tests
    come first, and Playwright's sync API keeps an event loop running in the main thread, where
    ``asyncio.run`` and ``run_until_complete`` refuse to start another."""

    def __init__(self, loop):
        self.loop = loop
        self._thread = ThreadPoolExecutor(max_workers=1)

    def run(self, coroutine):
        return self._thread.submit(self.loop.run_until_complete, coroutine).result()

    def close(self):
        self._thread.submit(self.loop.close).result()
        self._thread.shutdown()


def run_async(coroutine):
    """``asyncio.run(coroutine)`` in a thread of its own (see ``LoopThread``)."""
    import asyncio

    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, coroutine).result()
