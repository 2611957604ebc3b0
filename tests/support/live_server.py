"""serve.py as a subprocess on port 0: the one way the tests and the bench start and stop it.

    server = LiveServer("--runtime", "pyodide", "--max-tabs", "3", logs_in=folder).start()
    server.url          # "http://127.0.0.1:PORT", the origin
    server("/login")    # a full address
    server.port, server.first_line, server.stderr(), server.process
    server.stop()       # SIGTERM (or the signal given), then SIGKILL after a timeout; the exit status

`start()` runs `serve.py --port 0 ARGUMENTS...` (or another `script=` that takes `--port 0` and
prints the same first line, such as examples/server/app.py), reads the first line it prints
("Serving http://127.0.0.1:PORT/ (...)") to learn the URL, and returns once the server answers an
HTTP request (any status will do). If it exits first, prints no URL in time or never answers,
`start()` kills it and raises ServerStartError, whose message ends with the server's stderr.

Standard output and standard error go to files (stdout.txt, stderr.txt in `server.log_dir`, a new
folder under `logs_in`, or under the system's temporary folder), never to pipes: a pipe nobody
reads fills up and blocks the server. A LiveServer is also a context manager that stops it.

A plain module with no third-party imports: pytest's `pythonpath` puts this folder on sys.path for
the e2e and server tests, and bench/roots.py puts it there itself; both `import live_server`.
"""

import http.client
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
SERVE_PY = ROOT / "serve.py"

START_TIMEOUT_S = 15
# serve.py's own bound is uvicorn's graceful shutdown (3 s for open answers and push connections)
# plus closing its store; 5 s was once too short for that on a loaded CI machine (killed, -9).
STOP_TIMEOUT_S = 12
_URL = re.compile(r"https?://[^\s/]+")
_POLL_S = 0.02


class ServerStartError(RuntimeError):
    """serve.py did not come up: what went wrong, with its stderr."""


def option_flags(options):
    """{"max_tabs": 2, "policy": "takeover"} -> ["--max-tabs", "2", "--policy", "takeover"].

    Sorted by name; None and False leave an option out, True gives the bare flag."""
    flags = []
    for name, value in sorted(options.items()):
        if value is None or value is False:
            continue
        flags.append("--" + name.replace("_", "-"))
        if value is not True:
            flags.append(str(value))
    return flags


class LiveServer:
    """One serve.py process; see the module docstring."""

    def __init__(self, *arguments, logs_in=None, name="serve", cwd=ROOT, env=None,
                 start_timeout_s=START_TIMEOUT_S, stop_timeout_s=STOP_TIMEOUT_S, script=SERVE_PY):
        self.arguments = [str(argument) for argument in arguments]
        self.command = [sys.executable, str(script), "--port", "0", *self.arguments]
        self.logs_in = logs_in
        self.name = name
        self.cwd = cwd
        self.env = env
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.process = None
        self.log_dir = None
        self.first_line = None
        self.url = None
        self.port = None

    def __call__(self, path="/"):
        return self.url + (path if path.startswith("/") else "/" + path)

    def __repr__(self):
        return f"LiveServer({self.url or 'not started'}, {' '.join(self.arguments)})"

    def __enter__(self):
        return self if self.process is not None else self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def stdout_path(self):
        return self.log_dir / "stdout.txt"

    @property
    def stderr_path(self):
        return self.log_dir / "stderr.txt"

    def stderr(self):
        """Everything the server wrote to standard error so far."""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def start(self):
        """Start serve.py, learn its URL, wait until it answers; returns self."""
        if self.process is not None:
            raise RuntimeError(f"{self!r} was started already")
        if self.logs_in is not None:
            Path(self.logs_in).mkdir(parents=True, exist_ok=True)
        self.log_dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=self.logs_in))
        with open(self.stdout_path, "wb") as stdout, open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                self.command, cwd=self.cwd, env=self.env,
                stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
            )
        deadline = time.monotonic() + self.start_timeout_s
        self.first_line = self._first_line(deadline)
        match = _URL.search(self.first_line)
        if not match:
            self._give_up(f"its first line names no URL: {self.first_line!r}")
        self.url = match.group(0)
        self.port = urlsplit(self.url).port
        self._wait_until_it_answers(deadline)
        return self

    def _first_line(self, deadline):
        while True:
            text = self.stdout_path.read_text(encoding="utf-8", errors="replace")
            if "\n" in text:
                return text.split("\n", 1)[0]
            if self.process.poll() is not None:
                self._give_up(f"exited with status {self.process.returncode} before printing its URL")
            if time.monotonic() > deadline:
                self._give_up(f"printed no URL within {self.start_timeout_s} s")
            time.sleep(_POLL_S)

    def _wait_until_it_answers(self, deadline):
        parts = urlsplit(self.url)
        while True:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
            try:
                connection.request("HEAD", "/")
                connection.getresponse().read()
                return
            except (OSError, http.client.HTTPException) as error:
                if self.process.poll() is not None:
                    self._give_up(f"exited with status {self.process.returncode}")
                if time.monotonic() > deadline:
                    self._give_up(f"does not answer at {self.url}: {error}")
                time.sleep(_POLL_S)
            finally:
                connection.close()

    def _give_up(self, problem):
        self._kill()
        stderr = self.stderr().strip()
        raise ServerStartError(
            f"{' '.join(self.command[1:])}: {problem}\n--- its stderr ---\n{stderr or '(empty)'}")

    def _kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self, signum=signal.SIGTERM):
        """Send `signum` (serve.py stops quietly on SIGTERM and SIGINT), wait up to
        stop_timeout_s, then kill it. Returns its exit status; None if it never started."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                self._kill()
        return self.process.returncode
