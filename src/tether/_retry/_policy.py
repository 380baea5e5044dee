"""``RetryPolicy``: what to retry, how long to wait, and when to stop.

A policy is a frozen value and holds no state: the retry budget, circuit
breakers and health records it governs live in a :class:`tether.Guard`, which
each owner of a policy (a session, a transport, a decorated function) keeps.
"""

from __future__ import annotations

import dataclasses
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from tether._kinds import Kind
from tether._retry._backoff import JITTERS, Jitter, backoff_delay

if TYPE_CHECKING:
    from tether._retry._hooks import (
        BreakerChange,
        GiveUpDetails,
        HealthChange,
        HedgeDetails,
        RetryDetails,
    )

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
"""RFC 9110 section 9.2.2: repeating these has the same effect as sending them once."""


def _check(ok: bool, name: str, value: object, rule: str) -> None:
    if not ok or (isinstance(value, float) and math.isnan(value)):
        raise ValueError(f"RetryPolicy {name}={value!r}: {rule}")


_TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
"""RFC 9110's token: what a header's name is made of."""


def _header_names(given: object) -> frozenset[str]:
    """``sensitive_headers`` as lower-case names, or a ValueError that names the field."""
    one = isinstance(given, (str, bytes))  # a string is iterable, letter by letter
    rule = "must be a collection of header names, such as {'X-Tenant'}"
    _check(isinstance(given, Iterable) and not one, "sensitive_headers", given, rule)
    names = list(given)  # type: ignore[call-overload]
    for name in names:
        ok = isinstance(name, str) and _TOKEN.fullmatch(name) is not None
        _check(ok, "sensitive_headers", given, f"{name!r} is not a header name")
    return frozenset(name.lower() for name in names)


@dataclass(frozen=True, slots=True)
class Budget:
    """A retry budget per host, after Google SRE's, gRPC's retry throttling and Envoy's.

    Over any ``window`` seconds, retries to one host may number at most
    ``ratio`` of the first attempts to it, plus ``per_second * window``, so
    that a quiet client can still retry.  An outage then costs at most about
    ``1 + ratio`` attempts per call (plus the floor), not ``attempts``.  The
    floor of 5 a second matters under load too: with 10% of calls failing
    once, riding them out takes a little over 10% in retries.
    """

    ratio: float = 0.1
    per_second: float = 5.0
    window: float = 10.0

    def __post_init__(self) -> None:
        _check(self.ratio >= 0, "budget.ratio", self.ratio, "must be 0 or more")
        _check(self.per_second >= 0, "budget.per_second", self.per_second, "must be 0 or more")
        _check(self.window >= 1, "budget.window", self.window, "must be at least 1 second")


@dataclass(frozen=True, slots=True)
class Breaker:
    """A circuit breaker per host.

    It opens after ``failures`` consecutive retryable failures (refusals,
    resets, timeouts, 502/503/504), or when at least ``min_calls`` calls in
    ``window`` seconds failed at ``ratio`` or more.  While open, calls fail at
    once with ``circuit.open``; after ``cooldown`` seconds one trial call goes
    through (half-open) and its outcome closes or reopens the circuit.  The
    cool-down is short by default because a trial costs one request, while a
    long cool-down delays recovery by as much.
    """

    failures: int = 5
    ratio: float = 0.5
    window: float = 10.0
    min_calls: int = 20
    cooldown: float = 1.0
    slow_call: float | None = None
    """Seconds: an attempt that takes longer counts as slow (``None``: slowness is not
    counted), after resilience4j's ``slowCallDurationThreshold``."""
    slow_ratio: float = 0.5
    """The breaker also opens when at least ``min_calls`` attempts in ``window`` were
    made and this share of them or more were slow (resilience4j's
    ``slowCallRateThreshold``)."""

    def __post_init__(self) -> None:
        if self.slow_call is not None:
            _check(self.slow_call > 0, "breaker.slow_call", self.slow_call, "must be more than 0")
        _check(0 < self.slow_ratio <= 1, "breaker.slow_ratio", self.slow_ratio, "must be in (0, 1]")
        _check(self.failures >= 1, "breaker.failures", self.failures, "must be at least 1")
        _check(0 < self.ratio <= 1, "breaker.ratio", self.ratio, "must be in (0, 1]")
        _check(self.window >= 1, "breaker.window", self.window, "must be at least 1 second")
        _check(self.min_calls >= 1, "breaker.min_calls", self.min_calls, "must be at least 1")
        _check(self.cooldown >= 0, "breaker.cooldown", self.cooldown, "must be 0 or more")


