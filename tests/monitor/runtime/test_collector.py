"""The collector in a running monitor (``runtime/_loop.py``'s :class:`Settler`): what it
freezes as the run goes on is out of every collection's walk, and nothing frozen is kept
for good.

Freezing keeps no object alive by itself (reference counting frees a frozen object when
its last reference goes); what it can keep is a cycle that became unreachable once
frozen.  So these tests hold both halves of the argument in the settler's docstring: a
cycle frozen and dropped is collected by the settler's next full collection (the frozen
set grown by a quarter, or a day passed), and a wave with its recovery, on a real
runner, leaves no cycle of the monitor's own kinds for the collector to find.
"""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.monitor_harness import Harness
from tests.helpers.ports import accepting, free_port
from tether.monitor._state import State
from tether.monitor.config import parse_config
from tether.monitor.runtime import _loop
from tether.monitor.runtime._loop import (
    GC_THRESHOLDS,
    RECLAIM_EVERY,
    RECLAIM_GROWTH,
    RECLAIM_WINDOW,
    SETTLE_AT,
    SETTLE_YOUNG_AT,
    YOUNG_EVERY,
    Settler,
)
from tether.probe import ProbeOptions


class Node:
    """One half of a cycle (a plain class: tracked by the collector, as the monitor's are)."""

    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> tuple[Node, weakref.ref[Node]]:
    """Two nodes referring to each other: only the collector can free them once dropped."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a, weakref.ref(a)


@pytest.fixture
def collector() -> Iterator[None]:
    """The collector as a running monitor has it, given back as it was after the test."""
    was, thresholds, callbacks = gc.isenabled(), gc.get_threshold(), list(gc.callbacks)
    gc.collect()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.callbacks[:] = callbacks  # a settler left open by a failed test
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        gc.collect()
        if was:
            gc.enable()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_frozen_cycle_dropped_is_kept_until_the_settlers_full_collection(
    collector: None,
) -> None:
    """A cycle frozen by the settler and then dropped survives an ordinary full collection
    (the hazard of freezing), and is freed by the settler's own full collection."""
    settler = Settler(Clock())
    node, alive = cycle()
    settler.settle()
    del node
    gc.collect()
    assert alive() is not None
    settler.reclaim()
    assert alive() is None
    assert settler.reclaims == 1
    settler.close()


def test_the_settler_collects_in_full_once_growth_lasted_a_whole_window(
    collector: None,
) -> None:
    """After its rebase the settler makes no full collection while what the process holds
    stays the same, nor for growth that passes within the window (a wave's), and makes
    one (freeing a dropped frozen cycle) once a quarter's growth lasted a whole window."""
    clock = Clock()
    settler = Settler(clock)
    settler.rebase()
    node, alive = cycle()
    settler.settle()
    del node
    for _ in range(3):  # ticks a window apart, nothing grown
        clock.now += RECLAIM_WINDOW / 2
        settler.tick()
    assert settler.reclaims == 0
    assert alive() is not None
    grown = int(sys.getallocatedblocks() * (RECLAIM_GROWTH - 1)) + 10_000

    wave = [[i] for i in range(grown)]  # grown past a quarter, then gone within the window
    clock.now += RECLAIM_WINDOW / 2
    settler.tick()
    del wave
    clock.now += RECLAIM_WINDOW / 2
    settler.tick()
    clock.now += RECLAIM_WINDOW
    settler.tick()
    assert settler.reclaims == 0
    assert alive() is not None

    kept = [[i] for i in range(grown)]  # grown, and staying
    clock.now += RECLAIM_WINDOW / 2
    settler.tick()
    assert settler.reclaims == 0
    clock.now += RECLAIM_WINDOW / 2
    settler.tick()
    clock.now += RECLAIM_WINDOW
    settler.tick()
    assert settler.reclaims == 1
    assert alive() is None
    assert len(kept) == grown
    settler.close()


def test_a_day_after_its_last_full_collection_the_settler_makes_one(collector: None) -> None:
    """Without growth, a frozen cycle is kept at most RECLAIM_EVERY (a day): the tick
    after it makes the full collection."""
    clock = Clock()
    settler = Settler(clock)
    settler.rebase()
    node, alive = cycle()
    settler.settle()
    del node
    clock.now += RECLAIM_EVERY - 1
    settler.tick()
    assert alive() is not None
    clock.now += 1
    settler.tick()
    assert alive() is None
    assert settler.reclaims == 1
    settler.close()


