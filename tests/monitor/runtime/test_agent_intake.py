"""The agents' intake (runtime/agents/_intake.py) on an injected wall clock, through a real
SQLite store and a real outbox: batches taken once, placed on the server's time, detected
per (monitor, agent location), late ones stored and never alerted, liveness by lease."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.agent_world import T0, World, agent_config, batch, check
from tether.monitor._state import State

API = (
    "  - {name: api, url: 'http://127.0.0.1:9/', interval: 60s, locations: [branch-1],"
    " alerts: [ops]}\n"
)


def down_run(world: World, start: float, n: int, ok: bool = False) -> None:
    """``n`` checks of ``api`` a minute apart from ``start`` (the agent's clock in step with
    the server's), each in its own batch sent as it is made."""
    for i in range(n):
        at = start + 60 * i
        world.clock.now = at
        world.send(batch("branch-1", at, check("api", at, ok)))


def test_a_down_target_seen_by_an_agent_opens_one_incident(tmp_path: Path) -> None:
    """Three failed checks from branch-1's agent make api down there, and so for the
    cluster (its only location): one incident, one alert; more failures alert nothing."""
    world = World(tmp_path, agent_config(API))
    try:
        down_run(world, T0, 6)
        assert world.runner.quorum.state("api") is State.DOWN
        assert world.events() == ["incident.opened"]
        assert len(world.store.incidents(open_only=True)) == 1
        down_run(world, T0 + 360, 3, ok=True)
        assert world.events() == ["incident.opened", "incident.resolved"]
    finally:
        world.close()


def test_the_same_batch_twice_is_stored_once(tmp_path: Path) -> None:
    """A batch sent again (its answer lost) is answered duplicate and stores nothing."""
    world = World(tmp_path, agent_config(API))
    try:
        b = batch("branch-1", T0, check("api", T0 - 2, True), check("api", T0 - 1, True))
        first, again = world.send(b), world.send(b)
        assert (first.taken, first.duplicate) == (2, False)
        assert (again.taken, again.duplicate) == (0, True)
        assert len(world.store.results("api", T0 - 100, T0 + 100)) == 2
        assert world.runner.agents.view().duplicates == 1
    finally:
        world.close()


def test_checks_are_placed_on_the_servers_time(tmp_path: Path) -> None:
    """An agent whose clock is 40 s behind: its checks are stored at ts + 40 s, the
    offset said in the receipt, and the row keeps it."""
    world = World(tmp_path, agent_config(API))
    try:
        world.clock.now = T0
        receipt = world.send(batch("branch-1", T0 - 40, check("api", T0 - 45, True)))
        assert receipt.offset == 40
        stored = world.store.results("api", T0 - 100, T0 + 100)
        assert [r.ts for r in stored] == [T0 - 5]
        (row,) = world.runner.agents.view().rows
        assert row.offset == 40
    finally:
        world.close()


def test_a_late_batch_after_a_restart_is_stored_and_alerts_nothing(tmp_path: Path) -> None:
    """Down and alerted, the server restarts (the store file reopened); the agent's spool
    then brings failures from before and during the restart, and its recovery from long
    ago: all stored, none detected on (older than late_after, or than the newest seen),
    nothing alerted again, and the state kept."""
    world = World(tmp_path, agent_config(API))
    down_run(world, T0, 4)
    assert world.events() == ["incident.opened"]
    world.close()
    again = World(tmp_path, agent_config(API))
    try:
        again.clock.now = T0 + 1000
        spooled = [check("api", T0 + 30 + 60 * i, i % 2 == 0) for i in range(10)]
        receipt = again.send(batch("branch-1", T0 + 1000, *spooled))
        assert receipt.taken == 10
        assert len(again.store.results("api", T0 - 1, T0 + 2000)) == 14
        assert again.events() == []
        assert again.runner.quorum.state("api") is State.DOWN
        (row,) = again.runner.agents.view().rows
        assert row.late == 10
    finally:
        again.close()


def test_liveness_turns_off_after_the_lease_and_back_on(tmp_path: Path) -> None:
    """An agent that stops reporting is a location that is not live after the lease (api
    then unknown, never down, nothing alerted), and live again at its next batch."""
    world = World(tmp_path, agent_config(API))
    try:
        down_run(world, T0, 2, ok=True)
        assert "branch-1" in world.runner.quorum.live
        world.clock.now = T0 + 60 + 59
        world.runner.agents.tick()
        assert "branch-1" in world.runner.quorum.live
        world.clock.now = T0 + 60 + 61
        world.runner.agents.tick()
        assert "branch-1" not in world.runner.quorum.live
        assert world.runner.quorum.state("api") is State.UNKNOWN
        world.deliver()
        assert world.events() == []
        down_run(world, T0 + 300, 1, ok=True)
        assert "branch-1" in world.runner.quorum.live
        assert world.runner.quorum.state("api") is State.UP
    finally:
        world.close()


def test_a_check_of_a_monitor_not_placed_there_is_skipped_and_counted(tmp_path: Path) -> None:
    """A check of a monitor not placed at the agent's location (or unknown) is not stored,
    and counted per location."""
    config = agent_config(API + "  - {name: local, url: 'http://127.0.0.1:9/', locations: [hq]}\n")
    world = World(tmp_path, config)
    try:
        world.clock.now = T0
        receipt = world.send(
            batch("branch-1", T0, check("local", T0, True), check("nope", T0, True))
        )
        assert receipt.taken == 0
        assert world.store.results("local", T0 - 100, T0 + 100) == []
        assert world.runner.agents.view().skipped == {"branch-1": 2}
    finally:
        world.close()


def test_a_failing_agent_location_in_a_quorum_of_three_is_a_partial_incident(
    tmp_path: Path,
) -> None:
    """api at hq and two agent locations, quorum majority: branch-2 failing while branch-1
    passes (hq has no result yet) is a partial incident, "unreachable from branch-2", and
    api is not down."""
    monitors = (
        "  - {name: api, url: 'http://127.0.0.1:9/', interval: 60s, alerts: [ops],"
        " locations: [hq, branch-1, branch-2], partial_alerts: true}\n"
    )
    config = agent_config(monitors, locations="[hq, branch-1, branch-2]")
    world = World(tmp_path, config)
    try:
        for i in range(5):
            at = T0 + 60 * i
            world.clock.now = at
            world.send(batch("branch-1", at, check("api", at, True)))
            world.send(batch("branch-2", at, check("api", at, False)))
        assert world.runner.quorum.state("api") is not State.DOWN
        facts = world.runner.quorum.locations("api")
        assert facts["branch-2"].state is State.DOWN
        assert facts["branch-1"].state is State.UP
        (incident,) = world.store.incidents(open_only=True)
        assert "unreachable from branch-2" in incident.detail
        assert world.events() == ["incident.partial"]
    finally:
        world.close()
