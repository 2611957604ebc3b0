"""The live servers of the end-to-end tests: serve.py, once per configuration and session.

A plain module (the test files and conftest.py import it by name, as pytest puts this folder on
sys.path); the fixtures built on it (`server_pool`, `serve`, `runtime`, `app_server`) are in
conftest.py. tests/support/live_server.py starts and stops each serve.py.
"""

import os

import live_server  # tests/support/, on sys.path by pytest's `pythonpath`
import pytest

RUNTIMES = ("micropython", "pyodide")
# How long a tab may stay `booting` (a cold Pyodide start is about 3 s alone, 12 s for ten tabs).
BOOT_TIMEOUT_MS = {"micropython": 10_000, "pyodide": 20_000}
SERVER_START_TIMEOUT_S = 15


class LiveServer(live_server.LiveServer):
    """One running `serve.py` of a runtime and options (tests/support/live_server.py starts and
    stops it). `server.url` is its origin; `server("/path")` a full address."""

    def __init__(self, runtime, options, logs_in):
        # INSECURE_HOST reaches the same server by a name that is not a secure context.
        super().__init__("--runtime", runtime, "--allow-host", INSECURE_HOST, *option_flags(options),
                         logs_in=logs_in, name="server",
                         start_timeout_s=SERVER_START_TIMEOUT_S)
        self.runtime = runtime
        self.options = dict(options)

    def __repr__(self):
        return f"LiveServer({self.url}, runtime={self.runtime}, options={self.options})"

    @property
    def boot_timeout_ms(self):
        return BOOT_TIMEOUT_MS[self.runtime]


option_flags = live_server.option_flags


def _start_server(runtime, options, logs_in):
    if not live_server.SERVE_PY.exists():
        pytest.fail(f"{live_server.SERVE_PY} does not exist yet: the end-to-end tests need the app",
                    pytrace=False)
    try:
        return LiveServer(runtime, options, logs_in).start()
    except live_server.ServerStartError as error:
        pytest.fail(str(error), pytrace=False)


class ServerPool:
    """Starts each configuration of serve.py once and stops them all at the end of the session."""

    def __init__(self, log_root):
        self._log_root = log_root
        self._servers = {}

    def __call__(self, runtime="micropython", **options):
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {RUNTIMES}, not {runtime!r}")
        key = (runtime, tuple(sorted(options.items())))
        server = self._servers.get(key)
        if server is not None and server.process.poll() is not None:
            pytest.fail(
                f"{server} exited with status {server.process.returncode} during the session\n"
                f"--- its stderr ---\n{server.stderr()}",
                pytrace=False,
            )
        if server is None:
            server = _start_server(runtime, options, self._log_root)
            self._servers[key] = server
        return server

    flags = staticmethod(option_flags)

    def origins(self):
        return {server.url for server in self._servers.values()}

    def stop_all(self):
        for server in self._servers.values():
            server.stop()
        self._servers.clear()


def selected_runtimes():
    chosen = os.environ.get("TABSESSION_RUNTIMES")
    if not chosen:
        return list(RUNTIMES)
    names = [name.strip() for name in chosen.split(",") if name.strip()]
    unknown = set(names) - set(RUNTIMES)
    if unknown:
        raise pytest.UsageError(f"TABSESSION_RUNTIMES names unknown runtimes: {sorted(unknown)}")
    return names


# A made-up host name that the `insecure_browser` resolves to 127.0.0.1. Pages loaded through it
# are not a secure context, so they have no Web Locks: the storage-only fallback is what runs.
INSECURE_HOST = "tabsession.test"


def insecure_url(server, path="/"):
    """`server(path)` reached through INSECURE_HOST instead of 127.0.0.1."""
    return server(path).replace("://127.0.0.1:", "://" + INSECURE_HOST + ":", 1)
