"""The guard's healthy path without a lock (issue 46 §5): ``Guard.fast_first`` and
``Guard.first_succeeded`` count with a window's ``tally`` and read the breaker as it is,
and what they leave behind is what the locked path (``admit`` and ``record``) leaves,
step by step and with threads racing.

No network: the guards are driven directly, with a fake clock; the threads are real.
"""

from __future__ import annotations

import itertools
import sys
import threading
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tether
from tether import Breaker, Budget, Failure, Guard, RetryPolicy
from tether._retry._limits import SlidingWindow

ENDPOINTS = ("127.0.0.1:9", "127.0.0.1:10")
REFUSED = tether.classify(ConnectionRefusedError(111, "Connection refused"))
NOT_IMPLEMENTED = tether.classify_status(501, {})  # the endpoint's fault, not retried


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _switch_often() -> Iterator[None]:
    """Threads switch every microsecond, so that the racing tests do race."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


# -- the window's tally ----------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    seconds=st.integers(1, 6),
    steps=st.lists(
        st.tuples(st.floats(0, 1.5, allow_nan=False), st.integers(0, 3), st.booleans()),
        max_size=60,
    ),
    start=st.floats(0, 5, allow_nan=False),
)
def test_counts_by_tally_sum_as_counts_by_add(
    seconds: int, steps: list[tuple[float, int, bool]], start: float
) -> None:
    """Counting into the newest bucket with ``next(tally)`` while ``start <= now < end``
    (and with ``add`` otherwise) gives the same sums, read at any moment, as counting
    every one with ``add``."""
    tallied, added = SlidingWindow(seconds), SlidingWindow(seconds)
    now = start
    for step, n, read in steps:
        now += step
        if read:
            assert tallied.sums(now) == added.sums(now)
            continue
        for _ in range(n):
            added.add(now, 1, 0)
            if tallied.start <= now < tallied.end:
                next(tallied.tally)
            else:
                tallied.add(now, 1, 0)
    assert tallied.sums(now) == added.sums(now)


@settings(max_examples=15, deadline=None)
@given(threads=st.integers(2, 6), each=st.integers(1, 400), step=st.sampled_from([0.0, 1e-3]))
def test_racing_tallies_lose_and_double_nothing(threads: int, each: int, step: float) -> None:
    """Threads counting with ``next(tally)`` while another reads and rolls the window
    under a lock (its second moving on as they count) leave exactly one count each."""
    window, lock = SlidingWindow(10_000), threading.Lock()
    moments = itertools.count()
    done = threading.Event()

    def now() -> float:
        return 100.0 + next(moments) * step

    def count() -> None:
        for _ in range(each):
            t = now()
            if window.start <= t < window.end:
                next(window.tally)
            else:
                with lock:
                    window.add(t, 1, 0)

    def read() -> None:
        while not done.is_set():
            with lock:
                window.sums(now())

    reader = threading.Thread(target=read)
    reader.start()
    workers = [threading.Thread(target=count) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    done.set()
    reader.join()
    with lock:
        assert window.sums(now()) == (threads * each, 0)


# -- the guard, step by step -----------------------------------------------------------

Step = tuple[float, int, str]


def _policy(clock: Clock, failures: int, min_calls: int) -> RetryPolicy:
    return RetryPolicy(
        clock=clock,
        budget=Budget(ratio=0.5, per_second=0.1, window=5.0),
        breaker=Breaker(
            failures=failures, ratio=0.5, window=4.0, min_calls=min_calls, cooldown=2.0
        ),
        unhealthy_after=2,
    )


def _locked(guard: Guard, endpoint: str, now: float, failure: Failure | None) -> None:
    """A call's first attempt as the full loop makes it: admitted, then recorded."""
    if guard.admit(endpoint, now, first=True):
        guard.record(endpoint, failure, now)


def _fast(guard: Guard, endpoint: str, now: float, failure: Failure | None) -> None:
    """The same attempt on the fast path where it is taken, as the integrations do."""
    first = guard.fast_first(endpoint)
    if first is None:
        _locked(guard, endpoint, now, failure)
    elif failure is None:
        guard.first_succeeded(endpoint)
    else:
        guard.record(endpoint, failure, now)


def _state(guard: Guard, endpoint: str, now: float) -> object:
    b = guard._breakers.get(endpoint)
    return (
        guard.breaker_state(endpoint),
        guard.health(endpoint),
        guard.budget_left(endpoint),
        None if b is None or b.window is None else (b.window.sums(now), b.consecutive, b.trial),
    )


