"""The runner's run (:meth:`Runner.run`): the checks, and the rounds beside them, until
the monitor stops.

- **The checks**: the fleet (this process's prober, or the worker processes) runs each
  monitor on its interval and hands each check to the runner's intake.
- **The outbox** delivers the queued alerts (``alerts/_outbox.py``).
- **Every second**: the write API's controls, missed heartbeats, traffic verdicts,
  objectives, the agents' silence; in a cluster, the locations' states; on the leader,
  the incident engine's tick (held alerts whose hold lifted, reminders, escalation,
  ``tether ack``).
- **The membership's rounds** in a cluster (``cluster/_membership.py``).
- **Housekeeping**: every ten minutes a checkpoint of the detector (:func:`checkpoint`, a
  slice of the monitors a turn of the event loop) and pruning; every second the
  collector's settling (:class:`~tether.monitor.runtime._loop.Settler`).

``freeze_gc`` (what ``tether monitor`` does) collects once, then moves every object
alive now (configuration, conditions, saved states, baselines) out of the garbage
collector's reach: they live as long as the process, and at tens of thousands of
monitors each full collection walked them again, pausing the loop for over a second.
From then on the settler freezes what the run keeps as it piles up, and makes a full
collection only when the frozen set has grown by a quarter or a day has passed (its
docstring says why nothing frozen leaks for good); the count of that growth starts
once every monitor has run once (metrics series, schedule entries, latest results).
It also raises the collector's thresholds
(:data:`~tether.monitor.runtime._loop.GC_THRESHOLDS`).

In a cluster, a renewal round first (this instance probes only what it holds), then one
every ``cluster.every`` s; every instance reads the locations once a second, the leader
alone ticks the incident engine.  On a clean stop it hands its leases back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Final, Protocol

from tether.monitor._state import State
from tether.monitor.runtime._loop import Settler, freeze
from tether.monitor.runtime._saved import CHECKPOINT_EVERY, CHECKPOINT_SPREAD
from tether.monitor.store import StoreError

if TYPE_CHECKING:
    from tether.monitor._records import ProbeRecord
    from tether.monitor.alerts import Outbox
    from tether.monitor.checks._prober import Check, Prober
    from tether.monitor.cluster._membership import Membership
    from tether.monitor.config import MonitorConfig
    from tether.monitor.engine._detect import Detector
    from tether.monitor.runtime._controls import ControlsIntake
    from tether.monitor.runtime._fleet import Fleet
    from tether.monitor.runtime._objective_stage import Objectives
    from tether.monitor.runtime._pushes import Pushes
    from tether.monitor.runtime._traffic_intake import TrafficIntake
    from tether.monitor.runtime.agents._intake import AgentIntake
    from tether.monitor.store import Store

__all__ = ["CHECKPOINT_SLICE", "RoundsRunner", "checkpoint", "run_rounds"]

log = logging.getLogger("tether.monitor")

CHECKPOINT_SLICE: Final = 1_000
"""Monitors whose detector states a running checkpoint saves in one turn of the event
loop (:func:`checkpoint`): some 11 ms of it on this project's 2-core machine.  Saved all
in one turn, 240,000 monitors' states held the loop for 3.2 s every ten minutes, and
every answer and check with it (``benchmarks/history/bench_scrape.md`` section 3)."""


class RoundsRunner(Protocol):
    """The runner, as its run drives it."""

    config: MonitorConfig
    store: Store
    outbox: Outbox
    fleet: Fleet
    prober: Prober
    """This process's own prober: ``fleet`` itself unless the checks run in workers."""
    detector: Detector
    membership: Membership
    controls: ControlsIntake
    pushes: Pushes
    traffic: TrafficIntake
    objectives: Objectives
    agents: AgentIntake

    def wall(self) -> float: ...
    def mono(self) -> float: ...
    @property
    def leading(self) -> bool: ...
    def take_check(self, check: Check) -> ProbeRecord: ...
    def tick(self, acknowledged: Mapping[int, float] | None = None) -> None: ...
    def save_state(self, name: str) -> None: ...
    def checkpoint(self) -> None: ...


