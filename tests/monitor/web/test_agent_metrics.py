"""What the server says of its agents beyond the receipt, through the real HTTP server:
``tether_agent_*`` in ``/metrics`` (parsed by prometheus_client's own parser), the
dashboard's banner and the log line for a clock far off, once per crossing."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.agent_world import TOKENS, agent_config, batch, check
from tests.helpers.web_harness import ServedRunner
from tether.monitor._agent_wire import AgentCheck
from tether.monitor.store import SQLiteStore

AGENT = {"Authorization": f"Bearer {TOKENS['branch-1']}"}
API = "  - {name: api, url: 'http://127.0.0.1:9/', locations: [branch-1]}\n"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedRunner]:
    s = ServedRunner(agent_config(API), SQLiteStore(tmp_path / "t.db"), location="hq")
    yield s
    s.close()


def post(served: ServedRunner, behind: float, *checks: AgentCheck) -> dict[str, object]:
    """A batch from branch-1's agent whose clock is ``behind`` seconds behind the server's."""
    b = batch("branch-1", served.now - behind, *checks)
    answer = served.request("POST", "/api/agent/results", headers=AGENT, body=b.to_json())
    assert answer.status == 200
    doc: dict[str, object] = answer.json()
    return doc


def samples(served: ServedRunner) -> dict[tuple[str, str], float]:
    """Each ``tether_agent_*`` sample, by (name, location)."""
    status, _, text = served.get_text("/metrics")
    assert status == 200
    return {
        (s.name, s.labels.get("location", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("tether_agent_")
    }


def test_the_agent_series_are_valid_exposition_and_say_what_was_taken(
    served: ServedRunner,
) -> None:
    """Up, last report, offset, results, late, dropped, skipped and duplicates, per
    location; prometheus_client's parser reads the whole scrape."""
    now = served.now
    b = batch("branch-1", now, check("api", now - 1, True), check("api", now - 500, False))
    b = type(b)(b.id, b.location, b.sent_at, b.checks, dropped=4, agent="a1", version="t")
    for _ in range(2):
        served.request("POST", "/api/agent/results", headers=AGENT, body=b.to_json())
    got = samples(served)
    assert got[("tether_agent_up", "branch-1")] == 1
    assert got[("tether_agent_last_report_timestamp_seconds", "branch-1")] == now
    assert got[("tether_agent_clock_offset_seconds", "branch-1")] == 0
    assert got[("tether_agent_results_total", "branch-1")] == 2
    assert got[("tether_agent_late_results_total", "branch-1")] == 1
    assert got[("tether_agent_dropped_total", "branch-1")] == 4
    assert got[("tether_agent_duplicate_batches_total", "")] == 1


def test_a_clock_far_off_is_a_banner_a_metric_and_one_log_line(
    served: ServedRunner, caplog: pytest.LogCaptureFixture
) -> None:
    """An agent 30 s behind (bound 5 s): the offset in /metrics and /api/agents, a
    banner on the dashboard, one warning for two batches; back within the bound, the
    banner goes."""
    caplog.set_level(logging.INFO, "tether.monitor")
    post(served, 30)
    post(served, 31)
    assert samples(served)[("tether_agent_clock_offset_seconds", "branch-1")] == 31
    listed = json.loads(served.get("/api/agents")[2])["agents"][0]
    assert listed["clock_warning"] is True
    _, _, page = served.get_text("/")
    assert "The clock of the agent at branch-1" in page
    said = [r for r in caplog.records if getattr(r, "event", "") == "agent.clock"]
    assert len(said) == 1
    post(served, 0.5)
    _, _, page = served.get_text("/")
    assert "The clock of the agent at branch-1" not in page
