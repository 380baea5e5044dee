"""SQLite history in WAL mode: one writer thread, batched writes, migrations, roll-ups.

Why this shape:
- WAL lets readers (``tether status``, the dashboard) read while the writer
  writes.  ``synchronous=NORMAL`` in WAL mode never loses a committed
  transaction when the *process* dies (``kill -9``); only a power cut can take
  back the last ones.
- One writer thread owns the only write connection (see ``_writer.py``), so
  there is never a ``database is locked`` between writers, and probe results
  are committed in batches.
- An alert put in the outbox is committed before :meth:`enqueue_alert`
  returns: a queued alert must survive a crash even if results in flight do not.
- Raw results are kept for ``raw_retention`` seconds (7 days by default);
  roll-ups per minute, hour and day are kept for ``rollup_retention`` (1 year),
  so the file grows with monitors, not with time.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tether.monitor.store._base import (
    ALERT_COLUMNS,
    INCIDENT_COLUMNS,
    PERIODS,
    RESULT_COLUMNS,
    TALLY_COLUMNS,
    ProbeRecord,
    Rollup,
    RollupKey,
    StoreError,
    Tally,
    alert_dict,
    incident_dict,
    merge_tallies,
    probe_record,
    tally,
    timeline_event,
    too_new,
)
from tether.monitor.store._writer import BatchedStore, Job

__all__ = [
    "MIGRATIONS",
    "PERIODS",
    "ProbeRecord",
    "Rollup",
    "SQLiteStore",
    "StoreError",
    "migrate",
    "schema_version",
]

# Each entry moves the schema one version up; never edit one that has shipped.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE results (
        id INTEGER PRIMARY KEY,
        monitor TEXT NOT NULL,
        ts REAL NOT NULL,
        ok INTEGER NOT NULL,
        kind TEXT,
        latency_ms REAL,
        detail TEXT,
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX results_by_monitor ON results (monitor, ts);
    CREATE TABLE rollups (
        monitor TEXT NOT NULL,
        period TEXT NOT NULL,
        start REAL NOT NULL,
        count INTEGER NOT NULL,
        ok_count INTEGER NOT NULL,
        latency_count INTEGER NOT NULL,
        latency_sum REAL NOT NULL,
        latency_min REAL,
        latency_max REAL,
        kinds TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (monitor, period, start)
    ) WITHOUT ROWID;
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        channel TEXT NOT NULL,
        dedup TEXT NOT NULL UNIQUE,
        payload TEXT NOT NULL,
        created REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at REAL NOT NULL,
        delivered REAL,
        last_error TEXT
    );
    CREATE INDEX outbox_due ON outbox (delivered, next_at);
    CREATE TABLE incidents (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL,
        hint TEXT NOT NULL,
        opened REAL NOT NULL,
        resolved REAL,
        monitors TEXT NOT NULL DEFAULT '[]',
        timeline TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX incidents_open ON incidents (resolved, key);
    CREATE TABLE monitor_state (
        monitor TEXT PRIMARY KEY,
        data TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to date, one transaction per step; return the version."""
    version = schema_version(conn)
    if version > len(MIGRATIONS):
        raise too_new(version, len(MIGRATIONS), "storage path")
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in (s.strip() for s in script.split(";")):
                if statement:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)


