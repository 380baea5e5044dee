"""Changes made at run time through the write API (issue 25: the store's protocol by
concern): monitors paused, checks asked for, maintenance windows, notes, and the audit
log; their protocol, how their rows become values, and the SQL both backends share for
them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, Final, Protocol

from tether.monitor._records import (
    AuditEntry,
    Controls,
    OpenedWindow,
    Push,
    TimelineEntry,
    stored_ms,
)
from tether.monitor.store._dialect import C, SQLStore
from tether.monitor.store._values import Decode
from tether.monitor.store._writer import Pushed

AUDIT_COLUMNS: Final = "id, at, who, via, action, target, params"
WINDOW_COLUMNS: Final = "id, monitors, start, ends, reason, opened_by, closed, closed_by"
CONTROL_COLUMNS: Final = (
    "monitor, paused, paused_by, check_at, push_at, push_ok, push_detail, push_ms"
)


class ControlStore(Protocol):
    """A store's changes made at run time, each logged with its audit entry."""

    def set_paused(self, monitor: str, paused: bool, audit: AuditEntry) -> bool:
        """Pause ``monitor`` (or resume it) on every instance from now on, and log
        ``audit`` in the same transaction; False, and nothing logged, if it was so
        already.  Committed before returning (StoreError while the database is away)."""

    def request_check(self, monitor: str, audit: AuditEntry) -> None:
        """Ask whichever instance probes ``monitor`` to check it now (it reads
        :meth:`controls`), and log ``audit``."""

    def open_window(
        self, monitors: Sequence[str], start: float, end: float, reason: str, audit: AuditEntry
    ) -> OpenedWindow:
        """Open a maintenance window for ``monitors`` (empty: all) from ``start`` to
        ``end``, and log ``audit`` with its target set to the new window
        (``maintenance:ID``)."""

    def close_window(self, window_id: int, audit: AuditEntry) -> tuple[OpenedWindow | None, bool]:
        """Close maintenance window ``window_id`` at ``audit.at`` and log ``audit``: the
        window as it is now, and whether this closed it (False, nothing logged, for one
        closed or over already); ``(None, False)`` if there is none by that id."""

    def add_note(self, incident_id: int, entry: TimelineEntry, audit: AuditEntry) -> bool:
        """Add ``entry`` (a note) to an incident's timeline and log ``audit``; False if
        there is no incident by that id."""

    def controls(self, now: float) -> Controls:
        """The monitors paused, the checks asked for, and the windows not over at ``now``
        (each instance reads these every second)."""

    def windows(self, *, limit: int = 100) -> list[OpenedWindow]:
        """Maintenance windows opened at run time, newest first."""

    def audit(self, *, limit: int = 100) -> list[AuditEntry]:
        """The audit log, newest first."""


def audit_record(row: Sequence[Any], decode: Decode) -> AuditEntry:
    """An audit entry read back in :data:`AUDIT_COLUMNS` order."""
    entry_id, at, who, via, action, target, params = row
    return AuditEntry(float(at), who, via, action, target, decode(params) or {}, int(entry_id))


def audit_values(entry: AuditEntry, encode: Callable[[Any], Any]) -> tuple[Any, ...]:
    """The values of an audit entry's row in :data:`AUDIT_COLUMNS` order, less ``id``."""
    return (
        entry.at,
        entry.who,
        entry.via,
        entry.action,
        entry.target,
        encode(dict(entry.params)),
    )


