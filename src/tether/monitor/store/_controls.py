"""Changes made at run time through the write API (issue 25: the store's protocol by
concern): monitors paused, checks asked for, maintenance windows, notes, and the audit
log; their protocol and how their rows become values."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, Protocol

from tether.monitor._records import AuditEntry, Controls, Push, TimelineEntry, Window, stored_ms
from tether.monitor.store._values import Decode

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
    ) -> Window:
        """Open a maintenance window for ``monitors`` (empty: all) from ``start`` to
        ``end``, and log ``audit`` with its target set to the new window
        (``maintenance:ID``)."""

    def close_window(self, window_id: int, audit: AuditEntry) -> tuple[Window | None, bool]:
        """Close maintenance window ``window_id`` at ``audit.at`` and log ``audit``: the
        window as it is now, and whether this closed it (False, nothing logged, for one
        closed or over already); ``(None, False)`` if there is none by that id."""

    def add_note(self, incident_id: int, entry: TimelineEntry, audit: AuditEntry) -> bool:
        """Add ``entry`` (a note) to an incident's timeline and log ``audit``; False if
        there is no incident by that id."""

    def controls(self, now: float) -> Controls:
        """The monitors paused, the checks asked for, and the windows not over at ``now``
        (each instance reads these every second)."""

    def windows(self, *, limit: int = 100) -> list[Window]:
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
    audit: AuditEntry, window: Window | None = None
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


def window_record(row: Sequence[Any], decode: Decode) -> Window:
    """A maintenance window read back in :data:`WINDOW_COLUMNS` order."""
    window_id, monitors, start, ends, reason, opened_by, closed, closed_by = row
    return Window(
        int(window_id),
        tuple(decode(monitors)),
        float(start),
        float(ends),
        reason,
        opened_by,
        None if closed is None else float(closed),
        closed_by,
    )


def controls_of(rows: Iterable[Sequence[Any]], windows: Iterable[Window]) -> Controls:
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