@settings(max_examples=300, deadline=None)
@given(
    failures=st.integers(1, 4),
    min_calls=st.integers(1, 6),
    steps=st.lists(
        st.tuples(
            st.floats(0, 1.5, allow_nan=False),
            st.integers(0, 1),
            st.sampled_from(["ok", "ok", "ok", "refused", "501", "retry"]),
        ),
        max_size=60,
    ),
)
def test_the_fast_path_leaves_what_the_locked_path_leaves(
    failures: int, min_calls: int, steps: list[Step]
) -> None:
    """Successes, failures and retries in any order, through the lock-free fast path on
    one guard and through ``admit`` and ``record`` on another: the breakers open and
    close on the same steps, with the same events; the budgets, the breakers' windows
    and the health records agree after every step."""
    clock = Clock(1000.0)
    events: dict[str, list[object]] = {"fast": [], "locked": []}

    def guard(name: str) -> Guard:
        seen = events[name].append
        return Guard(
            _policy(clock, failures, min_calls).replace(
                on_breaker_change=seen, on_unhealthy=seen, on_recovered=seen
            )
        )

    fast, locked = guard("fast"), guard("locked")
    assert fast.fast
    outcomes = {"ok": None, "refused": REFUSED, "501": NOT_IMPLEMENTED}
    for step, which, what in steps:
        clock.now += step
        endpoint = ENDPOINTS[which]
        if what == "retry":
            assert fast.spend_retry(endpoint, clock.now) == locked.spend_retry(endpoint, clock.now)
        else:
            _fast(fast, endpoint, clock.now, outcomes[what])
            _locked(locked, endpoint, clock.now, outcomes[what])
        for e in ENDPOINTS:
            assert _state(fast, e, clock.now) == _state(locked, e, clock.now)
        assert events["fast"] == events["locked"]


# -- the guard, racing -----------------------------------------------------------------


def _race(threads: int, work: Callable[[int], None]) -> None:
    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


@settings(max_examples=12, deadline=None)
@given(threads=st.integers(2, 6), each=st.integers(1, 300), step=st.sampled_from([0.0, 1e-3]))
def test_racing_healthy_calls_count_as_the_locked_path_counts(
    threads: int, each: int, step: float
) -> None:
    """Threads making healthy calls on one guard at once, by the fast path and by the
    locked path on another (the clock moving on as they go, so the windows roll under
    them): both guards count every call once, for the budget and for the breaker."""
    moments = itertools.count()

    def clock() -> float:
        return 1000.0 + next(moments) * step

    def policy() -> RetryPolicy:
        return RetryPolicy(
            clock=clock, budget=Budget(window=10_000.0), breaker=Breaker(window=10_000.0)
        )

    fast, locked = Guard(policy()), Guard(policy())
    endpoint = ENDPOINTS[0]
    fast.record(endpoint, None, clock())  # its records made, as after a first call
    locked.record(endpoint, None, clock())

    def on_fast(_: int) -> None:
        for _ in range(each):
            assert fast.fast_first(endpoint) is not None
            fast.first_succeeded(endpoint)

    def on_locked(_: int) -> None:
        for _ in range(each):
            _locked(locked, endpoint, clock(), None)

    _race(threads, on_fast)
    _race(threads, on_locked)
    now = clock()
    for guard in (fast, locked):
        assert guard._budgets[endpoint].sums(now) == (threads * each, 0)
        window = guard._breakers[endpoint].window
        assert window is not None
        assert window.sums(now) == (threads * each + 1, 0)
    assert fast.health(endpoint).healthy
    assert fast.health(endpoint).consecutive_failures == 0


@settings(max_examples=12, deadline=None)
@given(threads=st.integers(1, 4), each=st.integers(1, 200), failing=st.integers(1, 40))
def test_failures_racing_fast_successes_are_all_counted(
    threads: int, each: int, failing: int
) -> None:
    """Failures recorded under the lock while threads make healthy calls without it: the
    breaker's window holds every call and every failure, and a run of failures with no
    success after it opens the breaker as it would alone."""
    clock = Clock(1000.0)
    policy = RetryPolicy(
        clock=clock,
        budget=Budget(window=60.0),
        breaker=Breaker(failures=failing + 1, ratio=1.0, window=60.0, min_calls=10**9),
    )
    guard, endpoint = Guard(policy), ENDPOINTS[0]
    guard.record(endpoint, None, clock.now)
    made = [0] * (threads + 1)  # each thread's healthy calls, in its own slot

    def work(i: int) -> None:
        if i == 0:
            for _ in range(failing):
                _locked(guard, endpoint, clock.now, REFUSED)
            return
        for _ in range(each):
            if guard.fast_first(endpoint) is not None:
                guard.first_succeeded(endpoint)
            else:
                _locked(guard, endpoint, clock.now, None)
            made[i] += 1

    _race(threads + 1, work)
    window = guard._breakers[endpoint].window
    assert window is not None
    assert window.sums(clock.now) == (1 + sum(made) + failing, failing)
    assert guard.breaker_state(endpoint) is tether.BreakerState.CLOSED
    for _ in range(failing + 1):  # now alone: the run that opens it
        _locked(guard, endpoint, clock.now, REFUSED)
    assert guard.breaker_state(endpoint) is tether.BreakerState.OPEN
