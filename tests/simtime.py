"""Simulated time for the monitor's runner: time moves only when the runner sleeps and no
real probe is in flight, so minutes of monitoring against real loopback servers take a
moment and never race the clock."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from tether.monitor import Runner
from tether.probe import ProbeOptions, ProbeResult, probe_async

EPOCH = 1_800_000_000.0


class SimTime:
    """Simulated time that moves only when the runner sleeps and no probe is in flight,
    so real loopback I/O never races ahead of (or behind) the simulated clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self.in_flight = 0
        self.waiting: list[float] = []
        self._lock = threading.Lock()  # alerts are delivered on worker threads
        self.also_busy: Callable[[], bool] = lambda: False
        """More real I/O to wait for (the harness points it at the outbox's deliveries)."""

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Real I/O under way (a probe, or an alert delivery on another thread): time
        stands still until it is done."""
        with self._lock:
            self.in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    async def probe(self, target: str, options: ProbeOptions) -> ProbeResult:
        with self.busy():
            return await probe_async(target, options)

    def mono(self) -> float:
        return self.now

    def wall(self) -> float:
        return EPOCH + self.now

    async def sleep(self, seconds: float) -> None:
        """A virtual-time sleep: time jumps to the earliest waiting sleeper's wake-up,
        and never while a probe's real I/O is under way."""
        wake = self.now + max(seconds, 0.001)
        self.waiting.append(wake)
        try:
            while self.now < wake:
                await asyncio.sleep(0)
                if self.in_flight or self.also_busy():  # real I/O: let it finish now
                    await asyncio.sleep(0.001)
                    continue
                self.now = max(self.now, min(self.waiting))
        finally:
            self.waiting.remove(wake)


class HeldExecutor(ThreadPoolExecutor):
    """The event loop's default executor, under which simulated time stands still while
    any work handed to a thread (``asyncio.to_thread``: the store's reads and writes,
    the controls, the acknowledgements) is under way, as it does for a probe.  Counted
    from the submission, on the event loop, to the end, on the thread: there is no
    moment between the two when time can move.  Without it, a read that a loaded machine
    made slow let minutes of simulated time pass before the runner saw what it read."""

    def __init__(self, sim: SimTime) -> None:
        super().__init__(max_workers=4, thread_name_prefix="simtime")
        self._sim = sim

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._sim._lock:
            self._sim.in_flight += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[Any]) -> None:
        with self._sim._lock:
            self._sim.in_flight -= 1


def hold_threads(sim: SimTime) -> None:
    """Make the running loop's thread work hold ``sim`` still (:class:`HeldExecutor`)."""
    asyncio.get_running_loop().set_default_executor(HeldExecutor(sim))


def run_until(runner: Runner, sim: SimTime, done: Callable[[], bool], limit: float) -> None:
    async def main() -> None:
        hold_threads(sim)
        stop = asyncio.Event()

        async def watch() -> None:
            while not done() and sim.now < limit:
                await asyncio.sleep(0.001)
            stop.set()

        await asyncio.gather(runner.run(stop, deliver_every=0.5), watch())

    asyncio.run(main())
