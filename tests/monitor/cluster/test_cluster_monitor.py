"""Several `tether monitor` instances on one PostgreSQL database share the work, with no
duplicate and no gap: leases on shards, one leader for the incidents, alerts claimed by
the instance that delivers them, and `kill -9` of an instance during an outage.

The instances are real processes on real time, against a PostgreSQL server of the
session's own and HTTP targets on loopback that the test takes down and brings back; each
step polls with a bound instead of sleeping a fixed time.
"""

from __future__ import annotations

import collections
import itertools
import json
import re
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.alerts_receiver import Receiver
from tests.helpers.cluster_processes import Target, instance
from tests.helpers.postgres_server import PostgresServer
from tests.helpers.processes import wait_for

INTERVAL = 6.0
LEASE = 2.0
MONITORS = 300
OUTAGE = 30
"""Of the monitors, this many watch the target that goes down (on 127.0.0.2), the rest a
healthy one (on 127.0.0.1): two hosts, so the outage is one incident, not this machine's."""


def told(receiver: Receiver, what: str) -> int:
    """How many monitors the receiver's alerts say ``what`` of, in all ("3 more monitors
    down", "2 monitors back up")."""
    texts = [json.loads(body)["text"] for _, body in list(receiver.got)]
    return sum(int(n.replace(",", "")) for t in texts for n in re.findall(rf"([\d,]+) {what}", t))


def keys(receiver: Receiver) -> list[tuple[str, str, str]]:
    """(Idempotency-Key, event, monitor) of every delivery the receiver took, in order."""
    out = []
    for headers, body in list(receiver.got):
        doc = json.loads(body)
        assert headers["Idempotency-Key"] == f'"{doc["key"]}"'  # a structured-field string
        out.append((doc["key"], doc["event"], doc["monitor"]))
    return out


