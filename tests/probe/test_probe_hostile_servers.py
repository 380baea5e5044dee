"""Database and gRPC probes against hostile servers on loopback (issue 45 §8): a server that
answers garbage, claims a huge frame and streams it, never ends its reply, floods control
frames, or drips a byte at a time (slowloris).  Each probe ends within its deadline with a
kind, and stops reading: the peer counts what it could send, which stays within the
kernel's socket buffers and the check's byte bound (a client that kept reading a
never-ending reply would take gigabytes).

Before the fixes: a MySQL server sending 16 MiB packets without end filled 333 MB in a 2 s
check (3.8 GB at the default deadline); one dripping its greeting held the event loop
until the packet was complete (16.9 s for a 2 s deadline: closing PyMySQL's buffered
reader waited for the reading thread); garbage from MySQL or PostgreSQL, and an
authentication method no server has, were ``unknown``; libpq's refusal of a 2 GB message
was ``db.query_failed``; a gRPC server flooding PING or SETTINGS frames kept the probe
answering past its deadline (read.timeout at 2.3 s of 2)."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable

import pytest

from tests.helpers.hostile_peer import drip, garbage, hostile_peer, stream
from tether.probe import ProbeOptions, probe

DEADLINE = 1.0
"""Each probe's timeout and deadline (seconds)."""
SLACK = 0.5
"""What a probe may take past its deadline: the loop's turn to notice, the thread's wake."""
SENT_MAX = 64 << 20
"""What a peer may have handed the kernel before the client stopped reading (bytes)."""

Behave = Callable[[socket.socket, threading.Event], int]


def _after_first_read(then: Callable[[socket.socket, threading.Event], int]) -> Behave:
    """``then``, once the client has said something (a client that speaks first)."""

    def behave(conn: socket.socket, stop: threading.Event) -> int:
        conn.settimeout(5)
        try:
            conn.recv(65536)
        except OSError:
            return 0
        return then(conn, stop)

    return behave


def _out_of_sequence() -> bytes:
    """Random garbage whose first packet's sequence number (its fourth byte) is not 0."""
    data = bytearray(garbage())
    data[3] |= 1
    return bytes(data)


def _mysql_packets_without_end(conn: socket.socket, stop: threading.Event) -> int:
    """16 MiB packets, each continued by the next (PyMySQL joins them until a short one)."""
    sent, seq, body = 0, 0, b"\x00" * 0xFFFFFF
    while not stop.is_set():
        try:
            conn.sendall(b"\xff\xff\xff" + bytes([seq % 256]) + body)
        except OSError:
            break
        seq, sent = seq + 1, sent + len(body) + 4
    return sent


def _postgres_huge_row(conn: socket.socket, stop: threading.Event) -> int:
    """Logged in at once, then a DataRow that claims 2 GB and streams zeros."""
    conn.settimeout(5)
    try:
        conn.recv(65536)
        conn.sendall(b"R" + struct.pack("!ii", 8, 0) + b"Z" + struct.pack("!i", 5) + b"I")
        conn.recv(65536)
    except OSError:
        return 0
    return stream(conn, stop, b"D" + struct.pack("!i", 0x7FFFFFF0))


def _frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream_id.to_bytes(4, "big")


def _h2(head: bytes, body: bytes) -> Behave:
    """After the client's preface: an empty SETTINGS, ``head``, then ``body`` forever."""
    settings = _frame(4, 0, 0, b"")
    return _after_first_read(lambda c, s: stream(c, s, settings + head, body))


def _h2_frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    return _frame(kind, flags, stream_id, payload) + payload


