"""The latency samples behind a percentile hedge delay, as a pure function."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from tether._retry._latency import LatencySamples

durations = st.lists(st.floats(min_value=0, max_value=60, allow_nan=False), max_size=80)
percentiles = st.floats(min_value=0.01, max_value=99.99)


def oracle(samples: list[float], p: float) -> float:
    """The smallest sample with at least p percent of the samples at or below it."""
    ordered = sorted(samples)
    return next(x for x in ordered if sum(s <= x for s in ordered) * 100 >= p * len(ordered))


@given(durations, percentiles, st.integers(min_value=1, max_value=40))
@example([0.5, 0.1, 0.9, 0.2], 1.0, 3)  # the oldest goes, not the smallest
def test_percentile_is_the_nearest_rank_over_the_last_size_samples(
    added: list[float], p: float, size: int
) -> None:
    """Whatever was added, the percentile is the sorted-list oracle's over the last
    ``size`` samples (None before any)."""
    samples = LatencySamples(size)
    for d in added:
        samples.add(d)
    kept = added[-size:]
    assert len(samples) == len(kept)
    assert samples.percentile(p) == (oracle(kept, p) if kept else None)


def test_the_median_of_a_few() -> None:
    """Worked example: the 50th of five is the third; the 90th the fifth."""
    samples = LatencySamples()
    for d in (0.5, 0.1, 0.3, 0.2, 0.4):
        samples.add(d)
    assert samples.percentile(50) == 0.3
    assert samples.percentile(90) == 0.5
    assert samples.percentile(20) == 0.1
