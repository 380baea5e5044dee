"""Hedging end to end against the lab's ``stall_one_in_ten`` server, which holds every
tenth request it receives for longer than the calls' deadline.

Calls go one after another, so without hedging exactly one in ten stalls and runs out
of its deadline; with hedging every call gets its answer, and the stalled attempts'
connections are closed.  Counts are asserted, never durations.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator

import aiohttp
import httpx
import pytest

import tether
from tether.integrations.aiohttp import middleware, session
from tether.integrations.httpx import AsyncTransport
from tether.lab import Lab

CALLS = 20
STALL = 3.0
DEADLINE = 1.0
"""Shorter than the stall: a stalled call without a hedge runs out of it."""


@pytest.fixture(scope="module")
def stall_lab() -> Iterator[Lab]:
    with Lab(stall=STALL) as running:
        yield running


def policies() -> tuple[tether.RetryPolicy, tether.RetryPolicy, list[tether.HedgeDetails]]:
    hedges: list[tether.HedgeDetails] = []
    plain = tether.RetryPolicy(deadline=DEADLINE)
    hedged = plain.replace(hedge=tether.Hedge(delay=0.2), on_hedge=hedges.append)
    return plain, hedged, hedges


async def tally(call: Callable[[], Awaitable[int]]) -> tuple[int, int]:
    """``CALLS`` calls one after another: (answered 200, failed)."""
    ok = failed = 0
    for _ in range(CALLS):
        try:
            status = await call()
        except Exception:
            failed += 1
        else:
            ok += status == 200
    return ok, failed


def check(
    plain: tuple[int, int], hedged: tuple[int, int], hedges: list[tether.HedgeDetails]
) -> None:
    assert plain == (CALLS - CALLS // 10, CALLS // 10)
    assert hedged == (CALLS, 0)
    # each stalled request was hedged (a loaded machine may hedge a slow one more)
    assert len(hedges) >= CALLS // 10
    assert all(h.attempt == 2 and h.failure is None for h in hedges)


def test_httpx_async_transport_hedges_past_the_stall(stall_lab: Lab) -> None:
    """httpx's AsyncTransport: every hedged call answers; without hedging one in ten
    runs out of its deadline; no stalled request is left holding a connection."""
    url = stall_lab["stall_one_in_ten"].url
    plain, hedged, hedges = policies()

    async def run(policy: tether.RetryPolicy) -> tuple[tuple[int, int], list[bool]]:
        transport = AsyncTransport(policy=policy)
        async with httpx.AsyncClient(transport=transport) as client:
            counts = await tally(lambda: _status(client.get(url)))
            pool = transport._inner._pool  # type: ignore[attr-defined]
            busy = [not c.is_idle() for c in pool.connections if not c.is_closed()]
        return counts, busy

    without, _ = asyncio.run(run(plain))
    counts, busy = asyncio.run(run(hedged))
    check(without, counts, hedges)
    assert not any(busy)


async def _status(pending: Awaitable[httpx.Response]) -> int:
    return (await pending).status_code


def test_aiohttp_session_hedges_past_the_stall(stall_lab: Lab) -> None:
    """tether's aiohttp session: the same, with the stalled connections released."""
    url = stall_lab["stall_one_in_ten"].url
    plain, hedged, hedges = policies()

    async def run(policy: tether.RetryPolicy) -> tuple[tuple[int, int], int]:
        async with session(policy) as s:

            async def get() -> int:
                async with s.get(url) as response:
                    return response.status

            counts = await tally(get)
            connector = s.raw.connector
            assert connector is not None
            return counts, len(connector._acquired)

    without, _ = asyncio.run(run(plain))
    counts, acquired = asyncio.run(run(hedged))
    check(without, counts, hedges)
    assert acquired == 0


def test_aiohttp_middleware_hedges_past_the_stall(stall_lab: Lab) -> None:
    """tether's aiohttp middleware: aiohttp hands it one request, which it sends again
    beside itself; the same counts, and no connection left acquired."""
    url = stall_lab["stall_one_in_ten"].url
    plain, hedged, hedges = policies()

    async def run(policy: tether.RetryPolicy) -> tuple[tuple[int, int], int]:
        async with aiohttp.ClientSession(middlewares=[middleware(policy)]) as s:

            async def get() -> int:
                async with s.get(url) as response:
                    return response.status if await response.read() == b"ok\n" else 0

            counts = await tally(get)
            return counts, len(s.connector._acquired)  # type: ignore[union-attr]

    without, _ = asyncio.run(run(plain))
    counts, acquired = asyncio.run(run(hedged))
    check(without, counts, hedges)
    assert acquired == 0


def test_decorated_coroutine_hedges_past_the_stall(stall_lab: Lab) -> None:
    """@tether.retry on a coroutine: the deadline cancels a stalled attempt, a hedge
    answers in its place."""
    url = stall_lab["stall_one_in_ten"].url
    plain, hedged, hedges = policies()

    async def run(policy: tether.RetryPolicy) -> tuple[tuple[int, int], list[bool]]:
        async with httpx.AsyncClient(timeout=DEADLINE) as client:

            @tether.retry(policy=policy, endpoint="stall")
            async def fetch() -> int:
                return (await client.get(url)).status_code

            counts = await tally(fetch)
            pool = client._transport._pool  # type: ignore[attr-defined]
            busy = [not c.is_idle() for c in pool.connections if not c.is_closed()]
        return counts, busy

    without, _ = asyncio.run(run(plain))
    counts, busy = asyncio.run(run(hedged))
    check(without, counts, hedges)
    assert not any(busy)
