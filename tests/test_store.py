"""The monitor's stores: the same behaviour on SQLite and PostgreSQL, and what each adds.

The behavioural tests run once per backend (``[sqlite]``, ``[postgres]``).  SQLite
files live in tmp_path; PostgreSQL is a real server the session starts on
loopback (tests/postgres_server.py), each test in an empty schema of its own.
Nothing is mocked.  Times are passed in, never read.
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from postgres_server import PASSWORD, PostgresServer, free_port
from tether.cli import main
from tether.monitor.config import Storage
from tether.monitor.store import (
    PostgresStore,
    ProbeRecord,
    SQLiteStore,
    Store,
    StoreError,
    open_store,
)
from tether.monitor.store import _postgres as pg
from tether.monitor.store._sqlite import MIGRATIONS, migrate, schema_version

T0 = 1_700_000_000.0
MINUTE = T0 - T0 % 60  # the start of T0's minute


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh store lives: an SQLite file, or a PostgreSQL URL with an empty schema."""
    if request.param == "sqlite":
        return str(tmp_path / "t.db")
    return str(request.getfixturevalue("postgres_dsn"))


def open_target(target: str, **options: Any) -> Store:
    if target.startswith("postgresql://"):
        return PostgresStore(target, **options)
    return SQLiteStore(target, **options)


def schema_of(dsn: str) -> str:
    return dsn.rpartition("%3D")[2]


# -- the same behaviour on both backends ---------------------------------------------------


def test_reopening_an_up_to_date_store_keeps_its_rows(target: str) -> None:
    """Reopening a migrated store runs no migration and keeps its rows."""
    with open_target(target) as store:
        store.record(ProbeRecord("api", T0, True, latency_ms=5.0))
    with open_target(target) as store:
        assert len(store.results("api")) == 1


def test_results_round_trip_with_their_data(target: str) -> None:
    """A recorded result reads back with every field, newest first."""
    with open_target(target) as store:
        store.record(ProbeRecord("api", T0, True, latency_ms=12.5, data={"phases": {"dns": 1}}))
        store.record(ProbeRecord("api", T0 + 30, False, kind="connect.refused", detail="refused"))
        store.flush()
        got = store.results("api")
    assert [r.ts for r in got] == [T0 + 30, T0]
    assert got[0] == ProbeRecord("api", T0 + 30, False, "connect.refused", None, "refused", {})
    assert got[1].data == {"phases": {"dns": 1}}


def test_rollups_count_success_latency_and_kinds_per_minute_hour_and_day(target: str) -> None:
    """Three results in one minute roll up to counts, average, min, max and kinds."""
    with open_target(target) as store:
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


def test_prune_drops_raw_results_past_retention_but_keeps_rollups(target: str) -> None:
    """After 7 days raw rows and their minute roll-ups go; the hour and day roll-ups that
    summarise them stay for the roll-up retention (a year)."""
    with open_target(target) as store:
        store.record(ProbeRecord("api", T0, True, latency_ms=1.0))
        store.record(ProbeRecord("api", T0 + 8 * 86400, True, latency_ms=1.0))
        store.flush()
        removed = store.prune(now=T0 + 8 * 86400)
        assert removed == (1, 1)  # the old result, and its minute
        assert [r.ts for r in store.results("api")] == [T0 + 8 * 86400]
        assert [m.start for m in store.rollups("api", "minute")] == [MINUTE + 8 * 86400]
        assert sum(h.count for h in store.rollups("api", "hour")) == 2
        assert sum(d.count for d in store.rollups("api", "day")) == 2
        removed = store.prune(now=T0 + 400 * 86400)
        assert removed[1] > 0
        assert store.rollups("api", "day") == []


def test_outbox_deduplicates_and_schedules_retries(target: str) -> None:
    """The same dedup key queues once; a failure moves next_at; delivery removes it."""
    with open_target(target) as store:
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


