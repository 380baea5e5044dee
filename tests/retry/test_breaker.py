"""Circuit-breaker transitions, driven through a ``tether.Guard`` with a fake clock.

Failures are real ``Failure`` objects: ``tether.classify`` of exception
objects built in-process the way the socket layer and urllib3 build them, and
``tether.classify_status`` of statuses.  Nothing is sent, nothing sleeps.
"""

from __future__ import annotations

import dataclasses
import logging
import threading

import pytest
import urllib3.exceptions as u3

import tether
from tether import Breaker, BreakerChange, BreakerState, Failure, Guard, Kind, RetryPolicy

A = "127.0.0.1:9"
B = "127.0.0.1:10"
T0 = 1000.0


def proxy_unreachable() -> Failure:
    """urllib3's ``_wrap_proxy_error`` around a refusal by the proxy."""
    refused = ConnectionRefusedError(111, "Connection refused")
    wrapped = u3.ProxyError("Unable to connect to proxy", refused)  # type: ignore[arg-type]
    wrapped.__cause__ = refused
    return tether.classify(wrapped)


REFUSED = tether.classify(ConnectionRefusedError(111, "Connection refused"))
RESET = tether.classify(ConnectionResetError(104, "Connection reset by peer"))
TIMED_OUT = tether.classify(TimeoutError("timed out"))
UNKNOWN = tether.classify(ValueError("not a network error"))
PROXY_DOWN = proxy_unreachable()
# urllib3's wrapper around what http.client's _tunnel raises when the proxy answers
# CONNECT with 502 (the message of a bare OSError is not read: anything could raise it).
PROXY_502 = tether.classify(
    u3.ProxyError(  # type: ignore[arg-type]
        "Unable to connect to proxy", OSError("Tunnel connection failed: 502 Bad Gateway")
    )
)


def status(code: int) -> Failure:
    failure = tether.classify_status(code, {"Retry-After": "1"})
    assert failure is not None
    return failure


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(breaker: Breaker | None = None, **kw: object) -> tuple[Guard, Clock]:
    clock = Clock()
    policy = RetryPolicy(
        breaker=breaker or Breaker(failures=3, cooldown=1.0),
        budget=None,
        clock=clock,
        **kw,  # type: ignore[arg-type]
    )
    return Guard(policy), clock


def fail(guard: Guard, failure: Failure, times: int = 1, now: float = T0) -> None:
    for _ in range(times):
        guard.record(A, failure, now)


def open_breaker(guard: Guard, now: float = T0) -> None:
    """Record consecutive refusals until the breaker opens."""
    assert guard.policy.breaker is not None
    fail(guard, REFUSED, guard.policy.breaker.failures, now)
    assert guard.breaker_state(A) is BreakerState.OPEN


def test_the_failures_under_test_are_what_they_claim() -> None:
    """Sanity of the fixtures: each built failure has the kind the tests below rely on."""
    assert REFUSED.kind is Kind.CONNECT_REFUSED
    assert RESET.kind is Kind.CONNECTION_RESET
    assert TIMED_OUT.kind is Kind.READ_TIMEOUT
    assert PROXY_DOWN.kind is Kind.PROXY_UNREACHABLE
    assert PROXY_DOWN.retryable
    assert PROXY_502.kind is Kind.PROXY_REJECTED
    assert PROXY_502.retryable
    assert status(429).kind is Kind.HTTP_RATE_LIMITED
    assert status(429).retryable


# --- opening on consecutive failures --------------------------------------------------------


def test_opens_after_n_consecutive_failures() -> None:
    """failures=3: two refusals leave it closed and allowing; the third opens it."""
    guard, _ = make()
    fail(guard, REFUSED, 2)
    assert guard.breaker_state(A) is BreakerState.CLOSED
    assert guard.breaker_allows(A, T0)
    fail(guard, REFUSED)
    assert guard.breaker_state(A) is BreakerState.OPEN
    assert not guard.breaker_allows(A, T0)


@pytest.mark.parametrize(
    "failure",
    [REFUSED, RESET, TIMED_OUT, status(502), status(503), status(504)],
    ids=lambda f: f"{f.kind}-{f.status}",
)
def test_each_down_or_overloaded_failure_counts(failure: Failure) -> None:
    """Refusals, resets, timeouts and 502/503/504 all count towards opening."""
    guard, _ = make(Breaker(failures=2))
    fail(guard, failure, 2)
    assert guard.breaker_state(A) is BreakerState.OPEN


