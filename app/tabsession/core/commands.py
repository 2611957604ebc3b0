"""Outputs of the core: what the shell must do, in order.

Storage commands carry the exact text to write; the shell does not encode anything.
A command that fails comes back to the core as an event (``StorageFailed``), so the core
never believes something happened that did not.
"""

from tabsession.core.values import Value

LOCAL = "local"
SESSION = "session"


class ClaimTabLock(Value):
    """Take the lock for ``tab_id`` if it is free, and keep it; answer ``TabLockClaimed``.

    One request, not a probe then a hold: between two requests another page load could
    claim the same id (a reload and a duplicate racing).
    """

    FIELDS = ("tab_id",)


class HoldTabLock(Value):
    """Hold the lock for ``tab_id`` for the page's lifetime (it marks the tab alive)."""

    FIELDS = ("tab_id",)


class AcquireSlot(Value):
    """Try each slot in ``order`` without waiting; answer ``SlotGranted`` or ``SlotsBusy``."""

    FIELDS = ("order",)


class StealSlot(Value):
    """Take ``slot`` from whoever holds it; answer ``SlotGranted`` (the loser gets ``SlotLost``),
    or ``SlotsBusy`` when the steal did not take (leases: another tab wrote in the same instant)."""

    FIELDS = ("slot",)


class ReleaseSlot(Value):
    """Let go of ``slot``, which this tab holds."""

    FIELDS = ("slot",)


class Store(Value):
    """Write ``value`` under ``key`` in the ``area`` storage; ``None`` removes the key."""

    FIELDS = ("area", "key", "value")


class Publish(Value):
    """Send ``message`` (text) to the other tabs."""

    FIELDS = ("message",)


class Show(Value):
    """The tab's state changed: show it (``data-tab-state``, ``data-reason``, the view).

    ``place_free``: in a blocked or moved tab, a place is free, so ``use_here`` would take it
    without displacing anyone. ``storage_error``: in the error state with reason
    ``storage-unavailable``, the name of the error storage threw (``QuotaExceededError``,
    ``SecurityError``, ...), so the page can say which failure it was and what helps."""

    FIELDS = ("state", "reason", "tab_id", "user", "place_free", "storage_error")
    DEFAULTS = {"place_free": False, "storage_error": None}


class ShowTabs(Value):
    """The list of open tabs changed (a list of ``TabView``)."""

    FIELDS = ("tabs",)


class TabView(Value):
    """One open tab; ``opened``: when its page started (epoch seconds), None if unknown."""

    FIELDS = ("tab_id", "state", "page", "last_active", "is_self", "opened")
    DEFAULTS = {"opened": None}


class ShowClock(Value):
    """Deadlines to count down to, and whether the idle warning is due."""

    FIELDS = ("idle_deadline", "absolute_deadline", "warning")


class ShowLoginError(Value):
    FIELDS = ("message",)


class Navigate(Value):
    """Load ``url`` in this tab, replacing the current history entry: this page decides nothing
    more (the next one decides)."""

    FIELDS = ("url",)


class ShowPage(Value):
    """Become ``page`` ("app" or "login") in place, the address bar saying ``url`` (the History
    API, replacing the entry, as ``Navigate`` would): no load, the page goes on deciding."""

    FIELDS = ("page", "url")


class ReplaceUrl(Value):
    """Change the address bar without loading (keeps ``data-reason`` equal to the URL's)."""

    FIELDS = ("url",)