def test_incidents_keep_their_timeline_until_resolved(target: str) -> None:
    """An incident reads back with its monitors (updated as they join) and every timeline
    entry; resolving it takes it off the open list but not off the history."""
    with open_target(target) as store:
        first = store.open_incident("h:c", "connect.refused", "refused", "start it", ["a"], T0)
        second = store.open_incident("dns", "dns.timeout", "no answer", "check", ["b", "c"], T0 + 5)
        store.note_incident(first, "monitor down", "b is down too", T0 + 10, monitors=["b", "a"])
        store.note_incident(first, "monitor up", "a is up", T0 + 60, resolve=True)
        still_open = store.incidents(open_only=True)
        everything = store.incidents()
    assert [i["id"] for i in still_open] == [second]
    assert [i["id"] for i in everything] == [second, first]
    done = everything[1]
    assert (done["key"], done["kind"], done["hint"]) == ("h:c", "connect.refused", "start it")
    assert (done["opened"], done["resolved"], done["monitors"]) == (T0, T0 + 60, ["a", "b"])
    assert [(e["at"], e["event"]) for e in done["timeline"]] == [
        (T0, "opened"),
        (T0 + 10, "monitor down"),
        (T0 + 60, "monitor up"),
    ]
    assert everything[0]["monitors"] == ["b", "c"]


def test_monitor_state_survives_a_reopen(target: str) -> None:
    """Saved detector state comes back after the store is closed and opened again."""
    with open_target(target) as store:
        store.save_state("api", {"state": "down", "failures": 3})
        store.save_state("api", {"state": "up", "failures": 0})
    with open_target(target) as store:
        assert store.load_state() == {"api": {"state": "up", "failures": 0}}


def test_a_closed_store_refuses_writes(target: str) -> None:
    """Using a closed store is an error, not a silent loss."""
    store = open_target(target)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.flush()


def test_a_batch_that_cannot_be_written_is_logged_and_the_next_one_is_stored(
    target: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A result that cannot be stored fails its own batch, loudly; the store goes on."""
    with open_target(target, batch_seconds=5.0) as store:  # the flush joins the bad batch
        store.record(ProbeRecord("api", T0, True, data={"bad": object()}))
        with pytest.raises(TypeError):
            store.flush()
        store.record(ProbeRecord("api", T0 + 1, True))
        store.flush()
        assert [r.ts for r in store.results("api")] == [T0 + 1]
    assert "1 results and 0 states were not written" in caplog.text


_CHILD = textwrap.dedent(
    """
    import sys
    from tether.monitor.store import PostgresStore, ProbeRecord, SQLiteStore
    target = sys.argv[1]
    kind = PostgresStore if target.startswith("postgresql://") else SQLiteStore
    store = kind(target, batch_seconds=0.05)
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
def test_kill_9_loses_no_committed_result_or_queued_alert(target: str) -> None:
    """A writer killed with SIGKILL mid-run leaves every flushed result and the alert intact,
    and no batch half-written: the roll-ups count exactly the stored results."""
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, target], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "committed"
    # The child goes on writing, so the signal lands with batches in flight.
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    child.stdout.close()
    if not target.startswith("postgresql://"):
        conn = sqlite3.connect(target)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
    with open_target(target) as store:  # and it opens again for the next run
        stored = {r.ts for r in store.results("api", limit=100_000)}
        assert {1000.0 + i for i in range(200)} <= stored
        assert [a["dedup"] for a in store.due_alerts(now=1000.0)] == ["api:open"]
        assert sum(d.count for d in store.rollups("api", "day")) == len(stored)


# -- SQLite only ---------------------------------------------------------------------------


def test_a_new_database_is_migrated_to_the_latest_schema_in_wal_mode(tmp_path: Path) -> None:
    """Opening a new file creates every table at the newest version, with WAL on."""
    with SQLiteStore(tmp_path / "t.db"):
        pass
    conn = sqlite3.connect(tmp_path / "t.db")
    assert schema_version(conn) == len(MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"results", "rollups", "outbox", "incidents", "monitor_state"} <= tables
    conn.close()


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


# -- PostgreSQL only -----------------------------------------------------------------------


def versions(server: PostgresServer, schema: str) -> list[int]:
    return [r[0] for r in server.execute(f"SELECT version FROM {schema}.tether_schema ORDER BY 1")]


