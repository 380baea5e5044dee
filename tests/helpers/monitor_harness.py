"""A runner on simulated time (tests/helpers/simtime.py) against real probes, a real store and a
real outbox, driven step by step: shared by the runner's tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tests.helpers.simtime import SimTime
from tether.monitor import Runner
from tether.monitor._records import AlertPayload
from tether.monitor._state import State
from tether.monitor.alerts import Channel, Outbox
from tether.monitor.config import MonitorConfig, parse_config
from tether.monitor.store import SQLiteStore
from tether.monitor.web.scrape._scrape import scrape
from tether.probe import ProbeOptions, ProbeResult


class Collect:
    """An alert channel that keeps what it is given (the outbox and store are real)."""

    def __init__(self, name: str = "ops") -> None:
        self.name = name
        self.got: list[dict[str, Any]] = []

    def deliver(self, payload: AlertPayload, key: str) -> None:
        self.got.append(payload.to_json())


def monitors(*lines: str) -> MonitorConfig:
    body = "\n".join(f"  - {line}" for line in lines)
    return parse_config(
        f"alerts:\n  - {{name: ops, type: webhook, url: http://127.0.0.1:9/}}\nmonitors:\n{body}\n"
    )


class _Timed:
    """A channel whose deliveries count as real I/O in flight, so simulated time waits
    for them as it waits for probes (a delivery runs on the outbox's worker thread)."""

    def __init__(self, channel: Channel, sim: SimTime, log: list[tuple[str, str, float]]) -> None:
        self.name = channel.name
        self._channel = channel
        self._sim = sim
        self._log = log

    def deliver(self, payload: AlertPayload, key: str) -> None:
        with self._sim.busy():
            self._channel.deliver(payload, key)
            self._log.append((self.name, payload.event, self._sim.now))


class Harness:
    """A runner on simulated time with a collecting channel, driven step by step."""

    def __init__(
        self,
        tmp_path: Path,
        config: MonitorConfig,
        probe: Callable[[str, ProbeOptions], Any] | None = None,
        channels: Mapping[str, Channel] | None = None,
        *,
        start: float = 0.0,
    ) -> None:
        """``start``: the simulated seconds the clock starts at (a restart's, later than
        the run before it on the same store)."""
        self.sim = SimTime()
        self.sim.now = start
        self.ops = Collect()
        self.delivered: list[tuple[str, str, float]] = []
        """(channel, event, simulated time) of each delivery that landed."""
        self.store = SQLiteStore(tmp_path / "t.db")
        self.probes: list[str] = []
        route = probe

        async def counted(target: str, options: ProbeOptions) -> ProbeResult:
            self.probes.append(target)
            if route is not None:
                target = route(target, options)
            return await self.sim.probe(target, options)

        self.runner = Runner(
            config,
            self.store,
            Outbox(
                self.store,
                {
                    n: _Timed(c, self.sim, self.delivered)
                    for n, c in (channels or {"ops": self.ops}).items()
                },
            ),
            wall=self.sim.wall,
            mono=self.sim.mono,
            sleep=self.sim.sleep,
            rand=lambda: 0.0,
            probe=counted,
        )
        self.sim.also_busy = lambda: self.runner.outbox.busy

    def drive(self, *steps: tuple[Callable[[], bool], Callable[[], object]], limit: float) -> None:
        """Run the monitor; each step's action runs once its condition holds, in order."""

        async def main() -> None:
            stop = asyncio.Event()

            async def script() -> None:
                # The script waits in simulated time too: its condition is looked at
                # every time the clock is about to move.  Waiting in real time, a script
                # that the loop woke late (a loaded machine) saw its condition minutes
                # of simulated time after it held.
                for condition, action in steps:
                    await self.sim.until(condition, limit)
                    action()
                stop.set()

            await asyncio.gather(self.runner.run(stop, deliver_every=0.5), script())

        self.sim.run(main())
        self.store.flush()
        self.runner.outbox.deliver_due(self.sim.wall() + 1e6)

    def state(self, name: str) -> State:
        return self.runner.detector.state(name)

    def metrics(self) -> str:
        """What /metrics answers now."""
        return asyncio.run(scrape(self.runner)).decode()

    def close(self) -> None:
        self.store.close()