@pytest.mark.parametrize(
    "failure",
    [
        status(400),
        status(404),
        status(429),
        status(500),
        status(407),
        PROXY_DOWN,
        PROXY_502,
        UNKNOWN,
    ],
    ids=["400", "404", "429", "500", "407", "proxy-unreachable", "proxy-502", "unknown"],
)
def test_client_errors_throttling_and_proxy_failures_never_open(failure: Failure) -> None:
    """4xx, 429 (server up), proxy failures (not the endpoint) and non-retryables never count."""
    guard, _ = make(Breaker(failures=1, min_calls=1, ratio=0.01))
    fail(guard, failure, 50)
    assert guard.breaker_state(A) is BreakerState.CLOSED
    assert guard.breaker_allows(A, T0)


def test_a_success_resets_the_consecutive_count() -> None:
    """F, F, success, F, F stays closed with failures=3; one more F opens it."""
    guard, _ = make()
    fail(guard, REFUSED, 2)
    guard.record(A, None, T0)
    fail(guard, REFUSED, 2)
    assert guard.breaker_state(A) is BreakerState.CLOSED
    fail(guard, REFUSED)
    assert guard.breaker_state(A) is BreakerState.OPEN


def test_a_429_between_failures_breaks_the_run() -> None:
    """A 429 shows the server is up, so it ends a run of consecutive failures."""
    guard, _ = make()
    fail(guard, REFUSED, 2)
    fail(guard, status(429))
    fail(guard, REFUSED, 2)
    assert guard.breaker_state(A) is BreakerState.CLOSED


def test_endpoints_have_independent_breakers() -> None:
    """Opening one endpoint's breaker leaves another's closed."""
    guard, _ = make()
    open_breaker(guard)
    assert guard.breaker_state(B) is BreakerState.CLOSED
    assert guard.breaker_allows(B, T0)


def test_breaker_state_accepts_a_url() -> None:
    """``breaker_state`` takes a URL and reads the record of its host:port."""
    guard, _ = make()
    open_breaker(guard)
    assert guard.breaker_state("http://127.0.0.1:9/x?y=1") is BreakerState.OPEN
    assert guard.breaker_state("http://127.0.0.1:10/") is BreakerState.CLOSED


def test_no_breaker_never_opens() -> None:
    """breaker=None: any number of failures, calls are still allowed and the state is closed."""
    guard = Guard(RetryPolicy(breaker=None, clock=Clock()))
    fail(guard, REFUSED, 100)
    assert guard.breaker_allows(A, T0)
    assert guard.breaker_state(A) is BreakerState.CLOSED


# --- opening on the failure ratio -------------------------------------------------------------


def test_opens_on_failure_ratio_once_min_calls_is_reached() -> None:
    """ratio=0.5, min_calls=6: F,S,F,S,F,S stays closed; the next F (4 of 7 calls) opens."""
    guard, _ = make(Breaker(failures=100, ratio=0.5, window=10.0, min_calls=6))
    for _ in range(3):
        fail(guard, REFUSED)
        guard.record(A, None, T0)
    assert guard.breaker_state(A) is BreakerState.CLOSED
    fail(guard, REFUSED)  # 4 failures in 7 calls
    assert guard.breaker_state(A) is BreakerState.OPEN


def test_ratio_below_threshold_stays_closed() -> None:
    """ratio=0.6: 4 failures in 7 calls (0.57) stays closed; 5 in 8 (0.625) opens."""
    guard, _ = make(Breaker(failures=100, ratio=0.6, window=10.0, min_calls=6))
    for _ in range(3):
        fail(guard, REFUSED)
        guard.record(A, None, T0)
    fail(guard, REFUSED)
    assert guard.breaker_state(A) is BreakerState.CLOSED
    fail(guard, REFUSED)
    assert guard.breaker_state(A) is BreakerState.OPEN


def test_successes_before_the_first_failure_count_in_the_ratio() -> None:
    """200 successes then 11 failures in 21 calls is 11 of 221 in the window: stays closed."""
    guard, _ = make(Breaker(failures=100, ratio=0.5, window=10.0, min_calls=20))
    for _ in range(200):
        guard.record(A, None, T0)
    for _ in range(10):
        guard.record(A, None, T0)
        fail(guard, REFUSED)
    fail(guard, REFUSED)
    assert guard.breaker_state(A) is BreakerState.CLOSED


