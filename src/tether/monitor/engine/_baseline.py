"""A monitor's latency baseline: median and MAD, global and by hour of the week.

Latency is skewed (a long tail of slow responses) and spiky (one GC pause, one
retransmit), so the mean and standard deviation describe it badly: a single
10-second spike moves them for hours.  The median and the median absolute
deviation (MAD) do not move until half of the samples change:

    median = median(x)
    MAD    = median(|x - median|)
    limit  = median + max(k * 1.4826 * MAD, floor_ms)

1.4826 = 1 / Φ⁻¹(3/4) makes the MAD an estimate of the standard deviation for
normal data, so ``k`` reads as "standard deviations" (Hampel 1974; Leys et al.,
"Detecting outliers: do not use standard deviation around the mean, use
absolute deviation around the median", J. Exp. Soc. Psych. 49(4), 2013, who
recommend k = 2.5 to 3).  The floor keeps a service whose MAD is a few
microseconds from being called slow over noise.

Global: the last ``window`` successful latencies; ``expected()`` is ``None``
("learning") until ``min_samples`` of them.  Seasonal: each hour of the week
(Monday 00:00 UTC is hour 0) keeps the median and MAD of that hour in each of
the last ``weeks_kept`` weeks; once ``seasonal_weeks`` weeks are there, that
hour's baseline is the median of those medians and of those MADs, and the
global one is the fallback.  Memory is bounded: ``window`` + ``hour_cap``
floats, plus 168 x ``weeks_kept`` (week, median, MAD) summaries.
"""

from __future__ import annotations

import operator
import statistics
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Literal

from tether.monitor._records import stored_ms
from tether.monitor.config._rules import Latency

MAD_SCALE = 1.4826
"""1 / Φ⁻¹(3/4): the MAD times this estimates the standard deviation of normal data."""
HOURS_PER_WEEK = 168
# 1970-01-01 00:00 UTC was a Thursday, 72 hours after a Monday 00:00.
_EPOCH_HOUR_OF_WEEK = 72


@dataclass(frozen=True, slots=True)
class Expected:
    """What the baseline expects at one moment, and the limit above which a latency is slow."""

    source: Literal["global", "seasonal"]
    median_ms: float
    mad_ms: float
    limit_ms: float


def median_mad(values: Sequence[float]) -> tuple[float, float]:
    """The median of ``values`` and their median absolute deviation from it."""
    center = _median(sorted(values))
    # map() over operator.sub keeps the loop in C: this runs on every passing check.
    return center, _median(sorted(map(abs, map(operator.sub, values, repeat(center)))))


def _median(ordered: Sequence[float]) -> float:
    half = len(ordered) // 2
    return ordered[half] if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2


def slow_limit(median_ms: float, mad_ms: float, k: float, floor_ms: float) -> float:
    """``median + max(k * 1.4826 * MAD, floor)``: the latency above which a check is slow."""
    return median_ms + max(k * MAD_SCALE * mad_ms, floor_ms)


