"""aiohttp: a session wrapper and a client middleware that retry under a policy.

>>> async with session(policy=RetryPolicy(deadline=10)) as s:     # doctest: +SKIP
...     async with s.get("http://127.0.0.1:8080/health") as r:
...         body = await r.read()

:func:`session` gives a :class:`Session`, a thin wrapper that runs the loop
around ``ClientSession.request`` (the cheaper way).  On a session you build
yourself, ``aiohttp.ClientSession(middlewares=[middleware(policy)])`` does
the same through aiohttp's middleware chain.

Both read the body inside the attempt, so a body cut short is retried and
the attempt's total timeout covers the last byte.  With the middleware,
aiohttp runs it once per redirect hop, so each hop gets its own retries and
deadline; the wrapper's deadline covers the whole chain.  aiohttp also
resends an idempotent request once, around the middleware, after any
``ClientOSError`` or ``ServerDisconnectedError``, which runs tether's whole
loop twice; :class:`Session` switches that off, a session of your own keeps
it.  A failure re-raises aiohttp's own exception, with ``.failure`` and a
note saying what tether tried (aiohttp's exceptions take different arguments
each, so tether does not rebuild them with a new message).
"""

from __future__ import annotations

from tether._extras import require

# A missing client is one line naming the extra, not a bare ModuleNotFoundError.
require("tether.integrations.aiohttp", "aiohttp")

import asyncio
import contextvars
import math
from collections.abc import Coroutine, Generator
from typing import Any

import aiohttp
from aiohttp import payload

from tether._retry import _errors
from tether._retry._loop import Call, First, endpoint_key, fast_first, fast_succeeded, run_async
from tether._retry._policy import RetryPolicy, Timeouts
from tether._retry._state import Guard, guard_for
from tether._sensitive import Origin, drop_sensitive, origin
from tether.integrations._errors import Errors, library_error

__all__ = ["Session", "middleware", "session"]


