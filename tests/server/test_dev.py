"""The `./dev` entry point: what scripts and the README rely on.

`./dev demo` runs set-up first; set-up must talk on standard error only, so that the first
line on standard output is serve.py's "Serving http://..." line, as the README says.
"""

import os
import re
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60
STAMPS = (ROOT / ".venv" / ".tabsession-requirements", ROOT / "node_modules" / ".tabsession-package-lock")


def first_stdout_line(process, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        if ready:
            return process.stdout.readline()
        if process.poll() is not None:
            return process.stdout.readline()
    return None


def test_demo_prints_the_url_before_anything_else(tmp_path):
    if not all(stamp.is_file() for stamp in STAMPS):
        pytest.skip("set-up has not run (./dev setup): here ./dev demo would install everything first")
    # An engine name ./dev does not know: set-up skips the browser step (no apt-get from a test).
    env = dict(os.environ, TABSESSION_ENGINES="none")
    errors = tmp_path / "stderr.txt"
    with errors.open("w") as stderr:
        process = subprocess.Popen([str(ROOT / "dev"), "demo", "--port", "0"], cwd=ROOT, env=env, text=True,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
                                   start_new_session=True)
    try:
        line = first_stdout_line(process, START_TIMEOUT_S)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
        process.stdout.close()

    assert line is not None, f"nothing on standard output within {START_TIMEOUT_S} s: {errors.read_text()}"
    assert re.match(r"Serving http://127\.0\.0\.1:\d+/ \(runtime=micropython, ", line), \
        (line, errors.read_text()[-2000:])
