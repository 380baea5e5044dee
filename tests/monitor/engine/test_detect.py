"""The detector's up/down state machine: thresholds, confirmation re-probes, pause, persistence.

Pure: a fake clock (``detect_feed.Feed``) and no sockets.  Flapping, latency
and correlation have their own modules.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers.detect_feed import T0, Feed, changes, kinds
from tether import CATALOGUE, Kind
from tether.monitor._state import Flapping, State
from tether.monitor.config._rules import Latency, Rules
from tether.monitor.engine._detect import (
    Detector,
    Observation,
    ReprobeRequested,
    StateChanged,
)

UP, DOWN, UNKNOWN, PAUSED = State.UP, State.DOWN, State.UNKNOWN, State.PAUSED


# --- thresholds --------------------------------------------------------------------------------


def test_first_pass_is_up_at_once() -> None:
    """A first passing check makes an unknown monitor up: there is no outage to recover from."""
    feed = Feed()
    events = feed.ok()
    assert events == [StateChanged("api", feed.now, UNKNOWN, UP, "first check passed")]


def test_three_consecutive_failures_make_it_down() -> None:
    """With the defaults, the third consecutive failure (not the second) makes it down."""
    feed = Feed()
    feed.ok()
    feed.fail()
    feed.fail()
    assert feed.state is UP
    events = feed.fail()
    assert changes(events) == [(UP, DOWN)]
    assert events[0].reason == "3 consecutive checks failed (connect.refused)"  # type: ignore[union-attr]


def test_a_pass_resets_the_failure_count() -> None:
    """Failures must be consecutive: fail, fail, pass, fail, fail leaves the monitor up."""
    feed = Feed()
    for step in (feed.ok, feed.fail, feed.fail, feed.ok, feed.fail, feed.fail):
        step()
    assert feed.state is UP


def test_two_consecutive_passes_make_it_up_again() -> None:
    """A down monitor needs two consecutive passes: one is not enough, a failure between resets."""
    feed = Feed()
    for _ in range(3):
        feed.fail()
    assert feed.state is DOWN
    feed.ok()
    feed.fail()
    feed.ok()
    assert feed.state is DOWN
    events = feed.ok()
    assert changes(events) == [(DOWN, UP)]
    assert events[0].reason == "2 consecutive checks passed"  # type: ignore[union-attr]


def test_unknown_goes_straight_to_down() -> None:
    """A monitor whose target is dead from the start goes unknown -> down, never up."""
    feed = Feed()
    seen = [changes(feed.fail()) for _ in range(3)]
    assert seen == [[], [], [(UNKNOWN, DOWN)]]


def test_thresholds_of_one() -> None:
    """failure_threshold=1 and success_threshold=1 switch on every check, saying "1 check"."""
    feed = Feed(Detector(Rules(failure_threshold=1, success_threshold=1)))
    feed.ok()
    down = feed.fail(kind=None)
    up = feed.ok()
    assert [(e.old, e.new, e.reason) for e in down + up if isinstance(e, StateChanged)] == [
        (UP, DOWN, "1 check failed (conditions not met)"),
        (DOWN, UP, "1 check passed"),
    ]


def test_steady_state_says_nothing() -> None:
    """Passing checks of an up monitor produce no events at all."""
    feed = Feed()
    feed.ok()
    assert [feed.ok() for _ in range(10)] == [[]] * 10


# --- confirmation re-probes --------------------------------------------------------------------


def test_failures_below_the_threshold_ask_for_a_reprobe() -> None:
    """Each failure short of the threshold asks for a re-probe in 1 s; the last one does not."""
    feed = Feed()
    feed.ok()
    first, second, third = feed.fail(), feed.fail(), feed.fail()
    assert first == [ReprobeRequested("api", feed.now - 60, 1.0, "confirm failure 1 of 3")]
    assert second == [ReprobeRequested("api", feed.now - 30, 1.0, "confirm failure 2 of 3")]
    assert kinds(third) == ["StateChanged"]


def test_a_first_pass_after_an_outage_asks_for_a_reprobe() -> None:
    """Recovery is confirmed quickly too: the first pass while down asks for a re-probe."""
    feed = Feed()
    for _ in range(3):
        feed.fail()
    assert feed.ok() == [ReprobeRequested("api", feed.now, 1.0, "confirm recovery 1 of 2")]
    assert kinds(feed.ok()) == ["StateChanged"]


def test_reprobes_confirm_an_outage_in_seconds() -> None:
    """A scheduler that follows the requests confirms an outage 2 s after the first failure,
    not 60 s (threshold x interval) later."""
    feed = Feed(interval=30.0)
    feed.ok()
    first_failure = feed.now + 30.0
    events = feed.fail()
    while not changes(events):
        (request,) = events
        assert isinstance(request, ReprobeRequested)
        events = feed.fail(after=request.delay)
    assert changes(events) == [(UP, DOWN)]
    assert feed.now - first_failure == 2.0


def test_confirm_delay_none_never_asks() -> None:
    """confirm_delay=None switches re-probes off, for failures and recoveries alike."""
    feed = Feed(Detector(Rules(confirm_delay=None)))
    events = [feed.fail() for _ in range(3)] + [feed.ok(), feed.ok()]
    assert not any(isinstance(e, ReprobeRequested) for batch in events for e in batch)


# --- rules per monitor -------------------------------------------------------------------------


def test_overrides_apply_to_their_monitor_only() -> None:
    """A monitor's own rules apply to it alone; the others keep the detector's rules."""
    detector = Detector(overrides={"api": Rules(failure_threshold=1)})
    api, web = Feed(detector, "api"), Feed(detector, "web")
    api.fail()
    web.fail()
    assert (api.state, web.state) == (DOWN, UNKNOWN)


def test_configure_keeps_the_state() -> None:
    """A config reload that changes a monitor's rules keeps its state and its counts."""
    feed = Feed()
    feed.ok()
    feed.fail()
    feed.fail()
    feed.detector.configure("api", Rules(failure_threshold=3, latency=Latency(window=60)))
    assert feed.state is UP
    assert changes(feed.fail()) == [(UP, DOWN)]


