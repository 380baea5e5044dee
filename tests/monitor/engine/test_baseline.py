"""The latency baseline: median and MAD, learning, bounded memory, hour-of-week seasons.

``limit = median + max(k * 1.4826 * MAD, floor_ms)``; pure, on made-up
timestamps, no clock and no socket.
"""

from __future__ import annotations

import calendar
import json
import random
import statistics

import pytest

from tether.monitor.config._rules import Latency
from tether.monitor.engine._baseline import (
    MAD_SCALE,
    Baseline,
    Expected,
    hour_of_week,
    median_mad,
    slow_limit,
)

HOUR, WEEK = 3600.0, 7 * 86400.0
MONDAY = float(calendar.timegm((2024, 1, 1, 0, 0, 0)))  # 2024-01-01 was a Monday


def _learned(values: list[float], rules: Latency | None = None, at: float = MONDAY) -> Baseline:
    baseline = Baseline(rules)
    for i, value in enumerate(values):
        baseline.add(value, at + i)
    return baseline


# --- the maths ---------------------------------------------------------------------------------


def test_median_and_mad_by_hand() -> None:
    """median(1, 2, 3, 4, 100) = 3; deviations 2, 1, 0, 1, 97 have median 1."""
    assert median_mad([1.0, 2.0, 3.0, 4.0, 100.0]) == (3.0, 1.0)


def test_limit_is_k_scaled_mads_above_the_median() -> None:
    """With MAD 10 ms and k 3 the limit is 3 x 1.4826 x 10 = 44.478 ms above the median."""
    assert slow_limit(100.0, 10.0, k=3.0, floor_ms=20.0) == pytest.approx(144.478)


def test_floor_wins_when_the_mad_is_tiny() -> None:
    """A MAD of 0.1 ms would put the limit 0.44 ms above the median; the floor keeps it 50 ms."""
    assert slow_limit(1.0, 0.1, k=3.0, floor_ms=50.0) == 51.0


def test_hour_of_week_starts_monday_utc() -> None:
    """Monday 00:00 UTC is hour 0, Monday 01:00 hour 1, Sunday 23:59 hour 167."""
    assert hour_of_week(MONDAY) == 0
    assert hour_of_week(MONDAY + HOUR) == 1
    assert hour_of_week(MONDAY + WEEK - 1) == 167
    assert hour_of_week(MONDAY + WEEK) == 0


# --- learning and robustness -------------------------------------------------------------------


def test_learning_until_min_samples() -> None:
    """expected() is None for the first 29 latencies and a global baseline from the 30th."""
    baseline = _learned([100.0] * 29)
    assert baseline.learning
    assert baseline.expected(MONDAY) is None
    baseline.add(100.0, MONDAY + 29)
    assert not baseline.learning
    assert baseline.expected(MONDAY) == Expected("global", 100.0, 0.0, 150.0)


def test_a_few_huge_spikes_do_not_move_the_baseline() -> None:
    """Five 10-second spikes among 60 ordinary latencies leave the median and limit where
    they were, where the mean would jump past 800 ms."""
    ordinary = [95.0, 100.0, 105.0] * 20
    calm = _learned(ordinary).expected(MONDAY)
    spiky = _learned(ordinary + [10_000.0] * 5).expected(MONDAY)
    assert calm is not None
    assert spiky is not None
    assert (calm.median_ms, calm.mad_ms) == (100.0, 5.0)
    assert spiky.median_ms == 100.0
    assert spiky.mad_ms == 5.0
    assert spiky.limit_ms == calm.limit_ms == 150.0


def test_k_and_floor_come_from_the_rules() -> None:
    """A noisy service's limit is set by k scaled MADs; k=5 moves it further out."""
    noisy = [60.0, 100.0, 140.0] * 10  # median 100, MAD 40
    k3 = _learned(noisy).expected(MONDAY)
    k5 = _learned(noisy, Latency(k=5.0, floor_ms=0.0)).expected(MONDAY)
    assert k3 is not None
    assert k5 is not None
    assert k3.limit_ms == pytest.approx(100.0 + 3 * MAD_SCALE * 40)
    assert k5.limit_ms == pytest.approx(100.0 + 5 * MAD_SCALE * 40)


