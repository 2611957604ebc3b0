"""Every sentence a user reads, in one place. Plain text only: the view inserts it with
``textContent``, never as HTML."""

# What happened, and what the user can do about it: (title, detail) per state.
STATE_MESSAGES = {
    "blocked": ("You already have an active session in another tab.",
                "Go back to that tab, or choose Use here to continue in this one: the other "
                "tab will be paused."),
    "moved": ("This session is now in use in another tab.",
              "This tab was paused so that the other one could continue. Choose Use here to "
              "bring the session back: the other tab will be paused instead."),
    "signed-out": ("You are signed out.", "Sign in to continue."),
    "expired": ("Your session has ended.", "Sign in again to continue."),
    # An error whose storage error is not known (see storage_error_message for the known ones).
    "error": ("This page cannot keep a session.",
              "Reading or writing this site's storage in the browser failed, so this tab cannot "
              "keep a session. Reload the page; if it happens again, clear this site's data in "
              "the browser's settings."),
}

# The message instead, for an error whose reason says more than the state does.
ERROR_MESSAGES = {
    "server-unavailable": ("The server cannot be reached.",
                           "This tab cannot get a decision from the server, so it shows nothing "
                           "protected. Reload the page once the server is back: nothing is lost."),
}

# Storage failures (rule 11 in docs/rules.md), by the name of the error the browser threw: each
# needs its own advice. A full area is not a blocked one: telling a user whose storage is full
# to leave private browsing sends them looking for a setting that is not the problem.
QUOTA_FULL = "quota-full"
ACCESS_DENIED = "access-denied"
WRITE_FAILED = "write-failed"
STORAGE_ERROR_KINDS = {
    "QuotaExceededError": QUOTA_FULL,
    "NS_ERROR_DOM_QUOTA_REACHED": QUOTA_FULL,  # Firefox's name for it before version 80
    "SecurityError": ACCESS_DENIED,  # site data blocked in the settings, or no storage allowed
}
# The title stays the state's ("This page cannot keep a session."); the detail says which
# failure it was and what helps. {name}: the error's name.
STORAGE_DETAILS = {
    QUOTA_FULL: "This site's storage in the browser is full (the browser keeps a limited amount "
                "for each site), so this tab cannot keep a session. Free space by clearing this "
                "site's data in the browser's settings, then reload the page.",
    ACCESS_DENIED: "The browser does not let this site use storage: it is blocked by the "
                   "browser's settings (site data or cookies blocked) or by a private mode that "
                   "allows none. Allow site data for this site, then reload the page.",
    WRITE_FAILED: "Reading or writing this site's storage failed ({name}), so this tab cannot "
                  "keep a session. Reload the page; if it happens again, clear this site's data "
                  "in the browser's settings.",
}
LOG_STORAGE = {
    QUOTA_FULL: "This site's storage is full: this tab cannot keep a session.",
    ACCESS_DENIED: "The browser blocks this site's storage: this tab cannot keep a session.",
    WRITE_FAILED: "Storage failed ({name}): this tab cannot keep a session.",
}
MAX_ERROR_NAME_CHARS = 60  # a name is the browser's word, but a thrown value can be any text


def storage_error_kind(name):
    """QUOTA_FULL, ACCESS_DENIED, or WRITE_FAILED for any other error (None: no name known)."""
    if not name:
        return None
    return STORAGE_ERROR_KINDS.get(name, WRITE_FAILED)


def storage_error_message(name):
    """(title, detail) for a storage failure whose error is called ``name``; the general error
    message when no name is known."""
    kind = storage_error_kind(name)
    if kind is None:
        return STATE_MESSAGES["error"]
    return STATE_MESSAGES["error"][0], _named(STORAGE_DETAILS[kind], name)


def storage_error_log(name):
    """The line of the event log for a storage failure whose error is called ``name``."""
    kind = storage_error_kind(name)
    return LOG_STATE["error"] if kind is None else _named(LOG_STORAGE[kind], name)


def _named(words, name):
    return words.replace("{name}", str(name)[:MAX_ERROR_NAME_CHARS])


# The detail instead, in a blocked or moved tab, once the other tab has gone.
PLACE_FREE_DETAIL = ("The other tab was closed, so a place is free: choose Use here to continue "
                     "in this tab. No other tab will be paused.")

# A more precise title where the reason says more than the state does.
REASON_TITLES = {
    "signed-out": "You signed out.",
    "idle": "You were signed out after a period of inactivity.",
    "expired": "Your session reached its maximum length.",
}

STATE_LABELS = {
    "booting": "starting",
    "active": "active",
    "blocked": "blocked",
    "moved": "moved",
    "signed-out": "signed out",
    "expired": "expired",
    "error": "error",
}

PAGE_LABELS = {"app": "app page", "login": "sign-in page"}
PAGE_TITLES = {"app": "tabsession · app", "login": "tabsession · sign in"}

