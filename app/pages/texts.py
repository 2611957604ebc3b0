"""Every sentence a user reads, in one place."""

STATE_MESSAGES = {
    "blocked": ("You already have an active session in another tab.",
                "Close that tab, or continue here: the other tab will be paused."),
    "moved": ("This session is now in use in another tab.",
              "You can continue here; the other tab will be paused."),
    "signed-out": ("You are signed out.", "Sign in to continue."),
    "expired": ("Your session has ended.", "Sign in again to continue."),
    "error": ("This page cannot keep a session.",
              "The browser does not allow this site to use storage (private mode or blocked "
              "site data). Allow site data for this site, then reload."),
}

REASON_MESSAGES = {
    "signed-out": "You signed out.",
    "idle": "You were signed out after a period of inactivity.",
    "expired": "Your session reached its maximum length. Please sign in again.",
    "taken-over": "This session is now in use in another tab.",
    "active-elsewhere": "You already have an active session in another tab.",
    "storage-unavailable": "Storage is unavailable in this browser.",
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

USE_HERE = "Use here"
THIS_TAB = "this tab"
PAGE_LABELS = {"app": "app", "login": "login"}
