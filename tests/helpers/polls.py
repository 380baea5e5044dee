"""Waiting for another thread's or task's progress: poll a condition every 5 ms, and fail
after a bound (a test waits on what it checks, never on a fixed sleep)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

BOUND = 10.0
STEP = 0.005


def until(condition: Callable[[], bool], bound: float = BOUND) -> None:
    """Return once ``condition()`` holds; AssertionError after ``bound`` seconds."""
    wake = threading.Event()
    for _ in range(int(bound / STEP)):
        if condition():
            return
        wake.wait(STEP)
    raise AssertionError("condition not reached")


async def until_async(condition: Callable[[], bool], bound: float = BOUND) -> None:
    """:func:`until`, yielding to the event loop between polls."""
    for _ in range(int(bound / STEP)):
        if condition():
            return
        await asyncio.sleep(STEP)
    raise AssertionError("condition not reached")
