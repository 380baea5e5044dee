"""An agent reporting to one instance of a cluster: every instance, the leader included,
counts its location live (the renewal rounds read the store's agents), and what it sees
reaches the leader's quorum.  Real instances (tests/helpers/cluster_harness.py: real
Runners, a real PostgreSQL, the served app on loopback) on a clock the test sets."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from tests.helpers.agent_world import TOKENS, batch, check
from tests.helpers.cluster_harness import Instances
from tether.monitor._agent_wire import Batch
from tether.monitor.config import parse_config
from tether.monitor.config._passwords import hash_token

LOCATIONS = ("east", "west")


@pytest.fixture
def cluster(postgres_dsn: str) -> Iterator[Instances]:
    config = parse_config(
        f"""
locations: [east, west, branch-1]
tokens:
  - {{name: b1, hash: "{hash_token(TOKENS["branch-1"])}", scope: agent, location: branch-1}}
monitors:
  - {{name: api, url: "http://127.0.0.1:9/", failure_threshold: 1, interval: 1h}}
"""
    )
    instances = Instances(postgres_dsn, config, LOCATIONS)
    try:
        yield instances
    finally:
        instances.close()


def send(base: str, sent: Batch) -> dict[str, object]:
    request = urllib.request.Request(
        f"{base}/api/agent/results",
        data=json.dumps(sent.to_json()).encode(),
        headers={
            "Authorization": f"Bearer {TOKENS['branch-1']}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=20) as r:
        answer: dict[str, object] = json.loads(r.read())
    return answer


def test_an_agent_reporting_to_one_instance_is_live_on_every_one(cluster: Instances) -> None:
    """branch-1's agent posts to west only: after a round, east (the leader) and west
    both count branch-1 live, and its failure is a partial incident on the leader, api
    "unreachable from branch-1"; once the agent is silent past the lease, no instance
    counts it."""
    cluster.rounds()
    assert cluster["east"].leading
    west = cluster.serve("west")
    now = cluster.now
    receipt = send(west, batch("branch-1", now, check("api", now - 10, False)))
    assert receipt["taken"] == 1
    cluster["west"].store.flush()
    cluster.rounds(1)
    for location in LOCATIONS:
        assert "branch-1" in cluster[location].quorum.live, location
    cluster.settle()
    (incident,) = cluster["east"].store.incidents(open_only=True)
    assert "unreachable from branch-1" in incident.detail
    cluster.now += 61
    cluster.rounds(1)
    for location in LOCATIONS:
        assert "branch-1" not in cluster[location].quorum.live, location
