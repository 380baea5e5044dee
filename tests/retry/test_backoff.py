"""Exact values of ``tether.backoff_delay``, the pure backoff function.

The formulas are Marc Brooker's, "Exponential Backoff and Jitter" (AWS
Architecture Blog, 2015), as quoted in ``src/tether/_retry/_backoff.py``, with
``expo = min(cap, base * multiplier ** (n - 1))`` for the n-th retry:

    none ........... expo
    full ........... random_between(0, expo)
    equal .......... expo / 2 + random_between(0, expo / 2)
    decorrelated ... min(cap, random_between(base, previous * 3))

A constant ``rand`` makes every value exact.  No clock, no sleep, no socket.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

import pytest

import tether
from tether import backoff_delay

JITTERS = ("full", "equal", "decorrelated", "none")


def const(value: float) -> Callable[[], float]:
    """A ``rand`` that always returns ``value``."""
    return lambda: value


def delay(
    retry: int,
    jitter: str,
    r: float,
    *,
    base: float = 1.0,
    multiplier: float = 2.0,
    cap: float = 100.0,
    previous: float | None = None,
) -> float:
    return backoff_delay(
        retry,
        base=base,
        multiplier=multiplier,
        cap=cap,
        jitter=jitter,  # type: ignore[arg-type]
        rand=const(r),
        previous=previous,
    )


# --- one formula at a time ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry", "r", "expected"),
    [
        (1, 0.0, 0.0),
        (1, 0.5, 0.5),
        (1, 0.999, 0.999),
        (3, 0.0, 0.0),
        (3, 0.5, 2.0),
        (3, 0.999, 3.996),
        (5, 0.25, 4.0),
    ],
)
def test_full_jitter_is_rand_times_expo(retry: int, r: float, expected: float) -> None:
    """Full jitter: random_between(0, base * multiplier ** (n - 1))."""
    assert delay(retry, "full", r) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("retry", "r", "expected"),
    [
        (1, 0.0, 0.5),
        (1, 0.5, 0.75),
        (1, 0.999, 0.9995),
        (3, 0.0, 2.0),
        (3, 0.5, 3.0),
        (3, 0.999, 3.998),
    ],
)
def test_equal_jitter_is_half_expo_plus_rand_half(retry: int, r: float, expected: float) -> None:
    """Equal jitter: expo / 2 + random_between(0, expo / 2), never below half of expo."""
    assert delay(retry, "equal", r) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("r", [0.0, 0.5, 0.999])
@pytest.mark.parametrize(("retry", "expected"), [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0)])
def test_no_jitter_is_expo_whatever_rand_says(retry: int, expected: float, r: float) -> None:
    """No jitter: exactly base * multiplier ** (n - 1), rand is ignored."""
    assert delay(retry, "none", r) == expected


def test_multiplier_and_base_both_shape_expo() -> None:
    """expo grows by ``multiplier`` per retry from ``base``: 0.1, 0.3, 0.9 with multiplier 3."""
    got = [delay(n, "none", 0.0, base=0.1, multiplier=3.0) for n in (1, 2, 3)]
    assert got == pytest.approx([0.1, 0.3, 0.9])


@pytest.mark.parametrize(
    ("r", "expected"),
    [(0.0, 1.0), (0.5, 2.0), (0.999, 2.998)],
)
def test_decorrelated_first_retry_draws_between_base_and_three_base(
    r: float, expected: float
) -> None:
    """Decorrelated without ``previous`` uses base as the previous delay: [base, 3 * base]."""
    assert delay(1, "decorrelated", r) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("previous", "r", "expected"),
    [(4.0, 0.0, 1.0), (4.0, 0.5, 6.5), (4.0, 0.999, 11.989), (10.0, 0.5, 15.5)],
)
def test_decorrelated_grows_from_previous_delay(previous: float, r: float, expected: float) -> None:
    """Decorrelated: random_between(base, previous * 3)."""
    got = delay(2, "decorrelated", r, previous=previous)
    assert got == pytest.approx(expected, abs=1e-12)


def test_decorrelated_ignores_the_retry_number() -> None:
    """Decorrelated depends on ``previous``, not on n: retries 2 and 50 give the same delay."""
    assert delay(2, "decorrelated", 0.3, previous=2.0) == delay(
        50, "decorrelated", 0.3, previous=2.0
    )


def test_decorrelated_previous_below_base_still_draws_from_base() -> None:
    """A previous delay under base/3 cannot push the range below base."""
    assert delay(2, "decorrelated", 0.999, previous=0.1) == 1.0


# --- the cap ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("jitter", "r", "expected"),
    [
        ("none", 0.5, 5.0),
        ("full", 0.5, 2.5),
        ("full", 0.999, 4.995),
        ("equal", 0.0, 2.5),
        ("equal", 0.5, 3.75),
    ],
)
def test_cap_bounds_expo_before_jitter(jitter: str, r: float, expected: float) -> None:
    """expo is capped first, then jittered: retry 10 (expo 512) with cap 5."""
    assert delay(10, jitter, r, cap=5.0) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("previous", "r"), [(100.0, 0.5), (2.0, 0.999), (50.0, 0.0001)])
def test_decorrelated_is_capped(previous: float, r: float) -> None:
    """Decorrelated: min(cap, ...); a large previous delay still gives at most cap."""
    got = delay(2, "decorrelated", r, previous=previous, cap=5.0)
    assert got == min(5.0, 1.0 + r * (previous * 3 - 1.0))
    assert got <= 5.0


@pytest.mark.parametrize("jitter", JITTERS)
def test_cap_zero_means_no_wait(jitter: str) -> None:
    """cap=0 gives 0 for every jitter: retry at once."""
    assert delay(3, jitter, 0.7, cap=0.0, previous=4.0) == 0.0


# --- huge attempt numbers -------------------------------------------------------------------


@pytest.mark.parametrize("retry", [1_100, 10**6, 10**18])
@pytest.mark.parametrize(("jitter", "expected"), [("none", 5.0), ("full", 2.5), ("equal", 3.75)])
def test_huge_retry_number_gives_the_cap_not_overflow(
    retry: int, jitter: str, expected: float
) -> None:
    """2.0 ** 10**18 overflows a float; the delay is the capped value instead of OverflowError."""
    got = backoff_delay(
        retry,
        base=0.1,
        multiplier=2.0,
        cap=5.0,
        jitter=jitter,
        rand=const(0.5),  # type: ignore[arg-type]
    )
    assert got == expected


def test_policy_delay_with_a_huge_retry_number_is_the_cap() -> None:
    """``RetryPolicy.delay`` goes through the same overflow guard."""
    policy = tether.RetryPolicy(jitter="none", cap=7.0)
    assert policy.delay(10**9) == 7.0


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("retry", [0, -1, -(10**9)])
@pytest.mark.parametrize("jitter", JITTERS)
def test_retry_below_one_raises(retry: int, jitter: str) -> None:
    """The first retry is 1: anything lower is a caller's bug, and the message says which."""
    with pytest.raises(ValueError, match=rf"retry must be at least 1, not {retry}"):
        delay(retry, jitter, 0.5)


