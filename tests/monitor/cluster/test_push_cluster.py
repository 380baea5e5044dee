"""Heartbeats on a cluster: a job pushes to one instance only (the one a balancer picked),
and every instance that watches the monitor, at each location, takes that push from the
store.  Real instances (tests/helpers/cluster_harness.py: real Runners, a real PostgreSQL, their
real servers on loopback) on a clock the test sets."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest

from tests.helpers.cluster_harness import Instances
from tether.monitor._state import State
from tether.monitor.config import parse_config

LOCATIONS = ("east", "west")
TOKEN = "cluster-push-token-0123456789"


@pytest.fixture
def cluster(postgres_dsn: str) -> Iterator[Instances]:
    config = parse_config(
        f"""
locations: [{", ".join(LOCATIONS)}]
monitors:
  - {{name: backup, type: push, token: "{TOKEN}", interval: 10m, grace: 1m}}
"""
    )
    instances = Instances(postgres_dsn, config, LOCATIONS)
    try:
        yield instances
    finally:
        instances.close()


def push(base: str, status: str = "up") -> int:
    with urllib.request.urlopen(f"{base}/api/push/{TOKEN}?status={status}", timeout=20) as r:
        return int(r.status)


def read_controls(cluster: Instances) -> None:
    """Every instance's writes committed, then every instance reads the store's
    controls, as each does once a second."""
    for runner in cluster.runners.values():
        runner.store.flush()
    for runner in cluster.runners.values():
        cluster.call(runner.controls.read())
    cluster.settle()


def test_a_push_to_one_instance_reaches_every_location_and_a_silence_is_down_everywhere(
    cluster: Instances,
) -> None:
    """Pushed to east alone, west takes the push from the store too: up from both
    locations, no partial incident; a missed heartbeat is down from both, one incident;
    the next push (to east again) brings both back up."""
    cluster.rounds()
    east = cluster.serve("east")
    assert push(east) == 200
    read_controls(cluster)
    for runner in cluster.runners.values():
        assert runner.detector.state("backup") is State.UP, runner.here
    leader = next(r for r in cluster.runners.values() if r.leading)
    assert leader.quorum.state("backup") is State.UP
    assert leader.store.incidents(open_only=True) == []

    cluster.now += 11 * 60 + 1  # past the interval and its grace, with no push
    for runner in cluster.runners.values():
        runner.pushes.heartbeats()
    cluster.settle()
    for runner in cluster.runners.values():
        assert runner.detector.state("backup") is State.DOWN, runner.here
    assert leader.quorum.state("backup") is State.DOWN
    # The leader hears its own location first, so a partial incident may open for an
    # instant; the quorum's incident is the one left open.
    opened = leader.store.incidents(open_only=True)
    assert [i.key for i in opened] == ["monitor:backup:heartbeat.missed"]

    cluster.now += 5
    assert push(east) == 200
    read_controls(cluster)
    for runner in cluster.runners.values():
        assert runner.detector.state("backup") is State.UP, runner.here
    assert leader.quorum.state("backup") is State.UP
    assert leader.store.incidents(open_only=True) == []


def test_the_last_push_outlives_a_restart_of_its_instance(cluster: Instances) -> None:
    """The push is kept in the store: what the store's controls give back is that push,
    with the job's verdict and message, whichever instance took it."""
    cluster.rounds()
    east = cluster.serve("east")
    with urllib.request.urlopen(
        f"{east}/api/push/{TOKEN}?status=down&msg=disk+full&duration_ms=1500", timeout=20
    ) as r:
        assert r.status == 200
    west = cluster["west"]
    west.store.flush()
    cluster["east"].store.flush()
    kept = west.store.controls(cluster.now).pushes["backup"]
    assert (kept.at, kept.ok, kept.detail, kept.latency_ms) == (
        cluster.now,
        False,
        "disk full",
        1500.0,
    )
