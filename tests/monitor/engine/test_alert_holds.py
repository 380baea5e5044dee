"""What holds an incident's alerts back: a parent that is down (``depends_on``), and
maintenance windows (probing goes on, alerts wait)."""

from __future__ import annotations

import calendar

import pytest

from tests.helpers.detect_feed import Feed
from tether.monitor._state import State
from tether.monitor.engine._detect import Detector
from tether.monitor.engine._holds import Maintenance, held_by_parent, in_maintenance

SUNDAY_2AM = float(calendar.timegm((2024, 1, 7, 2, 0, 0)))
HOUR, DAY, WEEK = 3600.0, 86400.0, 7 * 86400.0


# --- depends_on --------------------------------------------------------------------------------


@pytest.mark.parametrize("parent", [State.UP, State.DEGRADED, State.FLAPPING, State.UNKNOWN])
def test_child_is_not_held_unless_its_parent_is_down(parent: State) -> None:
    """Only a parent that is down holds its child's incident."""
    assert held_by_parent("api", {"api": ["db"]}, {"db": parent}) is None


def test_child_is_held_while_its_parent_is_down() -> None:
    """With db down, api's incident is held, and the answer names db."""
    assert held_by_parent("api", {"api": ["db"]}, {"db": State.DOWN}) == "db"


def test_any_down_parent_holds() -> None:
    """With two parents, the one that is down holds the child."""
    depends_on = {"api": ["cache", "db"]}
    states = {"cache": State.UP, "db": State.DOWN}
    assert held_by_parent("api", depends_on, states) == "db"


def test_no_dependencies_no_hold() -> None:
    """A monitor without depends_on, or whose parent is not known, is never held."""
    assert held_by_parent("api", {}, {"db": State.DOWN}) is None
    assert held_by_parent("api", {"api": ["db"]}, {}) is None


def test_hold_follows_the_detector() -> None:
    """End to end with the detector's states: api is held once db goes down, and freed once
    db is up again."""
    detector = Detector()
    db = Feed(detector, "db")
    depends_on = {"api": ["db"]}
    db.ok()
    assert held_by_parent("api", depends_on, detector.states()) is None
    for _ in range(3):
        db.fail()
    assert held_by_parent("api", depends_on, detector.states()) == "db"
    db.ok()
    db.ok()
    assert held_by_parent("api", depends_on, detector.states()) is None


# --- maintenance -------------------------------------------------------------------------------


def test_one_off_window_covers_its_span_only() -> None:
    """A 2-hour window covers from its start, up to but not including its end."""
    window = Maintenance(start=SUNDAY_2AM, duration=2 * HOUR)
    assert not window.covers("api", SUNDAY_2AM - 1)
    assert window.covers("api", SUNDAY_2AM)
    assert window.covers("api", SUNDAY_2AM + 2 * HOUR - 1)
    assert not window.covers("api", SUNDAY_2AM + 2 * HOUR)
    assert not window.covers("api", SUNDAY_2AM + WEEK)


def test_weekly_window_repeats() -> None:
    """A weekly window covers Sunday 02:00-04:00 every week, and not the days between."""
    window = Maintenance(start=SUNDAY_2AM, duration=2 * HOUR, every=WEEK)
    assert window.covers("api", SUNDAY_2AM + 5 * WEEK + HOUR)
    assert not window.covers("api", SUNDAY_2AM + 5 * WEEK + 3 * HOUR)
    assert not window.covers("api", SUNDAY_2AM + 3 * DAY)


def test_window_for_some_monitors() -> None:
    """A window naming its monitors covers them and no others."""
    window = Maintenance(start=SUNDAY_2AM, duration=HOUR, monitors=frozenset({"db"}))
    assert window.covers("db", SUNDAY_2AM)
    assert not window.covers("api", SUNDAY_2AM)


def test_in_maintenance_finds_the_covering_window() -> None:
    """in_maintenance returns the window that covers the monitor now, or None."""
    nightly = Maintenance(start=SUNDAY_2AM, duration=HOUR, every=DAY)
    db_only = Maintenance(start=SUNDAY_2AM + 12 * HOUR, duration=HOUR, monitors=frozenset({"db"}))
    windows = [nightly, db_only]
    assert in_maintenance("api", SUNDAY_2AM + DAY + 30 * 60, windows) is nightly
    assert in_maintenance("db", SUNDAY_2AM + 12.5 * HOUR, windows) is db_only
    assert in_maintenance("api", SUNDAY_2AM + 12.5 * HOUR, windows) is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"duration": 0}, "maintenance.duration: must be more than 0 s, not 0"),
        ({"duration": 7200, "every": 3600}, r"maintenance.every: must be at least the duration"),
    ],
)
def test_maintenance_rejects_nonsense(changes: dict[str, float], message: str) -> None:
    """A window of no length, or one repeating before it ends, is refused."""
    with pytest.raises(ValueError, match=message):
        Maintenance(start=SUNDAY_2AM, **changes)  # type: ignore[arg-type]