def middleware(
    policy: RetryPolicy | None = None, *, guard: Guard | None = None
) -> aiohttp.ClientMiddlewareType:
    """A client middleware retrying every request of a session under ``policy``.

    Each middleware keeps its own budget, breakers and health records, unless
    given a ``guard`` to share (the middleware's own is its ``.guard``).
    """
    g = guard_for(policy, guard)
    chosen = g.policy

    async def tether_retry(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        _keep_on_origin(request, chosen.sensitive_headers)
        # The fast path (issue 46 §5): a first attempt made here, with no Call, closure or
        # Outcome; what did not simply work goes on in the full loop.
        first = fast_first(g, endpoint_key(str(request.url)))
        if first is None:
            return await _retrying(request, handler, None, None)
        limit = _limit(g.first_timeouts)
        try:
            async with limit:
                response = await _read(await handler(request))
        except Exception as exc:
            error: Exception | None = exc
        except BaseException:
            g.breaker_release(first[0])  # as Call.abandon() does
            raise
        else:
            error = None
        if error is not None:
            return await _retrying(request, handler, first, (None, error, limit.expired()))
        if response.status >= 400:
            return await _retrying(request, handler, first, (response, None, False))
        fast_succeeded(g, first, request.method, response.status)
        return response

    async def _retrying(
        request: aiohttp.ClientRequest,
        handler: aiohttp.ClientHandlerType,
        first: First | None,
        made: tuple[aiohttp.ClientResponse | None, BaseException | None, bool] | None,
    ) -> aiohttp.ClientResponse:
        call = Call(
            chosen,
            request.method,
            str(request.url),
            headers=request.headers,
            replayable=_replayable(request.body),
            guard=g,
            first=first,
        )

        async def attempt(t: Timeouts) -> aiohttp.ClientResponse:
            limit = _limit(t)
            try:
                async with limit:
                    return await _read(await handler(request))
            except Exception:
                if limit.expired():
                    call.mark_cut()
                raise

        went = None if made is None else call.first_outcome(*made[:2], _status, made[2])
        outcome = await run_async(call, attempt, _status, _release, went)
        if outcome.response is not None:
            return outcome.response
        raise library_error(call, outcome, _ERRORS)

    tether_retry.guard = g  # type: ignore[attr-defined]
    return tether_retry


class Session:
    """An ``aiohttp.ClientSession`` with tether's loop around each request, no middleware.

    ``get``, ``post``, ``put``, ``delete``, ``head``, ``options``, ``patch`` and
    ``request`` take aiohttp's arguments and return what can be awaited or used
    with ``async with``, as aiohttp's do.  Each attempt gets the policy's
    timeouts through aiohttp's own ``ClientTimeout`` (its ``total`` is what the
    deadline leaves), which costs less than a middleware and an extra timer.
    The session underneath is ``.raw``; its budget, breakers and health
    records are in ``.guard``, its own unless one is given to share.
    """

    def __init__(
        self, policy: RetryPolicy | None = None, *, guard: Guard | None = None, **kwargs: Any
    ) -> None:
        self.guard = guard_for(policy, guard)

        async def keep_on_origin(
            request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
        ) -> aiohttp.ClientResponse:
            _keep_on_origin(request, self.guard.policy.sensitive_headers)
            return await handler(request)

        # First in the chain: it drops what the caller wrote; a middleware of the
        # caller's own that adds a header to each hop decides for itself.
        self._keep = keep_on_origin
        self._theirs = tuple(kwargs.pop("middlewares", None) or ())
        self.raw = aiohttp.ClientSession(middlewares=(keep_on_origin, *self._theirs), **kwargs)
        # aiohttp resends an idempotent request once after a failed connection,
        # inside request(): that would run tether's whole loop twice.  No public
        # switch exists; tests/retry/test_private_seams.py fails if this one goes.
        if hasattr(self.raw, "_retry_connection"):
            self.raw._retry_connection = False

    def request(self, method: str, url: Any, **kwargs: Any) -> _Pending:
        return _Pending(self._send(method, url, kwargs))

    def get(self, url: Any, **kwargs: Any) -> _Pending:
        return self.request("GET", url, **kwargs)

    def post(self, url: Any, **kwargs: Any) -> _Pending:
        return self.request("POST", url, **kwargs)

    def put(self, url: Any, **kwargs: Any) -> _Pending:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: Any, **kwargs: Any) -> _Pending:
        return self.request("DELETE", url, **kwargs)

    def head(self, url: Any, **kwargs: Any) -> _Pending:
        return self.request("HEAD", url, **kwargs)

    def options(self, url: Any, **kwargs: Any) -> _Pending:
        return self.request("OPTIONS", url, **kwargs)

    def patch(self, url: Any, **kwargs: Any) -> _Pending:
        return self.request("PATCH", url, **kwargs)

    @property
    def policy(self) -> RetryPolicy:
        return self.guard.policy

    async def close(self) -> None:
        await self.raw.close()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _send(self, method: str, url: Any, kwargs: dict[str, Any]) -> aiohttp.ClientResponse:
        guard = self.guard
        given = kwargs.pop("timeout", None)
        if kwargs.get("middlewares") is not None:  # a request's own replace the session's
            kwargs["middlewares"] = (self._keep, *kwargs["middlewares"])
        elif not (kwargs.get("headers") or kwargs.get("cookies") or self.raw.headers):
            # No header of the caller's that a redirect could carry elsewhere (aiohttp
            # itself strips what auth= makes): the session's chain without tether's
            # middleware, which would cost every call a few µs for nothing to drop.
            kwargs["middlewares"] = self._theirs
        # The fast path (issue 46 §5): a first attempt made here, with no Call, closure or
        # Outcome; what did not simply work goes on in the full loop.
        first = fast_first(guard, endpoint_key(str(url)))
        if first is None:
            return await self._retrying(method, url, given, kwargs, None, None)
        try:
            response = await self._attempt(method, url, given, kwargs, guard.first_timeouts)
        except Exception as exc:
            error: Exception | None = exc
        except BaseException:
            guard.breaker_release(first[0])  # as Call.abandon() does
            raise
        else:
            error = None
        if error is not None:
            return await self._retrying(method, url, given, kwargs, first, (None, error))
        if response.status >= 400:
            return await self._retrying(method, url, given, kwargs, first, (response, None))
        fast_succeeded(guard, first, method.upper(), response.status)
        return response

    async def _attempt(
        self, method: str, url: Any, given: Any, kwargs: dict[str, Any], t: Timeouts
    ) -> aiohttp.ClientResponse:
        timeout = given or _client_timeout(t)
        return await _read(await self.raw.request(method, url, timeout=timeout, **kwargs))

    async def _retrying(
        self,
        method: str,
        url: Any,
        given: Any,
        kwargs: dict[str, Any],
        first: First | None,
        made: tuple[aiohttp.ClientResponse | None, BaseException | None] | None,
    ) -> aiohttp.ClientResponse:
        """The full loop; ``first``: the fast path's first attempt, which did not simply
        work, and ``made``: what it answered or raised."""
        call = Call(
            self.guard.policy,
            method,
            str(url),
            headers=kwargs.get("headers"),
            replayable=_data_replayable(kwargs),
            guard=self.guard,
            first=first,
        )
        went = None if made is None else call.first_outcome(*made, _status)
        outcome = await run_async(
            call, lambda t: self._attempt(method, url, given, kwargs, t), _status, _release, went
        )
        if outcome.response is not None:
            return outcome.response
        raise library_error(call, outcome, _ERRORS)


class _Pending:
    """A request under way: await it for the response, or use it with ``async with``."""

    __slots__ = ("_coro", "_response")

    def __init__(self, coro: Coroutine[Any, Any, aiohttp.ClientResponse]) -> None:
        self._coro = coro
        self._response: aiohttp.ClientResponse | None = None

    def __await__(self) -> Generator[Any, None, aiohttp.ClientResponse]:
        return self._coro.__await__()

    async def __aenter__(self) -> aiohttp.ClientResponse:
        self._response = await self._coro
        return self._response

    async def __aexit__(self, *exc: object) -> None:
        if self._response is not None:
            self._response.release()


