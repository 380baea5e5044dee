"""httpx transports that retry under a policy: ``Transport`` and ``AsyncTransport``.

>>> client = httpx.Client(transport=Transport(policy=RetryPolicy(deadline=10)))  # doctest: +SKIP

The transport reads the body inside the attempt, so a body cut short is
retried like any other failure and the total timeout covers the last byte;
a response therefore arrives already read, even under ``client.stream()``
(a transport cannot see that flag).  A request with the extension
``"tether.stream": True`` is handed back once its head is judged, its body
unread: retried until then, never once the body is the caller's.
Each socket read and write is given no more time than the attempt has left,
which stops a server that trickles bytes.  Raised errors are the httpx
exceptions callers already catch, with ``.failure`` and tether's message.
"""

from __future__ import annotations

from tether._extras import require

# A missing client is one line naming the extra, not a bare ModuleNotFoundError.
require("tether.integrations.httpx", "httpx")

import contextvars
import functools
import math
import ssl
import time
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from tether._retry import _errors
from tether._retry._loop import (
    SINKS,
    Call,
    First,
    endpoint_key,
    fast_succeeded,
    hand_on,
    run_async,
    run_sync,
)
from tether._retry._policy import RetryPolicy, Timeouts
from tether._retry._state import UNSETTLED as _UNSETTLED
from tether._retry._state import Guard, guard_for
from tether._retry._testing import current as _current
from tether._sensitive import Origin, drop_sensitive, origin
from tether.integrations._errors import Errors, library_error

__all__ = ["STREAM", "AsyncTransport", "Transport"]

STREAM = "tether.stream"
"""The request extension that asks for the body unread: ``extensions={STREAM: True}``."""

_monotonic = time.monotonic
_ends_at: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "tether_attempt_ends_at", default=None
)
"""When the attempt under way must be over, in ``time.monotonic()`` seconds."""


