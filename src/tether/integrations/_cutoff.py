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


class Timer:
    """One thread's total timer, armed for each of its attempts in turn (issue 46 §5): an
    attempt costs two stores and a list, not a :class:`Cutoff`, a set entry and a dict
    entry.  :func:`timer` gives the calling thread's.

    Each arming has a list of its own for the sockets it watches; the watchdog reads
    that list before the moment and fires only the list it read, marking it
    (``_fired``) rather than the timer: a moment that passed as an earlier attempt
    ended can shut no more than that attempt's sockets (as a :class:`Cutoff` disarmed
    while the watchdog fired it), never the next attempt's or its ``fired``."""

    __slots__ = ("_fired", "at", "socks")

    def __init__(self) -> None:
        self.at = _INF
        """The armed moment; infinite between attempts."""
        self.socks: list[socket.socket] = []
        self._fired: list[socket.socket] | None = None
        """The ``socks`` of the arming the watchdog fired last."""

    def arm(self, seconds: float) -> None:
        """Armed ``seconds`` from now (never fires if ``seconds`` is infinite)."""
        at = _monotonic() + seconds
        self.at = at  # before the new list: the watchdog reads the list first
        self.socks = []
        if at < _until[0]:  # sooner than the watchdog would look: wake it
            wake()

    def disarm(self) -> None:
        self.at = _INF

    @property
    def fired(self) -> bool:
        """Did the moment of the last arming pass (the attempt's sockets shut)?"""
        return self._fired is self.socks

    def watch(self, sock: socket.socket) -> None:
        socks = self.socks
        socks.append(sock)
        if self._fired is socks:
            _shut(sock)  # registered after the moment passed


_timers: dict[int, Timer] = {}
"""Each thread's timer, by thread id, made at its first attempt and kept: a thread id is
reused once its thread ends (so the ids a process has seen bound it), and a timer
between attempts costs the watchdog one comparison."""


def wake() -> None:
    """Wake the watchdog (started if it is not): a timer was armed sooner than it looks."""
    if not _thread:
        _start()
    _wake.set()


def timer(ident: int) -> Timer:
    """The timer of the thread ``ident`` (``threading.get_ident()``)."""
    found = _timers.get(ident)
    if found is None:
        found = _timers[ident] = Timer()
    return found


def _fire_timers(now: float) -> float:
    """Fire the timers whose moment has passed; the nearest moment still to come."""
    nearest = _INF
    for t in list(_timers.values()):
        socks = t.socks  # before the moment: see Timer
        at = t.at
        if at == _INF or t._fired is socks:
            continue
        if at <= now:
            t._fired = socks
            for sock in list(socks):
                _shut(sock)
        elif at < nearest:
            nearest = at
    return nearest


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
        nearest = _fire_timers(now)
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
        wake()
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
    _timers.clear()
    _until[0] = _INF
    _idle[0] = True


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_after_fork_in_child)
