"""PostgreSQL history, for many monitors or a shared server: the same store as SQLite's.

Why this shape:
- The same writer as SQLite (``_writer.py``): one thread owns the write
  connection and commits probe results in batches.  Results go in with
  ``COPY``; PostgreSQL tallies the batch and adds it to the roll-up rows it
  touches in one statement (``_ADD_ROLLUPS``: nothing read back into Python,
  and an addition, so two instances adding to one row never lose a count).
- Every batch is one transaction, so a crash of tether or of the server
  never leaves half of one behind.  An alert or incident is committed before
  its call returns, as with SQLite.
- A connection the server dropped is replaced on next use.  The batch in
  flight fails (and is logged) rather than being sent again: a ``COMMIT``
  whose answer was lost may have landed.
- Migrations are numbered in a ``tether_schema`` table and run under a
  transaction-level advisory lock, so two tethers starting at once migrate
  once; PostgreSQL's transactional DDL makes each run all or nothing.
- Result data, alert payloads, incident timelines and detector state are
  JSONB, so they can be queried in SQL.  Times are Unix seconds
  (``to_timestamp(ts)`` reads them), exactly as SQLite keeps them.
- Several instances share one database (see ``_cluster.py``): each alert is
  claimed by the instance that delivers it (``FOR UPDATE SKIP LOCKED`` on
  its channel's head), so one instance delivers it, and another takes it
  over only once the claim has run out.
- psycopg is imported only when a store is opened, and the password in the
  URL never appears in an error, a log line or a repr.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from tether._redact import MASK, redact_text, redact_url
from tether.monitor._records import AuditEntry, Incident, ProbeRecord, QueuedAlert
from tether.monitor._state import State
from tether.monitor.store import _results
from tether.monitor.store._agents import AgentSQL
from tether.monitor.store._base import (
    ALERT_COLUMNS,
    LOCATION_COLUMNS,
    RESULT_COLUMNS,
    TALLY_COLUMNS,
    IncidentWrite,
    Listed,
    Rollup,
    StoreError,
    Tally,
    listed_record,
    probe_record,
    queued_alert,
)
from tether.monitor.store._controls import ControlSQL
from tether.monitor.store._discovered import DiscoveredSQL
from tether.monitor.store._instances import LEADING_INSTANCES, InstanceSQL
from tether.monitor.store._json import plain_json
from tether.monitor.store._results import ResultSQL, location_row
from tether.monitor.store._retention import Retention, RetentionSQL
from tether.monitor.store._rollups import ADD_ROLLUPS, FOLD_PENDING, QUEUE_FOLD, rollup_arrays
from tether.monitor.store._screenshots import ScreenshotSQL
from tether.monitor.store._sessions import SessionSQL
from tether.monitor.store._silences import SilenceSQL
from tether.monitor.store._spill import default_spill
from tether.monitor.store._subscribers import SubscriberSQL
from tether.monitor.store._values import LocationRead, too_new
from tether.monitor.store._writer import Job, Located, run_jobs, storable_text
from tether.monitor.store.incidents._sql import IncidentSQL
from tether.monitor.store.postgres._incidents import (
    DOWN_SINCE,
    HAS_MONITOR,
    SELECT_INCIDENTS,
    SELECT_LISTED,
    incident_of,
)
from tether.monitor.store.postgres._migrations import MIGRATIONS
from tether.monitor.store.postgres._writes import (
    write_changes,
    write_incidents,
    write_locations,
    write_states,
)

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg.rows import TupleRow

    Conn = Connection[TupleRow]

__all__ = ["MIGRATIONS", "MIGRATION_LOCK", "Link", "PostgresStore", "migrate"]

log = logging.getLogger("tether.monitor")

T = TypeVar("T")

MIGRATION_LOCK: Final = 0x7465_7468_6572
"""The advisory lock key held while migrating ("tether" in ASCII)."""
_IDS_LOCK: Final = MIGRATION_LOCK + 1
"""The advisory lock key held while taking incident ids from the sequence."""
_SEQUENCE: Final = "pg_get_serial_sequence('incidents', 'id')::regclass"
_ID_BLOCK: Final = 16
"""Incident ids a leader keeps in reserve, so that incidents open while the server is
away; what it has not used when it stops leading is a gap in the numbering."""

_TALLY_NAMES: Final = [c.strip() for c in TALLY_COLUMNS.split(",")]
_LOCATION_NAMES: Final = [c.strip() for c in LOCATION_COLUMNS.split(",")]
_CHANGED_LOCATIONS: Final = (
    # The horizon from the statement's own snapshot, in a row of its own when nothing
    # changed (the LEFT JOIN): every transaction before it has ended, so each row it
    # wrote, committed, is in this read.  ``since`` still bounds the read, so a
    # transaction left open elsewhere cannot make every read a whole table.
    "SELECT h.horizon::text, "
    + ", ".join(f"t.{c}" for c in [*_LOCATION_NAMES, "updated"])
    + " FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS horizon) h "
    "LEFT JOIN tether_location_states t ON (%s::float8 IS NULL OR t.updated >= %s) "
    "AND (%s::text IS NULL OR t.xid >= %s::text::xid8) "
    "ORDER BY t.updated, t.monitor, t.location"
)


class _LostBeforeCommit(StoreError):
    """The connection was lost before the batch's COMMIT was sent: nothing of it landed."""


