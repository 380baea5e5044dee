"""The detector under ``alert_when:``: a rule over a window of checks, for a target behind a
load balancer that fails one check in three.  Examples, on a fake clock; the properties
are in ``test_windows_properties.py``."""

from __future__ import annotations

import json

import pytest

from tests.helpers.detect_feed import Feed, changes
from tether.monitor._state import State
from tether.monitor.config._rules import Rules, WindowRule
from tether.monitor.engine._detect import Detector, ReprobeRequested, StateChanged
from tether.monitor.engine._window import CheckWindow, span_words

UP, DOWN = State.UP, State.DOWN
COUNT = WindowRule(within=300.0, failures=5)
RATIO = WindowRule(within=600.0, failure_ratio=0.2, min_checks=10)


def _feed(window: WindowRule, success_threshold: int = 2) -> Feed:
    rules = Rules(success_threshold=success_threshold, window=window)
    return Feed(Detector(rules), interval=30.0)


def _one_in_three(feed: Feed, checks: int) -> list[StateChanged]:
    """``checks`` checks of which every third fails; the StateChanged events they made."""
    seen: list[StateChanged] = []
    for i in range(checks):
        events = feed.fail() if i % 3 == 2 else feed.ok(latency_ms=None)
        seen += [e for e in events if isinstance(e, StateChanged)]
    return seen


def test_one_bad_backend_never_makes_three_failures_in_a_row() -> None:
    """The case for windows: one check in three failing never takes down a monitor on the
    consecutive rule, however long it lasts."""
    feed = Feed(Detector(Rules()), interval=30.0)
    assert [e.new for e in _one_in_three(feed, 300)] == [UP]


def test_a_share_of_checks_takes_it_down_with_the_reason_in_words() -> None:
    """20% within 10 min, 10 checks at least: down at the tenth check (3 of 10 failed),
    and the reason says which rule fired with the counts."""
    feed = _feed(RATIO)
    seen = _one_in_three(feed, 10)
    assert [(e.old, e.new) for e in seen] == [(State.UNKNOWN, UP), (UP, DOWN)]
    assert seen[1].reason == "3 of 10 checks (30%) failed within 10 min, at least 20% needed"


def test_a_count_of_failures_takes_it_down_with_the_reason_in_words() -> None:
    """5 failures within 5 min at a 30 s interval: the window holds 10 checks, so a third
    failing (3 or 4 in it) stays up, and a half failing goes down at the fifth failure."""
    feed = _feed(COUNT)
    assert [e.new for e in _one_in_three(feed, 60)] == [UP]
    events: list[StateChanged] = []
    for i in range(10):
        got = feed.ok(latency_ms=None) if i % 2 else feed.fail()
        events += [e for e in got if isinstance(e, StateChanged)]
    assert [(e.old, e.new) for e in events] == [(UP, DOWN)]
    assert events[0].reason == "5 of the last 10 checks failed within 5 min (connect.refused)"


def test_back_up_once_the_rule_no_longer_holds_and_the_last_checks_passed() -> None:
    """Down on the window stays down while it holds, passes or not; up once it does not
    and the last ``success_threshold`` checks passed, saying what the window holds now."""
    feed = _feed(COUNT, success_threshold=2)
    for _ in range(5):
        feed.fail()
    assert feed.state is DOWN
    # Five passes: still 5 failures in the window of 10 checks.
    for _ in range(5):
        assert changes(feed.ok(latency_ms=None)) == []
    events = feed.ok(latency_ms=None)  # the first failure leaves the window
    assert changes(events) == [(DOWN, UP)]
    up = events[0]
    assert isinstance(up, StateChanged)
    assert up.reason == (
        "6 consecutive checks passed; 4 of the last 10 checks failed within 5 min, 5 needed"
    )


def test_a_pass_that_brings_the_window_to_min_checks_can_take_it_down() -> None:
    """The ratio rule holds on the window, not on the check: the tenth check passing, with
    5 failures before it, makes 50% of 10 checks."""
    feed = _feed(RATIO)
    for _ in range(5):
        feed.fail()
    for _ in range(4):
        feed.ok(latency_ms=None)
    assert feed.state is UP
    events = feed.ok(latency_ms=None)
    assert changes(events) == [(UP, DOWN)]
    assert events[0].reason == "5 of 10 checks (50%) failed within 10 min, at least 20% needed"  # type: ignore[union-attr]