def hour_of_week(at: float) -> int:
    """0 for Monday 00:00-00:59 UTC up to 167 for Sunday 23:00-23:59 UTC (``at``: epoch s)."""
    return (int(at // 3600) + _EPOCH_HOUR_OF_WEEK) % HOURS_PER_WEEK


def _week(hour: int) -> int:
    return (hour + _EPOCH_HOUR_OF_WEEK) // HOURS_PER_WEEK


class _Seasonal:
    """Per hour of the week, (week, median, MAD) of that hour in the last few weeks.

    Flat arrays rather than objects: at tens of thousands of monitors a list of
    tuples per hour would cost ten times the memory.
    """

    __slots__ = ("_count", "_kept", "_mad", "_median", "_week")

    def __init__(self, kept: int) -> None:
        size = HOURS_PER_WEEK * kept
        self._kept = kept
        self._count = bytearray(HOURS_PER_WEEK)
        self._week = array("i", bytes(4 * size))
        self._median = array("f", bytes(4 * size))
        self._mad = array("f", bytes(4 * size))

    def add(self, bucket: int, week: int, median: float, mad: float) -> None:
        """Record an hour's summary; a second one for the same week replaces the first."""
        first, count = bucket * self._kept, self._count[bucket]
        slot = next((i for i in range(first, first + count) if self._week[i] == week), None)
        if slot is None:
            if count == self._kept:  # full: the oldest week goes
                for i in range(first, first + count - 1):
                    self._week[i], self._median[i], self._mad[i] = (
                        self._week[i + 1],
                        self._median[i + 1],
                        self._mad[i + 1],
                    )
                count -= 1
            slot = first + count
            self._count[bucket] = count + 1
        self._week[slot], self._median[slot], self._mad[slot] = week, median, mad

    def expected(self, bucket: int, weeks: int) -> tuple[float, float] | None:
        """Median of the weekly medians and of the weekly MADs, given ``weeks`` of them."""
        first, count = bucket * self._kept, self._count[bucket]
        if count < weeks:
            return None
        return (
            statistics.median(self._median[first : first + count]),
            statistics.median(self._mad[first : first + count]),
        )

    def entries(self) -> list[list[float]]:
        """``[hour_of_week, week, median, mad]`` rows, oldest week first within an hour."""
        rows: list[list[float]] = []
        for bucket in range(HOURS_PER_WEEK):
            first = bucket * self._kept
            for i in range(first, first + self._count[bucket]):
                rows.append([bucket, self._week[i], self._median[i], self._mad[i]])
        return rows


class Baseline:
    """One monitor's latency history; ``expected(at)`` says what is normal at ``at``."""

    __slots__ = (
        "_cached",
        "_hour",
        "_hour_samples",
        "_seasonal",
        "_seen",
        "_stride",
        "_window",
        "rules",
    )

    def __init__(self, rules: Latency | None = None) -> None:
        self.rules = rules or Latency()
        self._window = array("d")
        self._cached: Expected | None = None
        self._hour: int | None = None  # hours since the epoch, of the samples being gathered
        self._hour_samples = array("d")
        self._seen = 0
        self._stride = 1
        self._seasonal: _Seasonal | None = None

    @property
    def samples(self) -> int:
        """Latencies in the global window."""
        return len(self._window)

    @property
    def learning(self) -> bool:
        """True until the global window holds ``min_samples`` latencies."""
        return len(self._window) < self.rules.min_samples

    def add(self, latency_ms: float, at: float) -> None:
        """Learn one successful check's latency, measured at ``at`` (epoch seconds)."""
        self._window.append(latency_ms)
        if len(self._window) > self.rules.window:
            del self._window[0]
        self._cached = None
        hour = int(at // 3600)
        if self._hour is None:
            self._hour = hour
        elif hour > self._hour:
            self._fold()
            self._hour = hour
        # A sample from an earlier hour (the clock was set back) joins the current one.
        self._keep_for_hour(latency_ms)

    def expected(self, at: float) -> Expected | None:
        """The baseline for ``at``: that hour's own once it has enough weeks, else the
        global one; ``None`` while learning."""
        if self._seasonal is not None:
            found = self._seasonal.expected(hour_of_week(at), self.rules.seasonal_weeks)
            if found is not None:
                return self._expected("seasonal", *found)
        if self.learning:
            return None
        if self._cached is None:
            self._cached = self._expected("global", *median_mad(self._window))
        return self._cached

    def _expected(
        self, source: Literal["global", "seasonal"], median: float, mad: float
    ) -> Expected:
        limit = slow_limit(median, mad, self.rules.k, self.rules.floor_ms)
        return Expected(source, median, mad, limit)

    def _keep_for_hour(self, latency_ms: float) -> None:
        # Past the cap, keep every other sample and then every stride-th: the hour
        # stays evenly covered in bounded memory, with no random source to inject.
        if self._seen % self._stride == 0:
            self._hour_samples.append(latency_ms)
            if len(self._hour_samples) > self.rules.hour_cap:
                del self._hour_samples[1::2]
                self._stride *= 2
        self._seen += 1

    def _fold(self) -> None:
        """Summarise the finished hour into its hour-of-week history."""
        if self._hour is None or not self._hour_samples:
            return
        if self._seasonal is None:
            self._seasonal = _Seasonal(self.rules.weeks_kept)
        median, mad = median_mad(self._hour_samples)
        self._seasonal.add(hour_of_week(self._hour * 3600), _week(self._hour), median, mad)
        self._hour_samples = array("d")
        self._seen, self._stride = 0, 1

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, numbers, None) that :meth:`from_dict` restores."""
        return {
            "window": list(self._window),
            "hour": self._hour,
            "hour_samples": list(self._hour_samples),
            "hour_seen": self._seen,
            "hour_stride": self._stride,
            "seasonal": self._seasonal.entries() if self._seasonal else [],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], rules: Latency | None = None) -> Baseline:
        """Restore a baseline, fitted to ``rules`` (a smaller window keeps the newest)."""
        baseline = cls(rules)
        rules = baseline.rules
        baseline._window = array("d", _durations(data["window"][-rules.window :]))
        baseline._hour = None if data["hour"] is None else int(data["hour"])
        baseline._hour_samples = array("d", _durations(data["hour_samples"]))
        baseline._seen, baseline._stride = int(data["hour_seen"]), int(data["hour_stride"])
        while len(baseline._hour_samples) > rules.hour_cap:
            del baseline._hour_samples[1::2]
            baseline._stride *= 2
        if data["seasonal"]:
            baseline._seasonal = _Seasonal(rules.weeks_kept)
            for bucket, week, *summary in data["seasonal"]:
                median, mad = _durations(summary)
                baseline._seasonal.add(int(bucket), int(week), median, mad)
        return baseline


def _durations(saved: Sequence[object]) -> list[float]:
    """Saved latencies, each a duration (:func:`~tether.monitor._records.stored_ms`);
    ValueError for any that is not: a saved state a direct write spoiled is started
    afresh, not learned from (an infinite sample would hold the baseline for weeks)."""
    out = []
    for value in saved:
        ms = stored_ms(value)
        if ms is None:
            raise ValueError(f"baseline: {str(value)[:40]} is not a latency in ms")
        out.append(ms)
    return out