def incident_note(
    audit: AuditEntry, window: OpenedWindow | None = None
) -> tuple[tuple[str, ...], TimelineEntry] | None:
    """What a change made through the write API says on the timeline of each open
    incident it concerns: the monitors it concerns (empty: every one) and the entry, or
    None for a change that is not about monitors (an incident's acknowledgement and
    notes are written on its timeline by their own writes).  ``window`` is the window a
    ``maintenance.open`` opened or a ``maintenance.close`` closed: its monitors."""
    who, action, params = audit.who, audit.action, audit.params
    kind, _, name = audit.target.partition(":")
    reason = f": {params['reason']}" if params.get("reason") else ""
    if kind == "monitor" and action in ("pause", "resume", "check"):
        detail = {
            "pause": f"{name} paused by {who}{reason}",
            "resume": f"{name} resumed by {who}{reason}",
            "check": f"a check of {name} now, asked by {who}",
        }[action]
        return (name,), TimelineEntry(audit.at, action, detail)
    if action == "maintenance.open" and window is not None:
        detail = (
            f"maintenance window #{window.id} opened by {who} until {params.get('end')}, "
            f"alerts held{reason}"
        )
        return window.monitors, TimelineEntry(audit.at, "maintenance", detail)
    if action == "maintenance.close" and window is not None:
        detail = f"maintenance window #{window.id} closed by {who}"
        return window.monitors, TimelineEntry(audit.at, "maintenance", detail)
    return None


def window_record(row: Sequence[Any], decode: Decode) -> OpenedWindow:
    """A maintenance window read back in :data:`WINDOW_COLUMNS` order."""
    window_id, monitors, start, ends, reason, opened_by, closed, closed_by = row
    return OpenedWindow(
        int(window_id),
        tuple(decode(monitors)),
        float(start),
        float(ends),
        reason,
        opened_by,
        None if closed is None else float(closed),
        closed_by,
    )


def controls_of(rows: Iterable[Sequence[Any]], windows: Iterable[OpenedWindow]) -> Controls:
    """The controls from rows in :data:`CONTROL_COLUMNS` order and the open windows."""
    paused: dict[str, tuple[float, str]] = {}
    checks: dict[str, float] = {}
    pushes: dict[str, Push] = {}
    for monitor, at, by, check_at, push_at, push_ok, push_detail, push_ms in rows:
        if at is not None:
            paused[monitor] = (float(at), by or "")
        if check_at is not None:
            checks[monitor] = float(check_at)
        if push_at is not None:
            latency = stored_ms(push_ms)
            pushes[monitor] = Push(float(push_at), bool(push_ok), push_detail, latency)
    return Controls(paused, checks, tuple(windows), pushes)


