"""A total time limit for blocking socket reads, which per-read timeouts cannot give.

A server that sends a byte every second never trips a 5 s read timeout: each
read returns in time.  A :class:`Cutoff` is armed with a moment; a single
watchdog thread shuts down the sockets registered with it once that moment
has passed, which wakes any thread blocked on them with an error.

The watchdog sleeps until the nearest armed moment (issue 46 §5: it ticked every
20 ms before, whether or not anything was due), so arming and disarming are a set
insertion and removal with no lock and, while the watchdog already sleeps until a
moment no later than the new one (a client whose calls share a total: each new
moment is later than the one armed before it), no wake-up: a busy client does not
wake it (an ``Event.set`` and a thread switch) for every request.  With nothing
armed it looks again after ``LINGER`` seconds, then after twice as long each time
it finds nothing, and past ``LONGEST`` sleeps until a cutoff is armed.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time

LINGER = 1.0
LONGEST = 64.0


class Cutoff:
    """One attempt's total timer.  Register sockets with :meth:`watch`."""

    __slots__ = ("__weakref__", "at", "done", "fired", "socks")

    def __init__(self, at: float) -> None:
        self.at = at
        self.fired = False
        self.done = False
        self.socks: list[socket.socket] = []

    def watch(self, sock: socket.socket) -> None:
        if self.done:
            return
        self.socks.append(sock)
        if self.fired:
            _shut(sock)  # registered after the moment passed

    def fire(self) -> None:
        if self.done or self.fired:
            return
        self.fired = True
        for sock in list(self.socks):
            _shut(sock)

    def disarm(self) -> None:
        # A watchdog that already read done=False may still shut a socket that
        # has just gone back to its pool; the pool then sees it dropped and
        # reconnects, so the race costs a reconnect, never a wrong answer.
        self.done = True
        _armed.discard(self)


def _shut(sock: socket.socket) -> None:
    # socket.socket.shutdown, not SSLSocket.shutdown: the latter drops the SSL
    # object under a reader in another thread.  Shutting the descriptor down
    # makes that reader see end-of-file at once.
    with contextlib.suppress(OSError, ValueError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_armed: set[Cutoff] = set()
_until = [math.inf]
"""The moment the watchdog sleeps until; infinite while it looks or sleeps until woken,
so that a cutoff armed then wakes it (:func:`arm`)."""
_idle = [True]
"""Is the watchdog waiting for ``_wake`` alone (nothing armed, no moment to wake at)?"""
_wakes = [0]
"""How many times the watchdog has looked at the armed cutoffs (for tests)."""
_wake = threading.Event()
_started = threading.Lock()
_thread: list[threading.Thread] = []


def _watch() -> None:
    empty = 0  # looks in a row that found nothing armed
    while True:
        _until[0] = _INF  # before clear(): a cutoff armed from here on wakes the wait below
        _wake.clear()
        _wakes[0] += 1
        now = time.monotonic()
        nearest = _INF
        for cutoff in list(_armed):
            if cutoff.at <= now:
                _armed.discard(cutoff)
                cutoff.fire()
            elif cutoff.at < nearest:
                nearest = cutoff.at
        if nearest < _INF:
            empty = 0
        else:
            linger = LINGER * 2**empty
            empty += 1
            if 0 < linger <= LONGEST:
                nearest = now + linger
        _until[0] = nearest
        _idle[0] = nearest == _INF
        _wake.wait(None if nearest == _INF else nearest - now)
        _idle[0] = False


def arm(seconds: float) -> Cutoff:
    """A cutoff ``seconds`` from now; one that never fires if ``seconds`` is infinite."""
    at = _monotonic() + seconds
    cutoff = Cutoff(at)
    if seconds == _INF:
        return cutoff
    _armed.add(cutoff)
    if at < _until[0]:  # sooner than the watchdog would look: wake it
        if not _thread:
            _start()
        _wake.set()
    return cutoff


_monotonic = time.monotonic
_INF = float("inf")


def _start() -> None:
    with _started:
        if not _thread:
            thread = threading.Thread(target=_watch, name="tether-cutoff", daemon=True)
            thread.start()
            _thread.append(thread)


def _after_fork_in_child() -> None:
    """A forked child has no watchdog (only the forking thread lives on in it), and
    the locks and event may have been held by a thread that is gone: start afresh, so
    that the child's first cutoff starts a watchdog of its own.  The parent's armed
    cutoffs go too: their calls run in threads the child does not have."""
    global _wake, _started  # noqa: PLW0603 -- a lock held by a thread the fork left behind is never released: new ones
    _wake = threading.Event()
    _started = threading.Lock()
    _thread.clear()
    _armed.clear()
    _until[0] = _INF
    _idle[0] = True


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_after_fork_in_child)