class Transport(httpx.BaseTransport):
    """Retry through ``transport`` (default: an ``httpx.HTTPTransport(**kwargs)``).

    Its budget, breakers and health records are in ``.guard``: its own, unless
    one is given to share.
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        guard: Guard | None = None,
        **kwargs: Any,
    ) -> None:
        self.guard = guard_for(policy, guard)
        self._inner = transport if transport is not None else httpx.HTTPTransport(**kwargs)
        _bound_reads(self._inner)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # The steady path (issue 71 §5): an endpoint in the healthy steady state is counted
        # into its guard's Steady record, with no call of the guard's; anything else, a
        # redirect's hop included, goes the general way (_handle).
        extensions = request.extensions
        key = _endpoint(request.url)
        guard = self.guard
        s = guard.steady.get(key, _UNSETTLED)
        now = _monotonic()
        if now >= s.end or _CHAIN in extensions:
            return self._handle(request, key)
        next(s.firsts)  # the first attempt, counted for the budget
        t = guard.first_timeouts
        given = extensions.get("timeout", _NONE_GIVEN)
        last = _last_timeouts[0]
        if last[0] is not t or last[1] != given:  # other client settings than the last call's
            last = _least_timeouts(given, t)
        if not last[3]:  # the policy's are tighter than the client's: the attempt's own copy
            request.extensions = {**extensions, "timeout": last[2]}
        token = _ends_at.set(now + t.total)
        try:
            response = self._inner.handle_request(request)
            if STREAM not in extensions or not extensions[STREAM]:
                try:
                    response.read()
                except BaseException:
                    response.close()
                    raise
        except Exception as exc:
            error = exc
        except BaseException:
            _ends_at.reset(token)
            guard.breaker_release(key)  # as Call.abandon() does
            raise
        else:
            _ends_at.reset(token)
            code = response.status_code
            if code >= 300:
                if code >= 400:
                    first = (key, now, _current())
                    return self._retrying(request, None, first, (response, None))
                if code in _REDIRECTS:
                    request.extensions = {**request.extensions}  # the chain goes in a copy
                    _hop_ended(request, None, code, response)
            done = _monotonic()
            if done < s.end:
                next(s.oks)  # the success, counted in the breaker's window
                s.health.last_success_at = done
                if done >= s.end:  # a failure was recorded meanwhile: this success follows it
                    guard.record(key, None, done, sampled=False)
            else:
                done = guard.first_succeeded(key)
            if SINKS:
                hand_on(key, request.method, None, code, done - now, 1)
            return response
        _ends_at.reset(token)
        # The full loop goes on outside the handler of the attempt's exception: the error
        # it raises has no __context__.
        return self._retrying(request, None, (key, now, _current()), (None, error))

    def _handle(self, request: httpx.Request, key: str) -> httpx.Response:
        """A call off the steady path: the guard's fast path (issue 46 §5) for a first
        attempt, which settles the endpoint again once it works, else the full loop."""
        guard = self.guard
        extensions = request.extensions
        chain = extensions.get(_CHAIN)
        if chain is not None:  # a redirect's hop, or extensions copied from another request
            chain = _keep_on_origin(request, chain, guard.policy)
        # The fast path (issue 46 §5): a first attempt made here, with no Call, closure or
        # Outcome; what did not simply work goes on in the full loop.
        first = guard.fast_first(key)
        if first is None:
            return self._retrying(request, chain, None, None)
        t = guard.first_timeouts
        timeout = _timeouts(extensions, t)
        if chain is None:  # most calls: a chain is made only if this one is redirected
            request.extensions = {**extensions, "timeout": timeout}
        else:
            request.extensions = {**extensions, "timeout": timeout, _CHAIN: chain}
        token = _ends_at.set(_monotonic() + t.total)
        try:
            response = self._inner.handle_request(request)
            if not request.extensions.get(STREAM):
                try:
                    response.read()
                except BaseException:
                    response.close()
                    raise
        except Exception as exc:
            error: Exception | None = exc
        except BaseException:
            guard.breaker_release(first[0])  # as Call.abandon() does
            raise
        else:
            error = None
        finally:
            _ends_at.reset(token)
        if error is not None:
            return self._retrying(request, chain, first, (None, error))
        code = response.status_code
        if code >= 400:
            return self._retrying(request, chain, first, (response, None))
        if code in _REDIRECTS or chain is not None:
            _hop_ended(request, chain, code, response)
        fast_succeeded(guard, first, request.method, code)
        if chain is None:
            guard.settle(key)
        return response

    def _attempt(self, request: httpx.Request, chain: _Chain | None, t: Timeouts) -> httpx.Response:
        request.extensions = _attempt_extensions(request.extensions, chain, t)
        token = _ends_at.set(_monotonic() + t.total)
        try:
            response = self._inner.handle_request(request)
            if request.extensions.get(STREAM):
                return response
            try:
                response.read()
            except BaseException:
                response.close()
                raise
            return response
        finally:
            _ends_at.reset(token)

    def _retrying(
        self,
        request: httpx.Request,
        chain: _Chain | None,
        first: First | None,
        made: tuple[httpx.Response | None, BaseException | None] | None,
    ) -> httpx.Response:
        """The full loop; ``first``: the fast path's first attempt, which did not simply
        work, and ``made``: what it answered or raised."""
        call = _call(self.guard, request, first)
        went = None if made is None else call.first_outcome(*made, _status)
        outcome = run_sync(call, lambda t: self._attempt(request, chain, t), _status, _close, went)
        _hop_ended(request, chain, None, outcome.response)
        if outcome.response is not None:
            return outcome.response
        raise library_error(call, outcome, _ERRORS, request)

    def close(self) -> None:
        self._inner.close()

    @property
    def policy(self) -> RetryPolicy:
        return self.guard.policy


class AsyncTransport(httpx.AsyncBaseTransport):
    """:class:`Transport` for ``httpx.AsyncClient``."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        guard: Guard | None = None,
        **kwargs: Any,
    ) -> None:
        self.guard = guard_for(policy, guard)
        self._inner = transport if transport is not None else httpx.AsyncHTTPTransport(**kwargs)
        _bound_reads(self._inner)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        guard = self.guard
        chain = request.extensions.get(_CHAIN)
        if chain is not None:  # as Transport.handle_request's
            chain = _keep_on_origin(request, chain, guard.policy)
        # The fast path, as Transport.handle_request's.
        first = guard.fast_first(_endpoint(request.url))
        if first is None:
            return await self._retrying(request, chain, None, None)
        try:
            response = await self._attempt(request, chain, guard.first_timeouts)
        except Exception as exc:
            error: Exception | None = exc
        except BaseException:
            guard.breaker_release(first[0])  # as Call.abandon() does
            raise
        else:
            error = None
        if error is not None:
            return await self._retrying(request, chain, first, (None, error))
        code = response.status_code
        if code >= 400:
            return await self._retrying(request, chain, first, (response, None))
        if code in _REDIRECTS or chain is not None:
            _hop_ended(request, chain, code, response)
        fast_succeeded(guard, first, request.method, code)
        return response

    async def _attempt(
        self, request: httpx.Request, chain: _Chain | None, t: Timeouts
    ) -> httpx.Response:
        request.extensions = _attempt_extensions(request.extensions, chain, t)
        token = _ends_at.set(_monotonic() + t.total)
        try:
            response = await self._inner.handle_async_request(request)
            if request.extensions.get(STREAM):
                return response
            try:
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
            return response
        finally:
            _ends_at.reset(token)

    async def _retrying(
        self,
        request: httpx.Request,
        chain: _Chain | None,
        first: First | None,
        made: tuple[httpx.Response | None, BaseException | None] | None,
    ) -> httpx.Response:
        """:meth:`Transport._retrying`, awaited."""
        call = _call(self.guard, request, first)
        went = None if made is None else call.first_outcome(*made, _status)

        async def close(response: httpx.Response) -> None:
            await response.aclose()

        outcome = await run_async(
            call, lambda t: self._attempt(request, chain, t), _status, close, went
        )
        _hop_ended(request, chain, None, outcome.response)
        if outcome.response is not None:
            return outcome.response
        raise library_error(call, outcome, _ERRORS, request)

    async def aclose(self) -> None:
        await self._inner.aclose()

    @property
    def policy(self) -> RetryPolicy:
        return self.guard.policy


