"""Objectives on a cluster (tests/helpers/cluster_harness.py: real Runners at two
locations on one real PostgreSQL schema, real probes of the lab, a clock the test sets):
every instance reads every instance's checks back from the store, so each shows the same
figure; the leader alone pages, and an instance that takes the lead reads the firing
rules back from the store: the rule is not paged again, and resolved once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.cluster_harness import Instances
from tests.helpers.polls import until
from tests.helpers.postgres_server import PostgresServer
from tether.lab import Lab
from tether.monitor import Runner
from tether.monitor.config import parse_config

LOCATIONS = ("east", "west")


@pytest.fixture
def cluster(postgres_dsn: str, lab: Lab) -> Iterator[tuple[Instances, set[str]]]:
    yield from _cluster(postgres_dsn, lab)


def _cluster(postgres_dsn: str, lab: Lab) -> Iterator[tuple[Instances, set[str]]]:
    failing: set[str] = set()
    healthy, refused = lab["healthy"].url, lab["refused"].url
    config = parse_config(
        f"""
locations: [{", ".join(LOCATIONS)}]
alerts:
  - {{name: ops, type: webhook, url: "http://127.0.0.1:9/never-delivered"}}
monitors:
  - {{name: api, url: "{healthy}", interval: 10s, timeout: 1s}}
objectives:
  - {{name: checkout, monitors: [api], target: 90%, window: 1h, alerts: [ops],
     burn_rates: [{{severity: page, burn: 2, long: 10m, short: 2m}}]}}
"""
    )

    def route(location: str, url: str) -> str:
        return refused if location in failing else url

    instances = Instances(postgres_dsn, config, LOCATIONS, route, alerts=True)
    try:
        yield instances, failing
    finally:
        instances.close()


def tick(cluster: Instances, runner: Runner) -> None:
    """One turn of ``runner``'s objectives as its loop does once a second: the store read
    again, then (once the read has landed) the evaluation."""

    cluster.now += 1  # past the last check: the read stops at the moment it begins

    async def turn() -> None:
        stage = runner.objectives
        stage.tick(cluster.now)
        while stage._task is not None:
            await stage._task
        stage.tick(cluster.now)

    cluster.call(turn())


def said(runner: Runner) -> list[str]:
    """The events queued for the objective's channel, by any instance (the store's)."""
    runner.store.flush()
    return [payload.event for payload, _ in runner.store.channel_alerts("ops", 0.0)]


def test_every_instance_shows_every_instances_checks_and_the_lead_pages_once(
    cluster: tuple[Instances, set[str]],
) -> None:
    """Both locations check ``api``, each its own checks in the store: each instance's
    objective counts both (the same figure on each).  Both refuse: the rule fires on
    each, the leader alone queues the page.  The leader leaves; the other takes the lead
    and the rule's firing from the store: no second page; once ``api`` answers again the
    rule ends and is resolved once."""
    instances, failing = cluster
    instances.rounds()
    leader = next(r for r in instances.runners.values() if r.leading)
    other = next(r for r in instances.runners.values() if not r.leading)
    for _ in range(6):
        instances.now += 10
        instances.check("east", "api")
        instances.check("west", "api")
    instances.settle()
    for runner in (leader, other):
        tick(instances, runner)
    figures = [r.objectives.statuses["checkout"].counts for r in (leader, other)]
    assert figures[0] == figures[1]
    assert figures[0].total == 12
    failing.update(LOCATIONS)
    for _ in range(3):
        instances.now += 10
        instances.check("east", "api")
        instances.check("west", "api")
    instances.settle()
    for runner in (leader, other):
        instances.now += 11
        tick(instances, runner)
        # What the leader saved is committed with its writer's next batch (its page is
        # posted, not waited for): the follower reads it at its next round.
        runner.store.flush()
    tick(instances, other)
    assert leader.objectives.book.ledgers["checkout"].firing
    assert other.objectives.book.ledgers["checkout"].firing
    assert said(leader) == ["objective.burning"]  # the leader's page alone
    instances.leave(leader.here)
    instances.now += 30
    instances.call(other.renew())
    assert other.leading
    tick(instances, other)
    assert other.objectives.book.ledgers["checkout"].firing
    assert said(other) == ["objective.burning"]  # not paged again
    failing.clear()
    for _ in range(15):
        instances.now += 10
        instances.check(other.here, "api")
        instances.settle()
        tick(instances, other)
    assert said(other) == ["objective.burning", "objective.resolved"]


def test_a_lead_taken_while_the_store_cannot_be_read_takes_the_rules_once_it_can(
    own_postgres: PostgresServer, lab: Lab
) -> None:
    """The leader pages and leaves; the other instance, which has not read the rules as
    a follower, takes the lead while the store cannot be read: its duties of taking the
    lead (the firing rules read back, the pages of the last leader queued again) wait,
    and are done at the first turn after the store is back.  Before, a failed read
    counted as done: the rule was never read back, and a page the last leader had not
    committed was lost."""
    made = _cluster(own_postgres.dsn(own_postgres.new_schema()), lab)
    instances, failing = next(made)
    try:
        instances.rounds()
        leader = next(r for r in instances.runners.values() if r.leading)
        other = next(r for r in instances.runners.values() if not r.leading)
        failing.update(LOCATIONS)
        # The 10 checks a 90% budget needs, and more: nothing pages on fewer.
        for _ in range(12):
            instances.now += 10
            instances.check(leader.here, "api")
        instances.settle()
        instances.now += 11
        tick(instances, leader)
        assert leader.objectives.book.ledgers["checkout"].firing
        assert said(leader) == ["objective.burning"]
        instances.leave(leader.here)
        instances.now += 30
        instances.call(other.renew())
        assert other.leading
        own_postgres.halt()
        try:
            tick(instances, other)
            assert not other.objectives.book.ledgers["checkout"].firing  # not read yet
        finally:
            own_postgres.resume()
        tick(instances, other)
        assert other.objectives.book.ledgers["checkout"].firing
        until(lambda: other.store.health().up)  # its writer retried what it held
        assert said(other) == ["objective.burning"]  # not paged again
    finally:
        made.close()
