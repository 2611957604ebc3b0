"""serve.py with one change, for a diagnosis of the bench (variants `appnd`, `appsrvnd`): its
listening socket is made as a TCP socket (`proto=IPPROTO_TCP` instead of 0).

Why: asyncio switches Nagle's algorithm off (TCP_NODELAY) only on connections whose socket says
it is TCP. serve.py's listening_socket() makes `socket.socket(family, SOCK_STREAM)`, proto 0, so
its connections keep Nagle on. uvicorn writes an answer's head and body in two writes; on a
kept-alive connection the body then waits for the browser's delayed ACK, about 40 ms. This
launcher shows what serve.py would gain from making its socket with IPPROTO_TCP (or setting
TCP_NODELAY on each connection); it changes nothing else and nothing in the repository.
"""

import signal
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import serve  # noqa: E402


class TCPSocket(socket.socket):
    """socket.socket, naming the protocol of an Internet stream socket (TCP) explicitly."""

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        if fileno is None and type == socket.SOCK_STREAM and proto in (0, -1) \
                and family in (socket.AF_INET, socket.AF_INET6):
            proto = socket.IPPROTO_TCP
        super().__init__(family, type, proto, fileno)


if __name__ == "__main__":
    serve.socket.socket = TCPSocket  # the name serve.listening_socket() calls
    signal.signal(signal.SIGTERM, serve.stop)
    try:
        sys.exit(serve.main())
    except KeyboardInterrupt:
        sys.exit(0)
