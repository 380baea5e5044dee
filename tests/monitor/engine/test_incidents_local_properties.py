"""The incident engine held to properties over random schedules (hypothesis): monitors on
hosts going down with kinds and coming back, on one or two channels, and the clock ticking.
Whatever the order, each channel of a ``local`` incident hears of it once and of its end
once, incidents of one service still page their opening once per channel (a join is grouped
news), no
monitor is in two open incidents, and no fold is missing from a timeline.  And the work
of a wave: four times the monitors cost the engine about four times the calls."""

from __future__ import annotations

import itertools
import sys
from collections import Counter
from types import FrameType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor._state import State
from tether.monitor.engine._correlate import Correlation, Failures
from tether.monitor.engine._detect import Observation, StateChanged
from tether.monitor.engine.incidents._engine import IncidentEngine
from tether.monitor.engine.incidents._events import Event, Folded, Held, IncidentRoute, Released

T0 = 1_800_000_000.0
KINDS = [Kind.CONNECT_REFUSED] * 5 + [Kind.CONNECT_TIMEOUT, Kind.HTTP_SERVER_ERROR]
RULES = Correlation(local_min_hosts=2, local_fraction=0.5)
"""Looser than the defaults, so that the local rule comes and goes often in few steps."""
PAGES = ("incident.opened", "monitor.down")


@st.composite
def schedules(
    draw: st.DrawFn,
) -> tuple[dict[str, str], dict[str, IncidentRoute], list[tuple[Any, ...]]]:
    n_hosts = draw(st.integers(3, 6))
    hosts: dict[str, str] = {}
    routes: dict[str, IncidentRoute] = {}
    for h in range(n_hosts):
        for m in range(draw(st.integers(1, 2))):
            name = f"h{h}m{m}"
            hosts[name] = f"h{h}"
            routes[name] = IncidentRoute(draw(st.sampled_from([("a",), ("b",), ("a", "b")])))
    names = sorted(hosts)
    fail = st.tuples(st.just("fail"), st.sampled_from(names), st.sampled_from(KINDS))
    step = st.one_of(
        fail,
        fail,
        fail,
        st.tuples(st.just("recover"), st.sampled_from(names)),
        st.tuples(st.just("pass"), st.sampled_from(names)),
        st.tuples(st.just("tick"), st.integers(1, 90)),
    )
    # Whether every monitor passed a check first (the runner tells them when it sees
    # every check): then a host counts as down early, from its first failure.
    first = [("pass", n) for n in names] if draw(st.booleans()) else []
    return hosts, routes, first + draw(st.lists(step, min_size=10, max_size=60))


