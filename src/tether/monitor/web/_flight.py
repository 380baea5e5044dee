"""One build for concurrent identical requests (single flight).

In a mass outage the dashboards, the scripts polling ``/api/status`` and Prometheus ask
for the same documents while each one costs tens of milliseconds of CPU at 20,000
monitors; requests that arrive while an identical one is being built wait for that build
and get its answer, instead of each building its own (the CPU the probing loop waits for
grows with the builds, not with the requests).

What a waiting request gets is at most one build old: the build started, from the
runner's memory as it was then, after the request that started it arrived and before
this one did.  Nothing is kept once the build is done: the next request builds again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["Flights"]

T = TypeVar("T")


class Flights(Generic[T]):
    """The builds in flight, by what they build (``key``: the route and what in the
    request changes the answer).  Used on the event loop alone."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[T]] = {}
        self.builds = 0
        """How many builds were started (for the tests: one for requests that overlap)."""

    async def run(self, key: Hashable, build: Callable[[], Awaitable[T]]) -> T:
        """``build()``'s answer, shared with every call of the same ``key`` made while it
        runs; what it raises, it raises to each of them.  A caller that goes away (a
        client that disconnects) does not cancel the build the others wait for."""
        running = self._running.get(key)
        if running is None:
            running = asyncio.ensure_future(build())
            self.builds += 1
            self._running[key] = running
            running.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(running)

    def _forget(self, key: Hashable, done: asyncio.Future[T]) -> None:
        if self._running.get(key) is done:
            del self._running[key]
        if not done.cancelled():
            done.exception()  # retrieved: nobody left waiting is not an unretrieved error