def test_the_settler_freezes_the_oldest_generation_once_it_outgrows_settle_at(
    collector: None,
) -> None:
    """Objects kept past two collections pile up in the oldest generation, which every
    full collection walks; past SETTLE_AT the settler's tick has them frozen right after
    the next collection of the middle generation (whose cycles are collected then, not
    frozen), and makes no collection for it."""
    settler = Settler(Clock())
    kept = [[i] for i in range(SETTLE_AT + 10_000)]
    gc.collect()  # survivors: all in the oldest generation now
    assert len(gc.get_objects(2)) > SETTLE_AT
    node, alive = cycle()
    del node
    settler.tick()
    assert settler.settled == 0  # nothing collected or frozen by the tick itself
    gc.collect(1)  # the next collection of the middle generation, as one comes
    assert settler.settled == 1
    assert len(gc.get_objects(2)) < SETTLE_AT
    assert alive() is None  # a young cycle already unreachable is collected, not frozen
    assert len(kept) == SETTLE_AT + 10_000
    settler.close()


def test_a_young_settler_freezes_what_a_young_collection_leaves(collector: None) -> None:
    """A settler made ``young`` (a coordinator whose checks run in workers) has a young
    collection that leaves more than SETTLE_YOUNG_AT objects in the middle generation
    frozen at once (so the next middle collection does not walk them again), a young
    cycle already unreachable collected, not frozen; what is frozen lives only as long
    as it is referred to, and once closed the settler freezes nothing more."""
    settler = Settler(Clock(), young=True)
    before = gc.get_freeze_count()
    node, alive = cycle()
    del node
    kept = [[i] for i in range(SETTLE_YOUNG_AT + 1_000)]
    gc.collect(0)
    assert settler.settled_young >= 1
    assert len(gc.get_objects(1)) < SETTLE_YOUNG_AT
    assert alive() is None  # collected by the young collection, not frozen
    frozen = gc.get_freeze_count()
    assert frozen > before + SETTLE_YOUNG_AT
    del kept  # reference counting frees frozen objects
    assert gc.get_freeze_count() < frozen - SETTLE_YOUNG_AT
    settler.close()
    settled, frozen = settler.settled_young, gc.get_freeze_count()
    again = [[i] for i in range(SETTLE_YOUNG_AT + 1_000)]
    gc.collect(0)  # closed: nothing frozen any more
    assert (settler.settled_young, gc.get_freeze_count()) == (settled, frozen)
    assert len(again) == SETTLE_YOUNG_AT + 1_000


def test_a_young_settler_collects_a_young_generation_the_count_does_not_see(
    collector: None,
) -> None:
    """What the coordinator does in a wave: each new object replaces an old, frozen one, so
    Python's count of objects made net of those freed stays under its threshold and no
    young collection comes while the young generation grows by every new one.  A young
    settler's tick collects it once :data:`YOUNG_EVERY` has passed since the last young
    collection, not before; a settler not young never does."""
    old = [[i] for i in range(30_000)]
    gc.collect()
    gc.freeze()  # as the monitor's start leaves what it keeps
    clock = Clock()
    young, plain = Settler(clock, young=True), Settler(clock)
    try:
        for i in range(len(old)):
            old[i] = [i]  # one made, one freed: the count does not move
        assert gc.get_count()[0] < GC_THRESHOLDS[0] // 10
        assert len(gc.get_objects(0)) >= len(old)
        clock.now += YOUNG_EVERY / 2
        young.tick()
        plain.tick()
        assert len(gc.get_objects(0)) >= len(old)  # not yet
        clock.now += YOUNG_EVERY / 2
        plain.tick()
        assert len(gc.get_objects(0)) >= len(old)
        young.tick()
        assert len(gc.get_objects(0)) < 1_000  # collected, survivors moved on (and frozen)
        made = len(old)
        for i in range(made):
            old[i] = [i, i]
        clock.now += YOUNG_EVERY / 2
        gc.collect(0)  # Python's own young collection: the second starts again
        clock.now += YOUNG_EVERY * 0.75
        for i in range(made):
            old[i] = [i]
        young.tick()
        assert len(gc.get_objects(0)) >= made  # a young collection was 0.75 s ago
    finally:
        young.close()
        plain.close()


