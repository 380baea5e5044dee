"""When each monitor runs: its own interval, first runs spread out, quick re-probes.

The plan is pure (:class:`Schedule`: a heap of due times, fed ``now``); the
runner (:func:`run_schedule`) only sleeps until the next due time and starts
probes under a global bound.  Runs are planned from the previous *due* time,
not from when the probe finished, so a slow probe does not make its monitor
drift, and a late start shows up as lag instead of vanishing.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final


@dataclass(slots=True)
class _Entry:
    name: str
    interval: float
    due: float
    generation: int = 0


@dataclass(slots=True)
class Schedule:
    """Due times of every monitor.  Nothing here reads a clock."""

    rand: Callable[[], float] = random.random
    _entries: dict[str, _Entry] = field(default_factory=dict)
    _heap: list[tuple[float, int, str, int]] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=itertools.count)
    _generations: itertools.count[int] = field(default_factory=itertools.count)

    def add(self, name: str, interval: float, now: float) -> float:
        """Plan ``name``; its first run falls at a random point of its first interval,
        so a thousand monitors started together do not probe together."""
        if interval <= 0:
            raise ValueError(f"{name}: interval must be more than 0, not {interval!r}")
        due = now + self.rand() * interval
        # Each plan gets a generation never used before, so the heap rows of an earlier
        # plan for the same name (added again on a reload) go stale instead of running.
        entry = self._entries[name] = _Entry(name, interval, due, next(self._generations))
        self._push(entry)
        return due

    def interval(self, name: str) -> float | None:
        """``name``'s interval, or ``None`` if it is not planned."""
        entry = self._entries.get(name)
        return None if entry is None else entry.interval

    def remove(self, name: str) -> None:
        entry = self._entries.pop(name, None)
        if entry is not None:
            entry.generation = next(self._generations)  # its heap rows are now stale

    def due(self, now: float) -> list[tuple[str, float]]:
        """Pop every run due by ``now``: (name, when it was due).  Each is planned again
        one interval after its due time (skipping intervals wholly missed)."""
        out: list[tuple[str, float]] = []
        while self._heap and self._heap[0][0] <= now:
            due, _, name, generation = heapq.heappop(self._heap)
            entry = self._entries.get(name)
            if entry is None or entry.generation != generation:
                continue
            out.append((name, due))
            next_due = entry.due + entry.interval
            if next_due <= now:  # fell behind by whole intervals: do not queue a burst
                missed = int((now - entry.due) // entry.interval)
                next_due = entry.due + (missed + 1) * entry.interval
            entry.due = next_due
            self._push(entry)
        return out

    def reprobe(self, name: str, at: float) -> bool:
        """Run ``name`` again at ``at`` (a confirmation), then back on its interval;
        whether that moved its next run earlier."""
        entry = self._entries.get(name)
        if entry is None or at >= entry.due:
            return False
        entry.generation = next(self._generations)
        entry.due = at
        self._push(entry)
        return True

    def next_due(self) -> float | None:
        while self._heap:
            due, _, name, generation = self._heap[0]
            entry = self._entries.get(name)
            if entry is not None and entry.generation == generation:
                return due
            heapq.heappop(self._heap)
        return None

    def __len__(self) -> int:
        return len(self._entries)

    def _push(self, entry: _Entry) -> None:
        heapq.heappush(self._heap, (entry.due, next(self._seq), entry.name, entry.generation))


async def run_schedule(
    schedule: Schedule,
    probe: Callable[[str, float], Awaitable[None]],
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[object]] | None = None,
    concurrency: int = 256,
    stop: asyncio.Event | None = None,
    idle: float = 1.0,
    wake: asyncio.Event | None = None,
    quantum: float = 0.0,
) -> None:
    """Start ``probe(name, due)`` for every due run, at most ``concurrency`` at once,
    until ``stop`` is set.  ``clock`` and ``sleep`` are injectable.

    ``quantum`` is the shortest wait between two wakes: a run due sooner than that after
    the last wake waits for the next, with every other run due by then, and starts at
    most ``quantum`` late (:data:`START_QUANTUM` says why).

    ``wake``, set by whoever moves a run earlier (a resumed monitor, "check now"), ends
    a wait longer than :data:`_WAKE_AFTER` at once, so the run starts when it is due
    rather than up to ``idle`` seconds later.  Shorter waits are not raced against it:
    a busy schedule wakes often anyway, and racing costs two tasks per wait."""
    wait = sleep or asyncio.sleep
    bound = asyncio.Semaphore(concurrency)
    running: set[asyncio.Task[None]] = set()
    stop = stop or asyncio.Event()

    async def one(name: str, due: float) -> None:
        try:
            await probe(name, due)
        finally:
            bound.release()

    while not stop.is_set():
        now = clock()
        for name, due in schedule.due(now):
            if stop.is_set():  # behind by thousands: do not start them all before stopping
                break
            await bound.acquire()
            task = asyncio.ensure_future(one(name, due))
            running.add(task)
            task.add_done_callback(running.discard)
        nxt = schedule.next_due()
        if nxt is None and wake is not None:
            # Nothing planned: sleep until something is (``wake``) or the end, rather
            # than wake every ``idle`` seconds for nothing.
            if not wake.is_set():
                await _first(wake.wait(), stop.wait())
            wake.clear()
            continue
        delay = min(idle, idle if nxt is None else max(0.0, nxt - clock()))
        delay = max(delay, quantum)
        if wake is None or delay <= _WAKE_AFTER or delay == quantum:
            await wait(delay)
        elif not wake.is_set():
            await _first(wait(delay), wake.wait())
        if wake is not None:
            wake.clear()
    for task in list(running):
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)


_WAKE_AFTER = 0.05
"""Seconds of waiting past which :func:`run_schedule` also listens for its ``wake``."""

START_QUANTUM: Final = 0.1
"""Seconds a monitor's prober waits at least between two wakes of its schedule.

Runs due within it start together, at most this late (the lag each check records).  A
wake of the event loop costs the same whether it starts one check or fifty, and so does
each event it then waits for: started one by one, as their due times fall, checks spread
over their interval wake the loop several times each (the connection, the request
written, the answer, the frame to the coordinator), and the loop's own work becomes most
of a check's cost (benchmarks/results.md, "Figures behind choices in the code").  A
check waits on average half of it, well inside the lag a check may have (1 s at p99)."""


async def _first(*waits: Awaitable[object]) -> None:
    """Wait until the first of ``waits`` is done; cancel the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
