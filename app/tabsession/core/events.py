"""Inputs to the core: facts that already happened, in the past tense.

The browser adapters turn what they observe into these values; the core never asks the
browser anything. ``now`` is always seconds since the epoch as a float, read by the shell.
A ``Snapshot`` is what the shared storage held when the event was read: the core re-reads
the whole picture on every wake-up instead of trusting messages (storage is the truth;
messages only say "look again").
"""

from tabsession.core.values import Value


class Snapshot(Value):
    """Raw shared storage: session and activity texts, {tab_id: record text}, live tab ids.

    ``live_ids`` lists the tabs whose lock is held, ``held_slots`` the slots whose lock is held
    (each None when that cannot be known).
    """

    FIELDS = ("session_raw", "activity_raw", "tab_raws", "live_ids", "held_slots")
    DEFAULTS = {"held_slots": None}


class Started(Value):
    """The page loaded. ``page`` is "app" or "login"; ``here`` the page's own path and query.
    ``in_place``: the document shows both pages, so the tab goes between them without a load
    (``ShowPage``) for the rest of its life. ``server_user``: the user of the profile's live
    session on the server, given only where this origin never recorded a session (the profile
    signed in through another origin of the host, S6); a page with no session then follows it,
    recording it with ``fresh_token`` as its token, instead of showing the sign-in form."""

    FIELDS = ("now", "page", "here", "memory_raw", "snapshot", "fresh_id", "in_place",
              "server_user", "fresh_token")
    DEFAULTS = {"in_place": False, "server_user": None, "fresh_token": None}


class TabLockClaimed(Value):
    """Whether this page now holds the lock named after the remembered tab id.

    False means another live page holds it: this page is a duplicate.
    """

    FIELDS = ("claimed",)


class SlotGranted(Value):
    FIELDS = ("now", "slot")


class SlotsBusy(Value):
    FIELDS = ("now",)


class SlotLost(Value):
    """Another tab stole this tab's slot."""

    FIELDS = ("now", "slot")


class Observed(Value):
    """Something may have changed (storage event, message, timer, focus, visibility)."""

    FIELDS = ("now", "snapshot")


class UserActive(Value):
    FIELDS = ("now",)


class UseHereClicked(Value):
    FIELDS = ("now", "snapshot")


class SignOutClicked(Value):
    """The user asked to sign out (``#logout``, ``Session.sign_out()``)."""

    FIELDS = ("now",)


class StaySignedInClicked(Value):
    FIELDS = ("now",)


class SignInSubmitted(Value):
    """The sign-in form was sent. ``snapshot``: storage as the page read it at that moment
    (None: use the last one seen), so a session begun elsewhere since is never replaced."""

    FIELDS = ("now", "username", "fresh_token", "snapshot")
    DEFAULTS = {"snapshot": None}


class ServerEnded(Value):
    """The server (the authority, when there is one) says this profile's session is over:
    ``reason`` is "signed-out", "idle" or "expired". Every tab of the profile follows, as if the
    session had ended here."""

    FIELDS = ("now", "reason")


class StorageFailed(Value):
    """Reading or writing storage threw: the session cannot be kept in this tab."""

    FIELDS = ("detail",)


class PageHidden(Value):
    """The page is being unloaded or put into the back/forward cache."""

    FIELDS = ("now",)