def test_no_reprobe_confirms_a_failure_under_a_window() -> None:
    """A first failure under a window rule asks for no re-probe (it would add a check to
    the window only when it fails), where the consecutive rule asks for one."""
    windowed, consecutive = _feed(COUNT), Feed(Detector(Rules()))
    for feed in (windowed, consecutive):
        feed.ok(latency_ms=None)
    assert not [e for e in windowed.fail() if isinstance(e, ReprobeRequested)]
    assert [e for e in consecutive.fail() if isinstance(e, ReprobeRequested)]


def test_a_restored_window_does_not_page_again() -> None:
    """Saved down with its window and restored (through JSON, as the store keeps it), more
    failures make no new StateChanged; the window came back with its checks."""
    feed = _feed(COUNT)
    for _ in range(6):
        feed.fail()
    saved = json.loads(json.dumps(feed.detector.to_dict()))
    assert len(saved["monitors"]["api"]["window"]) == 6
    feed.detector = Detector.from_dict(saved, Rules(window=COUNT))
    assert feed.state is DOWN
    for _ in range(3):
        assert changes(feed.fail()) == []
    for _ in range(4):
        feed.ok(latency_ms=None)
    assert feed.state is DOWN  # 5 failures still within the 5 min: the window came back


def test_a_state_saved_without_a_window_restores_with_an_empty_one() -> None:
    """A state saved before ``alert_when`` was set (no ``window`` key) restores, and the
    rule starts counting from the next check."""
    feed = Feed(Detector(Rules()))
    feed.ok()
    saved = feed.detector.to_dict()
    assert "window" not in saved["monitors"]["api"]
    feed.detector = Detector.from_dict(saved, Rules(window=COUNT))
    for _ in range(4):
        feed.fail()
    assert feed.state is UP
    assert changes(feed.fail()) == [(UP, DOWN)]


def test_the_window_keeps_at_most_its_capacity() -> None:
    """Checks past the capacity drop the oldest, whatever their times."""
    rule = WindowRule(within=3600.0, failures=3, capacity=4)
    window = CheckWindow()
    for i in range(10):
        window.add(float(i), ok=i % 2 == 0, rule=rule)
        assert len(window) <= 4
    assert (len(window), window.failed) == (4, 2)
    restored = CheckWindow.from_list([[float(i), 0] for i in range(9)], rule)
    assert (len(restored), restored.failed) == (4, 4)


def test_a_late_check_is_counted_at_the_last_ones_time() -> None:
    """A result stamped before the last one does not break the window's order."""
    rule = WindowRule(within=10.0, failures=1)
    window = CheckWindow()
    window.add(100.0, ok=False, rule=rule)
    window.add(95.0, ok=True, rule=rule)
    assert window.to_list() == [[100.0, 0], [100.0, 1]]
    window.add(110.0, ok=True, rule=rule)
    assert window.to_list() == [[110.0, 1]]


@pytest.mark.parametrize("saved", [[[float("nan"), 0]], [["x", 1]], [[1.0]]])
def test_a_broken_saved_window_is_refused(saved: list[list[object]]) -> None:
    """A saved window with no time is refused, so the runner starts the monitor afresh."""
    with pytest.raises((ValueError, IndexError)):
        CheckWindow.from_list(saved, COUNT)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(300.0, "5 min"), (90.0, "1 min 30 s"), (3600.0, "1 h"), (45.0, "45 s"), (86400.0, "1 d")],
)
def test_span_words(seconds: float, words: str) -> None:
    """A window's length in words drops the zero parts."""
    assert span_words(seconds) == words


def test_below_min_checks_the_reason_says_so() -> None:
    """A ratio rule over too few checks says how many it has and needs."""
    window = CheckWindow([(1.0, False), (2.0, False)])
    assert not window.holds(RATIO)
    assert window.reason(RATIO) == "2 checks within 10 min, at least 10 needed"
