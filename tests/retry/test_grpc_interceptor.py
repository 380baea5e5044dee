"""gRPC's own seam, client interceptors, on tether's policy (issue 71 §2): against grpcio's own
server and the service lab's gRPC faults, with the sleeps injected."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field

import grpc
import grpc.aio
import pytest

from tether import Kind, RetryPolicy
from tether.integrations.grpc import AsyncRetryInterceptor, RetryInterceptor
from tether.lab._services import ServiceLab

FLAKY = "/lab.Flaky/Call"
"""Answers UNAVAILABLE to its first ``fail_first`` calls, then echoes."""
WRITE = "/lab.Orders/Place"
"""Answers ABORTED once, then echoes: a status the server sets after acting."""


@dataclass
class Flaky:
    fail_first: int = 2
    pushback: str | None = None
    """``grpc-retry-pushback-ms`` sent with each failure (None: none)."""
    calls: int = 0
    remaining: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def server() -> Iterator[tuple[int, Flaky]]:
    state = Flaky()

    def flaky(request: bytes, context: grpc.ServicerContext) -> bytes:
        with state.lock:
            state.calls += 1
            state.remaining.append(context.time_remaining() or 0.0)
            failing = state.calls <= state.fail_first
        if failing:
            if state.pushback is not None:
                context.set_trailing_metadata((("grpc-retry-pushback-ms", state.pushback),))
            context.abort(grpc.StatusCode.UNAVAILABLE, "lab: draining")
        return request

    handlers = grpc.method_handlers_generic_handler(
        "lab.Flaky", {"Call": grpc.unary_unary_rpc_method_handler(flaky)}
    )
    made = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    made.add_generic_rpc_handlers((handlers,))
    port = made.add_insecure_port("127.0.0.1:0")
    made.start()
    yield port, state
    made.stop(None).wait(5)


@pytest.fixture(scope="module")
def service_lab() -> Iterator[ServiceLab]:
    with ServiceLab() as lab:
        yield lab


def _policy(waits: list[float], attempts: int = 3) -> RetryPolicy:
    return RetryPolicy(attempts=attempts, deadline=30, sleep=waits.append, jitter="none")


def _call(
    port: int, interceptor: RetryInterceptor, method: str = FLAKY, timeout: float = 5
) -> bytes:
    target = f"127.0.0.1:{port}"
    with grpc.insecure_channel(target) as plain:
        channel = grpc.intercept_channel(plain, interceptor)
        call = channel.unary_unary(method)
        return call(b"hello", timeout=timeout)  # type: ignore[no-any-return]


async def _call_async(port: int, policy: RetryPolicy) -> bytes:
    """FLAKY on ``grpc.aio`` through :class:`AsyncRetryInterceptor` on ``policy``."""
    async with grpc.aio.insecure_channel(
        f"127.0.0.1:{port}", interceptors=[AsyncRetryInterceptor(policy)]
    ) as channel:
        return await channel.unary_unary(FLAKY)(b"hello", timeout=5)  # type: ignore[no-any-return]


def test_unavailable_is_retried_until_the_server_answers(server: tuple[int, Flaky]) -> None:
    """UNAVAILABLE twice, then an answer: three attempts, two waits, the answer returned."""
    port, state = server
    waits: list[float] = []
    assert _call(port, RetryInterceptor(_policy(waits), target=f"127.0.0.1:{port}")) == b"hello"
    assert state.calls == 3
    assert len(waits) == 2


def test_the_servers_pushback_is_the_wait(server: tuple[int, Flaky]) -> None:
    """``grpc-retry-pushback-ms: 250`` with each UNAVAILABLE (gRFC A6): the waits are the
    server's 0.25 s, not the policy's 2 s backoff; the failure says so."""
    port, state = server
    state.pushback, state.fail_first = "250", 9
    waits: list[float] = []
    policy = RetryPolicy(attempts=3, deadline=30, base=2, jitter="none", sleep=waits.append)
    with pytest.raises(grpc.RpcError) as caught:
        _call(port, RetryInterceptor(policy))
    assert waits == [0.25, 0.25]
    assert state.calls == 3
    assert caught.value.failure.retry_after == 0.25  # type: ignore[attr-defined]


@pytest.mark.parametrize("said", ["-1", "soon", ""])
def test_a_negative_or_unreadable_pushback_means_no_retry(
    server: tuple[int, Flaky], said: str
) -> None:
    """A negative or unreadable pushback is the server asking for no retry (gRFC A6):
    one attempt, no wait, the failure not retryable and saying why."""
    port, state = server
    state.pushback = said
    waits: list[float] = []
    with pytest.raises(grpc.RpcError) as caught:
        _call(port, RetryInterceptor(_policy(waits)))
    assert (state.calls, waits) == (1, [])
    failure = caught.value.failure  # type: ignore[attr-defined]
    assert failure.retryable is False
    assert "the server asked not to retry" in failure.detail


def test_a_pushback_past_the_cap_ends_the_retries(server: tuple[int, Flaky]) -> None:
    """A pushback longer than the policy's ``retry_after_cap`` is not waited: the call
    fails at once, as a Retry-After past the cap does."""
    port, state = server
    state.pushback = "60000"
    waits: list[float] = []
    with pytest.raises(grpc.RpcError) as caught:
        _call(port, RetryInterceptor(_policy(waits)))
    assert (state.calls, waits) == (1, [])
    assert "retry_after_cap" in caught.value.__notes__[-1]


def test_the_async_interceptor_waits_the_pushback(server: tuple[int, Flaky]) -> None:
    """``grpc.aio``: the same wait, on the policy's async sleep."""
    port, state = server
    state.pushback = "125"
    waits: list[float] = []

    async def sleep(delay: float) -> None:
        waits.append(delay)

    policy = RetryPolicy(attempts=3, deadline=30, base=2, jitter="none", async_sleep=sleep)
    assert asyncio.run(_call_async(port, policy)) == b"hello"
    assert waits == [0.125, 0.125]


