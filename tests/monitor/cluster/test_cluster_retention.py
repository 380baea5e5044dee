"""Who prunes a cluster's store (issue 44 §7): the leader, once for every instance.

In process: real Runners on one real PostgreSQL with a clock the test sets
(tests/helpers/cluster_harness.py).  As processes: two `tether monitor` instances on one
PostgreSQL, on real time, polled with a bound."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

import psycopg
import pytest

from tests.helpers.cluster_harness import EPOCH, Instances
from tests.helpers.cluster_processes import instance
from tests.helpers.old_history import IN_FORCE, LEFT, seed
from tests.helpers.postgres_server import PostgresServer
from tests.helpers.processes import wait_for
from tether.monitor.config import parse_config
from tether.monitor.store import PostgresStore

LOCATIONS = ("east", "west")


def left(dsn: str, sql: str = LEFT) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(sql).fetchall()


def test_the_leader_prunes_and_the_other_instances_do_not(postgres_dsn: str) -> None:
    """Of two instances on one database, the one that does not lead leaves the history
    alone when its housekeeping comes; the leader's prune deletes what is past its
    retention, for both, and keeps the silence still in force."""
    config = parse_config(
        f"locations: [{', '.join(LOCATIONS)}]\n"
        "monitors:\n  - {name: api, url: 'http://127.0.0.1:9/', interval: 1h}\n"
    )
    instances = Instances(postgres_dsn, config, LOCATIONS)
    try:
        instances.rounds()
        (leader,) = [r for r in instances.runners.values() if r.leading]
        (other,) = [r for r in instances.runners.values() if not r.leading]
        seed(other.store, EPOCH)
        instances.call(other._prune())
        assert left(postgres_dsn) == [(3, 1)]
        instances.call(leader._prune())
        assert left(postgres_dsn) == [(1, 0)]
        assert left(postgres_dsn, IN_FORCE) == [("in force",)]
    finally:
        instances.close()


@pytest.mark.timeout(180)
def test_two_instances_on_one_database_prune_once_at_the_leaders_start(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """The first instance leads, and prunes at its start; the second, started on history
    made old meanwhile, leaves it (it does not lead): the deletes of a cluster are made
    once, by its leader, and say so in its log alone."""
    dsn = postgres_server.dsn(postgres_server.new_schema())
    config = tmp_path / "tether.yaml"
    config.write_text(
        f'storage: {{postgres: "{dsn}"}}\nworkers: 1\nserver: {{listen: "127.0.0.1:0"}}\n'
        "monitors:\n  - {name: api, url: 'http://127.0.0.1:9/', interval: 1h, timeout: 1s}\n"
    )
    with PostgresStore(dsn) as store:
        seed(store, time.time())
    logs = [tmp_path / "i1.log", tmp_path / "i2.log"]
    with ExitStack() as stack:
        first = stack.enter_context(instance(config, logs[0]))
        wait_for(lambda: left(dsn) == [(1, 0)], 60, [first])
        with PostgresStore(dsn) as store:
            seed(store, time.time())
        second = stack.enter_context(instance(config, logs[1]))
        wait_for(lambda: "now probing" in logs[1].read_text(), 60, [first, second])
        assert left(dsn) == [(4, 1)]
        assert left(dsn, IN_FORCE) == [("in force",), ("in force",)]
    said = [log.read_text(errors="replace") for log in logs]
    assert said[0].count("deleted what was past its retention: 1 silence and 2 audit entries") == 1
    assert "deleted what was past its retention" not in said[1]
