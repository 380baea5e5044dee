"""gRPC's own seam, its client interceptors, on a :class:`tether.RetryPolicy`.

:class:`RetryInterceptor` (``grpc``) and :class:`AsyncRetryInterceptor` (``grpc.aio``)
retry a unary call by the failure's kind, not by a list of status codes: a call that never
reached the server (no connection: refused, reset, a TLS failure; a GOAWAY before the call
was taken; ``UNAVAILABLE`` from a server that did not take it) is retried for any method;
one the server may have acted on (its stream reset, a deadline that ran out) only for the
methods named ``idempotent``.  Each attempt gets what is left of the call's deadline as its
timeout, and the retry budget and circuit breaker are kept per target::

    import grpc
    from tether.integrations.grpc import RetryInterceptor

    channel = grpc.intercept_channel(
        grpc.insecure_channel("127.0.0.1:50051"),
        RetryInterceptor(tether.RetryPolicy(attempts=3), target="127.0.0.1:50051",
                         idempotent={"/inventory.Stock/Get"}),
    )

On ``grpc.aio``: ``grpc.aio.insecure_channel(target, interceptors=[AsyncRetryInterceptor(...)])``.
The error the caller sees is gRPC's own ``RpcError``, with ``.failure`` set.  Streaming calls
pass through unretried.
"""

from __future__ import annotations

from tether._extras import require

# A missing client is one line naming the extra, not a bare ModuleNotFoundError.
require("tether.integrations.grpc", "grpcio")

from collections.abc import Callable, Iterable
from typing import Any

import grpc
import grpc.aio

from tether._retry._decorator import retry
from tether._retry._policy import RetryPolicy
from tether._retry._state import Guard

__all__ = ["AsyncRetryInterceptor", "RetryInterceptor"]


class _Rules:
    """What both interceptors share: the guard, the target, the idempotent methods, and a
    runner per idempotence (made once, so budgets and breakers persist)."""

    def __init__(
        self,
        policy: RetryPolicy | None,
        guard: Guard | None,
        target: str | None,
        idempotent: Iterable[str],
        attempt: Callable[..., Any],
    ) -> None:
        if guard is None:
            guard = Guard(policy)
        elif policy is not None and policy != guard.policy:
            raise ValueError("give a policy or a guard made with it, not both")
        self.guard = guard
        self.policy = guard.policy
        self.idempotent = frozenset(idempotent)
        self.clock = guard.policy.clock
        self.runners = {
            safe: retry(guard=guard, idempotent=safe, endpoint=target)(attempt)
            for safe in (False, True)
        }

    def runner(self, method: str | bytes) -> Callable[..., Any]:
        name = method.decode() if isinstance(method, bytes) else method
        return self.runners[name in self.idempotent]

    def remainder(self, timeout: float | None) -> Callable[[], float | None]:
        """What is left of the call's own deadline at each attempt's start (None: none)."""
        if timeout is None:
            return lambda: None
        ends = self.clock() + timeout
        return lambda: max(ends - self.clock(), 0.0)


class RetryInterceptor(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """A unary-unary client interceptor that retries as ``policy`` says (see the module)."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        guard: Guard | None = None,
        target: str | None = None,
        idempotent: Iterable[str] = (),
    ) -> None:
        self._rules = _Rules(policy, guard, target, idempotent, _attempt)

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        run = self._rules.runner(client_call_details.method)
        left = self._rules.remainder(client_call_details.timeout)
        try:
            return run(continuation, client_call_details, request, left)
        except grpc.RpcError as error:
            if isinstance(error, grpc.Call):
                return error  # gRPC raises it from result(), as it does without us
            raise


def _attempt(
    continuation: Callable[..., Any],
    details: Any,
    request: Any,
    left: Callable[[], float | None],
) -> Any:
    outcome = continuation(_with_timeout(details, left()), request)
    error = outcome.exception()
    if error is not None:
        raise error
    return outcome


class AsyncRetryInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """:class:`RetryInterceptor` for ``grpc.aio`` channels."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        guard: Guard | None = None,
        target: str | None = None,
        idempotent: Iterable[str] = (),
    ) -> None:
        self._rules = _Rules(policy, guard, target, idempotent, _attempt_async)

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        run = self._rules.runner(client_call_details.method)
        left = self._rules.remainder(client_call_details.timeout)
        return await run(continuation, client_call_details, request, left)


async def _attempt_async(
    continuation: Callable[..., Any],
    details: Any,
    request: Any,
    left: Callable[[], float | None],
) -> Any:
    call = await continuation(_with_timeout(details, left()), request)
    await call  # raises grpc.aio.AioRpcError when the call failed
    return call


def _with_timeout(details: Any, timeout: float | None) -> Any:
    """The call's details with this attempt's timeout (both gRPC's are named tuples)."""
    if timeout is None:
        return details
    # Spent: the attempt fails at once with DEADLINE_EXCEEDED, as gRPC itself would say.
    return details._replace(timeout=max(timeout, 1e-3))
