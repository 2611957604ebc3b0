"""Run-time settings: the policy a page enforces, validated once at start.

``Settings.from_json`` accepts the JSON that serve.py embeds in each page (or a dict an
application builds) and never raises on bad input from the page: a missing or invalid
value falls back to its default and the problem is listed in ``settings.problems``.
Constructing ``Settings`` directly with bad values is a programming error and raises
``ValueError``.
"""

import json

from tabsession.core.urls import LOGIN_PATH, valid_login_path
from tabsession.core.values import Value

BLOCK = "block"
TAKEOVER = "takeover"
POLICIES = (BLOCK, TAKEOVER)
RUNTIMES = ("micropython", "pyodide")
# Who decides: "browser" (the tabs of one profile among themselves: static hosting) or "server"
# (the server keeps sessions and places; serve.py's default, and it says so in the page).
BROWSER = "browser"
SERVER = "server"
AUTHORITIES = (BROWSER, SERVER)

DEFAULTS = {
    "runtime": "micropython",
    "max_tabs": 1,
    "policy": BLOCK,
    "idle_timeout": 900,
    "warn_before": 60,
    "absolute_timeout": 28800,
    "authority": BROWSER,
    "login_path": LOGIN_PATH,
}

# Upper bounds keep a tampered page from asking for absurd values (31 days, 1000 tabs).
MAX_SECONDS = 31 * 24 * 3600
MAX_TABS = 1000


def _is_int(value):
    return type(value) is int


class Settings(Value):
    FIELDS = ("runtime", "max_tabs", "policy", "idle_timeout", "warn_before", "absolute_timeout",
              "authority", "login_path")
    DEFAULTS = {"authority": BROWSER, "login_path": LOGIN_PATH}

    def __init__(self, *args, **kwargs):
        Value.__init__(self, *args, **kwargs)
        self.problems = []
        problem = _check(self)
        if problem:
            raise ValueError(problem)

    @classmethod
    def default(cls):
        return cls(**DEFAULTS)

    @classmethod
    def from_json(cls, text):
        """Settings from JSON text or a dict; bad values fall back to defaults."""
        problems = []
        data = text
        if not isinstance(text, dict):
            try:
                data = json.loads(text)
            except Exception:
                data = None
            if not isinstance(data, dict):
                problems.append("settings are not a JSON object; using defaults")
                data = {}
        chosen = {}
        for name in Settings.FIELDS:
            value = data.get(name, DEFAULTS[name])
            if _check_field(name, value):
                problems.append("invalid " + name + ": " + repr(value)[:40] + "; using default")
                value = DEFAULTS[name]
            chosen[name] = value
        if _check_values(chosen):
            # Each value is fine alone but not together (warn_before >= idle_timeout).
            problems.append("warn_before must be below idle_timeout; using defaults for both")
            chosen["idle_timeout"] = DEFAULTS["idle_timeout"]
            chosen["warn_before"] = DEFAULTS["warn_before"]
        settings = cls(**chosen)
        settings.problems = problems
        return settings

    def slots(self):
        """The slot numbers that exist: one per allowed active tab (none when unlimited)."""
        return list(range(self.max_tabs))

    def to_dict(self):
        return dict(zip(self.FIELDS, self.values()))


def _check(settings):
    return _check_values(settings.to_dict())


def _check_field(name, value):
    """The problem with one field's value on its own, or None."""
    if name == "runtime" and value not in RUNTIMES:
        return "runtime must be one of " + ", ".join(RUNTIMES)
    if name == "policy" and value not in POLICIES:
        return "policy must be one of " + ", ".join(POLICIES)
    if name == "authority" and value not in AUTHORITIES:
        return "authority must be one of " + ", ".join(AUTHORITIES)
    if name == "max_tabs" and (not _is_int(value) or not 0 <= value <= MAX_TABS):
        return "max_tabs must be an integer from 0 to " + str(MAX_TABS)
    if name in ("idle_timeout", "absolute_timeout") and (not _is_int(value) or not 0 < value <= MAX_SECONDS):
        return name + " must be an integer from 1 to " + str(MAX_SECONDS)
    if name == "warn_before" and (not _is_int(value) or not 0 <= value <= MAX_SECONDS):
        return "warn_before must be an integer from 0 to " + str(MAX_SECONDS)
    if name == "login_path" and not valid_login_path(value):
        return "login_path must be a plain absolute path such as /login, /login.html or /login/"
    return None


def _check_values(values):
    for name in Settings.FIELDS:
        problem = _check_field(name, values[name])
        if problem:
            return problem
    if values["warn_before"] >= values["idle_timeout"]:
        return "warn_before must be below idle_timeout"
    return None
