"""What an agent does not run, as the server takes it (issue 44, section 3): kept on the
agent's row and shown (``/api/agents``, ``tether_agent_monitors_not_run``, the dashboard's
banner), alerted to the monitor's channels once per episode (``agent.skipped``) and
resolved when the agent runs it again or it is no longer placed there
(``agent.running``); a list about an older assignment changes nothing; an older agent,
which says nothing, is shown as not saying and alerts nothing.  Through the real intake,
store and outbox (tests/helpers/agent_world.py)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import generate_latest

from tests.helpers.agent_world import T0, World, agent_config, batch
from tether.monitor._agent_wire import Batch, NotRun, new_batch_id
from tether.monitor._records import AlertPayload
from tether.monitor.alerts import alert_labels
from tether.monitor.alerts._alertmanager import resolves
from tether.monitor.alerts._message import subject
from tether.monitor.metrics._agent_metrics import agent_banner, agent_document

MONITORS = (
    "  - {name: api, url: 'http://127.0.0.1:9/', locations: [hq, branch-1], alerts: [ops],"
    " labels: {team: payments}}\n"
    "  - {name: web, url: 'http://127.0.0.1:9/', locations: [hq, branch-1], alerts: [ops]}\n"
)
WHY = "a grpc:// check needs tether[grpc] (missing: hpack, hyperframe): pip install 'tether[grpc]'"


def _saying(world: World, at: float, *names: str, version: str | None = None) -> Batch:
    """A batch from branch-1's agent saying it does not run ``names`` (since T0 on its
    clock) of the assignment it holds (by default the server's current one)."""
    held = version or world.runner.agents.assignment("branch-1").version
    said = tuple(NotRun(n, WHY, T0 - 100) for n in names)
    return Batch(new_batch_id(), "branch-1", at, (), assignment=held, cannot_run=said)


def test_a_monitor_not_run_is_shown_and_alerted_once_then_resolved(tmp_path: Path) -> None:
    """api said not run: the row, /api/agents, the metric and the banner say so, and one
    agent.skipped alert goes to api's channel with its labels and the location; the same
    said again (and a batch saying nothing) alerts nothing; said run again, one
    agent.running alert."""
    world = World(tmp_path, agent_config(MONITORS))
    try:
        world.clock.now = T0
        world.send(_saying(world, T0, "api"))
        world.send(_saying(world, T0 + 5, "api"))
        world.send(batch("branch-1", T0 + 10))
        assert world.events() == ["agent.skipped"]
        (alert,) = world.ops.got
        assert alert["monitor"] == "api"
        assert alert["labels"] == {"team": "payments", "location": "branch-1"}
        assert alert["text"] == f"api is not checked from branch-1: its agent cannot run it: {WHY}"
        view = world.runner.agents.view()
        (row,) = agent_document(view)["agents"]
        assert row["cannot_run"] == [
            {"monitor": "api", "why": WHY, "since": "2027-01-15T07:58:20Z"}
        ]
        scraped = generate_latest(world.runner.metrics.registry).decode()
        assert 'tether_agent_monitors_not_run{location="branch-1"} 1.0' in scraped
        banner = str(agent_banner(view))
        assert "The agent at branch-1 (a1) does not run 1 monitor assigned to it: api (" in banner
        world.send(_saying(world, T0 + 15))
        assert world.events() == ["agent.skipped", "agent.running"]
        assert (
            world.ops.got[1]["text"]
            == "api is checked from branch-1 again: its agent runs it again"
        )
        (row,) = agent_document(world.runner.agents.view())["agents"]
        assert row["cannot_run"] == []
    finally:
        world.close()


def test_a_list_about_an_older_assignment_changes_nothing(tmp_path: Path) -> None:
    """A batch saying what is not run of an assignment the server no longer holds (the
    agent has not fetched the new one yet) is not taken: nothing shown, nothing alerted."""
    world = World(tmp_path, agent_config(MONITORS))
    try:
        world.clock.now = T0
        world.send(_saying(world, T0, "api", version="an-older-one"))
        assert world.events() == []
        (row,) = world.runner.agents.view().rows
        assert row.cannot_run is None
    finally:
        world.close()


def test_an_older_agent_says_nothing_and_nothing_alerts(tmp_path: Path) -> None:
    """An agent of a tether before this one sends no cannot_run: its row says it never
    said (null in /api/agents, no metric sample), and nothing alerts."""
    world = World(tmp_path, agent_config(MONITORS))
    try:
        world.clock.now = T0
        world.send(batch("branch-1", T0))
        (row,) = agent_document(world.runner.agents.view())["agents"]
        assert row["cannot_run"] is None
        scraped = generate_latest(world.runner.metrics.registry).decode()
        assert "tether_agent_monitors_not_run{" not in scraped
        assert world.events() == []
    finally:
        world.close()


def test_a_monitor_no_longer_placed_there_ends_its_episode(tmp_path: Path) -> None:
    """A reload that takes api away from branch-1 resolves its episode (agent.running,
    "no longer placed there") and drops it from the row."""
    world = World(tmp_path, agent_config(MONITORS))
    try:
        world.clock.now = T0
        world.send(_saying(world, T0, "api", "web"))
        assert world.events() == ["agent.skipped", "agent.skipped"]
        moved = (
            "  - {name: api, url: 'http://127.0.0.1:9/', locations: [hq], alerts: [ops]}\n"
            "  - {name: web, url: 'http://127.0.0.1:9/', locations: [hq, branch-1],"
            " alerts: [ops]}\n"
        )
        world.runner.reload(agent_config(moved))
        world.deliver()
        assert world.events()[2:] == ["agent.running"]
        assert "api is no longer placed there (branch-1)" in world.ops.got[2]["text"]
        (row,) = world.runner.agents.view().rows
        assert [n.monitor for n in row.cannot_run or ()] == ["web"]
    finally:
        world.close()


def test_a_restart_keeps_the_episode_and_alerts_it_no_more(tmp_path: Path) -> None:
    """The server restarts (its store reopened) while the agent still does not run api:
    the row is read back, and the same list said again alerts nothing new."""
    world = World(tmp_path, agent_config(MONITORS))
    world.clock.now = T0
    world.send(_saying(world, T0, "api"))
    assert world.events() == ["agent.skipped"]
    world.close()
    world = World(tmp_path, agent_config(MONITORS))
    try:
        world.clock.now = T0 + 60
        (row,) = world.runner.agents.view().rows
        assert [n.monitor for n in row.cannot_run or ()] == ["api"]
        world.send(_saying(world, T0 + 60, "api"))
        assert world.events() == []
    finally:
        world.close()


def test_the_alerts_read_as_one_alertmanager_alert_and_name_the_location(
    tmp_path: Path,
) -> None:
    """agent.skipped and its agent.running carry one Alertmanager label set
    (TetherAgentNotRunning, the monitor and the location), the second resolving it; an
    e-mail's subject names the monitor, the location and why."""
    world = World(tmp_path, agent_config(MONITORS))
    try:
        world.clock.now = T0
        world.send(_saying(world, T0, "api"))
        world.send(_saying(world, T0 + 5))
        skipped, running = (AlertPayload.from_json(p) for p in world.ops.got)
    finally:
        world.close()
    labels = alert_labels(skipped)
    assert labels == alert_labels(running)
    assert labels == {
        "alertname": "TetherAgentNotRunning",
        "location": "branch-1",
        "monitor": "api",
        "severity": "warning",
        "team": "payments",
    }
    assert not resolves(skipped)
    assert resolves(running)
    assert subject(skipped) == f"[tether] NOT CHECKED api from branch-1: {WHY}"
    assert subject(running) == "[tether] CHECKED AGAIN api from branch-1"
