"""A total time limit for blocking socket reads, which per-read timeouts cannot give.

A server that sends a byte every second never trips a 5 s read timeout: each
read returns in time.  A :class:`Cutoff` is armed with a moment; a single
watchdog thread shuts down the sockets registered with it when that moment
passes, which wakes any thread blocked on them with an error.  Arming and
disarming cost a heap push and a flag, not a thread per request.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time


class Cutoff:
    """One attempt's total timer.  Register sockets with :meth:`watch`."""

    __slots__ = ("_done", "_lock", "_socks", "at", "fired")

    def __init__(self, at: float) -> None:
        self.at = at
        self.fired = False
        self._done = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if self._done:
                return
            self._socks.append(sock)
            if not self.fired:
                return
        _shut(sock)  # registered after the moment passed

    def fire(self) -> None:
        with self._lock:
            if self._done or self.fired:
                return
            self.fired = True
            socks = list(self._socks)
        for sock in socks:
            _shut(sock)

    def disarm(self) -> None:
        with self._lock:
            self._done = True
            self._socks.clear()


def _shut(sock: socket.socket) -> None:
    # socket.socket.shutdown, not SSLSocket.shutdown: the latter drops the SSL
    # object under a reader in another thread.  Shutting the descriptor down
    # makes that reader see end-of-file at once.
    with contextlib.suppress(OSError, ValueError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Cutoff]] = []
        self._seq = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._compact_at = 4096

    def arm(self, cutoff: Cutoff) -> None:
        with self._wake:
            if len(self._heap) >= self._compact_at:
                # Disarmed cutoffs leave only when they reach the top; under
                # load, sweep them out so memory follows live attempts only.
                self._heap = [e for e in self._heap if not e[2]._done]
                heapq.heapify(self._heap)
                self._compact_at = max(4096, 2 * len(self._heap))
            heapq.heappush(self._heap, (cutoff.at, next(self._seq), cutoff))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="tether-cutoff", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is cutoff:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while True:
                    # Drop disarmed entries from the top so the heap stays small.
                    while self._heap and self._heap[0][2]._done:
                        heapq.heappop(self._heap)
                    if not self._heap:
                        self._wake.wait()
                        continue
                    wait = self._heap[0][0] - time.monotonic()
                    if wait <= 0:
                        cutoff = heapq.heappop(self._heap)[2]
                        break
                    self._wake.wait(wait)
            cutoff.fire()


watchdog = _Watchdog()


def arm(seconds: float) -> Cutoff:
    """A cutoff ``seconds`` from now; one that never fires if ``seconds`` is infinite."""
    cutoff = Cutoff(time.monotonic() + seconds)
    if seconds != float("inf"):
        watchdog.arm(cutoff)
    return cutoff
