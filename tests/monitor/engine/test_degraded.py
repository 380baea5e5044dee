"""``degraded``: an up monitor slower than its baseline allows, entered and left with hysteresis.

Defaults: learning for 30 checks; slow means above median + max(3 scaled MADs,
50 ms); 3 slow checks in a row make it degraded, 5 under the limit end it.
A baseline of exactly 100 ms has a MAD of 0, so its limit is the floor: 150 ms.
"""

from __future__ import annotations

from tests.helpers.detect_feed import Feed, changes, kinds
from tether.monitor._state import State
from tether.monitor.config._rules import Latency, Rules
from tether.monitor.engine._baseline import Expected
from tether.monitor.engine._detect import Degraded, Detector, Recovered, StateChanged

UP, DOWN, DEGRADED = State.UP, State.DOWN, State.DEGRADED
BASELINE = Expected("global", 100.0, 0.0, 150.0)


def _learned(rules: Rules | None = None) -> Feed:
    feed = Feed(Detector(rules))
    for _ in range(30):
        feed.ok(100.0)
    return feed


def test_no_verdict_while_learning() -> None:
    """During the first 30 checks even 5-second latencies do not make a monitor degraded."""
    feed = Feed()
    events = [feed.ok(5000.0) for _ in range(29)]
    assert feed.state is UP
    assert not any(isinstance(e, Degraded) for batch in events for e in batch)
    assert feed.detector.expected("api", feed.now) is None


def test_third_slow_check_makes_it_degraded() -> None:
    """Two checks above the limit change nothing; the third makes it degraded, saying why."""
    feed = _learned()
    assert [feed.ok(400.0), feed.ok(400.0)] == [[], []]
    events = feed.ok(400.0)
    assert events == [
        StateChanged("api", feed.now, UP, DEGRADED, "3 consecutive checks slower than 150 ms "
                     "(median 100 ms)"),
        Degraded("api", feed.now, 400.0, BASELINE),
    ]  # fmt: skip


def test_at_the_limit_is_not_slow() -> None:
    """A latency equal to the limit is not slow; just above it is."""
    feed = _learned()
    for _ in range(3):
        feed.ok(150.0)
    assert feed.state is UP
    for _ in range(3):
        feed.ok(150.5)
    assert feed.state is DEGRADED


def test_recovery_needs_five_checks_under_the_limit() -> None:
    """Hysteresis: four fast checks leave it degraded, the fifth ends it with Recovered."""
    feed = _learned()
    for _ in range(3):
        feed.ok(400.0)
    assert [feed.ok(100.0) for _ in range(4)] == [[]] * 4
    events = feed.ok(100.0)
    assert changes(events) == [(DEGRADED, UP)]
    assert events[1] == Recovered("api", feed.now, 100.0, BASELINE)
    assert events[0].reason == "5 consecutive checks under 150 ms"  # type: ignore[union-attr]


def test_alternating_latency_never_degrades() -> None:
    """Slow and fast checks taking turns never make three slow in a row."""
    feed = _learned()
    for _ in range(20):
        feed.ok(400.0)
        feed.ok(100.0)
    assert feed.state is UP


def test_one_fast_check_inside_a_slow_spell_does_not_recover() -> None:
    """A degraded monitor's lone fast check among slow ones does not recover it."""
    feed = _learned()
    for latency in [400.0] * 3 + [100.0] + [400.0] * 2 + [100.0] * 4:
        feed.ok(latency)
    assert feed.state is DEGRADED


def test_floor_ignores_noise_on_a_tiny_mad() -> None:
    """A 1 ms service with no spread is not degraded at 40 ms (under the 50 ms floor) but is
    at 60 ms."""
    feed = Feed()
    for _ in range(30):
        feed.ok(1.0)
    for _ in range(5):
        feed.ok(40.0)
    assert feed.state is UP
    for _ in range(3):
        feed.ok(60.0)
    assert feed.state is DEGRADED


def test_a_failure_breaks_a_slow_streak() -> None:
    """Slow, slow, failed, slow: the failure breaks the streak, so it is not degraded."""
    feed = _learned()
    feed.ok(400.0)
    feed.ok(400.0)
    feed.fail()
    feed.ok(400.0)
    assert feed.state is UP


def test_an_outage_ends_the_slow_spell() -> None:
    """degraded -> down -> up: the outage ends the spell, so the monitor comes back up, not
    degraded, and no Recovered is sent for it."""
    feed = _learned()
    for _ in range(3):
        feed.ok(400.0)
    events = [e for _ in range(3) for e in feed.fail()]
    assert changes(events) == [(DEGRADED, DOWN)]
    events += feed.ok(400.0) + feed.ok(400.0)
    assert feed.state is UP
    assert "Recovered" not in kinds(events)


def test_thresholds_are_configurable() -> None:
    """degrade_after=1 and recover_after=1 switch on a single check."""
    feed = _learned(Rules(latency=Latency(degrade_after=1, recover_after=1)))
    assert changes(feed.ok(400.0)) == [(UP, DEGRADED)]
    assert changes(feed.ok(100.0)) == [(DEGRADED, UP)]


def test_slow_checks_still_teach_the_baseline() -> None:
    """A lasting change becomes the new normal: after a window of 300 ms checks the limit
    has moved and the monitor is up again."""
    rules = Rules(latency=Latency(window=40, min_samples=30))
    feed = _learned(rules)
    for _ in range(40):
        feed.ok(300.0)
    assert feed.state is UP
    assert feed.detector.expected("api", feed.now) == Expected("global", 300.0, 0.0, 350.0)


def test_checks_without_latency_are_not_judged() -> None:
    """A passing check with no latency (latency_ms=None) neither counts as slow nor teaches."""
    feed = _learned()
    for _ in range(3):
        feed.ok(None)
    assert feed.state is UP
    assert feed.detector.to_dict()["monitors"]["api"]["baseline"]["window"] == [100.0] * 30


def test_checks_whose_checker_was_behind_are_neither_judged_nor_learnt() -> None:
    """Slow checks that started more than ``late_ms`` (1 s) late, as a wave's backlog
    makes them, do not make a monitor degraded, nor move its baseline; the same latencies
    from a checker on time do.  A late check does not break a slow streak either."""
    feed = _learned()
    for _ in range(10):
        assert feed.ok(400.0, lag_ms=1500.0) == []
    assert feed.state is UP
    assert feed.detector.expected("api", feed.now) == BASELINE  # nothing learnt
    feed.ok(400.0, lag_ms=900.0)
    feed.ok(400.0)
    feed.ok(400.0, lag_ms=5000.0)  # late: neither slow nor fast
    assert kinds(feed.ok(400.0, lag_ms=0.0)) == ["StateChanged", "Degraded"]


def test_late_ms_none_judges_every_check() -> None:
    """With ``late_ms=None`` a check's lag is not looked at."""
    feed = _learned(Rules(latency=Latency(late_ms=None)))
    for _ in range(3):
        feed.ok(400.0, lag_ms=60_000.0)
    assert feed.state is DEGRADED
