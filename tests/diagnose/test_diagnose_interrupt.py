"""Ctrl-C during `tether diagnose`: the targets that finished are printed, the others
named on stderr, exit code 130, and no traceback.

A real process gets a real SIGINT while one target hangs on a loopback server that
never answers; the signal is sent once both servers have seen what they wait for (the
finished probe's connection closed, the hanging probe's request read), not after a sleep.
"""

from __future__ import annotations

import json
import os
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
    """A one-connection loopback HTTP server: answers 200 (then waits for the client to
    close) or, with ``hang``, reads the request and never answers."""

    hang: bool
    ready: threading.Event = field(default_factory=threading.Event)
    """Set once the client closed (200) or once the request is read (hang)."""
    release: threading.Event = field(default_factory=threading.Event)
    sock: socket.socket = field(default_factory=socket.socket)

    def __post_init__(self) -> None:
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/"

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
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
        self.sock.close()
        self.thread.join(5)


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
