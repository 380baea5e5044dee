"""The incident engine held to issue 24's invariants over random schedules (hypothesis):
monitors of several services (two ports on each of a few hosts) going down with kinds
and coming back, acknowledgements given at random, and the clock ticking.  Whatever the
order:

- every down transition is told on each of the monitor's channels: the one that opens an
  incident by its page, at once; one that joins an open incident (grouping) in a grouped
  update or the resolution, never lost, and updates of one incident to one channel come
  first ``group_wait`` after its opening and then at least ``group_interval`` apart;
- no incident holds monitors of two services, or of two kinds;
- an acknowledgement never silences a monitor that joined the incident after it: such a
  monitor is reminded on time, one that joined before it never again;
- every join is on the incident's timeline;
- a pause is no recovery: the paused monitor stays in its incident, unreminded, and
  resumed and down for the same cause it is back in it without a page;
- each monitor's time in its incidents, as their membership history tells it (what the
  status pages and a monitor's page show), is its own down time: the same spans, from
  when it went down to when it came back, with the same paused spans.

The local rule is set out of reach here
(tests/monitor/engine/test_incidents_local_properties.py holds it to its own properties), so
every incident is one service's.  And the grouping key put back to the host alone breaks the
second property: :func:`test_a_host_only_key_breaks_it`.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether._kinds import Kind
from tether.monitor._records import Alert, Move, ProbeRecord, stints
from tether.monitor._state import State
from tether.monitor.engine import _correlate
from tether.monitor.engine._correlate import Correlation, Failures
from tether.monitor.engine._detect import Observation, StateChanged
from tether.monitor.engine.incidents._engine import IncidentEngine
from tether.monitor.engine.incidents._events import (
    GROUP_INTERVAL as EVERY,
)
from tether.monitor.engine.incidents._events import (
    GROUP_WAIT as WAIT,
)
from tether.monitor.engine.incidents._events import (
    Event,
    IncidentRoute,
    Joined,
    Opened,
    Reminder,
    Updated,
)

T0 = 1_800_000_000.0
KINDS = (Kind.CONNECT_REFUSED, Kind.CONNECT_REFUSED, Kind.HTTP_SERVER_ERROR)
NO_LOCAL = Correlation(local_min_hosts=1000)
REMIND = 120.0
PAGES = ("incident.opened", "monitor.down")

Schedule = tuple[dict[str, str], dict[str, IncidentRoute], list[tuple[Any, ...]]]


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    """Monitors ``h{host}p{port}m{n}`` on ``h{host}:{port}``, their routes, and steps."""
    services: dict[str, str] = {}
    routes: dict[str, IncidentRoute] = {}
    for h in range(draw(st.integers(1, 3))):
        for port in (80, 443):
            for m in range(draw(st.integers(1, 2))):
                name = f"h{h}p{port}m{m}"
                services[name] = f"h{h}:{port}"
                channels = draw(st.sampled_from([("a",), ("b",), ("a", "b")]))
                routes[name] = IncidentRoute(channels, remind_every=REMIND)
    names = sorted(services)
    step = st.one_of(
        st.tuples(st.just("fail"), st.sampled_from(names), st.sampled_from(KINDS)),
        st.tuples(st.just("fail"), st.sampled_from(names), st.sampled_from(KINDS)),
        st.tuples(st.just("recover"), st.sampled_from(names)),
        st.tuples(st.just("ack"), st.sampled_from(names)),
        st.tuples(st.just("pause"), st.sampled_from(names)),
        st.tuples(st.just("tick"), st.integers(1, 200)),
    )
    return services, routes, draw(st.lists(step, min_size=5, max_size=50))


def run(schedule: Schedule) -> None:
    """Play ``schedule`` on the engine, asserting the invariants after every step.  What
    an acknowledgement covers is the test's own model (given at or after the member
    joined), not the engine's."""
    services, routes, steps = schedule
    hosts = {name: service.partition(":")[0] for name, service in services.items()}
    engine = IncidentEngine(routes, itertools.count(1).__next__, correlation=NO_LOCAL)
    failures = Failures(hosts)
    kinds: dict[str, Kind] = {}
    joined: dict[str, float] = {}
    told: dict[str, float] = {}
    """When each down monitor was last paged or reminded."""
    acked: dict[int, float] = {}
    """The latest acknowledgement given to each incident."""
    paused: dict[str, int] = {}
    """Monitors paused while down, and the incident they were in."""
    spans: dict[str, list[tuple[float, float | None, list[list[float | None]]]]] = {}
    """Each monitor's own outages, the model's: (start, end, paused spans)."""
    moves: dict[int, list[Move]] = {}
    """Each incident's membership history, as the events carried it."""
    owed: set[tuple[str, str]] = set()
    """(monitor, channel): a join not yet told on that channel."""
    updated: dict[tuple[int, str], float] = {}
    """When each incident last sent a grouped update to each channel."""
    steps_end = ("tick", 1, "the last")

    def end(name: str, at: float) -> None:
        start, _, pauses = spans[name][-1]
        if pauses and pauses[-1][1] is None:
            pauses[-1][1] = at
        spans[name][-1] = (start, at, pauses)

    now = T0
    for step in [*steps, steps_end]:
        now += 1
        batch: list[Event] = []
        if step[0] == "fail" and (step[1] not in kinds or step[1] in paused):
            name, kind = step[1], step[2]
            # Resumed and down again for the same cause: back in its incident, no page.
            same = name in paused and kinds[name] is kind
            was = paused.pop(name, None)
            if not same:
                kinds[name] = kind
                joined[name] = told[name] = now
                if was is not None:  # resumed, failing for another cause: a new outage
                    end(name, now)
                spans.setdefault(name, []).append((now, None, []))
            else:
                spans[name][-1][2][-1][1] = now
            seen = Observation(name, False, now, 1.0, kind, services[name])
            failures.set(name, seen)
            record = ProbeRecord(name, now, False, kind, 1.0, "failed")
            change = StateChanged(name, now, State.UNKNOWN, State.DOWN, "failed")
            batch = engine.changed(change, record, failures, hosts)
            pages = Counter(
                a.channel
                for e in batch
                for a in e.alerts
                if a.payload.event in PAGES and a.payload.monitor == name
            )
            if same:
                assert not pages, ("a resumed monitor still down was paged again", name)
                incident = engine.incident_of(name)
                assert incident is not None, (name, batch)
                assert incident.id == was, (name, batch)
                told[name] = now  # its reminders start again
            elif any(isinstance(e, Opened) and e.monitor == name for e in batch):
                assert pages == Counter(routes[name].channels), (name, batch)
            else:  # grouping: it joined an incident, told in its grouped news
                assert not pages, (name, batch)
                owed.update((name, c) for c in routes[name].channels)
            for e in batch:
                if isinstance(e, Joined) and e.monitor == name:
                    assert e.entry is not None
                    assert e.entry.detail.startswith(f"{name} is down too"), e.entry
        elif step[0] == "pause" and step[1] in kinds and step[1] not in paused:
            name = step[1]
            incident = engine.incident_of(name)
            assert incident is not None
            paused[name] = incident.id
            spans[name][-1][2].append([now, None])
            failures.set(name, None)
            change = StateChanged(name, now, State.DOWN, State.PAUSED, "paused")
            batch = engine.changed(change, None, failures, hosts)
            assert not [a for e in batch for a in e.alerts], ("a pause alerted", name)
            assert engine.incident_of(name) is incident, ("a pause left the incident", name)
        elif step[0] == "recover" and step[1] in kinds:
            name = step[1]
            paused.pop(name, None)
            del kinds[name], joined[name], told[name]
            end(name, now)
            failures.set(name, None)
            change = StateChanged(name, now, State.DOWN, State.UP, "passed")
            batch = engine.changed(change, None, failures, hosts)
        elif step[0] == "ack":
            incident = engine.incident_of(step[1])
            if incident is not None:
                acked[incident.id] = now
                engine.acknowledge(incident.id, now)
        elif step[0] == "tick":
            where = {m: i.id for i in engine.open_incidents() for m in i.members}
            now += step[1]
            batch = engine.tick(now)
            reminded = {e.monitor for e in batch if isinstance(e, Reminder)}
            for name, incident_id in where.items():
                if name in paused:
                    assert name not in reminded, ("a paused member was reminded", name)
                elif acked.get(incident_id, -1.0) >= joined[name]:
                    assert name not in reminded, ("reminded after an ack that covers it", name)
                elif now - told[name] >= REMIND:
                    assert name in reminded, ("not reminded: the ack came before it", name)
            for name in reminded:
                told[name] = now
        for e in [*batch, *(engine.tick(now + 10_000) if step is steps_end else ())]:
            moves.setdefault(e.incident.id, []).extend(e.moves)
            for a in e.alerts:
                if a.payload.event not in ("incident.updated", "incident.resolved"):
                    continue
                owed -= {(n, c) for n, c in owed if c == a.channel and n in _names(a)}
                if isinstance(e, Updated):
                    last = updated.get((e.incident.id, a.channel), e.incident.opened + WAIT)
                    at = a.payload.at
                    assert at - last >= (0 if last == e.incident.opened + WAIT else EVERY), e
                    updated[(e.incident.id, a.channel)] = at
        for incident in engine.open_incidents():
            members = list(incident.members)
            assert len({services[m] for m in members}) == 1, (incident.key, members)
            assert len({kinds[m] for m in members}) == 1, (incident.key, members)
    told_spans: dict[str, list[tuple[Any, ...]]] = {}
    for history in moves.values():
        for name, each in stints(history).items():
            told_spans.setdefault(name, []).extend((s.start, s.end, s.paused) for s in each)
    own = {
        name: [(a, b, tuple((p, q) for p, q in pauses)) for a, b, pauses in outages]
        for name, outages in spans.items()
    }
    assert {n: sorted(v, key=_first) for n, v in told_spans.items()} == own
    assert not owed, ("a join never told", owed)


