"""Backoff delays: a pure function of (attempt, policy, random source).

The formulas are those of Marc Brooker, "Exponential Backoff and Jitter"
(AWS Architecture Blog, 2015), with ``expo = min(cap, base * multiplier ** (n - 1))``
for the n-th retry:

    none ........... expo
    full ........... random_between(0, expo)
    equal .......... expo / 2 + random_between(0, expo / 2)
    decorrelated ... min(cap, random_between(base, previous * 3))

Full jitter spreads competing clients best for the least total work, which is
why it is the default.  Decorrelated jitter grows from the previous delay, not
from the attempt number, so it needs that delay (``previous``; the first retry
uses ``base``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

Jitter = Literal["full", "equal", "decorrelated", "none"]
JITTERS: tuple[Jitter, ...] = ("full", "equal", "decorrelated", "none")


def backoff_delay(
    retry: int,
    *,
    base: float,
    multiplier: float,
    cap: float,
    jitter: Jitter,
    rand: Callable[[], float],
    previous: float | None = None,
) -> float:
    """Seconds to wait before the ``retry``-th retry (1 for the first).

    ``rand`` returns a float in [0, 1), like :func:`random.random`; tests pass
    a constant to get exact values.  The result is always in [0, cap].
    """
    if retry < 1:
        raise ValueError(f"retry must be at least 1, not {retry}")
    r = min(max(rand(), 0.0), 1.0)
    if jitter == "decorrelated":
        last = base if previous is None else previous
        high = max(base, last * 3)
        return _clamp(base + r * (high - base), cap)
    expo = _expo(retry, base, multiplier, cap)
    if jitter == "full":
        return r * expo
    if jitter == "equal":
        return expo / 2 + r * expo / 2
    return expo


def _expo(retry: int, base: float, multiplier: float, cap: float) -> float:
    try:
        grown = base * multiplier ** (retry - 1)
    except OverflowError:  # a huge attempt number: the cap is the answer
        return cap
    return _clamp(grown, cap)


def _clamp(delay: float, cap: float) -> float:
    return min(max(delay, 0.0), cap)
