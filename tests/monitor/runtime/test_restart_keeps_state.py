"""A restart (a new runner on the same store, as `tether monitor` started again) keeps what
the runner knew: an outage of one location of two is not closed while it lasts, each
location keeps the cause it saw, and after a crash (no checkpoint: the state saved at
its last change) an ``alert_when`` window or a count of failures in a row goes on from
the checks the store holds.

The runner is at ``hq`` on an injected wall clock with a real SQLite store and outbox
(tests/helpers/agent_world.py); its own checks are handed to its intake as its prober
hands them, an agent's batches as the web hands them.  The lifecycle matrix runs the
same on real processes (tests/monitor/lifecycle/test_lifecycle_matrix.py).
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.agent_world import T0, World, agent_config, batch, check
from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor._state import State
from tether.monitor.checks._prober import Check
from tether.monitor.config import MonitorConfig

WIN = (
    "  - {name: win, url: 'http://127.0.0.1:9/', interval: 1s, timeout: 500ms,"
    " failure_threshold: 1, partial_alerts: true, alerts: [ops]}\n"
)


def hq_check(world: World, name: str, at: float, ok: bool, kind: Kind | None = None) -> None:
    """The runner at hq checks ``name`` at ``at`` (``kind``: why it failed)."""
    world.clock.now = at
    failed = None if ok else (kind or Kind.CONNECT_REFUSED)
    record = ProbeRecord(name, at, ok, failed, 2.0, None if ok else "it failed")
    world.runner.take_check(Check(record, "127.0.0.1:9"))
    world.deliver()


def both(world: World, at: float, hq_ok: bool, branch_ok: bool, kind: Kind | None = None) -> None:
    """A check of ``win`` at hq and one from branch-1's agent, at ``at``."""
    hq_check(world, "win", at, hq_ok, kind)
    branch = None if branch_ok else Kind.HTTP_SERVER_ERROR
    world.send(
        batch("branch-1", at, check("win", at, branch_ok, **({"kind": branch} if branch else {})))
    )


def restart(tmp_path: Path, world: World, config: MonitorConfig, after: float) -> World:
    """The store closed (its queue written; no checkpoint: as after a kill once the writer
    caught up) and a new runner on it, ``after`` seconds later, paging to the same list."""
    world.store.flush()
    world.close()
    clock = world.clock
    clock.now += after
    again = World(tmp_path, config, clock)
    again.ops = world.ops
    again.runner.outbox.channels = {"ops": world.ops}
    return again


def open_incidents(world: World) -> list[tuple[int, str, str | None]]:
    return [
        (i.id, i.key, None if i.kind is None else i.kind.value)
        for i in world.store.incidents(open_only=True)
    ]


def test_a_restart_keeps_a_partial_incident_while_its_location_still_fails(
    tmp_path: Path,
) -> None:
    """hq fails, branch-1 answers: a partial incident, paged once.  Restarted 20 s later
    with hq still failing: the same incident stays open with its cause, hq's location
    keeps its kind, and nothing is paged; once hq answers, one resolution."""
    config = agent_config(WIN)
    world = World(tmp_path, config)
    for i in range(3):
        both(world, T0 + i, True, True)
    for i in range(3, 6):
        both(world, T0 + i, False, True)
    (before,) = open_incidents(world)
    assert before[1:] == ("partial:win", "connect.refused")
    world = restart(tmp_path, world, config, 20)
    assert world.runner.quorum.locations("win")["hq"].kind is Kind.CONNECT_REFUSED
    for i in range(26, 30):
        both(world, T0 + i, False, True)
    assert open_incidents(world) == [before]
    assert world.events() == ["incident.partial"]
    for i in range(30, 33):
        both(world, T0 + i, True, True)
    assert open_incidents(world) == []
    assert world.events() == ["incident.partial", "incident.partial_resolved"]
    world.close()


def test_a_restart_keeps_an_agents_partial_incident_and_each_locations_cause(
    tmp_path: Path,
) -> None:
    """branch-1 (the agent) sees 503s, hq answers: a partial incident.  After a restart
    the agent's location still fails: the same incident, its 503 cause, no page again."""
    config = agent_config(WIN)
    world = World(tmp_path, config)
    for i in range(3):
        both(world, T0 + i, True, True)
    for i in range(3, 6):
        both(world, T0 + i, True, False)
    (before,) = open_incidents(world)
    assert before[2] == "http.server_error"
    world = restart(tmp_path, world, config, 20)
    branch = world.runner.quorum.locations("win")["branch-1"]
    assert (branch.state, branch.kind) == (State.DOWN, Kind.HTTP_SERVER_ERROR)
    for i in range(26, 30):
        both(world, T0 + i, True, False)
    assert open_incidents(world) == [before]
    assert world.events() == ["incident.partial"]
    world.close()


def test_a_location_down_through_a_restart_keeps_its_cause(tmp_path: Path) -> None:
    """Down from both locations (refused at hq, 503 at branch-1): after a restart each
    location keeps its own cause, from the first moment, and the incident its own."""
    config = agent_config(WIN)
    world = World(tmp_path, config)
    for i in range(3):
        both(world, T0 + i, True, True)
    for i in range(3, 6):
        both(world, T0 + i, False, False)
    (before,) = open_incidents(world)
    paged = world.events()
    assert "incident.opened" in paged
    world = restart(tmp_path, world, config, 20)
    seen = world.runner.quorum.locations("win")
    assert {loc: (f.state, f.kind) for loc, f in seen.items()} == {
        "hq": (State.DOWN, Kind.CONNECT_REFUSED),
        "branch-1": (State.DOWN, Kind.HTTP_SERVER_ERROR),
    }
    for i in range(26, 30):
        both(world, T0 + i, False, False)
    assert open_incidents(world) == [before]
    assert world.events() == paged
    world.close()


ALERT_WHEN = (
    "  - {name: api, url: 'http://127.0.0.1:9/', interval: 1s, timeout: 500ms,"
    " alert_when: {failures: 5, within: 60s}, alerts: [ops]}\n"
)
IN_A_ROW = (
    "  - {name: api, url: 'http://127.0.0.1:9/', interval: 1s, timeout: 500ms,"
    " failure_threshold: 4, alerts: [ops]}\n"
)


def test_a_crash_keeps_a_filling_alert_when_window(tmp_path: Path) -> None:
    """Three failures of five within a minute, then a crash (the state was saved when the
    monitor came up): at the start the window holds the three from the store, and the
    fifth failure pages, not the eighth."""
    config = agent_config(ALERT_WHEN, locations="[hq]")
    world = World(tmp_path, config)
    hq_check(world, "api", T0, True)
    for i in range(1, 4):
        hq_check(world, "api", T0 + i, False)
    world = restart(tmp_path, world, config, 3)
    hq_check(world, "api", world.clock.now, False)
    assert world.events() == []
    hq_check(world, "api", world.clock.now + 1, False)
    assert world.events() == ["incident.opened"]
    world.close()


def test_a_crash_keeps_a_count_of_failures_in_a_row(tmp_path: Path) -> None:
    """Three failures of four in a row, a crash, one more failure: down, and paged."""
    config = agent_config(IN_A_ROW, locations="[hq]")
    world = World(tmp_path, config)
    hq_check(world, "api", T0, True)
    for i in range(1, 4):
        hq_check(world, "api", T0 + i, False)
    world = restart(tmp_path, world, config, 3)
    hq_check(world, "api", world.clock.now, False)
    assert world.runner.detector.state("api") is State.DOWN
    assert world.events() == ["incident.opened"]
    world.close()
