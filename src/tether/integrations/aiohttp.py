"""aiohttp: a client middleware that retries under a policy.

>>> async with session(policy=RetryPolicy(deadline=10)) as s:     # doctest: +SKIP
...     async with s.get("http://127.0.0.1:8080/health") as r:
...         body = await r.read()

or, on a session you build yourself,
``aiohttp.ClientSession(middlewares=[middleware(policy)])``.

The middleware reads the body inside the attempt, so a body cut short is
retried and the attempt's total timeout covers the last byte.  aiohttp runs
middlewares once per redirect hop, so each hop gets its own retries and
deadline.  aiohttp also resends an idempotent request once, around the
middleware, after any ``ClientOSError`` or ``ServerDisconnectedError``, which
runs tether's whole loop twice; :func:`session` switches that off, a session
of your own keeps it.  A failure re-raises aiohttp's own
exception, with ``.failure`` and a note saying what tether tried (aiohttp's
exceptions take different arguments each, so tether does not rebuild them
with a new message).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import aiohttp
from aiohttp import payload

from tether._kinds import Kind
from tether._retry._decorator import annotate
from tether._retry._errors import CircuitOpenError, DeadlineExceededError
from tether._retry._loop import Call, Outcome, run_async
from tether._retry._policy import RetryPolicy, Timeouts

__all__ = ["middleware", "session"]


def middleware(policy: RetryPolicy | None = None) -> aiohttp.ClientMiddlewareType:
    """A client middleware retrying every request of a session under ``policy``."""
    chosen = policy if policy is not None else RetryPolicy()

    async def tether_retry(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        call = Call(
            chosen,
            request.method,
            str(request.url),
            headers=request.headers,
            replayable=_replayable(request.body),
        )

        async def attempt(t: Timeouts) -> aiohttp.ClientResponse:
            limit = asyncio.timeout(None if t.total == math.inf else t.total)
            try:
                async with limit:
                    response = await handler(request)
                    try:
                        await response.read()
                    except BaseException:
                        response.release()
                        raise
                    return response
            except Exception:
                if limit.expired():
                    call.mark_cut()
                raise

        outcome = await run_async(call, attempt, _status, _release)
        if outcome.response is not None:
            return outcome.response
        raise _error(call, outcome)

    return tether_retry


def session(policy: RetryPolicy | None = None, **kwargs: Any) -> aiohttp.ClientSession:
    """An ``aiohttp.ClientSession`` with the middleware and the policy's timeouts.

    Connect and per-read timeouts come from the policy; the session's own
    ``total`` is off because the policy's deadline bounds each call.  Other
    keyword arguments go to ``aiohttp.ClientSession``.
    """
    chosen = policy if policy is not None else RetryPolicy()
    kwargs.setdefault(
        "timeout",
        aiohttp.ClientTimeout(total=None, sock_connect=chosen.connect, sock_read=chosen.read),
    )
    kwargs["middlewares"] = (*kwargs.get("middlewares", ()), middleware(chosen))
    made = aiohttp.ClientSession(**kwargs)
    # aiohttp resends an idempotent request once when a pooled connection
    # fails, around the middleware: that would run tether's whole loop twice.
    if hasattr(made, "_retry_connection"):
        made._retry_connection = False
    return made


def _replayable(body: Any) -> bool:
    return body is None or isinstance(body, (bytes, payload.BytesPayload)) or not body.size


def _status(response: aiohttp.ClientResponse) -> tuple[int, Any]:
    return response.status, response.headers


async def _release(response: aiohttp.ClientResponse) -> None:
    response.release()


def _error(call: Call, outcome: Outcome[aiohttp.ClientResponse]) -> BaseException:
    """The exception to raise: aiohttp's own, with ``.failure`` and tether's note."""
    failure = outcome.failure
    assert failure is not None
    error = outcome.error
    ours_timed_out = isinstance(error, TimeoutError) and not isinstance(error, aiohttp.ClientError)
    if error is None or (
        failure.kind in (Kind.DEADLINE_EXCEEDED, Kind.READ_TIMEOUT) and ours_timed_out
    ):
        if failure.kind is Kind.CIRCUIT_OPEN:
            ours: Exception = _CircuitOpen(call.summary(outcome), failure)
        elif failure.kind is Kind.DEADLINE_EXCEEDED:
            ours = _DeadlineExceeded(call.summary(outcome), failure)
        else:
            ours = _TotalTimeout(call.summary(outcome))
            ours.failure = failure  # type: ignore[attr-defined]
        ours.__cause__ = error
        return ours
    annotate(error, call, outcome)
    return error


class _CircuitOpen(aiohttp.ClientConnectionError, CircuitOpenError):
    """Both ``aiohttp.ClientConnectionError`` and ``tether.CircuitOpenError``."""


class _DeadlineExceeded(aiohttp.ServerTimeoutError, DeadlineExceededError):
    """Both ``aiohttp.ServerTimeoutError`` and ``tether.DeadlineExceededError``."""


class _TotalTimeout(aiohttp.ServerTimeoutError):
    """An attempt outlived the policy's ``total``."""