class _Chain:
    """The first URL of a redirect chain, carried from hop to hop in the request's
    extensions (httpx copies them onto each redirect's request)."""

    __slots__ = ("_origin", "ended", "first")

    def __init__(self, first: httpx.URL) -> None:
        self.first = first
        self._origin: Origin | None = None
        self.ended = False
        """True once a hop answered other than with a redirect: extensions a caller
        copies from this request onto a new one start a chain of their own."""

    @property
    def origin(self) -> Origin:
        """The first URL's origin, worked out only when a redirect asks: most calls
        are never redirected."""
        if self._origin is None:
            url = self.first
            self._origin = origin(url.scheme, url.host, url.port)
        return self._origin


_CHAIN = "tether.redirect_chain"


def _keep_on_origin(request: httpx.Request, chain: object, policy: RetryPolicy) -> _Chain:
    """Drop every credential header from a redirect's request once the chain has left
    the first URL's origin.  httpx itself drops only ``Authorization``, and keeps it
    from http:80 to https:443; it rebuilds ``Cookie`` for each hop from its jar, for
    the new URL, which is its own.  Each hop's headers are copied from the one before,
    so what is dropped stays dropped.  ``chain``: what the request's extensions hold
    under :data:`_CHAIN` (a new chain if it is not one, or one that ended).  A new chain
    goes into the request's extensions with the attempt's timeouts (:func:`_timeouts`),
    one copy of them for both."""
    if not isinstance(chain, _Chain) or chain.ended:
        return _Chain(request.url)
    url = request.url
    if origin(url.scheme, url.host, url.port) != chain.origin:
        drop_sensitive(request.headers, policy.sensitive_headers, keep=("cookie",))
    return chain


