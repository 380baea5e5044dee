"""The detector's windows held to properties over random check histories on simulated
time (hypothesis): the rule fires exactly when a brute-force count over the same history
says it holds, never over fewer than ``min_checks``, never flaps while it holds, and a
save and restore anywhere changes nothing."""

from __future__ import annotations

import json
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from tether.monitor._state import Flapping, State
from tether.monitor.config._rules import Rules, WindowRule
from tether.monitor.engine._detect import Detector, Event, Observation, StateChanged

T0 = 1_700_000_000.0
NEVER_FLAPS = Flapping(changes=1_000_000)
"""Flapping out of the way: these properties are about the window."""

Check = tuple[float, bool]
"""Seconds since the last check, and whether this one passed."""


@st.composite
def rules(draw: st.DrawFn) -> tuple[WindowRule, Fraction | None]:
    """A window rule, and its share as an exact fraction (for the brute force)."""
    # Often a sum of the gaps below, so that checks fall exactly on the window's edge.
    within = float(draw(st.sampled_from([10, 30, 60, 120, 300]) | st.integers(1, 600)))
    if draw(st.booleans()):
        return WindowRule(within=within, failures=draw(st.integers(1, 12))), None
    percent = draw(st.integers(1, 100))
    rule = WindowRule(
        within=within, failure_ratio=percent / 100, min_checks=draw(st.integers(1, 12))
    )
    return rule, Fraction(percent, 100)


histories = st.lists(
    st.tuples(st.sampled_from([0.0, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0]), st.booleans()),
    min_size=1,
    max_size=80,
)


def brute_force(
    rule: WindowRule, share: Fraction | None, times: list[float], oks: list[bool], i: int
) -> tuple[bool, int]:
    """Whether the rule holds after check ``i``, counted afresh from the whole history; and
    how many checks the window holds."""
    inside = [oks[j] for j in range(i + 1) if times[j] > times[i] - rule.within]
    failed = inside.count(False)
    if rule.failures is not None:
        return failed >= rule.failures, len(inside)
    assert share is not None
    return len(inside) >= rule.min_checks and failed >= share * len(inside), len(inside)


def replay(
    rule: WindowRule, history: list[Check], restore_at: int | None = None
) -> tuple[list[list[Event]], list[State]]:
    """Feed ``history`` to a detector; the events and state after each check.  With
    ``restore_at``, save and restore the detector (through JSON) before that check."""
    settings_ = Rules(success_threshold=2, window=rule, flapping=NEVER_FLAPS)
    detector, now = Detector(settings_), T0
    events, states = [], []
    for i, (gap, ok) in enumerate(history):
        if i == restore_at:
            saved = json.loads(json.dumps(detector.to_dict()))
            detector = Detector.from_dict(saved, settings_)
        now += gap
        events.append(detector.observe(Observation("api", ok, now, kind=None), now))
        states.append(detector.state("api"))
    return events, states


@settings(max_examples=400, deadline=None)
@given(rules(), histories)
def test_the_rule_fires_exactly_when_a_brute_force_count_says_it_holds(
    drawn: tuple[WindowRule, Fraction | None], history: list[Check]
) -> None:
    """Down at each check where the brute force says the rule holds (never flapping out
    of it); a StateChanged to down exactly where it starts to hold on a monitor not down;
    and never with fewer than ``min_checks`` in the window."""
    rule, share = drawn
    events, states = replay(rule, history)
    times, oks, now = [], [], T0
    for gap, ok in history:
        now += gap
        times.append(now)
        oks.append(ok)
    before = State.UNKNOWN
    for i, state in enumerate(states):
        held, inside = brute_force(rule, share, times, oks, i)
        downs = [e for e in events[i] if isinstance(e, StateChanged) and e.new is State.DOWN]
        if held:
            assert state is State.DOWN
        assert bool(downs) == (held and before is not State.DOWN)
        if downs and rule.failure_ratio is not None:
            assert inside >= rule.min_checks
        if state is State.UP and before is State.DOWN:
            assert not held
            assert oks[i]
            assert oks[i - 1]  # two passes in a row
        before = state


@settings(max_examples=200, deadline=None)
@given(rules(), histories, st.data())
def test_a_save_and_restore_anywhere_changes_nothing(
    drawn: tuple[WindowRule, Fraction | None], history: list[Check], data: st.DataObject
) -> None:
    """Restored from its saved state before any check, the detector makes the same events
    from there on: a restored window neither pages again nor forgets a failure."""
    rule, _ = drawn
    at = data.draw(st.integers(0, len(history) - 1))
    assert replay(rule, history, restore_at=at) == replay(rule, history)