def _same(value: Any) -> Any:
    """psycopg already decodes JSONB."""
    return value


def migrate(conn: Conn) -> int:
    """Bring the schema up to date under the advisory lock; return the version.

    The lock is taken before the version is read, so a second tether that
    starts meanwhile waits, then finds nothing left to do.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS tether_schema ("
            "version INTEGER PRIMARY KEY, applied TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        row = conn.execute("SELECT coalesce(max(version), 0) FROM tether_schema").fetchone()
        version = int(row[0]) if row else 0
        if version > len(MIGRATIONS):
            raise too_new(version, len(MIGRATIONS), "database")
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            conn.execute(script)  # several statements: without parameters, one round trip
            conn.execute("INSERT INTO tether_schema (version) VALUES (%s)", (number,))
    return len(MIGRATIONS)


def _storable_json(value: Any) -> str:
    """JSON that PostgreSQL's jsonb takes: it refuses a lone surrogate and ``\\u0000``."""
    return storable_text(plain_json(value).replace("\\u0000", "\\ufffd"))


def _jsonb(value: Any) -> Any:
    from psycopg.types.json import Jsonb

    return Jsonb(value, dumps=_storable_json)


_ROLLUP_READ: Final = ", ".join(f"r.{c}" for c in TALLY_COLUMNS.split(", "))


# A server that does not answer should not hang tether for libpq's default of forever.
_CONNECT_DEFAULTS: Final = {"connect_timeout": "10", "application_name": "tether"}


def _without_jit(options: str | None) -> str:
    """The connection's ``options`` (the URL's, else ``$PGOPTIONS``, which libpq reads
    only when the URL has none) with JIT compilation off, unless they set ``jit``
    themselves.  tether's statements are short: PostgreSQL compiled the incident list's
    (its cost estimated high by the subqueries a row) for 50 ms each time it ran, longer
    than running it took."""
    given = os.environ.get("PGOPTIONS", "") if options is None else options
    return given if "jit" in given else f"{given} -c jit=off".strip()


def _secrets(dsn: str) -> set[str]:
    """The password in ``dsn``, as written and decoded, to scrub from any message."""
    found: set[str] = set()
    try:
        parts = urlsplit(dsn)
        if parts.password:
            found |= {parts.password, unquote(parts.password)}
        found |= {v for k, v in parse_qsl(parts.query) if k == "password" and v}
    except ValueError:
        pass
    return found


def _need_psycopg() -> None:
    """Raise StoreError, saying how to install it, when psycopg is missing."""
    from tether._extras import problem

    if (missing := problem("storage.postgres", "postgres")) is not None:
        raise StoreError(missing)


