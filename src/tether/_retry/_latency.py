"""Recent attempt latencies of one endpoint and their percentile: the hedge delay that
follows the endpoint (``Hedge(percentile=...)``).

Pure: no clock, no lock.  A :class:`tether.Guard` keeps one per endpoint, only when its
policy hedges on a percentile, and holds its lock around each use.
"""

from __future__ import annotations

import bisect
import math
from collections import deque

__all__ = ["SAMPLES", "LatencySamples"]

SAMPLES = 256
"""How many recent successful attempts the percentile is taken over: enough for a 99th
percentile to mean something, few enough to follow a change within seconds of traffic."""


class LatencySamples:
    """The last ``size`` durations, kept in order of arrival and sorted side by side, so a
    percentile is one index and a new sample costs a binary search and a shift."""

    __slots__ = ("_order", "_sorted", "size")

    def __init__(self, size: int = SAMPLES) -> None:
        self.size = size
        self._order: deque[float] = deque()
        self._sorted: list[float] = []

    def __len__(self) -> int:
        return len(self._order)

    def add(self, duration: float) -> None:
        """Take one sample, forgetting the oldest once ``size`` are kept."""
        if len(self._order) >= self.size:
            oldest = self._order.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, oldest)]
        self._order.append(duration)
        bisect.insort(self._sorted, duration)

    def percentile(self, p: float) -> float | None:
        """The nearest-rank ``p``-th percentile (0 < p < 100): the smallest sample with at
        least ``p`` percent of the samples at or below it; ``None`` with no samples."""
        n = len(self._sorted)
        if n == 0:
            return None
        rank = max(1, math.ceil(p * n / 100))
        return self._sorted[rank - 1]
