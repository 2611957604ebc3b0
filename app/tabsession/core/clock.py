"""A page's clock for the deadlines of rule 8: time only moves forward for the session.

The system clock (``time.time``, ``Date``) is whatever the user or the network last set it to:
set back an hour, it would give an idle session an hour more in every tab that trusts it, and a
page loaded then would find an expired session live. So a page keeps time with ``ForwardClock``:

- between two readings it counts at least the time its monotonic clock (``performance.now``)
  counted, which no change of the system's time moves: a wall clock set back is ignored, and
  the page's time goes on from where it was;
- a wall clock set forward is followed (a computer that slept, whose monotonic clock may have
  stopped meanwhile, comes back with its wall clock right): deadlines then pass, as they must;
- ``saw(time)`` raises a floor: the driver tells it the latest time found in the shared records
  (``records.latest_time``), which tabs wrote by their own clocks of this kind. A page loaded
  after the clock went back starts from there, never earlier, and a tab whose clock lags
  another's catches up whenever that one writes.

A page also keeps the time it gives in its tab's sessionStorage (``memory``, under
``MEMORY_KEY``, at most every ``KEEP_SECONDS``), so the next page of the tab (a reload, a
navigation) starts from there: otherwise each reload after the clock went back would lose the
time since the tab last wrote a record, and a lone tab reloaded often enough would never reach
its absolute deadline. sessionStorage is this tab's alone, so keeping it wakes no other tab.

What it cannot know is time that passed while no page ran at all and the wall clock was set back
meanwhile: nothing counted it. With the server as the authority its clock is the judge
(``browser/server.py``'s ``SyncedClock``), and this one is not used.

Pure: the wall and monotonic clocks are functions given to it (epoch seconds, and seconds from
any origin), so the same code runs on CPython, MicroPython and Pyodide, and under test.
"""

import json

from tabsession.core.records import is_time

# sessionStorage: the time this tab's last page gave, as JSON (a number of epoch seconds).
MEMORY_KEY = "tabsession:clock"
# Kept at most this often (seconds of the clock's time): a reload loses no more than this.
KEEP_SECONDS = 1.0


def _is_number(value):
    return type(value) is int or type(value) is float


class ForwardClock:
    """``wall()``: epoch seconds; ``monotonic()``: seconds from any origin; ``memory`` (or None):
    ``read()`` -> the text kept under ``MEMORY_KEY`` or None, ``write(text)``, which never
    raise (a failure keeps nothing)."""

    def __init__(self, wall, monotonic, memory=None):
        self._wall = wall
        self._monotonic = monotonic
        self._memory = memory
        self._last = None  # (the time last given, the monotonic reading then)
        self._kept = None  # the time last written to memory

    def now(self):
        """Epoch seconds: the wall clock's time, or later when it went back (see the module)."""
        wall = self._wall()
        reading = self._monotonic()
        if self._last is None:
            now = max(wall, self._recall())
        else:
            last_now, last_reading = self._last
            # max(0, ...): a monotonic clock that goes back (a bug, a fake) stops time, no more
            now = max(wall, last_now + max(0.0, reading - last_reading))
        self._last = (now, reading)
        self._keep(now)
        return now

    def saw(self, time):
        """``time`` (epoch seconds) was found in the shared records: never give an earlier one
        from now on. Anything that is not a number is ignored (None: nothing was found)."""
        if not _is_number(time):
            return
        now = self.now()
        if time > now:
            self._last = (float(time), self._last[1])
            self._keep(float(time), True)  # a jump, not a second's drift: keep it now

    def _recall(self):
        """The time the tab's previous page kept, or 0.0 (nothing, or junk)."""
        if self._memory is None:
            return 0.0
        try:
            kept = json.loads(self._memory.read() or "null")
        except Exception:
            return 0.0
        return float(kept) if _is_number(kept) and is_time(kept) else 0.0

    def _keep(self, now, jump=False):
        if self._memory is not None and (jump or self._kept is None or now - self._kept >= KEEP_SECONDS):
            self._kept = now
            self._memory.write(json.dumps(now))