# A first visit (signed out, no reason: nothing happened to tell about) is an invitation.
WELCOME = ("Sign in to try tabsession",
           "This demo shows how one signed-in session behaves across browser tabs. Sign in with "
           "any name, then open another tab to see what happens.")

# Tabs as people name them: this one, the others by a small number in the order this tab first
# saw them, with the time it did (to tell two tabs apart at a glance); tabs in other browser
# profiles or on other devices by where they are (the server tells nothing more).
THIS_TAB = "This tab"
TAB_NAME = "Tab "
OPENED = ", opened "
OPENED_BEFORE = ", opened before "  # already open when this tab first saw it: when, it cannot know
ELSEWHERE_NAME = "On another device or browser"
TAB_ID_TITLE = "tab id "


def tab_short_name(number):
    """The name in the event log ("Tab 2"), whose lines carry their own time."""
    return TAB_NAME + str(number)


def tab_name(number, opened, before=False):
    """The name in the tab list and in notices: "Tab 2, opened 18:57", or "Tab 2, opened before
    18:57" when the tab was already open as this one first saw it. ``opened``: HH:MM."""
    return tab_short_name(number) + (OPENED_BEFORE if before else OPENED) + opened


def blocked_title(names, elsewhere):
    """The title of a refused tab, saying where the session is: ``names`` of this profile's
    active tabs (other than this one), ``elsewhere``: how many of the user's active tabs the
    server knows of in other browsers or devices. Always says "already have an active session"
    (docs/rules.md, rule 4)."""
    if len(names) == 1:
        return "You already have an active session in another tab (" + names[0] + ")."
    if names:
        return "You already have an active session in other tabs (" + "; ".join(names) + ")."
    if elsewhere:
        return "You already have an active session on another device or browser."
    return STATE_MESSAGES["blocked"][0]


# The detail of a refused tab whose session is active only in other browsers or devices.
BLOCKED_ELSEWHERE_DETAIL = ("Continue there, or choose Use here to continue in this browser: "
                            "the session there will be paused.")

# The event log ("Events in this tab").
LOG_STATE = {
    "active": "This tab is active.",
    "blocked": "This tab was refused: the session is active in another tab.",
    "moved": "The session moved to another tab; this tab is paused.",
    "signed-out": "This tab is signed out.",
    "expired": "The session has ended.",
    "error": "This tab cannot keep a session.",  # storage_error_log says which failure
}
LOG_REASON = {
    "signed-out": "Signed out.",
    "idle": "Signed out after inactivity.",
    "expired": "The session reached its maximum length.",
}
LOG_TABS_AT_START = "Tabs of this app open in this browser: "
LOG_TAB_OPENED = "opened ({page}, {state})."
LOG_TAB_NAVIGATED = "went to the {page} ({state})."
LOG_TAB_CLOSED = "closed."
LOG_TAB_CHANGED = "{before} → {after}."
LOG_ELSEWHERE = "Active tabs of this session's user in other browsers or devices: {count}."
LOG_PLACE_FREE = "The other tab was closed: a place is free."
LOG_PLACE_TAKEN = "The free place was taken by another tab."
LOG_WARNING_ON = "Idle warning: no activity for a while."
LOG_WARNING_OFF = "Idle time restarted: the warning is gone."
LOG_LOGIN_ERROR = "Sign-in refused: "

WARNING_ANNOUNCEMENT = "You will be signed out soon because of inactivity. Choose Stay signed in to continue."

# The settings panel.
POLICY_TEXT = {
    "block": "block: a further tab is refused",
    "takeover": "takeover: a further tab gets in, the least recently active one is paused",
}
RUNTIME_TEXT = {"micropython": "MicroPython", "pyodide": "Pyodide (CPython)"}
COORDINATION_TEXT = {
    "web-locks": "Web Locks",
    "storage": "leases in storage (no Web Locks here)",
    "broadcast-channel": "BroadcastChannel",
    "storage-events": "storage events",
    "none": "none (storage unavailable)",
}
NO_LIMIT = "no limit"
ONE_TAB = "1 tab"
TABS_SUFFIX = " tabs"
WARN_SUFFIX = " before"

# Relative times in the tab list.
JUST_NOW = "last used just now"
AGO_PREFIX = "last used "
AGO_SUFFIX = " ago"

# The notes pad (pages/notes.py): its status line.
NOTES_SAVED = "Saved in this browser at "  # + the time, 18:57:03
NOTES_EMPTY = "Nothing saved yet: what you type is saved in this browser as you type."
NOTES_TOO_LONG = "Not saved: notes hold at most 20,000 characters."
NOTES_NOT_SAVED = {
    QUOTA_FULL: "Not saved: this site's storage in the browser is full.",
    ACCESS_DENIED: "Not saved: the browser does not let this site use storage.",
    WRITE_FAILED: "Not saved: the browser refused to store your notes ({name}).",
}


def notes_not_saved(name):
    """The status line when storing the notes failed with the error called ``name``."""
    return _named(NOTES_NOT_SAVED[storage_error_kind(name) or WRITE_FAILED], name or "Error")
