"""gRPC streaming calls through tether's interceptors (issue 71 §2): a unary-stream call is
retried until its first response message and never after; a stream-unary call is retried with
its request messages sent again, while they fit what is kept; against grpcio's own server on
loopback and the service lab's gRPC faults, with the waits injected."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent import futures
from dataclasses import dataclass, field

import grpc
import grpc.aio
import pytest

from tether import Hedge, Kind, RetryPolicy
from tether.integrations.grpc import AsyncRetryInterceptor, RetryInterceptor
from tether.lab._services import ServiceLab

LIST = "/lab.Stream/List"
"""Unary-stream: UNAVAILABLE before any message to its first ``fail_first`` calls; then
``before_break`` messages and, if ``break_after`` is set, UNAVAILABLE; else three messages."""
UPLOAD = "/lab.Stream/Upload"
"""Stream-unary: reads every request message, keeps them, UNAVAILABLE to its first
``fail_first`` calls, else answers them joined."""


@dataclass
class Streams:
    fail_first: int = 2
    break_after: int | None = None
    calls: int = 0
    received: list[list[bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> bool:
        """Count a call; True if it is one to fail."""
        with self.lock:
            self.calls += 1
            return self.calls <= self.fail_first


@pytest.fixture
def server() -> Iterator[tuple[str, Streams]]:
    state = Streams()

    def listing(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        if state.count():
            context.abort(grpc.StatusCode.UNAVAILABLE, "lab: draining")
        if state.break_after is not None:
            for n in range(state.break_after):
                yield b"%d" % n
            context.abort(grpc.StatusCode.UNAVAILABLE, "lab: gone mid-stream")
        yield from (request + b"1", request + b"2", request + b"3")

    def upload(requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
        got = list(requests)
        state.received.append(got)
        if state.count():
            context.abort(grpc.StatusCode.UNAVAILABLE, "lab: draining")
        return b"".join(got)

    handlers = grpc.method_handlers_generic_handler(
        "lab.Stream",
        {
            "List": grpc.unary_stream_rpc_method_handler(listing),
            "Upload": grpc.stream_unary_rpc_method_handler(upload),
        },
    )
    made = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    made.add_generic_rpc_handlers((handlers,))
    port = made.add_insecure_port("127.0.0.1:0")
    made.start()
    yield f"127.0.0.1:{port}", state
    made.stop(None).wait(5)


@pytest.fixture(scope="module")
def service_lab() -> Iterator[ServiceLab]:
    with ServiceLab() as lab:
        yield lab


def _policy(waits: list[float]) -> RetryPolicy:
    return RetryPolicy(attempts=3, deadline=30, sleep=waits.append, jitter="none")


def _channel(target: str, interceptor: RetryInterceptor) -> tuple[grpc.Channel, grpc.Channel]:
    plain = grpc.insecure_channel(target)
    return plain, grpc.intercept_channel(plain, interceptor)


def test_a_server_stream_is_retried_until_its_first_message(server: tuple[str, Streams]) -> None:
    """UNAVAILABLE twice before any message: three attempts; the caller reads every message
    of the third, and the call's own state (its code) is that attempt's."""
    target, state = server
    waits: list[float] = []
    plain, channel = _channel(target, RetryInterceptor(_policy(waits), target=target))
    with plain:
        stream = channel.unary_stream(LIST)(b"m", timeout=5)
        assert list(stream) == [b"m1", b"m2", b"m3"]
        assert stream.code() is grpc.StatusCode.OK
    assert state.calls == 3
    assert len(waits) == 2


def test_a_server_stream_is_not_retried_after_a_message(server: tuple[str, Streams]) -> None:
    """One message handed on, then UNAVAILABLE: the caller gets the message and then gRPC's
    own error, and the call is not sent again, even for a method named idempotent."""
    target, state = server
    state.fail_first, state.break_after = 0, 1
    waits: list[float] = []
    interceptor = RetryInterceptor(_policy(waits), target=target, idempotent={LIST})
    plain, channel = _channel(target, interceptor)
    with plain:
        stream = channel.unary_stream(LIST)(b"m", timeout=5)
        assert next(stream) == b"0"
        with pytest.raises(grpc.RpcError) as caught:
            next(stream)
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    assert state.calls == 1
    assert waits == []


def test_a_server_stream_the_server_reset_is_retried_only_when_idempotent(
    service_lab: ServiceLab,
) -> None:
    """The server took the call and reset its stream before a message (request_sent): not
    sent again for a method not named idempotent, sent again for one named idempotent; the
    caller gets gRPC's own error with tether's failure when it reads."""
    fault = service_lab["grpc_rst_stream"]
    target = f"127.0.0.1:{fault.port}"
    for idempotent, tries in (((), 0), ({LIST}, 2)):
        waits: list[float] = []
        interceptor = RetryInterceptor(_policy(waits), idempotent=idempotent)
        plain, channel = _channel(target, interceptor)
        with plain, pytest.raises(grpc.RpcError) as caught:
            list(channel.unary_stream(LIST)(b"m", timeout=2))
        assert caught.value.failure.kind is Kind.CONNECTION_RESET  # type: ignore[attr-defined]
        assert len(waits) == tries


def test_a_client_stream_is_sent_again_whole(server: tuple[str, Streams]) -> None:
    """UNAVAILABLE twice after the server read the request messages: the messages, taken
    once from the caller's generator, are sent again to each attempt, whole."""
    target, state = server
    taken: list[bytes] = []

    def messages() -> Iterator[bytes]:
        for part in (b"ab", b"cd", b"ef"):
            taken.append(part)
            yield part

    waits: list[float] = []
    plain, channel = _channel(target, RetryInterceptor(_policy(waits), target=target))
    with plain:
        assert channel.stream_unary(UPLOAD)(messages(), timeout=5) == b"abcdef"
    assert taken == [b"ab", b"cd", b"ef"]
    assert state.received == [[b"ab", b"cd", b"ef"]] * 3
    assert len(waits) == 2


