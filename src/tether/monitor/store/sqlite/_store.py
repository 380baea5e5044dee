"""SQLite history in WAL mode: one writer thread, batched writes, migrations, roll-ups.

Why this shape:
- WAL lets readers (``tether status``, the dashboard) read while the writer
  writes.  ``synchronous=NORMAL`` in WAL mode never loses a committed
  transaction when the *process* dies (``kill -9``); only a power cut can take
  back the last ones.
- One writer thread owns the only write connection (see ``_writer.py``), so
  there is never a ``database is locked`` between writers, and probe results
  are committed in batches.
- An alert put in the outbox by :meth:`enqueue_alert` is committed before it
  returns; one put by :meth:`post_alert` (the monitor's loop) is committed within
  ``PROMPT_SECONDS``, before anything queued after it.
- Raw results are kept for ``raw_retention`` seconds (7 days by default);
  roll-ups per minute, hour and day are kept for ``rollup_retention`` (1 year),
  and the outbox, silences, incidents and audit log each for their own
  (``_retention.py``), so the file grows with monitors, not with time.
"""

from __future__ import annotations

import functools
import itertools
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from tether.monitor._records import AuditEntry, Incident, ProbeRecord, QueuedAlert
from tether.monitor._state import State
from tether.monitor.store._agents import AgentSQL
from tether.monitor.store._base import (
    ALERT_COLUMNS,
    INCIDENT_COLUMNS,
    LISTED_COLUMNS,
    LOCATION_COLUMNS,
    MEMBERS_KEPT,
    PERIODS,
    RESULT_COLUMNS,
    TALLY_COLUMNS,
    IncidentWrite,
    Listed,
    Rollup,
    StoreError,
    Tally,
    incident_record,
    listed_record,
    location_values,
    probe_record,
    queued_alert,
)
from tether.monitor.store._controls import ControlSQL
from tether.monitor.store._dialect import qmark
from tether.monitor.store._discovered import DiscoveredSQL
from tether.monitor.store._instances import InstanceSQL
from tether.monitor.store._json import sorted_json, stored_json
from tether.monitor.store._results import VERDICT_COLUMNS, ResultSQL, verdicts_by_monitor
from tether.monitor.store._retention import Retention, RetentionSQL
from tether.monitor.store._rollups import FOLDED, SQLITE_TALLY_BATCH
from tether.monitor.store._screenshots import ScreenshotSQL
from tether.monitor.store._sessions import SessionSQL
from tether.monitor.store._silences import SilenceSQL
from tether.monitor.store._subscribers import SubscriberSQL
from tether.monitor.store._values import too_new
from tether.monitor.store._writer import Job, Located, run_jobs
from tether.monitor.store.incidents._sql import IncidentSQL
from tether.monitor.store.sqlite._migrations import MIGRATIONS

__all__ = [
    "FOLDED",
    "MIGRATIONS",
    "PERIODS",
    "ProbeRecord",
    "Rollup",
    "SQLiteStore",
    "StoreError",
    "migrate",
    "schema_version",
]


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to date, one transaction per step; return the version.

    Each step reads the version under the write lock it runs in, so a second process
    opening the same file meanwhile (``tether status`` beside a starting monitor) waits,
    then finds that step done rather than running it again.  A file already up to date
    is not locked (it may be read-only)."""
    if schema_version(conn) == len(MIGRATIONS):
        return len(MIGRATIONS)
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = schema_version(conn)
            if version > len(MIGRATIONS):
                raise too_new(version, len(MIGRATIONS), "storage path")
            if version == len(MIGRATIONS):
                conn.execute("COMMIT")
                return version
            for statement in (s.strip() for s in MIGRATIONS[version].split(";")):
                if statement:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _connect(path: str | Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot open the database: {exc}") from None
    return conn


WAL_WAIT: Final = 5.0
"""Seconds an opener tries to put a new file into WAL mode, as long as the busy timeout."""


def wal(
    conn: sqlite3.Connection,
    *,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Put ``conn``'s file into WAL mode (kept in the file: once is enough for every
    opener).  Switching takes the file's exclusive lock, and SQLite answers SQLITE_BUSY
    at once, without the busy handler, to an opener that would otherwise deadlock with
    another (several processes opening one new file at the same moment: a monitor and
    its commands).  Tried again, a little later each time, for up to ``WAL_WAIT``
    seconds, as the busy handler would have waited."""
    end = clock() + WAL_WAIT
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or clock() >= end:
                raise
        sleep(delay)
        delay = min(2 * delay, 0.1)


