"""`partial_alerts` through the whole runner: a monitor cut off from one location of three
opens a partial incident, which queues an `incident.partial` alert only for the monitor
that asks for it.  Real instances of a cluster (tests/helpers/cluster_harness.py: real Runners,
a real PostgreSQL, real probes against the lab) on a clock the test sets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.cluster_harness import Instances
from tether.lab import Lab
from tether.monitor._state import State
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


def test_an_instance_starting_after_another_location_saved_publishes_its_own_state(
    postgres_dsn: str, lab: Lab
) -> None:
    """Each location keeps its own detector state: west, started after east has checked
    and saved, finds none of its own, so its first check is a change it publishes, and
    the quorum counts both locations.  (All locations once shared one saved state: west
    took east's `up` as its own, its first check changed nothing, and it never said what
    it saw; a netns test caught one location missing for minutes.)"""
    config = parse_config(
        f"""
locations: [east, west]
monitors:
  - {{name: api, url: "{lab["healthy"].url}", interval: 30s, timeout: 2s}}
"""
    )
    first = Instances(postgres_dsn, config, ["east"])
    try:
        first.rounds()
        first.check("east", "api")
        first["east"].checkpoint()
        first.settle()
        saved = first["east"].store.load_state()
    finally:
        first.close()
    assert "detector@east:api" in saved
    second = Instances(postgres_dsn, config, ["west"])
    try:
        second.now = first.now
        second.rounds()
        second.check("west", "api")
        second.settle()
        west = second["west"]
        published = {row.state.location: row.state.state for row in west.store.location_states()}
        assert published == {"east": State.UP, "west": State.UP}
        assert west.quorum.state("api") is State.UP
        assert "detector@west:api" in west.store.load_state()
    finally:
        second.close()
