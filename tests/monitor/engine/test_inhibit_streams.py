"""The incident engine asking the holds (``depends_on`` and ``inhibit_rules:`` as one
mechanism) over random streams of ups and downs on a virtual clock (hypothesis): no
down alert is lost, none is held past the recovery of what held it, and a recovery is
never held.  The engine and the holds are the real ones; the detector's side is played
by hand, and the engine ticks after each change, as the runner does every second."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor._state import State
from tether.monitor.config.labels._labels import parse_matchers
from tether.monitor.engine._detect import Observation, StateChanged
from tether.monitor.engine._holds import Holds
from tether.monitor.engine._inhibit import Inhibition, Rule
from tether.monitor.engine.incidents._engine import IncidentEngine
from tether.monitor.engine.incidents._events import Event, IncidentRoute

T0 = 1_800_000_000.0
HOST = "svc.lab.test"
"""One host for all: incidents of one service, each monitor paged on its own."""
LABELS = {
    "gw-a": {"role": "gateway", "site": "a"},
    "gw-b": {"role": "gateway", "site": "b"},
    "be-a1": {"role": "backend", "site": "a"},
    "be-a2": {"role": "backend", "site": "a"},
    "be-b1": {"role": "backend", "site": "b"},
    "db": {"role": "db"},
}
NAMES = tuple(LABELS)
RULE = Rule(
    parse_matchers('role="gateway"'),
    parse_matchers('role="backend"'),
    ("site",),
    "inhibit_rules[0]",
)
DOWN_EVENTS = {"incident.opened", "monitor.down"}
UP_EVENTS = {"monitor.up", "incident.resolved"}

Step = tuple[float, str]
"""Seconds since the last step, and the monitor that changes (down if up, up if down)."""


def run(
    steps: list[Step], depends_on: dict[str, list[str]]
) -> tuple[list[tuple[float, str, str]], dict[str, list[tuple[float, float | None, float | None]]]]:
    """Play ``steps``: the alerts sent (time, event, monitor) and, for each monitor, its
    down episodes as (down at, when the model says its page goes, None: never; up at)."""
    inhibition = Inhibition.build(LABELS, [RULE], depends_on)
    holds = Holds(inhibition)
    states = dict.fromkeys(NAMES, State.UP)
    engine = IncidentEngine(
        # ops is told of each monitor on its own (as an Alertmanager channel is, rather
        # than in grouped updates): what is under test is when the holds let a page go.
        {n: IncidentRoute(("ops",), ungrouped=frozenset({"ops"})) for n in NAMES},
        itertools.count(1).__next__,
        hold=lambda name, now: holds.why(name, now, states),
    )
    down: dict[str, Observation] = {}
    hosts = dict.fromkeys(NAMES, HOST)
    sent: list[tuple[float, str, str]] = []
    episodes: dict[str, list[tuple[float, float | None, float | None]]] = {n: [] for n in NAMES}
    waiting: dict[str, tuple[float, float | None]] = {}
    """Each monitor down: since when, and when its page went (by the model)."""

    def note(events: list[Event], now: float) -> None:
        sent.extend((now, a.payload.event, a.payload.monitor) for e in events for a in e.alerts)

    def model_tick(now: float) -> None:
        for name, (since, paged) in waiting.items():
            if paged is None and not held(name, states, depends_on):
                waiting[name] = (since, now)

    now = T0
    for gap, name in steps:
        now += gap
        if states[name] is State.UP:
            states[name] = State.DOWN
            down[name] = Observation(name, False, now, 5.0, Kind.HTTP_SERVER_ERROR, HOST)
            record = ProbeRecord(name, now, False, Kind.HTTP_SERVER_ERROR, 5.0, "503")
            change = StateChanged(name, now, State.UP, State.DOWN, "3 failed checks")
            waiting[name] = (now, None)
        else:
            states[name] = State.UP
            down.pop(name)
            record = ProbeRecord(name, now, True)
            change = StateChanged(name, now, State.DOWN, State.UP, "2 passed checks")
            since, paged = waiting.pop(name)
            episodes[name].append((since, paged, now))
        note(engine.changed(change, record, down.values(), hosts), now)
        model_tick(now)
        note(engine.tick(now), now)
    for name, (since, paged) in waiting.items():
        episodes[name].append((since, paged, None))
    return sent, episodes


def held(name: str, states: dict[str, State], depends_on: dict[str, list[str]]) -> bool:
    """The hold by its definition, for these monitors and this rule: a parent down, or,
    for a backend, a gateway of its site down."""
    if any(states[p] is State.DOWN for p in depends_on.get(name, ()) if p != name):
        return True
    mine = LABELS[name]
    return mine.get("role") == "backend" and any(
        states[other] is State.DOWN and LABELS[other] == {"role": "gateway", "site": mine["site"]}
        for other in NAMES
    )


STEPS = st.lists(
    st.tuples(st.sampled_from([0.0, 1.0, 30.0, 600.0]), st.sampled_from(NAMES)), max_size=40
)
PARENTS = st.dictionaries(
    st.sampled_from(NAMES),
    st.lists(st.sampled_from(NAMES), max_size=2, unique=True),
    max_size=3,
).map(lambda d: {child: [p for p in ps if p != child] for child, ps in d.items()})


@settings(max_examples=300, deadline=None)
@given(steps=STEPS, depends_on=PARENTS)
def test_no_down_alert_is_lost_none_held_past_its_source_s_recovery_no_recovery_held(
    steps: list[Step], depends_on: dict[str, list[str]]
) -> None:
    """Each down episode of each monitor is paged exactly once, at the first moment it is
    down and nothing holds it (at once, or at the tick after what held it came back),
    or never if it comes back first; its recovery is sent at the moment it comes back
    exactly when its page went, never later and never held."""
    sent, episodes = run(steps, depends_on)
    for name, spans in episodes.items():
        downs = [(t, e) for t, e, m in sent if m == name and e in DOWN_EVENTS]
        ups = [(t, e) for t, e, m in sent if m == name and e in UP_EVENTS]
        assert [t for t, _ in downs] == [paged for _, paged, _ in spans if paged is not None]
        assert [t for t, _ in ups] == [
            back for _, paged, back in spans if paged is not None and back is not None
        ]
        for since, paged, back in spans:
            if paged is not None:
                assert since <= paged
                assert back is None or paged <= back


def test_a_stream_by_hand_gateway_backends_and_a_parent() -> None:
    """gw-a down, be-a1 and be-b1 down (be-a1 held), db down while be-a2 depends on it and
    be-a2 down (held by db), gw-a back (be-a1's page goes), db back (be-a2's page goes)."""
    steps = [
        (1.0, "gw-a"),
        (1.0, "be-a1"),
        (1.0, "be-b1"),
        (1.0, "db"),
        (1.0, "be-a2"),
        (1.0, "gw-a"),
        (1.0, "db"),
    ]
    sent, _ = run(steps, {"be-a2": ["db"]})
    assert [(t - T0, m) for t, e, m in sent if e in DOWN_EVENTS] == [
        (1.0, "gw-a"),
        (3.0, "be-b1"),
        (4.0, "db"),
        (6.0, "be-a1"),
        (7.0, "be-a2"),
    ]