_REDIRECTS = frozenset({301, 302, 303, 307, 308})
"""The statuses of ``Response.has_redirect_location``."""


def _attempt_extensions(
    extensions: dict[str, Any], chain: _Chain | None, t: Timeouts
) -> dict[str, Any]:
    """The request's extensions for an attempt: the timeouts, and the chain if one is
    under way."""
    timeout = _timeouts(extensions, t)
    if chain is None:
        return {**extensions, "timeout": timeout}
    return {**extensions, "timeout": timeout, _CHAIN: chain}


def _hop_ended(
    request: httpx.Request,
    chain: _Chain | None,
    code: int | None,
    response: httpx.Response | None,
) -> None:
    """A hop answered ``response`` (None: it failed; ``code``: its status, if known).  A
    redirect starts a chain in the request's extensions, which httpx hands on to the
    next hop's request, or carries on the one under way; any other answer ends it.  A
    call that is never redirected (most of them) makes no chain at all (issue 46 §5)."""
    if response is not None:
        # Response.has_redirect_location, without its property's call and enum lookups.
        if code is None:
            code = response.status_code
        if code in _REDIRECTS and "Location" in response.headers:
            if chain is None:
                request.extensions[_CHAIN] = _Chain(request.url)
            else:
                chain.ended = False
            return
    if chain is not None:
        chain.ended = True


def _endpoint_by_reference(reference: object) -> str:
    return endpoint_key(str(reference))  # httpx.URL.__str__ is str(its reference)


_by_reference = functools.lru_cache(maxsize=4096)(_endpoint_by_reference)
_REFERENCED = hasattr(httpx.URL("http://127.0.0.1/"), "_uri_reference")
"""Does httpx's URL keep its parsed reference (a private attribute, which
tests/retry/test_private_seams.py names)?  If not, each call formats the URL."""


def _endpoint(url: httpx.URL) -> str:
    """``host:port`` of ``url``, cached by its parsed reference (a tuple hashed in C)
    rather than by ``str(url)``, which httpx formats anew on each call."""
    if _REFERENCED:
        return _by_reference(url._uri_reference)
    return endpoint_key(str(url))


def _call(guard: Guard, request: httpx.Request, first: First | None) -> Call:
    return Call(
        guard.policy,
        request.method,
        str(request.url),
        headers=request.headers,
        replayable=isinstance(request.stream, httpx.ByteStream),
        guard=guard,
        first=first,
    )


def _timeouts(extensions: dict[str, Any], t: Timeouts) -> dict[str, float | None]:
    """The smaller of the client's timeouts (``extensions["timeout"]``) and the policy's
    ``t``, for the attempt's extensions."""
    given = extensions.get("timeout", _NONE_GIVEN)
    last = _last_timeouts[0]
    if last[0] is t and last[1] == given:  # a first attempt through the same client settings
        return last[2]
    return _least_timeouts(given, t)[2]


def _least_timeouts(
    given: dict[str, Any], t: Timeouts
) -> tuple[Timeouts, dict[str, Any], dict[str, float | None], bool]:
    """:func:`_timeouts` worked out and kept for the next attempts (:data:`_last_timeouts`),
    with whether they are the client's own (``given``) unchanged."""

    def least(theirs: float | None, ours: float) -> float | None:
        value = ours if theirs is None else min(theirs, ours)
        return None if value == math.inf else value

    timeout = {
        "connect": least(given.get("connect"), t.connect),
        "read": least(given.get("read"), t.read),
        "write": least(given.get("write"), t.read),
        "pool": least(given.get("pool"), t.connect),
    }
    # A copy of given: the caller's dict may change.
    last = _last_timeouts[0] = (t, dict(given), timeout, timeout == given)
    return last