def test_postgres_migrates_once_with_jsonb_columns_and_a_reopen_adds_nothing(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    """A new schema gets every table, JSONB where JSON is kept, and one tether_schema row
    per migration; opening it again adds no row."""
    schema = schema_of(postgres_dsn)
    with PostgresStore(postgres_dsn):
        pass
    with PostgresStore(postgres_dsn):
        pass
    assert versions(postgres_server, schema) == list(range(1, len(pg.MIGRATIONS) + 1))
    jsonb = postgres_server.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = %s AND data_type = 'jsonb'",
        (schema,),
    )
    assert set(jsonb) == {
        ("results", "data"),
        ("rollups", "kinds"),
        ("outbox", "payload"),
        ("incidents", "monitors"),
        ("incidents", "timeline"),
        ("monitor_state", "data"),
    }


def test_postgres_concurrent_opens_migrate_once(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    """Four tethers opening one empty schema at the same moment all succeed, and each
    migration is applied exactly once."""
    barrier = threading.Barrier(4)

    def open_one() -> None:
        barrier.wait(timeout=10)
        with PostgresStore(postgres_dsn):
            pass

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(open_one) for _ in range(4)]:
            future.result(timeout=30)
    assert versions(postgres_server, schema_of(postgres_dsn)) == list(
        range(1, len(pg.MIGRATIONS) + 1)
    )


