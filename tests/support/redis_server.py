"""A real redis-server for the tests and the bench: Debian's package, on a free loopback port, with
its own data folder, stopped by its PID (never the system's service).

    with RedisServer(folder) as redis:   # started, answering PING
        redis.url                        # "redis://127.0.0.1:PORT/0"
        redis.freeze(); redis.thaw()     # SIGSTOP / SIGCONT: a store that stops answering
        redis.stop(); redis.start()      # stopped (its append-only file kept), started again

Append-only with fsync at every write: what a killed serve.py wrote is on disk, so a restart of
Redis itself loses nothing either. `available()` says whether redis-server is installed; the
fixtures skip without it, except in CI (CI=true), where a missing Redis fails the run.

A plain module with no third-party imports (tests/support is on sys.path through pytest's
`pythonpath`; the bench puts it there itself).
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

START_TIMEOUT_S = 10


def available() -> bool:
    return shutil.which("redis-server") is not None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ping(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    def __init__(self, folder: Path, port: int | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        log = open(self.folder / "redis.log", "ab")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "yes",
             "--daemonize", "no", "--logfile", ""],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}: "
                                   + (self.folder / "redis.log").read_text(errors="replace")[-2000:])
            time.sleep(0.05)
        return self

    def freeze(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None:
            return
        process, self.process = self.process, None
        try:
            os.kill(process.pid, signal.SIGCONT)  # a frozen one cannot act on SIGTERM
            process.terminate()
            process.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait(5)

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
