"""`tether monitor` as a real process in a mass outage: killed with SIGKILL in the middle
of the wave (and again in the middle of the recovery), started again, it loses no result
the store had committed, leaves no state change unalerted, and alerts none twice; a
SIGTERM in the middle of a wave ends it with 0 within its grace.

A few hundred ``tcp://`` monitors on 8 loopback hosts (127.0.2.1 to 127.0.2.8), each host
a listening socket of the test's own while the targets are up, closed when they all
refuse; one webhook channel to a real receiver on loopback (tests/helpers/alerts_receiver.py).
Real time (the process and its signals are what is under test): every wait polls the
database with a bound.

Delivery is at least once: a kill between an alert's send and the mark that it was sent
makes the next start send it again, with the same key (``Idempotency-Key`` and ``key``
in the body), for the receiver to drop.  So a key received twice is allowed only for an
alert that was received before the kill and not yet marked delivered when it happened;
any other is a failure (docs/failure-handling.md says so).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import processes
from tests.helpers.alerts_receiver import Receiver
from tests.helpers.ports import free_port
from tests.helpers.tether_processes import monitor, rows
from tether.monitor._records import alert_key

N = 240
HOSTS = 8
GRACE = 30.0
"""What docs/deployment.md gives SIGTERM (systemd's TimeoutStopSec)."""


class Targets:
    """A listening socket on each host while up (each connection accepted and closed at
    once); closed, so that every connection is refused, while down."""

    def __init__(self) -> None:
        self.port = free_port()
        self._socks: list[socket.socket] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def host(self, i: int) -> str:
        return f"127.0.2.{i % HOSTS + 1}"

    def up(self) -> None:
        self._stop.clear()
        for i in range(HOSTS):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((self.host(i), self.port))
            s.listen(1024)
            s.settimeout(0.1)
            self._socks.append(s)
            t = threading.Thread(target=self._accept, args=(s,), daemon=True)
            t.start()
            self._threads.append(t)

    def _accept(self, s: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = s.accept()
            except OSError:
                continue
            conn.close()

    def down(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()
        for s in self._socks:
            s.close()
        self._socks, self._threads = [], []


@pytest.fixture
def targets() -> Iterator[Targets]:
    t = Targets()
    t.up()
    try:
        yield t
    finally:
        t.down()


def write_config(
    tmp_path: Path, targets: Targets, receiver: Receiver, workers: int = 1
) -> tuple[Path, int]:
    """The configuration file, and the port its server listens on."""
    db = tmp_path / "tether.db"
    port = free_port()
    lines = [
        f'storage: {{path: "{db}"}}',
        f'server: {{listen: "127.0.0.1:{port}"}}',
        f"workers: {workers}",
        f'alerts: [{{name: ops, type: webhook, url: "{receiver.url}"}}]',
        "monitors:",
    ]
    lines += [
        f"  - {{name: m{i:03d}, url: 'tcp://{targets.host(i)}:{targets.port}', "
        "interval: 2s, timeout: 1s, alerts: [ops]}"
        for i in range(N)
    ]
    config = tmp_path / "tether.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config, port


def api(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return json.loads(r.read())


def open_members(port: int) -> set[str]:
    """Every monitor down in an open incident, from each incident's whole document (the
    list names the first few of each)."""
    listed = api(port, "/api/incidents?open=1&limit=1000")["incidents"]
    return {m for i in listed for m in api(port, f"/api/incidents/{i['id']}")["monitors"]}


def latest_states(db: Path) -> dict[str, str]:
    """Each monitor's last recorded state (``unknown`` as tether stops is one too)."""
    found = rows(
        db,
        "SELECT monitor, state FROM state_changes s WHERE at = "
        "(SELECT max(at) FROM state_changes WHERE monitor = s.monitor)",
    )
    return {str(m): str(s) for m, s in found}


def all_in(db: Path, state: str) -> bool:
    states = latest_states(db)
    return len(states) == N and set(states.values()) == {state}


def got(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(body) for _, body in list(receiver.got)]


def undelivered(db: Path) -> set[str]:
    """The keys (as the receiver gets them) of the alerts queued and not yet delivered."""
    found = rows(db, "SELECT channel, dedup FROM outbox WHERE delivered IS NULL")
    return {alert_key(str(channel), str(dedup)) for channel, dedup in found}


def kill_in_the_middle(proc: subprocess.Popen[str], db: Path, state: str) -> set[str]:
    """SIGKILL once the wave toward ``state`` has begun and before it is over; the keys of
    the alerts received by then and not marked delivered (they may come again)."""
    processes.wait_for(lambda: any(s == state for s in latest_states(db).values()), 60, [proc])
    states = latest_states(db)
    assert not all(s == state for s in states.values()), "the wave was over before the kill"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    return undelivered(db)


@contextmanager
def sent_once(receiver: Receiver, db: Path, in_flight: set[str]) -> Iterator[None]:
    """On the way out: every alert queued in the store was delivered, and received; a key
    received twice was in flight at a kill (``in_flight``)."""
    yield
    queued = {alert_key(str(c), str(d)) for c, d in rows(db, "SELECT channel, dedup FROM outbox")}
    keys = Counter(str(doc["key"]) for doc in got(receiver))
    assert undelivered(db) == set()
    assert queued <= keys.keys()
    twice = {k for k, n in keys.items() if n > 1}
    assert twice <= in_flight, f"sent twice, not in flight at a kill: {sorted(twice)[:5]}"


@pytest.mark.timeout(300)  # three starts and two waves of a real process, on real time
def test_sigkill_in_the_middle_of_a_wave_loses_nothing_and_alerts_each_change_once(
    tmp_path: Path, targets: Targets, receiver: Receiver
) -> None:
    """kill -9 during the outage, start again: every monitor ends down, in an open
    incident; every result committed before the kill is kept; every alert queued is
    delivered, none twice (save one in flight at the kill); kill -9 during the recovery,
    start again: every monitor ends up, every incident resolved, the same for alerts."""
    receiver.start()
    config, port = write_config(tmp_path, targets, receiver)
    db = tmp_path / "tether.db"
    log = tmp_path / "monitor.log"
    in_flight: set[str] = set()
    with sent_once(receiver, db, in_flight):
        with monitor(config, log) as proc:
            processes.wait_for(lambda: all_in(db, "up"), 60, [proc])
            targets.down()
            in_flight |= kill_in_the_middle(proc, db, "down")
        kept = set(rows(db, "SELECT id, monitor, ts, ok, kind FROM results"))
        with monitor(config, log) as proc:
            processes.wait_for(lambda: all_in(db, "down"), 60, [proc])
            processes.wait_for(lambda: not undelivered(db) and got(receiver), 60, [proc])
            assert kept <= set(rows(db, "SELECT id, monitor, ts, ok, kind FROM results"))
            assert open_members(port) == {f"m{i:03d}" for i in range(N)}
            opened = {
                int(doc["incident"]) for doc in got(receiver) if doc["event"] == "incident.opened"
            }
            open_ids = {
                int(i) for (i,) in rows(db, "SELECT id FROM incidents WHERE resolved IS NULL")
            }
            assert open_ids <= opened  # each open incident's page was sent
            targets.up()
            in_flight |= kill_in_the_middle(proc, db, "up")
        kept = set(rows(db, "SELECT id, monitor, ts, ok, kind FROM results"))
        with monitor(config, log) as proc:
            processes.wait_for(lambda: all_in(db, "up"), 60, [proc])
            processes.wait_for(
                lambda: not rows(db, "SELECT id FROM incidents WHERE resolved IS NULL"), 60, [proc]
            )
            processes.wait_for(lambda: not undelivered(db), 60, [proc])
            assert kept <= set(rows(db, "SELECT id, monitor, ts, ok, kind FROM results"))
    resolved = {
        int(doc["incident"]) for doc in got(receiver) if doc["event"] == "incident.resolved"
    }
    incidents = {int(i) for (i,) in rows(db, "SELECT id FROM incidents")}
    assert resolved <= incidents
    assert resolved


@pytest.mark.timeout(180)  # a start, a wave and the grace, on real time
def test_sigterm_in_the_middle_of_a_wave_ends_the_process_within_its_grace(
    tmp_path: Path, targets: Targets, receiver: Receiver
) -> None:
    """With worker processes probing, a SIGTERM sent while every monitor is failing at
    once is honoured: the coordinator exits with 0 within the grace the docs give, and
    what it was told to store is stored (every result its workers sent)."""
    receiver.start()
    config, _ = write_config(tmp_path, targets, receiver, workers=2)
    db = tmp_path / "tether.db"
    log = tmp_path / "monitor.log"
    with monitor(config, log) as proc:
        processes.wait_for(lambda: all_in(db, "up"), 60, [proc])
        targets.down()
        processes.wait_for(lambda: any(s == "down" for s in latest_states(db).values()), 60, [proc])
        stopped = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=GRACE)
        except subprocess.TimeoutExpired:
            pytest.fail(f"SIGTERM not honoured within {GRACE:g} s")
        took = time.monotonic() - stopped
    assert proc.returncode == 0, f"exit {proc.returncode} after {took:.1f} s"
    # Stopped cleanly: every monitor's state is closed as unknown.
    assert all_in(db, "unknown")
