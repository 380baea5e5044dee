"""The store under real faults: a full filesystem, a read-only one, PostgreSQL stopped and
started, ``kill -9`` under steady load.  Nothing the monitor was given is lost, and the
monitor never dies of its store.

The filesystems are real tmpfs mounts (root only: CI runs as root); PostgreSQL is a
server of the test's own, halted and resumed like an operator would.  Where a test
waits for another process or thread it polls with a bound; where it needs time to pass
inside the store it injects the store's clock.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.alerts_receiver import Receiver
from tests.helpers.ports import free_port
from tests.helpers.postgres_server import PASSWORD, PostgresServer
from tests.helpers.tether_processes import monitor, rows, wait_for
from tether import RetryPolicy
from tether.cli import main
from tether.lab import Lab
from tether.monitor._records import (
    Alert,
    AlertPayload,
    Incident,
    Member,
    ProbeRecord,
    TimelineEntry,
)
from tether.monitor._state import State
from tether.monitor.alerts import Outbox, WebhookChannel
from tether.monitor.store import PostgresStore, SQLiteStore, StoreError
from tether.testing import Override

T0 = 1_700_000_000.0


def opened(n: int = 1) -> AlertPayload:
    return AlertPayload("incident.opened", "api", "api is down", T0, incident=n)


def incident(n: int) -> Incident:
    return Incident(
        id=n,
        key=f"api:{n}",
        kind=None,
        detail="api is down",
        hint="check api",
        opened=T0,
        monitors=("api",),
        timeline=(TimelineEntry(T0, "opened", "api is down"),),
    )


# -- batches close on time, under steady load -----------------------------------------


def test_a_batch_closes_batch_seconds_after_its_first_result(tmp_path: Path) -> None:
    """Results that keep coming are committed every ``batch_seconds`` all the same: the
    deadline runs from a batch's first result, not from the last (which a steady stream
    would push back for ever)."""
    ticks = itertools.count()
    store = SQLiteStore(
        tmp_path / "t.db",
        batch_size=10_000,
        batch_seconds=0.2,
        clock=lambda: next(ticks) * 0.05,  # every reading of the clock is 50 ms later
    )
    sizes: list[int] = []
    apply = store._apply

    def counted(results: list[ProbeRecord], *rest: Any) -> list[Any]:
        sizes.append(len(results))
        return apply(results, *rest)

    store._apply = counted  # type: ignore[method-assign,assignment]
    gate = threading.Event()
    # Hold the writer inside a job while 200 results queue up: a steady stream, all
    # waiting at once.
    blocker = threading.Thread(target=store._call, args=(lambda conn: gate.wait(),))
    blocker.start()
    for i in range(200):
        store.record(ProbeRecord("api", T0 + i, True))
    gate.set()
    blocker.join()
    store.flush()
    store.close()
    results = [n for n in sizes if n]
    assert sum(results) == 200
    # At 50 ms a reading, a batch holds its first result and the few gathered in the
    # following 200 ms of clock: many small commits, not one at the end.
    assert len(results) >= 20
    assert max(results) <= 6


_STEADY = textwrap.dedent(
    """
    import sys, time
    from tether.monitor.store import ProbeRecord, SQLiteStore
    store = SQLiteStore(sys.argv[1])
    i = 0
    while True:  # a steady stream, 200 results a second, until killed
        store.record(ProbeRecord("api", 1000.0 + i, True, latency_ms=1.0))
        i += 1
        if i % 20 == 0:
            print(i, time.monotonic(), flush=True)
        time.sleep(0.005)
    """
)


def test_kill_9_under_steady_load_loses_only_the_last_moment(tmp_path: Path) -> None:
    """kill -9 while results keep arriving: every result given more than a second before
    the kill is in the database (before, nothing was committed until the stream paused).

    The child paces its stream on real time (a steady stream is what is under test); the
    test itself never sleeps: it reads the child's progress and kills it."""
    db = tmp_path / "t.db"
    given: list[tuple[int, float]] = []
    with subprocess.Popen(
        [sys.executable, "-c", _STEADY, str(db)], stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            n, at = line.split()
            given.append((int(n), float(at)))
            if given[-1][0] >= 440:  # about 2.2 s of steady load, short of 500 results
                break
        killed_at = time.monotonic()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    older = max(n for n, at in given if at <= killed_at - 1.0)
    (stored,) = rows(db, "SELECT count(*) FROM results")[0]
    assert stored >= older
    # What is there is whole: a prefix of the stream, nothing half written.
    assert rows(db, "SELECT min(ts), max(ts) FROM results") == [(1000.0, 1000.0 + stored - 1)]


# -- a full disk, a read-only disk --------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MB tmpfs of the test's own (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    where = tmp_path / "disk"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte; the filler file, to delete to make room."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 4096, 512, 1):  # big blocks, then down to the last byte
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_holds_everything_and_writes_it_when_space_returns(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With SQLite's filesystem full, results, a state change, an incident and its alert
    are held (their callers return at once) and written once space returns; one line
    says writing stopped, one that it resumed; the figures say so meanwhile."""
    caplog.set_level(logging.INFO, logger="tether.monitor")
    # retry_min=0: the next write tries the disk again at once, no waiting on real time.
    store = SQLiteStore(small_disk / "t.db", retry_min=0.0, retry_max=0.0)
    filler = fill(small_disk)
    detail = "x" * 2000  # each result larger than a page: the WAL must grow
    for i in range(300):
        store.record(ProbeRecord("api", T0 + i, False, detail=detail))
    store.record_state("api", T0, State.DOWN)
    with pytest.raises(StoreError, match="full"):
        store.flush()
    health = store.health()
    assert not health.up
    assert health.held == 301
    assert "full" in (health.error or "")
    # An incident opens and its alert is queued while the disk is full: held, not lost.
    assert store.new_incident_id() == 1
    store.open_incident(incident(1))
    assert store.enqueue_alert("ops", "1:api:opened", opened(), now=T0)
    assert store.health().held_writes == 2
    filler.unlink()
    store.flush()
    assert store.health().up
    assert len(store.results("api", limit=1000)) == 300
    assert store.state_changes("api", 0.0) == [(T0, State.DOWN)]
    assert [i.id for i in store.incidents()] == [1]
    assert [a.dedup for a in store.alert_heads()] == ["1:api:opened"]
    store.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "tether.monitor"]
    assert sum("store: cannot write" in line for line in lines) == 1
    assert sum("store: writing again" in line for line in lines) == 1


def test_queued_incident_changes_are_held_in_order_through_a_full_disk(
    small_disk: Path, tmp_path: Path
) -> None:
    """While SQLite's filesystem is full, an incident's opening, a join and a leave, each
    queued with its alert without waiting, are held as three writes (never spilled or
    dropped) while the results around them pass the memory limit into the spill file;
    once space returns they land in order: the timeline as made, the members as the last
    change left them, every alert."""
    store = SQLiteStore(
        small_disk / "t.db",
        retry_min=0.0,
        retry_max=0.0,
        hold_limit=50,
        spill=tmp_path / "t.spill",
    )
    filler = fill(small_disk)
    detail = "x" * 2000
    for i in range(100):
        store.record(ProbeRecord("api", T0 + i, False, detail=detail))
    with pytest.raises(StoreError, match="full"):
        store.flush()
    first = Incident(**{**_fields(incident(1)), "members": {"api": Member(T0, alerted=True)}})
    store.commit_incident(first, [Alert("ops", "1:api", opened())], T0, opened=True)
    join = TimelineEntry(T0 + 1, "monitor down", "web is down too")
    both = {**first.members, "web": Member(T0 + 1, alerted=True)}
    second = Incident(**{**_fields(first), "members": both, "timeline": (*first.timeline, join)})
    store.commit_incident(second, [Alert("ops", "1:web", opened())], T0 + 1, entry=join)
    for i in range(100, 200):
        store.record(ProbeRecord("api", T0 + i, False, detail=detail))
    back = TimelineEntry(T0 + 2, "monitor up", "api is back up")
    third = Incident(**{**_fields(second), "members": {"web": both["web"]}})
    store.commit_incident(
        third, [Alert("ops", "1:api:up", opened())], T0 + 2, entry=back, touched=("api",)
    )
    with pytest.raises(StoreError, match="full"):
        store.flush()
    health = store.health()
    assert (health.up, health.held_writes, health.dropped) == (False, 3, 0)
    assert health.spilled > 0
    filler.unlink()
    store.flush()
    got = store.incident(1)
    assert got is not None
    assert got.timeline == (*first.timeline, join, back)
    assert dict(got.members) == {"web": both["web"]}
    sent = []
    while heads := store.alert_heads():
        sent += [head.dedup for head in heads]
        for head in heads:
            store.mark_delivered(head.id, T0)
    assert sent == ["1:api", "1:web", "1:api:up"]
    assert len(store.results("api", limit=1000)) == 200
    store.close()


def _fields(made: Incident) -> dict[str, Any]:
    return {name: getattr(made, name) for name in Incident.__slots__}


def test_an_alert_that_fails_while_the_disk_is_full_is_retried_not_fatal(
    small_disk: Path, receiver: Receiver, fast_retries: Override
) -> None:
    """A delivery fails while the disk is full (it used to end the monitor: recording
    the failure raised): the failure is held, and the alert is delivered once space
    returns."""
    store = SQLiteStore(small_disk / "t.db", retry_min=0.0, retry_max=0.0)
    store.enqueue_alert("ops", "1:api:opened", opened(), now=T0)
    channel = WebhookChannel("ops", receiver.url, policy=RetryPolicy(attempts=1, breaker=None))
    outbox = Outbox(store, {"ops": channel})
    (due,) = store.alert_heads()
    filler = fill(small_disk)
    detail = "x" * 2000
    for i in range(300):  # the WAL must grow: the failure's record cannot be written
        store.record(ProbeRecord("api", T0 + i, False, detail=detail))
    # The receiver is not started: the delivery fails.
    assert outbox.deliver_one(due, now=T0) is False
    with pytest.raises(StoreError):
        store.flush()
    assert store.health().held_writes == 1  # the failure's record, waiting
    filler.unlink()
    store.flush()
    (head,) = store.alert_heads()
    assert head.attempts == 1
    receiver.start()
    assert outbox.deliver_due(head.next_at) == (1, 0)
    assert len(receiver.got) == 1
    assert store.alert_heads() == []
    store.close()


def test_a_database_that_cannot_be_written_at_start_is_one_line_and_exit_2(
    small_disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A database on a read-only filesystem: `tether monitor` says so in one line and
    exits 2, before it probes anything."""
    db = small_disk / "tether.db"
    SQLiteStore(db).close()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    config = tmp_path / "tether.yaml"
    config.write_text(
        f'storage: {{path: "{db}"}}\nserver: {{listen: "127.0.0.1:{free_port()}"}}\n'
        "monitors:\n  - {name: api, url: 'http://127.0.0.1:9/'}\n"
    )
    assert main(["monitor", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("tether monitor: ")
    assert str(db) in err
    assert "Traceback" not in err


# -- PostgreSQL stopped and started --------------------------------------------------------


def test_postgres_stopped_holds_spills_and_writes_everything_back(
    own_postgres: PostgresServer, tmp_path: Path
) -> None:
    """PostgreSQL stops: results beyond the memory bound go to the spill file, the store
    is closed with some still held (they are spilled), and the next store, once the
    server is back, writes every one of them; the incident and alert written while the
    server was away by the first store are there too."""
    spill = tmp_path / "state" / "tether" / "pg.spill"  # made when first needed
    dsn = own_postgres.dsn()
    options: dict[str, Any] = {"spill": spill, "hold_limit": 40, "retry_min": 0.0, "retry_max": 0.0}
    store = PostgresStore(dsn, **options)
    store.record(ProbeRecord("api", T0, True))
    store.flush()
    own_postgres.halt()
    for i in range(1, 101):
        store.record(ProbeRecord("api", T0 + i, False, detail="down"))
    with pytest.raises(StoreError):
        store.flush()
    store.open_incident(incident(store.new_incident_id()))
    assert store.enqueue_alert("ops", "1:api:opened", opened(), now=T0)
    health = store.health()
    assert not health.up
    assert health.spilled > 0
    assert health.held + health.spilled == 100
    own_postgres.resume()
    store.flush()  # the server is back: everything held is written
    assert store.health().up
    assert store.health().spilled == 0
    assert not spill.exists()
    assert len(store.results("api", limit=1000)) == 101
    assert [a.dedup for a in store.alert_heads()] == ["1:api:opened"]
    # Down again, and stopped while down: what is held goes to the spill file.
    own_postgres.halt()
    for i in range(101, 131):
        store.record(ProbeRecord("api", T0 + i, False, detail="down"))
    with pytest.raises(StoreError):
        store.flush()
    store.close()
    assert spill.exists()
    own_postgres.resume()
    again = PostgresStore(dsn, **options)
    again.flush()  # a spill file an earlier run left is written at start
    assert len(again.results("api", limit=1000)) == 131
    assert not spill.exists()
    again.close()


def test_monitor_keeps_probing_while_postgres_is_stopped_and_alerts_after(
    own_postgres: PostgresServer, tmp_path: Path, lab: Lab, receiver: Receiver
) -> None:
    """`tether monitor` on PostgreSQL: the server stops, the monitor goes on (it used to
    exit within 5 s), a monitor that goes down meanwhile opens its incident, and once
    the server is back every result of the outage is stored and the alert delivered."""
    receiver.start()
    port = free_port()
    head = textwrap.dedent(
        f"""
        storage: {{postgres: "{own_postgres.dsn()}"}}
        server: {{listen: "127.0.0.1:{port}"}}
        alerts: [{{name: ops, type: webhook, url: "{receiver.url}"}}]
        monitors:
          - {{name: web, url: "{lab["healthy"].url}", interval: 1s, timeout: 500ms}}
        """
    )
    config = tmp_path / "tether.yaml"
    config.write_text(head)
    log = tmp_path / "monitor.log"
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}

    def count(sql: str) -> int:
        import psycopg

        try:
            return int(own_postgres.execute(sql)[0][0])
        except psycopg.errors.UndefinedTable:  # the monitor has not created it yet
            return 0

    with monitor(config, log, env=env) as proc:
        wait_for(lambda: count("SELECT count(*) FROM results") >= 1, proc)
        own_postgres.halt()
        halted = time.time()
        wait_for(lambda: "store: cannot write" in log.read_text(), proc)
        # The API and the dashboard say so, without a password.
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5)
        assert answer.value.code == 503
        body = json.loads(answer.value.read())
        assert body["store"]["up"] is False
        assert "the history cannot be read now" in body["error"]
        assert PASSWORD not in json.dumps(body)
        with pytest.raises(urllib.error.HTTPError) as page:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
        text = page.value.read().decode()
        assert "The history cannot be written" in text
        assert PASSWORD not in text
        refused = lab["refused"].url
        api = f'  - {{name: api, url: "{refused}", interval: 1s, timeout: 500ms, alerts: [ops]}}\n'
        config.write_text(head + api)
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "incident 1: opened" in log.read_text(), proc)
        resumed = time.time()
        assert proc.poll() is None
        own_postgres.resume()
        wait_for(lambda: "store: writing again" in log.read_text(), proc)
        wait_for(lambda: receiver.got, proc)
    outage = count(f"SELECT count(*) FROM results WHERE ts BETWEEN {halted} AND {resumed}")
    assert outage >= 3  # web and api were checked, and stored, while the server was away
    assert count("SELECT count(*) FROM incidents") == 1
    ((_, body),) = receiver.got
    assert json.loads(body)["event"] == "incident.opened"
    assert proc.returncode == 0
