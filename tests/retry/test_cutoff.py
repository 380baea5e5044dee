"""The total-time cutoff behind ``tether.Session``: a blocked read ended by the watchdog."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers.polls import until
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
    """Arming after the watchdog went idle wakes it: the blocked read ends at the cutoff.

    An earlier test in this process may have left the watchdog asleep for a linger of up
    to ``LONGEST`` (which a cutoff 60 s away does not shorten), or a cutoff of its own
    armed: the test looks at an empty set of its own and wakes the watchdog to see it."""
    monkeypatch.setattr(_cutoff, "LINGER", 0.0)
    monkeypatch.setattr(_cutoff, "_armed", set())
    monkeypatch.setattr(_cutoff, "_timers", {})
    try:
        _cutoff.arm(60.0).disarm()  # the watchdog runs (if it did not yet)
        _cutoff._wake.set()  # and looks now, finds nothing armed, and goes idle
        wait_until_idle()
        reader, _ = pair
        cut_under_a_read(_cutoff.arm(0.05), reader)
    finally:
        monkeypatch.undo()
        _cutoff._wake.set()  # look again at the cutoffs the test set aside


def cut_under_a_read(armed: Any, reader: socket.socket) -> None:
    """``armed`` (a cutoff, or a thread's timer armed for 50 ms) watching ``reader`` shuts
    it under a blocked read, well before the read's own end, and says it fired."""
    armed.watch(reader)
    started = time.monotonic()
    assert reader.recv(1) == b""  # shut down under the read
    assert armed.fired
    assert time.monotonic() - started < 2.0
    armed.disarm()


def wait_until_asleep_until(moment: float) -> None:
    """Wait (bounded) for the watchdog to sleep until ``moment`` at the latest (an earlier
    test's cutoff, disarmed since, may be the one it sleeps until) and more than a second
    from now."""
    give_up = time.monotonic() + 5.0
    while not time.monotonic() + 1.0 < _cutoff._until[0] <= moment:
        assert time.monotonic() < give_up, "the watchdog never slept until the moment"
        time.sleep(0.005)


def test_a_busy_client_does_not_wake_the_watchdog() -> None:
    """While the watchdog sleeps until an armed moment, arming and disarming cutoffs that
    end later (a client's calls, each with the same total) never wakes it: it looks again
    only at the moment (issue 46 §5; it looked every 20 ms before)."""
    held = _cutoff.arm(30.0)
    try:
        wait_until_asleep_until(held.at)
        looks, until = _cutoff._wakes[0], _cutoff._until[0]
        for _ in range(2000):
            _cutoff.arm(30.0).disarm()
        assert not _cutoff._wake.is_set()  # nothing asked it to look again
        assert _cutoff._wakes[0] == looks
        assert _cutoff._until[0] == until  # it still sleeps until that moment, no sooner
    finally:
        held.disarm()


def test_a_sooner_cutoff_wakes_a_watchdog_sleeping_until_a_later_one(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """A cutoff that ends before the moment the watchdog sleeps until wakes it, and its
    blocked read ends at its own moment, not the later one's."""
    held = _cutoff.arm(30.0)
    try:
        wait_until_asleep_until(held.at)
        reader, _ = pair
        cutoff = _cutoff.arm(0.05)
        cutoff.watch(reader)
        started = time.monotonic()
        assert reader.recv(1) == b""  # shut down under the read
        assert cutoff.fired
        assert not held.fired
        assert time.monotonic() - started < 2.0
        cutoff.disarm()
    finally:
        held.disarm()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX's")
def test_a_forked_child_gets_a_watchdog_of_its_own() -> None:
    """A child forked after the parent's watchdog started (a pre-forking server's
    workers) has no such thread: its first cutoff starts one, and a blocked read in
    the child still ends at its cutoff rather than at the socket's own 5 s timeout."""
    _cutoff.arm(60.0).disarm()  # the parent's watchdog runs
    assert _cutoff._thread
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if the cutoff ended the read
        code = 1
        try:
            a, _b = socket.socketpair()
            a.settimeout(5.0)
            cutoff = _cutoff.arm(0.05)
            cutoff.watch(a)
            code = 0 if a.recv(1) == b"" and cutoff.fired else 2
        except BaseException:
            code = 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_threads_timer_cuts_a_blocked_read_at_its_moment(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """A thread's timer, armed for an attempt, shuts the socket it watches once its moment
    passes: the blocked read ends, and the timer says it fired."""
    reader, _ = pair
    timer = _cutoff.timer(threading.get_ident())
    timer.arm(0.05)
    cut_under_a_read(timer, reader)


def test_a_timer_armed_again_is_not_fired_by_its_last_attempt(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """The next attempt on a thread whose last attempt was cut starts unfired, and a
    socket it watches stays open: the fired mark belongs to the arming, not the timer."""
    reader, writer = pair
    timer = _cutoff.timer(threading.get_ident())
    timer.arm(0.0)
    until(lambda: timer.fired, 5.0)  # the watchdog fires the moment that has passed
    timer.disarm()
    timer.arm(60.0)
    assert not timer.fired
    timer.watch(reader)
    writer.sendall(b"x")
    assert reader.recv(1) == b"x"
    timer.disarm()


def test_a_stale_fire_shuts_only_the_arming_it_read(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """The watchdog's race, played in order: it read an attempt's socket list, the
    attempt ended and the next was armed, then it fired what it read: the next attempt
    is not fired and its socket is not shut."""
    reader, writer = pair
    timer = _cutoff.timer(threading.get_ident())
    timer.arm(60.0)
    read_by_the_watchdog = timer.socks
    timer.disarm()
    timer.arm(60.0)
    timer._fired = read_by_the_watchdog  # the stale fire's mark
    assert not timer.fired
    timer.watch(reader)
    writer.sendall(b"x")
    assert reader.recv(1) == b"x"
    timer.disarm()


def test_a_disarmed_timer_is_passed_over() -> None:
    """A timer between attempts is never fired, however late the watchdog looks."""
    timer = _cutoff.timer(threading.get_ident())
    timer.arm(60.0)
    timer.disarm()
    _cutoff._fire_timers(time.monotonic() + 3600.0)
    assert not timer.fired
