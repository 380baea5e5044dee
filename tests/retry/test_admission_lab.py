"""Bulkheads and throttling end to end against the fault lab: the bulkhead against a slow
drip (threads with requests, tasks with aiohttp), the adaptive limit against a server
whose latency grows with its load, the throttle against a server that answers 503, and
each integration raising its library's own error for both."""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
import pytest
import requests

import tether
from tests.helpers.clients import CLIENTS, Client
from tests.helpers.polls import until, until_async
from tether.integrations.aiohttp import session as aiohttp_session
from tether.lab import Lab

BOUND = 10.0


def _endpoint(lab: Lab, name: str) -> str:
    return f"{lab[name].host}:{lab[name].port}"


def test_requests_bulkhead_against_a_slow_drip(lab: Lab) -> None:
    """limit=2, queue=1, threads: two attempts hold their slots on the drip, a third
    waits, a fourth fails at once with bulkhead.full (a requests.ConnectionError); when
    the first two are cut by the total timeout, the third gets its slot and runs."""
    url = lab["slow_drip"].url
    policy = tether.RetryPolicy(
        attempts=1,
        total=1.0,
        bulkhead=tether.Bulkhead(limit=2, queue=1, queue_timeout=BOUND),
    )
    session = tether.Session(policy=policy)
    guard = session.guard

    def state() -> tether.LimitState:
        s = guard.limit(url)
        assert s is not None
        return s

    def get() -> BaseException | None:
        try:
            session.get(url)
        except requests.RequestException as exc:
            return exc
        return None

    with ThreadPoolExecutor(3) as pool:
        holders = [pool.submit(get), pool.submit(get)]
        until(lambda: state().in_flight == 2)
        waiter = pool.submit(get)
        until(lambda: state().queued == 1)
        with pytest.raises(requests.ConnectionError) as caught:
            session.get(url)
        assert state().queued == 1  # refused while the third still waited
        outcomes = [f.result(BOUND) for f in (*holders, waiter)]
    assert isinstance(caught.value, tether.BulkheadFullError)
    assert caught.value.failure.kind == tether.Kind.BULKHEAD_FULL  # type: ignore[attr-defined]
    assert "(2 in flight, 1 of 1 queued)" in str(caught.value)
    kinds = [getattr(e, "failure", None) and e.failure.kind for e in outcomes]  # type: ignore[union-attr]
    assert kinds == [tether.Kind.READ_TIMEOUT] * 3  # the third ran, after its wait
    assert state() == tether.LimitState(_endpoint(lab, "slow_drip"), 2, 0, 0)
    session.close()


def test_aiohttp_bulkhead_against_a_slow_drip_with_cancellations(lab: Lab) -> None:
    """The same with aiohttp tasks; then cancelling the queued task and one holder (as a
    caller's own timeout would) leaves one slot held, and nothing once all are done."""
    url = lab["slow_drip"].url
    policy = tether.RetryPolicy(
        attempts=1, total=BOUND, bulkhead=tether.Bulkhead(limit=2, queue=1, queue_timeout=BOUND)
    )

    async def main() -> None:
        async with aiohttp_session(policy) as s:
            guard = s.guard

            def state() -> tether.LimitState:
                found = guard.limit(url)
                assert found is not None
                return found

            async def get() -> None:
                async with s.get(url) as response:
                    await response.read()

            holders = [asyncio.create_task(get()) for _ in range(2)]
            await until_async(lambda: state().in_flight == 2)
            waiter = asyncio.create_task(get())
            await until_async(lambda: state().queued == 1)
            with pytest.raises(aiohttp.ClientConnectionError) as caught:
                await get()
            assert isinstance(caught.value, tether.BulkheadFullError)
            waiter.cancel()
            holders[0].cancel()
            for task in (waiter, holders[0]):
                with pytest.raises(asyncio.CancelledError):
                    await task
            assert state() == tether.LimitState(_endpoint(lab, "slow_drip"), 2, 1, 0)
            holders[1].cancel()
            with pytest.raises(asyncio.CancelledError):
                await holders[1]
            assert state().in_flight == 0

    asyncio.run(main())


