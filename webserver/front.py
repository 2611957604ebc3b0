"""uvicorn in front of the application, set to hold under abuse.

    make_server(app, verbose=False, limits=Limits()) -> uvicorn.Server   # .run(sockets=[sock])

- bounded concurrency: past `max_connections` open connections (or requests under way), a
  request is answered 503 at once (uvicorn's `limit_concurrency`);
- deadlines: a connection must deliver a complete request head within `header_timeout` seconds of
  opening, or of its previous answer (a silent or byte-by-byte client is closed: uvicorn has no
  such deadline of its own), and an idle keep-alive connection closes after `keep_alive` seconds;
- a request head larger than `max_head_bytes` is refused by h11 (400);
- a client that half-closes after its request (shutdown(SHUT_WR), as `nc -N` does) still gets its
  answer, then the connection closes (uvicorn would drop the answer);
- quiet: nothing on standard error for clients that vanish or send junk unless `verbose`
  (then every request, as an access log line, and every refused connection); real errors
  (an exception in the application) always show;
- out of file descriptors (RLIMIT_NOFILE): `max_connections` is lowered to fit the limit (a
  connection serving a file holds two descriptors, see `fitting_connections`), so the
  application never fails to open a file; connections that cannot be accepted are answered 503
  and closed at once, with a descriptor kept in reserve for this (`GuardedEventLoop`), and one
  line on standard error says so, at most once a minute. asyncio alone logged a traceback for
  every waiting connection and spun (CPython gh-151615: its retry does not leave its accept loop;
  at 64 files, 112,486 tracebacks and 65% CPU in 10 s, the waiting clients unanswered:
  bench/front_abuse.py);
- SIGINT and SIGTERM: uvicorn stops accepting, finishes the answers under way (at most
  `graceful_shutdown` seconds), then re-raises the signal with the previous handlers restored
  (serve.py turns it into exit status 0).
"""

import asyncio
import errno
import logging
import os
import socket
import sys
import time
from typing import NamedTuple

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.supervisors.multiprocess import Multiprocess


class Limits(NamedTuple):
    max_connections: int = 512
    header_timeout: float = 10.0
    keep_alive: int = 5
    max_head_bytes: int = 16 * 1024
    graceful_shutdown: int = 3


# Files the server holds besides its connections and the files they serve: standard streams, the
# selector, its wake-up pair, the listening socket, the reserve, the modules' own (measured: 7).
RESERVED_FILES = 32
# accept() errors that mean "out of resources": the connection waits in the listen queue.
OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
BUSY_ANSWER = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 24\r\n"
    b"Cache-Control: no-store\r\n"
    b"Retry-After: 1\r\n"
    b"X-Content-Type-Options: nosniff\r\n"
    b"Server: tabsession\r\n"
    b"Connection: close\r\n"
    b"\r\n"
    b"503 Service Unavailable\n"
)
OUT_OF_FILES_NOTE_EVERY = 60.0  # seconds
SHED_AT_ONCE = 256  # connections answered 503 in one turn of the loop