def test_window_keeps_the_newest_samples() -> None:
    """The global window is bounded; once it has turned over, only the new latencies count."""
    rules = Latency(window=50, min_samples=10)
    baseline = _learned([100.0] * 50 + [300.0] * 50, rules)
    assert baseline.samples == 50
    assert baseline.expected(MONDAY) == Expected("global", 300.0, 0.0, 350.0)


# --- the hour in progress: bounded, evenly thinned ---------------------------------------------


def test_hour_in_progress_is_capped_and_evenly_thinned() -> None:
    """1,000 latencies in one hour keep at most hour_cap of them, spread over the whole hour."""
    baseline = Baseline(Latency(hour_cap=120))
    for i in range(1000):
        baseline.add(float(i), MONDAY + i * 3.6)
    saved = baseline.to_dict()
    kept, stride = saved["hour_samples"], saved["hour_stride"]
    assert len(kept) <= 120
    assert kept == [float(i) for i in range(0, 1000, stride)]
    assert kept[-1] >= 1000 - stride


# --- seasons -----------------------------------------------------------------------------------


def _weeks(baseline: Baseline, weeks: int, monday_9: float, other: float = 100.0) -> None:
    """``weeks`` weeks of four checks an hour: ``monday_9`` ms on Mondays 09:00-09:59 UTC,
    ``other`` ms otherwise, spread -2, 0, 0, +2 ms within each hour (median level, MAD 1)."""
    for quarter in range(weeks * 168 * 4):
        at = MONDAY + quarter * 900.0
        level = monday_9 if hour_of_week(at) == 9 else other
        baseline.add(level + (-2.0, 0.0, 0.0, 2.0)[quarter % 4], at)


def test_seasonal_baseline_after_three_weeks() -> None:
    """After three weeks, Monday 09:00 has its own baseline (a slow hour is normal there),
    while the other hours keep theirs."""
    baseline = Baseline()
    _weeks(baseline, 3, monday_9=300.0)
    baseline.add(100.0, MONDAY + 3 * WEEK)  # closes the last hour of week 3
    nine = baseline.expected(MONDAY + 3 * WEEK + 9.5 * HOUR)
    ten = baseline.expected(MONDAY + 3 * WEEK + 10.5 * HOUR)
    assert nine is not None
    assert ten is not None
    assert (nine.source, nine.median_ms) == ("seasonal", 300.0)
    assert (ten.source, ten.median_ms) == ("seasonal", 100.0)
    assert nine.mad_ms == 1.0


def test_two_weeks_fall_back_to_the_global_baseline() -> None:
    """With only two weeks of history an hour uses the global baseline (dominated by 100 ms)."""
    baseline = Baseline()
    _weeks(baseline, 2, monday_9=300.0)
    baseline.add(100.0, MONDAY + 2 * WEEK)
    nine = baseline.expected(MONDAY + 2 * WEEK + 9.5 * HOUR)
    assert nine is not None
    assert (nine.source, nine.median_ms) == ("global", 100.0)


def test_seasonal_weeks_is_configurable() -> None:
    """seasonal_weeks=2 gives an hour its own baseline after two weeks."""
    baseline = Baseline(Latency(seasonal_weeks=2))
    _weeks(baseline, 2, monday_9=300.0)
    baseline.add(100.0, MONDAY + 2 * WEEK)
    nine = baseline.expected(MONDAY + 2 * WEEK + 9.5 * HOUR)
    assert nine is not None
    assert nine.source == "seasonal"


