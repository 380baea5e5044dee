"""gRPC hedging (issue 71 §2): ``AsyncRetryInterceptor`` races a second attempt beside a slow
first one for the methods named idempotent, through tether's one hedging race (gRPC's
proposal A6), and never for any other method; counted at grpcio's own server on loopback.
The hedge timer is the policy's injected ``async_sleep``, which waits for the server to hold
the first attempt, never on the clock."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field

import grpc
import grpc.aio
import pytest

from tether import Hedge, HedgeDetails, RetryPolicy
from tether.integrations.grpc import AsyncRetryInterceptor, RetryInterceptor

GET = "/lab.Stock/Get"
PLACE = "/lab.Stock/Place"
WATCH = "/lab.Stock/Watch"
HEDGE_DELAY = 0.05


@dataclass
class Stalls:
    """Each method's first call is held until it is cancelled or ``release`` is set; any
    later call is answered at once."""

    calls: dict[str, int] = field(default_factory=lambda: {GET: 0, PLACE: 0, WATCH: 0})
    first_seen: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    cancelled: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def server() -> Iterator[tuple[str, Stalls]]:
    state = Stalls()

    def handler(method: str) -> grpc.RpcMethodHandler:
        def answer(request: bytes, context: grpc.ServicerContext) -> bytes:
            with state.lock:
                state.calls[method] += 1
                first = state.calls[method] == 1
            if first:
                context.add_callback(state.cancelled.set)
                state.first_seen.set()
                while context.is_active() and not state.release.wait(0.01):
                    pass
                return b"slow:" + request
            return b"fast:" + request

        return grpc.unary_unary_rpc_method_handler(answer)

    def watch(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        with state.lock:
            state.calls[WATCH] += 1
            first = state.calls[WATCH] == 1
        if first:  # held before its first message
            context.add_callback(state.cancelled.set)
            state.first_seen.set()
            while context.is_active() and not state.release.wait(0.01):
                pass
            yield b"slow"
            return
        yield from (b"fast1", b"fast2")

    handlers = grpc.method_handlers_generic_handler(
        "lab.Stock",
        {
            "Get": handler(GET),
            "Place": handler(PLACE),
            "Watch": grpc.unary_stream_rpc_method_handler(watch),
        },
    )
    made = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    made.add_generic_rpc_handlers((handlers,))
    port = made.add_insecure_port("127.0.0.1:0")
    made.start()
    yield f"127.0.0.1:{port}", state
    state.release.set()
    made.stop(None).wait(5)


def _policy(state: Stalls, timers: list[float], **changes: object) -> RetryPolicy:
    async def sleep(delay: float) -> None:
        timers.append(delay)
        if delay <= HEDGE_DELAY:  # the hedge timer: out once the server holds the first
            await asyncio.to_thread(state.first_seen.wait, 5)
        else:  # the call's deadline: cancelled when the call ends
            await asyncio.Event().wait()

    return RetryPolicy(
        attempts=3,
        deadline=30,
        async_sleep=sleep,
        hedge=Hedge(delay=HEDGE_DELAY, max_attempts=2),
        **changes,  # type: ignore[arg-type]
    )


async def _call(target: str, interceptor: AsyncRetryInterceptor, method: str) -> bytes:
    async with grpc.aio.insecure_channel(target, interceptors=[interceptor]) as channel:
        return await channel.unary_unary(method)(b"x", timeout=10)  # type: ignore[no-any-return]


def test_an_idempotent_method_is_hedged_and_the_slow_attempt_cancelled(
    server: tuple[str, Stalls],
) -> None:
    """The first Get is held; the hedge goes when the delay passes, its answer wins, and the
    held attempt is cancelled at the server."""
    target, state = server
    timers: list[float] = []
    hedges: list[HedgeDetails] = []
    policy = _policy(state, timers, on_hedge=hedges.append)
    interceptor = AsyncRetryInterceptor(policy, target=target, idempotent={GET})
    assert asyncio.run(_call(target, interceptor, GET)) == b"fast:x"
    assert state.calls[GET] == 2
    assert [h.attempt for h in hedges] == [2]
    assert hedges[0].endpoint == target
    assert state.cancelled.wait(5)  # the loser's RPC was cancelled, not left to run


def test_a_method_not_named_idempotent_is_never_sent_twice(server: tuple[str, Stalls]) -> None:
    """Place is not named idempotent: one attempt, however long it takes; the hedge timer
    never starts, and the server counts one call."""
    target, state = server
    timers: list[float] = []
    hedges: list[HedgeDetails] = []
    policy = _policy(state, timers, on_hedge=hedges.append)
    interceptor = AsyncRetryInterceptor(policy, target=target, idempotent={GET})

    async def main() -> bytes:
        task = asyncio.ensure_future(_call(target, interceptor, PLACE))
        await asyncio.to_thread(state.first_seen.wait, 5)
        await asyncio.sleep(0)  # a hedge timer, had one started, would have run by now
        state.release.set()
        return await task

    assert asyncio.run(main()) == b"slow:x"
    assert state.calls[PLACE] == 1
    assert timers == []
    assert hedges == []


def test_an_idempotent_server_stream_is_hedged_until_its_first_message(
    server: tuple[str, Stalls],
) -> None:
    """A unary-stream call held before its first message: the hedge's stream wins, the
    caller reads all of it, and the held attempt is cancelled at the server."""
    target, state = server
    timers: list[float] = []
    hedges: list[HedgeDetails] = []
    policy = _policy(state, timers, on_hedge=hedges.append)
    retrying = AsyncRetryInterceptor(policy, target=target, idempotent={WATCH})

    async def main() -> list[bytes]:
        async with grpc.aio.insecure_channel(
            target, interceptors=[retrying, *retrying.streams]
        ) as channel:
            return [m async for m in channel.unary_stream(WATCH)(b"x", timeout=10)]

    assert asyncio.run(main()) == [b"fast1", b"fast2"]
    assert state.calls[WATCH] == 2
    assert [h.attempt for h in hedges] == [2]
    assert state.cancelled.wait(5)


def test_retry_unsafe_does_not_make_a_hedge_of_every_method() -> None:
    """retry_unsafe says any method may be retried after a failure; a hedge sends a method
    twice while the first may still be running, so it is refused with the hedge, with one
    readable error naming the way to say which methods may be hedged."""
    policy = RetryPolicy(hedge=Hedge(delay=0.1), retry_unsafe=True)
    for make in (RetryInterceptor, AsyncRetryInterceptor):
        with pytest.raises(ValueError, match="idempotent="):
            make(policy)


def test_the_sync_interceptor_does_not_hedge(server: tuple[str, Stalls]) -> None:
    """The sync channel's stubs block in each attempt, so RetryInterceptor does not hedge
    (as the docs say), even an idempotent method: the held Get is answered, once."""
    target, state = server
    hedges: list[HedgeDetails] = []
    policy = RetryPolicy(
        attempts=3, deadline=30, hedge=Hedge(delay=HEDGE_DELAY), on_hedge=hedges.append
    )
    interceptor = RetryInterceptor(policy, target=target, idempotent={GET})

    def release_once_held() -> None:
        state.first_seen.wait(5)
        state.release.set()

    helper = threading.Thread(target=release_once_held)
    helper.start()
    with grpc.insecure_channel(target) as plain:
        channel = grpc.intercept_channel(plain, interceptor)
        assert channel.unary_unary(GET)(b"x", timeout=10) == b"slow:x"
    helper.join()
    assert state.calls[GET] == 1
    assert hedges == []
