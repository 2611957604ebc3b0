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
# variant -> (runtime of its server, what it is)
VARIANTS = {
    "js": ("micropython", "plain JavaScript check (seed)"),
    "floor-mpy": ("micropython", "MicroPython without PyScript (floor)"),
    "bare-mpy": ("micropython", "bare PyScript + MicroPython"),
    "app-mpy": ("micropython", "tabsession, MicroPython"),
    "appsrc-mpy": ("micropython", "tabsession, MicroPython, sources instead of bundles"),
    "bare-pyodide": ("pyodide", "bare PyScript + Pyodide"),
    "app-pyodide": ("pyodide", "tabsession, Pyodide"),
    # The app's page `/` and its real Python (core, browser adapter, demo view) on Pyodide loaded
    # directly, PyScript replaced by a small shim (bench/pages/snap.js); the same page booting
    # from a memory snapshot that already holds the core imported, and without one.
    "direct-pyodide": ("pyodide", "tabsession, Pyodide without PyScript, no snapshot"),
    "snap-pyodide": ("pyodide", "tabsession, Pyodide from a memory snapshot, without PyScript"),
    "snapgz-pyodide": ("pyodide", "tabsession, Pyodide from a gzipped memory snapshot, without PyScript"),
}
# Variants whose page is the app's protected page, which decides `active` only when signed in.
SIGNED_IN = ("app", "appsrc", "direct", "snap", "snapgz")
ACTIONS = {"signout": "sign-out", "takeover": "take-over",
           "signout_held": "sign-out, next page held (diagnosis)",
           "signout_one": "sign-out reaching 1 tab (diagnosis)"}
RUNTIME_SHORT = {"micropython": "mpy", "pyodide": "pyodide"}
TIMEOUT_MS = {"micropython": 30_000, "pyodide": 90_000}


def log(message):
    print(message, file=sys.stderr, flush=True)
