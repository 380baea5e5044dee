"""``@tether.retry(fallback=...)``: what a call returns when the policy gives up.

Failures are real exceptions raised in-process (the decorator classifies whatever the
callable raises) and one real refusal from the lab; waits go to a fake clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import requests

import tether
from tests.helpers.fakes import Recorder
from tether import Breaker, Failure, Kind
from tether._retry import _ended
from tether._retry._record import CallRecord
from tether.lab import Lab


def refused() -> None:
    raise ConnectionRefusedError(111, "Connection refused")


@pytest.fixture
def ended() -> Iterator[list[CallRecord]]:
    """The records of ended calls, in place of the reporter and meter while the test runs."""
    _ended.install(_ended.installed())  # set up first, so it does not happen mid-test
    records: list[CallRecord] = []
    saved = _ended.SINKS[:]
    _ended.SINKS[:] = [records.append]
    try:
        yield records
    finally:
        _ended.SINKS[:] = saved


def test_value_after_every_attempt_failed(ended: list[CallRecord]) -> None:
    """The value is returned once the attempts run out; the give-up hook still fired and
    the call is recorded as failed, with its kind."""
    r = Recorder()
    calls = []

    @tether.retry(policy=r.policy, fallback="cached")
    def fetch() -> str:
        calls.append(1)
        refused()
        return "fresh"

    assert fetch() == "cached"
    assert len(calls) == 3
    assert len(r.clock.slept) == 2
    assert [g.failure.kind for g in r.give_ups] == [Kind.CONNECT_REFUSED]
    assert [(e.kind, e.attempts) for e in ended] == [(Kind.CONNECT_REFUSED, 3)]


def test_callable_gets_the_failure_and_none_is_a_value() -> None:
    """A callable is called with the Failure; None is a fallback value, not 'no fallback'."""
    seen: list[Failure] = []

    @tether.retry(policy=Recorder().policy, fallback=lambda f: seen.append(f) or f.kind)
    def fetch() -> str:
        raise ValueError("not a network error")

    assert fetch() == seen[0].kind
    assert seen[0].cause is not None
    assert isinstance(seen[0].cause, ValueError)

    @tether.retry(policy=Recorder().policy, fallback=None)
    def nothing() -> str:
        refused()
        return "never"

    assert nothing() is None


def test_not_retryable_and_open_circuit_give_the_fallback() -> None:
    """Any give-up: a failure not worth a retry (one attempt), and a call stopped before its
    first attempt by an open circuit (the failure is circuit.open)."""
    r = Recorder(breaker=Breaker(failures=1, cooldown=60))
    kinds: list[Kind] = []

    @tether.retry(policy=r.policy, endpoint="db", fallback=lambda f: kinds.append(f.kind))
    def query() -> None:
        refused()

    query()
    query()
    assert kinds == [Kind.CONNECT_REFUSED, Kind.CIRCUIT_OPEN]
    assert [g.attempts for g in r.give_ups] == [1, 0]


def test_deadline_gives_the_fallback() -> None:
    """A call stopped because its next wait would pass the deadline gets the fallback,
    given the last attempt's failure; the give-up's reason says why it stopped."""
    r = Recorder(deadline=1.0, base=5.0, cap=5.0, jitter="none")
    got: list[Failure] = []

    @tether.retry(policy=r.policy, fallback=got.append)
    def fetch() -> None:
        refused()

    fetch()
    assert got[0].kind is Kind.CONNECT_REFUSED  # the last attempt's failure stands
    assert "would pass the deadline" in r.give_ups[0].reason


def test_async_fallback_for_a_coroutine_function() -> None:
    """For a coroutine function the fallback may be async (awaited) or plain."""
    r = Recorder()

    async def stale(failure: Failure) -> str:
        await asyncio.sleep(0)
        return f"stale ({failure.kind})"

    @tether.retry(policy=r.policy, fallback=stale)
    async def fetch() -> str:
        refused()
        return "fresh"

    @tether.retry(policy=r.policy, fallback="plain")
    async def other() -> str:
        refused()
        return "fresh"

    assert asyncio.run(fetch()) == "stale (connect.refused)"
    assert asyncio.run(other()) == "plain"


def test_success_is_untouched_and_cancellation_is_not_substituted() -> None:
    """A call that works returns its own value; a cancelled one is cancelled, not
    replaced by the fallback."""

    @tether.retry(policy=Recorder().policy, fallback="fallback")
    async def slow() -> str:
        await asyncio.Event().wait()
        return "never"

    @tether.retry(policy=Recorder().policy, fallback="fallback")
    def works() -> str:
        return "fresh"

    async def main() -> None:
        task = asyncio.create_task(slow())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    assert works() == "fresh"
    asyncio.run(main())


def test_misuse_is_refused_when_decorating() -> None:
    """An async fallback on a sync function, and any fallback on a generator function,
    are errors at decoration time, not a coroutine nobody awaits."""

    async def later(_f: Failure) -> str:
        return "x"

    with pytest.raises(TypeError, match="coroutine nobody awaits"):
        tether.retry(fallback=later)(lambda: None)

    def items() -> Iterator[int]:
        yield 1

    with pytest.raises(TypeError, match="generator function"):
        tether.retry(fallback=[])(items)


def test_fallback_against_the_lab(lab: Lab) -> None:
    """End to end: a refused port, three real attempts, then the fallback."""
    r = Recorder()

    @tether.retry(policy=r.policy, fallback=lambda f: f"offline: {f.kind}")
    def fetch(url: str) -> str:
        return requests.get(url, timeout=2).text

    assert fetch(lab["healthy"].url) == "ok\n"
    assert fetch(lab["refused"].url) == "offline: connect.refused"
    assert len(r.clock.slept) == 2
