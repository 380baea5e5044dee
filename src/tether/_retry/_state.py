"""``Guard``: what a policy's owner remembers per endpoint: retry budget, breaker, health.

A :class:`~tether.RetryPolicy` is a value; the memory it needs lives here, in
an object each owner (a ``tether.Session``, an httpx transport, an aiohttp
session or middleware, a decorated function) makes for itself, or is given
to share.  All of it is guarded by one lock per guard; each critical section
is a few additions.  Events are sent after the lock is released.  A healthy call
on the fast path takes no lock (:meth:`Guard.fast_first`,
:meth:`Guard.first_succeeded`): it reads the breaker's state as it is and counts
with a window's ``tally``, folded in under the lock when the window is read.
"""

from __future__ import annotations

import enum
import itertools
import math
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tether._failure import Failure
from tether._hostport import default_port, join_hostport
from tether._kinds import Kind, Layer
from tether._plural import count
from tether._retry._admission import Limits, LimitState, ThrottleState
from tether._retry._hooks import BreakerChange, HealthChange, emit
from tether._retry._latency import LatencySamples
from tether._retry._limits import SlidingWindow
from tether._retry._policy import RetryPolicy, Timeouts
from tether._retry._slow import count_slow, slow_reason
from tether._retry._testing import ACTIVE, Override


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


_CLOSED = BreakerState.CLOSED
_overrides = ACTIVE.get
_GIL = getattr(sys, "_is_gil_enabled", lambda: True)()
"""Does the GIL make a window's ``tally`` step atomic?  On a free-threaded build without
it the fast path counts under the lock (:meth:`Guard.first_attempt`, :meth:`Guard.record`)."""


@dataclass(frozen=True, slots=True)
class Health:
    """One endpoint's record: the tutorials' failure counter, kept properly.

    Times are in the policy's clock (``time.monotonic`` by default).
    """

    endpoint: str
    healthy: bool
    consecutive_failures: int
    last_failure: Failure | None
    last_failure_at: float | None
    last_success_at: float | None


def endpoint_of(url: str) -> str:
    """``host:port`` of a URL, the key of every per-host record; a non-URL is its own key."""
    if "//" not in url:
        return url
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return url
    if not host:
        return url
    return join_hostport(host, port or default_port(parts.scheme))


def counts_for_breaker(failure: Failure) -> bool:
    """Does this failure say the endpoint is down or overloaded?

    Retryable failures do, except 429 (the server is up and throttling this
    client) and proxy failures (the proxy is down, not the endpoint).
    """
    return (
        failure.retryable
        and failure.kind is not Kind.HTTP_RATE_LIMITED
        and failure.layer not in (Layer.PROXY, Layer.POLICY, Layer.URL)
    )


def counts_for_health(failure: Failure) -> bool:
    """Does this failure make the endpoint unhealthy?  Anything it did wrong does;
    a 4xx or a bad URL is the client's doing."""
    if failure.layer in (Layer.URL, Layer.POLICY, Layer.PROXY):
        return False
    return failure.status is None or failure.status >= 500


@dataclass(slots=True)
class _Breaker:
    state: BreakerState = BreakerState.CLOSED
    consecutive: int = 0
    opened_at: float = 0.0
    trial: bool = False
    window: SlidingWindow | None = None
    slow: SlidingWindow | None = None
    """(attempts, slow attempts), kept only when the policy's breaker has ``slow_call``."""
    slow_why: str | None = None
    """Why it opened on slow calls, while it is open for that reason."""


@dataclass(slots=True)
class _Health:
    consecutive: int = 0
    unhealthy: bool = False
    last_failure: Failure | None = None
    last_failure_at: float | None = None
    last_success_at: float | None = None
    first_failure_at: float | None = None