def _names(alert: Alert) -> set[str]:
    """The monitors an alert's words name."""
    return set(re.findall(r"h\d+p\d+m\d+", alert.payload.text))


@settings(max_examples=300, deadline=None)
@given(schedules())
def test_the_invariants_hold_over_random_schedules(schedule: Schedule) -> None:
    run(schedule)


def _first(span: tuple[Any, ...]) -> Any:
    return span[0]


def _host_only(o: Observation, host: str | None) -> str:
    """The grouping key as it was before issue 24: the host alone."""
    if o.kind is None:
        return f"monitor:{o.monitor}"
    if host is None:
        return f"monitor:{o.monitor}:{o.kind.value}"
    return f"host:{host}:{o.kind.value}"


def test_a_host_only_key_breaks_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the key put back to the host alone, two services of one host refusing make
    one incident, and the run fails on it: the properties do test the key."""
    schedule: Schedule = (
        {"old-api": "h0:18099", "www": "h0:18080"},
        {
            "old-api": IncidentRoute(("a",), remind_every=REMIND),
            "www": IncidentRoute(("a",), remind_every=REMIND),
        },
        [("fail", "old-api", Kind.CONNECT_REFUSED), ("fail", "www", Kind.CONNECT_REFUSED)],
    )
    run(schedule)  # as it is: two incidents
    monkeypatch.setattr(_correlate, "_key", _host_only)
    with pytest.raises(AssertionError, match=r"host:h0:connect\.refused"):
        run(schedule)
