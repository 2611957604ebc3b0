"""uvicorn in front of the application, set to hold under abuse.

    make_server(app, verbose=False, limits=Limits()) -> uvicorn.Server   # .run(sockets=[sock])

- an idle keep-alive connection closes after `keep_alive` seconds;
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

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol


class Limits(NamedTuple):
    keep_alive: int = 5
    max_head_bytes: int = 16 * 1024
    graceful_shutdown: int = 3


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with an answer for half-closers."""

    def eof_received(self):
        # The client will send no more. With a request under way, keep the connection open to
        # write its answer, and close once it is written; otherwise close now.
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
            return True
        return None


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
    config = uvicorn.Config(
        app,
        http=GuardedH11Protocol,
        lifespan="on",
        log_config=None,
        access_log=verbose,
        server_header=False,  # the application names itself (webserver/app.py)
        proxy_headers=False,  # nothing stands in front: X-Forwarded-* are the client's words
        timeout_keep_alive=limits.keep_alive,
        h11_max_incomplete_event_size=limits.max_head_bytes,
        timeout_graceful_shutdown=limits.graceful_shutdown,
    )
    return uvicorn.Server(config)
