"""`partial_alerts` through the whole runner: a monitor cut off from one location of three
opens a partial incident, which queues an `incident.partial` alert only for the monitor
that asks for it.  Real instances of a cluster (tests/cluster_harness.py: real Runners,
a real PostgreSQL, real probes against the lab) on a clock the test sets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cluster_harness import Instances
from tether.lab import Lab
from tether.monitor.config import parse_config

LOCATIONS = ("east", "west", "local")


@pytest.fixture
def cluster(postgres_dsn: str, lab: Lab) -> Iterator[Instances]:
    healthy = lab["healthy"].url
    config = parse_config(
        f"""
locations: [{", ".join(LOCATIONS)}]
alerts: [{{name: ops, type: webhook, url: "http://127.0.0.1:9/"}}]
defaults: {{interval: 30s, timeout: 2s, failure_threshold: 1, alerts: [ops]}}
monitors:
  - {{name: paged, url: "{healthy}?paged", partial_alerts: true}}
  - {{name: quiet, url: "{healthy}?quiet"}}
"""
    )
    cut = lab["refused"].url

    def route(location: str, url: str) -> str:
        return cut if location == "east" else url

    instances = Instances(postgres_dsn, config, LOCATIONS, route)
    try:
        yield instances
    finally:
        instances.close()


def test_a_partial_incident_pages_only_the_monitor_with_partial_alerts(
    cluster: Instances,
) -> None:
    """East fails both monitors, west and local see them up: each monitor gets a partial
    incident, nothing is down, and only `paged` (partial_alerts: true) queues an alert."""
    cluster.rounds()
    for location in LOCATIONS:
        cluster.check(location, "paged", "quiet")
    cluster.settle()
    leader = next(r for r in cluster.runners.values() if r.leading)
    store = leader.store
    incidents = store.incidents(open_only=True)
    assert sorted(i.key for i in incidents) == ["partial:paged", "partial:quiet"]
    assert all(i.is_partial for i in incidents)
    assert leader.quorum.state("paged").value == "up"
    queued = [(a.payload.event, a.payload.monitor) for a in store.alert_heads()]
    assert queued == [("incident.partial", "paged")]