@settings(max_examples=300, deadline=None)
@given(schedules())
def test_pages_and_folds_hold_over_random_schedules(
    schedule: tuple[dict[str, str], dict[str, IncidentRoute], list[tuple[Any, ...]]],
) -> None:
    """Over any schedule: every channel of a local incident gets exactly one opening and,
    once it resolves, exactly one resolution; a monitor going down in an incident of one
    service is paged once on each of its channels, at once or, when its page waits for a
    local incident that may be forming, once the wait ends (unless the local incident
    took it in meanwhile, or it came back); no monitor is in two open incidents; every
    folded incident and the local incident it went to say so in their timelines."""
    hosts, routes, steps = schedule
    engine = IncidentEngine(routes, itertools.count(1).__next__, correlation=RULES)
    failures = Failures(hosts)
    now = T0
    down: set[str] = set()
    events: list[Event] = []
    local_channels: dict[int, set[str]] = {}
    waiting: dict[str, float] = {}
    """Monitors whose page waits for a local incident, and when they went down."""
    for step in [*steps, ("recover-all",)]:
        now += 1
        batch: list[Event] = []
        if step[0] == "pass":
            failures.passed(step[1], now)
        elif step[0] == "fail" and step[1] not in down:
            name, kind = step[1], step[2]
            down.add(name)
            failures.set(name, Observation(name, False, now, 1.0, kind, hosts[name]))
            record = ProbeRecord(name, now, False, kind, 1.0, "failed")
            change = StateChanged(name, now, State.UP, State.DOWN, "failed")
            batch = engine.changed(change, record, failures, hosts)
            incident = engine.incident_of(name)
            assert incident is not None
            pages = Counter(
                a.channel
                for e in batch
                for a in e.alerts
                if a.payload.event in PAGES and a.payload.monitor == name
            )
            held = [e for e in batch if isinstance(e, Held) and e.monitor == name]
            if held:
                assert held[0].entry is not None
                assert (
                    "to see whether this machine is the cause" in held[0].entry.detail
                    or "waits" in held[0].entry.detail
                )
                assert not pages
                waiting[name] = now
            elif incident.key != "local" and incident.members[name].opener:
                assert pages == Counter(routes[name].channels)
            elif incident.key != "local":  # grouping: a join is told in grouped news
                assert not pages
        elif step[0] == "recover" and step[1] in down:
            name = step[1]
            waiting.pop(name, None)
            down.discard(name)
            failures.set(name, None)
            change = StateChanged(name, now, State.DOWN, State.UP, "passed")
            batch = engine.changed(change, None, failures, hosts)
        elif step[0] == "tick":
            now += step[1]
            batch = engine.tick(now)
        elif step[0] == "recover-all":
            waiting.clear()
            for name in sorted(down):
                failures.set(name, None)
                change = StateChanged(name, now, State.DOWN, State.UP, "passed")
                batch += engine.changed(change, None, failures, hosts)
            down.clear()
        events += batch
        for e in batch:
            if isinstance(e, Released) and e.monitor in waiting:
                sent = Counter(a.channel for a in e.alerts if a.payload.event in PAGES)
                member = e.incident.members.get(e.monitor)
                opener = member is not None and member.opener
                # A join's page is grouped news (grouping): no alert of its own.
                assert sent == (Counter(routes[e.monitor].channels) if opener else Counter())
                del waiting[e.monitor]
            elif isinstance(e, Folded) and e.incident.folded_into is not None:
                for m in e.incident.monitors:  # the local incident's page tells them
                    waiting.pop(m, None)
        if step[0] == "tick":  # a wait that ended: its page went out at this tick
            assert all(now < at + RULES.local_wait for at in waiting.values()), (waiting, now)
        # No monitor in two open incidents, and every down one in one.
        seen = Counter(m for i in engine.open_incidents() for m in i.members)
        assert all(n == 1 for n in seen.values())
        assert set(seen) == down
        for i in engine.open_incidents():
            if i.key == "local":
                local_channels.setdefault(i.id, set()).update(
                    c for m in i.members for c in routes[m].channels
                )
    assert engine.open_incidents() == []
    said = Counter(
        (e.incident.id, a.payload.event, a.channel)
        for e in events
        for a in e.alerts
        if e.incident.key == "local"
    )
    for incident_id, channels in local_channels.items():
        for channel in channels:
            assert said[(incident_id, "incident.opened", channel)] == 1
            assert said[(incident_id, "incident.resolved", channel)] == 1
    assert {(i, c) for i, e, c in said if e in ("incident.opened", "incident.resolved")} <= {
        (i, c) for i, cs in local_channels.items() for c in cs
    }
    folds = [e for e in events if isinstance(e, Folded)]
    for e in folds:
        closed = e.incident
        if closed.folded_into is None:
            continue
        assert e.entry is not None
        assert e.entry.detail.startswith(f"folded into incident #{closed.folded_into}")
        took = [
            f.entry.detail
            for f in folds
            if f.incident.id == closed.folded_into and f.entry is not None
        ]
        assert any(f"#{closed.id}" in line for line in took)


class Calls:
    """Counts the function calls (Python and C) made on the thread it is installed on."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event in ("call", "c_call"):
            self.n += 1


def wave(n: int) -> tuple[int, int]:
    """The engine's calls while ``n`` monitors on 32 hosts all go down (refused, one host
    after another, each counting as down from its first failure), then all come back, a
    tick at each change; and the pages (opened, down) sent while they went down."""
    hosts = {f"m{i}": f"h{i % 32}" for i in range(n)}
    routes = {m: IncidentRoute(("ops",), remind_every=300) for m in hosts}
    engine = IncidentEngine(routes, itertools.count(1).__next__)
    failures = Failures(hosts)
    for m in hosts:  # every monitor passed its last check before the wave
        failures.passed(m, T0)
    counted = Calls()
    sent = 0
    now = T0
    sys.setprofile(counted)
    try:
        for up in (False, True):
            for i in range(n):
                name = f"m{i}"
                now += 10 / n * 32  # the wave takes about the same simulated time at any n
                if up:
                    failures.set(name, None)
                    change = StateChanged(name, now, State.DOWN, State.UP, "passed")
                    out = engine.changed(change, None, failures, hosts)
                else:
                    o = Observation(name, False, now, 1.0, Kind.CONNECT_REFUSED, hosts[name])
                    failures.set(name, o)
                    record = ProbeRecord(name, now, False, Kind.CONNECT_REFUSED, 1.0, "refused")
                    change = StateChanged(name, now, State.UP, State.DOWN, "failed")
                    out = engine.changed(change, record, failures, hosts)
                out += engine.tick(now)
                if not up:
                    sent += sum(a.payload.event in PAGES for e in out for a in e.alerts)
    finally:
        sys.setprofile(None)
    assert engine.open_incidents() == []
    return counted.n, sent


def test_the_engines_work_for_a_wave_grows_with_its_size() -> None:
    """A wave of four times the changes costs the engine about four times the calls (under
    5x), not the sixteen times of a copy or a walk over every member at each change or
    tick; and pages the same few times at either size."""
    small, paged = wave(400)
    large, paged_large = wave(1600)
    assert large / small < 5.0, (small, large)
    # The first two hosts' incidents page (fewer hosts than local_min_hosts: no wait), the
    # next ones wait and are taken in by the local incident, paged once.
    assert paged == paged_large == 3, (paged, paged_large)
