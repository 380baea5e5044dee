"""Times and counts from an agent bounded where they are used (issue 45, section 2): a
batch whose check would be placed outside the window its ``sent_at`` allows (a day ahead,
the raw retention behind) is refused whole with one line naming the check, through the
intake and through the real route; a check dated after its batch arrived is placed at
the arrival; the counts an agent says are bounded per batch and held at COUNT_MAX."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.agent_world import T0, TOKENS, World, agent_config, batch, check
from tests.helpers.web_harness import ServedRunner
from tether.monitor._agent_wire import AgentWireError, Batch, new_batch_id
from tether.monitor.store import SQLiteStore
from tether.monitor.store._agents import COUNT_MAX

API = "  - {name: api, url: 'http://127.0.0.1:9/', interval: 60s, locations: [hq, branch-1]}\n"
AGENT = {"Authorization": f"Bearer {TOKENS['branch-1']}"}


@pytest.mark.parametrize(
    ("sent_at", "ts", "says"),
    [
        (0.0, 253_402_300_000.0, "253402300000 s after its batch's sent_at, more than a day"),
        (T0 + 2.5e11, T0, "s before its batch's sent_at, more than the server keeps (604800 s"),
        (T0, T0 - 8 * 86400, "691200 s before its batch's sent_at, more than the server keeps"),
    ],
)
def test_a_check_placed_outside_the_window_refuses_its_batch(
    tmp_path: Path, sent_at: float, ts: float, says: str
) -> None:
    """The reproductions: sent_at 0 with ts 253402300000 (placed in the year 10056), a
    placed time of -2.5e11, and a check older than storage.raw_retention (7 days): the
    batch is refused naming results[1].ts, and nothing of it is stored or counted."""
    world = World(tmp_path, agent_config(API))
    try:
        world.clock.now = T0
        hostile = batch("branch-1", sent_at, check("api", sent_at, True), check("api", ts, False))
        with pytest.raises(AgentWireError) as raised:
            world.send(hostile)
        assert str(raised.value).startswith("results[1].ts: ")
        assert says in str(raised.value)
        assert world.store.results("api", -1e12, limit=10) == []
        assert world.runner.agents.view().rows == ()
    finally:
        world.close()


def test_a_check_dated_after_its_batch_arrived_is_placed_at_the_arrival(tmp_path: Path) -> None:
    """An agent whose clock went back an hour after it made a check: the check (an hour
    after sent_at, within the day allowed) is stored at the batch's arrival, never in
    the server's future, where it would be the newest check for good."""
    world = World(tmp_path, agent_config(API))
    try:
        world.clock.now = T0
        world.send(batch("branch-1", T0 - 10, check("api", T0 + 3590, True)))
        assert [r.ts for r in world.store.results("api", 0, limit=10)] == [T0]
    finally:
        world.close()


def test_the_counts_an_agent_says_are_held_at_count_max(tmp_path: Path) -> None:
    """dropped above 10^9 in one batch is refused (on main 10^12 was taken), and the
    totals stop at COUNT_MAX: a whole number every page, column and metric holds."""
    data = batch("branch-1", T0).to_json()
    with pytest.raises(AgentWireError, match=r"dropped: not a count from 0 to 1,000,000,000"):
        Batch.from_json({**data, "dropped": 10**12})
    world = World(tmp_path, agent_config(API))
    world.clock.now = T0
    for n in range(3):
        world.send(Batch(new_batch_id(), "branch-1", T0 + n, (), dropped=10**9))
    (row,) = world.runner.agents.view().rows
    assert row.dropped == 3 * 10**9
    world.store.save_agent(replace(row, dropped=COUNT_MAX - 5))  # a total near the end
    world.close()
    world = World(tmp_path, agent_config(API))  # the row read back at start
    try:
        world.clock.now = T0 + 10
        world.send(Batch(new_batch_id(), "branch-1", T0 + 9, (), dropped=10**9))
        (row,) = world.runner.agents.view().rows
        assert row.dropped == COUNT_MAX
    finally:
        world.close()


def test_the_route_answers_a_check_out_of_the_window_with_a_400(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Through the real HTTP route: the issue's batch (sent_at 0, ts 253402300000) is a
    400 naming results[0].ts (on main: 200, taken 1, and every page a 500 after); the
    pages answer; the refusal is said once in the log however often it is sent."""
    served = ServedRunner(agent_config(API), SQLiteStore(tmp_path / "t.db"), location="hq")
    try:
        served.now = T0
        body: dict[str, Any] = {
            "protocol": 1,
            "id": "0123456789abcdef0123",
            "location": "branch-1",
            "sent_at": 0,
            "results": [{"monitor": "api", "ts": 253402300000, "ok": False}],
        }
        with caplog.at_level(logging.WARNING, "tether.monitor"):
            for _ in range(2):
                answer = served.request("POST", "/api/agent/results", headers=AGENT, body=body)
                assert answer.status == 400
                assert answer.json()["error"].startswith("results[0].ts: 253402300000 s after")
        refused = [r for r in caplog.records if "its batch was refused" in r.getMessage()]
        assert len(refused) == 1
        assert "agent at branch-1" in refused[0].getMessage()
        for page in ("/", "/monitors/api", "/api/status", "/api/monitors/api"):
            assert served.request("GET", page).status == 200
    finally:
        served.close()
