"""Flapping: too many up/down changes in a window hold a monitor in ``flapping`` until it settles.

Thresholds of one make every check an up/down change, so the counts are easy
to follow: with the defaults (5 changes within 600 s, settle after 600 s
quiet) and checks 30 s apart, the fifth change starts the flapping.
"""

from __future__ import annotations

from tests.helpers.detect_feed import Feed, changes, kinds
from tether.monitor._state import Flapping, State
from tether.monitor.config._rules import Rules
from tether.monitor.engine._detect import (
    Detector,
    Event,
    FlappingSettled,
    FlappingStarted,
    ReprobeRequested,
    StateChanged,
)

UP, DOWN, FLAPPING = State.UP, State.DOWN, State.FLAPPING


def _feed(interval: float = 30.0, **flapping: float) -> Feed:
    rules = Rules(failure_threshold=1, success_threshold=1, flapping=Flapping(**flapping))  # type: ignore[arg-type]
    return Feed(Detector(rules), interval=interval)


def _flap(feed: Feed, changes_wanted: int = 5) -> list[list[Event]]:
    """Up first, then alternate fail/pass until ``changes_wanted`` up/down changes."""
    feed.ok()
    return [feed.fail() if i % 2 == 0 else feed.ok() for i in range(changes_wanted)]


def test_fifth_change_in_ten_minutes_starts_flapping() -> None:
    """Four changes leave it up or down; the fifth within 600 s makes it flapping, and says so."""
    feed = _feed()
    batches = _flap(feed)
    assert [changes(b) for b in batches[:4]] == [[(UP, DOWN)], [(DOWN, UP)]] * 2
    last = batches[4]
    assert kinds(last) == ["StateChanged", "FlappingStarted"]
    assert last[1] == FlappingStarted("api", feed.now, 5, 600.0)
    change = last[0]
    assert isinstance(change, StateChanged)
    assert (change.old, change.new) == (UP, FLAPPING)
    assert change.reason == "1 check failed (connect.refused); 5 up/down changes within 600 s"


def test_changes_spread_wider_than_the_window_do_not_flap() -> None:
    """Five changes 200 s apart span 800 s, more than the 600 s window: no flapping."""
    feed = _feed(interval=200.0)
    _flap(feed, changes_wanted=8)
    assert feed.state is UP


def test_flapping_hides_up_down_changes_and_reprobes() -> None:
    """While flapping, up/down changes emit no StateChanged and no re-probe is asked for."""
    feed = Feed(Detector(Rules(failure_threshold=2, success_threshold=1)))
    feed.ok()
    for _ in range(3):  # down, up, down, up, down, up: the fifth change starts flapping
        feed.fail()
        feed.fail()
        feed.ok()
    assert feed.state is FLAPPING
    later = [feed.fail(), feed.fail(), feed.ok()]
    assert later == [[], [], []]


def test_settles_after_a_quiet_period_into_its_real_state() -> None:
    """Ten quiet minutes after the last change, the next check settles it into up."""
    feed = _feed()
    _flap(feed, changes_wanted=6)  # ends on a pass: up underneath
    last_change = feed.now
    assert feed.ok(after=599.0) == []
    events = feed.ok(after=1.0)
    assert feed.now - last_change == 600.0
    assert events == [
        StateChanged("api", feed.now, FLAPPING, UP, "no up/down change for 600 s"),
        FlappingSettled("api", feed.now, UP),
    ]


def test_settles_into_down_when_it_ended_down() -> None:
    """A monitor that flapped and stayed down settles into down, not up."""
    feed = _feed()
    _flap(feed, changes_wanted=5)  # ends on a failure
    events = feed.fail(after=600.0)
    assert changes(events) == [(FLAPPING, DOWN)]


def test_settle_period_is_configurable() -> None:
    """With settle=120, two quiet minutes are enough."""
    feed = _feed(settle=120.0)
    _flap(feed, changes_wanted=6)
    assert changes(feed.ok(after=120.0)) == [(FLAPPING, UP)]


def test_one_change_after_settling_does_not_flap_again() -> None:
    """Settling forgets the old changes: the next change is a plain up -> down."""
    feed = _feed(settle=120.0)
    _flap(feed, changes_wanted=6)
    feed.ok(after=120.0)
    assert changes(feed.fail()) == [(UP, DOWN)]


def test_finding_the_first_state_is_not_a_change() -> None:
    """unknown -> up does not count towards flapping: four real changes after it are not five."""
    feed = _feed()
    feed.ok()  # unknown -> up
    for i in range(4):
        events = feed.fail() if i % 2 == 0 else feed.ok()
    assert not any(isinstance(e, FlappingStarted) for e in events)
    assert feed.state is UP


def test_resume_after_pause_clears_flapping() -> None:
    """Pausing and resuming a flapping monitor starts it afresh: unknown, then up."""
    feed = _feed()
    _flap(feed)
    feed.detector.pause("api", feed.now)
    feed.detector.resume("api", feed.now)
    assert changes(feed.ok()) == [(State.UNKNOWN, UP)]


def test_reprobes_resume_after_settling() -> None:
    """Once settled, a first failure asks for a confirmation re-probe again."""
    feed = Feed(Detector(Rules(success_threshold=1, failure_threshold=2)))
    feed.ok()
    for _ in range(3):
        feed.fail()
        feed.fail()
        feed.ok()
    feed.ok(after=600.0)
    assert feed.state is UP
    assert [type(e) for e in feed.fail()] == [ReprobeRequested]
