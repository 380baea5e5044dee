"""A loop over many items that gives the event loop a turn every few milliseconds of
work: the one home of the turn, for every part of the monitor that walks thousands of
items on its event loop (the cluster's membership reading a wave of location states,
the worker fleet reading frames)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Final, TypeVar

__all__ = ["TURN", "in_turns"]

T = TypeVar("T")

TURN: Final = 0.005
"""Seconds of work a loop over many items does before it gives the event loop a turn."""


async def in_turns(
    items: Iterable[T], turn: float = TURN, clock: Callable[[], float] = time.monotonic
) -> AsyncIterator[T]:
    """``items``, one by one, giving the event loop a turn every ``turn`` seconds of the
    caller's work on them: requests, signals and checks wait for no more than that."""
    until = clock() + turn
    for item in items:
        yield item
        if clock() >= until:
            await asyncio.sleep(0)
            until = clock() + turn
