"""Simulated time for the monitor's runner: time moves only when the runner sleeps and no
real probe is in flight, so minutes of monitoring against real loopback servers take a
moment and never race the clock.

The event loop itself says when time may move: :class:`SimTime` runs coroutines on a
selector loop whose selector is asked to wait only when nothing is ready to run (the
loop passes a zero timeout whenever a callback is ready).  At that moment, if no real I/O
is under way, the clock jumps straight to the earliest sleeper's wake-up; there is no
polling, on real time or simulated, and no wake-up that no sleeper asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import selectors
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Executor
from typing import Any, TypeVar, TypeVarTuple

from tether.monitor import Runner
from tether.probe import ProbeOptions, ProbeResult, probe_async

EPOCH = 1_800_000_000.0

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

_REAL_IO_POLL = 0.001
"""How long, in real seconds, the loop waits at most for real I/O that only
:attr:`SimTime.also_busy` reports, which nothing may wake the loop for."""


class SimTime:
    """Simulated time that moves only when the runner sleeps and no probe is in flight,
    so real loopback I/O never races ahead of (or behind) the simulated clock.

    Time never moves while real I/O is under way: a probe (:meth:`probe`, :meth:`busy`),
    work handed to a thread (every ``run_in_executor``, so ``asyncio.to_thread`` and the
    outbox's delivery threads), or what :attr:`also_busy` reports.  Sleeps only work on
    the loop :meth:`run` makes."""

    def __init__(self) -> None:
        self.now = 0.0
        self.in_flight = 0
        self._lock = threading.Lock()  # alerts are delivered on worker threads
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._watches: list[tuple[Callable[[], bool], float, asyncio.Future[None]]] = []
        self._loop: _SimLoop | None = None
        self.also_busy: Callable[[], bool] = lambda: False
        """More real I/O to wait for (the harness points it at the outbox's deliveries)."""

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        """``asyncio.run`` on a loop that moves this clock when it has nothing else to do."""
        self._timers.clear()  # a previous run's sleeps died with its loop
        self._watches.clear()
        with asyncio.Runner(loop_factory=lambda: _SimLoop(self)) as runner:
            return runner.run(main)

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Real I/O under way (a probe, or an alert delivery on another thread): time
        stands still until it is done."""
        self._enter()
        try:
            yield
        finally:
            self._leave()

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1

    def _leave(self, _: object = None) -> None:
        with self._lock:
            self.in_flight -= 1
        loop = self._loop
        if loop is not None and loop.on_another_thread():
            # The loop may be waiting on nothing but this: wake it to move time.
            with contextlib.suppress(RuntimeError):  # closed: nothing left to wake
                loop.call_soon_threadsafe(lambda: None)

    async def probe(self, target: str, options: ProbeOptions) -> ProbeResult:
        with self.busy():
            return await probe_async(target, options)

    def mono(self) -> float:
        return self.now

    def wall(self) -> float:
        return EPOCH + self.now

    async def sleep(self, seconds: float) -> None:
        """A virtual-time sleep: it ends when the clock, jumping from wake-up to wake-up,
        reaches ``now + seconds`` (at least 1 ms on, as a real sleep always yields)."""
        waiting = self._running_loop().create_future()
        heapq.heappush(self._timers, (self.now + max(seconds, 0.001), next(self._order), waiting))
        await waiting  # cancelled: its entry is skipped when it comes up

    async def until(self, condition: Callable[[], bool], limit: float = float("inf")) -> None:
        """Return once ``condition()`` holds, looked at now and then every time the clock
        is about to move (so at the simulated moment it first holds); fail with
        ``stuck at`` if the clock reaches ``limit`` first."""
        if condition():
            return
        waiting = self._running_loop().create_future()
        self._watches.append((condition, limit, waiting))
        await waiting

    def _running_loop(self) -> _SimLoop:
        loop = asyncio.get_running_loop()
        if not isinstance(loop, _SimLoop) or loop.sim is not self:
            # On any other loop the sleep would never end: nothing else moves the clock.
            raise RuntimeError("simulated time runs on SimTime.run's loop")
        return loop

    def _idle(self, timeout: float | None) -> float | None:
        """The loop has nothing ready to run and would wait ``timeout`` real seconds for
        I/O: unless real I/O is under way, wake the watches whose condition holds, or
        else move the clock to the next wake-up and end every sleep due by then.  The
        timeout to wait with: 0 when this made something ready."""
        if self.in_flight:
            return timeout  # the probe's socket or the thread's result wakes the loop
        if self.also_busy():
            return _REAL_IO_POLL if timeout is None else min(timeout, _REAL_IO_POLL)
        if self._wake_watches():
            return 0
        timers = self._timers
        while timers and timers[0][2].done():
            heapq.heappop(timers)
        if not timers:
            return timeout
        self.now = max(self.now, timers[0][0])
        while timers and timers[0][0] <= self.now:
            _, _, waiting = heapq.heappop(timers)
            if not waiting.done():
                waiting.set_result(None)
        return 0

    def _wake_watches(self) -> bool:
        woke = False
        for watch in list(self._watches):
            condition, limit, waiting = watch
            if waiting.done():
                self._watches.remove(watch)
                continue
            try:
                held = condition()
            except Exception as exc:
                waiting.set_exception(exc)
            else:
                if held:
                    waiting.set_result(None)
                elif self.now >= limit:
                    waiting.set_exception(AssertionError(f"stuck at {self.now:.0f} s"))
                else:
                    continue
            self._watches.remove(watch)
            woke = True
        return woke


class _SimSelector(selectors.DefaultSelector):
    """The loop's selector, which it asks to wait only when nothing is ready to run:
    that is when simulated time may move."""

    def __init__(self, sim: SimTime) -> None:
        super().__init__()
        self._sim = sim

    def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        if timeout is None or timeout > 0:
            timeout = self._sim._idle(timeout)
        events: list[tuple[Any, int]] = super().select(timeout)
        return events


class _SimLoop(asyncio.SelectorEventLoop):
    """A selector loop under which simulated time stands still while any work handed to
    a thread is under way (``asyncio.to_thread``: the store's reads and writes, the
    controls, the acknowledgements; the outbox's deliveries), as it does for a probe.
    Counted from the submission to the moment its result is handed back on the loop,
    in the same turn as the waiting task's wake-up: there is no moment between the two
    when time can move.  Without it, a read that a loaded machine made slow let minutes
    of simulated time pass before the runner saw what it read."""

    def __init__(self, sim: SimTime) -> None:
        super().__init__(_SimSelector(sim))
        self.sim = sim
        self._thread = threading.get_ident()
        sim._loop = self

    def on_another_thread(self) -> bool:
        return threading.get_ident() != self._thread

    def run_in_executor(
        self, executor: Executor | None, func: Callable[[*Ts], T], *args: *Ts
    ) -> asyncio.Future[T]:
        future = super().run_in_executor(executor, func, *args)
        self.sim._enter()
        future.add_done_callback(self.sim._leave)
        return future


def run_until(runner: Runner, sim: SimTime, done: Callable[[], bool], limit: float) -> None:
    """Run ``runner`` on ``sim`` until ``done()`` holds or the clock reaches ``limit``."""

    async def main() -> None:
        stop = asyncio.Event()

        async def watch() -> None:
            await sim.until(lambda: done() or sim.now >= limit)
            stop.set()

        await asyncio.gather(runner.run(stop, deliver_every=0.5), watch())

    sim.run(main())