def test_ratio_needs_min_calls() -> None:
    """All calls failing is not enough while fewer than min_calls were made."""
    guard, _ = make(Breaker(failures=100, ratio=0.5, window=10.0, min_calls=5))
    fail(guard, REFUSED, 4)
    assert guard.breaker_state(A) is BreakerState.CLOSED
    fail(guard, REFUSED)
    assert guard.breaker_state(A) is BreakerState.OPEN


def test_ratio_only_counts_calls_inside_the_window() -> None:
    """Failures older than ``window`` drop out, so spread-out failures never reach min_calls."""
    guard, _ = make(Breaker(failures=100, ratio=0.5, window=2.0, min_calls=4))
    fail(guard, REFUSED, 3, now=T0)
    fail(guard, REFUSED, 1, now=T0 + 2.0)
    assert guard.breaker_state(A) is BreakerState.CLOSED
    fail(guard, REFUSED, 3, now=T0 + 2.5)  # 4 calls inside [T0+1, T0+2.5]
    assert guard.breaker_state(A) is BreakerState.OPEN


# --- cool-down and half-open ------------------------------------------------------------------


def test_open_refuses_until_the_cooldown_has_passed() -> None:
    """Open rejects every call for ``cooldown`` seconds after it opened."""
    guard, _ = make(Breaker(failures=1, cooldown=1.0))
    open_breaker(guard)
    assert not guard.breaker_allows(A, T0)
    assert not guard.breaker_allows(A, T0 + 0.999)
    assert guard.breaker_state(A) is BreakerState.OPEN
    assert guard.breaker_retry_at(A) == T0 + 1.0


def test_half_open_lets_exactly_one_trial_through() -> None:
    """After the cool-down exactly one of many callers is let through; the state is half-open."""
    guard, _ = make(Breaker(failures=1, cooldown=1.0))
    open_breaker(guard)
    allowed = [guard.breaker_allows(A, T0 + 1.0 + i / 100) for i in range(20)]
    assert allowed == [True] + [False] * 19
    assert guard.breaker_state(A) is BreakerState.HALF_OPEN
    assert guard.breaker_retry_at(A) is None


def test_half_open_lets_one_trial_through_under_concurrency() -> None:
    """Sixteen threads asking at once after the cool-down: exactly one gets the trial."""
    guard, _ = make(Breaker(failures=1, cooldown=1.0))
    open_breaker(guard)
    results: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def ask() -> None:
        start.wait()
        allowed = guard.breaker_allows(A, T0 + 5.0)
        with lock:
            results.append(allowed)

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 15 + [True]


def test_trial_success_closes() -> None:
    """A successful trial closes the circuit: every call is allowed again."""
    guard, _ = make(Breaker(failures=1, cooldown=1.0))
    open_breaker(guard)
    assert guard.breaker_allows(A, T0 + 1.0)
    guard.record(A, None, T0 + 1.2)
    assert guard.breaker_state(A) is BreakerState.CLOSED
    assert all(guard.breaker_allows(A, T0 + 1.3) for _ in range(5))


def test_trial_failure_reopens_with_a_new_cooldown() -> None:
    """A failed trial reopens the circuit, and the cool-down restarts from that failure."""
    guard, _ = make(Breaker(failures=3, cooldown=1.0))
    open_breaker(guard)
    assert guard.breaker_allows(A, T0 + 1.0)
    fail(guard, RESET, now=T0 + 1.5)
    assert guard.breaker_state(A) is BreakerState.OPEN
    assert not guard.breaker_allows(A, T0 + 2.4)
    assert guard.breaker_allows(A, T0 + 2.5)
    assert guard.breaker_state(A) is BreakerState.HALF_OPEN


def test_after_closing_it_takes_n_fresh_failures_to_open_again() -> None:
    """Closing resets the consecutive count: failures - 1 new failures leave it closed."""
    guard, _ = make(Breaker(failures=3, cooldown=1.0, min_calls=100))
    open_breaker(guard)
    guard.breaker_allows(A, T0 + 1.0)
    guard.record(A, None, T0 + 1.0)
    fail(guard, REFUSED, 2, now=T0 + 1.1)
    assert guard.breaker_state(A) is BreakerState.CLOSED
    fail(guard, REFUSED, now=T0 + 1.2)
    assert guard.breaker_state(A) is BreakerState.OPEN


