"""The suite's network guard refuses anything but loopback."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import NetworkGuardError, _violations


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
