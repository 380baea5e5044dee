"""``RetryPolicy.total`` as the per-attempt timeout of ``@tether.retry`` on coroutine
functions: an attempt it cuts is ``read.timeout`` and retried; one the deadline cuts is
``deadline.exceeded`` and ends the call.

The cuts are real ``asyncio.timeout`` timers of a few tens of milliseconds (what is
tested is that a timer fires); the waits between attempts go to a fake clock.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

import tether
from tests.helpers.fakes import Recorder
from tether import Kind, RetryPolicy
from tether.lab import Lab

LIMIT = 10.0
"""A bound on each test, far above what it should take, so that a missing timer fails
the test rather than hanging it."""


def test_total_cuts_each_attempt_and_it_is_retried() -> None:
    """Each attempt that outlives total is cut, classified read.timeout and retried, up
    to the attempts; the last TimeoutError is raised with .failure and tether's note."""
    r = Recorder(total=0.05)
    started: list[float] = []

    @tether.retry(policy=r.policy)
    async def hangs() -> None:
        started.append(time.monotonic())
        await asyncio.Event().wait()

    async def main() -> None:
        await asyncio.wait_for(hangs(), LIMIT)

    with pytest.raises(TimeoutError) as caught:
        asyncio.run(main())
    assert len(started) == 3
    assert [d.failure.kind for d in r.retries] == [Kind.READ_TIMEOUT] * 2
    failure = caught.value.failure  # type: ignore[attr-defined]
    assert failure.kind is Kind.READ_TIMEOUT
    assert failure.detail == "no complete answer within the attempt's 0.05 s total timeout"
    assert caught.value.__notes__[0].startswith("tether: hangs() failed after 3 attempts")


def test_a_later_attempt_that_answers_in_time_wins() -> None:
    """A cut attempt is retried, and the retry's answer is the call's."""
    r = Recorder(total=0.05)
    attempts: list[int] = []

    @tether.retry(policy=r.policy)
    async def second_is_quick() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            await asyncio.Event().wait()
        return "ok"

    assert asyncio.run(asyncio.wait_for(second_is_quick(), LIMIT)) == "ok"
    assert len(attempts) == 2
    assert r.retries[0].failure.kind is Kind.READ_TIMEOUT


def test_the_deadline_cuts_the_attempt_and_ends_the_call() -> None:
    """total is cut to what the deadline leaves; cut by the deadline, the call ends with
    deadline.exceeded after that one attempt, not retried."""
    give_ups: list[tether.GiveUpDetails] = []
    policy = RetryPolicy(total=5.0, deadline=0.1, on_give_up=give_ups.append)
    attempts: list[int] = []

    @tether.retry(policy=policy)
    async def hangs() -> None:
        attempts.append(1)
        await asyncio.Event().wait()

    started = time.monotonic()
    with pytest.raises(TimeoutError) as caught:
        asyncio.run(asyncio.wait_for(hangs(), LIMIT))
    assert time.monotonic() - started < 2.0
    assert attempts == [1]
    assert caught.value.failure.kind is Kind.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
    assert give_ups[0].failure.detail.startswith("no complete answer within the call's 0.1 s")


def test_a_timeout_the_callable_raises_itself_is_not_tethers() -> None:
    """A TimeoutError the function raises on its own, with time left, is classified as
    what it is, not as a cut by tether's timer."""
    r = Recorder(total=5.0, attempts=1)

    @tether.retry(policy=r.policy)
    async def own() -> None:
        raise TimeoutError("the client's own timer")

    with pytest.raises(TimeoutError) as caught:
        asyncio.run(own())
    assert "total timeout" not in caught.value.failure.detail  # type: ignore[attr-defined]


def test_total_cuts_a_request_to_a_silent_server(lab: Lab) -> None:
    """End to end: an httpx request with no timeout of its own to a server that never
    answers is cut by total, retried, and ends as read.timeout."""
    r = Recorder(total=0.1, attempts=2)

    @tether.retry(policy=r.policy)
    async def fetch(url: str) -> int:
        async with httpx.AsyncClient(timeout=None) as client:
            return (await client.get(url)).status_code

    with pytest.raises(TimeoutError) as caught:
        asyncio.run(asyncio.wait_for(fetch(lab["stall_headers"].url), LIMIT))
    assert caught.value.failure.kind is Kind.READ_TIMEOUT  # type: ignore[attr-defined]
    assert [d.failure.kind for d in r.retries] == [Kind.READ_TIMEOUT]
