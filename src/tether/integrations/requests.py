"""``tether.Session``: a ``requests.Session`` that retries under a policy.

Raised errors are still the requests exceptions callers already catch
(``ConnectionError``, ``Timeout``, ``SSLError``...), now carrying ``.failure``
and a message that starts with what tether tried.  A response whose status the
policy retries (429, 502, 503, 504) is returned as it is once tether gives up,
exactly as requests would return it.
"""

from __future__ import annotations

from tether._extras import require

# A missing client is one line naming the extra, not a bare ModuleNotFoundError.
require("tether.Session", "requests")

import math
from threading import get_ident
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import ProxyManager

from tether._redact import redact_exception
from tether._retry import _errors
from tether._retry._loop import (
    SINKS,
    Call,
    First,
    endpoint_key,
    fast_succeeded,
    hand_on,
    run_sync,
)
from tether._retry._policy import RetryPolicy, Timeouts
from tether._retry._state import UNSETTLED as _UNSETTLED
from tether._retry._state import Guard, guard_for
from tether._retry._testing import current as _current
from tether._sensitive import drop_sensitive, same_origin
from tether.integrations import _cutoff
from tether.integrations._errors import Errors, library_error

__all__ = ["Session"]


_timers = _cutoff._timers  # each thread's total timer, by thread id
"""Read with ``get_ident()`` rather than through a ``threading.local``: each call reads it
twice, and a local's attribute costs several times a dict's item (issue 46 §5).  A
thread's timer is armed (``at`` finite) while an attempt of it is under way."""
_INF = float("inf")
_monotonic = _cutoff._monotonic  # the policy's clock on the steady path, and the timer's
_until = _cutoff._until


