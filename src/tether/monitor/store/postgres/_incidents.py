"""The PostgreSQL store's own incident reads: an incident read whole, and as a list shows
it, and the monitors down in open incidents.  The SQL both stores share for incidents is
``incidents/_sql.py``'s; the PostgreSQL store writes an incident change itself."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from tether.monitor._records import Incident
from tether.monitor.store.incidents._rows import (
    INCIDENT_COLUMNS,
    LISTED_COLUMNS,
    incident_record,
)

__all__ = ["DOWN_SINCE", "HAS_MONITOR", "SELECT_INCIDENTS", "SELECT_LISTED", "incident_of"]


def _decoded(value: Any) -> Any:
    """psycopg already decodes JSONB."""
    return value


SELECT_INCIDENTS: Final = (
    f"SELECT {INCIDENT_COLUMNS}, "
    "(SELECT jsonb_object_agg(monitor, member) FROM incident_members WHERE incident = i.id), "
    "(SELECT jsonb_agg(entry ORDER BY seq) FROM incident_timeline WHERE incident = i.id) "
    "FROM incidents i "
)
"""Incidents with their members and timelines, in one statement (one snapshot)."""


_KEPT: Final = (
    "(i.resolved IS NULL AND "
    "(SELECT true FROM incident_members WHERE incident = i.id LIMIT 1) IS NOT NULL)"
)
""":data:`MEMBERS_KEPT` as a lookup of one member a row: its ``EXISTS`` was planned as a
hash of every incident's every member, built for each of its three uses (tens of ms a
list with a mass outage's incident open)."""

SELECT_LISTED: Final = (
    f"SELECT {LISTED_COLUMNS}, i.folded_into, {_KEPT}, "
    f"CASE WHEN {_KEPT} "
    "THEN (SELECT count(*) FROM incident_members WHERE incident = i.id) "
    "ELSE jsonb_array_length(i.monitors) END, "
    f"CASE WHEN {_KEPT} "
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

HAS_MONITOR: Final = (
    "AND (EXISTS (SELECT 1 FROM incident_membership WHERE incident = i.id "
    "AND monitor = %(name)s) OR EXISTS (SELECT 1 FROM incident_members "
    "WHERE incident = i.id AND monitor = %(name)s) "
    "OR i.monitors @> jsonb_build_array(%(name)s::text)) "
)
"""An incident the monitor is or was in (see the SQLite store's)."""


DOWN_SINCE: Final = (
    "SELECT m.monitor, min(coalesce((m.member->>'joined')::float8, i.opened)) "
    "FROM incidents i JOIN incident_members m "
    "ON m.incident = i.id WHERE i.resolved IS NULL GROUP BY m.monitor "
    "UNION ALL SELECT j.value, i.opened FROM incidents i, jsonb_array_elements_text(i.monitors) j "
    "WHERE i.resolved IS NULL AND NOT EXISTS "
    "(SELECT 1 FROM incident_members WHERE incident = i.id)"
)


def incident_of(row: Sequence[Any]) -> Incident:
    """An incident read by :data:`SELECT_INCIDENTS`."""
    *header, members, timeline = row
    return incident_record(header, _decoded, members or {}, timeline or [])
