"""Ctrl-C during `tether diagnose`: the targets that finished are printed, the others
named on stderr, exit code 130, and no traceback.

A real process gets a real SIGINT while one target hangs on a loopback server that
never answers; the signal is sent once both servers have seen what they wait for (the
finished probe's connection closed, the hanging probe's request read), not after a sleep.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest


@dataclass
class Server:
    """A loopback HTTP server for one request to its own path: answers 200 (then waits for
    the client to close) or, with ``hang``, reads the request and never answers.

    Any other connection is closed and the server waits on: another test may have picked
    this port as one where nobody listens and connect to it, and a request that is not
    tether's must not make the test send its SIGINT before tether has installed its
    handler (a suite run in the background starts every process with SIGINT ignored)."""

    hang: bool
    ready: threading.Event = field(default_factory=threading.Event)
    """Set once the client closed (200) or once the request is read (hang)."""
    release: threading.Event = field(default_factory=threading.Event)
    sock: socket.socket = field(default_factory=socket.socket)
    path: str = field(default_factory=lambda: f"/{secrets.token_hex(8)}")

    def __post_init__(self) -> None:
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}{self.path}"

    def _serve(self) -> None:
        line = f"GET {self.path} HTTP/1.1\r\n".encode()
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed by close()
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                if head.startswith(line):
                    self._answer(conn)
                    return

    def _answer(self, conn: socket.socket) -> None:
        if self.hang:
            self.ready.set()
            self.release.wait(30)
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        try:
            while conn.recv(4096):
                pass
        except OSError:
            pass
        self.ready.set()

    def close(self) -> None:
        self.release.set()
        # A thread blocked in accept() is woken by a shutdown, not by close() alone.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)
        assert not self.thread.is_alive(), "the server's thread did not end"


@pytest.fixture
def servers() -> Iterator[tuple[Server, Server]]:
    """(a server that answers, one that never does)."""
    done, hanging = Server(hang=False), Server(hang=True)
    try:
        yield done, hanging
    finally:
        done.close()
        hanging.close()


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["NO_COLOR"] = "1"
    env["PYTHONFAULTHANDLER"] = "1"
    return env


_AS_FROM_A_TERMINAL = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'tether'; runpy.run_module('tether.cli', run_name='__main__')"
)
"""``python -m tether.cli`` with Ctrl-C raising KeyboardInterrupt, as when started from a
terminal: a suite run in the background (``cmd &`` in a script) has SIGINT ignored, every
child inherits that, and Ctrl-C would do nothing there."""


def _interrupt(args: list[str], wait_for: list[Server]) -> tuple[int, str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _AS_FROM_A_TERMINAL, "diagnose", *args, "--timeout", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(),
    )
    try:
        for server in wait_for:
            assert server.ready.wait(20), "the probe never reached the server"
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            # Not ended by Ctrl-C: faulthandler (PYTHONFAULTHANDLER) writes every thread's
            # stack on SIGABRT, so the failure says where it waits.
            proc.send_signal(signal.SIGABRT)
            _, err = proc.communicate(timeout=20)
            raise AssertionError(f"no exit 20 s after SIGINT; its stacks:\n{err}") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out, err


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_ctrl_c_prints_what_finished_and_exits_130(
    as_json: bool, servers: tuple[Server, Server]
) -> None:
    """The finished target is printed as usual, the hanging one named on stderr; 130."""
    done, hanging = servers
    args = ["--json"] if as_json else []
    code, out, err = _interrupt([*args, done.url, hanging.url], [done, hanging])
    assert code == 130, err
    assert "Traceback" not in err
    assert err == f"tether diagnose: interrupted; not finished: {hanging.url}\n"
    if as_json:
        (line,) = out.splitlines()
        result = json.loads(line)
        assert (result["target"], result["ok"]) == (done.url, True)
    else:
        assert out.startswith(done.url + "\n")
        assert "healthy in" in out
        assert hanging.url not in out


def test_ctrl_c_with_nothing_finished(servers: tuple[Server, Server]) -> None:
    """Only a hanging target: nothing on stdout, its name on stderr, 130."""
    _, hanging = servers
    code, out, err = _interrupt([hanging.url], [hanging])
    assert (code, out) == (130, "")
    assert err == f"tether diagnose: interrupted; not finished: {hanging.url}\n"
