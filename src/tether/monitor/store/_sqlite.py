"""SQLite history in WAL mode: one writer thread, batched writes, migrations, roll-ups.

Why this shape:
- WAL lets readers (``tether status``, the dashboard) read while the writer
  writes.  ``synchronous=NORMAL`` in WAL mode never loses a committed
  transaction when the *process* dies (``kill -9``); only a power cut can take
  back the last ones.
- One writer thread owns the only write connection, so there is never a
  ``database is locked`` between writers.  Probe results are batched (one
  transaction per ``batch_seconds`` or ``batch_size``), because one commit per
  result would cap throughput at the disk's fsync rate.
- An alert put in the outbox is committed before :meth:`enqueue_alert`
  returns: a queued alert must survive a crash even if results in flight do not.
- Raw results are kept for ``raw_retention`` seconds (7 days by default);
  roll-ups per minute, hour and day are kept for ``rollup_retention`` (1 year),
  so the file grows with monitors, not with time.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PERIODS = {"minute": 60, "hour": 3600, "day": 86400}

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


@dataclass(frozen=True, slots=True)
class ProbeRecord:
    """One stored probe result."""

    monitor: str
    ts: float
    ok: bool
    kind: str | None = None
    latency_ms: float | None = None
    detail: str | None = None
    data: dict[str, Any] | None = None
    """Phase timings, resolved conditions and the like, stored as JSON."""


@dataclass(frozen=True, slots=True)
class Rollup:
    monitor: str
    period: str
    start: float
    count: int
    ok_count: int
    latency_avg: float | None
    latency_min: float | None
    latency_max: float | None
    kinds: dict[str, int]


class StoreError(RuntimeError):
    """The database cannot be opened or is from a newer tether."""


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to date, one transaction per step; return the version."""
    version = schema_version(conn)
    if version > len(MIGRATIONS):
        raise StoreError(
            f"the database is at schema version {version}, newer than this tether knows "
            f"({len(MIGRATIONS)}): upgrade tether, or use another storage path"
        )
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


_STOP = object()