def _insert_rows(
    conn: sqlite3.Connection, head: str, rows: Sequence[Sequence[Any]], tail: str = ""
) -> None:
    """``head VALUES (...), (...) tail`` for every row of ``rows`` (all of one width), in
    as few statements as SQLite's limit on bound values allows.

    Not ``executemany``: the sqlite3 module lets go of the GIL around each row's step and
    must take it back before the next, and while the event loop holds it that takes up
    to the interpreter's switch interval (5 ms) a row.  Beside a busy loop a batch of
    1,200 rows took 480 ms that way, against 2 ms alone; one step a statement takes it
    back once.  The statements come in power-of-two sizes, so that a few cached ones
    serve every batch."""
    if not rows:
        return
    width = len(rows[0])
    most = _rows_at_once(conn, width)
    start, left = 0, len(rows)
    while left:
        size = most if left >= most else 1 << (left.bit_length() - 1)
        chunk = rows[start : start + size]
        conn.execute(_values_sql(head, tail, width, size), [v for row in chunk for v in row])
        start, left = start + size, left - size


def _rows_at_once(conn: sqlite3.Connection, width: int) -> int:
    """The most rows of ``width`` values one statement may bind, a power of two up to 256
    (SQLite before 3.32 allows 999 values a statement, later ones 32,766)."""
    limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    fits = max(1, min(256, limit // width))
    return 1 << (fits.bit_length() - 1)


@functools.lru_cache(maxsize=256)
def _values_sql(head: str, tail: str, width: int, rows: int) -> str:
    row = "(" + ", ".join("?" * width) + ")"
    return f"{head} VALUES {', '.join(itertools.repeat(row, rows))} {tail}".rstrip()


def _in_one_step(
    conn: sqlite3.Connection, select: str, params: Any, columns: Sequence[str]
) -> list[list[Any]]:
    """The rows of ``select`` (its result columns named ``columns``), read as one value.

    Not a row at a time: the sqlite3 module lets go of the GIL around each row's step, and
    a reader on a worker thread beside a busy event loop then waits up to the switch
    interval (5 ms) to take it back, a row at a time (a page of 100 monitors' roll-ups,
    results and state changes took seconds in a mass outage).  SQLite writes the rows as
    JSON text in one step instead, each value as the module would give it: REAL values
    by ``quote()``, which writes as many digits as the value needs to be read back
    exactly, infinities as JSON's ``Infinity``, text quoted."""
    text = conn.execute(_one_step_sql(select, tuple(columns)), params).fetchone()[0]
    rows: list[list[Any]] = [] if text is None else stored_json(text)
    return rows


@functools.lru_cache(maxsize=64)
def _one_step_sql(select: str, columns: tuple[str, ...]) -> str:
    values = " || ',' || ".join(
        f"CASE typeof({c}) WHEN 'real' THEN CASE WHEN {c} > 1.7976931348623157e308 THEN "
        f"'Infinity' WHEN {c} < -1.7976931348623157e308 THEN '-Infinity' ELSE quote({c}) END "
        f"WHEN 'integer' THEN quote({c}) WHEN 'null' THEN 'null' "
        f"ELSE json_quote(CAST({c} AS TEXT)) END"
        for c in columns
    )
    return f"SELECT '[' || group_concat('[' || {values} || ']', ',') || ']' FROM ({select})"


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for at in range(0, len(items), size):
        yield items[at : at + size]


def _by_monitor_and_time(row: Sequence[Any]) -> tuple[Any, Any]:
    return row[0], row[1]


_ROLLUP_READ: Final = ", ".join(f"r.{c} AS {c}" for c in TALLY_COLUMNS.split(", "))


def _check_writable(conn: sqlite3.Connection) -> None:
    """Raise if the file cannot be written (read-only file or directory), now rather
    than at the first result."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS _tether_probe (x)")
        conn.execute("UPDATE incidents SET id = id WHERE 0")
        conn.execute("PRAGMA main.user_version = " + str(schema_version(conn)))
    finally:
        conn.execute("ROLLBACK")


_UPSERT_LOCATION = (
    # Stamped with SQLite's clock, in Unix seconds, when the writer takes the row; that
    # clock counts milliseconds, so a stamp is also kept past the newest one (one writer
    # per file): stamps follow the order of writes even within a millisecond, or across
    # a step back of the system's clock.
    f"INSERT INTO tether_location_states ({LOCATION_COLUMNS}, updated) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, max((julianday('now') - 2440587.5) * 86400.0, "
    "coalesce((SELECT max(updated) FROM tether_location_states), 0) + 1e-6)) "
    "ON CONFLICT (monitor, location) DO UPDATE SET state = excluded.state, "
    "since = excluded.since, reason = excluded.reason, kind = excluded.kind, "
    "detail = excluded.detail, "
    "host = excluded.host, latency_ms = excluded.latency_ms, updated = excluded.updated"
)


_dumps: Final = sorted_json
"""Every JSON column's text: compact, keys sorted (orjson's, where installed)."""


def _kinds_text(kinds: dict[str, int]) -> str:
    """A roll-up's failure kinds as :func:`_dumps` writes them; most have none."""
    return _dumps(kinds) if kinds else "{}"


_SELECT_INCIDENTS: Final = (
    f"SELECT {INCIDENT_COLUMNS}, "
    "(SELECT json_group_object(monitor, json(member)) FROM incident_members "
    "WHERE incident = i.id), "
    # Each entry with its place: the order an aggregate takes its rows in is SQLite's.
    "(SELECT json_group_array(json_array(seq, json(entry))) FROM incident_timeline "
    "WHERE incident = i.id) FROM incidents i "
)
"""Incidents with their members and timelines, in one statement (one snapshot)."""


_SELECT_LISTED: Final = (
    f"SELECT {LISTED_COLUMNS}, i.folded_into, {MEMBERS_KEPT}, "
    f"CASE WHEN {MEMBERS_KEPT} "
    "THEN (SELECT count(*) FROM incident_members WHERE incident = i.id) "
    "ELSE json_array_length(i.monitors) END, "
    f"CASE WHEN {MEMBERS_KEPT} "
    "THEN (SELECT json_group_array(monitor) FROM (SELECT monitor FROM incident_members "
    "WHERE incident = i.id AND (:among IS NULL OR monitor IN "
    "(SELECT value FROM json_each(:among))) ORDER BY monitor LIMIT :members)) "
    "ELSE (SELECT json_group_array(value) FROM (SELECT value FROM json_each(i.monitors) "
    "WHERE :among IS NULL OR value IN (SELECT value FROM json_each(:among)) "
    "ORDER BY value LIMIT :members)) END, "
    "(SELECT count(*) FROM incident_timeline WHERE incident = i.id), "
    "(SELECT json_group_array(json_array(seq, json(entry))) FROM ("
    "SELECT * FROM (SELECT seq, entry FROM incident_timeline WHERE incident = i.id "
    "ORDER BY seq LIMIT 1) UNION "
    "SELECT * FROM (SELECT seq, entry FROM incident_timeline WHERE incident = i.id "
    "ORDER BY seq DESC LIMIT :newest))) "
    "FROM incidents i WHERE 1 "
)
"""Incidents as a list shows them (:class:`Listed`): each subquery stops at its cap
(the index on (incident, monitor) and on (incident, seq) hand rows over in order), and
no member's record is read."""

_HAS_MONITOR: Final = (
    "AND (EXISTS (SELECT 1 FROM incident_membership WHERE incident = i.id AND monitor = :name) "
    "OR EXISTS (SELECT 1 FROM incident_members WHERE incident = i.id AND monitor = :name) "
    "OR EXISTS (SELECT 1 FROM json_each(i.monitors) WHERE value = :name)) "
)
"""An incident the monitor is or was in: its membership history says so (or, for one
stored without it, its members or its monitors)."""

_DOWN_SINCE: Final = (
    "SELECT m.monitor, min(coalesce(json_extract(m.member, '$.joined'), i.opened)) "
    "FROM incidents i JOIN incident_members m "
    "ON m.incident = i.id WHERE i.resolved IS NULL GROUP BY m.monitor "
    "UNION ALL SELECT j.value, i.opened FROM incidents i, json_each(i.monitors) j "
    "WHERE i.resolved IS NULL AND NOT EXISTS "
    "(SELECT 1 FROM incident_members WHERE incident = i.id)"
)


def _incident(row: Sequence[Any]) -> Incident:
    """An incident read by :data:`_SELECT_INCIDENTS`."""
    *header, members, timeline = row
    entries = [entry for _, entry in sorted(stored_json(timeline or "[]"), key=_first)]
    return incident_record(header, stored_json, stored_json(members or "{}"), entries)


def _first(pair: list[Any]) -> Any:
    return pair[0]


def _write_incidents(conn: sqlite3.Connection, changes: Sequence[IncidentWrite]) -> None:
    """Incident changes (:class:`IncidentWrite`), in order: a new incident's row, or its
    header; its timeline's new entries; the members it names.  The statements do not
    depend on how many members an incident has, only on how many changed, and a batch's
    changes come merged (:func:`merged_writes`), their rows in statements of many rows
    (:func:`_insert_rows`)."""
    for change in changes:
        incident_id = change.id
        if change.new is not None:
            conn.execute(
                f"INSERT INTO incidents ({INCIDENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                change.new,
            )
        else:
            conn.execute(
                "UPDATE incidents SET kind = coalesce(?, kind), detail = coalesce(?, detail), "
                "hint = coalesce(?, hint), resolved = coalesce(?, resolved), "
                "acknowledged = coalesce(acknowledged, ?), "
                "folded_into = coalesce(?, folded_into), monitors = coalesce(?, monitors), "
                "key = coalesce(?, key) WHERE id = ?",
                (*change.header, incident_id),
            )
        _insert_rows(
            conn,
            "INSERT INTO incident_timeline (incident, entry)",
            [(incident_id, entry) for entry in change.entries],
        )
        if change.every:
            conn.execute("DELETE FROM incident_members WHERE incident = ?", (incident_id,))
        for at in range(0, len(change.deletes), 256):
            chunk = change.deletes[at : at + 256]
            conn.execute(
                "DELETE FROM incident_members WHERE incident = ? AND monitor IN "
                f"({', '.join('?' * len(chunk))})",
                (incident_id, *chunk),
            )
        _insert_rows(
            conn,
            "INSERT INTO incident_members (incident, monitor, member)",
            [(incident_id, monitor, member) for monitor, member in change.upserts],
            "ON CONFLICT (incident, monitor) DO UPDATE SET member = excluded.member",
        )
        _insert_rows(
            conn,
            "INSERT INTO incident_membership (incident, monitor, at, event, why)",
            [(incident_id, *move) for move in change.moves],
        )
        if change.resolves:
            conn.execute(_EVERYONE, (incident_id,))


_EVERYONE: Final = (
    "UPDATE incidents SET monitors = (SELECT json_group_array(monitor) FROM "
    "(SELECT value AS monitor FROM json_each(incidents.monitors) UNION "
    "SELECT monitor FROM incident_membership WHERE incident = incidents.id ORDER BY monitor)) "
    "WHERE id = ? AND EXISTS (SELECT 1 FROM incident_membership WHERE incident = incidents.id)"
)
"""A resolved incident's monitors: those it was written with and everyone its membership
history holds, once, when it resolves (the engine knows only those in it at the end)."""


class SQLiteStore(
    ResultSQL[sqlite3.Connection],
    IncidentSQL[sqlite3.Connection],
    ControlSQL[sqlite3.Connection],
    SilenceSQL[sqlite3.Connection],
    AgentSQL[sqlite3.Connection],
    ScreenshotSQL[sqlite3.Connection],
    RetentionSQL[sqlite3.Connection],
    InstanceSQL[sqlite3.Connection],
    DiscoveredSQL[sqlite3.Connection],
    SubscriberSQL[sqlite3.Connection],
    SessionSQL[sqlite3.Connection],
):
    """The monitor's store in one SQLite file.  Thread-safe; writes go through one writer thread."""

    _select_incidents = _SELECT_INCIDENTS
    _select_state_changes = (
        "SELECT at, state FROM (SELECT at, state FROM state_changes "
        "WHERE monitor = ? AND at < ? ORDER BY at DESC LIMIT 1) "
        "UNION ALL SELECT at, state FROM state_changes WHERE monitor = ? AND at >= ? "
        "ORDER BY at"
    )
    _select_every_change = (
        # max(at) with a bare column: SQLite takes ``state`` from the row with the max.
        "SELECT monitor, max(at), state FROM state_changes WHERE at < ? GROUP BY monitor "
        "UNION ALL SELECT monitor, at, state FROM state_changes WHERE at >= ? "
        "ORDER BY 1, 2"
    )
    _select_down_since = _DOWN_SINCE
    _select_listed = _SELECT_LISTED
    _has_monitor = _HAS_MONITOR
    _select_instances = (
        # A lone instance leads while it is alive (there are no leases to ask).
        "SELECT id, location, host, pid, started, heartbeat, "
        "leader AND heartbeat >= %(now)s - %(ttl)s, shards, version FROM tether_instances "
        "ORDER BY 7 DESC, location, started, id"
    )

    def __init__(
        self,
        path: str | Path,
        *,
        retention: Retention | None = None,
        batch_size: int = 500,
        batch_seconds: float = 0.2,
        spill: str | Path | None = None,
        reclaim: bool = True,
        **holding: Any,
    ) -> None:
        """``reclaim``: release the outbox's claims found at open, as a dead monitor's.
        Only for the process that delivers: a command opening the file beside a running
        monitor (``tether status``) would release the claims of deliveries in flight,
        and the monitor send those alerts twice."""
        self.path = Path(path)
        self.retention = retention or Retention()
        self._writer = _connect(self.path)
        try:
            migrate(self._writer)
            _check_writable(self._writer)
            # One monitor per file: a claim on an alert found at open is a dead process's
            # (killed mid-delivery), and its alert goes out again now, not once the
            # claim runs out.
            if reclaim:
                self._writer.execute(
                    "UPDATE outbox SET claimed_by = NULL, claim_until = NULL "
                    "WHERE claimed_by IS NOT NULL AND delivered IS NULL"
                )
            row = self._writer.execute("SELECT coalesce(max(id), 0) FROM incidents").fetchone()
        except sqlite3.Error as exc:
            self._writer.close()
            raise StoreError(f"{self.path}: cannot write the database: {exc}") from None
        self._local = threading.local()
        self._ids = itertools.count(int(row[0]) + 1)
        self._ids_lock = threading.Lock()
        super().__init__(
            batch_size=batch_size,
            batch_seconds=batch_seconds,
            spill=Path(spill)
            if spill is not None
            else self.path.with_name(self.path.name + ".spill"),
            **holding,
        )

    def __repr__(self) -> str:
        return f"<SQLiteStore {self.path}>"

    # -- the dialect of the SQL both stores share (``_dialect.py``) ------------------

    def _execute(self, conn: sqlite3.Connection, sql: str, params: Any = ()) -> Any:
        return conn.execute(qmark(sql), params)

    def _rows(self, sql: str, params: Any = ()) -> Sequence[Sequence[Any]]:
        rows: list[Sequence[Any]] = self._read().execute(qmark(sql), params).fetchall()
        return rows

    def _json(self, value: Any) -> str:
        return _dumps(value)

    def _decode(self, value: Any) -> Any:
        return stored_json(value)

    def _any(self, column: str, param: str, cast: str = "") -> str:
        return f"{column} IN (SELECT value FROM json_each({param}))"

    def _holds_any(self, column: str, param: str) -> str:
        return (
            f"EXISTS (SELECT 1 FROM json_each({column}) "
            f"WHERE value IN (SELECT value FROM json_each({param})))"
        )

    def _list(self, values: Collection[Any]) -> Any:
        return _dumps(list(values))

    def _incident(self, row: Sequence[Any]) -> Incident:
        return _incident(row)

    def _listed(self, row: Sequence[Any]) -> Listed:
        return listed_record(row, stored_json)

    def _write_incidents(self, conn: sqlite3.Connection, changes: Sequence[IncidentWrite]) -> None:
        _write_incidents(conn, changes)

    # -- writing ---------------------------------------------------------------------

    def claim_alerts(
        self, owner: str, now: float, hold_for: float, channel: str | None = None
    ) -> list[QueuedAlert]:
        """Claim each channel's due head for ``owner`` until ``now + hold_for`` (in the
        writer's ``BEGIN IMMEDIATE`` transaction, so a second process on the file waits
        rather than claims the same head)."""

        def claim(conn: sqlite3.Connection) -> list[QueuedAlert]:
            rows = conn.execute(
                "UPDATE outbox SET claimed_by = :owner, claim_until = :until "
                "WHERE id IN (SELECT min(id) FROM outbox WHERE delivered IS NULL "
                "GROUP BY channel) AND next_at <= :now "
                "AND (claimed_by IS NULL OR claim_until < :now OR claimed_by = :owner) "
                "AND (:channel IS NULL OR channel = :channel) "
                f"RETURNING {ALERT_COLUMNS}",
                {"owner": owner, "until": now + hold_for, "now": now, "channel": channel},
            ).fetchall()
            return sorted((queued_alert(r, stored_json) for r in rows), key=lambda a: a.id)

        return self._call(claim, first=True)

    def new_incident_id(self) -> int:
        """An id no incident has: one more than the highest, counted here (one monitor
        process per SQLite file), so an incident opens while the file cannot be written."""
        with self._ids_lock:
            return next(self._ids)

    def reserve_incident_ids(self) -> None:
        """Nothing to do: one instance per SQLite file counts its own ids."""

    # -- changes made at run time ----------------------------------------------------

    def set_paused(self, monitor: str, paused: bool, audit: AuditEntry) -> bool:
        def update(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT paused FROM tether_controls WHERE monitor = ?", (monitor,)
            ).fetchone()
            if (row is not None and row[0] is not None) == paused:
                return False
            conn.execute(
                "INSERT INTO tether_controls (monitor, paused, paused_by) VALUES (?, ?, ?) "
                "ON CONFLICT (monitor) DO UPDATE SET paused = excluded.paused, "
                "paused_by = excluded.paused_by",
                (monitor, audit.at if paused else None, audit.who if paused else None),
            )
            self._log(audit)(conn)
            return True

        return self._call(update)

    # -- reading ---------------------------------------------------------------------

    def alert_heads(self) -> list[QueuedAlert]:
        # Read on the writer, after every write queued before it: a delivery marked
        # a moment ago is never read as still due.
        def heads(conn: sqlite3.Connection) -> list[QueuedAlert]:
            rows = conn.execute(
                f"SELECT {ALERT_COLUMNS} FROM outbox WHERE id IN "
                "(SELECT min(id) FROM outbox WHERE delivered IS NULL GROUP BY channel) "
                "ORDER BY id"
            )
            return [queued_alert(r, stored_json) for r in rows]

        return self._call(heads, first=True)

    def state_changes_of(
        self, monitors: Collection[str], since: float
    ) -> dict[str, list[tuple[float, State]]]:
        rows = _in_one_step(
            self._read(),
            # max(at) with a bare column: SQLite takes ``state`` from the row with the max.
            "SELECT monitor, max(at) AS at, state FROM state_changes WHERE monitor IN "
            "(SELECT value FROM json_each(:names)) AND at < :since GROUP BY monitor "
            "UNION ALL SELECT monitor, at, state FROM state_changes WHERE monitor IN "
            "(SELECT value FROM json_each(:names)) AND at >= :since",
            {"names": _dumps(list(monitors)), "since": since},
            ("monitor", "at", "state"),
        )
        out: dict[str, list[tuple[float, State]]] = {m: [] for m in monitors}
        for monitor, at, state in sorted(rows, key=_by_monitor_and_time):
            out[monitor].append((at, State(state)))
        return out

    def rollups_of(self, since: Mapping[str, float], period: str) -> dict[str, list[Rollup]]:
        out: dict[str, list[Rollup]] = {m: [] for m in since}
        for chunk in _chunks(list(since.items()), 256):
            rows = _in_one_step(
                self._read(),
                f"WITH s (monitor, since) AS ({_values_sql('', '', 2, len(chunk)).strip()}) "
                f"SELECT r.monitor AS monitor, r.start AS start, {_ROLLUP_READ} FROM s "
                "JOIN rollups r ON r.monitor = s.monitor AND r.period = ? AND r.start >= s.since",
                [*itertools.chain.from_iterable(chunk), period],
                ("monitor", "start", *TALLY_COLUMNS.split(", ")),
            )
            for monitor, start, *totals in sorted(rows, key=_by_monitor_and_time):
                rollup = Tally.from_row(totals, stored_json).rollup(monitor, period, start)
                out[monitor].append(rollup)
        return out

    def failures_of(self, since: Mapping[str, float], limit: int) -> dict[str, ProbeRecord]:
        out: dict[str, ProbeRecord] = {}
        columns = RESULT_COLUMNS.split(", ")
        for chunk in _chunks(list(since.items()), 256):
            rows = _in_one_step(
                self._read(),
                f"SELECT {RESULT_COLUMNS} FROM (SELECT r.*, row_number() OVER "
                "(PARTITION BY r.monitor ORDER BY r.ts DESC) AS newest FROM "
                f"({_values_sql('', '', 2, len(chunk)).strip()}) s "
                "JOIN results r ON r.monitor = s.column1 AND r.ts >= s.column2) "
                "WHERE newest <= ? AND NOT ok",
                [*itertools.chain.from_iterable(chunk), limit],
                columns,
            )
            # Read first, sorted then: a time written by hand may not be a number.
            found = [probe_record(row, stored_json) for row in rows]
            for record in sorted(found, key=lambda r: (r.monitor, r.ts)):
                out[record.monitor] = record  # the newest comes last
        return out

    def verdicts_of(self, since: Mapping[str, float], limit: int) -> dict[str, list[ProbeRecord]]:
        rows: list[list[Any]] = []
        for chunk in _chunks(list(since.items()), 256):
            rows += _in_one_step(
                self._read(),
                f"SELECT {VERDICT_COLUMNS} FROM (SELECT r.*, row_number() OVER "
                "(PARTITION BY r.monitor ORDER BY r.ts DESC) AS newest FROM "
                f"({_values_sql('', '', 2, len(chunk)).strip()}) s "
                "JOIN results r ON r.monitor = s.column1 AND r.ts > s.column2) "
                "WHERE newest <= ?",
                [*itertools.chain.from_iterable(chunk), limit],
                VERDICT_COLUMNS.split(", "),
            )
        return verdicts_by_monitor(rows)

    def latest_results(self, monitors: Collection[str]) -> dict[str, ProbeRecord]:
        # Each name's newest time from the index on (monitor, ts), then its row.
        rows = _in_one_step(
            self._read(),
            f"SELECT {', '.join('r.' + c for c in RESULT_COLUMNS.split(', '))} "
            "FROM json_each(:names) n "
            "JOIN results r ON r.monitor = n.value AND r.ts = "
            "(SELECT max(ts) FROM results WHERE monitor = n.value)",
            {"names": _dumps(sorted(set(monitors)))},
            RESULT_COLUMNS.split(", "),
        )
        return {row[0]: probe_record(row, stored_json) for row in rows}

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
        changes: list[tuple[str, float, State]],
        locations: list[Located],
        jobs: list[Job[sqlite3.Connection]],
    ) -> list[Any]:
        conn = self._writer
        with _transaction(conn):
            if results:
                self._insert_results(conn, results)
            _insert_rows(
                conn,
                "INSERT OR REPLACE INTO state_changes (monitor, at, state)",
                [(monitor, at, str(state)) for monitor, at, state in changes],
            )
            _insert_rows(
                conn,
                "INSERT INTO monitor_state (monitor, data)",
                [(monitor, _dumps(data)) for monitor, data in states.items()],
                "ON CONFLICT (monitor) DO UPDATE SET data = excluded.data",
            )
            # One instance per file: no lease to fence against.
            conn.executemany(_UPSERT_LOCATION, [location_values(state) for state, _ in locations])
            return run_jobs(conn, jobs)

    def _release(self) -> None:
        self._writer.close()

    def _is_outage(self, exc: BaseException) -> bool:
        # A full disk, a read-only file, a lock held too long, an I/O error: all
        # OperationalError, and all pass.  Anything else is about the data.
        return isinstance(exc, sqlite3.OperationalError) or super()._is_outage(exc)

    def _insert_results(self, conn: sqlite3.Connection, records: list[ProbeRecord]) -> None:
        after = conn.execute("SELECT coalesce(max(id), 0) FROM results").fetchone()[0]
        _insert_rows(
            conn,
            f"INSERT INTO results ({RESULT_COLUMNS})",
            [
                (
                    r.monitor,
                    r.ts,
                    int(r.ok),
                    None if r.kind is None else r.kind.value,
                    r.latency_ms,
                    r.detail,
                    _dumps(r.data()),
                )
                for r in records
            ],
        )
        # SQLite tallies the rows just written itself: its C code runs without the GIL,
        # beside the event loop, where a tally in Python competed with it for the
        # interpreter (the writer fell minutes behind a mass outage that way).  The
        # minute's roll-ups with each batch; the hour's and the day's in a fold of every
        # result since the last (_fold), when one is due.
        for period, seconds in PERIODS.items():
            if period not in FOLDED:
                conn.execute(
                    SQLITE_TALLY_BATCH, {"period": period, "seconds": seconds, "after": after}
                )
        self._written(conn, records)

    def _fold_rows(self, conn: sqlite3.Connection) -> None:
        """Every result written since the last fold (its mark, ``rollups_folded``) added
        to the hour's and the day's roll-ups by SQLite's tally, and the mark moved.  A
        prune folds before it deletes, so no result goes unfolded (_results_job)."""
        (after,) = conn.execute("SELECT after FROM rollups_folded").fetchone()
        (last,) = conn.execute("SELECT coalesce(max(id), 0) FROM results").fetchone()
        if last > after:
            for period, seconds in PERIODS.items():
                if period in FOLDED:
                    conn.execute(
                        SQLITE_TALLY_BATCH, {"period": period, "seconds": seconds, "after": after}
                    )
            conn.execute("UPDATE rollups_folded SET after = ?", (last,))

    def _results_job(self, now: float) -> Callable[[sqlite3.Connection], tuple[int, int, int, int]]:
        delete = super()._results_job(now)

        def fold_then_delete(conn: sqlite3.Connection) -> tuple[int, int, int, int]:
            self._fold(conn)  # no result is deleted before its hour and day have it
            return delete(conn)

        return fold_then_delete


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
