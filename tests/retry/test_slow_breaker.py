"""The breaker's slow-call rule (resilience4j's ``slowCallRateThreshold``): pure, on a
fake clock, held to a property over random schedules, and once against the lab."""

from __future__ import annotations

import dataclasses

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

import tether
from tether import Breaker, BreakerChange, BreakerState, Guard, Kind, RetryPolicy
from tether._retry._limits import SlidingWindow
from tether._retry._loop import Call
from tether._retry._slow import count_slow, slow_reason
from tether.lab import Lab

A = "127.0.0.1:9"
T0 = 1000.0
SLOW = Breaker(slow_call=0.5, slow_ratio=0.5, min_calls=4, window=10, failures=100)
REFUSED = tether.classify(ConnectionRefusedError(111, "Connection refused"))


def guard_for(config: Breaker) -> tuple[Guard, list[BreakerChange]]:
    changes: list[BreakerChange] = []
    clock = lambda: T0  # noqa: E731 - every record passes its own now
    return Guard(
        RetryPolicy(breaker=config, clock=clock, on_breaker_change=changes.append)
    ), changes


def test_pure_rule_counts_and_names_the_numbers() -> None:
    """count_slow counts every attempt and says which were slow; slow_reason opens only
    from min_calls attempts on, at slow_ratio or more, and gives the numbers."""
    window = SlidingWindow(10)
    assert [count_slow(window, SLOW, T0, d) for d in (0.6, 0.1, 0.5, 0.7)] == [
        True,
        False,
        False,  # exactly slow_call is not slower than it
        True,
    ]
    assert slow_reason(window, SLOW, T0) == (
        "2 of 4 attempts in 10 s took longer than 0.5 s (slow_ratio 0.5)"
    )
    assert slow_reason(window, SLOW, T0 + 10) is None  # the window moved past them all
    fewer = SlidingWindow(10)
    for d in (0.6, 0.6, 0.6):
        count_slow(fewer, SLOW, T0, d)
    assert slow_reason(fewer, SLOW, T0) is None  # 3 < min_calls


def test_successes_that_are_slow_open_the_breaker() -> None:
    """Four answered attempts, two slower than slow_call: open, saying why, with no failure."""
    guard, changes = guard_for(SLOW)
    for n, duration in enumerate((0.1, 0.9, 0.1)):
        guard.record(A, None, T0 + n * 0.1, duration=duration)
    assert guard.breaker_state(A) is BreakerState.CLOSED  # 3 attempts < min_calls
    guard.record(A, None, T0 + 0.3, duration=0.8)
    assert guard.breaker_state(A) is BreakerState.OPEN
    reason = "2 of 4 attempts in 10 s took longer than 0.5 s (slow_ratio 0.5)"
    assert changes == [BreakerChange(A, "closed", "open", None, reason)]


def test_a_fast_attempt_never_opens_it_and_failures_count_when_slow() -> None:
    """The rule is checked on a slow attempt only; a slow failure counts as slow too."""
    guard, changes = guard_for(SLOW)
    guard.record(A, REFUSED, T0, duration=0.9)
    guard.record(A, REFUSED, T0, duration=0.9)
    guard.record(A, None, T0, duration=0.1)
    assert guard.breaker_state(A) is BreakerState.CLOSED
    guard.record(A, None, T0, duration=0.1)  # 2 of 4 slow, but this one was fast
    assert guard.breaker_state(A) is BreakerState.CLOSED
    guard.record(A, REFUSED, T0, duration=0.7)
    assert guard.breaker_state(A) is BreakerState.OPEN
    assert changes[-1].failure is REFUSED
    assert changes[-1].reason.startswith("3 of 5 attempts")


def test_without_slow_call_nothing_is_counted() -> None:
    """slow_call=None (the default): no slow window is made and slowness never opens it."""
    guard, changes = guard_for(Breaker(min_calls=1))
    for n in range(50):
        guard.record(A, None, T0 + n, duration=100.0)
    assert changes == []
    assert guard._breakers[A].slow is None


def test_unsampled_records_are_not_counted() -> None:
    """sampled=False (a decorated function keyed by its failures) keeps attempts out of
    the slow share, as out of the failure ratio: it sees only calls that failed once."""
    guard, changes = guard_for(SLOW)
    for _ in range(10):
        guard.record(A, None, T0, duration=0.9, sampled=False)
    assert changes == []