class SQLiteStore:
    """The monitor's store.  Thread-safe; writes go through one writer thread."""

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
        self._batch_size = batch_size
        self._batch_seconds = batch_seconds
        self._writer = _connect(self.path)
        migrate(self._writer)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._local = threading.local()
        self._thread = threading.Thread(target=self._write_loop, name="tether-store", daemon=True)
        self._closed = False
        self._thread.start()

    # -- writing ---------------------------------------------------------------------

    def record(self, record: ProbeRecord) -> None:
        """Queue a probe result; it is committed with the next batch."""
        self._queue.put(("result", record, None))

    def flush(self) -> None:
        """Wait until everything queued so far is committed."""
        self._call(lambda conn: None)

    def enqueue_alert(self, channel: str, dedup: str, payload: dict[str, Any], now: float) -> bool:
        """Put an alert in the outbox, committed before returning; False if ``dedup`` exists."""
        text = json.dumps(payload, sort_keys=True)

        def insert(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "INSERT OR IGNORE INTO outbox (channel, dedup, payload, created, next_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (channel, dedup, text, now, now),
            )
            return cur.rowcount == 1

        return bool(self._call(insert))

    def due_alerts(self, now: float, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._read().execute(
            "SELECT id, channel, dedup, payload, attempts FROM outbox "
            "WHERE delivered IS NULL AND next_at <= ? ORDER BY id LIMIT ?",
            (now, limit),
        )
        return [
            {
                "id": r[0],
                "channel": r[1],
                "dedup": r[2],
                "payload": json.loads(r[3]),
                "attempts": r[4],
            }
            for r in rows
        ]

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
        timeline = [{"at": now, "event": "opened", "detail": detail}]

        def insert(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT INTO incidents (key, kind, detail, hint, opened, monitors, timeline) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, kind, detail, hint, now, json.dumps(list(monitors)), json.dumps(timeline)),
            )
            return int(cur.lastrowid or 0)

        result: int = self._call(insert)
        return result

    def note_incident(
        self, incident_id: int, event: str, detail: str, now: float, *, resolve: bool = False
    ) -> None:
        """Add to an incident's timeline; ``resolve`` closes it at ``now``."""

        def update(conn: sqlite3.Connection) -> None:
            row = conn.execute(
                "SELECT timeline FROM incidents WHERE id = ?", (incident_id,)
            ).fetchone()
            timeline = json.loads(row[0]) if row else []
            timeline.append({"at": now, "event": event, "detail": detail})
            conn.execute(
                "UPDATE incidents SET timeline = ?, resolved = CASE WHEN ? THEN ? ELSE resolved "
                "END WHERE id = ?",
                (json.dumps(timeline), resolve, now, incident_id),
            )

        self._call(update)

    def incidents(self, *, open_only: bool = False, limit: int = 100) -> list[dict[str, Any]]:
        where = "WHERE resolved IS NULL " if open_only else ""
        rows = self._read().execute(
            "SELECT id, key, kind, detail, hint, opened, resolved, monitors, timeline "
            f"FROM incidents {where}ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [
            {
                "id": r[0],
                "key": r[1],
                "kind": r[2],
                "detail": r[3],
                "hint": r[4],
                "opened": r[5],
                "resolved": r[6],
                "monitors": json.loads(r[7]),
                "timeline": json.loads(r[8]),
            }
            for r in rows
        ]

    def save_state(self, monitor: str, data: dict[str, Any]) -> None:
        text = json.dumps(data, sort_keys=True)
        self._queue.put(("state", (monitor, text), None))

    def prune(self, now: float) -> tuple[int, int]:
        """Delete raw results and roll-ups past their retention; (results, roll-ups) removed."""

        def delete(conn: sqlite3.Connection) -> tuple[int, int]:
            raw = conn.execute("DELETE FROM results WHERE ts < ?", (now - self.raw_retention,))
            old = conn.execute(
                "DELETE FROM rollups WHERE start < ?", (now - self.rollup_retention,)
            )
            return raw.rowcount, old.rowcount

        result: tuple[int, int] = self._call(delete)
        return result

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()
        self._writer.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------

    def results(self, monitor: str, since: float = 0.0, limit: int = 1000) -> list[ProbeRecord]:
        rows = self._read().execute(
            "SELECT monitor, ts, ok, kind, latency_ms, detail, data FROM results "
            "WHERE monitor = ? AND ts >= ? ORDER BY ts DESC LIMIT ?",
            (monitor, since, limit),
        )
        return [
            ProbeRecord(r[0], r[1], bool(r[2]), r[3], r[4], r[5], json.loads(r[6])) for r in rows
        ]

    def rollups(self, monitor: str, period: str, since: float = 0.0) -> list[Rollup]:
        rows = self._read().execute(
            "SELECT monitor, period, start, count, ok_count, latency_count, latency_sum, "
            "latency_min, latency_max, kinds FROM rollups "
            "WHERE monitor = ? AND period = ? AND start >= ? ORDER BY start",
            (monitor, period, since),
        )
        out = []
        for r in rows:
            avg = r[6] / r[5] if r[5] else None
            out.append(Rollup(r[0], r[1], r[2], r[3], r[4], avg, r[7], r[8], json.loads(r[9])))
        return out

    def load_state(self) -> dict[str, dict[str, Any]]:
        rows = self._read().execute("SELECT monitor, data FROM monitor_state")
        return {m: json.loads(d) for m, d in rows}

    def _read(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _connect(self.path)
        return conn

    # -- the writer ------------------------------------------------------------------

    def _call(self, job: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``job`` on the writer in its own committed transaction, and wait for it."""
        if self._closed:
            raise StoreError("the store is closed")
        done: Future[Any] = Future()
        self._queue.put(("call", job, done))
        return done.result()

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            try:
                # Someone waits on a call: commit at once; results may wait for company.
                while item[0] != "call" and len(batch) < self._batch_size:
                    more = self._queue.get(timeout=self._batch_seconds)
                    if more is _STOP:
                        self._commit(batch)
                        return
                    batch.append(more)
                    if more[0] == "call":
                        break  # someone is waiting: commit now
            except queue.Empty:
                pass
            self._commit(batch)

    def _commit(self, batch: Sequence[tuple[str, Any, Future[Any] | None]]) -> None:
        conn = self._writer
        waiting: list[tuple[Future[Any], Any]] = []
        try:
            with _transaction(conn):
                results = [payload for what, payload, _ in batch if what == "result"]
                if results:
                    self._insert_results(conn, results)
                for what, payload, done in batch:
                    if what == "state":
                        conn.execute(
                            "INSERT INTO monitor_state (monitor, data) VALUES (?, ?) "
                            "ON CONFLICT (monitor) DO UPDATE SET data = excluded.data",
                            payload,
                        )
                    elif what == "call":
                        assert done is not None
                        waiting.append((done, payload(conn)))
        except Exception as exc:
            for _, _, done in batch:
                if done is not None and not done.done():
                    done.set_exception(exc)
            return
        for done, value in waiting:
            done.set_result(value)

    def _insert_results(self, conn: sqlite3.Connection, records: list[ProbeRecord]) -> None:
        conn.executemany(
            "INSERT INTO results (monitor, ts, ok, kind, latency_ms, detail, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r.monitor,
                    r.ts,
                    int(r.ok),
                    r.kind,
                    r.latency_ms,
                    r.detail,
                    json.dumps(r.data or {}, sort_keys=True),
                )
                for r in records
            ],
        )
        # Roll-ups are kept up to date as results arrive, so pruning raw rows
        # never loses what the long-term history needs.
        rows: dict[tuple[str, str, float], list[Any]] = {}
        for r in records:
            for period, seconds in PERIODS.items():
                key = (r.monitor, period, r.ts - r.ts % seconds)
                row = rows.setdefault(key, [0, 0, 0, 0.0, None, None, {}])
                row[0] += 1
                row[1] += int(r.ok)
                if r.latency_ms is not None:
                    row[2] += 1
                    row[3] += r.latency_ms
                    row[4] = r.latency_ms if row[4] is None else min(row[4], r.latency_ms)
                    row[5] = r.latency_ms if row[5] is None else max(row[5], r.latency_ms)
                if r.kind:
                    row[6][r.kind] = row[6].get(r.kind, 0) + 1
        for (monitor, period, start), (n, ok, timed, total, low, high, new) in rows.items():
            existing = conn.execute(
                "SELECT kinds FROM rollups WHERE monitor = ? AND period = ? AND start = ?",
                (monitor, period, start),
            ).fetchone()
            kinds = json.loads(existing[0]) if existing else {}
            for kind, count in new.items():
                kinds[kind] = kinds.get(kind, 0) + count
            conn.execute(
                "INSERT INTO rollups (monitor, period, start, count, ok_count, latency_count, "
                "latency_sum, latency_min, latency_max, kinds) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (monitor, period, start) DO UPDATE SET "
                "count = count + excluded.count, ok_count = ok_count + excluded.ok_count, "
                "latency_count = latency_count + excluded.latency_count, "
                "latency_sum = latency_sum + excluded.latency_sum, "
                "latency_min = min(coalesce(latency_min, excluded.latency_min), "
                "coalesce(excluded.latency_min, latency_min)), "
                "latency_max = max(coalesce(latency_max, excluded.latency_max), "
                "coalesce(excluded.latency_max, latency_max)), kinds = excluded.kinds",
                (
                    monitor,
                    period,
                    start,
                    n,
                    ok,
                    timed,
                    total,
                    low,
                    high,
                    json.dumps(kinds, sort_keys=True),
                ),
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