def test_each_attempt_gets_what_is_left_of_the_deadline(server: tuple[int, Flaky]) -> None:
    """The call's 5 s deadline is shared by its attempts: each is sent with what is left, so
    the server sees it shrink by the waits between them (2 s each, on the policy's clock)."""
    port, state = server
    now = [100.0]

    def sleep(delay: float) -> None:
        now[0] += delay

    policy = RetryPolicy(
        attempts=3, deadline=30, base=2.0, cap=2.0, jitter="none", sleep=sleep, clock=lambda: now[0]
    )
    assert _call(port, RetryInterceptor(policy), timeout=5) == b"hello"
    first, second, third = state.remaining
    assert 4.0 < first <= 5.1  # the server's clock, read a moment apart from ours
    assert first - second == pytest.approx(2.0, abs=0.5)
    assert second - third == pytest.approx(2.0, abs=0.5)


def test_a_server_that_refuses_gets_every_attempt(service_lab: ServiceLab) -> None:
    """Nothing listening: connect.refused, retried for any method; the caller gets gRPC's
    own RpcError, with tether's failure on it."""
    waits: list[float] = []
    fault = service_lab["refused"]
    with pytest.raises(grpc.RpcError) as caught:
        _call(fault.port, RetryInterceptor(_policy(waits)), timeout=2)
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    assert caught.value.failure.kind is Kind.CONNECT_REFUSED  # type: ignore[attr-defined]
    assert len(waits) == 2
    note = caught.value.__notes__[-1]
    assert note.startswith(f"tether: {FLAKY}() failed after 3 attempts"), note


def test_a_reset_stream_is_retried_only_for_idempotent_methods(service_lab: ServiceLab) -> None:
    """The server took the call and reset its stream (request_sent): a method not named
    idempotent is not sent again; one named idempotent is."""
    fault = service_lab["grpc_rst_stream"]
    waits: list[float] = []
    with pytest.raises(grpc.RpcError):
        _call(fault.port, RetryInterceptor(_policy(waits)), method=WRITE, timeout=2)
    assert waits == []
    waits = []
    interceptor = RetryInterceptor(_policy(waits), idempotent={WRITE})
    with pytest.raises(grpc.RpcError) as caught:
        _call(fault.port, interceptor, method=WRITE, timeout=2)
    assert caught.value.failure.kind is Kind.CONNECTION_RESET  # type: ignore[attr-defined]
    assert len(waits) == 2


def test_async_interceptor_retries_unavailable(server: tuple[int, Flaky]) -> None:
    """grpc.aio: the same attempts, awaited."""
    port, state = server
    waits: list[float] = []

    async def sleep(delay: float) -> None:
        waits.append(delay)

    policy = RetryPolicy(attempts=3, deadline=30, async_sleep=sleep, jitter="none")
    assert asyncio.run(_call_async(port, policy)) == b"hello"
    assert state.calls == 3
    assert len(waits) == 2


def test_async_interceptor_gives_up_with_grpcs_own_error(service_lab: ServiceLab) -> None:
    """grpc.aio against a refusing port: the caller gets AioRpcError after every attempt."""
    waits: list[float] = []
    fault = service_lab["refused"]

    async def sleep(delay: float) -> None:
        waits.append(delay)

    policy = RetryPolicy(attempts=3, deadline=30, async_sleep=sleep, jitter="none")

    async def call() -> bytes:
        async with grpc.aio.insecure_channel(
            f"127.0.0.1:{fault.port}", interceptors=[AsyncRetryInterceptor(policy)]
        ) as channel:
            return await channel.unary_unary(FLAKY)(b"hello", timeout=2)  # type: ignore[no-any-return]

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        asyncio.run(call())
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    assert len(waits) == 2
