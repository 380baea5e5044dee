"""The monitor's server holds against slow clients: header, body and idle deadlines and a
connection cap (``server:``), on real sockets on loopback against the real server (one
process, its Unix socket for workers, and a `workers: 2` process).

The deadlines are the server's real time, set small (0.3 s); each test waits for the
server to answer or close a real socket, always with a bound."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.ports import free_port
from tests.helpers.processes import wait_for
from tests.helpers.tether_processes import monitor
from tests.helpers.web_harness import ServedRunner
from tether.monitor.config import parse_config
from tether.monitor.web._web import serve, serve_unix

TOKEN = "slow-push-token-0123456789abcdef"
DEADLINE = 0.3
IDLE = 0.6
BOUND = 5.0
"""The longest any test waits for the server to answer or close a socket."""


def config(**server: Any) -> Any:
    limits = {"header_timeout": "300ms", "body_timeout": "300ms", "idle_timeout": "600ms"}
    return parse_config(
        yaml.safe_dump(
            {
                "server": {**limits, **server},
                "monitors": [{"name": "job", "type": "push", "token": TOKEN, "interval": "1m"}],
            }
        )
    )


class _Served(ServedRunner):
    """The runner served by the monitor's own ``serve`` (``serve_unix`` with ``unix``)."""

    async def _serve(self, host: str, tls: Any, unix: str | None) -> Any:
        if unix is not None:
            return await serve_unix(self.runner, unix)
        return await serve(self.runner, host, 0)


@pytest.fixture
def served(serve_runner: Callable[..., ServedRunner], request: pytest.FixtureRequest) -> _Served:
    server = getattr(request, "param", {})
    s = serve_runner(config(**server), cls=_Served)
    assert isinstance(s, _Served)
    return s


def connect(address: Any, family: int = socket.AF_INET) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(BOUND)
    try:
        sock.connect(address)
    except OSError:
        sock.close()
        raise
    return sock


def drip(sock: socket.socket, data: bytes, start: float | None = None) -> tuple[bytes, float]:
    """Send ``data`` a byte at a time, each byte once the server has said nothing for
    50 ms, until it answers or closes: what it sent, and after how long since ``start``
    (now, if not given)."""
    start = time.monotonic() if start is None else start
    for byte in data:
        try:
            sock.send(bytes([byte]))
        except OSError:
            break  # closed under us
        sock.settimeout(0.05)  # the pace of the drip, waiting on the server
        try:
            got = sock.recv(4096)
        except TimeoutError:
            assert time.monotonic() - start < BOUND, "the server never cut the drip off"
            continue
        except OSError:
            got = b""
        return got + read_to_end(sock), time.monotonic() - start
    return read_to_end(sock), time.monotonic() - start