@pytest.mark.timeout(300)
def test_three_instances_share_the_work_and_survive_a_kill_during_an_outage(
    postgres_server: PostgresServer, tmp_path: Path, receiver: Receiver
) -> None:
    """3 instances, 300 monitors on one database: the shards split three ways and one
    leads; an outage of 30 monitors opens one incident, whose opening and grouped updates
    tell of every monitor (grouping: once one alert per monitor; the test's route groups
    every second, not every 5 min); then kill -9 of the leader: the others take its
    monitors over (none goes unprobed for more than 2 intervals), one of them leads, and
    when the target comes back every monitor's return is told in the updates and the
    resolution: no alert lost, none received twice."""
    import psycopg

    receiver.start()
    dsn = postgres_server.dsn(postgres_server.new_schema())
    healthy, failing = Target("127.0.0.1"), Target("127.0.0.2")
    lines = [
        f"  - {{name: m{i:03d}, url: '{failing.url if i < OUTAGE else healthy.url}'}}"
        for i in range(MONITORS)
    ]
    config = tmp_path / "tether.yaml"
    config.write_text(
        f'storage: {{postgres: "{dsn}"}}\n'
        f"cluster: {{lease: {LEASE:g}s}}\n"
        "workers: 1\n"
        'server: {listen: "127.0.0.1:0"}\n'
        f'alerts: [{{name: ops, type: webhook, url: "{receiver.url}"}}]\n'
        "routes: {channels: [ops], group_wait: 1s, group_interval: 2s}\n"
        f"defaults: {{interval: {INTERVAL:g}s, timeout: 1s, alerts: [ops]}}\n"
        "monitors:\n" + "\n".join(lines) + "\n"
    )

    def sql(query: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(dsn) as conn:
            try:
                return list(conn.execute(query).fetchall())
            except psycopg.errors.UndefinedTable:  # not migrated yet
                return []

    def owners() -> dict[str, int]:
        rows = sql(
            "SELECT owner, count(*) FROM tether_leases WHERE shard >= 0 AND owner IS NOT NULL "
            "GROUP BY owner"
        )
        return {owner: int(n) for owner, n in rows}

    def undelivered() -> int:
        return int(sql("SELECT count(*) FROM outbox WHERE delivered IS NULL")[0][0])

    def checked_since(moment: float) -> int:
        return int(sql(f"SELECT count(DISTINCT monitor) FROM results WHERE ts > {moment}")[0][0])

    def leader() -> str | None:
        rows = sql("SELECT owner FROM tether_leases WHERE shard = -1 AND owner IS NOT NULL")
        return rows[0][0] if rows else None

    logs = [tmp_path / f"instance{n}.log" for n in range(3)]
    with ExitStack() as stack:
        procs = [stack.enter_context(instance(config, log)) for log in logs]
        # Each holds at most its fair share, ceil(256 / 3) = 86: 86, 86 and 84.
        wait_for(lambda: sorted(owners().values()) == [84, 86, 86], 30, procs)
        by_pid = {int(owner.split(":")[1]): owner for owner in owners()}
        assert set(by_pid) == {p.pid for p in procs}
        # Every monitor is checked, by exactly one instance (a result a check).
        wait_for(lambda: sql("SELECT count(DISTINCT monitor) FROM results")[0][0] == 300, 30, procs)

        failing.down()
        outage = time.time()
        # One incident.opened, then the 29 others down in grouped updates.
        wait_for(lambda: told(receiver, "more monitors? down") == OUTAGE - 1, 60, procs)
        # Nothing more is on its way: every alert queued is recorded as delivered (a copy
        # sent twice would have been sent before its delivery was recorded).
        wait_for(lambda: undelivered() == 0, 30, procs)
        down_alerts = len(receiver.got)
        assert told(receiver, "more monitors? down") == OUTAGE - 1
        boss = leader()
        assert boss is not None
        (victim,) = [p for p in procs if by_pid[p.pid] == boss]
        victim.kill()
        killed = time.time()
        victim.wait(timeout=10)
        procs = [p for p in procs if p is not victim]
        # The two left split the 256 shards, and one of them leads.
        wait_for(lambda: set(owners()) <= (set(by_pid.values()) - {boss}), 30, procs)
        wait_for(lambda: sum(owners().values()) == 256 and len(owners()) == 2, 30, procs)
        wait_for(lambda: leader() not in (None, boss), 30, procs)
        # Every monitor checked again since the kill, those of the dead one included.
        wait_for(lambda: checked_since(killed) == MONITORS, 30, procs)
        failing.up()
        # 29 back up in grouped updates and the resolution, which ends it.
        resolved = "incident.resolved"
        wait_for(lambda: any(e == resolved for _, e, _ in keys(receiver)), 60, procs)
        wait_for(lambda: undelivered() == 0, 30, procs)
        ended = time.time()
    healthy.down()
    failing.down()

    got = keys(receiver)
    events = collections.Counter(event for _, event, _ in got)
    assert events["incident.opened"] == events["incident.resolved"] == 1
    assert set(events) == {"incident.opened", "incident.updated", "incident.resolved"}
    assert len(got) > down_alerts
    assert len({key for key, _, _ in got}) == len(got)  # none received twice
    # Every monitor of the outage told down once and back once: none lost.
    assert told(receiver, "more monitors? down") == OUTAGE - 1
    assert told(receiver, "monitors? back up") == OUTAGE - 1
    incidents = sql("SELECT id, monitors, resolved FROM incidents")
    assert len(incidents) == 1
    assert incidents[0][2] is not None  # resolved
    # No monitor went unprobed for more than two intervals, the kill included.
    results = sql(
        f"SELECT monitor, ts FROM results WHERE ts BETWEEN {outage - INTERVAL} AND {ended} "
        "ORDER BY monitor, ts"
    )
    times: dict[str, list[float]] = collections.defaultdict(list)
    for monitor, ts in results:
        times[monitor].append(float(ts))
    assert len(times) == MONITORS
    worst = max(
        (b - a, monitor) for monitor, ts in times.items() for a, b in itertools.pairwise(ts)
    )
    assert worst[0] <= 2 * INTERVAL, worst
    assert killed < ended
    said = "".join(log.read_text(errors="replace") for log in logs)
    assert "leading the cluster now" in said
