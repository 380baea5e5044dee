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
import hashlib
import json
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
from tether.monitor._records import (
    AuditEntry,
    Incident,
    LocationState,
    ProbeRecord,
    QueuedAlert,
)
from tether.monitor._state import State
from tether.monitor.store._base import (
    ALERT_COLUMNS,
    INCIDENT_COLUMNS,
    LISTED_COLUMNS,
    LOCATION_COLUMNS,
    MEMBERS_KEPT,
    RESULT_COLUMNS,
    TALLY_COLUMNS,
    Fence,
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
    too_new,
)
from tether.monitor.store._controls import ControlSQL
from tether.monitor.store._incidents import IncidentSQL
from tether.monitor.store._results import ResultSQL
from tether.monitor.store._rollups import ADD_ROLLUPS, rollup_arrays
from tether.monitor.store._writer import (
    Job,
    Located,
    run_jobs,
    storable_text,
)

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg.rows import TupleRow

    Conn = Connection[TupleRow]

__all__ = ["MIGRATIONS", "MIGRATION_LOCK", "Link", "PostgresStore", "migrate"]

log = logging.getLogger("tether.monitor")

T = TypeVar("T")

# Each entry moves the schema one version up; never edit one that has shipped.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE results (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        monitor TEXT NOT NULL,
        ts DOUBLE PRECISION NOT NULL,
        ok BOOLEAN NOT NULL,
        kind TEXT,
        latency_ms DOUBLE PRECISION,
        detail TEXT,
        data JSONB NOT NULL DEFAULT '{}'
    );
    CREATE INDEX results_by_monitor ON results (monitor, ts);
    -- Pruning deletes by time across monitors; rows arrive in time order, so
    -- a BRIN index finds them at a fraction of a B-tree's size and upkeep.
    CREATE INDEX results_by_ts ON results USING brin (ts);
    CREATE TABLE rollups (
        monitor TEXT NOT NULL,
        period TEXT NOT NULL,
        start DOUBLE PRECISION NOT NULL,
        count INTEGER NOT NULL,
        ok_count INTEGER NOT NULL,
        latency_count INTEGER NOT NULL,
        latency_sum DOUBLE PRECISION NOT NULL,
        latency_min DOUBLE PRECISION,
        latency_max DOUBLE PRECISION,
        kinds JSONB NOT NULL DEFAULT '{}',
        PRIMARY KEY (monitor, period, start)
    );
    CREATE TABLE outbox (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        channel TEXT NOT NULL,
        dedup TEXT NOT NULL CONSTRAINT outbox_dedup UNIQUE,
        payload JSONB NOT NULL,
        created DOUBLE PRECISION NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at DOUBLE PRECISION NOT NULL,
        delivered DOUBLE PRECISION,
        last_error TEXT
    );
    CREATE INDEX outbox_due ON outbox (next_at) WHERE delivered IS NULL;
    CREATE TABLE incidents (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        key TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL,
        hint TEXT NOT NULL,
        opened DOUBLE PRECISION NOT NULL,
        resolved DOUBLE PRECISION,
        monitors JSONB NOT NULL DEFAULT '[]',
        timeline JSONB NOT NULL DEFAULT '[]'
    );
    CREATE INDEX incidents_open ON incidents (key) WHERE resolved IS NULL;
    CREATE TABLE monitor_state (
        monitor TEXT PRIMARY KEY,
        data JSONB NOT NULL
    );
    """,
    # 2: one queue per channel (an alert's dedup key is unique within its channel, so
    # every channel of a monitor gets it); incident ids chosen by the incident engine
    # (from the sequence); acknowledgement and members of incidents; state changes,
    # from which uptime is computed as time.
    """
    ALTER TABLE outbox DROP CONSTRAINT outbox_dedup;
    ALTER TABLE outbox ADD CONSTRAINT outbox_dedup UNIQUE (channel, dedup);
    CREATE INDEX outbox_waiting ON outbox (channel, id) WHERE delivered IS NULL;
    ALTER TABLE incidents ALTER COLUMN id SET GENERATED BY DEFAULT;
    ALTER TABLE incidents ADD COLUMN acknowledged DOUBLE PRECISION;
    ALTER TABLE incidents ADD COLUMN members JSONB NOT NULL DEFAULT '{}';
    CREATE TABLE state_changes (
        monitor TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (monitor, at)
    );
    """,
    # 3: several instances on one database.  An alert is claimed by the instance that
    # delivers it; each monitor's state at each location, for the leader; leases on
    # shards of the monitors and on leadership, and the instances' heartbeats; incident
    # ids from the sequence, started past every id a process counted before.
    """
    ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
    ALTER TABLE outbox ADD COLUMN claim_until DOUBLE PRECISION;
    CREATE TABLE tether_location_states (
        monitor TEXT NOT NULL,
        location TEXT NOT NULL,
        state TEXT NOT NULL,
        since DOUBLE PRECISION NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        kind TEXT,
        detail TEXT,
        host TEXT,
        latency_ms DOUBLE PRECISION,
        updated DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (monitor, location)
    );
    CREATE INDEX tether_location_states_updated ON tether_location_states (updated);
    CREATE TABLE tether_leases (
        location TEXT NOT NULL,
        shard INTEGER NOT NULL,
        owner TEXT,
        expires DOUBLE PRECISION,
        PRIMARY KEY (location, shard)
    );
    CREATE INDEX tether_leases_owner ON tether_leases (owner);
    CREATE TABLE tether_instances (
        id TEXT PRIMARY KEY,
        location TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started DOUBLE PRECISION NOT NULL,
        heartbeat DOUBLE PRECISION NOT NULL,
        leader BOOLEAN NOT NULL DEFAULT false,
        shards INTEGER NOT NULL DEFAULT 0,
        version TEXT
    );
    SELECT setval(pg_get_serial_sequence('incidents', 'id'), coalesce(max(id), 0) + 1, false)
    FROM incidents;
    """,
    # 4: changes made at run time through the write API, which every instance applies:
    # monitors paused and checks asked for, maintenance windows; and the audit log.
    """
    CREATE TABLE tether_controls (
        monitor TEXT PRIMARY KEY,
        paused DOUBLE PRECISION,
        paused_by TEXT,
        check_at DOUBLE PRECISION
    );
    CREATE TABLE tether_maintenance (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        monitors JSONB NOT NULL DEFAULT '[]',
        start DOUBLE PRECISION NOT NULL,
        ends DOUBLE PRECISION NOT NULL,
        reason TEXT NOT NULL,
        opened_by TEXT NOT NULL,
        closed DOUBLE PRECISION,
        closed_by TEXT
    );
    CREATE INDEX tether_maintenance_open ON tether_maintenance (ends) WHERE closed IS NULL;
    CREATE TABLE tether_audit (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at DOUBLE PRECISION NOT NULL,
        who TEXT NOT NULL,
        via TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        params JSONB NOT NULL DEFAULT '{}'
    );
    """,
    # 5: each push monitor's last heartbeat, which every instance reads: the one that
    # probes it takes a push another instance was sent, and a restart knows it.
    """
    ALTER TABLE tether_controls ADD COLUMN push_at DOUBLE PRECISION;
    ALTER TABLE tether_controls ADD COLUMN push_ok BOOLEAN;
    ALTER TABLE tether_controls ADD COLUMN push_detail TEXT;
    ALTER TABLE tether_controls ADD COLUMN push_ms DOUBLE PRECISION
    """,
    # 6: an incident's members and its timeline in tables of their own, one row a member
    # and one an entry, so that a monitor joining or leaving an incident of thousands
    # writes one row, not the whole incident (issue 23); and the local incident a host's
    # was folded into.
    """
    CREATE TABLE incident_members (
        incident BIGINT NOT NULL,
        monitor TEXT NOT NULL,
        member JSONB NOT NULL,
        PRIMARY KEY (incident, monitor)
    );
    CREATE INDEX incident_members_by_monitor ON incident_members (monitor);
    CREATE TABLE incident_timeline (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        incident BIGINT NOT NULL,
        entry JSONB NOT NULL
    );
    CREATE INDEX incident_timeline_by_incident ON incident_timeline (incident, seq);
    INSERT INTO incident_members (incident, monitor, member)
    SELECT i.id, m.key, m.value FROM incidents i, jsonb_each(i.members) m;
    INSERT INTO incident_timeline (incident, entry)
    SELECT i.id, t.entry FROM incidents i,
        jsonb_array_elements(i.timeline) WITH ORDINALITY AS t(entry, n)
    ORDER BY i.id, t.n;
    ALTER TABLE incidents DROP COLUMN members, DROP COLUMN timeline,
        ADD COLUMN folded_into BIGINT
    """,
    # 7: each incident's membership as history, appended to and never rewritten (issue
    # 24); an incident stored before is given what is known (see the SQLite store's).
    """
    CREATE TABLE incident_membership (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        incident BIGINT NOT NULL,
        monitor TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        event TEXT NOT NULL,
        why TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX incident_membership_by_incident ON incident_membership (incident, monitor);
    CREATE INDEX incident_membership_in_order ON incident_membership (incident, seq);
    CREATE INDEX incident_membership_by_monitor ON incident_membership (monitor);
    INSERT INTO incident_membership (incident, monitor, at, event, why)
    SELECT m.incident, m.monitor, coalesce((m.member->>'joined')::float8, i.opened),
        'joined', 'down'
    FROM incident_members m JOIN incidents i ON i.id = m.incident
    ORDER BY m.incident, m.monitor;
    INSERT INTO incident_membership (incident, monitor, at, event, why)
    SELECT i.id, j.value, i.opened, 'joined', 'down'
    FROM incidents i, jsonb_array_elements_text(i.monitors) j
    WHERE i.resolved IS NOT NULL OR NOT EXISTS
        (SELECT 1 FROM incident_members WHERE incident = i.id) ORDER BY i.id, j.value;
    INSERT INTO incident_membership (incident, monitor, at, event, why)
    SELECT i.id, j.value, i.resolved, 'left', 'up'
    FROM incidents i, jsonb_array_elements_text(i.monitors) j
    WHERE i.resolved IS NOT NULL ORDER BY i.id, j.value
    """,
)

MIGRATION_LOCK: Final = 0x7465_7468_6572
"""The advisory lock key held while migrating ("tether" in ASCII)."""
_IDS_LOCK: Final = MIGRATION_LOCK + 1
"""The advisory lock key held while taking incident ids from the sequence."""
_SEQUENCE: Final = "pg_get_serial_sequence('incidents', 'id')::regclass"
_ID_BLOCK: Final = 16
"""Incident ids a leader keeps in reserve, so that incidents open while the server is
away; what it has not used when it stops leading is a gap in the numbering."""

# A server that does not answer should not hang tether for libpq's default of forever.
_CONNECT_DEFAULTS: Final = {"connect_timeout": "10", "application_name": "tether"}
_TALLY_NAMES: Final = [c.strip() for c in TALLY_COLUMNS.split(",")]
_LOCATION_NAMES: Final = [c.strip() for c in LOCATION_COLUMNS.split(",")]
_UPSERT_LOCATION: Final = (
    # INSERT ... SELECT, so that a fence can keep the row out: written only while the
    # fence's owner holds the monitor's shard at that location (or without a fence).
    f"INSERT INTO tether_location_states ({LOCATION_COLUMNS}, updated) "
    "SELECT %s::text, %s::text, %s::text, %s::float8, %s::text, %s::text, %s::text, "
    "%s::text, %s::float8, extract(epoch FROM clock_timestamp())::float8 "
    "WHERE %s::text IS NULL OR EXISTS (SELECT 1 FROM tether_leases "
    "WHERE location = %s AND shard = %s AND owner = %s) "
    "ON CONFLICT (monitor, location) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in [*_LOCATION_NAMES[2:], "updated"])
)


def _located(state: LocationState, fence: Fence | None) -> tuple[Any, ...]:
    """The parameters of :data:`_UPSERT_LOCATION` for one state and its fence."""
    owner, shard = (None, None) if fence is None else (fence.owner, fence.shard)
    return (*location_values(state), owner, state.location, shard, owner)


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


def _storable_json(value: Any) -> str:
    """JSON that PostgreSQL's jsonb takes: it refuses a lone surrogate and ``\\u0000``."""
    return storable_text(json.dumps(value, ensure_ascii=False).replace("\\u0000", "\\ufffd"))


def _jsonb(value: Any) -> Any:
    from psycopg.types.json import Jsonb

    return Jsonb(value, dumps=_storable_json)


def _default_spill(url: str) -> Path:
    """Where results wait while the server is away: a file per database under the user's
    state directory (``$XDG_STATE_HOME/tether``, by default ``~/.local/state/tether``)."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    digest = hashlib.sha256(url.encode("utf-8", "replace")).hexdigest()[:16]
    return base / "tether" / f"postgres-{digest}.spill"


def _need_psycopg() -> None:
    from tether._extras import problem

    if (missing := problem("storage.postgres", "postgres")) is not None:
        raise StoreError(missing)


_SELECT_INCIDENTS: Final = (
    f"SELECT {INCIDENT_COLUMNS}, "
    "(SELECT jsonb_object_agg(monitor, member) FROM incident_members WHERE incident = i.id), "
    "(SELECT jsonb_agg(entry ORDER BY seq) FROM incident_timeline WHERE incident = i.id) "
    "FROM incidents i "
)
"""Incidents with their members and timelines, in one statement (one snapshot)."""


_SELECT_LISTED: Final = (
    f"SELECT {LISTED_COLUMNS}, i.folded_into, {MEMBERS_KEPT}, "
    f"CASE WHEN {MEMBERS_KEPT} "
    "THEN (SELECT count(*) FROM incident_members WHERE incident = i.id) "
    "ELSE jsonb_array_length(i.monitors) END, "
    f"CASE WHEN {MEMBERS_KEPT} "
    "THEN (SELECT jsonb_agg(monitor) FROM (SELECT monitor FROM incident_members "
    "WHERE incident = i.id AND (%(among)s::text[] IS NULL OR monitor = ANY(%(among)s::text[])) "
    'ORDER BY monitor COLLATE "C" LIMIT %(members)s) s) '
    "ELSE (SELECT jsonb_agg(value) FROM (SELECT value FROM jsonb_array_elements_text(i.monitors) "
    "WHERE %(among)s::text[] IS NULL OR value = ANY(%(among)s::text[]) "
    'ORDER BY value COLLATE "C" LIMIT %(members)s) s) END, '
    "(SELECT count(*) FROM incident_timeline WHERE incident = i.id), "
    "(SELECT jsonb_agg(jsonb_build_array(seq, entry)) FROM ("
    "(SELECT seq, entry FROM incident_timeline WHERE incident = i.id ORDER BY seq LIMIT 1) "
    "UNION (SELECT seq, entry FROM incident_timeline WHERE incident = i.id "
    "ORDER BY seq DESC LIMIT %(newest)s)) s) "
    "FROM incidents i WHERE true "
)
"""Incidents as a list shows them (:class:`Listed`): each subquery stops at its cap
and no member's record is read.  Names are ordered as Python orders them (by code
point: the "C" collation), whatever the database's collation."""

