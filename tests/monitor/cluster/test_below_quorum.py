"""A monitor failing at some of its locations, fewer than its quorum, says so in words
(``cluster/_view.py``): the dashboard, ``/api/status`` and ``tether status`` show it
rather than a clean "up"."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tether.monitor.cluster._view import below_quorum


def test_the_words() -> None:
    """One of three failing, two needed: the words; none failing or the quorum reached:
    none."""
    assert below_quorum(1, 3, 2) == "failing in 1 of 3 locations, below quorum"
    assert below_quorum(0, 3, 2) is None
    assert below_quorum(2, 3, 2) is None


@given(st.integers(0, 20), st.integers(1, 20), st.integers(1, 20))
def test_words_exactly_while_some_fail_below_the_quorum(
    failing: int, counted: int, needed: int
) -> None:
    """Words exactly when at least one location fails and fewer than ``needed`` do, and
    they give the counts."""
    words = below_quorum(failing, counted, needed)
    assert (words is not None) == (0 < failing < needed)
    if words is not None:
        assert words.startswith(f"failing in {failing} of {counted} locations")