def _connect(path: str | Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot open the database: {exc}") from None
    return conn


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class SQLiteStore(BatchedStore[sqlite3.Connection]):
    """The monitor's store in one SQLite file.  Thread-safe; writes go through one writer thread."""

    def __init__(
        self,
        path: str | Path,
        *,
        raw_retention: float = 7 * 86400,
        rollup_retention: float = 365 * 86400,
        batch_size: int = 500,
        batch_seconds: float = 0.2,
    ) -> None:
        self.path = Path(path)
        self.raw_retention = raw_retention
        self.rollup_retention = rollup_retention
        self._writer = _connect(self.path)
        migrate(self._writer)
        self._local = threading.local()
        super().__init__(batch_size=batch_size, batch_seconds=batch_seconds)

    def __repr__(self) -> str:
        return f"<SQLiteStore {self.path}>"

    # -- writing ---------------------------------------------------------------------

    def enqueue_alert(self, channel: str, dedup: str, payload: dict[str, Any], now: float) -> bool:
        """Put an alert in the outbox, committed before returning; False if ``dedup`` exists."""
        text = _dumps(payload)

        def insert(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "INSERT OR IGNORE INTO outbox (channel, dedup, payload, created, next_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (channel, dedup, text, now, now),
            )
            return cur.rowcount == 1

        return self._call(insert)

    def mark_delivered(self, alert_id: int, now: float) -> None:
        self._call(
            lambda c: c.execute("UPDATE outbox SET delivered = ? WHERE id = ?", (now, alert_id))
        )

    def mark_failed(self, alert_id: int, error: str, retry_at: float) -> None:
        self._call(
            lambda c: c.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_at = ? "
                "WHERE id = ?",
                (error, retry_at, alert_id),
            )
        )

    def open_incident(
        self, key: str, kind: str, detail: str, hint: str, monitors: Sequence[str], now: float
    ) -> int:
        """Open an incident (committed on return) and return its id."""
        timeline = [timeline_event(now, "opened", detail)]

        def insert(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT INTO incidents (key, kind, detail, hint, opened, monitors, timeline) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, kind, detail, hint, now, _dumps(list(monitors)), _dumps(timeline)),
            )
            return int(cur.lastrowid or 0)

        return self._call(insert)

    def note_incident(
        self,
        incident_id: int,
        event: str,
        detail: str,
        now: float,
        *,
        resolve: bool = False,
        monitors: Sequence[str] | None = None,
    ) -> None:
        """Add to an incident's timeline; ``resolve`` closes it at ``now``; ``monitors``,
        when given, replaces the list of monitors it affects."""
        affected = None if monitors is None else _dumps(sorted(monitors))

        def update(conn: sqlite3.Connection) -> None:
            row = conn.execute(
                "SELECT timeline FROM incidents WHERE id = ?", (incident_id,)
            ).fetchone()
            timeline = json.loads(row[0]) if row else []
            timeline.append(timeline_event(now, event, detail))
            conn.execute(
                "UPDATE incidents SET timeline = ?, resolved = CASE WHEN ? THEN ? ELSE resolved "
                "END, monitors = coalesce(?, monitors) WHERE id = ?",
                (_dumps(timeline), resolve, now, affected, incident_id),
            )

        self._call(update)

    def prune(self, now: float) -> tuple[int, int]:
        """Delete raw results and roll-ups past their retention; (results, roll-ups) removed."""

        def delete(conn: sqlite3.Connection) -> tuple[int, int]:
            raw = conn.execute("DELETE FROM results WHERE ts < ?", (now - self.raw_retention,))
            # Minute roll-ups go with the raw results: at a 60 s interval they are one row
            # per check, and a year of them is what roll-ups exist to avoid.
            old = conn.execute(
                "DELETE FROM rollups WHERE start < CASE WHEN period = 'minute' THEN ? ELSE ? END",
                (now - self.raw_retention, now - self.rollup_retention),
            )
            return raw.rowcount, old.rowcount

        return self._call(delete)

    # -- reading ---------------------------------------------------------------------

    def due_alerts(self, now: float, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._read().execute(
            f"SELECT {ALERT_COLUMNS} FROM outbox "
            "WHERE delivered IS NULL AND next_at <= ? ORDER BY id LIMIT ?",
            (now, limit),
        )
        return [alert_dict(r, json.loads) for r in rows]

    def incidents(self, *, open_only: bool = False, limit: int = 100) -> list[dict[str, Any]]:
        where = "WHERE resolved IS NULL " if open_only else ""
        rows = self._read().execute(
            f"SELECT {INCIDENT_COLUMNS} FROM incidents {where}ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [incident_dict(r, json.loads) for r in rows]

    def results(self, monitor: str, since: float = 0.0, limit: int = 1000) -> list[ProbeRecord]:
        rows = self._read().execute(
            f"SELECT {RESULT_COLUMNS} FROM results "
            "WHERE monitor = ? AND ts >= ? ORDER BY ts DESC LIMIT ?",
            (monitor, since, limit),
        )
        return [probe_record(r, json.loads) for r in rows]

    def rollups(self, monitor: str, period: str, since: float = 0.0) -> list[Rollup]:
        rows = self._read().execute(
            f"SELECT start, {TALLY_COLUMNS} FROM rollups "
            "WHERE monitor = ? AND period = ? AND start >= ? ORDER BY start",
            (monitor, period, since),
        )
        return [Tally.from_row(r[1:], json.loads).rollup(monitor, period, r[0]) for r in rows]

    def load_state(self) -> dict[str, dict[str, Any]]:
        rows = self._read().execute("SELECT monitor, data FROM monitor_state")
        return {m: json.loads(d) for m, d in rows}

    def _read(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _connect(self.path)
        return conn

    # -- the writer's side -----------------------------------------------------------

    def _apply(
        self,
        results: list[ProbeRecord],
        states: dict[str, dict[str, Any]],
        jobs: list[Job[sqlite3.Connection]],
    ) -> list[Any]:
        conn = self._writer
        with _transaction(conn):
            if results:
                self._insert_results(conn, results)
            conn.executemany(
                "INSERT INTO monitor_state (monitor, data) VALUES (?, ?) "
                "ON CONFLICT (monitor) DO UPDATE SET data = excluded.data",
                [(monitor, _dumps(data)) for monitor, data in states.items()],
            )
            return [job(conn) for job in jobs]

    def _release(self) -> None:
        self._writer.close()

    def _insert_results(self, conn: sqlite3.Connection, records: list[ProbeRecord]) -> None:
        conn.executemany(
            f"INSERT INTO results ({RESULT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r.monitor,
                    r.ts,
                    int(r.ok),
                    r.kind,
                    r.latency_ms,
                    r.detail,
                    _dumps(r.data or {}),
                )
                for r in records
            ],
        )
        # Roll-ups are kept up to date as results arrive, so pruning raw rows
        # never loses what the long-term history needs.
        new = tally(records)
        stored: dict[RollupKey, Tally] = {}
        for key in new:
            row = conn.execute(
                f"SELECT {TALLY_COLUMNS} FROM rollups "
                "WHERE monitor = ? AND period = ? AND start = ?",
                key,
            ).fetchone()
            if row:
                stored[key] = Tally.from_row(row, json.loads)
        conn.executemany(
            f"INSERT OR REPLACE INTO rollups (monitor, period, start, {TALLY_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*key, *t.row(_dumps)) for key, t in merge_tallies(new, stored).items()],
        )


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
