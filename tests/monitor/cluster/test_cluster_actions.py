"""The write API on a cluster: two `tether monitor` instances on one PostgreSQL database,
each with a server of its own, and every change made through either reaching the
instance it concerns: a pause stops the probing wherever the monitor is held, a
maintenance window opened through one instance holds the leader's alerts, a check asked
of the instance that does not hold the monitor is made by the one that does, and the
audit log has each change once, with who made it.

The instances are real processes on real time, against the session's PostgreSQL server,
a lab target and one the test takes down, and a webhook receiver, all on loopback; each
step polls with a bound instead of sleeping.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.alerts_receiver import Receiver
from tests.helpers.cluster_processes import Target
from tests.helpers.ports import free_port
from tests.helpers.postgres_server import PostgresServer
from tests.helpers.processes import running, wait_for
from tether.lab import Lab
from tether.monitor.config._passwords import hash_token

ALICE = "tether_alice-token-0123456789abcdefghijklmnopqrstuvw"
BOB = "tether_bob-token-0123456789abcdefghijklmnopqrstuvwxyz"
MONITORS = ("web", "slow", "flaky")
TIMELINE = "SELECT entry FROM incident_timeline WHERE incident = %s ORDER BY seq"
"""An incident's timeline, in order (schema 6 keeps it in a table of its own)."""


class Instance:
    """One `tether monitor` process, its server's base URL and its log."""

    def __init__(self, pid: int, base: str, log: Path) -> None:
        self.pid, self.base, self.log = pid, base, log

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, token: str = ALICE
    ) -> tuple[int, Any]:
        """(status, JSON) of ``method path`` sent with ``token``."""
        request = urllib.request.Request(
            self.base + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read())

    def states(self) -> dict[str, str]:
        """Every monitor's state as this instance's /api/status says it."""
        try:
            status, doc = self.call("GET", "/api/status")
        except OSError:  # not listening yet
            return {}
        return dict(doc["monitors"]) if status == 200 else {}

    def said(self, text: str) -> bool:
        return text in self.log.read_text(errors="replace")


class Cluster:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.instances: list[Instance] = []
        self.procs: list[Any] = []

    def wait(self, what: Callable[[], Any], limit: float = 15) -> Any:
        return wait_for(what, limit, self.procs)

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.dsn) as conn:
            try:
                return list(conn.execute(query, params or None).fetchall())
            except psycopg.errors.UndefinedTable:  # not migrated yet
                return []

    def results(self, name: str) -> int:
        return int(self.sql("SELECT count(*) FROM results WHERE monitor = %s", (name,))[0][0])

    def _by_owner(self, shard: int) -> Instance | None:
        rows = self.sql("SELECT owner FROM tether_leases WHERE shard = %s", (shard,))
        if not rows or rows[0][0] is None:
            return None
        pid = int(rows[0][0].split(":")[1])  # HOST:PID:RANDOM
        return next((i for i in self.instances if i.pid == pid), None)

    def holder(self, name: str) -> Instance:
        """The instance holding ``name``'s shard (docs/deployment.md: CRC-32 mod 256)."""
        found = self._by_owner(zlib.crc32(name.encode("utf-8")) % 256)
        assert found is not None
        return found

    def other(self, than: Instance) -> Instance:
        (found,) = [i for i in self.instances if i is not than]
        return found

    def leader(self) -> Instance | None:
        return self._by_owner(-1)

    def everywhere(self, name: str) -> set[str]:
        """``name``'s state as each instance's /api/status says it."""
        return {i.states().get(name, "?") for i in self.instances}

    def undelivered(self) -> int:
        return int(self.sql("SELECT count(*) FROM outbox WHERE delivered IS NULL")[0][0])

    def queued(self) -> int:
        return int(self.sql("SELECT count(*) FROM outbox")[0][0])


@pytest.fixture
def cluster(
    postgres_server: PostgresServer, tmp_path: Path, lab: Lab, receiver: Receiver
) -> Iterator[tuple[Cluster, Target]]:
    """Two instances on one schema, settled (the shards split, one leads, every monitor
    up in both): `web` checked every second, `slow` every hour, `flaky` every second on a
    target the test takes down; alerts to a webhook receiver."""
    receiver.start()
    flaky = Target("127.0.0.2")
    c = Cluster(postgres_server.dsn(postgres_server.new_schema()))
    healthy = lab["healthy"].url
    with ExitStack() as stack:
        stack.callback(flaky.down)
        for n in (1, 2):
            port = free_port()
            config = tmp_path / f"tether{n}.yaml"  # the same but for the server's port
            config.write_text(
                f'storage: {{postgres: "{c.dsn}"}}\n'
                "cluster: {lease: 2s}\n"
                "workers: 1\n"
                f'server: {{listen: "127.0.0.1:{port}"}}\n'
                "tokens:\n"
                f'  - {{name: alice, hash: "{hash_token(ALICE)}", scope: write}}\n'
                f'  - {{name: bob, hash: "{hash_token(BOB)}", scope: write}}\n'
                f'alerts: [{{name: ops, type: webhook, url: "{receiver.url}"}}]\n'
                "defaults: {interval: 1s, timeout: 500ms, alerts: [ops], failure_threshold: 1}\n"
                "monitors:\n"
                f"  - {{name: web, url: '{healthy}'}}\n"
                f"  - {{name: slow, url: '{healthy}', interval: 1h}}\n"
                f"  - {{name: flaky, url: '{flaky.url}'}}\n"
            )
            log = tmp_path / f"instance{n}.log"
            args = [sys.executable, "-m", "tether.cli", "monitor", "--config", str(config)]
            proc = stack.enter_context(running(args, log))
            c.procs.append(proc)
            c.instances.append(Instance(proc.pid, f"http://127.0.0.1:{port}", log))

        def split() -> bool:
            rows = c.sql(
                "SELECT owner, count(*) FROM tether_leases WHERE shard >= 0 "
                "AND owner IS NOT NULL GROUP BY owner"
            )
            return sorted(int(n) for _, n in rows) == [128, 128]

        c.wait(split, 30)
        c.wait(lambda: c.leader() is not None)
        c.wait(lambda: all(c.everywhere(m) == {"up"} for m in MONITORS))
        yield c, flaky