_HAS_MONITOR: Final = (
    "AND (EXISTS (SELECT 1 FROM incident_membership WHERE incident = i.id "
    "AND monitor = %(name)s) OR EXISTS (SELECT 1 FROM incident_members "
    "WHERE incident = i.id AND monitor = %(name)s) "
    "OR i.monitors @> jsonb_build_array(%(name)s::text)) "
)
"""An incident the monitor is or was in (see the SQLite store's)."""

_EVERYONE: Final = (
    'UPDATE incidents SET monitors = (SELECT jsonb_agg(m ORDER BY m COLLATE "C") FROM '
    "(SELECT jsonb_array_elements_text(monitors) AS m FROM incidents WHERE id = %(id)s "
    "UNION SELECT monitor FROM incident_membership WHERE incident = %(id)s) s) "
    "WHERE id = %(id)s AND EXISTS (SELECT 1 FROM incident_membership WHERE incident = %(id)s)"
)
"""A resolved incident's monitors: those it was written with and everyone its membership
history holds (see the SQLite store's)."""

_DOWN_SINCE: Final = (
    "SELECT m.monitor, min(coalesce((m.member->>'joined')::float8, i.opened)) "
    "FROM incidents i JOIN incident_members m "
    "ON m.incident = i.id WHERE i.resolved IS NULL GROUP BY m.monitor "
    "UNION ALL SELECT j.value, i.opened FROM incidents i, jsonb_array_elements_text(i.monitors) j "
    "WHERE i.resolved IS NULL AND NOT EXISTS "
    "(SELECT 1 FROM incident_members WHERE incident = i.id)"
)


