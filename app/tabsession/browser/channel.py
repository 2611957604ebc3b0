"""Wake-ups between tabs: BroadcastChannel when present (or chosen), storage events always.

Both only say "look again"; the driver re-reads storage and the core decides. They are merged in
the page's JS before they cross into Python (core/wakeups.py, rule 6): one batch at a time, at
most one per ``GAP_SECONDS``, and storage events only for keys under the library's prefix, so a
flood of messages or another script rewriting its own keys costs the tab next to nothing.
Messages that are not text, or do not decode, are dropped and counted (``dropped``; the driver
has the view show the count on ``<html data-dropped-messages>`` so that tests and curious users
can see forged traffic); under a flood of more distinct texts than a batch carries, the extra
ones are merged unchecked, so the count is exact only below that. With storage events alone a
tab is woken only by a write that changes a value in another tab; ``publish`` then does nothing.
"""

from tabsession.browser.interop import callback, helpers
from tabsession.core import records, wire
from tabsession.core.wakeups import GAP_SECONDS

BROADCAST_CHANNEL = "broadcast-channel"
STORAGE_EVENTS = "storage-events"
MECHANISMS = (BROADCAST_CHANNEL, STORAGE_EVENTS)


def available():
    return bool(helpers.hasChannel())


class Channel:
    """The driver's ``channel`` adapter. ``broadcast``: whether to open a BroadcastChannel
    (compose.py decides); nothing is opened or listened to before ``connect``."""

    def __init__(self, broadcast=True):
        self.on_wake = None
        self.on_dropped = None
        self.dropped = 0
        self.batches = 0  # batches heard (each one at most one look)
        self.mechanism = BROADCAST_CHANNEL if broadcast else STORAGE_EVENTS
        self._gate = None

    def connect(self, on_wake, on_dropped):
        self.on_wake = on_wake
        self.on_dropped = on_dropped
        name = wire.CHANNEL_NAME if self.mechanism == BROADCAST_CHANNEL else ""
        self._gate = helpers.openWakeUps(name, records.PREFIX, int(GAP_SECONDS * 1000),
                                         wire.MAX_MESSAGE_CHARS + 1, wire.MAX_BATCH_TEXTS,
                                         callback(self._on_batch))
        if not self._gate.broadcast:
            self.mechanism = STORAGE_EVENTS

    def publish(self, message):
        if self._gate is not None and self.mechanism == BROADCAST_CHANNEL:
            self._gate.post(message)

    def _on_batch(self, raw):
        self.batches += 1
        woken, dropped = wire.read_batch(raw if isinstance(raw, str) else None)
        if dropped:
            self.dropped += dropped
            self.on_dropped(self.dropped)
        if woken:
            self.on_wake()
