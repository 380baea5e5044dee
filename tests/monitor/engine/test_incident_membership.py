"""An outage stays on the record (issue 24, section 2).

``old-api`` and ``www`` were down in one incident; when ``www`` came back, the
incident's monitors shrank to ``[old-api]`` and the status page showed Website at 61.66%
uptime today with no incident listed, and, while it was open, dated Website's outage from
``old-api``'s start.  Each incident now keeps its membership as history, appended to and
never rewritten: each monitor with when it joined and left and why.  The status page,
the incident's API document, a monitor's page and ``tether incidents`` read it.

The engine's part is pure (a virtual clock); the rest runs a real runner on simulated
time (tests/helpers/monitor_harness.py) against the lab's refused and healthy servers on
loopback, and a real store (SQLite, and PostgreSQL where the store is tested alone).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hypothesis.strategies as st
from hypothesis import given

from tests.helpers.incident_world import T0, World, engine, pause
from tests.helpers.monitor_harness import Harness
from tests.helpers.stores import open_target
from tether._kinds import Kind
from tether.lab import Lab
from tether.monitor._records import (
    MOVES,
    Incident,
    Member,
    Move,
    ProbeRecord,
    Stint,
    TimelineEntry,
    stints,
)
from tether.monitor._state import State
from tether.monitor.config import parse_config
from tether.monitor.engine._correlate import Correlation
from tether.monitor.engine._detect import Observation, StateChanged
from tether.monitor.engine.incidents._events import IncidentRoute
from tether.monitor.reports._documents import incidents_report, incidents_text
from tether.monitor.store import Store
from tether.monitor.web.documents._dashboard import build_incident, build_incidents, build_monitor
from tether.monitor.web.documents._snapshot import Snapshot
from tether.monitor.web.pages._pages import monitor_page
from tether.monitor.web.status._statuspage import Sight, build_page
from tether.probe import ProbeOptions

# -- the engine: every change of membership is a move on the event that made it ----------


def test_every_join_leave_pause_and_resume_is_a_move_of_its_incident() -> None:
    """alpha opens, bravo joins and comes back, alpha is paused and resumed still failing,
    then comes back: the events carry those six moves, in order, and the stints read from
    them are each monitor's own time (alpha's paused span left out of its time down)."""
    w = World(engine())
    events = [
        *w.fail("alpha", T0),
        *w.fail("bravo", T0 + 60),
        *w.recover("bravo", T0 + 120),
        *pause(w, "alpha", T0 + 200),
        *w.fail("alpha", T0 + 300),
        *w.recover("alpha", T0 + 400),
    ]
    moves = [m for e in events for m in e.moves]
    assert moves == [
        Move("alpha", T0, "joined", "down"),
        Move("bravo", T0 + 60, "joined", "down"),
        Move("bravo", T0 + 120, "left", "up"),
        Move("alpha", T0 + 200, "paused"),
        Move("alpha", T0 + 300, "resumed", "still down for the same cause"),
        Move("alpha", T0 + 400, "left", "up"),
    ]
    assert len({e.incident.id for e in events}) == 1
    got = stints(moves)
    assert got == {
        "alpha": (Stint("alpha", T0, T0 + 400, "down", "up", ((T0 + 200, T0 + 300),)),),
        "bravo": (Stint("bravo", T0 + 60, T0 + 120, "down", "up"),),
    }
    assert got["alpha"][0].down_s(T0 + 1000) == 300
    assert got["bravo"][0].down_s(T0 + 1000) == 60


def test_a_monitor_that_leaves_and_comes_back_down_has_two_stints() -> None:
    """bravo is down, up, and down again while alpha keeps the incident open: one
    incident, two stints of bravo, each with its own start and end."""
    w = World(engine())
    events = [
        *w.fail("alpha", T0),
        *w.fail("bravo", T0 + 10),
        *w.recover("bravo", T0 + 20),
        *w.fail("bravo", T0 + 30),
    ]
    got = stints(m for e in events for m in e.moves)
    assert [(s.start, s.end) for s in got["bravo"]] == [(T0 + 10, T0 + 20), (T0 + 30, None)]


def test_a_local_incident_takes_the_host_incidents_members_with_their_own_start() -> None:
    """A host's incident folded into the local one: its members leave it ("folded into
    incident #N") and join the local one from when they went down, not from the fold."""
    hosts = {f"m{i}": f"10.{i}.0.1" for i in range(4)}
    e = engine()
    e.routes = {n: IncidentRoute(("ops",), url=f"http://{h}/") for n, h in hosts.items()}
    e.correlation = Correlation(local_min_hosts=3, local_wait=0)
    down: dict[str, Observation] = {}
    events = []
    for i, name in enumerate(hosts):
        at = T0 + i
        down[name] = Observation(name, False, at, 5.0, Kind.CONNECT_REFUSED, hosts[name])
        record = ProbeRecord(name, at, False, Kind.CONNECT_REFUSED, 5.0, "refused")
        change = StateChanged(name, at, State.UP, State.DOWN, "down")
        events += e.changed(change, record, down.values(), hosts)
    by_incident: dict[int, list[Move]] = {}
    for event in events:
        by_incident.setdefault(event.incident.id, []).extend(event.moves)
    (local,) = e.open_incidents()
    assert local.key == "local"
    joined = {m.monitor: m for m in by_incident[local.id] if m.event == "joined"}
    assert set(joined) == set(hosts)
    assert joined["m0"].at == T0  # its own start, carried through the fold
    folded = [m for i, ms in by_incident.items() if i != local.id for m in ms]
    assert any(m.event == "left" and m.why == f"folded into incident #{local.id}" for m in folded)


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(MOVES), st.integers(0, 5)),
        max_size=30,
    )
)
def test_stints_hold_together_whatever_the_history(raw: list[tuple[str, str, int]]) -> None:
    """Any history (in time order): one stint per effective join, each ending at or after
    its start, its paused spans inside it, and its time down never more than its span."""
    at = T0
    moves = []
    for name, event, gap in raw:
        at += gap
        moves.append(Move(name, at, event))
    got = stints(moves)
    for name, spans in got.items():
        assert all(s.monitor == name for s in spans)
        for s in spans:
            end = at if s.end is None else s.end
            assert s.start <= end
            assert 0 <= s.down_s(at) <= end - s.start
            for start, stop in s.paused:
                assert s.start <= start <= (end if stop is None else stop) <= end
        # Only the last stint may be open.
        assert all(s.end is not None for s in spans[:-1])