def _incident(row: Sequence[Any]) -> Incident:
    """An incident read by :data:`_SELECT_INCIDENTS`."""
    *header, members, timeline = row
    return incident_record(header, _same, members or {}, timeline or [])


def _write_incident(change: IncidentWrite) -> Callable[[Conn], None]:
    """The write of one incident change (:class:`IncidentWrite`): a new incident's row
    (nothing if its id is taken), or its header; its timeline's new entries; the members
    it names.  Its statements do not depend on how many members the incident has, only
    on how many changed."""
    incident_id = change.id

    def write(conn: Conn) -> None:
        if change.new is not None:
            cur = conn.execute(
                f"INSERT INTO incidents ({INCIDENT_COLUMNS}) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s) "
                "ON CONFLICT (id) DO NOTHING",
                change.new,
            )
            if cur.rowcount != 1:
                return
        else:
            conn.execute(
                "UPDATE incidents SET kind = coalesce(%s, kind), "
                "detail = coalesce(%s, detail), hint = coalesce(%s, hint), "
                "resolved = coalesce(%s, resolved), "
                "acknowledged = coalesce(acknowledged, %s), "
                "folded_into = coalesce(%s, folded_into), "
                "monitors = coalesce(%s::jsonb, monitors) WHERE id = %s",
                (*change.header, incident_id),
            )
        with conn.cursor() as cur:
            if change.entries:
                cur.executemany(
                    "INSERT INTO incident_timeline (incident, entry) VALUES (%s, %s::jsonb)",
                    [(incident_id, entry) for entry in change.entries],
                )
            if change.every:
                cur.execute("DELETE FROM incident_members WHERE incident = %s", (incident_id,))
            if change.deletes:
                cur.executemany(
                    "DELETE FROM incident_members WHERE incident = %s AND monitor = %s",
                    [(incident_id, monitor) for monitor in change.deletes],
                )
            if change.upserts:
                cur.executemany(
                    "INSERT INTO incident_members (incident, monitor, member) "
                    "VALUES (%s, %s, %s::jsonb) ON CONFLICT (incident, monitor) "
                    "DO UPDATE SET member = excluded.member",
                    [(incident_id, monitor, member) for monitor, member in change.upserts],
                )
            if change.moves:
                cur.executemany(
                    "INSERT INTO incident_membership (incident, monitor, at, event, why) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    [(incident_id, *move) for move in change.moves],
                )
            if change.resolves:
                cur.execute(_EVERYONE, {"id": incident_id})

    return write