class Link:
    """How tether reaches one PostgreSQL database: its URL (with the password kept out of
    every message), new connections, and psycopg's errors turned into StoreError.  The
    store and the cluster (``_cluster.py``) each open their own connections through one."""

    def __init__(self, dsn: str) -> None:
        _need_psycopg()
        self._dsn = dsn
        self._secrets = _secrets(dsn)
        self.url = redact_url(dsn)
        """The database's URL with the password masked."""

    def connect(self) -> Conn:
        """A new autocommit connection."""
        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        def connect() -> Conn:
            # The URL's own settings win over these defaults.
            params = {**_CONNECT_DEFAULTS, **conninfo_to_dict(self._dsn)}
            options = params.get("options")
            params["options"] = _without_jit(None if options is None else str(options))
            return psycopg.connect(make_conninfo("", **params), autocommit=True)

        return self.guarded("cannot connect", connect)

    def guarded(
        self, doing: str, call: Callable[[], T], *, broken: Callable[[], bool] | None = None
    ) -> T:
        """``call()``, with a psycopg error turned into a StoreError without secrets;
        ``broken`` says, after an error, whether the connection in use is broken (an
        outage, whatever the error)."""
        import psycopg

        try:
            return call()
        except psycopg.Error as exc:
            reason = self.scrub(str(exc))
            # The server is away (stopped, restarting, unreachable) or the connection
            # broke: hold and retry.  Anything else is about what was sent.
            outage = isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError) or bool(
                broken is not None and broken()
            )
        # Raised outside the handler, so the original (whose message may quote the
        # URL with its password) is not even kept as the context.
        raise StoreError(f"{self.url}: {doing}: {reason}", outage=outage)

    def scrub(self, text: str) -> str:
        """``text`` with the password and anything like a secret masked, on one line."""
        text = redact_text(" ".join(text.split()))  # libpq's messages run over lines
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text