def test_adaptive_limit_against_a_server_whose_latency_grows_with_load(lab: Lab) -> None:
    """32 concurrent callers against 4 workers of 10 ms: the adaptive limit, started at
    16, falls and stays below its start; the requests on the wire (counted by aiohttp's
    own tracing) never outnumber the slots held, nor these the limit."""
    url = lab["load_latency"].url
    policy = tether.RetryPolicy(
        deadline=60,
        bulkhead=tether.Bulkhead(limit=16, queue=64, queue_timeout=30, adaptive=tether.Adaptive()),
    )
    wire = [0]
    seen: list[tuple[int, int, int]] = []  # (on the wire, slots held, limit) at each start

    async def main() -> tether.LimitState:
        trace = aiohttp.TraceConfig()

        async def started(*_: Any) -> None:
            wire[0] += 1
            state = guard.limit(url)
            assert state is not None
            seen.append((wire[0], state.in_flight, state.limit))

        async def ended(*_: Any) -> None:
            wire[0] -= 1

        trace.on_request_start.append(started)
        trace.on_request_end.append(ended)
        trace.on_request_exception.append(ended)
        async with aiohttp_session(policy, trace_configs=[trace]) as s:
            guard = s.guard

            async def caller() -> None:
                for _ in range(10):
                    async with s.get(url) as response:
                        assert response.status == 200

            await asyncio.gather(*(caller() for _ in range(32)))
            final = guard.limit(url)
            assert final is not None
            return final

    final = asyncio.run(main())
    assert final.limit < 16
    assert final.in_flight == final.queued == 0
    assert len(seen) == 320
    assert all(on_wire <= held for on_wire, held, _ in seen)  # every request holds a slot
    # A slot is granted only under the limit (test_admission_queue's property); a cut made
    # as another answer returns (a tenth at most, so 2 slots here) applies to later grants.
    assert all(held <= limit + 2 for _, held, limit in seen)
    assert max(limit for _, _, limit in seen[160:]) < 16


def test_throttle_against_a_server_that_answers_503(lab: Lab) -> None:
    """After a few 503s, calls are dropped here with throttle.rejected (a
    requests.ConnectionError) and the server sees far fewer requests than were made;
    each drop is counted as a request."""
    url = lab["http_503"].url
    policy = tether.RetryPolicy(
        throttle=tether.Throttle(k=2), breaker=None, rand=random.Random(27).random
    )
    reached = [0]
    outcomes: list[str] = []
    with tether.Session(policy=policy) as session:
        session.hooks["response"].append(lambda r, *a, **k: reached.__setitem__(0, reached[0] + 1))
        for _ in range(40):
            try:
                outcomes.append(str(session.get(url).status_code))
            except tether.ThrottledError as exc:
                is_requests_error = isinstance(exc, requests.ConnectionError)
                outcomes.append("dropped" if is_requests_error else "not a requests error")
        state = session.guard.throttling(url)
    assert outcomes[:2] == ["503", "503"]
    assert outcomes.count("503") == reached[0]
    assert 2 <= reached[0] <= 12
    assert outcomes.count("dropped") == 40 - reached[0]
    assert state is not None
    assert (state.requests, state.accepts) == (40, 0)
    assert state.probability == 40 / 41


@pytest.mark.parametrize("client", CLIENTS, ids=repr)
def test_each_integration_raises_its_librarys_error_for_local_refusals(
    lab: Lab, client: Client
) -> None:
    """A full bulkhead and a throttle drop are, in every integration, both tether's error
    and the library's connection error (the one an open circuit raises)."""
    url = lab["healthy"].url
    full = tether.Guard(tether.RetryPolicy(bulkhead=tether.Bulkhead(limit=1, queue=0)))
    assert full.limits is not None
    slot = full.limits.at(_endpoint(lab, "healthy"))
    assert slot.acquire_sync(0.0, False) is None  # held here, as by another call
    with pytest.raises(client.circuit_error) as caught:
        client.send(full.policy, "GET", url, guard=full)
    assert isinstance(caught.value, tether.BulkheadFullError)
    slot.release()
    assert client.send(full.policy, "GET", url, guard=full)[0] == 200

    dropping = tether.Guard(tether.RetryPolicy(throttle=tether.Throttle(), rand=lambda: 0.0))
    assert dropping.limits is not None
    window = dropping.limits.at(_endpoint(lab, "healthy")).throttle
    assert window is not None
    window.record(dropping.policy.clock(), accepted=False)
    with pytest.raises(client.circuit_error) as dropped:
        client.send(dropping.policy, "GET", url, guard=dropping)
    assert isinstance(dropped.value, tether.ThrottledError)
