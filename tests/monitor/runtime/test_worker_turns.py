"""The coordinator gives its event loop a turn while it takes a frame of checks from a
worker: a frame holds up to 512 checks, and in a mass outage each is a state change, so
a frame taken in one go held every request and signal for as long as its changes took.

A real frame over a real socket pair, read by the real ``WorkerFleet._read``; each check
handed to the sink moves an injected clock by a millisecond (what a change costs, made a
count), and a task beside it counts the loop's turns.  Counted, not timed.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from types import SimpleNamespace
from typing import Any

from tether.monitor._records import ProbeRecord
from tether.monitor.checks._prober import Check
from tether.monitor.runtime._workers import _TURN, WorkerFleet, _Checks, _frame

CHECKS = 512
COST = 0.001
"""Simulated seconds each check costs the coordinator."""


def test_a_frame_of_checks_leaves_the_loop_a_turn_every_few_milliseconds() -> None:
    async def main() -> list[int]:
        ours, theirs = socket.socketpair()
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        checks = [Check(ProbeRecord(f"m{i}", 0.0, False), "127.0.0.1") for i in range(CHECKS)]
        theirs.sendall(_frame(_Checks(checks)))
        theirs.close()
        now = [0.0]
        turns = [0]
        seen: list[int] = []

        def sink(check: Check) -> None:
            now[0] += COST
            seen.append(turns[0])

        async def beside() -> None:
            while True:
                turns[0] += 1
                await asyncio.sleep(0)

        counting = asyncio.create_task(beside())
        await asyncio.sleep(0)
        worker: Any = SimpleNamespace(reader=reader)
        await WorkerFleet._read(worker, sink, clock=lambda: now[0])
        counting.cancel()
        writer.close()
        return seen

    seen = asyncio.run(main())
    assert len(seen) == CHECKS
    longest = max(seen.count(n) for n in set(seen))  # checks taken in one turn of the loop
    assert longest <= round(_TURN / COST) + 1
    assert len(set(seen)) >= CHECKS * COST / _TURN - 1


def test_a_worker_takes_its_assignment_a_part_at_a_time(monkeypatch: Any) -> None:
    """A worker's event loop also answers the monitor's HTTP port: an assignment of 60,000
    monitors unpickled and planned in one go held it for seconds at a cold start, and the
    first ``GET /`` waited.  A real assignment frame over a real socket pair: its monitors
    come back whole and in order, the loop turns once a turn's work is done while the
    parts are unpickled and the monitors planned (``in_turns``, its clock injected), and
    the prober ends with the plans ``assign`` makes in one go (the proxy variables read
    once).  Counted, not timed."""
    from tether.monitor.checks import _prober
    from tether.monitor.checks._prober import Prober
    from tether.monitor.config import parse_config
    from tether.monitor.runtime import _worker_messages
    from tether.monitor.runtime._workers import _Assign, _receive
    from tether.probe._allow import AllowedTargets

    monkeypatch.setattr(_worker_messages, "PART", 3)
    reads = [0]
    real = _prober.proxy_environment

    def counted() -> dict[str, str]:
        reads[0] += 1
        return real()

    monkeypatch.setattr(_prober, "proxy_environment", counted)
    lines = "".join(f"  - {{name: m{i}, url: 'http://127.0.0.1:{1000 + i}/'}}\n" for i in range(10))
    monitors = parse_config("monitors:\n" + lines).monitors

    async def main() -> tuple[list[str], int, int, Prober]:
        ours, theirs = socket.socketpair()
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        theirs.sendall(_frame(_Assign.of(monitors, AllowedTargets((), ()), None, {})))
        theirs.close()
        message = await _receive(reader)
        assert isinstance(message, _Assign)
        assert len(message.parts) == 4  # 10 monitors, 3 a part
        # A callback that puts itself back on the loop counts its turns (no sleep).
        loop = asyncio.get_running_loop()
        turns = [0]
        counting = [True]

        def count() -> None:
            if counting[0]:
                turns[0] += 1
                loop.call_soon(count)

        loop.call_soon(count)
        # A clock each read of which is a second later: a turn after every item.
        ticks = itertools.count()
        start = turns[0]
        got = await message.monitors(clock=lambda: float(next(ticks)))
        unpickled = turns[0] - start
        prober = Prober()
        start = turns[0]
        await prober.assign_in_turns(got, clock=lambda: float(next(ticks)))
        planned = turns[0] - start
        counting[0] = False
        writer.close()
        await writer.wait_closed()
        return [m.name for m in got], unpickled, planned, prober

    names, unpickled, planned, prober = asyncio.run(main())
    assert names == [m.name for m in monitors]
    assert unpickled >= 4  # a turn after each of the 4 parts
    assert planned >= 10  # a turn after each of the 10 monitors planned
    assert reads[0] == 1
    whole = Prober()
    whole.assign(monitors)
    assert list(prober._plans) == list(whole._plans)
    for name, plan in whole._plans.items():
        assert prober._plans[name].monitor == plan.monitor
        assert prober._plans[name].options == plan.options
