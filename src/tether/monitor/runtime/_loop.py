"""The event loop the monitor runs on: uvloop's where it is installed, else asyncio's.

``tether monitor`` (its coordinator and each worker) and ``tether demo`` spend most of
their time in the event loop: sockets, transports, timers, callbacks, for thousands of
fresh connections a second.  uvloop does that work in C on libuv; on this project's
2-core machine it took a fifth off the instructions of each probe (figures in
``benchmarks/results.md``).  The ``monitor`` extra installs it wherever it builds (not
on Windows); without it the monitor runs on asyncio's own loop, unchanged.

``tether diagnose`` keeps asyncio's loop: it probes once, and importing uvloop would
cost it more than the loop saves.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, Final, TypeVar

__all__ = [
    "GC_THRESHOLDS",
    "Settler",
    "freeze",
    "loop_factory",
    "paused_collector",
    "run",
]

T = TypeVar("T")

GC_THRESHOLDS: Final = (50_000, 20, 20)
"""The collector's thresholds in a running monitor (Python's are 700, 10, 10).  What a
check allocates is freed by reference counting; the collector finds only cycles, and
each full collection walks every object the run has made since its start (states,
incidents' members, kept metrics), which in a mass outage at Python's thresholds held
the event loop for long stretches (benchmarks/results.md, "Figures behind choices in
the code").  Lower young thresholds do not make the pauses shorter in proportion: at
(20,000, 5, 50) a wave of 30,000 monitors made 28 collections of the middle generation
at 80 ms of CPU each where these made 5 at 60 ms (``tether monitor --log-stalls``):
what is walked is what is alive, not what was allocated.  The oldest generation is
kept small by :class:`Settler`."""

SETTLE_AT: Final = 100_000
"""Objects in the collector's oldest generation past which the monitor freezes them
(:class:`Settler`): a full collection walks them all, about 1 µs of CPU each on this
project's machine, so it never walks much more than this (0.1 s)."""

SETTLE_YOUNG_AT: Final = 10_000
"""Objects in the collector's middle generation, right after a collection of the young
one, past which a coordinator whose checks run in workers freezes them at once
(:class:`Settler`'s ``young``).  What survives a young collection there is what the
monitor keeps: each check's latest observation, each change's states, members and
baselines, the store's batch waiting for its commit (counted by type on
``benchmarks/bench_change.py``'s path, ``benchmarks/history/bench_mass.md`` section 18);
replacing an old one frees as much as it allocates, so the young generation's count, net
of what is freed, does not see them.  Left in the middle generation, each collection of
it walked again the survivors of the twenty young collections before it, a second or
more of the event loop at 120,000 monitors; frozen, each is walked once, by the young
collection it survived, and a middle collection walks no more than a young one."""

YOUNG_EVERY: Final = 1.0
"""Seconds after which a coordinator whose checks run in workers collects its young
generation itself when Python has not (:class:`Settler`'s ``young``, at its
:meth:`~Settler.tick`).  Python starts a young collection when the objects made, net of
those freed, pass the threshold; a coordinator that replaces what it keeps frees about
as many old objects as it makes new ones, so the count hardly moves while the young
generation grows by all of them, and the collection that at last comes walks them all
at once: 1.1 s of CPU (1.8 s of the event loop) in a wave of 240,000 monitors, up to
0.46 s in a recovery of 120,000 (benchmarks/history/bench_mass.md section 26,
bench_scrape.md section 3).  Made at most once a second, and only when Python made none
in it, each walks what a second kept; every 0.25 s, the collections walked the
short-lived more often and cost more (section 26)."""

RECLAIM_GROWTH: Final = 1.25
"""The growth of what the process holds (``sys.getallocatedblocks``: Python's own count
of its allocated blocks, read in a millisecond where counting the frozen set walks it
all), over the least it held since the last full collection, past which the monitor
makes one (:class:`Settler`): the same quarter Python's own collector waits for."""

RECLAIM_WINDOW: Final = 600.0
"""Seconds the growth must last, every second of them, before it counts
(:class:`Settler`): a wave of failures grows the process by more than a quarter for
as long as it lasts (incidents, their members, alerts, the store's backlog), and a
full collection in it is what the settler is there to spare the wave; a leak stays."""

RECLAIM_EVERY: Final = 24 * 3600.0
"""Seconds after which the monitor makes a full collection anyway (:class:`Settler`): the
longest a cycle frozen while still alive outlives its last reference."""


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's ``new_event_loop`` when uvloop can be imported, else None (asyncio's)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, on the loop :func:`loop_factory` names."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)


def freeze(*, quiet: bool = False) -> None:
    """Collect once, then move every object alive now out of the collector's reach, and
    raise its thresholds (:data:`GC_THRESHOLDS`): what lives as long as the process
    is not walked again (``Runner.run`` says when it is called).  ``quiet``: say nothing
    (before the monitor listens, where a start that fails says one line alone)."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    if quiet:
        return
    logging.getLogger("tether.monitor").info(
        "%d objects moved out of the collector's reach in %.2f s",
        gc.get_freeze_count(),
        time.perf_counter() - started,
    )


class Settler:
    """Keeps the collector's oldest generation small while the monitor runs, so that no
    collection walks the whole heap on the event loop.

    Python's collector walks, in each full collection, every tracked object not frozen.
    After the start's :func:`freeze` every object the monitor makes and keeps (a
    monitor's latest result, its state, its baseline, an incident's members: a new one
    each time the old is replaced) is promoted into the oldest generation as it survives
    two collections; at 120,000 monitors a wave leaves millions there, and each full
    collection then held the event loop for seconds.  So :meth:`tick` (once a second)
    freezes the oldest generation whenever it holds more than :data:`SETTLE_AT` objects,
    right after the next collection of the middle generation (the young ones' cycles
    collected then, not frozen; no collection made for it).  In a coordinator whose
    checks run in worker processes (``young``), it also freezes the middle generation
    right after a young collection that left more than :data:`SETTLE_YOUNG_AT` objects
    in it: what a large fleet keeps of each check and change is walked once, by the
    young collection it survived, not again by every middle one (:meth:`_after_young`);
    and it collects the young generation itself when Python has made no young collection
    for :data:`YOUNG_EVERY`, so that none walks more than a second's survivors.
    Where the probes run in the process, no: a probe under way holds cycles (an
    asyncio transport and its bound methods, an error's traceback and the frames that
    hold it) that would be frozen with it.

    **Why nothing frozen leaks for good.**  Freezing does not keep an object alive:
    reference counting frees a frozen object as soon as its last reference goes (that
    is how the replaced states go).  What freezing keeps is a *cycle* that becomes
    unreachable after it was frozen, or was unreachable already in the oldest
    generation (it survived two collections, then lost its last outside reference)
    when frozen (or, frozen young, was alive at a young collection and became
    unreachable later): the collector no longer looks at it.  Such a cycle's memory is counted
    in what the process holds, so :meth:`tick` also makes a full collection
    (``gc.unfreeze``, ``gc.collect``, ``gc.freeze``: every cycle kept that way is
    collected) when that has stayed a quarter (:data:`RECLAIM_GROWTH`) above the least
    it held since the last one for ten minutes (:data:`RECLAIM_WINDOW`: a wave's growth
    passes, a leak's stays), and at the latest a day after the last one
    (:data:`RECLAIM_EVERY`).  So what freezing can keep is bounded by a quarter of what
    the monitor holds, and for a day at most; a monitor whose fleet does not grow makes
    that full collection once a day (seconds at hundreds of thousands of monitors),
    where before it made them in every wave.
    ``tests/monitor/runtime/test_collector.py`` holds both: a cycle frozen and dropped
    is collected by the next full collection, and a wave and its recovery leave nothing
    of the monitor's own kinds that only the collector could free."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, young: bool = False) -> None:
        self._clock = clock
        self._reclaimed = self._window = clock()
        self._least: int | None = None  # blocks held, least since the last full collection
        self._low = 0  # ... and least in this window
        self._due = False  # freeze after the next collection of the middle generation
        self._young = young  # freezing after young collections, until closed
        self._young_at = clock()  # the last young collection (while young)
        self.settled = 0
        """Freezes of the oldest generation so far."""
        self.settled_young = 0
        """Freezes of the middle generation after a young collection so far."""
        if young:
            gc.callbacks.append(self._after_young)
        self.reclaims = 0
        """Full collections so far."""

    def tick(self) -> None:
        """Freeze the oldest generation if it has grown past :data:`SETTLE_AT`; make a
        full collection if what the process holds stayed :data:`RECLAIM_GROWTH` above
        its least for a whole :data:`RECLAIM_WINDOW`, or a day has passed; ``young``,
        collect the young generation if none was for :data:`YOUNG_EVERY`."""
        if self._young and self._clock() - self._young_at >= YOUNG_EVERY:
            gc.collect(0)  # _after_young notes it
        if self._least is not None and self._grown():
            self.reclaim()
        elif len(gc.get_objects(2)) > SETTLE_AT and not self._due:
            self._due = True
            gc.callbacks.append(self._after)

    def _after(self, phase: str, info: dict[str, int]) -> None:
        """Freeze right after a collection of the middle generation (or a full one): the
        young generations are empty then, their cycles collected, and freezing costs no
        collection of its own."""
        if phase == "stop" and info["generation"] >= 1 and self._due:
            self._due = False
            gc.freeze()
            self.settled += 1
            gc.callbacks.remove(self._after)

    def _after_young(self, phase: str, info: dict[str, int]) -> None:
        """Freeze right after a collection of the young generation, when what it left in
        the middle one is past :data:`SETTLE_YOUNG_AT`: its cycles are collected then
        (an object it froze is one that was alive), and a freeze moves lists, it walks
        nothing."""
        if phase != "stop" or info["generation"] != 0:
            return
        self._young_at = self._clock()
        if len(gc.get_objects(1)) > SETTLE_YOUNG_AT:
            gc.freeze()
            self.settled_young += 1

    def close(self) -> None:
        """No freeze due any more (the run is over)."""
        if self._due:
            self._due = False
            gc.callbacks.remove(self._after)
        if self._young:
            self._young = False
            gc.callbacks.remove(self._after_young)

    def _grown(self) -> bool:
        """Whether a full collection is due (:meth:`tick`); notes what is held now."""
        assert self._least is not None
        held, now = sys.getallocatedblocks(), self._clock()
        self._least = min(self._least, held)
        self._low = min(self._low, held)
        if now - self._reclaimed >= RECLAIM_EVERY:
            return True
        if now - self._window < RECLAIM_WINDOW:
            return False
        grown = self._low > self._least * RECLAIM_GROWTH
        self._window, self._low = now, held
        return grown

    def settle(self) -> None:
        """Collect the two young generations, then freeze everything left."""
        gc.collect(1)
        gc.freeze()
        self.settled += 1

    def rebase(self) -> None:
        """Freeze what the monitor made in its first interval (every monitor has run once:
        its series, schedule entries, latest results), and count the frozen set's
        growth from here: the full collections of :meth:`tick` start now."""
        self.settle()
        self._restart()

    def _restart(self) -> None:
        self._least = self._low = sys.getallocatedblocks()
        self._window = self._clock()

    def reclaim(self) -> None:
        """A full collection of everything, the frozen set included, then freeze what
        is left (:func:`freeze`)."""
        gc.unfreeze()
        freeze()
        self._restart()
        self._reclaimed = self._clock()
        self.reclaims += 1


@contextmanager
def paused_collector() -> Iterator[None]:
    """The collector paused while the block runs (as it was after): for the restore at
    start, whose objects (every monitor's state and baseline) live as long as the
    process, as :func:`freeze` will say.  Left running, each of its collections walked
    every state restored so far: three quarters of a restart of 60,000 monitors
    (``benchmarks/bench_restart.py``)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