class Session(requests.Session):
    """A ``requests.Session`` with a retry policy, default timeouts and a deadline.

    >>> with tether.Session(policy=tether.RetryPolicy(deadline=10)) as s:  # doctest: +SKIP
    ...     s.get("http://127.0.0.1:8080/health")

    A ``timeout=`` given to a request replaces the policy's connect and read
    timeouts for it; the deadline still bounds the whole call.  Mounting your
    own adapter keeps the retries but loses the total-time cutoff, which needs
    tether's adapter.  With ``stream=True`` the cutoff covers the call up to
    the response headers; reading the body is then up to you.

    The session keeps its budget, breakers and health records in ``.guard``,
    its own unless one is given to share (``tether.Session(guard=other.guard)``).
    """

    def __init__(self, policy: RetryPolicy | None = None, *, guard: Guard | None = None) -> None:
        super().__init__()
        self.guard = guard_for(policy, guard)
        self.mount("http://", _Adapter())
        self.mount("https://", _Adapter())

    @property
    def policy(self) -> RetryPolicy:
        """The guard's policy; setting another gives the session a new, empty guard."""
        return self.guard.policy

    @policy.setter
    def policy(self, policy: RetryPolicy) -> None:
        self.guard = Guard(policy)

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        """Before requests' own rule (which strips ``Authorization`` alone, and keeps it
        from http:80 to https:443), drop every credential header once a redirect leaves
        the origin.  The hop's headers are copied from the one before it, so what is
        dropped stays dropped for the rest of the chain.  requests rebuilds ``Cookie``
        (from the jar, for the new URL) and ``Proxy-Authorization`` (from the proxy's
        URL) for each hop itself, before this runs: those are its own."""
        if not same_origin(response.request.url or "", prepared_request.url or ""):
            extra = self.guard.policy.sensitive_headers
            drop_sensitive(prepared_request.headers, extra, keep=_REBUILT_BY_REQUESTS)
        super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        me = get_ident()
        timer = _timers.get(me) or _cutoff.timer(me)
        if timer.at != _INF:
            # A redirect followed inside an attempt: part of that attempt.
            return super().send(request, **kwargs)
        # The steady path (issue 71 §5): an endpoint in the healthy steady state is counted
        # into its guard's Steady record, with no call of the guard's or the timer's;
        # anything else, a caller's timeout included, goes the general way (_send).
        key = endpoint_key(request.url or "")
        guard = self.guard
        s = guard.steady.get(key, _UNSETTLED)
        now = _monotonic()
        try:
            user_timeout = kwargs["timeout"]  # Session.request always passes it
        except KeyError:
            user_timeout = None
        if now >= s.end or user_timeout is not None:
            return self._send(request, kwargs, key, timer)
        next(s.firsts)  # the first attempt, counted for the budget
        t = guard.first_timeouts
        last = _last_timeout[0]
        kwargs["timeout"] = last[1] if last[0] is t else _timeout(t, None)
        # timer.arm(t.total), without its call: this thread's timer, no object made per call
        at = timer.at = now + t.total
        timer.socks = []
        if at < _until[0]:  # sooner than the watchdog would look: wake it
            _cutoff.wake()
        try:
            response = requests.Session.send(self, request, **kwargs)
        except Exception as exc:
            error = exc
        except BaseException:
            timer.at = _INF
            guard.breaker_release(key)  # as Call.abandon() does
            raise
        else:
            timer.at = _INF  # timer.disarm()
            code = response.status_code
            if code >= 400:
                del kwargs["timeout"]
                answered = (response, None, False)
                return self._retrying(request, kwargs, None, (key, now, _current()), answered)
            done = _monotonic()
            if done < s.end:
                next(s.oks)  # the success, counted in the breaker's window
                s.health.last_success_at = done
                if done >= s.end:  # a failure was recorded meanwhile: this success follows it
                    guard.record(key, None, done, sampled=False)
            else:
                done = guard.first_succeeded(key)
            if SINKS:
                hand_on(key, request.method or "GET", None, code, done - now, 1)  # upper case
            if type(response) is requests.Response:
                response.__class__ = _Response  # as _redacting() does, without the call
                return response
            return _redacting(response)
        timer.at = _INF
        # The full loop goes on outside the handler of the attempt's exception: the error
        # it raises has no __context__.
        del kwargs["timeout"]
        raised = (None, error, timer.fired)
        return self._retrying(request, kwargs, None, (key, now, _current()), raised)

    def _send(
        self,
        request: requests.PreparedRequest,
        kwargs: dict[str, Any],
        key: str,
        timer: _cutoff.Timer,
    ) -> requests.Response:
        """A call off the steady path: the guard's fast path (issue 46 §5) for a first
        attempt, which settles the endpoint again once it works, else the full loop."""
        user_timeout = kwargs.pop("timeout", None)
        guard = self.guard
        # The fast path (issue 46 §5): a first attempt made here, with no Call, closure or
        # Outcome; what did not simply work goes on in the full loop.
        first = guard.fast_first(key)
        if first is None:
            return self._retrying(request, kwargs, user_timeout, None, None)
        t = guard.first_timeouts
        if user_timeout is None and (last := _last_timeout[0])[0] is t:
            timeout = last[1]  # _timeout()'s answer, without its call
        else:
            timeout = _timeout(t, user_timeout)
        timer.arm(t.total)  # this thread's timer, armed again: no object made per call
        error: Exception | None = None
        try:
            response = requests.Session.send(self, request, timeout=timeout, **kwargs)
        except Exception as exc:
            error = exc
        except BaseException:
            guard.breaker_release(first[0])  # as Call.abandon() does
            raise
        finally:
            timer.disarm()
        if error is not None:
            made = (None, error, timer.fired)
            return self._retrying(request, kwargs, user_timeout, first, made)
        code = response.status_code
        if code >= 400:
            return self._retrying(request, kwargs, user_timeout, first, (response, None, False))
        fast_succeeded(guard, first, request.method or "GET", code)  # prepared: upper case
        if user_timeout is None:
            guard.settle(key)
        return _redacting(response)

    def _retrying(
        self,
        request: requests.PreparedRequest,
        kwargs: dict[str, Any],
        user_timeout: Any,
        first: First | None,
        made: tuple[requests.Response | None, BaseException | None, bool] | None,
    ) -> requests.Response:
        """The full loop; ``first``: the fast path's first attempt, which did not simply
        work, and ``made``: what it answered or raised, and whether its timer fired."""
        guard = self.guard
        call = Call(
            guard.policy,
            request.method or "GET",
            request.url or "",
            headers=request.headers,
            replayable=_replayable(request.body),
            guard=guard,
            first=first,
        )

        def attempt(t: Timeouts) -> requests.Response:
            me = get_ident()  # a hedge's attempt runs in a thread of its own
            timer = _timers.get(me) or _cutoff.timer(me)
            timer.arm(t.total)
            try:
                return requests.Session.send(
                    self, request, timeout=_timeout(t, user_timeout), **kwargs
                )
            except Exception:
                if timer.fired:
                    call.mark_cut()
                raise
            finally:
                timer.disarm()

        went = None if made is None else call.first_outcome(*made[:2], _status, made[2])
        outcome = run_sync(call, attempt, _status, _discard, went)
        if outcome.response is not None:
            return _redacting(outcome.response)
        error = library_error(call, outcome, _ERRORS, request)
        # requests and urllib3 name the URL they failed on, user:password@ and query
        # included, in the message and in every exception it chains.
        redact_exception(error)
        raise error