# -- the store: appended in the incident's own transaction, read back in order ------------


def opened(store: Store, opener: str) -> Incident:
    """An incident opened in ``store`` by ``opener`` at T0 (its join is written with it)."""
    incident = Incident(
        store.new_incident_id(),
        "host:127.0.0.1:1:connect.refused",
        None,
        "refused",
        "start it",
        T0,
        monitors=(opener,),
        members={opener: Member(T0, alerted=True, opener=True)},
    )
    store.commit_incident(incident, [], T0, opened=True)
    return incident


def test_the_store_keeps_the_history_and_a_resolved_incident_keeps_everyone(target: str) -> None:
    """Moves written with an incident's changes read back in order, for all or some of
    its monitors; resolving it names everyone that was in it, not only the last."""
    with open_target(target) as store:
        incident = opened(store, "a")
        joined = Incident(
            **{
                **{f: getattr(incident, f) for f in incident.__slots__},
                "members": {**incident.members, "b": Member(T0 + 5)},
            }
        )
        store.commit_incident(
            joined,
            [],
            T0 + 5,
            entry=TimelineEntry(T0 + 5, "monitor down", "b"),
            touched=("b",),
            moves=[Move("b", T0 + 5, "joined", "down")],
        )
        store.commit_incident(
            incident,
            [],
            T0 + 9,
            entry=TimelineEntry(T0 + 9, "monitor up", "b"),
            touched=("b",),
            moves=[Move("b", T0 + 9, "left", "up")],
        )
        done = Incident(
            **{
                **{f: getattr(incident, f) for f in incident.__slots__},
                "members": {},
                "monitors": ("a",),
                "resolved": T0 + 20,
            }
        )
        store.commit_incident(
            done,
            [],
            T0 + 20,
            entry=TimelineEntry(T0 + 20, "resolved", "a"),
            moves=[Move("a", T0 + 20, "left", "up")],
        )
        store.flush()
        history = store.membership([incident.id, incident.id + 999])
        only_b = store.membership([incident.id], ["b"])
        got = store.incident(incident.id)
    assert history == {
        incident.id: (
            Move("a", T0, "joined", "down"),
            Move("b", T0 + 5, "joined", "down"),
            Move("b", T0 + 9, "left", "up"),
            Move("a", T0 + 20, "left", "up"),
        )
    }
    assert only_b == {incident.id: history[incident.id][1:3]}
    assert got is not None
    assert got.monitors == ("a", "b")


def test_a_list_reads_the_first_monitors_to_join_whole(target: str) -> None:
    """``first``: the moves of the first monitors to join each incident, every move of
    theirs (a leave written after later joins too), none of the others'."""
    with open_target(target) as store:
        incident = opened(store, "m0")
        moves = [Move(f"m{i}", T0 + i, "joined", "down") for i in range(1, 5)]
        moves += [Move("m1", T0 + 9, "left", "up"), Move("m3", T0 + 9, "left", "up")]
        store.commit_incident(
            incident, [], T0 + 9, entry=TimelineEntry(T0 + 9, "note", "x"), touched=(), moves=moves
        )
        store.flush()
        got = store.membership([incident.id], first=2)
    assert got == {
        incident.id: (
            Move("m0", T0, "joined", "down"),
            Move("m1", T0 + 1, "joined", "down"),
            Move("m1", T0 + 9, "left", "up"),
        )
    }


# -- the runner, the pages and the CLI ------------------------------------------------------


