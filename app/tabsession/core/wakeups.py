"""When a woken tab reads storage again, and when it asks the lock manager which tabs live.

Messages and storage events are only wake-ups: the tab re-reads storage and the machine decides
(level-triggered, see ``machine.py``). Handled naively, one action becomes a storm: a sign-out
seen by ten tabs makes every one of them write and announce, so each tab is woken some twenty
times, and a lock-manager query before every look made each wake-up a round trip through the
browser process. These rules keep the level-triggered design and do the least work per wake-up:

1. A wake-up reads storage at once, with the live tab ids of the last lock-manager answer. What
   ends a session (an ended record, a passed deadline) is in storage alone, so the decision
   that matters most never waits for the lock manager.
2. The lock manager is asked only when it can change the picture: storage holds a record of a
   tab that the last answer did not count as live and that record is new or has changed since
   (a tab that opened since, or whose lock came after the answer; a dead tab's record does not
   change), a tab whose record said it held a slot at the last answer no longer says so (it let
   its place go: signed out, moved, gone; the answer's held slots are stale, and a login page
   shown in place decides from them), no answer has come yet, or on the periodic tick (a
   crashed tab frees its locks without writing anything).
3. While a query is out, further wake-ups only mark the tab dirty; the answer is followed by
   ONE look at storage, which covers all of them.
4. A look that finds exactly what the previous one fed to the machine (the BroadcastChannel
   message that follows the storage event of the same write) is not fed again, unless the tick
   asks for it (time itself may have passed a deadline) or the machine moved on since.
5. Once the tab is leaving (navigation requested) nothing is read any more (``machine.py``
   ignores it anyway).
6. Wake-ups are merged before they reach Python: however many messages and storage events
   arrive (another page of the site may send a thousand a second, or rewrite its own keys as
   fast as it can), the page hears at most one batch per ``GAP_SECONDS``, the first at once,
   and storage events for keys this library does not own never reach it (browser/channel.py).
   A look covers every change made before it, so a merged wake-up is never a lost one, and the
   tab never falls behind: each look reads what storage holds now.

Pure: no browser, no clock. The browser driver and the fake browser of tests/world both use it.
"""

from tabsession.core import records


# The shortest time between two batches of wake-ups (rule 6): a sign-out under a flood reaches
# the tab at most this much later; at most 1 / GAP_SECONDS looks a second come from wake-ups.
GAP_SECONDS = 0.05


class WakeUps:
    def __init__(self):
        self.live_ids = None  # the last answer of the lock manager (None: none yet)
        self.held_slots = None  # the slots held in that answer (None: not known)
        self.unlisted = {}  # tab id -> record text, for records the last answer did not list
        self.slot_holders = []  # live tabs whose records said they held a slot at the last answer
        self.querying = False
        self.dirty = False  # woken while a query was out
        self.tick_missed = False  # the periodic tick among those wake-ups
        self.last_fed = None

    def woke(self, periodic=False):
        """A wake-up arrived (``periodic``: the tick): True when storage should be read now,
        False when a query is out (the look after its answer covers this wake-up)."""
        if self.querying:
            self.dirty = True
            self.tick_missed = self.tick_missed or periodic
            return False
        return True

    def worth_feeding(self, snapshot, machine_key, periodic):
        """Whether to feed ``snapshot`` to the machine (rule 4). ``machine_key``: anything that
        changes when the machine's own state does (its state and phase)."""
        return periodic or (snapshot, machine_key) != self.last_fed

    def fed(self, snapshot, machine_key):
        """``snapshot`` was fed; the machine is now in ``machine_key``."""
        self.last_fed = (snapshot, machine_key)

    def should_query(self, tab_raws, periodic):
        """Whether to ask the lock manager after a look that saw ``tab_raws`` (rule 2)."""
        if self.querying:
            return False
        if periodic or self.live_ids is None:
            return True
        for tab_id in tab_raws:
            if tab_id not in self.live_ids and self.unlisted.get(tab_id) != tab_raws[tab_id]:
                return True
        for tab_id in self.slot_holders:
            if not _holds_slot(tab_raws.get(tab_id)):
                return True
        return False

    def query_started(self):
        self.querying = True
        self.dirty = False
        self.tick_missed = False

    def answered(self, live_ids, tab_raws, held_slots=None):
        """The lock manager answered (``live_ids`` None: it could not tell); ``tab_raws`` is
        what storage held when the query was made. Storage should be read again now; returns
        whether that look stands for a periodic tick that came while the query was out."""
        periodic = self.tick_missed
        self.querying = False
        self.dirty = False
        self.tick_missed = False
        if live_ids is not None:
            self.live_ids = list(live_ids)
            self.held_slots = None if held_slots is None else list(held_slots)
            self.unlisted = {}
            self.slot_holders = []
            for tab_id in tab_raws:
                if tab_id not in self.live_ids:
                    self.unlisted[tab_id] = tab_raws[tab_id]
                elif _holds_slot(tab_raws[tab_id]):
                    self.slot_holders.append(tab_id)
        return periodic


def _holds_slot(raw):
    """Whether a tab record (text, or None) says its tab holds a slot."""
    record = records.decode_tab_record(raw)
    return record is not None and record.slot is not None