_ROLLUP_READ: Final = ", ".join(f"r.{c}" for c in TALLY_COLUMNS.split(", "))


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


class PostgresStore(ResultSQL["Conn"], IncidentSQL["Conn"], ControlSQL["Conn"]):
    """The monitor's store in a PostgreSQL database.  Thread-safe; writes go through one
    writer thread, reads through one shared connection.

    ``dsn`` is a ``postgresql://user:password@host:port/database`` URL (libpq's
    query parameters, such as ``sslmode`` or ``options=-csearch_path%3Dtether``,
    work too).  Raises :class:`StoreError` when psycopg is missing, the
    server cannot be reached, or the schema is newer than this tether's.
    """

    def __init__(
        self,
        dsn: str,
        *,
        raw_retention: float = 7 * 86400,
        rollup_retention: float = 365 * 86400,
        batch_size: int = 500,
        batch_seconds: float = 0.2,
        spill: str | Path | None = None,
        **holding: Any,
    ) -> None:
        _need_psycopg()
        self._link = Link(dsn)
        self.url = self._link.url
        """The database's URL with the password masked."""
        self.raw_retention = raw_retention
        self.rollup_retention = rollup_retention
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
            spill=Path(spill) if spill is not None else _default_spill(self.url),
            **holding,
        )

    _select_incidents = _SELECT_INCIDENTS
    _select_down_since = _DOWN_SINCE

    def __repr__(self) -> str:
        return f"<PostgresStore {self.url}>"

    # -- the dialect of the SQL both stores share (``_dialect.py``) ------------------

    def _execute(self, conn: Conn, sql: str, params: Any = ()) -> Any:
        return conn.execute(sql, params)

    def _rows(self, sql: str, params: Any = ()) -> Sequence[Sequence[Any]]:
        return self._query(sql, params)

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
        return _incident(row)

    def _write_incidents(self, conn: Conn, changes: Sequence[IncidentWrite]) -> None:
        """Incident changes in order, as :func:`_write_incident` writes each."""
        for change in changes:
            _write_incident(change)(conn)

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

        return self._call(claim)

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

        return self._call(heads)

    def incident_list(
        self,
        *,
        open_only: bool = False,
        limit: int = 100,
        monitor: str | None = None,
        shown: tuple[int, int] = (50, 100),
        among: Collection[str] | None = None,
    ) -> list[Listed]:
        where = "AND i.resolved IS NULL " if open_only else ""
        if monitor is not None:
            where += _HAS_MONITOR
        members, timeline = shown
        params = {
            "members": members,
            "newest": max(timeline - 1, 0),
            "limit": limit,
            "name": monitor,
            "among": None if among is None else sorted(among),
        }
        rows = self._query(f"{_SELECT_LISTED}{where}ORDER BY i.id DESC LIMIT %(limit)s", params)
        return [listed_record(r, _same) for r in rows]

    def state_changes(self, monitor: str, since: float) -> list[tuple[float, State]]:
        rows = self._query(
            "(SELECT at, state FROM state_changes WHERE monitor = %s AND at < %s "
            "ORDER BY at DESC LIMIT 1) "
            "UNION ALL (SELECT at, state FROM state_changes WHERE monitor = %s AND at >= %s) "
            "ORDER BY at",
            (monitor, since, monitor, since),
        )
        return [(at, State(state)) for at, state in rows]

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

    def every_state_change(self, since: float) -> dict[str, list[tuple[float, State]]]:
        rows = self._query(
            "(SELECT DISTINCT ON (monitor) monitor, at, state FROM state_changes "
            "WHERE at < %s ORDER BY monitor, at DESC) "
            "UNION ALL (SELECT monitor, at, state FROM state_changes WHERE at >= %s) "
            "ORDER BY 1, 2",
            (since, since),
        )
        out: dict[str, list[tuple[float, State]]] = {}
        for monitor, at, state in rows:
            out.setdefault(monitor, []).append((at, State(state)))
        return out

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
        try:
            return self._write(results, states, changes, locations, jobs)
        except _LostBeforeCommit:
            # Nothing of it landed: send it once more, on a new connection.
            return self._write(results, states, changes, locations, jobs)

    def _write(
        self,
        results: list[ProbeRecord],
        states: dict[str, dict[str, Any]],
        changes: list[tuple[str, float, State]],
        locations: list[Located],
        jobs: list[Job[Conn]],
    ) -> list[Any]:
        """One transaction on the write connection, opened anew if the server dropped it."""
        if self._writer.closed:
            self._writer = self._connect()
        conn = self._writer
        committing = False

        def write() -> list[Any]:
            nonlocal committing
            with conn.transaction():
                if results:
                    self._insert_results(conn, results)
                if states:
                    self._save_states(conn, states)
                if changes:
                    with conn.cursor() as cur:
                        cur.executemany(
                            "INSERT INTO state_changes (monitor, at, state) VALUES (%s, %s, %s) "
                            "ON CONFLICT (monitor, at) DO UPDATE SET state = excluded.state",
                            [(monitor, at, str(state)) for monitor, at, state in changes],
                        )
                if locations:
                    with conn.cursor() as cur:
                        cur.executemany(_UPSERT_LOCATION, [_located(*p) for p in locations])
                values = run_jobs(conn, jobs)
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

    def _save_states(self, conn: Conn, states: dict[str, dict[str, Any]]) -> None:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO monitor_state (monitor, data) VALUES (%s, %s) "
                "ON CONFLICT (monitor) DO UPDATE SET data = excluded.data",
                [(monitor, _jsonb(data)) for monitor, data in states.items()],
            )

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
            # Roll-ups are kept up to date as results arrive, so pruning raw rows
            # never loses what the long-term history needs.  PostgreSQL tallies the
            # batch and adds it to the rows itself, in one statement: read, merged in
            # Python and written back, the roll-ups were a sixth of an instance's
            # interpreter lock in a mass outage, and two instances writing one row at
            # once could each overwrite the other's count.
            cur.execute(ADD_ROLLUPS, rollup_arrays(records))
