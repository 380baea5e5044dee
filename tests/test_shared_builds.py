"""SharedBuilds: one build per key at a time, its outcome shared by the requests that
arrived while it ran, and nothing kept after (pure asyncio; no clock, no network)."""

from __future__ import annotations

import asyncio

import pytest

from tether.monitor._shared import SharedBuilds


def test_requests_during_a_build_share_it_and_a_later_request_builds_anew() -> None:
    """Five requests while one build runs cost one build; the next request, after it,
    gets a fresh one."""

    async def main() -> None:
        shared: SharedBuilds[str, int] = SharedBuilds()
        release = asyncio.Event()
        made = []

        async def build() -> int:
            made.append(len(made))
            await release.wait()
            return len(made)

        waiters = [asyncio.create_task(shared.get("status", build)) for _ in range(5)]
        await asyncio.sleep(0)
        release.set()
        assert await asyncio.gather(*waiters) == [1] * 5
        assert shared.builds == 1
        assert await shared.get("status", build) == 2
        assert shared.builds == 2

    asyncio.run(main())


def test_keys_build_apart_and_a_failure_reaches_every_waiter() -> None:
    """Two keys are two builds; a build that raises raises in every request that shared it."""

    async def main() -> None:
        shared: SharedBuilds[str, int] = SharedBuilds()
        release = asyncio.Event()

        async def fails() -> int:
            await release.wait()
            raise ValueError("the store is gone")

        async def works() -> int:
            await release.wait()
            return 7

        bad = [asyncio.create_task(shared.get("a", fails)) for _ in range(3)]
        good = asyncio.create_task(shared.get("b", works))
        await asyncio.sleep(0)
        release.set()
        for task in bad:
            with pytest.raises(ValueError, match="the store is gone"):
                await task
        assert await good == 7
        assert shared.builds == 2

    asyncio.run(main())


def test_a_request_that_goes_away_leaves_the_build_to_the_others() -> None:
    """The first request is cancelled (its client went away): the build goes on and the
    request that shared it still gets the document."""

    async def main() -> None:
        shared: SharedBuilds[str, str] = SharedBuilds()
        release = asyncio.Event()

        async def build() -> str:
            await release.wait()
            return "document"

        first = asyncio.create_task(shared.get("status", build))
        second = asyncio.create_task(shared.get("status", build))
        await asyncio.sleep(0)
        first.cancel()
        await asyncio.sleep(0)
        release.set()
        assert await second == "document"
        with pytest.raises(asyncio.CancelledError):
            await first
        assert shared.builds == 1

    asyncio.run(main())