def read_to_end(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (within the bound)."""
    sock.settimeout(BOUND)
    out = b""
    try:
        while chunk := sock.recv(4096):
            out += chunk
    except ConnectionResetError:
        pass
    return out


ENDLESS = b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 4000


def test_dripped_headers_are_answered_408_and_closed(served: _Served) -> None:
    """A client that drips its headers a byte at a time is answered 408 and cut off once
    header_timeout has passed since it connected (timed from before the connection: the
    server's time starts when it accepts, before the client's connect returns)."""
    start = time.monotonic()
    with connect((served.host, served.port)) as sock:
        got, took = drip(sock, ENDLESS, start)
    assert got.startswith(b"HTTP/1.1 408 "), got[:100]
    assert DEADLINE <= took < DEADLINE + 2


def test_a_silent_connection_is_closed_without_an_answer(served: _Served) -> None:
    """A connection that sends nothing is closed after header_timeout, with no answer
    (timed from before the connection, as above)."""
    start = time.monotonic()
    with connect((served.host, served.port)) as sock:
        assert read_to_end(sock) == b""
    assert DEADLINE <= time.monotonic() - start < DEADLINE + 2


def test_a_dripped_body_is_answered_408(served: _Served) -> None:
    """A push whose form body is dripped a byte at a time is answered 408 once
    body_timeout has passed since its headers, and is not recorded."""
    head = (
        f"POST /api/push/{TOKEN} HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\n"
    ).encode()
    with connect((served.host, served.port)) as sock:
        sock.sendall(head)
        got, took = drip(sock, b"msg=" + b"a" * 3996)
    assert got.startswith(b"HTTP/1.1 408 "), got[:100]
    assert b"body" in got
    assert DEADLINE <= took < DEADLINE + 2


def test_later_requests_have_the_same_header_deadline(served: _Served) -> None:
    """On a kept-alive connection, a second request's dripped headers are cut off too."""
    with connect((served.host, served.port)) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(BOUND)
        first = b""
        while b"\r\n\r\n" not in first:
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        length = int(first.split(b"Content-Length: ", 1)[1].split(b"\r\n", 1)[0])
        body = first.split(b"\r\n\r\n", 1)[1]
        while len(body) < length:
            body += sock.recv(65536)
        got, took = drip(sock, ENDLESS)
    assert got.startswith(b"HTTP/1.1 408 "), got[:100]
    assert took < DEADLINE + 2


def test_an_idle_kept_alive_connection_is_closed(served: _Served) -> None:
    """A kept-alive connection with no further request is closed after idle_timeout
    (longer than header_timeout here, so it is that deadline that closes it)."""
    with connect((served.host, served.port)) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        start = time.monotonic()
        got = read_to_end(sock)
    assert got.startswith(b"HTTP/1.1 200 ")
    assert IDLE <= time.monotonic() - start < IDLE + 2


@pytest.mark.parametrize(
    "served", [{"max_connections": 20, "header_timeout": "30s"}], indirect=True
)
def test_past_the_cap_a_connection_is_refused_and_the_held_ones_still_serve(
    served: _Served,
) -> None:
    """With max_connections held by silent clients, one more is answered 503 and
    closed; once one is let go, a normal request is answered 200 beside the rest."""
    held = [connect((served.host, served.port)) for _ in range(20)]
    try:
        with connect((served.host, served.port)) as extra:
            got = read_to_end(extra)
        assert got.startswith(b"HTTP/1.1 503 "), got[:100]
        assert b"Retry-After: 1" in got
        held.pop().close()

        def answered() -> int | None:
            with connect((served.host, served.port)) as sock:
                sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                got = read_to_end(sock)
            return 200 if got.startswith(b"HTTP/1.1 200 ") else None

        assert wait_for(answered, BOUND) == 200  # once the server has seen the close
    finally:
        for sock in held:
            sock.close()


def test_the_unix_socket_for_workers_has_the_deadlines(
    tmp_path: Path, serve_runner: Callable[..., ServedRunner]
) -> None:
    """The coordinator's Unix socket (what worker processes forward to) cuts off dripped
    headers as its TCP server does."""
    path = str(tmp_path / "c.sock")
    serve_runner(config(), cls=_Served, unix=path)
    with connect(path, socket.AF_UNIX) as sock:
        got, took = drip(sock, ENDLESS)
    assert got.startswith(b"HTTP/1.1 408 "), got[:100]
    assert took < DEADLINE + 2


def test_worker_processes_cut_off_dripped_headers(tmp_path: Path) -> None:
    """With `workers: 2`, the port the worker processes listen on cuts off dripped
    headers after header_timeout, and past max_connections answers 503."""
    port = free_port()
    path = tmp_path / "tether.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "storage": {"path": str(tmp_path / "t.db")},
                "workers": 2,
                "server": {
                    "listen": f"127.0.0.1:{port}",
                    "header_timeout": "300ms",
                    "max_connections": 3,
                },
                "monitors": [{"name": "job", "type": "push", "token": TOKEN, "interval": "1m"}],
            }
        )
    )
    with monitor(path, tmp_path / "monitor.log") as proc:

        def up() -> bool:
            try:
                with connect(("127.0.0.1", port)) as sock:
                    sock.sendall(
                        b"GET /api/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                    )
                    return read_to_end(sock).startswith(b"HTTP/1.1 200 ")
            except OSError:
                return False

        wait_for(up, 60, [proc])
        with connect(("127.0.0.1", port)) as sock:
            got, took = drip(sock, ENDLESS)
        assert got.startswith(b"HTTP/1.1 408 "), got[:100]
        assert took < DEADLINE + 2
        # Each worker counts its own: 2 x 3 silent ones fill both, whichever takes them.
        held = [connect(("127.0.0.1", port)) for _ in range(12)]
        try:
            refused = 0
            for sock in held:
                sock.settimeout(BOUND)
                got = read_to_end(sock)
                refused += got.startswith(b"HTTP/1.1 503 ")
            assert refused >= 6
        finally:
            for sock in held:
                sock.close()