class Steady:
    """One endpoint in the healthy steady state, until ``end``: what the integrations'
    fast paths read and count into on a healthy call instead of calling the guard (issue
    71 §5), since a method call costs more than everything the call must record.

    :meth:`Guard.settle` makes it, under the guard's lock, only while the endpoint's
    breaker is closed with no failure counted, its health record healthy with none,
    and both windows (the budget's and the breaker's) in their newest second, which
    ``end`` ends: a first attempt at ``now < end`` is counted with ``next(firsts)`` (as
    :meth:`Guard.fast_first` counts it), and a success at ``done < end`` with
    ``next(oks)`` and ``health.last_success_at = done`` (as
    :meth:`Guard.first_succeeded` records it).  Past ``end``, the guard's methods do the
    work (and roll the windows).  (No ``start``: the record is made at a moment of its
    second, and the clock, ``time.monotonic``, never goes back.)

    A failure that takes the endpoint out of the steady state takes the record out of
    :attr:`Guard.steady` and sets its ``end`` to minus infinity (:meth:`Guard.record`,
    under the lock): a success counted while that happened sees ``end`` passed after
    counting and is recorded again, after the failure, as :meth:`Guard.first_succeeded`
    does."""

    __slots__ = ("end", "firsts", "health", "oks")

    def __init__(
        self, end: float, firsts: itertools.count[int], oks: itertools.count[int], health: _Health
    ) -> None:
        self.end = end
        self.firsts = firsts
        """The budget window's tally (a count nobody reads without a budget)."""
        self.oks = oks
        """The breaker window's tally (a count nobody reads without a breaker)."""
        self.health = health


_UNREAD = itertools.count()
"""The tally of a window the policy does not keep (no budget, or no breaker)."""
UNSETTLED = Steady(-math.inf, _UNREAD, _UNREAD, _Health())
"""The record of an endpoint not in :attr:`Guard.steady`, for ``steady.get(endpoint,
UNSETTLED)``: ended before any moment."""


