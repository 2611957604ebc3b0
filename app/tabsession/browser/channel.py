"""Wake-ups between tabs: BroadcastChannel when present, storage events always.

Both only say "look again"; the driver re-reads storage and the core decides. Messages that
are not text, or do not decode, are dropped and counted (``dropped``, also shown on
``<html data-dropped-messages>`` so that tests and curious users can see forged traffic).
"""

from tabsession.browser.interop import callback, document, helpers, is_none, listen, text
from tabsession.core import records, wire


class Channel:
    def __init__(self, on_wake):
        self.on_wake = on_wake
        self.dropped = 0
        self.mechanism = "storage-events"
        self._channel = None
        channel = helpers.openChannel(wire.CHANNEL_NAME, callback(self._on_message),
                                      callback(self._on_junk))
        if not is_none(channel):
            self._channel = channel
            self.mechanism = "broadcast-channel"
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
        document.documentElement.setAttribute("data-dropped-messages", str(self.dropped))

    def _on_storage(self, event):
        key = text(event.key)
        # key is null when another tab called clear(): everything may have changed.
        if key is None or key.startswith(records.PREFIX):
            self.on_wake()