class ControlSQL(SQLStore[C]):
    """The SQL of changes made at run time that both backends share (pausing is each
    backend's own: PostgreSQL locks the row first), and the audit log's writes."""

    def request_check(self, monitor: str, audit: AuditEntry) -> None:
        def update(conn: C) -> None:
            self._execute(
                conn,
                "INSERT INTO tether_controls (monitor, check_at) VALUES (%s, %s) "
                "ON CONFLICT (monitor) DO UPDATE SET check_at = excluded.check_at",
                (monitor, audit.at),
            )
            self._log(audit)(conn)

        self._call(update)

    def open_window(
        self, monitors: Sequence[str], start: float, end: float, reason: str, audit: AuditEntry
    ) -> OpenedWindow:
        def insert(conn: C) -> OpenedWindow:
            row = self._execute(
                conn,
                "INSERT INTO tether_maintenance (monitors, start, ends, reason, opened_by) "
                f"VALUES (%s::jsonb, %s, %s, %s, %s) RETURNING {WINDOW_COLUMNS}",
                (self._json(list(monitors)), start, end, reason, audit.who),
            ).fetchone()
            assert row is not None
            window = window_record(row, self._decode)
            self._log(replace(audit, target=f"maintenance:{window.id}"), window)(conn)
            return window

        return self._call(insert)

    def close_window(self, window_id: int, audit: AuditEntry) -> tuple[OpenedWindow | None, bool]:
        def update(conn: C) -> tuple[OpenedWindow | None, bool]:
            closed = self._execute(
                conn,
                "UPDATE tether_maintenance SET closed = %s, closed_by = %s "
                f"WHERE id = %s AND closed IS NULL AND ends > %s RETURNING {WINDOW_COLUMNS}",
                (audit.at, audit.who, window_id, audit.at),
            ).fetchone()
            if closed is not None:
                window = window_record(closed, self._decode)
                self._log(audit, window)(conn)
                return window, True
            row = self._execute(
                conn, f"SELECT {WINDOW_COLUMNS} FROM tether_maintenance WHERE id = %s", (window_id,)
            ).fetchone()
            return (None if row is None else window_record(row, self._decode)), False

        return self._call(update)

    def add_note(self, incident_id: int, entry: TimelineEntry, audit: AuditEntry) -> bool:
        text = self._json(entry.to_json())

        def update(conn: C) -> bool:
            cur = self._execute(
                conn,
                "INSERT INTO incident_timeline (incident, entry) "
                "SELECT id, %s::jsonb FROM incidents WHERE id = %s",
                (text, incident_id),
            )
            if cur.rowcount != 1:
                return False
            self._log(audit)(conn)
            return True

        return self._call(update)

    def controls(self, now: float) -> Controls:
        rows = self._rows(f"SELECT {CONTROL_COLUMNS} FROM tether_controls")
        windows = self._rows(
            f"SELECT {WINDOW_COLUMNS} FROM tether_maintenance "
            "WHERE closed IS NULL AND ends > %s ORDER BY id",
            (now,),
        )
        return controls_of(rows, (window_record(w, self._decode) for w in windows))

    def windows(self, *, limit: int = 100) -> list[OpenedWindow]:
        rows = self._rows(
            f"SELECT {WINDOW_COLUMNS} FROM tether_maintenance ORDER BY id DESC LIMIT %s", (limit,)
        )
        return [window_record(r, self._decode) for r in rows]

    def audit(self, *, limit: int = 100) -> list[AuditEntry]:
        rows = self._rows(
            f"SELECT {AUDIT_COLUMNS} FROM tether_audit ORDER BY id DESC LIMIT %s", (limit,)
        )
        return [audit_record(r, self._decode) for r in rows]

    def _push_job(self, pushed: Pushed) -> Callable[[C], None]:
        monitor, at, ok, detail, latency_ms = pushed

        def upsert(conn: C) -> None:
            self._execute(
                conn,
                "INSERT INTO tether_controls (monitor, push_at, push_ok, push_detail, push_ms) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (monitor) DO UPDATE SET "
                "push_at = excluded.push_at, push_ok = excluded.push_ok, "
                "push_detail = excluded.push_detail, push_ms = excluded.push_ms",
                (monitor, at, ok, None if detail is None else self._text(detail), latency_ms),
            )

        return upsert

    def _log(self, audit: AuditEntry, window: OpenedWindow | None = None) -> Callable[[C], None]:
        """The write that adds ``audit`` to the audit log and, for a change about monitors,
        says it on the timeline of each open incident it concerns (``incident_note``;
        ``window``: the one a ``maintenance.close`` closed): those with one of its monitors
        among their members, found by the members' index (an open incident stored before
        members were kept, by its ``monitors``)."""
        values = audit_values(audit, self._json)
        note = incident_note(audit, window)

        def write(conn: C) -> None:
            self._execute(
                conn,
                f"INSERT INTO tether_audit ({AUDIT_COLUMNS.removeprefix('id, ')}) "
                "VALUES (%s, %s, %s, %s, %s, %s::jsonb)",
                values,
            )
            if note is None:
                return
            monitors, entry = note
            text = self._json(entry.to_json())
            if not monitors:
                self._execute(
                    conn,
                    "INSERT INTO incident_timeline (incident, entry) "
                    "SELECT id, %s::jsonb FROM incidents WHERE resolved IS NULL ORDER BY id",
                    (text,),
                )
                return
            self._execute(
                conn,
                "INSERT INTO incident_timeline (incident, entry) "
                "SELECT id, %(entry)s::jsonb FROM incidents i WHERE resolved IS NULL AND "
                "(id IN (SELECT incident FROM incident_members WHERE "
                f"{self._any('monitor', '%(names)s')}) "
                "OR (NOT EXISTS (SELECT 1 FROM incident_members WHERE incident = i.id) "
                f"AND {self._holds_any('i.monitors', '%(names)s')})) ORDER BY id",
                {"entry": text, "names": self._list(monitors)},
            )

        return write
