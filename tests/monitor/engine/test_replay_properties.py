"""The detector's replay held to a property over random rules and check histories
(hypothesis): a state saved at any check and given back the checks made after it
(``Detector.replay``, what a restart does with the checks stored since the state was
saved) is the state of the detector that saw them all, and made the same events on the
way: a crash loses neither a filling window, nor a count of failures in a row, nor a
latency episode, nor flapping."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tether._kinds import Kind
from tether.monitor._state import Flapping
from tether.monitor.config._rules import Latency, Rules, WindowRule
from tether.monitor.engine._detect import Detector, Observation

T0 = 1_700_000_000.0


@st.composite
def detector_rules(draw: st.DrawFn) -> Rules:
    """Thresholds or a window, a flapping rule that can be reached, a latency rule that
    learns fast."""
    window = None
    if draw(st.booleans()):
        within = float(draw(st.sampled_from([10, 30, 60, 300])))
        window = WindowRule(within=within, failures=draw(st.integers(1, 8)))
    return Rules(
        failure_threshold=1 if window else draw(st.integers(1, 4)),
        success_threshold=draw(st.integers(1, 3)),
        window=window,
        flapping=Flapping(changes=draw(st.integers(2, 6)), window=600, settle=120),
        latency=Latency(window=20, min_samples=5, floor_ms=5.0),
    )


checks = st.lists(
    st.tuples(
        st.sampled_from([1.0, 5.0, 10.0, 30.0, 60.0]),
        st.booleans(),
        st.sampled_from([10.0, 12.0, 200.0]),
        st.sampled_from([None, Kind.CONNECT_REFUSED, Kind.HTTP_SERVER_ERROR]),
    ),
    min_size=1,
    max_size=60,
)


def observations(history: list[tuple[float, bool, float, Kind | None]]) -> list[Observation]:
    out, now = [], T0
    for gap, ok, latency, kind in history:
        now += gap
        out.append(Observation("api", ok, now, latency if ok else None, None if ok else kind))
    return out


@settings(max_examples=300, deadline=None)
@given(detector_rules(), checks, st.data())
def test_a_saved_state_given_the_checks_after_it_is_the_state_that_saw_them(
    rules: Rules, history: list[tuple[float, bool, float, Kind | None]], data: st.DataObject
) -> None:
    """Saved (through JSON) after any check and restored, then given every later check
    in one replay: the same events, in order, and the same saved state at the end as the
    detector that took each check as it came."""
    seen = observations(history)
    at = data.draw(st.integers(0, len(seen)))
    whole = Detector(rules)
    for o in seen[:at]:
        whole.observe(o, o.timestamp)
    saved = json.loads(json.dumps(whole.export("api") or {}))
    after = [event for o in seen[at:] for event in whole.observe(o, o.timestamp)]
    again = Detector(rules)
    if saved:
        again.restore("api", saved)
    # Given the checks it has seen too (a store read from its newest check's time on).
    replayed = again.replay("api", seen[max(0, at - 2) :])
    assert replayed == after
    assert again.export("api") == whole.export("api")
