"""One outage seen from several locations is one incident whose scope changes (issue 73
item 9): partial while some locations fail, full once a quorum does, partial again when
one comes back, resolved once every location is up.  Pure: the quorum feeding the
incident engine on a virtual clock, as ``test_incidents_partial.py`` does.  The store
keeping the changed key, the status page and its news following the incident, and a
restart in each scope are tested beside their own (``test_store_incident_rows.py``,
``tests/monitor/web/test_status_scope.py``, the lifecycle matrix).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.partial_world import DETAIL, HOSTS, TIMEOUT, World, alerts, kinds
from tether.monitor._records import ProbeRecord, stints
from tether.monitor._state import State
from tether.monitor.engine._correlate import Failures
from tether.monitor.engine._detect import Observation, StateChanged
from tether.monitor.engine.incidents._events import Widened


def test_one_outage_from_two_locations_is_one_incident() -> None:
    """``locations: [local, branch-1]``: down at local, down at branch-1, up at local, up
    at branch-1 is one incident (today three: partial, full, partial), resolved at the
    end, with the full outage paged once."""
    w = World(("local", "branch-1"))
    assert kinds(w.cut("local")) == ["Opened"]
    (widened,) = w.cut("branch-1")
    assert isinstance(widened, Widened)
    assert widened.incident.key == "host:api.example.com:connect.timeout"
    assert widened.entry is not None
    assert widened.entry.detail == "api is down from a quorum of its locations now"
    assert w.e.incident_of("api") == widened.incident
    assert w.e.partial_of("api") is None
    narrowed = w.mend("local", after=100)
    assert kinds(narrowed) == ["Narrowed"]
    assert narrowed[0].incident.key == "partial:api"
    assert narrowed[0].incident.detail == (
        "api unreachable from branch-1 (connect.timeout), up from local"
    )
    assert w.e.incident_of("api") is None
    assert kinds(w.mend("branch-1")) == ["Resolved"]
    ids = list(dict.fromkeys(e.incident.id for e in w.events))
    assert ids == [ids[0]]
    assert w.e.open_incidents() == []
    # Paged once when it went down for the cluster, told once when it came back for it;
    # its partial times page nobody (partial_alerts is off).
    assert alerts(w.events) == [("incident.opened", "ops"), ("monitor.up", "ops")]
    (up,) = narrowed[0].alerts
    assert up.payload.text == (
        "api is back up from a quorum of its locations after 1 min 40 s; incident #1 goes on "
        "as a partial outage: api unreachable from branch-1 (connect.timeout), up from local"
    )
    assert up.payload.kind is TIMEOUT  # the kind it paged with: Alertmanager's label
    assert up.payload.locations["branch-1"].state is State.DOWN


def test_the_membership_history_tells_full_stints_from_partial_ones() -> None:
    """Each change of scope ends a stint and begins one, ``partial`` while the incident
    was partial: the status pages tell the others alone."""
    w = World(("local", "branch-1"))
    w.cut("local")
    w.cut("branch-1")
    w.mend("local")
    w.cut("local")
    w.mend("local")
    w.mend("branch-1")
    moves = [(m.event, m.why) for e in w.events for m in e.moves]
    assert moves == [
        ("joined", "partial"),
        ("left", "down"),
        ("joined", "down"),
        ("left", "partial"),
        ("joined", "partial"),
        ("left", "down"),
        ("joined", "down"),
        ("left", "partial"),
        ("joined", "partial"),
        ("left", "up"),
    ]
    spans = stints(m for e in w.events for m in e.moves)["api"]
    assert [(s.why, s.end is not None) for s in spans] == [
        ("partial", True),
        ("down", True),
        ("partial", True),
        ("down", True),
        ("partial", True),
    ]
    assert alerts(w.events) == [
        ("incident.opened", "ops"),
        ("monitor.up", "ops"),
        ("incident.opened", "ops"),
        ("monitor.up", "ops"),
    ]


def test_with_partial_alerts_each_scope_is_told_and_ended() -> None:
    """``partial_alerts``: the partial outage's alert, ended when it goes down for the
    cluster (after the page), and again once it is partial again, each on the same
    incident: Alertmanager's TetherMonitorPartial and TetherMonitorDown each fire and
    resolve."""
    w = World(("local", "branch-1"), partial_alerts=True)
    w.cut("local")
    w.cut("branch-1")
    w.mend("branch-1")
    w.mend("local")
    assert alerts(w.events) == [
        ("incident.partial", "ops"),
        ("incident.opened", "ops"),
        ("incident.partial_resolved", "ops"),
        ("monitor.up", "ops"),
        ("incident.partial", "ops"),
        ("incident.partial_resolved", "ops"),
    ]
    assert {a.payload.incident for e in w.events for a in e.alerts} == {1}
    ended = [a.payload for e in w.events for a in e.alerts][2]
    assert ended.text == (
        "api is down from a quorum of its locations now (incident #1): incident #1 is no "
        "longer partial"
    )


def test_an_outage_that_joins_another_monitors_incident_ends_the_partial_one() -> None:
    """Down for a cause whose incident is open already (another monitor of the host):
    it joins that incident, and its partial incident resolves pointing there."""
    w = World(("local", "branch-1"))
    e = w.e
    e.routes = {**e.routes, "db": e.routes["api"]}
    db = StateChanged("db", w.now, State.UP, State.DOWN, "down")
    record = ProbeRecord("db", w.now, False, TIMEOUT, 1.0, DETAIL)
    hosts = {**HOSTS, "db": HOSTS["api"]}
    failures = Failures(hosts)
    failures.set("db", Observation("db", False, w.now, None, TIMEOUT, HOSTS["api"]))
    (opened,) = e.changed(db, record, failures, hosts)
    w.cut("local")
    assert e.partial_of("api") is not None
    events = w.cut("branch-1")
    assert kinds(events) == ["Joined", "Resolved"]
    assert events[0].incident.id == opened.incident.id
    assert events[1].incident.is_partial
    assert e.partial_of("api") is None


@st.composite
def schedules(draw: st.DrawFn) -> tuple[tuple[str, ...], list[tuple[str, bool]]]:
    """Two or three locations and a run of up/down changes, one location at a time."""
    locations = ("local", "branch-1", "branch-2")[: draw(st.integers(2, 3))]
    steps = draw(st.lists(st.tuples(st.sampled_from(locations), st.booleans()), max_size=20))
    return locations, steps


@settings(max_examples=200, deadline=None)
@given(schedules())
def test_each_outage_is_one_incident(
    schedule: tuple[tuple[str, ...], list[tuple[str, bool]]],
) -> None:
    """For any sequence of one monitor's per-location up/down changes: at most one incident
    open at a time, and each outage (from a first location failing to every location up
    again) is one incident, opened at its start and resolved at its end; the channels are
    paged once each time the quorum finds the monitor down, told once each time it finds
    it back, and hear nothing else (partial_alerts is off)."""
    locations, steps = schedule
    w = World(locations)
    failing: set[str] = set()
    outage: set[int] = set()
    for loc, down in steps:
        was = w.q.state("api")
        events = w.cut(loc) if down else w.mend(loc)
        now = w.q.state("api")
        said = alerts(events)
        if was is not State.DOWN and now is State.DOWN:
            assert said == [("incident.opened", "ops")]
        elif was is State.DOWN and now is not State.DOWN:
            assert said in ([("monitor.up", "ops")], [("incident.resolved", "ops")])
        else:
            assert said == []
        (failing.add if down else failing.discard)(loc)
        assert len(w.e.open_incidents()) <= 1
        outage |= {e.incident.id for e in events}
        assert len(outage) <= 1, f"one outage, incidents {sorted(outage)}"
        if not failing:
            assert w.e.open_incidents() == []
            outage = set()
        else:
            assert len(w.e.open_incidents()) == 1
    assert w.q.state("api") in (State.UP, State.DOWN, State.UNKNOWN)