def _config(lab: Lab) -> str:
    refused = lab["refused"].url
    return (
        "alerts:\n  - {name: ops, type: webhook, url: http://127.0.0.1:9/}\n"
        "monitors:\n"
        f"  - {{name: old-api, url: '{refused}old', alerts: [ops], interval: 10s,"
        " failure_threshold: 1, success_threshold: 1}\n"
        f"  - {{name: www, url: '{refused}www', alerts: [ops], interval: 10s,"
        " failure_threshold: 1, success_threshold: 1}\n"
        "status_pages:\n"
        "  - slug: public\n"
        "    title: Shop\n"
        "    groups:\n"
        "      - name: Shop\n"
        "        monitors:\n"
        "          - {monitor: www, name: Website}\n"
        "          - {monitor: old-api, name: Old API}\n"
    )


def test_a_monitor_back_up_keeps_its_outage_on_every_page(tmp_path: Path, lab: Lab) -> None:
    """The user's story: old-api goes down, www joins its incident and comes back a
    minute later while old-api stays down.  The status page lists the incident for
    Website with Website's own time (not old-api's), the incident's document has both
    monitors with their times, www's page lists the incident it left; once old-api is
    back, the resolved incident names both, in ``tether incidents`` too."""
    healthy = lab["healthy"].url
    up = {"www"}  # www starts healthy; old-api goes down first

    def route(target: str, options: ProbeOptions) -> str:
        return healthy if any(target.endswith(name) for name in up) else target

    config = parse_config(_config(lab))
    h = Harness(tmp_path, config, probe=route)
    marks: dict[str, float] = {}
    seen: dict[str, Any] = {}

    def at(name: str, then: Any = None) -> Any:
        def act() -> None:
            marks[name] = h.sim.wall()
            if then is not None:
                then()

        return act

    def look() -> None:
        """What the pages say with www back and old-api still down."""
        marks["www-up"] = h.sim.wall()
        h.store.flush()
        seen["open"] = [tuple(i.monitors) for i in h.runner.engine.open_incidents()]
        seen["page"] = build_page(Sight.of(h.runner), config.status_pages[0])
        snap = Snapshot.of(h.runner, ["www"])
        seen["incident"] = build_incident(snap, h.runner.engine.open_incidents()[0].id)
        seen["www"] = build_monitor(snap, "www")
        seen["list"] = build_incidents(snap, open_only=True, limit=10)
        up.add("old")

    h.drive(
        (lambda: h.state("old-api") is State.DOWN and h.state("www") is State.UP, up.clear),
        (lambda: h.state("www") is State.DOWN, at("www-down")),
        (lambda: h.sim.wall() >= marks["www-down"] + 60, lambda: up.add("www")),
        (lambda: h.state("www") is State.UP, look),
        (lambda: h.state("old-api") is State.UP, list),
        limit=1800,
    )
    assert seen["open"] == [("old-api",)]
    (told,) = seen["page"]["incidents"]
    website = next(m for m in told["monitors"] if m["name"] == "Website")
    old_api = next(m for m in told["monitors"] if m["name"] == "Old API")
    assert website["text"].startswith("Website was unreachable for")
    assert old_api["text"].startswith("Old API is unreachable, for")
    # Website's own outage: from when it went down to when it came back (a check apart).
    assert abs(website["down_s"] - (marks["www-up"] - marks["www-down"])) <= 11
    assert website["down_s"] < old_api["down_s"]
    assert told["open"]  # old-api is still down

    doc = seen["incident"]
    assert doc is not None
    members = {m["monitor"]: m for m in doc["members"]}
    assert set(members) == {"old-api", "www"}
    assert members["www"]["why_left"] == "up"
    assert members["www"]["left"] is not None
    assert members["old-api"]["left"] is None
    (listed,) = seen["list"]["incidents"]  # the list tells www too, though it left
    assert [(m["monitor"], m["why_left"]) for m in listed["members"]] == [
        ("old-api", None),
        ("www", "up"),
    ]
    mine = seen["www"]
    assert mine is not None
    assert [i["id"] for i in mine["incidents"]] == [doc["id"]]
    assert [m["monitor"] for m in mine["incidents"][0]["members"]] == ["www"]
    html = monitor_page(mine).main
    assert 'data-member="www"' in html
    assert 'data-member="old-api"' not in html  # its page shows its own time alone

    assert h.runner.engine.open_incidents() == []
    report = incidents_report(h.store, h.sim.wall(), open_only=False, limit=10)
    (whole,) = report["incidents"]
    assert whole["monitors"] == ["old-api", "www"]
    text = incidents_text(report, open_only=False)
    assert "monitors: old-api, www" in text
    assert "  www: in from " in text
    assert "(up)" in text
    page = build_page(Sight.of(h.runner), config.status_pages[0])
    (told,) = page["incidents"]
    assert not told["open"]
    assert {m["name"] for m in told["monitors"]} == {"Website", "Old API"}
    h.close()
