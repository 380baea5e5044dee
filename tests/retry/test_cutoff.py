"""The total-time cutoff behind ``tether.Session``: a blocked read ended by the watchdog."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from tether.integrations import _cutoff


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.settimeout(5.0)  # only if the cutoff never fires
    yield a, b
    a.close()
    b.close()


def wait_until_idle() -> None:
    """Wait (bounded) for the watchdog thread to go to sleep on its event."""
    give_up = time.monotonic() + 5.0
    while not _cutoff._idle[0]:
        assert time.monotonic() < give_up, "the watchdog never went idle"
        time.sleep(0.005)


def test_a_cutoff_wakes_a_sleeping_watchdog(
    pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Arming after the watchdog went idle wakes it: the blocked read ends at the cutoff."""
    monkeypatch.setattr(_cutoff, "LINGER", 0.0)
    _cutoff.arm(60.0).disarm()  # the watchdog runs, then goes idle with nothing armed
    wait_until_idle()
    reader, _ = pair
    cutoff = _cutoff.arm(0.05)
    cutoff.watch(reader)
    started = time.monotonic()
    assert reader.recv(1) == b""  # shut down under the read
    assert cutoff.fired
    assert time.monotonic() - started < 2.0
    cutoff.disarm()
