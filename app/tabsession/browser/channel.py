"""Wake-ups between tabs: BroadcastChannel when present (or chosen), storage events always.

Both only say "look again"; the driver re-reads storage and the core decides. Messages that
are not text, or do not decode, are dropped and counted (``dropped``; the driver has the view
show the count on ``<html data-dropped-messages>`` so that tests and curious users can see
forged traffic). With storage events alone a tab is woken only by a write that changes a
value in another tab; ``publish`` then does nothing.
"""

from tabsession.browser.interop import callback, helpers, is_none, listen, text
from tabsession.core import records, wire

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
        self.mechanism = BROADCAST_CHANNEL if broadcast else STORAGE_EVENTS
        self._channel = None

    def connect(self, on_wake, on_dropped):
        self.on_wake = on_wake
        self.on_dropped = on_dropped
        if self.mechanism == BROADCAST_CHANNEL:
            channel = helpers.openChannel(wire.CHANNEL_NAME, callback(self._on_message),
                                          callback(self._on_junk))
            if is_none(channel):
                self.mechanism = STORAGE_EVENTS
            else:
                self._channel = channel
        listen("window", "storage", self._on_storage)

    def publish(self, message):
        if self._channel is not None:
            self._channel.post(message)

    def _on_junk(self):
        self._drop()

    def _on_message(self, message):
        if wire.decode(text(message)) is None:
            self._drop()
            return
        self.on_wake()

    def _drop(self):
        self.dropped += 1
        self.on_dropped(self.dropped)

    def _on_storage(self, event):
        key = text(event.key)
        # key is null when another tab called clear(): everything may have changed.
        if key is None or key.startswith(records.PREFIX):
            self.on_wake()
