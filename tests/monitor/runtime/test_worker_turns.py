"""The coordinator gives its event loop a turn while it takes a frame of checks from a
worker: a frame holds up to 512 checks, and in a mass outage each is a state change, so
a frame taken in one go held every request and signal for as long as its changes took.

A real frame over a real socket pair, read by the real ``WorkerFleet._read``; each check
handed to the sink moves an injected clock by a millisecond (what a change costs, made a
count), and a task beside it counts the loop's turns.  Counted, not timed.
"""

from __future__ import annotations

import asyncio
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