@dataclass(frozen=True, slots=True)
class Hedge:
    """Hedged requests, after gRPC's hedging policy (proposal A6).

    When an attempt has had no answer for the hedge delay, another is sent beside it,
    and so on up to ``max_attempts`` in all (at most 5); the first good answer wins and
    the others are cancelled.  The delay is ``delay`` seconds, or the endpoint's
    ``percentile`` of its last 256 successful attempts' latency once ``min_samples``
    are known (``delay`` until then if given; no hedging until then if not).  A failure
    worth a retry sends the next hedge at once; any other ends the call; when every
    attempt has failed the call ends with the last failure, with no retries after.
    Only calls safe to send twice are hedged (the retry rules: an idempotent method or
    an ``Idempotency-Key``, a body that can be sent again); each hedge spends the retry
    budget and passes the breaker; a server's pushback (429, 503, ``Retry-After``)
    stops further hedges.  The deadline cancels the attempts in flight.  Async paths
    only (httpx's ``AsyncTransport``, aiohttp, gRPC's ``AsyncRetryInterceptor`` for
    the methods it names idempotent, ``@tether.retry`` on a coroutine function): the
    sync ones do not hedge, as each hedge would take a thread.
    """

    delay: float | None = None
    percentile: float | None = None
    max_attempts: int = 2
    min_samples: int = 20

    def __post_init__(self) -> None:
        given = self.delay is not None or self.percentile is not None
        _check(given, "hedge", self, "give a delay, a percentile, or both")
        if self.delay is not None:
            _check(self.delay >= 0, "hedge.delay", self.delay, "must be 0 or more")
        if self.percentile is not None:
            ok = 0 < self.percentile < 100
            _check(ok, "hedge.percentile", self.percentile, "must be between 0 and 100")
        _check(
            2 <= self.max_attempts <= 5, "hedge.max_attempts", self.max_attempts, "must be 2 to 5"
        )
        _check(self.min_samples >= 1, "hedge.min_samples", self.min_samples, "must be 1 or more")


ALGORITHMS = ("gradient2", "aimd")


@dataclass(frozen=True, slots=True)
class Adaptive:
    """A concurrency limit that adapts to the endpoint's latency (for :class:`Bulkhead`).

    ``gradient2`` (after Netflix's Gradient2) scales the limit by how far each attempt's
    latency rises above the endpoint's no-load latency (the least of its last 600),
    with ``tolerance`` (1.5: latency may grow by half before the limit falls) and
    ``smoothing``, and halves it (smoothed) on a timeout or overload answer; ``aimd``
    adds one while busy and cuts to ``backoff`` of itself on each timeout or overload
    answer.  The limit stays within
    ``min_limit`` and ``max_limit``; it starts at the bulkhead's ``limit``.
    """

    algorithm: Literal["gradient2", "aimd"] = "gradient2"
    min_limit: int = 1
    max_limit: int = 200
    tolerance: float = 1.5
    smoothing: float = 0.2
    backoff: float = 0.9

    def __post_init__(self) -> None:
        ok = self.algorithm in ALGORITHMS
        _check(ok, "adaptive.algorithm", self.algorithm, f"must be one of {ALGORITHMS}")
        _check(self.min_limit >= 1, "adaptive.min_limit", self.min_limit, "must be 1 or more")
        ok = self.max_limit >= self.min_limit
        _check(ok, "adaptive.max_limit", self.max_limit, "must be min_limit or more")
        _check(self.tolerance >= 1, "adaptive.tolerance", self.tolerance, "must be 1 or more")
        ok = 0 < self.smoothing <= 1
        _check(ok, "adaptive.smoothing", self.smoothing, "must be in (0, 1]")
        _check(0 < self.backoff < 1, "adaptive.backoff", self.backoff, "must be in (0, 1)")


