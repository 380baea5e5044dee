"""A total time limit for blocking socket reads, which per-read timeouts cannot give.

A server that sends a byte every second never trips a 5 s read timeout: each
read returns in time.  A :class:`Cutoff` is armed with a moment; a single
watchdog thread shuts down the sockets registered with it once that moment
has passed, which wakes any thread blocked on them with an error.

The watchdog looks at the armed cutoffs every ``TICK`` seconds, so a cutoff
fires up to that late; in exchange, arming and disarming are a set insertion
and removal with no lock, which keeps the cost per request near a microsecond.
It goes to sleep only after ``LINGER`` seconds with nothing armed, so that a
busy client does not wake it (an ``Event.set`` and a thread switch) for
every request.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

TICK = 0.02
LINGER = 1.0


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
_idle = [True]
"""Is the watchdog waiting for ``_wake`` (rather than ticking)?"""
_wake = threading.Event()
_started = threading.Lock()
_thread: list[threading.Thread] = []


def _watch() -> None:
    _idle[0] = False
    quiet_since = time.monotonic()
    while True:
        now = time.monotonic()
        if _armed:
            quiet_since = now
            for cutoff in list(_armed):
                if cutoff.at <= now:
                    _armed.discard(cutoff)
                    cutoff.fire()
        elif now - quiet_since >= LINGER:
            _idle[0] = True
            _wake.clear()
            if not _armed:  # one armed between the check and clear() is seen here
                _wake.wait()
            _idle[0] = False
            quiet_since = time.monotonic()
            continue
        time.sleep(TICK)


def arm(seconds: float) -> Cutoff:
    """A cutoff ``seconds`` from now; one that never fires if ``seconds`` is infinite."""
    cutoff = Cutoff(_monotonic() + seconds)
    if seconds == _INF:
        return cutoff
    _armed.add(cutoff)
    if _idle[0]:
        _wake.set()
    if not _thread:
        _start()
    return cutoff


_monotonic = time.monotonic
_INF = float("inf")


def _start() -> None:
    with _started:
        if not _thread:
            thread = threading.Thread(target=_watch, name="tether-cutoff", daemon=True)
            thread.start()
            _thread.append(thread)
