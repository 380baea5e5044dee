"""A free TCP port on loopback, for a server a test starts on a port it must name."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
from collections.abc import Iterator

LOW, HIGH = 10_000, 18_000
"""Below the kernel's ephemeral range (32768 and up on Linux), from which every outgoing
connection of the whole suite draws its local port: a port taken from that range could
be some connection's by the time the test binds it (seen in CI as EADDRINUSE).  Below the
blocks tests/cli/test_cli.py takes for the lab's fixed ports (20000 and up) and the docs'
18000 too."""

_draw = random.Random()


def free_port() -> int:
    """A port nothing listens on now, below the ephemeral range: bound a moment ago and
    closed again (the kernel's choice, in the ephemeral range, if none is found)."""
    for _ in range(200):
        port = _draw.randrange(LOW, HIGH)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def accepting() -> Iterator[int]:
    """A loopback port that accepts every connection and closes it at once, for as long
    as the block runs: the cheapest peer a connect-level check passes against."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)

    def accept() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:  # closed: the block is over
                return
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        thread.join(5)
