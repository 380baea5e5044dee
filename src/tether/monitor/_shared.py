"""One build shared by the requests that ask for it while it runs (Go's singleflight).

A status document of 20,000 monitors costs tens of milliseconds of CPU; a hundred
clients polling at once would cost a hundred of them, on a machine whose event loop
also probes.  :class:`SharedBuilds` runs one build per key at a time and hands its
result, or its exception, to every request that arrived while it ran.  Nothing is kept
after: a request that arrives after a build ended starts a new one, so no document is
older than the request that gets it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["SharedBuilds"]

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class SharedBuilds(Generic[K, T]):
    """At most one build in flight per key; every request for the key while it runs
    gets its outcome."""

    def __init__(self) -> None:
        self._running: dict[K, asyncio.Task[T]] = {}
        self.builds = 0
        """How many builds were started (for the tests)."""

    async def get(self, key: K, build: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """``build()``'s result for ``key``, from the build in flight if there is one.
        The build is a task of its own: a request that goes away (cancelled) leaves it
        running for the others."""
        running = self._running.get(key)
        if running is None:
            running = asyncio.get_running_loop().create_task(build())
            self._running[key] = running
            self.builds += 1
            running.add_done_callback(lambda task: self._ended(key, task))
        return await asyncio.shield(running)

    def _ended(self, key: K, task: asyncio.Task[T]) -> None:
        del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved here: when every waiter went away, nobody else would
