"""A TCP peer on loopback that misbehaves as a hostile server would: it answers garbage,
claims a huge frame and streams it, never ends its reply, or drips one byte at a time
(slowloris), each after the opening its protocol expects, so the client gets past its
first read before the trouble starts.  One thread per connection; every loop ends when
the client leaves or the peer is closed."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

Behaviour = Callable[[socket.socket, threading.Event], None]

CHUNK = b"\x00" * 65536


@dataclass(frozen=True)
class Peer:
    port: int
    sent: list[int]
    """Bytes sent to each connection so far (a reply never ends: how far it got)."""


def _send(conn: socket.socket, data: bytes) -> bool:
    try:
        conn.sendall(data)
    except OSError:
        return False
    return True


def stream(conn: socket.socket, stop: threading.Event, head: bytes, body: bytes = CHUNK) -> int:
    """``head``, then ``body`` again and again as fast as the client reads, until it
    leaves or ``stop``: the bytes sent."""
    sent = 0
    if not _send(conn, head):
        return sent
    sent += len(head)
    while not stop.is_set() and _send(conn, body):
        sent += len(body)
    return sent


def drip(conn: socket.socket, stop: threading.Event, head: bytes, every: float = 0.2) -> int:
    """``head`` one byte at a time, then ``a`` a byte at a time, ``every`` seconds apart,
    until the client leaves or ``stop`` (slowloris)."""
    sent = 0
    data = head
    while not stop.is_set():
        for byte in data:
            if stop.wait(every) or not _send(conn, bytes([byte])):
                return sent
            sent += 1
        data = b"a" * 64
    return sent


def garbage(size: int = 65536) -> bytes:
    return os.urandom(size)


@contextmanager
def hostile_peer(behave: Callable[[socket.socket, threading.Event], int]) -> Iterator[Peer]:
    """A listener on 127.0.0.1 that hands each connection to ``behave`` in a thread of
    its own; on the way out every connection is closed and every thread joined."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()
    sent: list[int] = []
    threads: list[threading.Thread] = []
    conns: list[socket.socket] = []

    def serve(conn: socket.socket) -> None:
        try:
            sent.append(behave(conn, stop))
        finally:
            conn.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conns.append(conn)
            thread = threading.Thread(target=serve, args=(conn,), daemon=True)
            threads.append(thread)
            thread.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield Peer(listener.getsockname()[1], sent)
    finally:
        stop.set()
        acceptor.join(5)
        listener.close()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + 5
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
