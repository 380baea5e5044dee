"""The SQLite store: migrations, batched writes, roll-ups, outbox, retention, crash safety.

Real SQLite files in tmp_path; nothing is mocked.  Times are passed in, never read.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tether.monitor.store import ProbeRecord, SQLiteStore
from tether.monitor.store._sqlite import MIGRATIONS, StoreError, migrate, schema_version

T0 = 1_700_000_000.0
MINUTE = T0 - T0 % 60  # the start of T0's minute


def test_a_new_database_is_migrated_to_the_latest_schema_in_wal_mode(tmp_path: Path) -> None:
    """Opening a new file creates every table at the newest version, with WAL on."""
    with SQLiteStore(tmp_path / "t.db"):
        pass
    conn = sqlite3.connect(tmp_path / "t.db")
    assert schema_version(conn) == len(MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"results", "rollups", "outbox", "incidents", "monitor_state"} <= tables


def test_migrating_twice_changes_nothing(tmp_path: Path) -> None:
    """Reopening an up-to-date database runs no migration and keeps its rows."""
    with SQLiteStore(tmp_path / "t.db") as store:
        store.record(ProbeRecord("api", T0, True, latency_ms=5.0))
    with SQLiteStore(tmp_path / "t.db") as store:
        assert len(store.results("api")) == 1


def test_a_database_from_a_newer_tether_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    """A schema version above what this tether knows is an error that says what to do."""
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    migrate(conn)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this tether knows"):
        SQLiteStore(tmp_path / "t.db")


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    """Garbage in the storage path gives a StoreError naming the file, not a traceback."""
    bad = tmp_path / "t.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"t\.db"):
        SQLiteStore(bad)


def test_results_round_trip_with_their_data(tmp_path: Path) -> None:
    """A recorded result reads back with every field, newest first."""
    with SQLiteStore(tmp_path / "t.db") as store:
        store.record(ProbeRecord("api", T0, True, latency_ms=12.5, data={"phases": {"dns": 1}}))
        store.record(ProbeRecord("api", T0 + 30, False, kind="connect.refused", detail="refused"))
        store.flush()
        got = store.results("api")
    assert [r.ts for r in got] == [T0 + 30, T0]
    assert got[0] == ProbeRecord("api", T0 + 30, False, "connect.refused", None, "refused", {})
    assert got[1].data == {"phases": {"dns": 1}}


def test_rollups_count_success_latency_and_kinds_per_minute_hour_and_day(tmp_path: Path) -> None:
    """Three results in one minute roll up to counts, average, min, max and kinds."""
    with SQLiteStore(tmp_path / "t.db") as store:
        store.record(ProbeRecord("api", MINUTE + 1, True, latency_ms=10.0))
        store.record(ProbeRecord("api", MINUTE + 2, True, latency_ms=30.0))
        store.flush()  # a second batch merges into the same rows
        store.record(ProbeRecord("api", MINUTE + 3, False, kind="read.timeout"))
        store.record(ProbeRecord("api", MINUTE + 61, False, kind="read.timeout"))
        store.flush()
        minutes = store.rollups("api", "minute")
        hours = store.rollups("api", "hour")
        days = store.rollups("api", "day")
    assert [(m.start, m.count, m.ok_count) for m in minutes] == [
        (MINUTE, 3, 2),
        (MINUTE + 60, 1, 0),
    ]
    first = minutes[0]
    assert first.latency_avg == 20.0
    assert (first.latency_min, first.latency_max) == (10.0, 30.0)
    assert first.kinds == {"read.timeout": 1}
    assert sum(h.count for h in hours) == 4
    assert sum(d.count for d in days) == 4
    assert sum(h.kinds.get("read.timeout", 0) for h in hours) == 2


def test_prune_drops_raw_results_past_retention_but_keeps_rollups(tmp_path: Path) -> None:
    """After 7 days raw rows go; the day roll-up that summarises them stays."""
    with SQLiteStore(tmp_path / "t.db") as store:
        store.record(ProbeRecord("api", T0, True, latency_ms=1.0))
        store.record(ProbeRecord("api", T0 + 8 * 86400, True, latency_ms=1.0))
        store.flush()
        removed = store.prune(now=T0 + 8 * 86400)
        assert removed == (1, 0)
        assert [r.ts for r in store.results("api")] == [T0 + 8 * 86400]
        assert sum(d.count for d in store.rollups("api", "day")) == 2
        removed = store.prune(now=T0 + 400 * 86400)
        assert removed[1] > 0


def test_outbox_deduplicates_and_schedules_retries(tmp_path: Path) -> None:
    """The same dedup key queues once; a failure moves next_at; delivery removes it."""
    with SQLiteStore(tmp_path / "t.db") as store:
        assert store.enqueue_alert("ops", "api:open:1", {"text": "api is down"}, now=T0)
        assert not store.enqueue_alert("ops", "api:open:1", {"text": "again"}, now=T0 + 1)
        (due,) = store.due_alerts(now=T0)
        assert due["payload"] == {"text": "api is down"}
        store.mark_failed(due["id"], "connection refused", retry_at=T0 + 30)
        assert store.due_alerts(now=T0 + 29) == []
        (again,) = store.due_alerts(now=T0 + 30)
        assert again["attempts"] == 1
        store.mark_delivered(again["id"], now=T0 + 31)
        assert store.due_alerts(now=T0 + 1000) == []


def test_monitor_state_survives_a_reopen(tmp_path: Path) -> None:
    """Saved detector state comes back after the store is closed and opened again."""
    with SQLiteStore(tmp_path / "t.db") as store:
        store.save_state("api", {"state": "down", "failures": 3})
        store.save_state("api", {"state": "up", "failures": 0})
    with SQLiteStore(tmp_path / "t.db") as store:
        assert store.load_state() == {"api": {"state": "up", "failures": 0}}


def test_a_closed_store_refuses_writes(tmp_path: Path) -> None:
    """Using a closed store is an error, not a silent loss."""
    store = SQLiteStore(tmp_path / "t.db")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.flush()


_CHILD = textwrap.dedent(
    """
    import sys, time
    from tether.monitor.store import ProbeRecord, SQLiteStore
    store = SQLiteStore(sys.argv[1], batch_seconds=0.05)
    for i in range(200):
        store.record(ProbeRecord("api", 1000.0 + i, True, latency_ms=1.0))
    store.flush()
    store.enqueue_alert("ops", "api:open", {"text": "down"}, now=1000.0)
    print("committed", flush=True)
    i = 200
    while True:  # keep writing until killed
        store.record(ProbeRecord("api", 1000.0 + i, True, latency_ms=1.0))
        i += 1
        if i % 50 == 0:
            store.flush()
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_9_loses_no_committed_result_or_queued_alert(tmp_path: Path) -> None:
    """A writer killed with SIGKILL mid-run leaves every flushed result and the alert intact."""
    path = tmp_path / "t.db"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "committed"
    # The child goes on writing, so the signal lands with batches in flight.
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    child.stdout.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {r[0] for r in conn.execute("SELECT ts FROM results")}
    assert {1000.0 + i for i in range(200)} <= stored
    assert conn.execute("SELECT count(*) FROM outbox WHERE dedup = 'api:open'").fetchone()[0] == 1
    conn.close()
    with SQLiteStore(path) as store:  # and it opens again for the next run
        assert len(store.results("api", limit=10_000)) == len(stored)