_REBUILT_BY_REQUESTS = frozenset({"cookie", "proxy-authorization"})


def _redacting(response: requests.Response) -> requests.Response:
    """``response`` whose ``raise_for_status()`` says ``for url: http://alice:***@...``
    rather than the URL's credentials and secret query values."""
    if type(response) is requests.Response:
        response.__class__ = _Response  # no allocation per response
        return response
    original = response.raise_for_status  # a subclass of someone else's: wrap the method

    def raise_for_status() -> None:
        try:
            original()
        except requests.HTTPError as exc:
            redact_exception(exc)
            raise

    response.raise_for_status = raise_for_status  # type: ignore[method-assign]
    return response


class _Response(requests.Response):
    """A requests ``Response`` whose ``HTTPError`` has its URL redacted."""

    def raise_for_status(self) -> None:
        try:
            super().raise_for_status()
        except requests.HTTPError as exc:
            redact_exception(exc)
            raise


class CircuitOpenError(requests.ConnectionError, _errors.CircuitOpenError):
    """Both ``requests.ConnectionError`` and ``tether.CircuitOpenError``."""


class BulkheadFullError(requests.ConnectionError, _errors.BulkheadFullError):
    """Both ``requests.ConnectionError`` and ``tether.BulkheadFullError``."""


class ThrottledError(requests.ConnectionError, _errors.ThrottledError):
    """Both ``requests.ConnectionError`` and ``tether.ThrottledError``."""


class DeadlineExceededError(requests.Timeout, _errors.DeadlineExceededError):
    """Both ``requests.Timeout`` and ``tether.DeadlineExceededError``."""


class _TotalTimeout(requests.ReadTimeout):
    """An attempt outlived the policy's ``total``: a read timeout, in requests' words."""


def _rebuild(error: BaseException, message: str, _request: Any) -> BaseException | None:
    if not isinstance(error, requests.RequestException):
        return None
    try:
        return type(error)(message, request=error.request, response=error.response)
    except TypeError:  # a subclass with its own constructor
        return None


_ERRORS = Errors(
    circuit_open=CircuitOpenError,
    bulkhead_full=BulkheadFullError,
    throttled=ThrottledError,
    deadline=DeadlineExceededError,
    total_timeout=_TotalTimeout,
    new=lambda cls, message, request: cls(message, request=request),
    # A socket tether's cutoff shut raises a ConnectionError, not a Timeout.
    own_timeout=lambda error: isinstance(error, requests.Timeout),
    rebuild=_rebuild,
)


def _status(response: requests.Response) -> tuple[int, Any]:
    return response.status_code, response.headers


def _discard(response: requests.Response) -> None:
    response.close()


def _replayable(body: Any) -> bool:
    return body is None or isinstance(body, (bytes, str))


def _timeout(t: Timeouts, user: Any) -> tuple[float | None, float | None]:
    if user is None and (last := _last_timeout[0])[0] is t:  # a guard's first attempts share t
        return last[1]
    connect, read = t.connect, t.read
    if user is not None:
        uc, ur = user if isinstance(user, tuple) else (user, user)
        connect = min(math.inf if uc is None else uc, t.total)
        read = min(math.inf if ur is None else ur, t.total)
    timeout = (None if connect == math.inf else connect, None if read == math.inf else read)
    if user is None:
        _last_timeout[0] = (t, timeout)
    return timeout


_last_timeout: list[tuple[Timeouts | None, tuple[float | None, float | None]]] = [
    (None, (None, None))
]
"""The last policy timeouts given without the caller's, and requests' timeout for them."""


# -- the cutoff: every connection registers its socket with the attempt's timer --


class _Watched:
    sock: Any
    _getresponse: Any
    """The base class's getresponse, named once rather than found by super() per call."""

    def getresponse(self) -> Any:
        timer = _timers.get(get_ident())
        if timer is not None and timer.at != _INF and (sock := self.sock) is not None:
            timer.watch(sock)
        return self._getresponse()


class _HTTPConnection(_Watched, HTTPConnection):
    _getresponse = HTTPConnection.getresponse


class _HTTPSConnection(_Watched, HTTPSConnection):
    _getresponse = HTTPSConnection.getresponse


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _Adapter(HTTPAdapter):
    # init_poolmanager and proxy_manager_for are requests' documented seams; urllib3's
    # pool_classes_by_scheme and ConnectionCls are public but undocumented, so
    # tests/retry/test_private_seams.py names them.
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, ProxyManager):  # not SOCKS, which has its own pools
            manager.pool_classes_by_scheme = _POOLS
        return manager
