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
from tether.monitor._agent_wire import Batch, NotRun, new_batch_id
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


def test_what_an_agent_cannot_run_is_alerted_once_whichever_instance_takes_it(
    postgres_dsn: str,
) -> None:
    """branch-1's agent says api is not run to west, then (its every-lease reminder) to
    east, which never heard it: one agent.skipped in the shared outbox.  It says it runs
    api again to east, then to west, whose memory still holds the episode: one
    agent.running.  The dedup keys are made of the agent's since, the same everywhere."""
    config = parse_config(
        f"""
locations: [east, west, branch-1]
tokens:
  - {{name: b1, hash: "{hash_token(TOKENS["branch-1"])}", scope: agent, location: branch-1}}
alerts:
  - {{name: ops, type: webhook, url: "http://127.0.0.1:9/hook"}}
monitors:
  - {{name: api, url: "http://127.0.0.1:9/", interval: 1h, alerts: [ops]}}
"""
    )
    cluster = Instances(postgres_dsn, config, LOCATIONS, alerts=True)
    try:
        cluster.rounds()
        east, west = cluster.serve("east"), cluster.serve("west")
        version = cluster["east"].agents.assignment("branch-1").version
        assert cluster["west"].agents.assignment("branch-1").version == version
        not_run = (NotRun("api", "a grpc:// check needs tether[grpc]", cluster.now - 100),)

        def say(base: str, said: tuple[NotRun, ...]) -> None:
            sent = Batch(
                new_batch_id(), "branch-1", cluster.now, assignment=version, cannot_run=said
            )
            send(base, sent)
            cluster.now += 1

        say(west, not_run)
        say(east, not_run)
        say(east, ())
        say(west, ())
        cluster.settle()
        events = [p.event for p, _ in cluster["east"].store.channel_alerts("ops", 0.0)]
        assert events == ["agent.skipped", "agent.running"]
    finally:
        cluster.close()
