"""The bulkhead's runtime around decorated functions (no network): slots per endpoint, the
queue and its bound, waits that time out or are cancelled, threads and event loops
sharing one guard, and slots never held across a backoff wait."""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

import tether
from tests.helpers.polls import until, until_async
from tether._retry._loop import Call

BOUND = 10.0
"""Seconds any wait in these tests may take at most before the test fails."""


def _blocking(policy: tether.RetryPolicy) -> tuple[Callable[[], str], threading.Event, list[int]]:
    """A decorated function that holds its slot until ``release`` is set."""
    release = threading.Event()
    entered: list[int] = []

    @tether.retry(policy=policy, endpoint="db")
    def work() -> str:
        entered.append(1)
        assert release.wait(BOUND)
        return "done"

    return work, release, entered


def test_two_in_flight_one_queued_and_the_fourth_refused_at_once() -> None:
    """limit=2, queue=1: two calls run, a third waits, a fourth fails at once with
    bulkhead.full, naming the limit and the numbers; the third runs once a slot frees."""
    policy = tether.RetryPolicy(bulkhead=tether.Bulkhead(limit=2, queue=1, queue_timeout=BOUND))
    work, release, entered = _blocking(policy)
    guard = work.guard  # type: ignore[attr-defined]
    with ThreadPoolExecutor(3) as pool:
        running = [pool.submit(work), pool.submit(work)]
        until(lambda: len(entered) == 2)
        queued = pool.submit(work)
        until(lambda: guard.limit("db").queued == 1)
        assert guard.limit("db") == tether.LimitState("db", limit=2, in_flight=2, queued=1)
        with pytest.raises(tether.BulkheadFullError) as caught:
            work()
        assert len(entered) == 2  # neither the refused call nor the queued one ran
        release.set()
        assert [f.result(BOUND) for f in (*running, queued)] == ["done"] * 3
    failure = caught.value.failure
    assert failure is not None
    assert failure.kind == tether.Kind.BULKHEAD_FULL
    assert failure.detail == (
        "the limit of 2 calls in flight to db is reached and its queue is full "
        "(2 in flight, 1 of 1 queued); no request was sent"
    )
    assert str(caught.value).startswith("work() was not sent: concurrency limit reached")
    assert isinstance(caught.value, ConnectionError)
    assert guard.limit("db") == tether.LimitState("db", limit=2, in_flight=0, queued=0)


def test_waiters_are_served_first_come_first_served() -> None:
    """Threads queued one after another get the slot in that order."""
    policy = tether.RetryPolicy(bulkhead=tether.Bulkhead(limit=1, queue=5, queue_timeout=BOUND))
    order: list[int] = []
    gates = [threading.Event() for _ in range(4)]

    @tether.retry(policy=policy, endpoint="db")
    def work(n: int) -> None:
        order.append(n)
        assert gates[n].wait(BOUND)

    guard = work.guard  # type: ignore[attr-defined]
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(work, 0)]
        until(lambda: order == [0])
        for n in (1, 2, 3):
            futures.append(pool.submit(work, n))
            until(lambda n=n: guard.limit("db").queued == n)  # type: ignore[misc]
        for gate in gates:
            gate.set()
        for f in futures:
            f.result(BOUND)
    assert order == [0, 1, 2, 3]


def test_a_wait_past_the_queue_timeout_fails_with_bulkhead_full() -> None:
    """A thread that waits queue_timeout without a slot gives up, saying it waited, and
    leaves the queue; the slot count is untouched."""
    policy = tether.RetryPolicy(bulkhead=tether.Bulkhead(limit=1, queue=1, queue_timeout=0.02))
    work, release, _ = _blocking(policy)
    guard = work.guard  # type: ignore[attr-defined]
    with ThreadPoolExecutor(1) as pool:
        holder = pool.submit(work)
        until(lambda: guard.limit("db").in_flight == 1)
        with pytest.raises(tether.BulkheadFullError) as caught:
            work()
        assert guard.limit("db") == tether.LimitState("db", 1, 1, 0)
        release.set()
        holder.result(BOUND)
    assert caught.value.failure is not None
    assert caught.value.failure.detail.startswith(
        "no slot of the 1 for calls in flight to db came free within 0.02 s "
        "(the bulkhead's queue_timeout; 1 in flight, 1 queued)"
    )