def test_half_open_trial_that_is_slow_reopens_and_a_fast_one_starts_afresh() -> None:
    """After the cool-down a slow trial reopens the circuit; a fast one closes it and the
    slow calls that opened it are forgotten, so one slow call then does not reopen it."""
    guard, changes = guard_for(dataclasses.replace(SLOW, cooldown=1.0))
    for _ in range(4):
        guard.record(A, None, T0, duration=0.9)
    assert guard.breaker_state(A) is BreakerState.OPEN
    assert guard.admit(A, T0 + 1.5, first=True)  # the trial
    guard.record(A, None, T0 + 1.6, duration=0.6)
    assert guard.breaker_state(A) is BreakerState.OPEN
    assert changes[-1].reason == "the trial attempt took 0.6 s, more than 0.5 s"
    assert guard.admit(A, T0 + 3.0, first=True)
    guard.record(A, None, T0 + 3.0, duration=0.1)
    assert guard.breaker_state(A) is BreakerState.CLOSED
    for duration in (0.9, 0.1, 0.1, 0.9):
        guard.record(A, None, T0 + 3.1, duration=duration)
    assert guard.breaker_state(A) is BreakerState.OPEN  # 2 of 4 new ones: open again
    assert changes[-1].reason.startswith("2 of 4 attempts")


def test_circuit_open_detail_says_slow_calls() -> None:
    """A call refused by a breaker opened on slow calls says so, with the numbers."""
    policy = RetryPolicy(breaker=SLOW, clock=lambda: T0)
    guard = Guard(policy)
    for _ in range(4):
        guard.record(A, None, T0, duration=0.9)
    stopped = Call(policy, "GET", f"http://{A}/", guard=guard).begin()
    assert stopped is not None
    assert stopped.kind is Kind.CIRCUIT_OPEN
    assert stopped.detail == (
        f"the circuit for {A} is open on slow calls: 4 of 4 attempts in 10 s took longer "
        "than 0.5 s (slow_ratio 0.5); no request was sent"
    )


@settings(max_examples=300, deadline=None)
@given(
    schedule=st.lists(
        st.tuples(st.floats(0, 3), st.floats(0, 1), st.booleans()), min_size=1, max_size=60
    ),
    min_calls=st.integers(1, 12),
    ratio=st.sampled_from([0.2, 0.5, 0.8, 1.0]),
)
def test_opens_exactly_when_the_slow_share_is_reached(
    schedule: list[tuple[float, float, bool]], min_calls: int, ratio: float
) -> None:
    """Over any schedule of answered attempts (gap, duration, failed?), the breaker opens on
    slow calls only with at least min_calls attempts in the window and a slow share of
    ratio or more, and it always opens on a slow attempt that brings the share there."""
    config = Breaker(
        slow_call=0.5, slow_ratio=ratio, min_calls=min_calls, window=5, failures=10**6, ratio=1.0
    )
    guard, changes = guard_for(config)
    seen: list[tuple[float, bool]] = []
    now = T0
    for gap, duration, failed in schedule:
        now += gap
        seen.append((now, duration > 0.5))
        was = guard.breaker_state(A)
        guard.record(A, REFUSED if failed else None, now, duration=duration)
        if was is not BreakerState.CLOSED:
            return  # the property is about the closed breaker's rule
        recent = [slow for at, slow in seen if int(at) > int(now) - 5]
        due = len(recent) >= min_calls and sum(recent) >= ratio * len(recent)
        opened = guard.breaker_state(A) is BreakerState.OPEN
        if opened and "took longer" not in changes[-1].reason:
            return  # opened by the failure rules, which share min_calls and window
        if opened:
            assert due, (len(recent), sum(recent), changes[-1])
            assert changes[-1].reason.endswith(f"(slow_ratio {ratio:g})")
        else:
            assert not (due and seen[-1][1])


def test_breaker_opens_on_the_labs_slow_answers(lab: Lab) -> None:
    """End to end: three answers slower than slow_call open the circuit; the fourth call is
    refused before sending, saying it is open on slow calls."""
    config = Breaker(slow_call=0.05, slow_ratio=0.5, min_calls=3, window=30, cooldown=60)
    changes: list[BreakerChange] = []
    policy = RetryPolicy(breaker=config, on_breaker_change=changes.append)
    url = lab["latency"].url
    with tether.Session(policy=policy) as session:
        assert session.get(f"{url}?ms=0").status_code == 200
        for _ in range(2):
            assert session.get(f"{url}?ms=120").status_code == 200
        assert session.guard.breaker_state(url) is BreakerState.OPEN
        with pytest.raises(requests.exceptions.ConnectionError) as caught:
            session.get(f"{url}?ms=0")
    assert isinstance(caught.value, tether.CircuitOpenError)
    assert "is open on slow calls: 2 of 3 attempts in 30 s took longer than 0.05 s" in str(
        caught.value
    )
    assert [c.new for c in changes] == ["open"]
    assert changes[0].failure is None