def session(
    policy: RetryPolicy | None = None, *, guard: Guard | None = None, **kwargs: Any
) -> Session:
    """A :class:`Session`: aiohttp with the policy's retries and timeouts.

    Other keyword arguments go to ``aiohttp.ClientSession``.
    """
    return Session(policy, guard=guard, **kwargs)


_chain: contextvars.ContextVar[tuple[object, Origin, bool] | None] = contextvars.ContextVar(
    "tether_redirect_chain", default=None
)
"""The redirect chain under way in this task: its mark, its first origin, and whether it
has left that origin."""


def _keep_on_origin(request: aiohttp.ClientRequest, extra: frozenset[str]) -> None:
    """Drop every credential header from a redirect's request once the chain has left
    the first URL's origin, and for the rest of the chain.

    aiohttp runs the middlewares once per hop, each time on a new request built from
    the caller's headers, and drops ``Authorization`` alone to another origin (3.12;
    later versions ``Cookie`` and ``Proxy-Authorization`` too).  What tells a redirect
    from a new call is the timer aiohttp makes once per ``ClientSession.request`` and
    gives to each of its hops: private, so tests/retry/test_private_seams.py names it.
    """
    url = request.url
    here = origin(url.scheme, url.host, url.port)
    mark = getattr(request, "_timer", None)
    chain = _chain.get()
    if mark is None or chain is None or chain[0] is not mark:
        _chain.set((mark, here, False))
        return
    if not chain[2]:
        if here == chain[1]:
            return
        _chain.set((mark, chain[1], True))
    drop_sensitive(request.headers, extra)
    # The caller's Cookie is gone; the session's jar still sends the new host its own.
    cookies = request.session.cookie_jar.filter_cookies(url)
    if cookies:
        request.update_cookies(cookies)


async def _read(response: aiohttp.ClientResponse) -> aiohttp.ClientResponse:
    """``response`` with its body read (inside the attempt), released if that fails."""
    try:
        await response.read()
    except BaseException:
        response.release()
        raise
    return response


def _limit(t: Timeouts) -> asyncio.Timeout:
    """The middleware's timer of one attempt: ``t.total``."""
    return asyncio.timeout(None if t.total == math.inf else t.total)


def _client_timeout(t: Timeouts) -> aiohttp.ClientTimeout:
    """aiohttp's timeouts for an attempt; the same object for the same ``t`` (every first
    attempt of a guard shares one ``t``)."""
    last = _last_timeout[0]
    if last[0] is t:
        return last[1]
    timeout = aiohttp.ClientTimeout(
        total=None if t.total == math.inf else t.total, sock_connect=t.connect, sock_read=t.read
    )
    _last_timeout[0] = (t, timeout)
    return timeout


_last_timeout: list[tuple[Timeouts | None, aiohttp.ClientTimeout]] = [
    (None, aiohttp.ClientTimeout())
]


def _data_replayable(kwargs: dict[str, Any]) -> bool:
    data = kwargs.get("data")
    return data is None or isinstance(data, (bytes, str, dict, list, tuple))


def _replayable(body: Any) -> bool:
    return body is None or isinstance(body, (bytes, payload.BytesPayload)) or not body.size


def _status(response: aiohttp.ClientResponse) -> tuple[int, Any]:
    return response.status, response.headers


async def _release(response: aiohttp.ClientResponse) -> None:
    response.release()


class CircuitOpenError(aiohttp.ClientConnectionError, _errors.CircuitOpenError):
    """Both ``aiohttp.ClientConnectionError`` and ``tether.CircuitOpenError``."""


class BulkheadFullError(aiohttp.ClientConnectionError, _errors.BulkheadFullError):
    """Both ``aiohttp.ClientConnectionError`` and ``tether.BulkheadFullError``."""


class ThrottledError(aiohttp.ClientConnectionError, _errors.ThrottledError):
    """Both ``aiohttp.ClientConnectionError`` and ``tether.ThrottledError``."""


class DeadlineExceededError(aiohttp.ServerTimeoutError, _errors.DeadlineExceededError):
    """Both ``aiohttp.ServerTimeoutError`` and ``tether.DeadlineExceededError``."""


class _TotalTimeout(aiohttp.ServerTimeoutError):
    """An attempt outlived the policy's ``total``."""


def _own_timeout(error: BaseException) -> bool:
    # asyncio.timeout() around the middleware's attempt raises a bare TimeoutError.
    return isinstance(error, aiohttp.ClientError) or not isinstance(error, TimeoutError)


# aiohttp's exceptions each take different arguments: none is rebuilt.
_ERRORS = Errors(
    circuit_open=CircuitOpenError,
    bulkhead_full=BulkheadFullError,
    throttled=ThrottledError,
    deadline=DeadlineExceededError,
    total_timeout=_TotalTimeout,
    new=lambda cls, message, _request: cls(message),
    own_timeout=_own_timeout,
)
