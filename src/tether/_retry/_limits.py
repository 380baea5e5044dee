"""The pure cores of tether's answers to overload: counts over a sliding window,
client-side throttling (Google's SRE book, chapter 21, "Handling Overload"), and
adaptive concurrency limits (AIMD, and Gradient2 after Netflix's concurrency-limits).

None of them reads a clock or takes a lock: the caller passes ``now`` and each
measurement, and holds its own lock around them (a :class:`tether.Guard` does; a
:class:`SlidingWindow`'s ``tally`` alone is counted without one).  So each
is tested as a pure function, and a simulation can drive the same code on its own clock
(``benchmarks/bench_overload.py``).
"""

from __future__ import annotations

import itertools
import math
from collections import deque

__all__ = ["AimdLimit", "Gradient2Limit", "SlidingWindow", "ThrottleWindow"]


class SlidingWindow:
    """Two counters summed over the last ``seconds`` seconds, in one-second buckets.

    ``tally``: the newest bucket's ``a`` may also be counted without a lock, by
    ``next(window.tally)`` (an ``itertools.count``, whose step the GIL makes atomic),
    while ``start <= now < end``: the guard's healthy calls do (issue 46 §5).  The
    counts so taken are folded into ``a`` by whoever reads or rolls the window, under
    the owner's lock (:meth:`add`'s slow path, :meth:`sums`).  A count whose ``now``
    raced a roll to the next second lands in the new bucket: as if its clock had been
    read a moment later; none is lost or counted twice.
    """

    __slots__ = ("_buckets", "_folded", "_second", "_seconds", "a", "b", "end", "start", "tally")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._buckets: deque[list[int]] = deque()  # the older buckets: [second, a, b]
        self._second: int | None = None
        """The newest bucket's second; None: none."""
        self.a = self.b = 0
        """The newest bucket's counts."""
        self.start, self.end = _NEVER
        """The newest bucket's range of moments: a caller on a hot path may count into
        ``a`` with ``next(tally)`` while ``start <= now < end``, and call :meth:`add`
        otherwise."""
        self.tally = itertools.count()
        self._folded = 0
        """How many of ``tally``'s steps are in ``a`` already (the folds' own included)."""

    def _fold(self) -> None:
        """Move the counts taken by ``next(tally)`` into ``a`` (under the owner's lock:
        one folder at a time; the counting threads need none)."""
        taken = next(self.tally)  # the steps before this one: the counts and the folds
        self.a += taken - self._folded
        self._folded = taken + 1

    def add(self, now: float, a: int, b: int) -> None:
        # On every healthy call (issue 46 §5): two float comparisons and two additions to
        # the newest bucket while its second lasts; no int(), no list to index.
        if self.start <= now < self.end:
            self.a += a
            self.b += b
            return
        second = int(now)
        self._fold()  # into the bucket they were counted in, before it rolls
        if second == self._second:  # a float at the second's edge
            self.a += a
            self.b += b
            return
        if self._second is not None:
            self._buckets.append([self._second, self.a, self.b])
        # Closed first, so that a counting thread reading start and end while they change
        # sees a range no later than the new bucket's (the count then lands in it).
        self.start = math.inf
        self._second, self.a, self.b = second, a, b
        # int() cuts toward zero: below zero the range [second, second + 1) is not its.
        start, self.end = (float(second), second + 1.0) if second >= 0 else _NEVER
        self.start = start

    def sums(self, now: float) -> tuple[int, int]:
        self._fold()
        oldest = int(now) - self._seconds
        buckets = self._buckets
        while buckets and buckets[0][0] <= oldest:
            buckets.popleft()
        if not buckets and self._second is not None and self._second <= oldest:
            self._second, self.a, self.b = None, 0, 0
            self.start, self.end = _NEVER
        return (
            sum(b[1] for b in buckets) + self.a,
            sum(b[2] for b in buckets) + self.b,
        )


_NEVER = (math.inf, -math.inf)
"""A range no moment is in."""


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
        self._counts = SlidingWindow(window)  # (requests, accepts)

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
    """A concurrency limit that follows the ratio of the no-load latency to the latest.

    After Netflix's ``Gradient2Limit``: each sample's gradient,
    ``tolerance * no_load / rtt`` clamped to [0.5, 1], scales the limit down as latency
    rises above the no-load latency; at a gradient of 1 the limit grows by a headroom of
    ``queue`` slots (4, as Netflix's default); the result is smoothed by ``smoothing``.
    While fewer than half the limit are in flight the limit holds (the client, not the
    server, is the bottleneck).

    Two changes from Netflix's code, each after a defect reported there:

    - The no-load latency is the least of the last ``long_window`` samples (Netflix's
      first ``GradientLimit`` used the minimum too, as Envoy's adaptive concurrency
      filter and BBR's windowed minimum do), not Gradient2's long-term average: that
      average follows a standing queue up, so under steady overload the gradient
      returns to 1 and the limit climbs to its maximum (Netflix/concurrency-limits
      issue 137).  A window lets the minimum rise again when the endpoint has really
      become slower.  Dropped samples (a timeout, a 429 or 503) do not set it: a refusal
      is quick because the work was not done.
    - The headroom is added only at a gradient of 1, and a dropped sample counts as a
      gradient of 0.5 (Netflix/concurrency-limits pull request 134, issue 176): with the
      headroom added under a gradient around 0.8 the limit still grows indefinitely,
      and a drop would otherwise leave the limit where it was.
    """

    __slots__ = (
        "_limit",
        "_lows",
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
        self._lows: deque[tuple[int, float]] = deque()
        """(sample number, rtt), rising: the window's minimum is first."""
        self._samples = 0

    @property
    def limit(self) -> int:
        return int(self._limit)

    @property
    def no_load(self) -> float | None:
        """The least latency of the window (None before a sample that was not dropped)."""
        return self._lows[0][1] if self._lows else None

    def update(self, rtt: float, inflight: int, *, dropped: bool = False) -> int:
        """Take one sample (``rtt`` seconds; ``inflight`` attempts in flight) and return
        the new limit."""
        if rtt <= 0 and not dropped:
            return self.limit
        self._samples += 1
        lows = self._lows
        if not dropped:  # a sliding-window minimum: a rising deque, O(1) amortised
            while lows and lows[-1][1] >= rtt:
                lows.pop()
            lows.append((self._samples, rtt))
        while lows and lows[0][0] <= self._samples - self.long_window:
            lows.popleft()
        if inflight < self._limit / 2:
            return self.limit
        if dropped or not lows:
            gradient = 0.5
        else:
            gradient = max(0.5, min(1.0, self.tolerance * lows[0][1] / rtt))
        target = self._limit * gradient + (self.queue if gradient >= 1 else 0)
        target = self._limit * (1 - self.smoothing) + target * self.smoothing
        self._limit = max(float(self.min_limit), min(float(self.max_limit), target))
        return self.limit