def test_only_the_last_weeks_kept_count() -> None:
    """Weeks beyond weeks_kept are forgotten: three weeks at 500 ms then three at 300 ms give
    the median of the last four (500, 300, 300, 300), 300, not of all six, 400."""
    baseline = Baseline()
    _weeks(baseline, 3, monday_9=500.0)
    for week in range(3, 6):
        for quarter in range(4):
            baseline.add(300.0, MONDAY + week * WEEK + 9 * HOUR + quarter * 900.0)
    baseline.add(100.0, MONDAY + 6 * WEEK)
    rows = [row for row in baseline.to_dict()["seasonal"] if row[0] == 9]
    assert [row[2] for row in rows] == [500.0, 300.0, 300.0, 300.0]
    nine = baseline.expected(MONDAY + 6 * WEEK + 9.5 * HOUR)
    assert nine is not None
    assert nine.median_ms == 300.0


def test_seasonal_memory_is_bounded() -> None:
    """Eight weeks of four checks an hour keep at most 168 x weeks_kept hour summaries."""
    baseline = Baseline(Latency(weeks_kept=3))
    _weeks(baseline, 8, monday_9=300.0)
    assert len(baseline.to_dict()["seasonal"]) <= 168 * 3


# --- persistence -------------------------------------------------------------------------------


def test_roundtrip_through_json() -> None:
    """to_dict -> JSON -> from_dict gives the same data and the same expectations."""
    baseline = Baseline()
    _weeks(baseline, 3, monday_9=300.0)
    for i in range(10):
        baseline.add(120.0 + i, MONDAY + 3 * WEEK + i * 60.0)
    saved = baseline.to_dict()
    restored = Baseline.from_dict(json.loads(json.dumps(saved)))
    assert restored.to_dict() == saved
    for hour in (0.5, 9.5, 100.5):
        at = MONDAY + 3 * WEEK + hour * HOUR
        assert restored.expected(at) == baseline.expected(at)


def test_restoring_under_smaller_rules_keeps_the_newest() -> None:
    """from_dict under a smaller window and fewer weeks keeps the newest of each."""
    baseline = Baseline()
    _weeks(baseline, 4, monday_9=300.0)
    small = Latency(window=40, min_samples=10, weeks_kept=2, seasonal_weeks=2)
    restored = Baseline.from_dict(baseline.to_dict(), small)
    assert restored.samples == 40
    assert restored.to_dict()["window"] == baseline.to_dict()["window"][-40:]
    rows = [row for row in restored.to_dict()["seasonal"] if row[0] == 9]
    assert [row[1] for row in rows] == [
        row[1] for row in baseline.to_dict()["seasonal"] if row[0] == 9
    ][-2:]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"window": 0, "min_samples": 0}, "latency.window: must be at least 1, not 0"),
        ({"min_samples": 300}, "latency.min_samples: must be 1 to window, not 300"),
        ({"k": 0}, "latency.k: must be more than 0, not 0"),
        ({"floor_ms": -1}, "latency.floor_ms: must be 0 or more, not -1"),
        ({"degrade_after": 0}, "latency.degrade_after: must be at least 1, not 0"),
        ({"recover_after": 0}, "latency.recover_after: must be at least 1, not 0"),
        ({"seasonal_weeks": 5}, "latency.seasonal_weeks: must be 1 to weeks_kept, not 5"),
        ({"weeks_kept": 0, "seasonal_weeks": 0}, "latency.weeks_kept: must be 1 to 52, not 0"),
        ({"hour_cap": 0}, "latency.hour_cap: must be at least 1, not 0"),
    ],
)
def test_latency_rules_reject_nonsense(changes: dict[str, float], message: str) -> None:
    """Latency rules refuse values that cannot work, naming the setting and the value."""
    with pytest.raises(ValueError, match=message):
        Latency(**changes)  # type: ignore[arg-type]


def test_median_mad_matches_the_textbook_definition() -> None:
    """On random data of odd and even lengths, median_mad equals statistics.median applied
    twice, as the definition reads."""
    rand = random.Random(5)
    for n in (1, 2, 3, 10, 239, 240):
        values = [rand.lognormvariate(4.6, 0.5) for _ in range(n)]
        center = statistics.median(values)
        assert median_mad(values) == (center, statistics.median(abs(v - center) for v in values))
