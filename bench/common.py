"""What every part of the bench shares: where things are, the browser, the variants measured,
timeouts, and `log`.
"""

import os
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
CHROMIUM = os.environ.get("TABSESSION_BROWSER", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Long enough that no session times out during a run (a stored session is reused for minutes).
SERVER_DEFAULTS = ["--idle-timeout", "86400", "--warn-before", "60"]
USERNAME = "bench"
RUNTIMES = ("micropython", "pyodide")
# Who decides (serve.py --authority; every server the bench starts names one): "browser", the
# tabs of one profile among themselves (what the bench measured before issue 13), or "server",
# which grants each active tab its place (POST /api/places) and pushes changes over a WebSocket.
AUTHORITIES = ("server", "browser")
# variant -> (runtime of its server, its authority, what it is)
VARIANTS = {
    "js": ("micropython", "browser", "plain JavaScript check (seed)"),
    "floor-mpy": ("micropython", "browser", "MicroPython without PyScript (floor)"),
    "bare-mpy": ("micropython", "browser", "bare PyScript + MicroPython"),
    "app-mpy": ("micropython", "browser", "tabsession, MicroPython, browser authority"),
    "appsrv-mpy": ("micropython", "server", "tabsession, MicroPython, server authority"),
    "appsrc-mpy": ("micropython", "browser", "tabsession, MicroPython, sources instead of bundles"),
    "bare-pyodide": ("pyodide", "browser", "bare PyScript + Pyodide"),
    "app-pyodide": ("pyodide", "browser", "tabsession, Pyodide, browser authority"),
    "appsrv-pyodide": ("pyodide", "server", "tabsession, Pyodide, server authority"),
    # The app's page `/` and its real Python (core, browser adapter, demo view) on Pyodide loaded
    # directly, PyScript replaced by a small shim (bench/pages/snap.js); the same page booting
    # from a memory snapshot that already holds the core imported, and without one.
    "direct-pyodide": ("pyodide", "browser", "tabsession, Pyodide without PyScript, no snapshot"),
    "snap-pyodide": ("pyodide", "browser", "tabsession, Pyodide from a memory snapshot, without PyScript"),
    "snapgz-pyodide": ("pyodide", "browser",
                       "tabsession, Pyodide from a gzipped memory snapshot, without PyScript"),
}
# Variants whose page is the app's protected page, which decides `active` only when signed in.
SIGNED_IN = ("app", "appsrv", "appsrc", "direct", "snap", "snapgz")
ACTIONS = {"signout": "sign-out", "takeover": "take-over",
           "signout_held": "sign-out, next page held (diagnosis)",
           "signout_one": "sign-out reaching 1 tab (diagnosis)",
           "signout_five": "sign-out reaching 5 tabs (diagnosis)",
           # Issue 13: two profiles (browser contexts) of one user.
           "signout2p_browser": "sign-out in one of two profiles, browser authority",
           "signout2p_server": "sign-out in one of two profiles, server authority",
           "takeover2p_server": "take-over from the other profile, server authority",
           # Not a reach: one tab's documents from its first page through sign-in, sign-out, sign-in.
           "journey": "documents per tab (first page → sign-in → sign-out → sign-in)"}
RUNTIME_SHORT = {"micropython": "mpy", "pyodide": "pyodide"}
TIMEOUT_MS = {"micropython": 30_000, "pyodide": 90_000}


def log(message):
    print(message, file=sys.stderr, flush=True)
