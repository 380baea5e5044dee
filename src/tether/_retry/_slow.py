"""The breaker's slow-call rule, after resilience4j's ``slowCallRateThreshold``.

Pure: the caller passes the attempt's duration and ``now`` and holds the lock; nothing
here reads a clock.  Used only when :attr:`Breaker.slow_call` is set, so a breaker
without it pays nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tether._retry._limits import SlidingWindow
    from tether._retry._policy import Breaker


def count_slow(window: SlidingWindow, config: Breaker, now: float, duration: float) -> bool:
    """Count one attempt in ``window`` (calls, slow calls); was it slow?

    Slow means longer than ``config.slow_call``, whether it succeeded or failed.
    """
    assert config.slow_call is not None
    slow = duration > config.slow_call
    window.add(now, 1, int(slow))
    return slow


def slow_reason(window: SlidingWindow, config: Breaker, now: float) -> str | None:
    """Why the breaker opens on slow calls now, or None if it does not.

    It does when at least ``min_calls`` attempts were counted in the window and
    ``slow_ratio`` of them or more were slow.
    """
    calls, slow = window.sums(now)
    if calls < config.min_calls or slow < config.slow_ratio * calls:
        return None
    return (
        f"{slow} of {calls} attempts in {config.window:g} s took longer than "
        f"{config.slow_call:g} s (slow_ratio {config.slow_ratio:g})"
    )
