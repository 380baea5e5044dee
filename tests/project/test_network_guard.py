"""The suite's network guard refuses anything but loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import _violations
from tests.helpers.child_guard.tether_netguard import NetworkGuardError


def test_connect_to_a_public_address_is_refused() -> None:
    """A TCP connect outside loopback raises before any packet leaves."""
    start = len(_violations)
    with socket.socket() as sock, pytest.raises(NetworkGuardError):
        sock.connect(("192.0.2.1", 80))  # TEST-NET-1: documentation only, never routed
    del _violations[start:]  # this test expects the violation; do not fail it


def test_resolving_a_name_is_refused() -> None:
    """getaddrinfo of a real name would ask the machine's resolver: refused."""
    start = len(_violations)
    with pytest.raises(NetworkGuardError):
        socket.getaddrinfo("tether.invalid", 80)
    del _violations[start:]


def test_the_older_resolver_calls_are_refused_too() -> None:
    """gethostbyname, gethostbyname_ex, gethostbyaddr and so getfqdn (smtplib's EHLO name)
    of anything but loopback are refused."""
    start = len(_violations)
    for call in (socket.gethostbyname, socket.gethostbyname_ex, socket.gethostbyaddr):
        with pytest.raises(NetworkGuardError):
            call("tether.invalid")
    socket.getfqdn("tether.invalid")  # swallows the error, but the guard saw it
    assert len(_violations) == start + 4
    del _violations[start:]
    assert socket.gethostbyname("127.0.0.1") == "127.0.0.1"


def test_loopback_is_allowed(lab) -> None:  # type: ignore[no-untyped-def]
    """127.0.0.1 and localhost pass the guard."""
    with socket.create_connection((lab.host, lab["healthy"].port), timeout=2):
        pass
    assert socket.getaddrinfo("localhost", 80)


_REACH_OUT = (
    "import socket\n"
    "try:\n"
    "    socket.socket().connect(('192.0.2.1', 80))\n"  # TEST-NET-1: never routed
    "except OSError as exc:\n"
    "    print(type(exc).__name__)\n"
)


def test_a_python_process_a_test_starts_is_guarded_too(tmp_path: Path) -> None:
    """A child that reaches beyond loopback is refused and reported, even when it
    swallows the error (this test names its own report file, so the violation it
    provokes does not fail it)."""
    log = tmp_path / "guard.log"
    env = {**os.environ, "TETHER_NETWORK_GUARD_LOG": str(log)}
    run = subprocess.run(
        [sys.executable, "-c", _REACH_OUT], env=env, capture_output=True, text=True, check=True
    )
    assert run.stdout.strip() == "NetworkGuardError"
    (line,) = log.read_text().splitlines()
    assert line.startswith("network guard: connect to '192.0.2.1' is not loopback (in pid ")


def test_a_child_in_a_network_namespace_of_its_own_is_not_guarded(tmp_path: Path) -> None:
    """There the addresses beyond loopback are the test's own hosts: a child whose
    namespace is not the suite's gets no guard (it connects nowhere here: it says whose
    ``connect`` its sockets have, the guard's or the standard library's)."""
    env = {**os.environ, "TETHER_NETWORK_GUARD_NETNS": "1"}
    ask = 'import socket; print(getattr(socket.socket.connect, "__module__", "_socket"))'
    whose = [
        subprocess.run(
            [sys.executable, "-c", ask], env=e, capture_output=True, text=True, check=True
        ).stdout.strip()
        for e in (env, dict(os.environ))
    ]
    assert whose == ["_socket", "tether_netguard"]
