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
    "error": ("This page cannot keep a session.",
              "The browser does not let this site use storage (private browsing, or site data "
              "blocked in the settings). Allow site data for this site, then reload the page."),
}

# The message instead, for an error whose reason says more than the state does.
ERROR_MESSAGES = {
    "server-unavailable": ("The server cannot be reached.",
                           "This tab cannot get a decision from the server, so it shows nothing "
                           "protected. Reload the page once the server is back: nothing is lost."),
}

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
THIS_TAB = "this tab"
TAB_NAME = "Tab "
ELSEWHERE_NAME = "Another browser or device"

# The event log ("Events in this tab").
LOG_STATE = {
    "active": "This tab is active.",
    "blocked": "This tab was refused: the session is active in another tab.",
    "moved": "The session moved to another tab; this tab is paused.",
    "signed-out": "This tab is signed out.",
    "expired": "The session has ended.",
    "error": "Storage is unavailable: this tab cannot keep a session.",
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