class PostgresStore(
    ResultSQL["Conn"],
    IncidentSQL["Conn"],
    ControlSQL["Conn"],
    SilenceSQL["Conn"],
    AgentSQL["Conn"],
    ScreenshotSQL["Conn"],
    RetentionSQL["Conn"],
    InstanceSQL["Conn"],
    DiscoveredSQL["Conn"],
    SubscriberSQL["Conn"],
    SessionSQL["Conn"],
):
    """The monitor's store in a PostgreSQL database.  Thread-safe; writes go through one
    writer thread, reads through one shared connection.

    ``dsn`` is a ``postgresql://user:password@host:port/database`` URL (libpq's
    query parameters, such as ``sslmode`` or ``options=-csearch_path%3Dtether``,
    work too).  Raises :class:`StoreError` when psycopg is missing, the
    server cannot be reached, or the schema is newer than this tether's.
    """

    _select_incidents = SELECT_INCIDENTS
    _select_state_changes = (
        "(SELECT at, state FROM state_changes WHERE monitor = %s AND at < %s "
        "ORDER BY at DESC LIMIT 1) "
        "UNION ALL (SELECT at, state FROM state_changes WHERE monitor = %s AND at >= %s) "
        "ORDER BY at"
    )
    _select_every_change = (
        "(SELECT DISTINCT ON (monitor) monitor, at, state FROM state_changes "
        "WHERE at < %s ORDER BY monitor, at DESC) "
        "UNION ALL (SELECT monitor, at, state FROM state_changes WHERE at >= %s) "
        "ORDER BY 1, 2"
    )
    _select_down_since = DOWN_SINCE
    _select_listed = SELECT_LISTED
    _has_monitor = HAS_MONITOR
    _select_instances = LEADING_INSTANCES

    def __init__(
        self,
        dsn: str,
        *,
        retention: Retention | None = None,
        batch_size: int = 500,
        batch_seconds: float = 0.2,
        spill: str | Path | None = None,
        **holding: Any,
    ) -> None:
        _need_psycopg()
        self._link = Link(dsn)
        self.url = self._link.url
        """The database's URL with the password masked."""
        self.retention = retention or Retention()
        self._writer = self._connect()
        try:
            self._guarded("cannot migrate the schema", lambda: migrate(self._writer))
            top = self._guarded(
                "cannot read",
                lambda: self._writer.execute(
                    "SELECT coalesce(max(id), 0) FROM incidents"
                ).fetchone(),
            )
        except BaseException:
            self._writer.close()
            raise
        self._ids_lock = threading.Lock()
        self._top = int(top[0] if top else 0)
        """The highest incident id this store has seen, handed out or reserved."""
        self._reserve: deque[int] = deque()
        self._reserved = False  # this instance has led: it keeps a reserve of ids
        self._refilling = False
        self._counting = False
        self._reader: Conn | None = None
        self._read_lock = threading.Lock()
        super().__init__(
            batch_size=batch_size,
            batch_seconds=batch_seconds,
            spill=Path(spill) if spill is not None else default_spill(self.url),
            **holding,
        )

    def __repr__(self) -> str:
        return f"<PostgresStore {self.url}>"

    # -- the dialect of the SQL both stores share (``_dialect.py``) ------------------

    def _execute(self, conn: Conn, sql: str, params: Any = ()) -> Any:
        return conn.execute(sql, params)

    def _rows(self, sql: str, params: Any = ()) -> Sequence[Sequence[Any]]:
        return self._query(sql, params)

    def location_changes(self, since: float | None, horizon: int | None) -> LocationRead:
        after = None if horizon is None else str(horizon)
        rows = self._rows(_CHANGED_LOCATIONS, (since, since, after, after))
        return LocationRead(
            [location_row(r[1:]) for r in rows if r[1] is not None],
            int(rows[0][0]) if rows else None,
        )

    def _json(self, value: Any) -> str:
        return _storable_json(value)

    def _decode(self, value: Any) -> Any:
        return value  # psycopg already decodes JSONB

    def _text(self, text: str) -> str:
        return storable_text(text)

    def _any(self, column: str, param: str, cast: str = "") -> str:
        return f"{column} = ANY({param}{'::' + cast if cast else ''})"

    def _holds_any(self, column: str, param: str) -> str:
        return f"{column} ?| {param}"

    def _list(self, values: Collection[Any]) -> Any:
        return list(values)

    def _incident(self, row: Sequence[Any]) -> Incident:
        return incident_of(row)

    def _listed(self, row: Sequence[Any]) -> Listed:
        return listed_record(row, _same)

    def _write_incidents(self, conn: Conn, changes: Sequence[IncidentWrite]) -> None:
        """Incident changes in order, a few statements for all of them (``_writes.py``)."""
        write_incidents(conn, changes)

    # -- writing ---------------------------------------------------------------------

    def claim_alerts(
        self, owner: str, now: float, hold_for: float, channel: str | None = None
    ) -> list[QueuedAlert]:
        """Claim each channel's due head for ``owner`` until ``now + hold_for``.

        The heads are locked with ``FOR UPDATE SKIP LOCKED``: an instance claiming at
        the same moment skips a head this one is claiming, and a head claimed or
        delivered and committed meanwhile is checked again against its new row (READ
        COMMITTED), so two instances never both claim one alert.  A head stays its
        channel's head until it is delivered (older alerts never come back, newer ones
        have higher ids), so the heads found in this statement's snapshot are heads
        still when locked; a head delivered after the snapshot leaves its successor to
        the next round.
        """

        def claim(conn: Conn) -> list[QueuedAlert]:
            rows = conn.execute(
                "UPDATE outbox SET claimed_by = %(owner)s, claim_until = %(until)s "
                "WHERE id IN (SELECT id FROM outbox WHERE id IN (SELECT min(id) FROM outbox "
                "WHERE delivered IS NULL GROUP BY channel) "
                "AND delivered IS NULL AND next_at <= %(now)s "
                "AND (claimed_by IS NULL OR claim_until < %(now)s OR claimed_by = %(owner)s) "
                "AND (%(channel)s::text IS NULL OR channel = %(channel)s) "
                f"FOR UPDATE SKIP LOCKED) RETURNING {ALERT_COLUMNS}",
                {"owner": owner, "until": now + hold_for, "now": now, "channel": channel},
            ).fetchall()
            return sorted((queued_alert(r, _same) for r in rows), key=lambda a: a.id)

        return self._call(claim, first=True)

    def new_incident_id(self) -> int:
        """An id no incident has, at once, even while the server is away: the next of
        the ids reserved from the incidents' sequence (:meth:`reserve_incident_ids`),
        topped up in the background when half are gone.

        With none reserved (this instance never led, or an outage outlasted its
        reserve), it counts on from the highest id it has seen, as a lone tether always
        did, and says so once: an id counted so could be another leader's too.
        """
        with self._ids_lock:
            if self._reserve:
                number = self._reserve.popleft()
            else:
                number = self._top + 1
                if self._reserved and not self._counting:
                    log.warning(
                        "store: no incident id left in reserve; counting on from %d until "
                        "the database gives more",
                        number,
                        extra={"event": "store.ids"},
                    )
                self._counting = True
            self._top = max(self._top, number)
            low = len(self._reserve) < _ID_BLOCK // 2
            refill = self._reserved and low and not self._refilling
            self._refilling |= refill
        if refill:
            # Outside the lock: a future failed already runs its callback here, at once.
            with contextlib.suppress(StoreError):  # closed meanwhile
                self._submit(self._take_ids).add_done_callback(self._took_ids)
        return number

    def reserve_incident_ids(self) -> None:
        """Reserve incident ids from the database's sequence (blocking; call it off the
        event loop when this instance becomes the leader, before it opens incidents).

        Ids come from one sequence, taken under an advisory lock and started past every
        id stored or counted here, so no two leaders ever hand out one id, however
        leadership moves.  A leader that stops leaves the rest of its reserve unused: a
        gap of at most 16 in the numbering.  StoreError if the server cannot be reached.
        """
        ids = self._call(self._take_ids)
        with self._ids_lock:
            self._reserved = True
            self._add_ids(ids)

    def _take_ids(self, conn: Conn) -> list[int]:
        """Ids from the sequence, enough to fill the reserve (on the writer)."""
        with self._ids_lock:
            floor, wanted = self._top, _ID_BLOCK - len(self._reserve)
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_IDS_LOCK,))
        # Never back: only ever moved up past ids stored or counted without it.
        conn.execute(
            f"SELECT setval({_SEQUENCE}, f.floor) FROM (SELECT greatest(coalesce(max(id), 0), "
            "%s) AS floor FROM incidents) f "
            f"WHERE f.floor > coalesce(pg_sequence_last_value({_SEQUENCE}), 0)",
            (floor,),
        )
        rows = conn.execute(
            f"SELECT nextval({_SEQUENCE}) FROM generate_series(1, %s)", (max(wanted, 0),)
        ).fetchall()
        return [int(r[0]) for r in rows]

    def _took_ids(self, done: Future[list[int]]) -> None:
        with self._ids_lock:
            self._refilling = False
            if done.exception() is None:
                self._add_ids(done.result())

    def _add_ids(self, ids: list[int]) -> None:
        """Put ``ids`` in the reserve (under the lock): only those above every id handed
        out meanwhile, so ids keep rising."""
        fresh = sorted(i for i in ids if i > self._top)
        self._reserve.extend(fresh)
        if fresh:
            self._top = max(self._top, fresh[-1])
            self._counting = False

    # -- changes made at run time ----------------------------------------------------

    def set_paused(self, monitor: str, paused: bool, audit: AuditEntry) -> bool:
        def update(conn: Conn) -> bool:
            # The row locked first, so that two instances pausing at once log one change.
            conn.execute(
                "INSERT INTO tether_controls (monitor) VALUES (%s) ON CONFLICT DO NOTHING",
                (monitor,),
            )
            row = conn.execute(
                "SELECT paused FROM tether_controls WHERE monitor = %s FOR UPDATE", (monitor,)
            ).fetchone()
            if (row is not None and row[0] is not None) == paused:
                return False
            conn.execute(
                "UPDATE tether_controls SET paused = %s, paused_by = %s WHERE monitor = %s",
                (audit.at if paused else None, audit.who if paused else None, monitor),
            )
            self._log(audit)(conn)
            return True

        return self._call(update)

    # -- reading ---------------------------------------------------------------------

    def alert_heads(self) -> list[QueuedAlert]:
        # Read on the writer, after every write queued before it: a delivery marked
        # a moment ago is never read as still due.
        def heads(conn: Conn) -> list[QueuedAlert]:
            rows = conn.execute(
                f"SELECT DISTINCT ON (channel) {ALERT_COLUMNS} FROM outbox "
                "WHERE delivered IS NULL ORDER BY channel, id"
            ).fetchall()
            return sorted((queued_alert(r, _same) for r in rows), key=lambda a: a.id)

        return self._call(heads, first=True)

    def state_changes_of(
        self, monitors: Collection[str], since: float
    ) -> dict[str, list[tuple[float, State]]]:
        names = list(monitors)
        rows = self._query(
            "(SELECT DISTINCT ON (monitor) monitor, at, state FROM state_changes "
            "WHERE monitor = ANY(%(names)s) AND at < %(since)s ORDER BY monitor, at DESC) "
            "UNION ALL (SELECT monitor, at, state FROM state_changes "
            "WHERE monitor = ANY(%(names)s) AND at >= %(since)s) ORDER BY 1, 2",
            {"names": names, "since": since},
        )
        out: dict[str, list[tuple[float, State]]] = {m: [] for m in names}
        for monitor, at, state in rows:
            out[monitor].append((at, State(state)))
        return out

    def rollups_of(self, since: Mapping[str, float], period: str) -> dict[str, list[Rollup]]:
        rows = self._query(
            f"SELECT r.monitor, r.start, {_ROLLUP_READ} FROM "
            "unnest(%s::text[], %s::double precision[]) AS s (monitor, since) "
            "JOIN rollups r ON r.monitor = s.monitor AND r.period = %s AND r.start >= s.since "
            "ORDER BY r.monitor, r.start",
            (list(since), list(since.values()), period),
        )
        out: dict[str, list[Rollup]] = {m: [] for m in since}
        for monitor, start, *totals in rows:
            out[monitor].append(Tally.from_row(totals, _same).rollup(monitor, period, start))
        return out

    def failures_of(self, since: Mapping[str, float], limit: int) -> dict[str, ProbeRecord]:
        rows = self._query(
            f"SELECT {RESULT_COLUMNS} FROM (SELECT r.*, row_number() OVER "
            "(PARTITION BY r.monitor ORDER BY r.ts DESC) AS newest FROM "
            "unnest(%s::text[], %s::double precision[]) AS s (monitor, since) "
            "JOIN results r ON r.monitor = s.monitor AND r.ts >= s.since) AS t "
            "WHERE newest <= %s AND NOT ok ORDER BY monitor, ts",
            (list(since), list(since.values()), limit),
        )
        # The newest of each monitor comes last.
        return {row[0]: probe_record(row, _same) for row in rows}

    def verdicts_of(self, since: Mapping[str, float], limit: int) -> dict[str, list[ProbeRecord]]:
        rows = self._query(
            f"SELECT {_results.VERDICT_COLUMNS} FROM (SELECT r.*, row_number() OVER "
            "(PARTITION BY r.monitor ORDER BY r.ts DESC) AS newest FROM unnest(%s::text[], "
            "%s::double precision[]) AS s (monitor, since) JOIN results r "
            "ON r.monitor = s.monitor AND r.ts > s.since) AS t WHERE newest <= %s",
            (list(since), list(since.values()), limit),
        )
        return _results.verdicts_by_monitor(rows)

    def latest_results(self, monitors: Collection[str]) -> dict[str, ProbeRecord]:
        rows = self._query(
            f"SELECT r.* FROM unnest(%s::text[]) AS n (monitor) CROSS JOIN LATERAL "
            f"(SELECT {RESULT_COLUMNS} FROM results WHERE monitor = n.monitor "
            "ORDER BY ts DESC LIMIT 1) AS r",
            (sorted(set(monitors)),),
        )
        return {row[0]: probe_record(row, _same) for row in rows}

    def _query(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any], *, retried: bool = False
    ) -> list[tuple[Any, ...]]:
        """Rows of one read, on the shared read connection (reopened if the server dropped it)."""
        with self._read_lock:
            if self._closed:
                raise StoreError("the store is closed")
            if self._reader is None or self._reader.closed:
                self._reader = self._connect()
            conn = self._reader
        # psycopg serialises threads on one connection; reads are short.
        try:
            return self._guarded("cannot read", lambda: conn.execute(sql, params).fetchall())
        except StoreError:
            if not conn.closed or retried:
                raise
        return self._query(sql, params, retried=True)  # the server dropped it: read again

    # -- connections and errors ------------------------------------------------------

    def _connect(self) -> Conn:
        return self._link.connect()

    def _guarded(self, doing: str, call: Callable[[], T]) -> T:
        """``call()``, with a psycopg error turned into a StoreError without secrets."""
        return self._link.guarded(doing, call, broken=self._writer_broken)

    def _writer_broken(self) -> bool:
        writer: Conn | None = getattr(self, "_writer", None)
        return writer is not None and writer.broken

    # -- the writer's side -----------------------------------------------------------

    def _apply(
        self,
        results: list[ProbeRecord],
        states: dict[str, dict[str, Any]],
        changes: list[tuple[str, float, State]],
        locations: list[Located],
        jobs: list[Job[Conn]],
    ) -> list[Any]:
        def batch(conn: Conn) -> list[Any]:
            if results:
                self._insert_results(conn, results)
            if states:
                write_states(conn, {m: _storable_json(d) for m, d in states.items()})
            if changes:
                write_changes(conn, changes)
            if locations:
                write_locations(conn, locations)
            return run_jobs(conn, jobs)

        try:
            return self._transaction(batch)
        except _LostBeforeCommit:
            # Nothing of it landed: send it once more, on a new connection.
            return self._transaction(batch)

    def _transaction(self, batch: Callable[[Conn], list[Any]]) -> list[Any]:
        """``batch`` in one transaction on the write connection, opened anew if the server
        dropped it."""
        if self._writer.closed:
            self._writer = self._connect()
        conn = self._writer
        committing = False

        def write() -> list[Any]:
            nonlocal committing
            with conn.transaction():
                values = batch(conn)
                committing = True  # leaving the block sends COMMIT
            return values

        try:
            return self._guarded("cannot write", write)
        except StoreError as exc:
            # A connection lost before COMMIT took the transaction with it.  Lost
            # during COMMIT, the batch may have landed: sending it again could
            # store it twice, so it fails instead.
            if conn.closed and not committing:
                raise _LostBeforeCommit(str(exc)) from None
            raise

    def _release(self) -> None:
        self._writer.close()
        with self._read_lock:
            if self._reader is not None:
                self._reader.close()

    def _insert_results(self, conn: Conn, records: list[ProbeRecord]) -> None:
        with conn.cursor() as cur:
            with cur.copy(f"COPY results ({RESULT_COLUMNS}) FROM STDIN") as copy:
                for r in records:
                    copy.write_row(
                        (
                            r.monitor,
                            r.ts,
                            r.ok,
                            None if r.kind is None else r.kind.value,
                            r.latency_ms,
                            r.detail,
                            _jsonb(r.data()),
                        )
                    )
            # PostgreSQL tallies the batch and adds it to the minute's rows itself, in
            # one statement: read, merged in Python and written back, the roll-ups were
            # a sixth of an instance's interpreter lock in a mass outage, and two
            # instances writing one row at once could each overwrite the other's count.
            # The hour's and the day's wait for a fold, the batch's arrays kept for it
            # in this transaction (one row).
            arrays = rollup_arrays(records)
            cur.execute(ADD_ROLLUPS, arrays)
            cur.execute(QUEUE_FOLD, arrays)
        self._written(conn, records)

    def _fold_rows(self, conn: Conn) -> None:
        """The batches kept for a fold, any instance's, added to the hour's and the day's
        roll-ups and deleted.  Those another instance's fold holds are left to it (SKIP
        LOCKED): the two add to the rows in one order, and what they add, not what they
        write, so neither loses the other's."""
        with conn.cursor() as cur:
            cur.execute("SELECT id FROM rollups_pending ORDER BY id FOR UPDATE SKIP LOCKED")
            ids = [int(row[0]) for row in cur.fetchall()]
            if ids:
                cur.execute(FOLD_PENDING, {"ids": ids})
                cur.execute("DELETE FROM rollups_pending WHERE id = ANY(%(ids)s)", {"ids": ids})
