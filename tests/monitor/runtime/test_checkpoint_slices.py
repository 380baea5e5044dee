"""The run's checkpoint (every ten minutes, every monitor's detector state saved) lets the
event loop go between slices of the monitors: at 240,000 monitors, saved in one turn,
it held the loop for 3.2 s, and every answer and check with it
(benchmarks/history/bench_scrape.md section 3).

A real runner on a real SQLite store, its wall and monotonic clocks injected; the
checkpoint runs as a task beside a watcher task that notes, at each turn it gets, how
many states were saved so far.  The count of saves is read through a wrapper around the
runner's own ``save_state``, which it calls on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.agent_world import T0, Clock
from tether.monitor import Runner
from tether.monitor._records import ProbeRecord
from tether.monitor.alerts import Outbox
from tether.monitor.checks._prober import Check
from tether.monitor.config import parse_config
from tether.monitor.runtime import _rounds
from tether.monitor.runtime._rounds import checkpoint
from tether.monitor.runtime._saved import CHECKPOINT_SPREAD
from tether.monitor.store import SQLiteStore

MONITORS = 25
SLICE = 10


def _runner(tmp_path: Path, mono: Clock) -> tuple[Runner, SQLiteStore, list[str]]:
    """A runner of :data:`MONITORS` monitors; the names it saves, as it saves them."""
    lines = "".join(
        f"  - {{name: m{i:02d}, url: 'http://127.0.0.1:9/{i}', interval: 30s}}\n"
        for i in range(MONITORS)
    )
    config = parse_config(f"monitors:\n{lines}")
    store = SQLiteStore(tmp_path / "t.db")
    runner = Runner(config, store, Outbox(store, {}), wall=Clock(T0), mono=mono)
    for m in config.monitors:  # each checked once: the detector knows it
        runner.take_check(Check(ProbeRecord(m.name, T0, True, None, 2.0, None), "127.0.0.1:9"))
    saved: list[str] = []
    save = runner.save_state

    def counted(name: str) -> None:
        saved.append(name)
        save(name)

    runner.save_state = counted  # type: ignore[method-assign]
    return runner, store, saved


def _run(
    runner: Runner,
    saved: list[str],
    stop: asyncio.Event,
    on_turn: Callable[[int], None] | None = None,
) -> list[int]:
    """The checkpoint beside a watcher; the counts of saves the watcher saw, a turn each."""
    seen: list[int] = []

    async def main() -> None:
        task = asyncio.create_task(checkpoint(runner, stop))
        while not task.done():
            await asyncio.sleep(0)  # a turn of the loop, not a wait
            seen.append(len(saved))
            if on_turn is not None:
                on_turn(len(saved))
        await task

    asyncio.run(main())
    return seen


@pytest.fixture(autouse=True)
def _small_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_rounds, "CHECKPOINT_SLICE", SLICE)


def test_the_checkpoint_saves_every_state_a_slice_a_turn(tmp_path: Path) -> None:
    """Every monitor's state saved, in the detector's order, :data:`SLICE` a turn: the
    watcher runs after each slice; the store then holds every monitor's state."""
    runner, store, saved = _runner(tmp_path, Clock(100.0))
    with store:
        seen = _run(runner, saved, asyncio.Event())
        assert sorted(set(seen)) == [10, 20, 25]
        assert saved == runner.detector.names()
        assert len(saved) == MONITORS
        store.flush()
        held = store.load_state()
        assert {f"detector:m{i:02d}" for i in range(MONITORS)} <= set(held)


def test_past_its_spread_the_checkpoint_saves_the_rest_at_once(tmp_path: Path) -> None:
    """The monotonic clock moved past ``CHECKPOINT_SPREAD`` after the first slice: the
    two slices left are saved in one turn, so that no state waits longer."""
    mono = Clock(100.0)
    runner, store, saved = _runner(tmp_path, mono)

    def late(count: int) -> None:
        if count == SLICE:
            mono.now = 100.0 + CHECKPOINT_SPREAD + 1

    with store:
        seen = _run(runner, saved, asyncio.Event(), late)
        assert sorted(set(seen)) == [10, 25]
        assert len(saved) == MONITORS


def test_a_stop_ends_the_checkpoint_between_slices(tmp_path: Path) -> None:
    """``stop`` set after the first slice: the checkpoint ends there (the stop's own
    checkpoint, ``Runner.checkpoint``, saves every state at once)."""
    runner, store, saved = _runner(tmp_path, Clock(100.0))
    stop = asyncio.Event()

    def stopping(count: int) -> None:
        if count == SLICE:
            stop.set()

    with store:
        _run(runner, saved, stop, stopping)
        assert len(saved) == SLICE
        runner.checkpoint()
        assert len(saved) == SLICE + MONITORS
        store.flush()
        assert {f"detector:m{i:02d}" for i in range(MONITORS)} <= set(store.load_state())
