"""Two `tether monitor` instances on one PostgreSQL database, with the default timings:
`kill -9` of one, and every target refusing at once.

- **A kill.**  The survivor probes every monitor the dead instance held within the
  bound docs/deployment.md ("Timings") derives from the lease: its leases run out one
  lease after its last round (its heartbeat, on its own clock), the survivor claims them
  at that moment and spreads its first probes over an eighth of the lease, so every one
  is probed within ``lease + lease / 8`` of that heartbeat, plus a round's and a probe's
  time: 10 s with the default lease, which the issue asks for.  Not before the lease ran
  out (it was the dead one's), and a monitor whose target failed meanwhile is marked
  down after its confirmations.  Once killing the leader (the survivor takes the lead
  too), once the other.
- **A wave.**  Every target refuses at once: every monitor is marked down, at its
  location and for the cluster, within one interval plus its confirmation re-probes;
  back, every one is up within one interval.

The instances are real processes on real time, against the session's PostgreSQL server
and HTTP targets on loopback; each step polls with a bound (the bound under test, where
it is one) instead of sleeping.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.alerts_receiver import Receiver
from tests.helpers.cluster_processes import Target, instance
from tests.helpers.postgres_server import PostgresServer
from tests.helpers.processes import wait_for
from tether.monitor.config import ClusterSettings
from tether.monitor.config._defaults import FAILURE_THRESHOLD, SUCCESS_THRESHOLD
from tether.monitor.store._cluster import RENEWALS
from tether.monitor.store._shares import SHARDS, shard_of

CONFIRM = 1.0
"""Seconds between a failure and its confirmation re-probe (the detector's)."""
SLACK = 1.0
"""Seconds a round, a probe and a write of its result may take on a busy machine (the
documented bounds say "plus a round's and a probe's time")."""
READ = 1.0
"""Seconds between the leader's reads of what the other instances published: a state
found by another instance is decided for the cluster at most this much later."""


class Cluster:
    """The SQL the tests read the cluster's state with, on one schema."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.dsn) as conn:
            try:
                return list(conn.execute(query, params).fetchall())
            except psycopg.errors.UndefinedTable:  # not migrated yet
                return []

    def shares(self) -> dict[str, int]:
        rows = self.sql(
            "SELECT owner, count(*) FROM tether_leases WHERE shard >= 0 AND owner IS NOT NULL "
            "GROUP BY owner"
        )
        return {owner: int(n) for owner, n in rows}

    def owners(self) -> dict[int, str]:
        rows = self.sql("SELECT shard, owner FROM tether_leases WHERE shard >= 0")
        return {int(shard): owner for shard, owner in rows}

    def leader(self) -> str | None:
        rows = self.sql("SELECT owner FROM tether_leases WHERE shard = -1")
        return rows[0][0] if rows else None

    def located(self, state: str, names: list[str]) -> int:
        """How many of ``names`` are in ``state`` at their location (as their prober
        published it)."""
        rows = self.sql(
            "SELECT count(*) FROM tether_location_states WHERE state = %s AND monitor = ANY(%s)",
            (state, names),
        )
        return int(rows[0][0])

    def decided(self, state: str, names: list[str]) -> int:
        """How many of ``names`` the leader last recorded in ``state`` for the cluster."""
        rows = self.sql(
            "SELECT count(*) FROM (SELECT DISTINCT ON (monitor) monitor, state "
            "FROM state_changes WHERE monitor = ANY(%s) ORDER BY monitor, at DESC) s "
            "WHERE state = %s",
            (names, state),
        )
        return int(rows[0][0])

    def first_checks(self, names: list[str], after: float) -> dict[str, float]:
        """Each of ``names``' first result stamped after ``after``."""
        rows = self.sql(
            "SELECT monitor, min(ts) FROM results WHERE ts > %s AND monitor = ANY(%s) "
            "GROUP BY monitor",
            (after, names),
        )
        return {monitor: float(ts) for monitor, ts in rows}


@contextmanager
def two_instances(
    postgres_server: PostgresServer,
    tmp_path: Path,
    urls: list[str],
    *,
    interval: float,
    alerts: str | None = None,
) -> Iterator[tuple[Cluster, list[str], list[subprocess.Popen[bytes]]]]:
    """Two instances with the default cluster settings, monitor ``m000``... checking
    ``urls[i]`` every ``interval`` (each alerting the webhook at ``alerts``, if given);
    yielded once each holds half the shards and every monitor is up at its location."""
    dsn = postgres_server.dsn(postgres_server.new_schema())
    names = [f"m{i:03d}" for i in range(len(urls))]
    paged = "" if alerts is None else ", alerts: [ops]"
    lines = [f"  - {{name: {n}, url: '{url}'{paged}}}" for n, url in zip(names, urls, strict=True)]
    config = tmp_path / "tether.yaml"
    config.write_text(
        f'storage: {{postgres: "{dsn}"}}\n'
        "workers: 1\n"
        'server: {listen: "127.0.0.1:0"}\n'
        + ("" if alerts is None else f'alerts: [{{name: ops, type: webhook, url: "{alerts}"}}]\n')
        + f"defaults: {{interval: {interval:g}s, timeout: 1s}}\n"
        "monitors:\n" + "\n".join(lines) + "\n"
    )
    c = Cluster(dsn)
    with ExitStack() as stack:
        procs = [stack.enter_context(instance(config, tmp_path / f"i{n}.log")) for n in (1, 2)]
        wait_for(lambda: sorted(c.shares().values()) == [SHARDS // 2] * 2, 60, procs)
        wait_for(lambda: c.located("up", names) == len(names), 60, procs)
        yield c, names, procs


def lease() -> float:
    """The default lease (the file the instances read says nothing of it)."""
    return ClusterSettings().lease


@pytest.mark.timeout(240)
@pytest.mark.parametrize("victim", ["leader", "follower"])
def test_a_killed_instance_monitors_are_probed_again_within_the_documented_bound(
    postgres_server: PostgresServer, tmp_path: Path, victim: str
) -> None:
    """kill -9 of one of two instances (200 monitors at 10 s, the default 8 s lease): the
    survivor probes none of the dead one's monitors before its leases ran out, every one
    of them within lease + lease/8 (+ a round's and a probe's time: 10 s) of the dead
    one's last heartbeat, holds every shard, leads, and marks the monitors whose target
    failed after the kill down within that plus their confirmations."""
    healthy, failing = Target("127.0.0.1"), Target("127.0.0.2")
    urls = [failing.url if i % 10 == 0 else healthy.url for i in range(200)]
    ttl = lease()
    try:
        with two_instances(postgres_server, tmp_path, urls, interval=10) as (c, names, procs):
            owners, boss = c.owners(), c.leader()
            by_pid = {int(owner.split(":")[1]): owner for owner in set(owners.values())}
            (dead,) = [p for p in procs if (by_pid[p.pid] == boss) is (victim == "leader")]
            dead_id = by_pid[dead.pid]
            theirs = [n for n in names if owners[shard_of(n)] == dead_id]
            failed = [n for i, n in enumerate(names) if urls[i] == failing.url and n in theirs]
            assert len(theirs) > 50
            assert failed
            dead.send_signal(signal.SIGKILL)
            killed = time.time()
            dead.wait(timeout=10)
            failing.down()
            (survivor,) = [p for p in procs if p is not dead]
            ((beat,),) = c.sql("SELECT heartbeat FROM tether_instances WHERE id = %s", (dead_id,))
            expiry = float(beat) + ttl  # its leases' time, on its own clock
            bound = ttl + ttl / RENEWALS / 2 + SLACK
            assert bound <= 10.0  # what the issue asks of the defaults
            assert beat <= killed

            def taken() -> dict[str, float]:
                first = c.first_checks(theirs, killed)
                return first if len(first) == len(theirs) else {}

            first = wait_for(taken, beat + bound + 2 - time.time(), [survivor])
            assert min(first.values()) >= expiry  # not while the lease was the dead one's
            worst = max(first.values()) - beat
            assert worst <= bound, (worst, bound)
            assert c.shares() == {by_pid[survivor.pid]: SHARDS}
            assert c.leader() == by_pid[survivor.pid]
            confirmations = (FAILURE_THRESHOLD - 1) * CONFIRM
            wait_for(
                lambda: (
                    c.located("down", failed) == len(failed)
                    and c.decided("down", failed) == len(failed)
                ),
                beat + bound + confirmations + READ - time.time(),
                [survivor],
            )
            assert c.located("down", theirs) == len(failed)
    finally:
        healthy.down()
        failing.down()


@pytest.mark.timeout(240)
def test_every_target_refusing_at_once_is_seen_within_one_interval_on_two_instances(
    postgres_server: PostgresServer, tmp_path: Path, receiver: Receiver
) -> None:
    """240 monitors at 5 s on 8 target addresses, two instances: every target stops at
    once, and every monitor is marked down at its location within one interval plus its
    confirmation re-probes (and a probe's and a write's time), and for the cluster by the
    leader within its next read of the locations' states; back, every one is up again
    within one interval plus its confirmation, the same way.  The outage pages as one
    process pages it: the first hosts' incidents and the ``local`` one, not each monitor
    (the leader, which sees no passing check, paged 200 of them before its rules)."""
    interval = 5.0
    targets = [Target(f"127.0.0.{n}") for n in range(2, 10)]
    urls = [targets[i % len(targets)].url for i in range(240)]
    receiver.start()
    try:
        with two_instances(
            postgres_server, tmp_path, urls, interval=interval, alerts=receiver.url
        ) as (c, names, procs):
            wait_for(lambda: c.decided("up", names) == len(names), 30, procs)
            for state, threshold in (("down", FAILURE_THRESHOLD), ("up", SUCCESS_THRESHOLD)):
                for target in targets:
                    (target.down if state == "down" else target.up)()
                began = time.monotonic()  # every target refuses (or answers) from now
                bound = interval + (threshold - 1) * CONFIRM + SLACK
                within(began, lambda s=state: c.located(s, names) == len(names), bound, procs)
                within(
                    began, lambda s=state: c.decided(s, names) == len(names), bound + READ, procs
                )
                if state == "down":  # the local incident's one page, then count them all
                    wait_for(lambda: any(local(doc) for doc in pages(receiver)), 30, procs)
                    events = [doc["event"] for doc in pages(receiver)]
                    assert events.count("incident.opened") <= 3, events
                    assert len(events) <= 8, events
            keys = [doc["key"] for doc in pages(receiver)]
            assert len(keys) == len(set(keys))  # none received twice
    finally:
        for target in targets:
            target.down()


def within(
    began: float, what: Callable[[], bool], bound: float, procs: list[subprocess.Popen[bytes]]
) -> None:
    """``what()`` true within ``bound`` seconds of ``began`` (monotonic; the bound under
    test).  Waits a while longer before failing, so that a failure says how late."""
    wait_for(what, began + bound + 30 - time.monotonic(), procs)
    took = time.monotonic() - began
    assert took <= bound, f"took {took:.2f} s, more than {bound:.2f} s"


def pages(receiver: Receiver) -> list[dict[str, Any]]:
    """Every webhook body the receiver took, in order."""
    return [json.loads(body) for _, body in list(receiver.got)]


def local(doc: dict[str, Any]) -> bool:
    """Whether ``doc`` is the ``local`` incident's opening page (several hosts)."""
    return doc["event"] == "incident.opened" and (doc.get("host_count") or 0) >= 3