def test_the_wait_never_passes_the_deadline() -> None:
    """With less of the deadline left than queue_timeout, the wait is cut to it, and the
    failure says so."""
    policy = tether.RetryPolicy(
        deadline=0.02, bulkhead=tether.Bulkhead(limit=1, queue=1, queue_timeout=BOUND)
    )
    work, release, _ = _blocking(policy)
    guard = work.guard  # type: ignore[attr-defined]
    with ThreadPoolExecutor(1) as pool:
        holder = pool.submit(work)
        until(lambda: guard.limit("db").in_flight == 1)
        with pytest.raises(tether.BulkheadFullError, match="what the call's deadline left"):
            work()
        release.set()
        holder.result(BOUND)


def test_no_slot_is_held_across_the_wait_between_attempts() -> None:
    """While the policy waits before a retry, the failed attempt's slot is free."""
    seen: list[int] = []
    guard_box: list[tether.Guard] = []

    def sleep(_delay: float) -> None:
        seen.append(guard_box[0].limit("db").in_flight)  # type: ignore[union-attr]

    policy = tether.RetryPolicy(
        attempts=3, sleep=sleep, bulkhead=tether.Bulkhead(limit=1, queue=0), budget=None
    )

    @tether.retry(policy=policy, endpoint="db")
    def flaky() -> None:
        assert guard_box[0].limit("db").in_flight == 1  # type: ignore[union-attr]
        raise ConnectionResetError("reset")

    guard_box.append(flaky.guard)  # type: ignore[attr-defined]
    with pytest.raises(ConnectionResetError):
        flaky()
    assert seen == [0, 0]
    assert guard_box[0].limit("db") == tether.LimitState("db", 1, 0, 0)


def test_an_interrupted_attempt_frees_its_slot() -> None:
    """A BaseException out of the attempt (KeyboardInterrupt, a cancellation) frees the
    slot: the next call runs at once."""
    policy = tether.RetryPolicy(bulkhead=tether.Bulkhead(limit=1, queue=0))
    calls: list[int] = []

    @tether.retry(policy=policy, endpoint="db")
    def work() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return len(calls)

    with pytest.raises(KeyboardInterrupt):
        work()
    assert work() == 2


def test_async_waiters_queue_and_a_cancelled_one_holds_nothing() -> None:
    """On an event loop: two coroutines hold the slots, a third waits, a fourth is
    refused; cancelling the waiter takes it out of the queue, cancelling a holder frees
    its slot for a newcomer, and at the end nothing is held."""
    policy = tether.RetryPolicy(bulkhead=tether.Bulkhead(limit=2, queue=1, queue_timeout=BOUND))

    async def main() -> None:
        release = asyncio.Event()

        @tether.retry(policy=policy, endpoint="db")
        async def work() -> str:
            await release.wait()
            return "done"

        guard: tether.Guard = work.guard  # type: ignore[attr-defined]

        def state() -> tether.LimitState:
            s = guard.limit("db")
            assert s is not None
            return s

        holders = [asyncio.create_task(work()) for _ in range(2)]
        await until_async(lambda: state().in_flight == 2)
        waiter = asyncio.create_task(work())
        await until_async(lambda: state().queued == 1)
        with pytest.raises(tether.BulkheadFullError):
            await work()
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert state() == tether.LimitState("db", 2, 2, 0)
        holders[0].cancel()
        with pytest.raises(asyncio.CancelledError):
            await holders[0]
        assert state().in_flight == 1
        newcomer = asyncio.create_task(work())
        await until_async(lambda: state().in_flight == 2)
        release.set()
        assert await holders[1] == await newcomer == "done"
        assert state() == tether.LimitState("db", 2, 0, 0)

    asyncio.run(main())


