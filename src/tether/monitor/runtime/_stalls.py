"""``tether monitor --log-stalls MS``: a log line for each time the coordinator's event loop
was held longer than MS milliseconds, saying by what.

Every answer the monitor gives (``/``, ``/api/status``, ``/metrics``) and every check it
takes in waits for its event loop; a loop held for seconds shows as seconds on all of them
at once.  Two things can hold it, and the watch tells them apart:

- **the garbage collector**: a collection runs inside whatever allocation set it off and
  holds the GIL throughout.  A ``gc.callbacks`` hook times each one (generation, seconds,
  objects collected, objects it had to walk); one past MS is logged (``stall.gc``);
- **code on the loop**: a heartbeat task on the loop notes each turn it gets; a sampler
  thread looks every ``MS / 4`` and, while the heartbeat is late by more than MS, records
  the main thread's stack (``sys._current_frames``, as py-spy's dump would).  When the
  heartbeat comes back it logs how long the loop was held, how much of it the collector
  took, and the stacks seen most (``stall.loop``).

Its cost when on: a wake-up of the heartbeat and of the sampler every ``MS / 4``, and the
callback's two clock reads per collection.  Off (the default), nothing of it runs.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import threading
import time
import traceback
from collections import Counter, defaultdict
from types import FrameType
from typing import Any, Final

__all__ = ["StallWatch", "Stalls"]

log = logging.getLogger("tether.monitor")

STACK_DEPTH: Final = 8
"""Frames of each stack sample kept, innermost last."""

TOLD_AT_ONCE: Final = 5
"""Collections past the threshold told in one turn of the heartbeat, the longest."""


class Stalls:
    """What the watch has seen so far, for a caller that reads it (tests, benchmarks)."""

    def __init__(self) -> None:
        self.collections: Counter[int] = Counter()
        """Collections made, by generation."""
        self.longest_collection: dict[int, float] = {}
        """The longest collection of each generation, in seconds."""
        self.collecting = 0.0
        """Seconds spent collecting, in all."""
        self.collecting_cpu: defaultdict[int, float] = defaultdict(float)
        """CPU seconds spent collecting, by generation."""
        self.longest_stall = 0.0
        """The loop's longest hold past the threshold, in seconds (0 if none was)."""
        self.stalls = 0
        """Holds past the threshold."""


def _current_frames() -> dict[int, FrameType]:
    """``sys._current_frames()`` with the collector off while it runs: on Python 3.11 it
    allocates while it holds the interpreter's lock of threads, and a collection set off
    there waits on that same lock for ever, every thread with it (CPython gh-106883; a
    hang seen in this project's suite).  Another thread switching the collector on or
    off meanwhile (a start's paused read) at worst has one collection more or fewer."""
    was = gc.isenabled()
    gc.disable()
    try:
        return sys._current_frames()
    finally:
        if was:
            gc.enable()


class StallWatch:
    """The watch of one process's event loop (the module's docstring says how)."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.seen = Stalls()
        self._gc_started = 0.0
        self._gc_cpu_started = 0.0
        self._gc_in_window = 0.0  # seconds collected since the heartbeat's last turn
        self._collections: list[tuple[int, float, float, int]] = []  # past the threshold
        self._beat = time.perf_counter()
        self._beat_cpu = time.thread_time()
        self._samples: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._main = threading.get_ident()
        self._sampler: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None

    # -- the collector -----------------------------------------------------------------

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
            self._gc_cpu_started = time.thread_time()
            return
        took = time.perf_counter() - self._gc_started
        cpu = time.thread_time() - self._gc_cpu_started
        generation = int(info.get("generation", 0))
        seen = self.seen
        seen.collections[generation] += 1
        seen.collecting += took
        seen.collecting_cpu[generation] += cpu
        self._gc_in_window += took
        if took > seen.longest_collection.get(generation, 0.0):
            seen.longest_collection[generation] = took
        if took >= self.threshold:
            # Told by the heartbeat, on the loop: a callback that logged could run inside
            # the log handler's own lock (a collection set off by its allocation) and
            # wait on it for ever.  A list's append takes no lock.
            self._collections.append((generation, took, cpu, int(info.get("collected", 0))))

    def _tell_collections(self) -> None:
        told, self._collections = self._collections, []  # those told set off more
        if not told:
            return
        oldest = len(gc.get_objects(2))
        told.sort(key=lambda c: c[1], reverse=True)
        for generation, took, cpu, collected in told[:TOLD_AT_ONCE]:
            log.warning(
                "stall: a collection of generation %d held the process %.0f ms (%.0f ms of "
                "its CPU): %d objects collected, %d in the oldest generation now%s",
                generation,
                took * 1000,
                cpu * 1000,
                collected,
                oldest,
                f" ({len(told) - TOLD_AT_ONCE} shorter ones since the last line not told)"
                if len(told) > TOLD_AT_ONCE
                else "",
                extra={"event": "stall.gc"},
            )

    # -- the loop ----------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        period = self.threshold / 4
        while True:
            await asyncio.sleep(period)
            now, cpu = time.perf_counter(), time.thread_time()
            held = now - self._beat - period
            used = cpu - self._beat_cpu
            self._beat, self._beat_cpu = now, cpu
            collected, self._gc_in_window = self._gc_in_window, 0.0
            self._tell_collections()
            if held >= self.threshold:
                self._report(held, used, collected)

    def _report(self, held: float, used: float, collected: float) -> None:
        with self._lock:
            samples, self._samples = self._samples, Counter()
        seen = self.seen
        seen.stalls += 1
        seen.longest_stall = max(seen.longest_stall, held)
        where = "; ".join(f"{n} x {stack}" for stack, n in samples.most_common(3))
        log.warning(
            "stall: the event loop was held %.0f ms (%.0f ms of its thread's CPU), %.0f ms of "
            "it by the collector; on the loop then: %s",
            held * 1000,
            used * 1000,
            collected * 1000,
            where or "no sample (the collector, or one stretch of C code)",
            extra={"event": "stall.loop"},
        )

    def _sample_loop(self) -> None:
        period = self.threshold / 4
        while not self._stop.wait(period):
            if time.perf_counter() - self._beat < self.threshold:
                continue
            frame = _current_frames().get(self._main)
            if frame is None:
                continue
            stack = traceback.extract_stack(frame)[-STACK_DEPTH:]
            text = " <- ".join(
                f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(stack)
            )
            with self._lock:
                self._samples[text] += 1

    # -- on and off --------------------------------------------------------------------

    def start(self) -> None:
        """Watch the running loop (call from it) and the collector."""
        self._main = threading.get_ident()
        self._beat, self._beat_cpu = time.perf_counter(), time.thread_time()
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.get_running_loop().create_task(self._heartbeat())
        self._sampler = threading.Thread(
            target=self._sample_loop, name="tether-stalls", daemon=True
        )
        self._sampler.start()

    def stop(self) -> None:
        """Stop watching."""
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self._task is not None:
            self._task.cancel()
        self._stop.set()
        if self._sampler is not None:
            self._sampler.join()
        self._tell_collections()
        seen = self.seen
        log.info(
            "stall watch: the event loop held past %.0f ms %d times, %.0f ms at the longest; %s",
            self.threshold * 1000,
            seen.stalls,
            seen.longest_stall * 1000,
            "; ".join(
                f"generation {g}: {seen.collections[g]} collections, "
                f"{seen.collecting_cpu[g] * 1000:.0f} ms of CPU, "
                f"{seen.longest_collection.get(g, 0.0) * 1000:.0f} ms at the longest"
                for g in sorted(seen.collections)
            ),
            extra={"event": "stall.summary"},
        )