def test_a_client_stream_larger_than_what_is_kept_is_not_sent_again(
    server: tuple[str, Streams],
) -> None:
    """Request messages past replay_limit are not kept: the UNAVAILABLE that would be
    retried is the caller's, after one attempt, never a stream sent again in part."""
    target, state = server
    waits: list[float] = []
    interceptor = RetryInterceptor(_policy(waits), target=target, replay_limit=3)
    plain, channel = _channel(target, interceptor)
    with plain, pytest.raises(grpc.RpcError) as caught:
        channel.stream_unary(UPLOAD)(iter([b"ab", b"cd"]), timeout=5)
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    assert state.received == [[b"ab", b"cd"]]
    assert waits == []


def test_async_server_stream_is_retried_until_its_first_message(
    server: tuple[str, Streams],
) -> None:
    """grpc.aio: the same attempts, awaited; every message of the attempt that answered."""
    target, state = server
    waits: list[float] = []

    async def sleep(delay: float) -> None:
        waits.append(delay)

    policy = RetryPolicy(attempts=3, deadline=30, async_sleep=sleep, jitter="none")

    async def call() -> tuple[list[bytes], grpc.StatusCode]:
        retrying = AsyncRetryInterceptor(policy, target=target)
        async with grpc.aio.insecure_channel(
            target, interceptors=[retrying, *retrying.streams]
        ) as channel:
            stream = channel.unary_stream(LIST)(b"m", timeout=5)
            got = [message async for message in stream]
            return got, await stream.code()

    assert asyncio.run(call()) == ([b"m1", b"m2", b"m3"], grpc.StatusCode.OK)
    assert state.calls == 3
    assert len(waits) == 2


def test_async_server_stream_gives_up_with_grpcs_own_error(server: tuple[str, Streams]) -> None:
    """grpc.aio, UNAVAILABLE to every attempt: the caller reading gets AioRpcError with
    tether's failure on it."""
    target, state = server
    state.fail_first = 10
    waits: list[float] = []

    async def sleep(delay: float) -> None:
        waits.append(delay)

    policy = RetryPolicy(attempts=3, deadline=30, async_sleep=sleep, jitter="none")

    async def call() -> list[bytes]:
        retrying = AsyncRetryInterceptor(policy, target=target)
        async with grpc.aio.insecure_channel(
            target, interceptors=[retrying, *retrying.streams]
        ) as channel:
            return [message async for message in channel.unary_stream(LIST)(b"m", timeout=5)]

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        asyncio.run(call())
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    assert state.calls == 3
    assert len(waits) == 2


def _async_policy(waits: list[float], **changes: object) -> RetryPolicy:
    async def sleep(delay: float) -> None:
        waits.append(delay)

    return RetryPolicy(
        attempts=3,
        deadline=30,
        async_sleep=sleep,
        jitter="none",
        **changes,  # type: ignore[arg-type]
    )


def test_async_client_stream_is_sent_again_whole(server: tuple[str, Streams]) -> None:
    """grpc.aio, UNAVAILABLE twice after the server read the messages: an async generator's
    messages, taken from it once, sent again whole to each attempt; never hedged, though the
    policy hedges and the method is named idempotent (the retry's waits, not a race)."""
    target, state = server
    taken: list[bytes] = []

    async def messages() -> AsyncIterator[bytes]:
        for part in (b"ab", b"cd", b"ef"):
            taken.append(part)
            yield part

    waits: list[float] = []
    policy = _async_policy(waits, hedge=Hedge(delay=0.0, max_attempts=2))
    retrying = AsyncRetryInterceptor(policy, target=target, idempotent={UPLOAD})

    async def call() -> bytes:
        async with grpc.aio.insecure_channel(
            target, interceptors=[retrying, *retrying.streams]
        ) as channel:
            return await channel.stream_unary(UPLOAD)(messages(), timeout=5)  # type: ignore[no-any-return]

    assert asyncio.run(call()) == b"abcdef"
    assert taken == [b"ab", b"cd", b"ef"]
    assert state.received == [[b"ab", b"cd", b"ef"]] * 3
    assert len(waits) == 2


def test_async_client_stream_written_by_the_caller_passes_through(
    server: tuple[str, Streams],
) -> None:
    """grpc.aio, messages written with call.write(): nothing to send again, so the call is
    the caller's own, its UNAVAILABLE after one attempt."""
    target, state = server
    waits: list[float] = []
    retrying = AsyncRetryInterceptor(_async_policy(waits), target=target)

    async def call() -> bytes:
        async with grpc.aio.insecure_channel(
            target, interceptors=[retrying, *retrying.streams]
        ) as channel:
            upload = channel.stream_unary(UPLOAD)(timeout=5)
            await upload.write(b"ab")
            await upload.done_writing()
            return await upload  # type: ignore[no-any-return]

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        asyncio.run(call())
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    assert state.received == [[b"ab"]]
    assert waits == []