def test_an_async_wait_past_the_queue_timeout_fails_and_leaves_the_queue() -> None:
    """A coroutine that waits queue_timeout gives up with bulkhead.full."""
    policy = tether.RetryPolicy(bulkhead=tether.Bulkhead(limit=1, queue=1, queue_timeout=0.02))

    async def main() -> None:
        release = asyncio.Event()

        @tether.retry(policy=policy, endpoint="db")
        async def work() -> None:
            await release.wait()

        guard: tether.Guard = work.guard  # type: ignore[attr-defined]
        holder = asyncio.create_task(work())
        await until_async(lambda: guard.limit("db").in_flight == 1)  # type: ignore[union-attr]
        with pytest.raises(tether.BulkheadFullError, match=r"came free within 0\.02 s"):
            await work()
        assert guard.limit("db") == tether.LimitState("db", 1, 1, 0)
        release.set()
        await holder

    asyncio.run(main())


def test_a_thread_and_an_event_loop_share_one_guard() -> None:
    """A coroutine queued behind a thread's attempt is woken, on its own loop, when the
    thread frees the slot; and a thread queued behind a coroutine is woken by it."""
    policy = tether.RetryPolicy(bulkhead=tether.Bulkhead(limit=1, queue=1, queue_timeout=BOUND))
    guard = tether.Guard(policy)
    thread_release = threading.Event()
    order: list[str] = []

    @tether.retry(guard=guard, endpoint="db")
    def in_thread(name: str) -> None:
        order.append(name)
        assert thread_release.wait(BOUND)

    async def main() -> None:
        loop_release = asyncio.Event()

        @tether.retry(guard=guard, endpoint="db")
        async def on_loop(name: str) -> None:
            order.append(name)
            await loop_release.wait()

        def state() -> tether.LimitState:
            s = guard.limit("db")
            assert s is not None
            return s

        with ThreadPoolExecutor(1) as pool:
            first: Future[None] = pool.submit(in_thread, "thread 1")
            await until_async(lambda: state().in_flight == 1)
            second = asyncio.create_task(on_loop("loop 1"))
            await until_async(lambda: state().queued == 1)
            thread_release.set()
            first.result(BOUND)
            await until_async(lambda: order == ["thread 1", "loop 1"])
            thread_release.clear()
            third = pool.submit(in_thread, "thread 2")
            await until_async(lambda: state().queued == 1)
            loop_release.set()
            await second
            thread_release.set()
            await asyncio.wrap_future(third)
        assert order == ["thread 1", "loop 1", "thread 2"]
        assert state() == tether.LimitState("db", 1, 0, 0)

    asyncio.run(main())


def test_no_limits_without_a_bulkhead_or_a_throttle() -> None:
    """The default policy makes no limits: the loop's one test (``call.limits is None``)
    is all it pays, and the guard reports none."""
    guard = tether.Guard(tether.RetryPolicy())
    assert guard.limits is None
    assert guard.limit("db") is None
    assert guard.throttling("db") is None
    assert Call(guard.policy, "GET", "http://127.0.0.1:1/", guard=guard).limits is None


def test_a_first_attempt_after_a_wait_gets_what_the_deadline_leaves() -> None:
    """The first attempt's timeouts are cut to what is left of the deadline once the call
    has waited for its slot (without a bulkhead they are the policy's, computed once)."""
    now = [100.0]
    policy = tether.RetryPolicy(
        deadline=10, clock=lambda: now[0], bulkhead=tether.Bulkhead(limit=1)
    )
    guard = tether.Guard(policy)
    call = Call(policy, "GET", "http://127.0.0.1:1/", guard=guard)
    now[0] += 4  # the wait for a slot, as the clock saw it
    assert call.begin_sync() is None
    assert call.timeouts() == tether.Timeouts(connect=5.0, read=6.0, total=6.0)
    call.abandon()
    assert guard.limit("127.0.0.1:1") == tether.LimitState("127.0.0.1:1", 1, 0, 0)


def test_an_endless_queue_timeout_without_a_deadline_waits_for_a_slot() -> None:
    """queue_timeout=inf and no deadline: a waiter waits as long as it takes (no
    overflow of the thread's timer), and gets the slot."""
    policy = tether.RetryPolicy(
        deadline=None, bulkhead=tether.Bulkhead(limit=1, queue=1, queue_timeout=math.inf)
    )
    work, release, entered = _blocking(policy)
    guard = work.guard  # type: ignore[attr-defined]
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(work)
        until(lambda: len(entered) == 1)
        second = pool.submit(work)
        until(lambda: guard.limit("db").queued == 1)
        release.set()
        assert [first.result(BOUND), second.result(BOUND)] == ["done", "done"]