def test_forget_drops_the_monitor() -> None:
    """forget() drops a monitor's state and its own rules."""
    detector = Detector(overrides={"api": Rules(failure_threshold=1)})
    feed = Feed(detector)
    feed.fail()
    detector.forget("api")
    assert "api" not in detector.states()
    assert detector.rules_for("api") == Rules()


# --- pause -------------------------------------------------------------------------------------


def test_paused_monitor_ignores_results() -> None:
    """While paused, results change nothing; resuming starts again from unknown."""
    feed = Feed()
    feed.ok()
    assert changes(feed.detector.pause("api", feed.now)) == [(UP, PAUSED)]
    assert feed.detector.pause("api", feed.now) == []
    assert [feed.fail() for _ in range(5)] == [[]] * 5
    assert feed.state is PAUSED
    assert changes(feed.detector.resume("api", feed.now)) == [(PAUSED, UNKNOWN)]
    assert feed.detector.resume("api", feed.now) == []
    assert changes(feed.ok()) == [(UNKNOWN, UP)]


# --- values ------------------------------------------------------------------------------------


def test_observation_layer_comes_from_the_catalogue() -> None:
    """Observation.layer is the kind's catalogue layer, and None without a kind."""
    dns = Observation("api", False, T0, kind=Kind.DNS_TIMEOUT)
    assert dns.layer is CATALOGUE[Kind.DNS_TIMEOUT].layer
    assert Observation("api", False, T0).layer is None


def test_a_passing_observation_has_no_kind() -> None:
    """An observation cannot both pass and carry a failure kind."""
    with pytest.raises(ValueError, match="passing check has no failure kind"):
        Observation("api", True, T0, kind=Kind.CONNECT_REFUSED)


def test_reprs_are_short() -> None:
    """Events and observations print on one short line, fit for a log."""
    feed = Feed()
    feed.ok()
    (reprobe,) = feed.fail()
    assert repr(reprobe) == "<ReprobeRequested api in 1 s: confirm failure 1 of 3>"
    seen = Observation("api", False, T0, kind=Kind.CONNECT_REFUSED, host="db.lan")
    assert repr(seen) == "<Observation api failed connect.refused db.lan>"
    assert repr(Observation("api", True, T0, latency_ms=12.5)) == "<Observation api ok 12.5 ms>"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Rules(failure_threshold=0), "failure_threshold: must be at least 1, not 0"),
        (lambda: Rules(success_threshold=0), "success_threshold: must be at least 1, not 0"),
        (lambda: Rules(confirm_delay=-1), "confirm_delay: must be 0 s or more, not -1"),
        (lambda: Flapping(changes=1), "flapping.changes: must be at least 2, not 1"),
        (lambda: Flapping(window=0), "flapping.window: must be more than 0 s, not 0"),
        (lambda: Flapping(settle=0), "flapping.settle: must be more than 0 s, not 0"),
    ],
)
def test_rules_reject_nonsense(build: object, message: str) -> None:
    """Rules refuse values that cannot work, naming the setting and the value."""
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


# --- persistence -------------------------------------------------------------------------------


def _roundtrip(detector: Detector, rules: Rules | None = None) -> Detector:
    return Detector.from_dict(json.loads(json.dumps(detector.to_dict())), rules)


def test_restored_detector_carries_on_mid_outage() -> None:
    """Saved after two failures and restored through JSON, the third failure makes it down."""
    feed = Feed()
    feed.ok()
    feed.fail()
    feed.fail()
    restored = Feed(_roundtrip(feed.detector), now=feed.now)
    assert restored.state is UP
    assert changes(restored.fail()) == [(UP, DOWN)]


def test_restored_detector_behaves_exactly_like_the_original() -> None:
    """Original and restored detectors given the same checks give the same events, through
    re-probes, an outage, flapping and its settling, and a degraded spell."""
    rules = Rules(failure_threshold=2, success_threshold=1)
    original = Feed(Detector(rules))
    for i in range(40):
        original.ok(100.0 + i % 3)
    restored = Feed(_roundtrip(original.detector, rules), now=original.now)
    failed, fine, slow, quiet = (False, 0.0, 30.0), (True, 100.0, 30.0), (True, 400.0, 30.0), 700.0
    script = [failed, failed, fine] * 3 + [slow] * 3 + [(True, 100.0, quiet)] + [fine] * 5
    seen: set[str] = set()
    for ok, latency, after in script:
        mine = original.ok(latency, after) if ok else original.fail(after=after)
        theirs = restored.ok(latency, after) if ok else restored.fail(after=after)
        assert mine == theirs
        seen.update(kinds(mine))
    expected = {"ReprobeRequested", "FlappingStarted", "FlappingSettled", "Degraded", "Recovered"}
    assert expected - seen == set()
    assert original.detector.to_dict() == restored.detector.to_dict()


def test_paused_state_survives_a_restart() -> None:
    """A paused monitor is still paused after to_dict/from_dict."""
    detector = Detector()
    detector.pause("api", T0)
    assert _roundtrip(detector).state("api") is PAUSED


def test_unknown_format_is_refused() -> None:
    """from_dict refuses state written in a format it does not know."""
    with pytest.raises(ValueError, match="format 2 is not 1"):
        Detector.from_dict({"format": 2, "monitors": {}})