@pytest.mark.timeout(120)
def test_pause_window_and_check_now_through_either_instance_reach_the_one_that_probes(
    cluster: tuple[Cluster, Target], receiver: Receiver
) -> None:
    """Paused through the instance that does not hold it, a monitor stops being probed
    and both say paused; resumed through the other, it is probed again; a window opened
    through the follower holds the leader's alert of an outage, and closed through it,
    the alert goes out exactly once; a check asked of the instance that does not hold the
    monitor is 202, and the holder probes it within two seconds; the audit log has each
    change once, with its token."""
    c, flaky = cluster

    # Pause through the instance not holding `web`: its holder stops probing it.
    holder = c.holder("web")
    status, doc = c.other(holder).call("POST", "/api/monitors/web/pause", {"reason": "racks"})
    assert (status, doc["paused"], doc["changed"]) == (200, True, True)
    c.wait(lambda: c.everywhere("web") == {"paused"}, 5)
    stopped, base = c.results("web"), c.results("flaky")
    c.wait(lambda: c.results("flaky") >= base + 3)
    assert c.results("web") <= stopped + 1  # one may have been under way
    settled = c.results("web")
    c.wait(lambda: c.results("flaky") >= base + 5)
    assert c.results("web") == settled

    # Resumed through its holder: probed again, and up in both.
    status, doc = holder.call("POST", "/api/monitors/web/resume", token=BOB)
    assert (status, doc["paused"], doc["changed"]) == (200, False, True)
    c.wait(lambda: c.results("web") > settled, 5)
    c.wait(lambda: c.everywhere("web") == {"up"}, 5)

    # A window opened through the follower: the leader holds the outage's alert.
    leader = c.leader()
    assert leader is not None
    follower = c.other(leader)
    status, window = follower.call(
        "POST", "/api/maintenance", {"monitors": ["flaky"], "for": "10m", "reason": "swap"}
    )
    assert (status, window["open"], window["opened_by"]) == (201, True, "token:alice")
    opened = f"maintenance window #{window['id']} holds the alerts of flaky"
    c.wait(lambda: all(i.said(opened) for i in c.instances), 5)
    flaky.down()
    c.wait(lambda: c.everywhere("flaky") == {"down"}, 10)
    incident = c.wait(lambda: c.sql("SELECT id FROM incidents WHERE resolved IS NULL"))
    (number,) = incident[0]
    timeline = [e for (e,) in c.sql(TIMELINE, (number,))]  # jsonb: dicts
    held = [e["detail"] for e in timeline if e["event"] == "alert held"]
    assert held == [f"flaky: maintenance window #{window['id']} (swap)"]
    base = c.results("flaky")
    c.wait(lambda: c.results("flaky") >= base + 3)  # three checks down, three ticks later
    assert (c.queued(), receiver.got) == (0, [])

    # Closed through the follower: the leader sends the held alert, once.
    status, doc = follower.call("POST", f"/api/maintenance/{window['id']}/close", token=BOB)
    assert (status, doc["open"], doc["closed_by"]) == (200, False, "token:bob")
    c.wait(lambda: receiver.got, 10)
    c.wait(lambda: c.undelivered() == 0)
    base = c.results("flaky")
    c.wait(lambda: c.results("flaky") >= base + 3)
    assert c.queued() == 1
    assert len(receiver.got) == 1
    alert = json.loads(receiver.got[0][1])
    assert (alert["event"], alert["monitor"], alert["incident"]) == (
        "incident.opened",
        "flaky",
        number,
    )
    timeline = [e for (e,) in c.sql(TIMELINE, (number,))]
    assert [e["detail"] for e in timeline if e["event"] == "alert sent"] == [
        "flaky: no longer held"
    ]

    # Check now through the instance not holding `slow` (checked hourly): 202, and its
    # holder probes it.
    holder = c.holder("slow")
    before = c.results("slow")
    status, doc = c.other(holder).call("POST", "/api/monitors/slow/check")
    assert (status, doc) == (202, {"monitor": "slow", "requested": True, "result": None})
    c.wait(lambda: c.results("slow") == before + 1, 2.5)
    # Through its holder: the result itself.
    status, doc = holder.call("POST", "/api/monitors/slow/check", token=BOB)
    assert (status, doc["result"]["ok"]) == (200, True)
    c.wait(lambda: c.results("slow") == before + 2, 2.5)  # the writer commits in batches

    # The audit log, read through either instance: each change once, with who.
    for instance in c.instances:
        status, doc = instance.call("GET", "/api/audit")
        assert status == 200
        assert [(e["action"], e["target"], e["who"]) for e in doc["entries"]] == [
            ("check", "monitor:slow", "token:bob"),
            ("check", "monitor:slow", "token:alice"),
            ("maintenance.close", f"maintenance:{window['id']}", "token:bob"),
            ("maintenance.open", f"maintenance:{window['id']}", "token:alice"),
            ("resume", "monitor:web", "token:bob"),
            ("pause", "monitor:web", "token:alice"),
        ]