def test_postgres_migration_waits_for_the_advisory_lock(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    """While another session holds the migration lock, opening a store waits on it, and
    migrates once it is released."""
    import psycopg

    holder = psycopg.connect(postgres_server.dsn(), autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", (pg.MIGRATION_LOCK,))
    try:
        with ThreadPoolExecutor(1) as pool:
            opening = pool.submit(PostgresStore, postgres_dsn)
            give_up = time.monotonic() + 10
            waiting: list[tuple[Any, ...]] = []
            while not waiting and not opening.done() and time.monotonic() < give_up:
                time.sleep(0.01)  # polling the real server's lock table, bounded above
                waiting = postgres_server.execute(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                )
            assert waiting, "the store did not wait on the advisory lock"
            assert not opening.done()
            holder.execute("SELECT pg_advisory_unlock(%s)", (pg.MIGRATION_LOCK,))
            opening.result(timeout=10).close()
    finally:
        holder.close()
    assert versions(postgres_server, schema_of(postgres_dsn)) == list(
        range(1, len(pg.MIGRATIONS) + 1)
    )


def test_postgres_schema_from_a_newer_tether_is_refused(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    """A tether_schema version above what this tether knows is a StoreError saying so."""
    with PostgresStore(postgres_dsn):
        pass
    newer = len(pg.MIGRATIONS) + 1
    postgres_server.execute(
        f"INSERT INTO {schema_of(postgres_dsn)}.tether_schema (version) VALUES (%s)", (newer,)
    )
    with pytest.raises(StoreError, match="newer than this tether knows"):
        PostgresStore(postgres_dsn)


def assert_no_password(error: BaseException, password: str, *more: str) -> None:
    # No chained original either: it would print with the traceback.
    assert error.__cause__ is None
    assert error.__context__ is None
    shown = "".join(traceback.format_exception_only(error)) + repr(error) + "".join(more)
    assert password not in shown


def test_postgres_refused_connection_names_the_server_but_never_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A refused connection is a StoreError with the redacted URL and the reason; the
    password is in no message, traceback, repr or log line."""
    pytest.importorskip("psycopg")
    caplog.set_level(logging.DEBUG)
    port = free_port()  # bound a moment ago, now closed: connections are refused
    with pytest.raises(StoreError) as info:
        PostgresStore(f"postgresql://tether:{PASSWORD}@127.0.0.1:{port}/tether")
    message = str(info.value)
    assert message.startswith(f"postgresql://tether:***@127.0.0.1:{port}/tether: cannot connect")
    assert "refused" in message.lower()
    assert_no_password(info.value, PASSWORD, caplog.text)


@pytest.mark.parametrize(
    ("dsn", "reason"),
    [
        (f"postgresql://tether:{PASSWORD}@127.0.0.1:notaport/tether", "port"),
        (f"postgresql://tether:{PASSWORD}@127.0.0.1/tether?sslmode=bogus", "sslmode"),
        (f"postgresql://tether:{PASSWORD}@127.0.0.1/tether?colour=blue", "colour"),
        # libpq quotes the whole URL in this one.
        (f"postgresql://tether:{PASSWORD}@[::1/tether", "IPv6"),
        # ... and the password can come percent-encoded or in the query.
        ("postgresql://tether:a%2Fb%40c-Secret@[::1/tether", "IPv6"),
        (f"postgresql://127.0.0.1:notaport/tether?password={PASSWORD}", "port"),
    ],
)
def test_postgres_bad_url_is_a_clear_error_without_the_password(dsn: str, reason: str) -> None:
    """A URL libpq cannot use gives a StoreError naming what is wrong, never the password."""
    pytest.importorskip("psycopg")
    with pytest.raises(StoreError, match=reason) as info:
        PostgresStore(dsn)
    assert_no_password(info.value, PASSWORD)
    assert_no_password(info.value, "a/b@c-Secret")
    assert_no_password(info.value, "a%2Fb%40c-Secret")


def test_postgres_wrong_password_is_refused_by_the_server_without_echoing_it(
    postgres_server: PostgresServer,
) -> None:
    """The real server refusing a password gives a StoreError saying so, password masked."""
    with pytest.raises(StoreError, match="password authentication failed") as info:
        PostgresStore(postgres_server.dsn(password="Wrong-Secret-99"))
    assert "tether:***@" in str(info.value)
    assert_no_password(info.value, "Wrong-Secret-99")


def test_postgres_store_reconnects_when_the_server_drops_its_sessions(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    """When the server ends the store's sessions, the next batch and the next read go
    through new connections, and nothing is lost."""
    with PostgresStore(f"{postgres_dsn}&application_name=dropped") as store:
        store.record(ProbeRecord("api", T0, True))
        store.flush()
        assert len(store.results("api")) == 1  # the read connection is open too
        ended = postgres_server.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'dropped'"
        )
        assert len(ended) == 2
        store.record(ProbeRecord("api", T0 + 1, True))
        assert store.enqueue_alert("ops", "api:open", {"text": "down"}, now=T0)
        assert [r.ts for r in store.results("api")] == [T0 + 1, T0]


def test_open_store_picks_the_backend_the_storage_section_names(
    postgres_dsn: str, tmp_path: Path
) -> None:
    """storage.postgres opens PostgreSQL (its repr masking the password); without it the
    SQLite file at storage.path is used."""
    with open_store(Storage(postgres=postgres_dsn, raw_retention="60s")) as store:
        assert isinstance(store, PostgresStore)
        assert store.raw_retention == 60
        assert "tether:***@127.0.0.1" in repr(store)
        assert PASSWORD not in repr(store)
    with open_store(Storage(path=str(tmp_path / "x.db"))) as store:
        assert isinstance(store, SQLiteStore)
    assert (tmp_path / "x.db").exists()


def test_postgres_without_psycopg_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without psycopg installed (hidden from import here: a missing package cannot be
    installed for one test), a postgres storage says what to install."""
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(StoreError, match=r"pip install 'tether\[postgres\]'"):
        open_store(Storage(postgres="postgresql://tether@127.0.0.1:5432/tether"))


def test_cli_with_an_unreachable_postgres_says_why_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tether status` on a refused PostgreSQL exits 1 with the reason and the masked URL,
    not a traceback."""
    pytest.importorskip("psycopg")
    port = free_port()
    config = tmp_path / "tether.yaml"
    config.write_text(
        f"storage: {{postgres: 'postgresql://tether:{PASSWORD}@127.0.0.1:{port}/tether'}}\n"
        "monitors: [{name: api, url: 'http://127.0.0.1:9/'}]\n"
    )
    assert main(["status", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"tether status: postgresql://tether:***@127.0.0.1:{port}/tether: ")
    assert "refused" in err.lower()
    assert PASSWORD not in err
    assert "Traceback" not in err
