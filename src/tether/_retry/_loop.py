"""The one retry loop, for every integration, sync and async.

``Call`` holds the decisions (pure but for its owner's :class:`Guard`); the two
loops only send, wait and hand outcomes to it, so sync and async differ in
nothing but ``await``.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeAlias, TypeVar

from tether._catalogue import CATALOGUE
from tether._classify import classify, classify_status, failure_for
from tether._classify._http import status_kind
from tether._failure import Failure
from tether._hostport import InvalidHostPort, join_hostport, split_hostport
from tether._kinds import Kind, Layer
from tether._log import logger as _log
from tether._plural import count
from tether._redact import redact_url
from tether._retry import _testing
from tether._retry._admission import EndpointLimits
from tether._retry._ended import SINKS
from tether._retry._errors import OWN_ERRORS, TetherError
from tether._retry._hedging import hedge_delay, run_hedged
from tether._retry._hooks import GiveUpDetails, RetryDetails, emit
from tether._retry._outcome import EXHAUSTED as _EXHAUSTED
from tether._retry._outcome import Outcome
from tether._retry._policy import IDEMPOTENT_METHODS, RetryPolicy, Timeouts
from tether._retry._record import CallRecord
from tether._retry._state import Guard, endpoint_of

__all__ = [  # Outcome, SINKS: where callers find them
    "SINKS",
    "Call",
    "First",
    "Outcome",
    "endpoint_key",
    "fast_first",
    "fast_succeeded",
    "hand_on",
    "run_async",
    "run_sync",
]

R = TypeVar("R")
_wall = time.time
_overrides = _testing.ACTIVE.get
_new_record = tuple.__new__
"""Makes a :class:`CallRecord` without its generated ``__new__`` (a Python call)."""

_TIMEOUTS = frozenset(
    {Kind.CONNECT_TIMEOUT, Kind.READ_TIMEOUT, Kind.WRITE_TIMEOUT, Kind.TLS_TIMEOUT}
)


def run_sync(
    call: Call,
    send: Callable[[Timeouts], R],
    status: Callable[[R], tuple[int, Any]] | None = None,
    discard: Callable[[R], object] | None = None,
    first: Outcome[R] | None = None,
) -> Outcome[R]:
    """Send until success or until ``call`` gives up; never raises what ``send`` raises.

    ``first``: the first attempt's outcome, when the integration's fast path made that
    attempt itself (``call`` made with ``first_at``): the loop goes on from it."""
    outcome: Outcome[R] | None = None
    for _ in range(call.max_attempts):
        if first is not None:
            outcome, first = first, None
        elif (stop := call.begin() if call.limits is None else call.begin_sync()) is not None:
            outcome = call.stop(outcome, stop)
            if SINKS:
                call.ended(outcome, status)
            return outcome
        else:
            try:
                response = send(call.timeouts())
            except Exception as exc:
                outcome = Outcome(None, exc, call.classify(exc))
            except BaseException:
                call.abandon()
                raise
            else:
                outcome = Outcome(response, None, call.judge(*status(response)) if status else None)
                if status is None:
                    call.succeeded()  # judge() records the outcome of a status
        if (delay := call.failed(outcome)) is None:
            if SINKS:
                call.ended(outcome, status)
            return outcome
        if outcome.response is not None and discard is not None:
            discard(outcome.response)
        call.wait_sync(delay)
    raise AssertionError("unreachable: failed() stops at the last attempt")


async def run_async(
    call: Call,
    send: Callable[[Timeouts], Awaitable[R]],
    status: Callable[[R], tuple[int, Any]] | None = None,
    discard: Callable[[R], Awaitable[object]] | None = None,
    first: Outcome[R] | None = None,
) -> Outcome[R]:
    """:func:`run_sync`, awaiting ``send``, ``discard`` and the wait; a policy with a
    :class:`~tether.Hedge` races attempts for a call safe to send twice (such a policy
    takes no fast path, so ``first`` is None then)."""
    if call.policy.hedge is not None and (delay := hedge_delay(call)) is not None:
        return await run_hedged(call, delay, send, status, discard)
    outcome: Outcome[R] | None = None
    for _ in range(call.max_attempts):
        if first is not None:
            outcome, first = first, None
        elif (
            stop := call.begin() if call.limits is None else await call.begin_async()
        ) is not None:
            outcome = call.stop(outcome, stop)
            if SINKS:
                call.ended(outcome, status)
            return outcome
        else:
            try:
                response = await send(call.timeouts())
            except Exception as exc:
                outcome = Outcome(None, exc, call.classify(exc))
            except BaseException:
                call.abandon()
                raise
            else:
                outcome = Outcome(response, None, call.judge(*status(response)) if status else None)
                if status is None:
                    call.succeeded()  # judge() records the outcome of a status
        if (delay := call.failed(outcome)) is None:
            if SINKS:
                call.ended(outcome, status)
            return outcome
        if outcome.response is not None and discard is not None:
            await discard(outcome.response)
        await call.wait_async(delay)
    raise AssertionError("unreachable: failed() stops at the last attempt")


class Call:
    """One logical call under a policy: every decision the loop needs."""

    __slots__ = (
        "_at",
        "_attempt_at",
        "_by_failure",
        "_cut",
        "_deadline_at",
        "_headers",
        "_held",
        "_idempotent",
        "_known",
        "_override",
        "_previous_delay",
        "_raw_url",
        "_start",
        "_url",
        "endpoint",
        "guard",
        "limits",
        "made",
        "max_attempts",
        "method",
        "policy",
        "replayable",
    )

    def __init__(
        self,
        policy: RetryPolicy,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        replayable: bool = True,
        idempotent: bool | None = None,
        endpoint: str | None = None,
        by_failure: bool = False,
        guard: Guard | None = None,
        first: First | None = None,
    ) -> None:
        """``guard``: the owner's per-endpoint records (default: new ones, for this call
        alone).  ``by_failure``: the call's target is unknown (a decorated callable), so
        its records are keyed by the endpoint its first failure names, ``endpoint`` if none.

        ``first``: a fast path made the first attempt itself (:func:`fast_first`); the
        call is made as :meth:`begin` left it then, keyed by that attempt's endpoint, for
        :meth:`first_outcome` and then :func:`run_sync` or :func:`run_async` to go on
        from what the attempt did."""
        self.policy = policy
        self.guard = guard if guard is not None else Guard(policy)
        self.limits = self.guard.limits
        self.method = method.upper()
        self._raw_url = url
        self._url: str | None = None
        self.endpoint = first[0] if first is not None else endpoint or _endpoint(url)
        self._by_failure = by_failure
        self._known = not by_failure
        self._headers = headers
        self._idempotent = idempotent
        self.replayable = replayable
        self._override = _testing.current() if first is None else first[2]
        cap = self._override.attempts if self._override else None
        self.max_attempts = min(policy.attempts, cap) if cap else policy.attempts
        self.made = 0
        self._cut = False
        self._previous_delay: float | None = None
        self._start = policy.clock() if first is None else first[1]
        deadline = policy.deadline
        self._deadline_at = math.inf if deadline is None else self._start + deadline
        if first is not None:
            self._attempt_at, self.made = self._start, 1

    def first_outcome(
        self,
        response: R | None,
        error: BaseException | None,
        status: Callable[[R], tuple[int, Any]] | None = None,
        cut: bool = False,
    ) -> Outcome[R]:
        """The outcome of the fast path's first attempt, which did not simply work: what
        it answered (judged by ``status``) or raised (``cut``: by tether's own timer), as
        the loop would have made it; :func:`run_sync` or :func:`run_async` goes on from it."""
        if error is None:
            assert response is not None
            return Outcome(response, None, self.judge(*status(response)) if status else None)
        if cut:
            self._cut = True
        return Outcome(None, error, self.classify(error))

    def safe(self) -> bool:
        """May this call be repeated once the server may have acted on it?

        Worked out only after such a failure: most calls never ask.
        """
        if self.policy.retry_unsafe:
            return True
        if self._idempotent is not None:
            return self._idempotent
        if self.method in IDEMPOTENT_METHODS:
            return True
        return self._headers is not None and _has_header(self._headers, "idempotency-key")

    @property
    def url(self) -> str:
        """The URL, redacted; worked out only when a message or hook needs it."""
        if self._url is None:
            self._url = redact_url(self._raw_url)
        return self._url

    # -- before an attempt -----------------------------------------------------

    def begin(self) -> Failure | None:
        """None to go ahead; else the failure that stops the call before this attempt."""
        if self.made == 0 and not self._by_failure:
            # The first attempt, the one every call makes: the deadline (more than 0)
            # cannot have passed yet, and the budget counts it as it admits it.
            if not self.guard.admit(self.endpoint, self._start, first=True):
                return self._circuit_open()
            self._attempt_at = self._start
            self.made = 1
            return None
        p, now = self.policy, self.policy.clock()
        if now >= self._deadline_at:
            return self._failure(
                Kind.DEADLINE_EXCEEDED,
                f"the call's {p.deadline:g} s deadline passed before attempt {self.made + 1}",
            )
        if self._by_failure and not self._known:
            pass  # the endpoint is known only once an attempt fails against it
        elif not self.guard.admit(self.endpoint, now, first=self.made == 0):
            return self._circuit_open()
        self._attempt_at = now
        self.made += 1
        return None

    def _circuit_open(self) -> Failure:
        if (slow := self.guard.breaker_slow_reason(self.endpoint)) is not None:
            return self._failure(
                Kind.CIRCUIT_OPEN,
                f"the circuit for {self.endpoint} is open on slow calls: {slow}; "
                "no request was sent",
            )
        last = self.guard.health(self.endpoint).last_failure
        because = f" (last failure: {last.kind})" if last else ""
        return self._failure(
            Kind.CIRCUIT_OPEN,
            f"the circuit for {self.endpoint} is open after repeated failures{because}; "
            "no request was sent",
        )

    def timeouts(self) -> Timeouts:
        """This attempt's timeouts, cut to what the deadline leaves (``inf``: none).

        The first attempt's are the guard's ``first_timeouts``, the same object for
        every call, so an integration can build its library's timeout value once:
        its total is the whole deadline, counted from the attempt's start rather
        than the call's, which the microseconds between the two cannot matter to.
        """
        if self.made == 1 and self.limits is None:  # limits: it may have queued
            return self.guard.first_timeouts
        left = self._deadline_at - self.policy.clock()
        total = min(self.policy.total or math.inf, max(left, 0.0))
        return Timeouts(min(self.policy.connect, total), min(self.policy.read, total), total)

    # -- a bulkhead and a throttle (policy.bulkhead, policy.throttle) ----------

    def begin_sync(self) -> Failure | None:
        """:meth:`begin` for a guard with ``limits``: the throttle may drop the attempt,
        then it waits in this thread for one of the bulkhead's slots, which the attempt's
        outcome (:meth:`_record`) or :meth:`abandon` frees."""
        at, now = self._limits_at(), self.policy.clock()
        if (dropped := at.throttled(now, self.policy.rand)) is not None:
            return self._failure(Kind.THROTTLE_REJECTED, dropped)
        return self._admitted(at, at.acquire_sync(*self._slot_wait(now)))

    async def begin_async(self) -> Failure | None:
        """:meth:`begin_sync`, awaiting the slot."""
        at, now = self._limits_at(), self.policy.clock()
        if (dropped := at.throttled(now, self.policy.rand)) is not None:
            return self._failure(Kind.THROTTLE_REJECTED, dropped)
        return self._admitted(at, await at.acquire_async(*self._slot_wait(now)))

    def _limits_at(self) -> EndpointLimits:
        """The call's limits, keyed by its endpoint before any attempt (a decorated
        function's stay its own, whatever hosts its failures name)."""
        if self.made == 0:
            assert self.limits is not None
            self._at, self._held = self.limits.at(self.endpoint), 0
        return self._at

    def _slot_wait(self, now: float) -> tuple[float, bool]:
        """How long to wait for a slot, and whether the deadline is what bounds it."""
        bulkhead = self.policy.bulkhead
        if bulkhead is None:
            return 0.0, False
        left = self._deadline_at - now
        return (left, True) if left < bulkhead.queue_timeout else (bulkhead.queue_timeout, False)

    def _admitted(self, at: EndpointLimits, refused: str | None) -> Failure | None:
        if refused is not None:
            return self._failure(Kind.BULKHEAD_FULL, refused)
        held = at.queue is not None
        if (stop := self.begin()) is not None:
            if held:
                at.release()
            return stop
        self._held += held
        self._attempt_at = self.policy.clock()  # after the wait: the attempt's own time
        return None

    def _done(self, failure: Failure | None, now: float) -> None:
        held = self._held > 0
        self._held -= held
        self._at.done(failure, now, now - self._attempt_at, held)

    # -- after an attempt ------------------------------------------------------

    def mark_cut(self) -> None:
        """The attempt under way was ended by tether's own total timer."""
        self._cut = True

    def classify(self, error: BaseException) -> Failure:
        """Classify what an attempt raised, knowing whether tether's timer ended it."""
        cut, self._cut = self._cut, False
        failure = classify(error, url=self._raw_url)
        if cut or failure.kind in _TIMEOUTS:
            left = self._deadline_at - self.policy.clock()
            if left <= 0.005:
                # Cut by tether's timer, the attempt timed out, whatever the library made
                # of its socket being shut (requests: a truncated body): one kind for one
                # event, in every integration.
                seen_kind = (
                    Kind.READ_TIMEOUT if cut and failure.kind not in _TIMEOUTS else failure.kind
                )
                seen = "" if seen_kind is Kind.DEADLINE_EXCEEDED else f": {seen_kind}"
                return self._failure(
                    Kind.DEADLINE_EXCEEDED,
                    f"no complete answer within the call's {self.policy.deadline:g} s deadline "
                    f"(attempt {self.made}{seen})",
                    cause=error,
                )
        if cut:
            return self._failure(
                Kind.READ_TIMEOUT,
                f"no complete answer within the attempt's {self.policy.total:g} s total timeout",
                cause=error,
                layer=Layer.RESPONSE,
            )
        return failure

    def judge(self, status: int, headers: Any = None) -> Failure | None:
        """The failure a response stands for, if its status is one to retry.

        Other error statuses go back to the caller as responses, as without
        tether, but still count against the endpoint's health.
        """
        failure = classify_status(status, headers, url=self._raw_url) if status >= 400 else None
        if failure is not None and status in self.policy.statuses:
            return failure
        self._record(failure, self.policy.clock())
        return None

    def succeeded(self) -> None:
        """An attempt with no status to judge returned: record it as a success."""
        self._record(None, self.policy.clock())

    def _record(self, failure: Failure | None, now: float) -> None:
        if self.limits is not None:
            self._done(failure, now)
        if self._by_failure:
            # Keyed by its failures: a success is recorded only against the endpoint an
            # earlier attempt failed on (where a first attempt went is not known), and
            # none of it feeds the breaker's failure ratio, which would see only the
            # calls that failed at least once.
            if failure is not None and not self._known:
                self._learn(failure, now)
            if self._known:
                self.guard.record(
                    self.endpoint, failure, now, sampled=False, duration=now - self._attempt_at
                )
            return
        self.guard.record(self.endpoint, failure, now, duration=now - self._attempt_at)

    def _learn(self, failure: Failure, now: float) -> None:
        """Take the endpoint the failure names (else keep the fallback) as this call's key."""
        if failure.host:
            self.endpoint = join_hostport(failure.host, failure.port)
        self._known = True
        self.guard.first_attempt(self.endpoint, now)

    def failed(self, outcome: Outcome[Any]) -> float | None:
        """Record the outcome; the wait before the next attempt, or None to stop."""
        failure = outcome.failure
        if failure is None:
            return None  # a success, already recorded by judge()
        p, now = self.policy, self.policy.clock()
        self._record(failure, now)
        delay, reason = self._next(failure, now)
        if reason is not None:
            self._give_up(outcome, reason)
            return None
        emit(
            p.on_retry,
            "retry",
            RetryDetails(
                self.method,
                self.url,
                self.endpoint,
                self.made,
                delay,
                now - self._start,
                failure,
            ),
        )
        self._previous_delay = delay
        return delay

    def refusal(self, failure: Failure) -> str | None:
        """Why ``failure`` is not worth another attempt, whatever the budget, breaker and
        deadline say; None if it is."""
        p = self.policy
        if failure.kind is Kind.DEADLINE_EXCEEDED:
            return _EXHAUSTED
        if p.retry_if is not None and failure.cause is not None:
            # It judges every exception, an HTTP error raised for a status included;
            # a response handed back (no exception) is the statuses' to judge.
            if not p.retry_if(failure.cause):
                return f"retry_if said no to {failure.kind}"
        elif failure.status is not None:
            if failure.status not in p.statuses:
                return f"status {failure.status} is not one the policy retries"
        elif not (failure.kind in p.kinds if p.kinds is not None else failure.retryable):
            return f"{failure.kind} is not worth a retry"
        if failure.request_sent and not self.safe():
            return (
                f"the server may have acted on the {self.method or 'call'} already, and it is "
                "not idempotent (send an Idempotency-Key header, or set retry_unsafe=True)"
            )
        if failure.request_sent and not self.replayable:
            return "the request body cannot be sent again"
        return None

    def _next(self, failure: Failure, now: float) -> tuple[float, str | None]:
        p = self.policy
        if (refused := self.refusal(failure)) is not None:
            return 0.0, refused
        if self.made >= self.max_attempts:
            return 0.0, _EXHAUSTED
        left = self._deadline_at - now
        if (after := failure.retry_after) is not None:
            if after > p.retry_after_cap:
                return 0.0, (
                    f"the server asked to wait {after:g} s, more than the policy's "
                    f"retry_after_cap of {p.retry_after_cap:g} s"
                )
            if after >= left:
                return 0.0, (
                    f"the server asked to wait {after:g} s, past the deadline "
                    f"({left:.1f} s of {p.deadline:g} s left)"
                )
            delay = after
        else:
            delay = p.delay(self.made, self._previous_delay)
            if delay >= left:
                return 0.0, f"waiting {delay:.2f} s would pass the deadline ({left:.2f} s left)"
        opens_at = self.guard.breaker_retry_at(self.endpoint)
        if opens_at is not None and opens_at > now + delay:
            return 0.0, f"the circuit for {self.endpoint} is open"
        if not self.guard.spend_retry(self.endpoint, now):
            return 0.0, f"the retry budget for {self.endpoint} is spent"
        return delay, None

    def stop(self, last: Outcome[R] | None, failure: Failure) -> Outcome[R]:
        """End the call before an attempt; the last attempt's outcome stands if there was one."""
        if last is None:
            outcome: Outcome[R] = Outcome(None, None, failure)
            self._give_up(outcome, failure.detail)
            return outcome
        self._give_up(last, failure.detail)
        return last

    def abandon(self) -> None:
        """An attempt was cancelled: free a half-open trial slot it may hold."""
        if self._known:
            self.guard.breaker_release(self.endpoint)
        if self.limits is not None and self._held:
            self._held -= 1
            self._at.release()

    def _give_up(self, outcome: Outcome[Any], reason: str) -> None:
        outcome.reason = reason
        assert outcome.failure is not None
        emit(
            self.policy.on_give_up,
            "give_up",
            GiveUpDetails(
                self.method,
                self.url,
                self.endpoint,
                self.made,
                self.elapsed(),
                outcome.failure,
                reason,
            ),
        )

    # -- waiting ---------------------------------------------------------------

    def wait_sync(self, delay: float) -> None:
        if self._override is not None:
            self._override.waits.append(delay)
        else:
            self.policy.sleep(delay)

    async def wait_async(self, delay: float) -> None:
        if self._override is not None:
            self._override.waits.append(delay)
            return
        sleep = self.policy.async_sleep
        if sleep is None:
            import asyncio

            sleep = asyncio.sleep
        await sleep(delay)

    # -- reporting -------------------------------------------------------------

    def ended(self, outcome: Outcome[Any], status: Callable[[Any], tuple[int, Any]] | None) -> None:
        """Hand the call's one record to the sinks (reporter, OpenTelemetry).

        Called once per logical call, as it ends with a response or a failure; a call
        cancelled or interrupted (a ``BaseException`` from ``send``) is not recorded.
        A response of status 400 or more handed back to the caller counts as a failure
        of the kind :func:`tether.classify_status` gives it.
        """
        failure = outcome.failure
        kind: Kind | None
        code: int | None
        if failure is not None:
            kind, code = failure.kind, failure.status
        elif status is not None and outcome.response is not None:
            code = status(outcome.response)[0]
            kind = status_kind(code) if code >= 400 else None
        else:
            kind = code = None
        hand_on(
            self.endpoint, self.method, kind, code, self.policy.clock() - self._start, self.made
        )

    def elapsed(self) -> float:
        return self.policy.clock() - self._start

    def summary(self, outcome: Outcome[Any]) -> str:
        """``GET http://… failed after 3 attempts in 1.2 s: connection refused: …``."""
        failure = outcome.failure
        assert failure is not None
        n = self.made
        title = CATALOGUE[failure.kind].title
        title = title[0].lower() + title[1:]
        what = f"{self.method} {self.url}".strip()
        if n == 0:
            return f"{what} was not sent: {title}: {failure.detail}"
        text = (
            f"{what} failed after {count(n, 'attempt')} "
            f"in {self.elapsed():.1f} s: {title}: {failure.detail}"
        )
        if outcome.reason and outcome.reason != _EXHAUSTED and n:
            text += f"; tether stopped because {outcome.reason}"
        return text

    def error(self, outcome: Outcome[Any]) -> TetherError:
        """tether's own error for a call that ended without an exception to re-raise."""
        failure = outcome.failure
        assert failure is not None
        return OWN_ERRORS.get(failure.kind, TetherError)(self.summary(outcome), failure)

    def _failure(
        self,
        kind: Kind,
        detail: str,
        *,
        cause: BaseException | None = None,
        layer: Layer | None = None,
    ) -> Failure:
        try:
            host, port = split_hostport(self.endpoint)
        except InvalidHostPort:  # the key of a target that is not a URL with a port
            host, port = None, None
        return failure_for(
            kind,
            detail,
            url=self._raw_url,
            host=host,
            port=port,
            layer=layer,
            cause=cause,
        )


def hand_on(
    endpoint: str, method: str, kind: Kind | None, status: int | None, seconds: float, made: int
) -> None:
    """Hand one ended call's record to the sinks (:meth:`Call.ended`, and the fast paths'
    successes, which make no :class:`Call`)."""
    record = _new_record(CallRecord, (_wall(), endpoint, method, kind, status, seconds, made))
    try:
        for sink in SINKS:
            sink(record)
    except Exception:  # a sink must not fail a call; each guards itself, this is the net
        _log.debug("tether: a sink of ended calls raised; ignored", exc_info=True)


First: TypeAlias = "tuple[str, float, _testing.Override | None]"
"""A fast path's first attempt: its endpoint, its start in the policy's clock and the
testing override in force then (:func:`fast_first`)."""


def fast_first(guard: Guard, endpoint: str, *, keyed: bool = True) -> First | None:
    """Admit a call's first attempt to ``endpoint`` on the fast path (issue 46 §5): a
    healthy call then costs what it must (the breaker's check, the budget's count, one
    record of its success) and no :class:`Call`, :class:`Outcome` or closure.  None when
    the guard takes no fast path (:attr:`Guard.fast`) or the endpoint's breaker is not
    closed: the full loop decides those.  An attempt that did not simply work goes on in
    a :class:`Call` made with this ``first`` (:meth:`Call.first_outcome`); one that
    worked ends with :func:`fast_succeeded`; one interrupted by a ``BaseException``
    gives back what it held with ``guard.breaker_release(endpoint)``.

    ``keyed=False``: a call keyed by its failures (``Call(by_failure=True)``, a decorated
    callable's): nothing is admitted or counted before its first attempt, as
    :meth:`Call.begin` does for it; ``endpoint`` is the one it falls back on."""
    if keyed:
        return guard.fast_first(endpoint)
    if not guard.fast:
        return None
    overrides = _overrides()  # _testing.current(), without its call
    return endpoint, guard.policy.clock(), overrides[-1] if overrides else None


def fast_succeeded(
    guard: Guard, first: First, method: str, status: int | None, *, keyed: bool = True
) -> None:
    """The fast path's first attempt worked: recorded as :meth:`Call.judge` or
    :meth:`Call.succeeded` and :meth:`Call.ended` would (for a call keyed by its
    failures, ``keyed=False``, nowhere but the sinks: see :meth:`Call._record`)."""
    endpoint = first[0]
    now = guard.first_succeeded(endpoint) if keyed else guard.policy.clock()
    if SINKS:
        hand_on(endpoint, method, None, status, now - first[1], 1)


endpoint_key = functools.lru_cache(maxsize=4096)(endpoint_of)
"""``endpoint_of``, cached: calls repeat the same few URLs, so each is parsed once."""
_endpoint = endpoint_key


def _has_header(headers: Mapping[str, str], name: str) -> bool:
    try:
        if headers.get(name) is not None:
            return True
    except Exception:
        return False
    return any(str(k).lower() == name for k in headers)