_NONE_GIVEN: dict[str, Any] = {}
_last_timeouts: list[
    tuple[Timeouts | None, dict[str, Any] | None, dict[str, float | None], bool]
] = [(None, None, {}, False)]
"""The last attempt's timeouts, which every first attempt under the same settings reuses:
the policy's ``Timeouts``, the client's, the least of the two, and whether that is the
client's unchanged (the steady path then leaves the request's extensions as they are)."""


def _status(response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, response.headers


def _close(response: httpx.Response) -> None:
    response.close()


class CircuitOpenError(httpx.ConnectError, _errors.CircuitOpenError):
    """Both ``httpx.ConnectError`` and ``tether.CircuitOpenError``."""


class BulkheadFullError(httpx.ConnectError, _errors.BulkheadFullError):
    """Both ``httpx.ConnectError`` and ``tether.BulkheadFullError``."""


class ThrottledError(httpx.ConnectError, _errors.ThrottledError):
    """Both ``httpx.ConnectError`` and ``tether.ThrottledError``."""


class DeadlineExceededError(httpx.TimeoutException, _errors.DeadlineExceededError):
    """Both ``httpx.TimeoutException`` and ``tether.DeadlineExceededError``."""


class _TotalTimeout(httpx.ReadTimeout):
    """An attempt outlived the policy's ``total``: a read timeout, in httpx's words."""


def _rebuild(error: BaseException, message: str, request: Any) -> BaseException | None:
    if not isinstance(error, httpx.RequestError):
        return None
    try:
        return type(error)(message, request=request)
    except TypeError:  # a subclass with its own constructor
        return None


_ERRORS = Errors(
    circuit_open=CircuitOpenError,
    bulkhead_full=BulkheadFullError,
    throttled=ThrottledError,
    deadline=DeadlineExceededError,
    total_timeout=_TotalTimeout,
    new=lambda cls, message, request: cls(message, request=request),
    own_timeout=lambda error: isinstance(error, httpx.TimeoutException),
    rebuild=_rebuild,
)


# -- each read and write gets no more than the attempt's time left ---------------


def _left(timeout: float | None) -> float | None:
    ends_at = _ends_at.get()
    if ends_at is None or ends_at == math.inf:
        return timeout
    left = ends_at - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the attempt's total time is up")
    return left if timeout is None else min(timeout, left)


def _bound_reads(transport: object) -> None:
    """Wrap the network backend of an httpx transport's connection pool, if it has one.

    httpx offers no public way to give its transport a network backend, so this
    reaches for two private attributes; tests/retry/test_private_seams.py names them
    and fails if an upgrade takes either away.
    """
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, httpcore.NetworkBackend):
        pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
    elif isinstance(backend, httpcore.AsyncNetworkBackend):
        pool._network_backend = _AsyncBackend(backend)  # type: ignore[union-attr]


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, _left(timeout), local_address, socket_options)
        return _Stream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, _left(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner
        # Passed through as the inner stream's own bound methods: no frame of ours.
        self.get_extra_info = inner.get_extra_info  # type: ignore[method-assign]
        self.close = inner.close  # type: ignore[method-assign]

    # read and write are _left() written out: they run a few times on every call.
    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        ends_at = _ends_at.get()
        if ends_at is not None and ends_at != _INF:
            left = ends_at - _monotonic()
            if left <= 0:
                raise httpcore.ReadTimeout("the attempt's total time is up")
            timeout = left if timeout is None or left < timeout else timeout
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        ends_at = _ends_at.get()
        if ends_at is not None and ends_at != _INF:
            left = ends_at - _monotonic()
            if left <= 0:
                raise httpcore.ReadTimeout("the attempt's total time is up")
            timeout = left if timeout is None or left < timeout else timeout
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _left(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


_INF = math.inf


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(
            host, port, _left(timeout), local_address, socket_options
        )
        return _AsyncStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(path, _left(timeout), socket_options)
        return _AsyncStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _AsyncStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, _left(timeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, _left(timeout))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.start_tls(ssl_context, server_hostname, _left(timeout))
        return _AsyncStream(stream)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)
