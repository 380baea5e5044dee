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
from typing import TYPE_CHECKING

from tether._kinds import Kind
from tether._retry._backoff import JITTERS, Jitter, backoff_delay

if TYPE_CHECKING:
    from tether._retry._hooks import BreakerChange, GiveUpDetails, HealthChange, RetryDetails

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

    def __post_init__(self) -> None:
        _check(self.failures >= 1, "breaker.failures", self.failures, "must be at least 1")
        _check(0 < self.ratio <= 1, "breaker.ratio", self.ratio, "must be in (0, 1]")
        _check(self.window >= 1, "breaker.window", self.window, "must be at least 1 second")
        _check(self.min_calls >= 1, "breaker.min_calls", self.min_calls, "must be at least 1")
        _check(self.cooldown >= 0, "breaker.cooldown", self.cooldown, "must be 0 or more")


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

    def __post_init__(self) -> None:
        _check(self.attempts >= 1, "attempts", self.attempts, "must be at least 1")
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
