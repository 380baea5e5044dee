"""Incidents of many members made in a store, changed as the engine changes them, and the
work the SQLite writer does for a change counted: for the store's tests of incident rows."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from typing import Any

from tether._kinds import Kind
from tether.monitor._records import Incident, Member, TimelineEntry
from tether.monitor.store import Store

T0 = 1_700_000_000.0


def names(n: int) -> list[str]:
    return [f"m{i:05d}" for i in range(n)]


def one_member(store: Store, at: float = T0) -> Incident:
    """A new incident (not yet committed) of one monitor, ``api``, which opened it and was
    alerted: a refused port on 127.0.0.1:8080."""
    return Incident(
        store.new_incident_id(),
        "host:127.0.0.1:8080",
        Kind.CONNECT_REFUSED,
        "refused",
        "start it",
        at,
        monitors=("api",),
        timeline=(TimelineEntry(at, "opened", "refused"),),
        members={"api": Member(at, alerted=True, opener=True)},
    )


def big(store: Store, n: int) -> Incident:
    """A `local` incident of ``n`` members, opened in the store."""
    members = {name: Member(T0, alerted=True) for name in names(n)}
    made = Incident(
        store.new_incident_id(),
        "local",
        Kind.CONNECT_REFUSED,
        "refused",
        "start it",
        T0,
        monitors=tuple(sorted(members)),
        timeline=(TimelineEntry(T0, "opened", "refused"),),
        members=members,
    )
    store.commit_incident(made, [], T0, opened=True)
    store.flush()
    return made


def joined(incident: Incident, name: str, at: float) -> tuple[Incident, TimelineEntry]:
    """``incident`` with ``name`` joined at ``at``, and the entry that says so."""
    members = {**incident.members, name: Member(at, alerted=True)}
    entry = TimelineEntry(at, "monitor down", f"{name} is down too")
    return (
        Incident(
            incident.id,
            incident.key,
            incident.kind,
            incident.detail,
            incident.hint,
            incident.opened,
            monitors=tuple(sorted(members)),
            timeline=(*incident.timeline, entry),
            members=members,
        ),
        entry,
    )


def fields_of(incident: Incident) -> dict[str, Any]:
    return {name: getattr(incident, name) for name in Incident.__slots__}


def sqlite_count(store: Store, do: Callable[[], None]) -> tuple[int, ...]:
    """(statements, bytes, pages) the SQLite writer runs for ``do()``, transaction
    control left out: each statement as SQLite expands it with its bound values, and the
    pages its commit wrote (the frames in the WAL after a checkpoint emptied it): a
    statement that rewrote a row holding a list of every member would be one statement,
    and many pages."""
    seen: list[str] = []
    other = sqlite3.connect(store.path, isolation_level=None)  # type: ignore[attr-defined]
    try:
        store.flush()
        busy, _, _ = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0  # the WAL is empty: the next commit writes from its start
        store._call(lambda conn: conn.set_trace_callback(seen.append))  # type: ignore[attr-defined]
        do()
        store.flush()
        store._call(lambda conn: conn.set_trace_callback(None))  # type: ignore[attr-defined]
        _, frames, _ = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        other.close()
    work = [s for s in seen if not re.match(r"(BEGIN|COMMIT|ROLLBACK)\b", s)]
    return len(work), sum(len(s.encode()) for s in work), frames
