"""A free TCP port on loopback, for a server a test starts on a port it must name."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on now: bound a moment ago and closed again."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
