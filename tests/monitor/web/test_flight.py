"""Concurrent identical requests share one build (``_flight.Flights``, used by ``/``,
``/api/status`` and ``/metrics``), and nothing is kept once it is done."""

from __future__ import annotations

import asyncio

import pytest

from tether.monitor.web._flight import Flights


def test_requests_that_overlap_share_one_build_and_the_next_builds_again() -> None:
    """Three callers of one key while its build runs get its one answer; a caller after
    it finished builds again; another key builds its own."""

    async def main() -> None:
        flights: Flights[str] = Flights()
        release = asyncio.Event()
        made: list[str] = []

        async def build() -> str:
            made.append("x")
            n = len(made)
            await release.wait()
            return f"answer {n}"

        waiting = [asyncio.ensure_future(flights.run("k", build)) for _ in range(3)]
        other = asyncio.ensure_future(flights.run("other", build))
        await asyncio.sleep(0)
        release.set()
        assert await asyncio.gather(*waiting) == ["answer 1"] * 3
        assert await other == "answer 2"
        assert flights.builds == 2
        assert await flights.run("k", build) == "answer 3"
        assert flights.builds == 3

    asyncio.run(main())


def test_what_a_build_raises_reaches_every_caller() -> None:
    """A build that fails fails each request that waited for it, once."""

    async def main() -> None:
        flights: Flights[str] = Flights()
        release = asyncio.Event()

        async def build() -> str:
            await release.wait()
            raise LookupError("the history cannot be read")

        waiting = [asyncio.ensure_future(flights.run("k", build)) for _ in range(2)]
        await asyncio.sleep(0)
        release.set()
        for one in waiting:
            with pytest.raises(LookupError):
                await one
        assert flights.builds == 1

    asyncio.run(main())


def test_a_caller_that_goes_away_leaves_the_build_to_the_others() -> None:
    """The request that started a build is cancelled (its client went away): the build
    goes on and the request waiting for it gets its answer."""

    async def main() -> None:
        flights: Flights[str] = Flights()
        release = asyncio.Event()

        async def build() -> str:
            await release.wait()
            return "done"

        first = asyncio.ensure_future(flights.run("k", build))
        second = asyncio.ensure_future(flights.run("k", build))
        await asyncio.sleep(0)
        first.cancel()
        await asyncio.sleep(0)
        release.set()
        assert await second == "done"
        assert first.cancelled()
        assert flights.builds == 1

    asyncio.run(main())
