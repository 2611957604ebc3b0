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
