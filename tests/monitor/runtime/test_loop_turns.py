"""``in_turns``: a loop over many items gives the event loop a turn every few
milliseconds of work (the leader's read of thousands of location states in a wave held
every check behind it).  Each item moves an injected clock by its cost, and a task beside
it counts the loop's turns: counted, not timed."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from tether.monitor._turns import TURN, in_turns


@settings(max_examples=100, deadline=None)
@given(items=st.integers(0, 300), cost=st.floats(0.0001, 0.02))
def test_every_item_comes_and_the_loop_gets_a_turn_every_turn_of_work(
    items: int, cost: float
) -> None:
    async def main() -> list[int]:
        now = [0.0]
        turns = [0]
        seen: list[int] = []

        async def beside() -> None:
            while True:
                turns[0] += 1
                await asyncio.sleep(0)

        counting = asyncio.create_task(beside())
        await asyncio.sleep(0)
        async for _ in in_turns(range(items), clock=lambda: now[0]):
            now[0] += cost
            seen.append(turns[0])
        counting.cancel()
        return seen

    seen = asyncio.run(main())
    assert len(seen) == items
    # No run of items in one turn of the loop holds it longer than a turn and one item.
    longest = max((seen.count(n) for n in set(seen)), default=0)
    assert longest * cost <= TURN + cost + 1e-12