def open_files_limit() -> int | None:
    """This process's soft RLIMIT_NOFILE, or None (no limit, or no `resource` module)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def fitting_connections(wanted: int, files: int | None) -> int:
    """The limit on connections that `files` descriptors can hold: each connection may serve a
    file (two descriptors), besides RESERVED_FILES."""
    if files is None:
        return wanted
    return max(1, min(wanted, (files - RESERVED_FILES) // 2))


class _Listener:
    """The listening socket as asyncio's accept loop sees it (GuardedEventLoop): an accept() that
    fails for want of resources answers the waiting connections 503 where it can, and never
    fails twice in one round (asyncio's loop would go on, up to its backlog, 2048 times)."""

    def __init__(self, loop: "GuardedEventLoop", sock: socket.socket):
        self._loop = loop
        self._sock = sock
        self._failed = False

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def accept(self):
        if self._failed:
            raise BlockingIOError(errno.EAGAIN, "out of resources: the next round retries")
        try:
            return self._sock.accept()
        except OSError as error:
            if error.errno not in OUT_OF_RESOURCES:
                raise
            self._failed = True
            self._loop.note_out_of_files(error)
            if self._loop.shed(self._sock):
                # The queue is answered: wait for the next connection as usual.
                raise BlockingIOError(errno.EAGAIN, "listen queue answered 503") from None
            raise  # nothing could be accepted: asyncio stops reading the socket for a second


class GuardedEventLoop(asyncio.SelectorEventLoop):
    """asyncio's selector loop, holding when out of file descriptors (see the module docstring).

    It keeps one descriptor in reserve (/dev/null). When accept() fails with EMFILE or ENFILE, it
    frees the reserve, accepts the connections waiting in the listen queue one at a time, answers
    each 503 (`BUSY_ANSWER`) and closes it, then takes the reserve again: a client learns at once
    that the server is busy instead of waiting, unanswered, until it gives up; and the listening
    socket is no longer readable, so the loop sleeps until the next connection."""

    def __init__(self, *arguments, **keywords):
        super().__init__(*arguments, **keywords)
        self._reserve = None
        self._take_reserve()
        self._noted_at = None

    def _take_reserve(self) -> None:
        if self._reserve is None:
            try:
                self._reserve = os.open(os.devnull, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            except OSError:
                pass

    def _release_reserve(self) -> bool:
        if self._reserve is None:
            return False
        os.close(self._reserve)
        self._reserve = None
        return True

    def close(self) -> None:
        self._release_reserve()
        super().close()

    def _accept_connection(self, protocol_factory, sock, *arguments, **keywords):
        # asyncio passes the socket it was given back to itself when it retries after an error.
        sock = sock._sock if isinstance(sock, _Listener) else sock
        self._take_reserve()  # after a shortage, as soon as a descriptor is free again
        return super()._accept_connection(protocol_factory, _Listener(self, sock), *arguments, **keywords)

    def shed(self, sock: socket.socket) -> bool:
        """Answer 503 to the connections waiting on `sock`, with the reserve descriptor; False
        when not even one could be accepted."""
        if not self._release_reserve():
            return False
        answered = 0
        try:
            while answered < SHED_AT_ONCE:  # then other callbacks run; the socket stays readable
                try:
                    connection, _ = sock.accept()
                except (BlockingIOError, InterruptedError):
                    break  # the queue is empty
                except ConnectionAbortedError:
                    continue
                except OSError:
                    return answered > 0
                with connection:
                    answered += 1
                    connection.setblocking(False)
                    try:  # read the request if it is here: closing with it unread sends a reset
                        connection.recv(65536)
                    except OSError:
                        pass
                    try:
                        connection.send(BUSY_ANSWER)
                    except OSError:
                        pass
            return True
        finally:
            self._take_reserve()

    def note_out_of_files(self, error: OSError) -> None:
        now = time.monotonic()
        if self._noted_at is None or now - self._noted_at >= OUT_OF_FILES_NOTE_EVERY:
            self._noted_at = now
            logging.getLogger("uvicorn.error").error(
                "out of file descriptors (%s): new connections are answered 503 until some close",
                error.strerror or error)

    def default_exception_handler(self, context) -> None:
        # asyncio's own report of the same (with a traceback), when shedding could not help.
        if context.get("message") == "socket.accept() out of system resource":
            return
        super().default_exception_handler(context)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for request heads and an answer for half-closers."""

    header_timeout = Limits().header_timeout  # other limits: make_server makes a subclass

    def connection_made(self, transport) -> None:
        self._head_deadline = None
        super().connection_made(transport)
        self._arm_head_deadline()

    def connection_lost(self, exc) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_deadline()  # the next request's head is due in time too

    def eof_received(self):
        # The client will send no more. With a request under way, keep the connection open to
        # write its answer, and close once it is written; otherwise close now.
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
            return True
        return None

    def _arm_head_deadline(self) -> None:
        self._cancel_head_deadline()
        self._head_deadline = self.loop.call_later(self.header_timeout, self._head_deadline_passed)

    def _cancel_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_deadline_passed(self) -> None:
        self._head_deadline = None
        # IDLE: no complete request head yet (after one, h11 moves on until the next cycle).
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("serve.py: %(message)s"))
    root = logging.getLogger("uvicorn")
    root.handlers = [handler]
    root.propagate = False
    root.setLevel(logging.INFO if verbose else logging.ERROR)
    logging.getLogger("uvicorn.error").setLevel(logging.NOTSET)
    logging.getLogger("uvicorn.access").setLevel(logging.INFO if verbose else logging.ERROR)
    # asyncio warns of writes to a connection its client reset ("socket.send() raised exception."):
    # a tab closed mid-download is normal life.
    logging.getLogger("asyncio").setLevel(logging.WARNING if verbose else logging.ERROR)


def _config(app, verbose: bool, limits: Limits, **more) -> uvicorn.Config:
    protocol = GuardedH11Protocol if limits.header_timeout == GuardedH11Protocol.header_timeout else \
        type("Protocol", (GuardedH11Protocol,), {"header_timeout": limits.header_timeout})
    return uvicorn.Config(
        app,
        http=protocol,
        # A callable, not one of uvicorn's names: uvicorn takes it as the loop factory.
        loop=GuardedEventLoop if sys.platform != "win32" else "auto",
        lifespan="on",
        log_config=None,
        access_log=verbose,
        server_header=False,  # the application names itself (webserver/app.py)
        proxy_headers=False,  # nothing stands in front: X-Forwarded-* are the client's words
        limit_concurrency=fitting_connections(limits.max_connections, open_files_limit()),
        timeout_keep_alive=limits.keep_alive,
        h11_max_incomplete_event_size=limits.max_head_bytes,
        timeout_graceful_shutdown=limits.graceful_shutdown,
        **more,
    )


def make_server(app, *, verbose: bool = False, limits: Limits = Limits()) -> uvicorn.Server:
    """A uvicorn server for `app`, to be run on a socket bound by the caller."""
    configure_logging(verbose)
    return uvicorn.Server(_config(app, verbose, limits))


def make_workers(factory: str, workers: int, *, verbose: bool = False, sockets=()) -> Multiprocess:
    """``workers`` uvicorn processes serving one listening socket (bound by the caller), each
    with the application that ``factory`` ("module:function", called in the worker) builds, and
    the limits above; uvicorn's supervisor starts them, restarts one that dies, and stops them
    all on SIGINT or SIGTERM (``.run()`` returns then). Workers are spawned, not forked, so each
    opens its own store connections."""
    configure_logging(verbose)
    return Multiprocess(_config(factory, verbose, Limits(), factory=True, workers=workers),
                        sockets=list(sockets))