class Guard:
    """The retry budgets, circuit breakers and health records of one owner, per endpoint.

    Each ``tether.Session``, transport, aiohttp session or middleware and
    decorated function makes its own from its policy, so two of them given the
    same policy share nothing.  To share, make one and pass it to each:
    ``guard = tether.Guard(policy)``, then ``tether.Session(guard=guard)``.
    The policy's hooks, clock and limits apply; ``guard.policy`` is it.
    """

    def __init__(self, policy: RetryPolicy | None = None) -> None:
        self._policy = p = policy if policy is not None else RetryPolicy()
        total = min(p.total or math.inf, math.inf if p.deadline is None else p.deadline)
        self.first_timeouts = Timeouts(min(p.connect, total), min(p.read, total), total)
        """A first attempt's timeouts: the policy's, cut to its deadline."""
        self._lock = threading.Lock()
        self._budgets: dict[str, SlidingWindow] = {}
        self._breakers: dict[str, _Breaker] = {}
        self._health: dict[str, _Health] = {}
        hedge = p.hedge
        self._latency: dict[str, LatencySamples] | None = (
            {} if hedge is not None and hedge.percentile is not None else None
        )
        """Successful attempts' durations per endpoint, kept only for a hedge that
        follows a percentile (``None`` otherwise: nothing is kept, nothing costs)."""
        self.limits = Limits(p) if p.bulkhead is not None or p.throttle is not None else None
        """The bulkheads and throttles per endpoint; None when the policy has neither."""
        self.fast = (
            self.limits is None
            and hedge is None
            and (p.breaker is None or p.breaker.slow_call is None)
        )
        """May a call's first attempt take the fast path (:meth:`fast_first`,
        :meth:`first_succeeded`)?  Not when a success has more to do than count: a
        bulkhead's slot, a throttle's count, a hedge's race, a slow call's timing."""
        self.steady: dict[str, Steady] = {}
        """The endpoints in the healthy steady state this second (:class:`Steady`), which
        the integrations' fast paths read by ``host:port``.  Only for a guard on the fast
        path whose clock is ``time.monotonic`` (the integrations read that clock for the
        attempt's total time too), where the GIL makes a tally's step atomic: empty for
        any other."""
        self._settles = self.fast and _GIL and p.clock is time.monotonic

    @property
    def policy(self) -> RetryPolicy:
        return self._policy

    def __repr__(self) -> str:
        return f"<Guard {self._policy!r}>"

    # -- retry budget ----------------------------------------------------------

    def first_attempt(self, endpoint: str, now: float) -> None:
        """Count a first attempt to ``endpoint`` for its retry budget."""
        budget = self._policy.budget
        if budget is None:
            return
        with self._lock:
            window = self._budgets.get(endpoint)
            if window is None:
                window = self._budgets[endpoint] = SlidingWindow(budget.window)
            window.add(now, 1, 0)

    def spend_retry(self, endpoint: str, now: float) -> bool:
        """Take one retry from the budget; False when it is empty."""
        budget = self._policy.budget
        if budget is None:
            return True
        with self._lock:
            window = self._budgets.get(endpoint)
            if window is None:
                window = self._budgets[endpoint] = SlidingWindow(budget.window)
            firsts, retries = window.sums(now)
            if retries + 1 > budget.ratio * firsts + budget.per_second * budget.window:
                return False
            window.add(now, 0, 1)
            return True

    def budget_left(self, endpoint: str) -> float:
        """Retries the budget would allow ``endpoint`` now (``inf`` without a budget)."""
        budget = self._policy.budget
        if budget is None:
            return float("inf")
        key = endpoint_of(endpoint)
        with self._lock:
            window = self._budgets.get(key)
            firsts, retries = window.sums(self._policy.clock()) if window else (0, 0)
        return max(0.0, budget.ratio * firsts + budget.per_second * budget.window - retries)

    # -- circuit breaker -------------------------------------------------------

    def admit(self, endpoint: str, now: float, *, first: bool) -> bool:
        """May an attempt go to ``endpoint`` now?  Counts a first attempt for the budget.

        Half-open lets exactly one trial through.  One lock for both jobs, since
        this runs before every attempt.
        """
        config, budget = self._policy.breaker, self._policy.budget
        change = None
        with self._lock:
            b = self._breakers.get(endpoint) if config is not None else None
            if b is not None and b.state is not BreakerState.CLOSED:
                assert config is not None
                if b.state is BreakerState.OPEN:
                    if now - b.opened_at < config.cooldown:
                        return False
                    change = BreakerChange(endpoint, b.state.value, "half_open", None)
                    b.state, b.trial = BreakerState.HALF_OPEN, True
                elif b.trial:
                    return False
                else:
                    b.trial = True
            if first and budget is not None:
                window = self._budgets.get(endpoint)
                if window is None:
                    window = self._budgets[endpoint] = SlidingWindow(budget.window)
                window.add(now, 1, 0)
        if change is not None:
            emit(self._policy.on_breaker_change, "breaker_change", change)
        return True

    def fast_first(self, endpoint: str) -> tuple[str, float, Override | None] | None:
        """``_loop.fast_first(self, endpoint)`` in one call, for the integrations' fast
        paths: :meth:`admit` for a call's first attempt, now, while ``endpoint``'s breaker
        is closed (the fast path's case), counting the attempt for the budget; returns the
        first attempt (endpoint, the time it was admitted at in the policy's clock, the
        testing override).  None, having done nothing, unless this guard takes the fast
        path (:attr:`fast`) and the breaker is closed: :meth:`admit` decides the rest."""
        # No lock (issue 46 §5): the breaker's state is read as it is, and the attempt is
        # counted for the budget by the window's tally, whose step the GIL makes atomic;
        # a breaker that opens while this runs is as one that opened just after it.
        if not self.fast:
            return None
        p = self._policy
        now = p.clock()
        b = self._breakers.get(endpoint)
        if b is not None and b.state is not _CLOSED:
            return None
        if p.budget is not None:
            window = self._budgets.get(endpoint)
            if window is not None and window.start <= now < window.end and _GIL:
                next(window.tally)  # window.add(now, 1, 0), without its call or the lock
            else:
                self.first_attempt(endpoint, now)
        overrides = _overrides()  # _testing.current(), without its call
        return endpoint, now, overrides[-1] if overrides else None

    def first_succeeded(self, endpoint: str) -> float:
        """:meth:`record` of an attempt that worked, now, for a guard whose policy allows
        the fast path (:attr:`fast`); returns the time, in the policy's clock.  While the
        breaker is closed, the endpoint healthy and no failure counted against either
        (the healthy steady state), a success changes nothing but the breaker's count of
        calls and the last success: both are done here without the lock, and without
        :meth:`record`'s events, since none can follow; anything else goes to
        :meth:`record`.  (No duration: only a slow-call breaker and a hedge's percentile
        read one, and neither takes the fast path.)"""
        p = self._policy
        now = p.clock()
        h = self._health.get(endpoint)
        if h is None or h.unhealthy or h.consecutive or not _GIL:
            self.record(endpoint, None, now)
            return now
        if p.breaker is None:
            h.last_success_at = now
            return now
        b = self._breakers.get(endpoint)
        if b is None or b.state is not _CLOSED or b.consecutive or b.trial:
            self.record(endpoint, None, now)
            return now
        window = b.window
        assert window is not None  # made with one
        if not window.start <= now < window.end:
            self.record(endpoint, None, now)
            return now
        next(window.tally)  # window.add(now, 1, 0), without its call or the lock
        h.last_success_at = now
        if b.state is not _CLOSED or b.consecutive or h.consecutive or h.unhealthy:
            # A failure was recorded while this ran: this success is then the later of
            # the two, as record() would have made it (its call is counted already).
            self.record(endpoint, None, now, sampled=False)
        return now

    def settle(self, endpoint: str) -> None:
        """After a success through :meth:`fast_first` and :meth:`first_succeeded`: make
        ``endpoint``'s :class:`Steady` record for this second, if it is in the healthy
        steady state and has none (a lock once a second per endpoint, not per call).  A
        window whose newest second has passed is rolled to this one first, as the next
        count would roll it."""
        if not self._settles:
            return
        now = self._policy.clock()
        s = self.steady.get(endpoint)
        if s is not None and now < s.end:
            return
        p = self._policy
        with self._lock:
            h = self._health.get(endpoint)
            if h is None or h.unhealthy or h.consecutive:
                return
            calls = firsts = None  # the breaker's window and the budget's
            if p.breaker is not None:
                b = self._breakers.get(endpoint)
                if b is None or b.state is not _CLOSED or b.consecutive or b.trial:
                    return
                calls = b.window
            if p.budget is not None:
                firsts = self._budgets.get(endpoint)
                if firsts is None:
                    return
            end = math.inf
            for window in (calls, firsts):
                if window is None:
                    continue
                if now < window.start:  # rolled past this moment by another thread
                    return
                if now >= window.end:
                    window.add(now, 0, 0)
                end = min(end, window.end)
            self.steady[endpoint] = Steady(
                end,
                _UNREAD if firsts is None else firsts.tally,
                _UNREAD if calls is None else calls.tally,
                h,
            )

    def _unsettle(self, endpoint: str) -> None:
        """Under the lock, after a failure was recorded: the endpoint's :class:`Steady`
        record goes if the endpoint has left the healthy steady state."""
        h = self._health.get(endpoint)
        b = self._breakers.get(endpoint)
        if (h is not None and (h.unhealthy or h.consecutive)) or (
            b is not None and (b.state is not _CLOSED or b.consecutive or b.trial)
        ):
            s = self.steady.pop(endpoint, None)
            if s is not None:
                s.end = -math.inf

    def breaker_allows(self, endpoint: str, now: float) -> bool:
        """:meth:`admit` for a later attempt (nothing counted for the budget)."""
        return self.admit(endpoint, now, first=False)

    def breaker_retry_at(self, endpoint: str) -> float | None:
        """When the open breaker of ``endpoint`` will let a trial through; None if not open."""
        config = self._policy.breaker
        b = self._breakers.get(endpoint)
        if config is None or b is None or b.state is not BreakerState.OPEN:
            return None
        return b.opened_at + config.cooldown

    def breaker_state(self, endpoint: str) -> BreakerState:
        """The breaker's state for ``endpoint`` (``host:port`` or a URL)."""
        b = self._breakers.get(endpoint_of(endpoint))
        return BreakerState.CLOSED if b is None else b.state

    def breaker_slow_reason(self, endpoint: str) -> str | None:
        """Why the breaker of ``endpoint`` opened, if it is open on slow calls."""
        b = self._breakers.get(endpoint)
        return None if b is None or b.state is BreakerState.CLOSED else b.slow_why

    def breaker_release(self, endpoint: str) -> None:
        """A half-open trial ended without an outcome (cancelled): let another try."""
        with self._lock:
            b = self._breakers.get(endpoint)
            if b is not None:
                b.trial = False

    def _breaker_record(
        self,
        endpoint: str,
        failure: Failure | None,
        now: float,
        sampled: bool,
        duration: float | None,
    ) -> BreakerChange | None:
        config = self._policy.breaker
        if config is None:
            return None
        failed = failure is not None and counts_for_breaker(failure)
        b = self._breakers.get(endpoint)
        if b is None:
            # Successes count too: the ratio rule needs every call in the window.
            b = self._breakers[endpoint] = _Breaker(window=SlidingWindow(config.window))
        assert b.window is not None
        if sampled:
            b.window.add(now, 1, int(failed))
        old = b.state
        slow = False
        if config.slow_call is not None and sampled and duration is not None:
            if b.slow is None:
                b.slow = SlidingWindow(config.window)
            slow = count_slow(b.slow, config, now, duration)
        if not failed:
            b.consecutive, b.trial = 0, False
            if old is BreakerState.HALF_OPEN:
                if slow:  # the trial answered, but no faster than the calls that opened it
                    took = f"the trial attempt took {duration:.3g} s"
                    return self._open(
                        endpoint,
                        b,
                        old,
                        now,
                        None,
                        f"{took}, more than {config.slow_call:g} s",
                        slow=True,
                    )
                b.state, b.slow_why = BreakerState.CLOSED, None
                if b.slow is not None:  # the slow calls that opened it are not held against it
                    b.slow = SlidingWindow(config.window)
                return BreakerChange(endpoint, old.value, "closed", None)
            if slow and old is BreakerState.CLOSED and b.slow is not None:
                reason = slow_reason(b.slow, config, now)
                if reason is not None:
                    return self._open(endpoint, b, old, now, None, reason, slow=True)
            return None
        b.consecutive += 1
        if old is BreakerState.HALF_OPEN:
            b.trial = False
            return self._open(endpoint, b, old, now, failure, "the trial attempt failed")
        if old is BreakerState.CLOSED:
            calls, failures = b.window.sums(now)
            if b.consecutive >= config.failures:
                why = count(b.consecutive, "consecutive failure")
                return self._open(endpoint, b, old, now, failure, why)
            if calls >= config.min_calls and failures >= config.ratio * calls:
                why = f"{failures} of {calls} attempts in {config.window:g} s failed"
                return self._open(endpoint, b, old, now, failure, why)
            if slow and b.slow is not None and (reason := slow_reason(b.slow, config, now)):
                return self._open(endpoint, b, old, now, failure, reason, slow=True)
        return None

    @staticmethod
    def _open(
        endpoint: str,
        b: _Breaker,
        old: BreakerState,
        now: float,
        failure: Failure | None,
        why: str,
        *,
        slow: bool = False,
    ) -> BreakerChange:
        b.state, b.opened_at, b.trial = BreakerState.OPEN, now, False
        b.slow_why = why if slow else None
        return BreakerChange(endpoint, old.value, "open", failure, why)

    # -- hedging ---------------------------------------------------------------

    def hedge_delay(self, endpoint: str) -> float | None:
        """How long a call to ``endpoint`` waits for an answer before it hedges: the
        percentile of recent latency once ``min_samples`` are known, else the fixed
        delay; ``None``: do not hedge (no delay given and too few samples yet)."""
        hedge = self._policy.hedge
        if hedge is None:
            return None
        if self._latency is not None and hedge.percentile is not None:
            with self._lock:
                samples = self._latency.get(endpoint)
                if samples is not None and len(samples) >= hedge.min_samples:
                    return samples.percentile(hedge.percentile)
        return hedge.delay

    def latency_sample(self, endpoint: str, duration: float) -> None:
        """Count one attempt of ``endpoint`` that took at least ``duration`` seconds for
        the hedge's percentile (a no-op unless the policy hedges on one)."""
        if self._latency is None:
            return
        with self._lock:
            self._sample(endpoint, duration)

    def _sample(self, endpoint: str, duration: float) -> None:
        assert self._latency is not None
        samples = self._latency.get(endpoint)
        if samples is None:
            samples = self._latency[endpoint] = LatencySamples()
        samples.add(duration)

    # -- concurrency limit and throttling ----------------------------------------

    def limit(self, endpoint: str) -> LimitState | None:
        """The bulkhead of ``endpoint`` (``host:port`` or a URL): its limit now, the
        attempts in flight and the callers queued; None without ``policy.bulkhead``."""
        if self.limits is None or self.limits.bulkhead is None:
            return None
        return self.limits.at(endpoint_of(endpoint)).limit_state()

    def throttling(self, endpoint: str) -> ThrottleState | None:
        """The client-side throttling of ``endpoint``: requests and accepts over the
        window, and the chance the next attempt is dropped; None without ``policy.throttle``."""
        if self.limits is None or self.limits.throttle is None:
            return None
        key = endpoint_of(endpoint)
        return self.limits.at(key).throttle_state(self._policy.clock())

    # -- health ----------------------------------------------------------------

    def health(self, endpoint: str) -> Health:
        """The health record of ``endpoint`` (``host:port`` or a URL)."""
        key = endpoint_of(endpoint)
        with self._lock:
            h = self._health.get(key) or _Health()
            return Health(
                key,
                not h.unhealthy,
                h.consecutive,
                h.last_failure,
                h.last_failure_at,
                h.last_success_at,
            )

    def _health_record(
        self, endpoint: str, failure: Failure | None, now: float
    ) -> tuple[str, HealthChange] | None:
        h = self._health.get(endpoint)
        if h is None:
            h = self._health[endpoint] = _Health()
        if failure is None or not counts_for_health(failure):
            h.last_success_at = now
            h.consecutive = 0
            if not h.unhealthy:
                return None
            h.unhealthy = False
            since = h.first_failure_at
            h.first_failure_at = None
            down = None if since is None else now - since
            return "recovered", HealthChange(endpoint, True, 0, h.last_failure, down)
        h.consecutive += 1
        h.last_failure, h.last_failure_at = failure, now
        if h.consecutive == 1:
            h.first_failure_at = now
        if h.unhealthy or h.consecutive < self._policy.unhealthy_after:
            return None
        h.unhealthy = True
        return "unhealthy", HealthChange(endpoint, False, h.consecutive, failure, None)

    # -- one attempt's outcome -------------------------------------------------

    def record(
        self,
        endpoint: str,
        failure: Failure | None,
        now: float,
        *,
        sampled: bool = True,
        duration: float | None = None,
    ) -> None:
        """Record an attempt's outcome (``None``: it worked) in breaker and health;
        ``duration``: how long the attempt took, in the policy's clock.

        ``connect.resource_exhausted`` is recorded in neither: the shortage was this
        machine's, and the endpoint was never asked.

        ``sampled=False`` keeps it out of the breaker's failure ratio: the caller
        cannot see every call to the endpoint, only those that failed.
        """
        if failure is not None and failure.kind is Kind.CONNECT_RESOURCE_EXHAUSTED:
            # This machine ran short (fds, ports, the pool): the endpoint was never asked,
            # so this is neither its failure nor its success.  A half-open trial is given
            # back for another call to make.
            self.breaker_release(endpoint)
            return
        with self._lock:
            change = self._breaker_record(endpoint, failure, now, sampled, duration)
            health = self._health_record(endpoint, failure, now)
            if self._latency is not None and failure is None and duration is not None:
                self._sample(endpoint, duration)
            if failure is not None and endpoint in self.steady:
                self._unsettle(endpoint)
        p = self._policy
        if change is not None:
            emit(p.on_breaker_change, "breaker_change", change)
        if health is not None:
            event, details = health
            hook: Any = p.on_unhealthy if event == "unhealthy" else p.on_recovered
            emit(hook, event, details)


def guard_for(policy: RetryPolicy | None, guard: Guard | None) -> Guard:
    """An owner's guard: the one it was given, else a new one for ``policy``."""
    if guard is None:
        return Guard(policy)
    if policy is not None and policy != guard.policy:
        raise ValueError("give a policy or a guard made with it, not both")
    return guard
