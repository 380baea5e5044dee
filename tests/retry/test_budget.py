"""The per-endpoint retry budget, driven through a ``tether.Guard`` with a fake clock.

Over any ``window`` seconds, retries to one endpoint may number at most
``ratio`` times the first attempts to it plus ``per_second * window``.  Pure:
the clock is a number the test moves; no socket, no sleep.
"""

from __future__ import annotations

import math
import threading

import pytest

from tether import Budget, Guard, RetryPolicy

A = "127.0.0.1:9"
B = "127.0.0.1:10"
T0 = 1000.0


class Clock:
    """A clock the test sets by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def policy(budget: Budget | None, clock: Clock) -> Guard:
    return Guard(RetryPolicy(budget=budget, breaker=None, clock=clock))


def spend_all(p: Guard, endpoint: str, now: float, limit: int = 1000) -> int:
    """Spend retries until the budget says no; how many it allowed."""
    for spent in range(limit):
        if not p.spend_retry(endpoint, now):
            return spent
    raise AssertionError(f"the budget never ran out in {limit} retries")


def test_quiet_endpoint_gets_the_floor_of_per_second_times_window() -> None:
    """With no first attempts at all, per_second * window retries are allowed, and no more."""
    clock = Clock()
    p = policy(Budget(ratio=0.5, per_second=1.0, window=4.0), clock)
    assert p.budget_left(A) == 4.0
    assert spend_all(p, A, T0) == 4
    assert p.budget_left(A) == 0.0
    assert p.spend_retry(A, T0) is False


def test_default_budget_floor_is_fifty_retries() -> None:
    """The default Budget (5 per second over 10 s) lets a quiet client retry 50 times."""
    p = Guard(RetryPolicy(clock=Clock()))
    assert spend_all(p, A, T0) == 50


def test_first_attempts_add_ratio_of_themselves() -> None:
    """Each first attempt adds ``ratio`` retries on top of the floor: 10 firsts * 0.5 + 4."""
    clock = Clock()
    p = policy(Budget(ratio=0.5, per_second=1.0, window=4.0), clock)
    for _ in range(10):
        p.first_attempt(A, T0)
    assert p.budget_left(A) == 9.0
    assert spend_all(p, A, T0) == 9
    assert p.budget_left(A) == 0.0


def test_fractional_allowance_is_rounded_down_when_spending() -> None:
    """1.5 retries allowed means one retry, then 0.5 left that cannot be spent."""
    clock = Clock()
    p = policy(Budget(ratio=0.1, per_second=0.0, window=10.0), clock)
    for _ in range(15):
        p.first_attempt(A, T0)
    assert p.budget_left(A) == pytest.approx(1.5)
    assert spend_all(p, A, T0) == 1
    assert p.budget_left(A) == pytest.approx(0.5)


def test_zero_budget_allows_no_retry() -> None:
    """ratio=0 and per_second=0: first attempts go through, retries never do."""
    p = policy(Budget(ratio=0.0, per_second=0.0, window=1.0), Clock())
    p.first_attempt(A, T0)
    assert p.spend_retry(A, T0) is False
    assert p.budget_left(A) == 0.0


def test_refused_retry_costs_nothing() -> None:
    """Asking an empty budget does not push it below zero: one expiry refills it fully."""
    clock = Clock()
    p = policy(Budget(ratio=0.0, per_second=1.0, window=2.0), clock)
    assert spend_all(p, A, T0) == 2
    for _ in range(50):
        assert p.spend_retry(A, T0) is False
    assert p.budget_left(A) == 0.0
    clock.now = T0 + 2.0
    assert p.budget_left(A) == 2.0


def test_window_expiry_refills_the_budget() -> None:
    """Retries older than ``window`` seconds stop counting: empty at t+3.9, full at t+4."""
    clock = Clock()
    p = policy(Budget(ratio=0.0, per_second=1.0, window=4.0), clock)
    assert spend_all(p, A, T0) == 4
    clock.now = T0 + 3.9
    assert p.budget_left(A) == 0.0
    assert p.spend_retry(A, clock.now) is False
    clock.now = T0 + 4.0
    assert p.budget_left(A) == 4.0
    assert spend_all(p, A, clock.now) == 4


def test_window_slides_second_by_second() -> None:
    """Retries spent at different times expire at different times."""
    clock = Clock()
    p = policy(Budget(ratio=0.0, per_second=1.0, window=4.0), clock)
    assert p.spend_retry(A, T0)
    assert p.spend_retry(A, T0)
    assert p.spend_retry(A, T0 + 2.0)
    clock.now = T0 + 2.0
    assert p.budget_left(A) == 1.0
    clock.now = T0 + 4.0  # the two from T0 have expired
    assert p.budget_left(A) == 3.0
    clock.now = T0 + 6.0  # and now the one from T0 + 2
    assert p.budget_left(A) == 4.0


def test_first_attempts_expire_with_the_window() -> None:
    """The ratio part is earned by recent traffic only: old first attempts stop counting."""
    clock = Clock()
    p = policy(Budget(ratio=0.5, per_second=1.0, window=4.0), clock)
    for _ in range(10):
        p.first_attempt(A, T0)
    assert p.budget_left(A) == 9.0
    clock.now = T0 + 4.0
    assert p.budget_left(A) == 4.0


def test_endpoints_have_independent_budgets() -> None:
    """Emptying one endpoint's budget leaves another's whole; one's traffic earns the other none."""
    clock = Clock()
    p = policy(Budget(ratio=1.0, per_second=1.0, window=3.0), clock)
    for _ in range(5):
        p.first_attempt(A, T0)
    assert spend_all(p, A, T0) == 8
    assert p.budget_left(A) == 0.0
    assert p.budget_left(B) == 3.0
    assert spend_all(p, B, T0) == 3


def test_budget_left_accepts_a_url() -> None:
    """``budget_left`` takes a URL too and reads the record of its host:port."""
    clock = Clock()
    p = policy(Budget(ratio=0.0, per_second=1.0, window=5.0), clock)
    assert p.spend_retry(A, T0)
    assert p.budget_left("http://127.0.0.1:9/some/path?q=1") == 4.0
    assert p.budget_left("http://127.0.0.1:10/") == 5.0


def test_no_budget_means_unlimited_retries() -> None:
    """budget=None: every retry is allowed and ``budget_left`` is infinite."""
    p = policy(None, Clock())
    p.first_attempt(A, T0)
    assert all(p.spend_retry(A, T0) for _ in range(10_000))
    assert p.budget_left(A) == math.inf


def test_budget_is_exact_under_concurrent_spending() -> None:
    """Eight threads racing for 50 retries get exactly 50 between them."""
    p = policy(Budget(ratio=0.0, per_second=5.0, window=10.0), Clock())
    granted: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        mine = sum(p.spend_retry(A, T0) for _ in range(100))
        with lock:
            granted.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 50
    assert p.budget_left(A) == 0.0