async def checkpoint(runner: RoundsRunner, stop: asyncio.Event) -> None:
    """Save every monitor's detector state, :data:`CHECKPOINT_SLICE` monitors a turn of the
    event loop, in the order the detector knows them (so that each monitor's saves stay
    about ``CHECKPOINT_EVERY`` apart); past ``CHECKPOINT_SPREAD`` seconds, the rest at
    once.  A monitor gone meanwhile is skipped (its state exports as None), one added
    waits for the next checkpoint; on ``stop``, the stop's own checkpoint saves them all."""
    names = runner.detector.names()
    spread_until = runner.mono() + CHECKPOINT_SPREAD
    for start in range(0, len(names), CHECKPOINT_SLICE):
        if stop.is_set():
            return
        for name in names[start : start + CHECKPOINT_SLICE]:
            runner.save_state(name)
        if runner.mono() < spread_until:
            await asyncio.sleep(0)  # a turn of the loop, not a wait


async def run_rounds(
    runner: RoundsRunner,
    stop: asyncio.Event,
    sleep: Callable[[float], Awaitable[object]],
    *,
    deliver_every: float,
    freeze_gc: bool,
    began: float | None,
) -> None:
    """Run ``runner`` until ``stop`` (the module's docstring says how); uptime counts from
    ``began``."""
    membership = runner.membership
    if freeze_gc:
        freeze()
    if membership.shared:
        await membership.renew()
    else:
        started = runner.wall() if began is None else began
        for m in runner.config.monitors:
            # Uptime counts from here in the state the monitor had when tether stopped.
            runner.store.record_state(m.name, started, runner.detector.state(m.name))

    async def every_second() -> None:
        while not stop.is_set():
            try:
                await runner.controls.read()
                runner.pushes.heartbeats()
                runner.traffic.judge()
                runner.objectives.tick(runner.wall())
                runner.agents.tick()
                if membership.shared:
                    await membership.poll_locations()
                if runner.leading:
                    runner.tick(await asyncio.to_thread(runner.controls.acknowledged))
            except Exception:
                log.exception("incident tick failed")
            await sleep(deliver_every)

    longest = max((m.interval for m in runner.config.monitors), default=0.0)

    async def housekeeping() -> None:
        """Checkpoint the detector, and drop results past their retention, every
        ten minutes."""
        last = begun = runner.mono()
        # Young survivors frozen only where the checks run in workers: see Settler.
        settler = (
            Settler(runner.mono, young=runner.fleet is not runner.prober) if freeze_gc else None
        )
        rebase = freeze_gc
        try:
            while not stop.is_set():
                await sleep(1.0)
                if settler is not None:
                    if rebase and runner.mono() - begun > longest + 1:
                        rebase = False
                        settler.rebase()
                    else:
                        settler.tick()
                if runner.mono() - last >= CHECKPOINT_EVERY:
                    last = runner.mono()
                    await checkpoint(runner, stop)
                    membership.feed.reset()  # a full read now and then: see LocationFeed
                    await prune(runner)
        finally:
            if settler is not None:
                settler.close()

    await prune(runner)
    await asyncio.gather(
        runner.fleet.run(stop, runner.take_check),
        runner.outbox.run(stop, runner.wall, sleep, every=deliver_every),
        every_second(),
        membership.rounds(stop),
        housekeeping(),
    )
    runner.checkpoint()
    if not membership.shared:
        stopped = runner.wall()
        for m in runner.config.monitors:  # while tether is stopped, nothing is known
            runner.store.record_state(m.name, stopped, State.UNKNOWN)
    # Held: closing the store writes it or spills it, and says which.
    with contextlib.suppress(StoreError):
        runner.store.flush()
    await membership.leave()


async def prune(runner: RoundsRunner) -> None:
    """Drop what is past its retention: the leader's prune is every instance's."""
    try:
        if runner.leading:  # one instance of a cluster prunes for all (store/_retention.py)
            await asyncio.to_thread(runner.store.prune, runner.wall())
    except StoreError as exc:  # pruned next time (the writer has said why)
        log.debug("prune skipped: %s", exc)
