"""A monitor's labels on every alert the incident engine makes about it (the route
carries them), on its latency notices, and, for the ``local`` incident, the labels its
named monitors have in common."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.incident_world import T0, World, engine
from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor._state import State
from tether.monitor.engine._baseline import Expected
from tether.monitor.engine._correlate import Failures
from tether.monitor.engine._detect import Degraded, Observation, Recovered, StateChanged
from tether.monitor.engine.incidents._books import NAMES_SHOWN
from tether.monitor.engine.incidents._engine import IncidentEngine
from tether.monitor.engine.incidents._events import Event, IncidentRoute

PAYMENTS = {"team": "payments", "tier": "1"}


def test_every_alert_about_a_monitor_carries_its_labels() -> None:
    """Opened, grouped update and resolved: each payload has the labels of the monitor it
    is about (an update, those its news names share), and the webhook body says them; a
    monitor without labels says none.  (bravo joining and alpha leaving alpha's incident
    go in its grouped update and its resolution, not in alerts of their own: grouping.)"""
    w = World(
        engine(
            alpha=IncidentRoute(("ops",), labels=PAYMENTS),
            bravo=IncidentRoute(("ops",), labels={"team": "web"}),
        )
    )
    events = w.fail("alpha", T0) + w.fail("bravo", T0 + 1) + w.fail("charlie", T0 + 2)
    events += w.e.tick(T0 + 30)
    events += w.recover("alpha", T0 + 60) + w.recover("bravo", T0 + 61)
    events += w.recover("charlie", T0 + 62)
    said = [
        (a.payload.event, a.payload.monitor, dict(a.payload.labels))
        for e in events
        for a in e.alerts
    ]
    assert said == [
        ("incident.opened", "alpha", PAYMENTS),
        ("incident.opened", "charlie", {}),
        ("incident.updated", "bravo", {"team": "web"}),
        ("incident.resolved", "bravo", {"team": "web"}),
        ("incident.resolved", "charlie", {}),
    ]
    first = events[0].alerts[0].payload
    assert first.to_json()["labels"] == PAYMENTS
    assert type(first).from_json(first.to_json()).labels == PAYMENTS


def test_the_labels_read_back_from_an_older_outbox_row_are_none() -> None:
    """A payload written before labels existed (no key, or a damaged value) reads back
    with no labels rather than failing."""
    payload = engine(alpha=IncidentRoute(("ops",), labels=PAYMENTS))
    w = World(payload)
    body = w.fail("alpha", T0)[0].alerts[0].payload.to_json()
    cls = type(w.fail("bravo", T0 + 1, Kind.CONNECT_REFUSED)[0].alerts[0].payload)
    assert cls.from_json({k: v for k, v in body.items() if k != "labels"}).labels == {}
    assert cls.from_json({**body, "labels": ["team"]}).labels == {}


def test_latency_notices_carry_the_monitors_labels() -> None:
    """``monitor.degraded`` and ``monitor.recovered`` are about one monitor: its labels."""
    e = engine(alpha=IncidentRoute(("ops",), labels=PAYMENTS))
    expected = Expected("global", 100.0, 0.0, 150.0)
    slow = e.notice(Degraded("alpha", T0, 400.0, expected), T0)
    back = e.notice(Recovered("alpha", T0 + 60, 90.0, expected), T0 + 60)
    assert [(a.payload.event, dict(a.payload.labels)) for a in slow.alerts + back.alerts] == [
        ("monitor.degraded", PAYMENTS),
        ("monitor.recovered", PAYMENTS),
    ]


def test_the_local_incident_names_only_what_all_its_monitors_share() -> None:
    """Four services of team payments, tiers differing, one of them also on call: the
    page says team=payments alone."""
    labels = {
        "a": {"team": "payments", "tier": "1", "oncall": "yes"},
        "b": {"team": "payments", "tier": "2"},
        "c": {"team": "payments", "tier": "1"},
        "d": {"team": "payments", "tier": "1"},
    }
    _, events = _local_world(labels)
    (page,) = [a.payload for ev in events for a in ev.alerts if a.payload.host_count is not None]
    assert page.labels == {"team": "payments"}


def _local_world(labels: dict[str, dict[str, str]]) -> tuple[IncidentEngine, list[Event]]:
    """Every monitor of ``labels`` on a host of its own, all refusing: the ``local``
    incident opens."""
    hosts = {name: f"h-{name}" for name in labels}
    routes = {name: IncidentRoute(("ops",), labels=mine) for name, mine in labels.items()}
    e = IncidentEngine(routes, itertools.count(1).__next__)
    failures = Failures(hosts)
    events: list[Event] = []
    for i, name in enumerate(labels):
        at = T0 + i * 0.1
        failures.set(name, Observation(name, False, at, 1.0, Kind.CONNECT_REFUSED, hosts[name]))
        record = ProbeRecord(name, at, False, Kind.CONNECT_REFUSED, 1.0, "refused")
        change = StateChanged(name, at, State.UP, State.DOWN, "3 failed checks")
        events += e.changed(change, record, failures, hosts)
    return e, events


@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["team", "tier", "env"]), st.sampled_from(["a", "b"]), max_size=3
        ),
        min_size=4,
        max_size=14,
    )
)
def test_the_local_incident_says_the_labels_its_named_monitors_share(
    maps: list[dict[str, str]],
) -> None:
    """The ``local`` incident's page is about many monitors: its labels are exactly those
    every monitor it names has, with one value (hypothesis over random label maps)."""
    labels = {f"m{i}": mine for i, mine in enumerate(maps)}
    e, events = _local_world(labels)
    pages = [
        a.payload
        for ev in events
        for a in ev.alerts
        if a.payload.host_count is not None and a.payload.event == "incident.opened"
    ]
    assert pages, "the local incident opened"
    for page in pages:
        named = page.monitors[:NAMES_SHOWN]
        shared = set.intersection(*(set(labels[n].items()) for n in named))
        assert set(page.labels.items()) == shared
    assert e.open_incidents()[0].key == "local"
