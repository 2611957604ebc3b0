"""Messages between tabs: only wake-ups, never orders.

A message says "tab X changed something; look again". Receivers re-read storage and decide
from that, so a forged or replayed message can at most cause a harmless re-read. Anything
that does not decode is dropped (and counted by the receiver).
"""

import json

from tabsession.core.records import is_id

VERSION = 1
CHANNEL_NAME = "tabsession"
MAX_MESSAGE_CHARS = 256
CHANGED = "changed"
# A batch of wake-ups (browser/channel.py) carries at most this many distinct message texts;
# strings beyond them are merged unchecked (counted in ``more``: they can only wake the tab).
MAX_BATCH_TEXTS = 32
MAX_BATCH_CHARS = 64 + MAX_BATCH_TEXTS * (MAX_MESSAGE_CHARS + 16) * 6


def changed(tab_id):
    return json.dumps({"v": VERSION, "type": CHANGED, "from": tab_id})


def decode(raw):
    """The sender's tab id of a valid message, or None."""
    if not isinstance(raw, str) or len(raw) > MAX_MESSAGE_CHARS:
        return None
    try:
        data = json.loads(raw)
    except Exception:
        return None
    if not isinstance(data, dict) or len(data) != 3:
        return None
    if data.get("v") != VERSION or type(data.get("v")) is not int or data.get("type") != CHANGED:
        return None
    sender = data.get("from")
    return sender if is_id(sender) else None


def read_batch(raw):
    """(woken, dropped) for a batch of wake-ups as the page's JS gathered them:
    ``{"texts": [[text, times], ...], "more": n, "junk": n, "events": n}``. ``woken``: at least one valid
    message, unchecked string or storage event came; ``dropped``: how many messages did not
    decode (non-strings included). A batch that does not decode wakes the tab and drops
    nothing (looking again is always harmless)."""
    if not isinstance(raw, str) or len(raw) > MAX_BATCH_CHARS:
        return True, 0
    try:
        data = json.loads(raw)
    except Exception:
        return True, 0
    if not isinstance(data, dict) or not isinstance(data.get("texts"), list):
        return True, 0
    counts = []
    for name in ("more", "junk", "events"):
        value = data.get(name)
        counts.append(value if type(value) is int and value >= 0 else 0)
    more, junk, events = counts
    valid = 0
    for entry in data["texts"][:MAX_BATCH_TEXTS]:
        if not isinstance(entry, list) or len(entry) != 2 or type(entry[1]) is not int or entry[1] < 1:
            continue
        if decode(entry[0]) is None:
            junk += entry[1]
        else:
            valid += 1
    return valid > 0 or more > 0 or events > 0, junk
