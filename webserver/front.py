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
  (an exception in the application) always show.
- SIGINT and SIGTERM: uvicorn stops accepting, finishes the answers under way (at most
  `graceful_shutdown` seconds), then re-raises the signal with the previous handlers restored
  (serve.py turns it into exit status 0).
"""

import logging
import sys
from typing import NamedTuple

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol


class Limits(NamedTuple):
    max_connections: int = 512
    header_timeout: float = 10.0
    keep_alive: int = 5
    max_head_bytes: int = 16 * 1024
    graceful_shutdown: int = 3


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for request heads and an answer for half-closers."""

    header_timeout = Limits.header_timeout  # make_server sets it per server (a subclass)

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


def make_server(app, *, verbose: bool = False, limits: Limits = Limits()) -> uvicorn.Server:
    """A uvicorn server for `app`, to be run on a socket bound by the caller."""
    configure_logging(verbose)
    protocol = type("Protocol", (GuardedH11Protocol,), {"header_timeout": limits.header_timeout})
    config = uvicorn.Config(
        app,
        http=protocol,
        lifespan="on",
        log_config=None,
        access_log=verbose,
        server_header=False,  # the application names itself (webserver/app.py)
        proxy_headers=False,  # nothing stands in front: X-Forwarded-* are the client's words
        limit_concurrency=limits.max_connections,
        timeout_keep_alive=limits.keep_alive,
        h11_max_incomplete_event_size=limits.max_head_bytes,
        timeout_graceful_shutdown=limits.graceful_shutdown,
    )
    return uvicorn.Server(config)