def test_release_frees_the_trial_slot() -> None:
    """A trial cancelled without an outcome is released, and the next caller gets the trial."""
    guard, _ = make(Breaker(failures=1, cooldown=1.0))
    open_breaker(guard)
    assert guard.breaker_allows(A, T0 + 1.0)
    assert not guard.breaker_allows(A, T0 + 1.0)
    guard.breaker_release(A)
    assert guard.breaker_state(A) is BreakerState.HALF_OPEN
    assert guard.breaker_allows(A, T0 + 1.0)
    assert not guard.breaker_allows(A, T0 + 1.0)


def test_release_without_a_record_is_harmless() -> None:
    """Releasing an endpoint the breaker never saw changes nothing."""
    guard, _ = make()
    guard.breaker_release(B)
    assert guard.breaker_state(B) is BreakerState.CLOSED
    assert guard.breaker_allows(B, T0)


def test_zero_cooldown_goes_half_open_at_once() -> None:
    """cooldown=0: the very next call is the trial."""
    guard, _ = make(Breaker(failures=1, cooldown=0.0))
    open_breaker(guard)
    assert guard.breaker_allows(A, T0)
    assert not guard.breaker_allows(A, T0)


# --- on_breaker_change -----------------------------------------------------------------------


def test_on_breaker_change_receives_each_transition_in_order() -> None:
    """The hook gets each transition, in order, as a frozen BreakerChange."""
    changes: list[BreakerChange] = []
    guard, _ = make(Breaker(failures=2, cooldown=1.0), on_breaker_change=changes.append)
    fail(guard, REFUSED, 2)
    guard.breaker_allows(A, T0 + 1.0)
    fail(guard, RESET, now=T0 + 1.1)
    guard.breaker_allows(A, T0 + 2.1)
    guard.record(A, None, T0 + 2.2)

    assert [(c.old, c.new) for c in changes] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    assert all(c.endpoint == A for c in changes)
    assert [c.failure for c in changes] == [REFUSED, None, RESET, None, None]
    with pytest.raises(dataclasses.FrozenInstanceError):
        changes[0].new = "closed"  # type: ignore[misc]


def test_no_change_no_event() -> None:
    """Failures below the threshold and successes on a closed breaker send no event."""
    changes: list[BreakerChange] = []
    guard, _ = make(on_breaker_change=changes.append)
    fail(guard, REFUSED, 2)
    guard.record(A, None, T0)
    guard.breaker_allows(A, T0)
    assert changes == []


def test_breaker_hook_runs_outside_the_lock() -> None:
    """The hook may read the policy's state (which takes the lock) without deadlocking."""
    seen: list[tuple[str, BreakerState, bool]] = []
    guard: Guard

    def hook(change: BreakerChange) -> None:
        seen.append((change.new, guard.breaker_state(A), guard.health(A).healthy))

    guard, _ = make(Breaker(failures=1), on_breaker_change=hook)
    worker = threading.Thread(target=fail, args=(guard, REFUSED))
    worker.start()
    worker.join(timeout=5)
    assert not worker.is_alive(), "record() deadlocked calling the hook under its lock"
    assert seen == [("open", BreakerState.OPEN, True)]


def test_breaker_change_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Each transition is a warning on the "tether" logger naming the endpoint and both states."""
    guard, _ = make(Breaker(failures=1))
    with caplog.at_level(logging.WARNING, logger="tether"):
        fail(guard, REFUSED)
    opened = f"circuit for {A}: closed -> open (1 consecutive failure)"
    assert opened in [r.getMessage() for r in caplog.records]


OUT_OF_FDS = tether.classify(OSError(24, "Too many open files"))


def test_this_machines_shortage_is_neither_failure_nor_success() -> None:
    """connect.resource_exhausted never opens the breaker, does not reset a run of real
    failures, and gives a half-open trial slot back instead of closing the breaker."""
    assert OUT_OF_FDS.kind is Kind.CONNECT_RESOURCE_EXHAUSTED
    guard, _ = make(Breaker(failures=3, min_calls=1, ratio=0.01, cooldown=1.0))
    fail(guard, OUT_OF_FDS, 50)
    assert guard.breaker_state(A) is BreakerState.CLOSED
    fail(guard, REFUSED, 2)
    fail(guard, OUT_OF_FDS)
    fail(guard, REFUSED)  # the third real failure in a row: the shortage did not reset it
    assert guard.breaker_state(A) is BreakerState.OPEN
    assert guard.breaker_allows(A, T0 + 1.0)  # half-open: this call is the trial
    guard.record(A, OUT_OF_FDS, T0 + 1.0)
    assert guard.breaker_state(A) is BreakerState.HALF_OPEN
    assert guard.breaker_allows(A, T0 + 1.0)  # the slot came back for another trial