@dataclass(frozen=True, slots=True)
class Bulkhead:
    """At most ``limit`` attempts in flight per endpoint; more wait in a queue.

    Up to ``queue`` callers wait, first come first served, each at most
    ``queue_timeout`` seconds (and never past the call's deadline); a caller that finds
    the queue full, or waits too long, fails at once with ``bulkhead.full``.  A slot is
    held for one attempt, not across the waits between attempts.  With ``adaptive``,
    ``limit`` is where the adaptive limit starts.
    """

    limit: int = 16
    queue: int = 16
    queue_timeout: float = 1.0
    adaptive: Adaptive | None = None

    def __post_init__(self) -> None:
        _check(self.limit >= 1, "bulkhead.limit", self.limit, "must be 1 or more")
        _check(self.queue >= 0, "bulkhead.queue", self.queue, "must be 0 or more")
        ok = self.queue_timeout >= 0
        _check(ok, "bulkhead.queue_timeout", self.queue_timeout, "must be 0 or more")
        a = self.adaptive
        if a is not None:
            ok = a.min_limit <= self.limit <= a.max_limit
            _check(ok, "bulkhead.limit", self.limit, "must be within adaptive's min and max")


@dataclass(frozen=True, slots=True)
class Throttle:
    """Client-side throttling per endpoint, from Google's SRE book (chapter 21).

    Over the last ``window`` seconds, with ``requests`` the attempts this client wanted
    to send and ``accepts`` those the endpoint took, the next attempt is refused here,
    with ``throttle.rejected``, with probability
    ``max(0, (requests - k * accepts) / (requests + 1))``.  ``k = 2`` lets the endpoint
    see up to twice what it accepts, enough to show it has recovered.
    """

    k: float = 2.0
    window: float = 120.0

    def __post_init__(self) -> None:
        _check(self.k >= 1, "throttle.k", self.k, "must be 1 or more")
        ok = 1 <= self.window < math.inf  # counts are kept a second at a time, for window
        _check(ok, "throttle.window", self.window, "must be at least 1 second, and finite")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-attempt timeouts in seconds, already cut to what the deadline leaves."""

    connect: float
    read: float
    total: float


@dataclass(frozen=True, slots=True, repr=False)
class RetryPolicy:
    """How tether retries a call.  Every default has a reason:

    - ``attempts=3``: a retry or two rides out a blip; more only multiplies
      load on a server that is already failing.
    - ``deadline=60``: the whole call, attempts and waits together, never
      takes longer, so nothing hangs.  ``None`` removes it.
    - ``connect=5``, ``read=30``: per attempt; a connect needs one round trip,
      so 5 s means the host is not there; a read waits for the server's work.
      ``total`` bounds one attempt from start to the last byte (default: what
      the deadline leaves), which a per-read timeout cannot do against a server
      that trickles bytes.
    - ``base=0.1``, ``multiplier=2``, ``cap=5``, ``jitter="full"``: see
      :func:`backoff_delay`.
    - ``statuses``: 429, 502, 503 and 504 say "not now"; a 500 is usually a bug.
    - ``kinds``: which failure kinds retry; ``None`` means those whose
      ``Failure.retryable`` is true.
    - ``retry_unsafe=False``: a failure after the request may have reached the
      server (``Failure.request_sent``) is retried only for idempotent
      methods or a request with an ``Idempotency-Key`` header.
    - ``retry_after_cap=30``: a ``Retry-After`` up to this is honoured; a
      longer one ends the call at once, as does one past the deadline.
    - ``budget``, ``breaker``: per-host limits (``None`` switches one off).
    - ``unhealthy_after=3``: consecutive failed attempts before ``on_unhealthy``.
    - ``sensitive_headers``: header names to treat as credentials besides
      tether's own (``Authorization``, ``Cookie``, ``X-Api-Key``, any name that
      says token, key, secret...): a redirect that leaves the first URL's
      scheme, host or port drops them all.
    - ``clock``, ``sleep``, ``async_sleep``, ``rand``: injectable for tests.
    - ``hedge``, ``bulkhead``, ``throttle``: answers to overload, off by default
      (:class:`Hedge`, :class:`Bulkhead`, :class:`Throttle`).
    - ``on_hedge``: a hook told of each hedged attempt (:class:`HedgeDetails`).
    - ``retry_if``: a predicate on the exception an attempt raised (an HTTP error
      raised for a status included) that, when given, decides whether it is worth a
      retry in place of ``kinds`` and ``statuses``; a response handed back is still
      judged by ``statuses``; tether's other rules (idempotency, deadline, budget,
      breaker) still apply.
    """

    attempts: int = 3
    deadline: float | None = 60.0
    connect: float = 5.0
    read: float = 30.0
    total: float | None = None
    base: float = 0.1
    multiplier: float = 2.0
    cap: float = 5.0
    jitter: Jitter = "full"
    statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    kinds: frozenset[Kind] | None = None
    retry_unsafe: bool = False
    retry_after_cap: float = 30.0
    budget: Budget | None = Budget()
    breaker: Breaker | None = Breaker()
    unhealthy_after: int = 3
    sensitive_headers: frozenset[str] = frozenset()
    """More header names a redirect to another origin drops, kept in lower case."""
    on_retry: Callable[[RetryDetails], object] | None = None
    on_give_up: Callable[[GiveUpDetails], object] | None = None
    on_breaker_change: Callable[[BreakerChange], object] | None = None
    on_unhealthy: Callable[[HealthChange], object] | None = None
    on_recovered: Callable[[HealthChange], object] | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], object] = time.sleep
    async_sleep: Callable[[float], Awaitable[object]] | None = None
    """``None`` means :func:`asyncio.sleep`."""
    rand: Callable[[], float] = random.random
    hedge: Hedge | None = None
    bulkhead: Bulkhead | None = None
    throttle: Throttle | None = None
    retry_if: Callable[[BaseException], bool] | None = None
    on_hedge: Callable[[HedgeDetails], object] | None = None
    """Told of each hedge a :class:`Hedge` sends, before it goes."""

    def __post_init__(self) -> None:
        _check(self.attempts >= 1, "attempts", self.attempts, "must be at least 1")
        alone = self.hedge is None or (self.bulkhead is None and self.throttle is None)
        _check(
            alone,
            "hedge",
            self.hedge,
            "cannot be combined with a bulkhead or a throttle yet (a hedged call has several "
            "attempts in flight, which they count as one)",
        )
        if self.deadline is not None:
            _check(self.deadline > 0, "deadline", self.deadline, "must be more than 0")
        for name in ("connect", "read", "base", "cap", "retry_after_cap"):
            value = getattr(self, name)
            _check(value >= 0, name, value, "must be 0 or more")
        if self.total is not None:
            _check(self.total > 0, "total", self.total, "must be more than 0")
        _check(self.multiplier >= 1, "multiplier", self.multiplier, "must be at least 1")
        _check(self.jitter in JITTERS, "jitter", self.jitter, f"must be one of {JITTERS}")
        _check(self.unhealthy_after >= 1, "unhealthy_after", self.unhealthy_after, "must be 1+")
        object.__setattr__(self, "statuses", frozenset(self.statuses))
        for status in self.statuses:
            ok = isinstance(status, int) and 100 <= status <= 599
            _check(ok, "statuses", set(self.statuses), f"{status!r} is not an HTTP status code")
        object.__setattr__(self, "sensitive_headers", _header_names(self.sensitive_headers))
        if self.kinds is not None:
            try:
                kinds = frozenset(Kind(k) for k in self.kinds)
            except ValueError as exc:  # name the field, like every other check
                raise ValueError(f"RetryPolicy kinds={self.kinds!r}: {exc}") from None
            object.__setattr__(self, "kinds", kinds)

    def __repr__(self) -> str:
        """Only what differs from the defaults: ``RetryPolicy(attempts=5, deadline=2.0)``."""
        changed = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in dataclasses.fields(self)
            if f.init and getattr(self, f.name) != f.default
        ]
        return f"RetryPolicy({', '.join(changed)})"

    def replace(self, **changes: object) -> RetryPolicy:
        """A copy with ``changes`` applied (a policy holds no state to carry over)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def delay(self, retry: int, previous: float | None = None) -> float:
        """The backoff before the ``retry``-th retry, drawn with this policy's ``rand``."""
        return backoff_delay(
            retry,
            base=self.base,
            multiplier=self.multiplier,
            cap=self.cap,
            jitter=self.jitter,
            rand=self.rand,
            previous=previous,
        )