def test_a_settler_not_young_leaves_young_collections_alone(collector: None) -> None:
    """Where the probes run in the process (not ``young``), what a young collection
    leaves stays in the middle generation, for the next middle collection to judge."""
    settler = Settler(Clock())
    frozen = gc.get_freeze_count()
    kept = [[i] for i in range(SETTLE_YOUNG_AT + 1_000)]
    gc.collect(0)
    assert settler.settled_young == 0
    assert gc.get_freeze_count() == frozen
    assert len(gc.get_objects(1)) > SETTLE_YOUNG_AT
    assert len(kept) == SETTLE_YOUNG_AT + 1_000
    settler.close()


# -- a wave and its recovery on a real runner --------------------------------------------


@pytest.fixture
def listener() -> Iterator[int]:
    """A loopback port that accepts every connection (and closes it)."""
    with accepting() as port:
        yield port


@pytest.mark.parametrize("young", [False, True], ids=["settled", "frozen-young"])
def test_a_wave_and_its_recovery_leave_no_cycle_of_the_monitors_kinds(
    tmp_path: Path, listener: int, collector: None, young: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """300 monitors on 32 hosts all failing (incidents opened, alerts queued) and all
    recovering (incidents resolved), on a real runner and store, the settler freezing
    what the run keeps after the cold start, in the outage and after the recovery (at
    the monitor's thresholds; ``frozen-young``: also what each young collection leaves,
    one every 700 objects, as a coordinator with workers has it frozen): a full
    collection of everything then finds no cycle of the monitor's own kinds that
    freezing kept from the collector, so that a wave and its recovery leak nothing of
    them between two full collections.  (The probes run in this process here; frozen
    young, their attempts under way leave cycles (asyncio's transports, an error's
    traceback), which is why only a coordinator whose probes run in workers is young.)"""
    if young:
        monkeypatch.setattr(_loop, "SETTLE_YOUNG_AT", 0)
        gc.set_threshold(700, *GC_THRESHOLDS[1:])
    down_port = free_port()
    n = 300
    lines = "\n".join(
        f"  - {{name: m{i}, url: 'tcp://127.0.1.{i % 32 + 1}:7000', interval: 10s}}"
        for i in range(n)
    )
    config = parse_config(
        f"alerts:\n  - {{name: ops, type: webhook, url: http://127.0.0.1:9/}}\nmonitors:\n{lines}\n"
    )
    refusing = False

    def route(target: str, options: ProbeOptions) -> str:
        return f"tcp://127.0.0.1:{down_port if refusing else listener}"

    def fail(now: bool) -> None:
        nonlocal refusing
        refusing = now

    h = Harness(tmp_path, config, probe=route)
    names = [f"m{i}" for i in range(n)]

    def every(state: State) -> bool:
        return all(h.state(name) is state for name in names)

    settler = Settler(Clock(), young=young)
    garbage: list[object] = []

    def down() -> None:
        settler.rebase()
        fail(True)

    def up() -> None:
        settler.settle()
        fail(False)

    try:
        h.drive(
            (lambda: every(State.UP), down),
            (lambda: every(State.DOWN), up),
            (lambda: every(State.UP), settler.settle),
            limit=600,
        )
        incidents = h.store.incidents(limit=1_000)
        assert gc.get_freeze_count() > 0
        gc.unfreeze()
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        garbage.extend(gc.garbage)
    finally:
        settler.close()
        gc.set_debug(0)
        gc.garbage.clear()
        h.close()
    assert incidents
    assert all(i.resolved is not None for i in incidents)
    ours = sorted(
        {
            f"{type(o).__module__}.{type(o).__qualname__}"
            for o in garbage
            if type(o).__module__.startswith("tether.")
        }
    )
    if young:
        assert settler.settled_young > 0
        ours = [kind for kind in ours if not kind.startswith("tether.probe.")]
        ours = [kind for kind in ours if kind != "tether._failure.Failure"]
    assert ours == [], ours
    if not young:
        assert len(garbage) < 1_000, len(garbage)  # of any kind: not one a check or a change
