"""The pure cores of tether's answers to overload: counts over a sliding window,
client-side throttling (Google's SRE book, chapter 21, "Handling Overload"), and
adaptive concurrency limits (AIMD, and Gradient2 after Netflix's concurrency-limits).

None of them reads a clock or takes a lock: the caller passes ``now`` and each
measurement, and holds its own lock around them (a :class:`tether.Guard` does).  So each
is tested as a pure function, and a simulation can drive the same code on its own clock
(``benchmarks/bench_overload.py``).
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["AimdLimit", "Gradient2Limit", "ThrottleWindow", "Window"]


class Window:
    """Two counters summed over the last ``seconds`` seconds, in one-second buckets."""

    __slots__ = ("_buckets", "_seconds")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._buckets: deque[list[int]] = deque()  # [second, a, b]

    def add(self, now: float, a: int, b: int) -> None:
        second = int(now)
        if self._buckets and self._buckets[-1][0] == second:
            bucket = self._buckets[-1]
            bucket[1] += a
            bucket[2] += b
        else:
            self._buckets.append([second, a, b])

    def sums(self, now: float) -> tuple[int, int]:
        oldest = int(now) - self._seconds
        while self._buckets and self._buckets[0][0] <= oldest:
            self._buckets.popleft()
        return sum(b[1] for b in self._buckets), sum(b[2] for b in self._buckets)


class ThrottleWindow:
    """Client-side throttling of one endpoint, as the SRE book gives it.

    Over the last ``window`` seconds the client counts its ``requests`` (every attempt
    it wanted to send, those it rejected itself included) and the ``accepts`` (those
    the backend answered without rejecting them for overload).  The next request is
    rejected locally with probability ``max(0, (requests - k * accepts) / (requests + 1))``:
    nothing while the backend accepts more than one request in ``k``, and then the more
    the further it falls below, so the backend still sees enough traffic to show it has
    recovered.
    """

    __slots__ = ("_counts", "k")

    def __init__(self, k: float = 2.0, window: float = 120.0) -> None:
        self.k = k
        self._counts = Window(window)  # (requests, accepts)

    def probability(self, now: float) -> float:
        """The probability of rejecting a request sent at ``now``."""
        requests, accepts = self._counts.sums(now)
        return max(0.0, (requests - self.k * accepts) / (requests + 1))

    def record(self, now: float, *, accepted: bool) -> None:
        """Count one request at ``now``; ``accepted``: the backend took it."""
        self._counts.add(now, 1, int(accepted))

    def counts(self, now: float) -> tuple[int, int]:
        """``(requests, accepts)`` over the window."""
        return self._counts.sums(now)


class AimdLimit:
    """Additive increase, multiplicative decrease of a concurrency limit.

    After each sample: a drop (a timeout, or the server's refusal for overload) cuts
    the limit to ``backoff`` of itself; otherwise, while at least half the limit is in
    use, it grows by one.  (Netflix's ``AIMDLimit``.)
    """

    __slots__ = ("_limit", "backoff", "max_limit", "min_limit")

    def __init__(
        self, initial: int, *, min_limit: int = 1, max_limit: int = 200, backoff: float = 0.9
    ) -> None:
        self.min_limit, self.max_limit, self.backoff = min_limit, max_limit, backoff
        self._limit = float(min(max(initial, min_limit), max_limit))

    @property
    def limit(self) -> int:
        return int(self._limit)

    def update(self, rtt: float, inflight: int, *, dropped: bool) -> int:
        """Take one sample (``rtt`` seconds; ``inflight`` when it was sent) and return
        the new limit."""
        if dropped:
            self._limit = max(float(self.min_limit), math.floor(self._limit * self.backoff))
        elif inflight * 2 >= self._limit:
            self._limit = min(float(self.max_limit), self._limit + 1)
        return self.limit


class Gradient2Limit:
    """A concurrency limit that follows the ratio of long-term to recent latency.

    Netflix's ``Gradient2Limit``: a long-term exponential average of the round-trip
    time (over about ``long_window`` samples) stands for the latency without a queue;
    each sample's gradient, ``tolerance * long / short`` clamped to [0.5, 1], scales the
    limit down as latency rises above it, plus a headroom of ``queue`` slots (4, as
    Netflix's default), and the result is smoothed by ``smoothing``.
    While fewer than half the limit are in flight the limit holds (the client, not the
    server, is the bottleneck).  When the long-term average runs more than twice the
    recent one it decays, so the limit can grow back after a slow spell.
    """

    __slots__ = (
        "_limit",
        "_long",
        "_samples",
        "long_window",
        "max_limit",
        "min_limit",
        "queue",
        "smoothing",
        "tolerance",
    )

    def __init__(
        self,
        initial: int,
        *,
        min_limit: int = 1,
        max_limit: int = 200,
        tolerance: float = 1.5,
        smoothing: float = 0.2,
        long_window: int = 600,
        queue: int = 4,
    ) -> None:
        self.min_limit, self.max_limit, self.queue = min_limit, max_limit, queue
        self.tolerance, self.smoothing, self.long_window = tolerance, smoothing, long_window
        self._limit = float(min(max(initial, min_limit), max_limit))
        self._long = 0.0
        self._samples = 0

    @property
    def limit(self) -> int:
        return int(self._limit)

    def update(self, rtt: float, inflight: int, *, dropped: bool = False) -> int:
        """Take one sample and return the new limit.  ``dropped`` is accepted for one
        signature with :class:`AimdLimit`; a dropped request's long ``rtt`` is its signal."""
        if rtt <= 0:
            return self.limit
        # The long-term average: a plain mean over the first samples, then exponential.
        self._samples += 1
        if self._samples <= 10:
            self._long += (rtt - self._long) / self._samples
        else:
            factor = 2 / (self.long_window + 1)
            self._long += (rtt - self._long) * factor
        long = self._long
        if long / rtt > 2:  # recovering from a slow spell: let the baseline come down
            self._long = long = long * 0.95
        if inflight < self._limit / 2:
            return self.limit
        gradient = max(0.5, min(1.0, self.tolerance * long / rtt))
        target = self._limit * gradient + self.queue
        target = self._limit * (1 - self.smoothing) + target * self.smoothing
        self._limit = max(float(self.min_limit), min(float(self.max_limit), target))
        return self.limit