@pytest.mark.parametrize("r", [-0.5, -1e300, 1.5, 1e300])
@pytest.mark.parametrize("jitter", JITTERS)
def test_rand_out_of_range_is_clamped(jitter: str, r: float) -> None:
    """A ``rand`` outside [0, 1) is clamped, so even a broken source stays in [0, cap]."""
    got = delay(4, jitter, r, cap=5.0, previous=3.0)
    assert 0.0 <= got <= 5.0
    if r < 0:
        assert got == delay(4, jitter, 0.0, cap=5.0, previous=3.0)
    else:
        assert got == delay(4, jitter, 1.0, cap=5.0, previous=3.0)


# --- the range, over many random sources ---------------------------------------------------


def test_delay_is_always_within_zero_and_cap() -> None:
    """Over 400 rand values, every jitter, many retries and previous delays: 0 <= d <= cap."""
    source = random.Random(20240601)
    rands = [0.0, 0.999999999, *(source.random() for _ in range(400))]
    cases = itertools.product(
        JITTERS, (1, 2, 7, 30, 60), (None, 0.0, 0.05, 1.0, 9.0, 1e6), (0.5, 5.0)
    )
    checked = 0
    for jitter, retry, previous, cap in cases:
        for r in rands:
            got = backoff_delay(
                retry,
                base=0.1,
                multiplier=3.0,
                cap=cap,
                jitter=jitter,  # type: ignore[arg-type]
                rand=const(r),
                previous=previous,
            )
            assert 0.0 <= got <= cap, (jitter, retry, previous, cap, r, got)
            checked += 1
    assert checked == 4 * 5 * 6 * 2 * len(rands)


@pytest.mark.parametrize("jitter", ["full", "equal"])
def test_jittered_delay_grows_with_rand(jitter: str) -> None:
    """Full and equal jitter are monotonic in rand: a larger draw never waits less."""
    values = [delay(3, jitter, i / 100) for i in range(100)]
    assert values == sorted(values)
    assert values[0] < values[-1]


# --- RetryPolicy.delay ----------------------------------------------------------------------


def test_policy_delay_draws_from_the_policys_rand() -> None:
    """``RetryPolicy.delay`` uses the policy's own rand, once per call, with its base and cap."""
    draws = iter([0.25, 0.75, 0.5])
    calls: list[float] = []

    def rand() -> float:
        value = next(draws)
        calls.append(value)
        return value

    policy = tether.RetryPolicy(base=1.0, multiplier=2.0, cap=3.0, jitter="full", rand=rand)
    assert policy.delay(1) == 0.25  # 0.25 * 1
    assert policy.delay(2) == 1.5  # 0.75 * 2
    assert policy.delay(3) == 1.5  # 0.5 * min(3, 4)
    assert calls == [0.25, 0.75, 0.5]


def test_policy_delay_passes_previous_for_decorrelated() -> None:
    """``RetryPolicy.delay(retry, previous)`` hands ``previous`` to decorrelated jitter."""
    policy = tether.RetryPolicy(base=1.0, cap=100.0, jitter="decorrelated", rand=const(0.5))
    assert policy.delay(2, 4.0) == 6.5
    assert policy.delay(2) == 2.0


def test_policy_delay_matches_backoff_delay_for_each_jitter() -> None:
    """The policy is a thin front: the same arguments give the same value as the function."""
    for jitter in JITTERS:
        policy = tether.RetryPolicy(
            base=0.2, multiplier=1.5, cap=2.0, jitter=jitter, rand=const(0.375)
        )  # type: ignore[arg-type]
        for retry in range(1, 12):
            assert policy.delay(retry, 0.9) == backoff_delay(
                retry,
                base=0.2,
                multiplier=1.5,
                cap=2.0,
                jitter=jitter,  # type: ignore[arg-type]
                rand=const(0.375),
                previous=0.9,
            )