CASES: dict[str, tuple[str, Behave, str]] = {
    "redis garbage": ("redis", lambda c, s: stream(c, s, garbage()), "connection.closed"),
    "redis huge bulk string": (
        "redis",
        lambda c, s: stream(c, s, b"$2147483647\r\n"),
        "response.too_large",
    ),
    "redis endless line": (
        "redis",
        lambda c, s: stream(c, s, b"+", b"a" * 65536),
        "response.malformed",
    ),
    "redis slowloris": ("redis", lambda c, s: drip(c, s, b"+PONG"), "read.timeout"),
    # A packet's fourth byte is its sequence number, which PyMySQL checks first: garbage
    # with 0 there (one in 256) reads on, as a greeting of up to 16 MiB, which the check's
    # byte bound stops (the case after this one).
    "mysql garbage": (
        "mysql",
        lambda c, s: stream(c, s, b"", _out_of_sequence()),
        "response.malformed",
    ),
    "mysql garbage as a greeting past the bound": (
        "mysql",
        lambda c, s: stream(c, s, b"", b"\xff\xff\xff\x00" + garbage()),
        "response.too_large",
    ),
    "mysql packets without end": ("mysql", _mysql_packets_without_end, "response.too_large"),
    "mysql slowloris": (
        "mysql",
        lambda c, s: drip(c, s, b"\x4a\x00\x00\x00\x0a5.5.5"),
        "read.timeout",
    ),
    "postgresql garbage": (
        "postgresql",
        _after_first_read(lambda c, s: stream(c, s, b"", garbage())),
        "response.malformed",
    ),
    # Garbage whose first byte names a message libpq reads on (one in 85 of the random
    # garbage above): an error in the pre-3.0 form, whose "text" is the garbage itself, a
    # protocol negotiation, an authentication request.
    "postgresql garbage as an error's text": (
        "postgresql",
        _after_first_read(lambda c, s: stream(c, s, b"", b"E\x1b[31m" + garbage())),
        "response.malformed",
    ),
    "postgresql an error with no text": (
        "postgresql",
        _after_first_read(lambda c, s: stream(c, s, b"E\x00\x00\x00\x04")),
        "response.malformed",
    ),
    "postgresql garbage as a negotiation": (
        "postgresql",
        _after_first_read(lambda c, s: stream(c, s, b"", b"v" + garbage())),
        "response.malformed",
    ),
    "postgresql garbage as an authentication": (
        "postgresql",
        _after_first_read(lambda c, s: stream(c, s, b"", b"R" + garbage())),
        "response.malformed",
    ),
    "postgresql huge row": ("postgresql", _postgres_huge_row, "response.too_large"),
    "postgresql slowloris": (
        "postgresql",
        _after_first_read(lambda c, s: drip(c, s, b"R\x00\x00\x00\x08")),
        "read.timeout",
    ),
    "postgresql no such authentication": (
        "postgresql",
        _after_first_read(lambda c, s: stream(c, s, b"R" + struct.pack("!ii", 8, 0x61616161))),
        "response.malformed",
    ),
    "grpc garbage": (
        "grpc",
        _after_first_read(lambda c, s: stream(c, s, b"", garbage())),
        "response.malformed",
    ),
    "grpc huge frame": (
        "grpc",
        _after_first_read(lambda c, s: stream(c, s, b"\xff\xff\xff\x00\x00\x00\x00\x00\x00")),
        "response.malformed",
    ),
    "grpc continuation without end": (
        "grpc",
        _h2(_h2_frame(1, 0, 1, b"\x88"), _h2_frame(9, 0, 1, b"\x00" * 16384)),
        "response.malformed",
    ),
    "grpc header not utf-8": (
        "grpc",
        _h2(
            _h2_frame(1, 4, 1, b"\x88\x00\x0ccontent-type\x0dapplication/\xff"),
            _h2_frame(8, 0, 0, b"\x00\x00\x00\x01"),
        ),
        "response.malformed",
    ),
    "grpc content-length past int's digits": (
        "grpc",
        _h2(
            _h2_frame(1, 4, 1, b"\x88\x00\x0econtent-length\x7f\x89\x26" + b"9" * 5000),
            _h2_frame(8, 0, 0, b"\x00\x00\x00\x01"),
        ),
        "response.malformed",
    ),
    "grpc data without end": (
        "grpc",
        _h2(_h2_frame(1, 4, 1, b"\x88"), _h2_frame(0, 0, 1, b"\x00" * 16384)),
        "response.too_large",
    ),
    "grpc ping flood": (
        "grpc",
        _h2(b"", _h2_frame(6, 0, 0, b"\x00" * 8) * 4096),
        "response.malformed",
    ),
    "grpc settings flood": (
        "grpc",
        _h2(b"", _h2_frame(4, 0, 0, b"\x00\x03\x00\x00\x00\x64") * 4096),
        "response.malformed",
    ),
    "grpc slowloris": (
        "grpc",
        _after_first_read(lambda c, s: drip(c, s, b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")),
        "read.timeout",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_server_ends_the_probe_in_time_with_a_kind(case: str) -> None:
    """The probe ends within its deadline, with the kind the server's trouble is, and took
    no more than the kernel's buffers and its byte bound of what the server would send;
    its detail names no secret and prints no control character."""
    scheme, behave, kind = CASES[case]
    pytest.importorskip({"mysql": "pymysql", "postgresql": "psycopg"}.get(scheme, "hyperframe"))
    user = "" if scheme == "grpc" else "tether:secret@"
    with hostile_peer(behave) as peer:
        started = time.monotonic()
        result = probe(
            f"{scheme}://{user}127.0.0.1:{peer.port}/{'0' if scheme == 'redis' else 'db'}",
            ProbeOptions(timeout=DEADLINE, deadline=DEADLINE),
        )
        took = time.monotonic() - started
    assert result.failure is not None, result.phases
    assert result.failure.kind.value == kind, result.failure.detail
    assert "secret" not in result.failure.detail
    # A server's bytes reach a terminal through the detail: no control character does.
    assert result.failure.detail.isprintable(), result.failure.detail
    assert took < DEADLINE + SLACK, took
    assert sum(peer.sent) < SENT_MAX, sum(peer.sent)


def _data_past_the_window_in_one_read(conn: socket.socket, stop: threading.Event) -> int:
    """One DATA frame of 16 KiB; once the client has answered it (its SETTINGS ack), four
    more in one write: 64 KiB arrive in one read, past what is left of the window (the
    client never sends a WINDOW_UPDATE: it reads at most 16 KiB of an answer)."""
    conn.settimeout(5)
    data = _h2_frame(0, 0, 1, b"\x00" * 16384)
    try:
        conn.recv(65536)
        conn.sendall(_frame(4, 0, 0, b"") + _h2_frame(1, 4, 1, b"\x88") + data)
        conn.recv(65536)
        conn.sendall(data * 4)
    except OSError:
        return 0
    stop.wait(5)
    return 5 * len(data)


def test_data_past_the_window_in_one_read_is_too_large() -> None:
    """A server that sends DATA without end is told its answer is too large, however the
    kernel cuts its bytes into reads: one read of 64 KiB held more than the window had
    left, and h2, which the probe read HTTP/2 with then, refused the frames (broke
    HTTP/2, ``response.malformed``) before the probe could count them (a full run's flake
    of the case above); the frames are now counted one at a time as they are read."""
    pytest.importorskip("hyperframe")
    with hostile_peer(_data_past_the_window_in_one_read) as peer:
        result = probe(
            f"grpc://127.0.0.1:{peer.port}/",
            ProbeOptions(timeout=DEADLINE, deadline=DEADLINE),
        )
    assert result.failure is not None, result.phases
    assert result.failure.kind.value == "response.too_large", result.failure.detail
