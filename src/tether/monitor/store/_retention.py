"""What is deleted, and when (issue 44 §7): every table that grows with time has a
retention, and :meth:`RetentionStore.prune` applies them all, by concern as the other
protocols are (its value types, the protocol, and the SQL both backends share).

Each table of both stores' migrations, and how long its rows are kept
(``docs/monitor.md``, "Retention", says the same to users):

============================  ====================================  =====================
table                         kept                                  never deleted
============================  ====================================  =====================
results, minute roll-ups,     ``raw_retention`` (7 days); results,
screenshots                   roll-ups and state changes dated more
                              than a day ahead at once
hour and day roll-ups         ``rollup_retention`` (365 days)
state_changes                 ``rollup_retention``, 90 days at       each monitor's last
                              least (uptime looks back 90 days)      change before them
outbox                        ``alert_retention`` after delivery     an alert not delivered
                              (30 days)                              (claimed or not); an
                                                                     open incident's; a
                                                                     burning objective's
tether_silences               ``silence_retention`` after it ends    an active or pending
                              or is expired (30 days)                silence
tether_maintenance            ``incident_retention`` after it ends   a window in force
incidents, incident_members,  ``incident_retention`` after it is     an open incident, one
incident_timeline,            resolved (``rollup_retention``)        folded into an open
incident_membership                                                  one
tether_audit                  ``audit_retention`` (365 days)
tether_sessions               until it expires (``session_idle``
                              after its last use, ``session_max``
                              after its login, as they were when it
                              was last written)
tether_agent_batches          ``agents.keep_batches`` (the agent
                              intake prunes them)
tether_instances              an hour after the last heartbeat
                              (the leader's round: ``_cluster.py``);
                              a lone instance's row at its clean stop
tether_certificates           while its monitor has results
tether_discovered,            its source's ``grace`` after the      a target in its
tether_discovery_sources      first read that missed it; a          source's latest
                              source's set when it leaves the       good read
                              file (``runtime/_discovery.py``)
============================  ====================================  =====================

The rest are bounded by what is configured and rewritten in place: one row per monitor
(``monitor_state``, ``tether_location_states``, ``tether_controls``), per agent location
(``tether_agents``), per lease (``tether_leases``), or one in all (PostgreSQL's
``tether_schema``).  They grow only with the names ever monitored (a discovery whose
targets keep changing names adds rows), and deleting a monitor's detector state or pause
wrongly is what a restart must never see, so they are not pruned.

Of each table whose rows have ids (outbox, silences, windows, incidents, audit), the
newest row is kept whatever its age: SQLite gives a new row one more than the highest id
stored, and a restart counts incident ids on from the highest, so a table pruned empty
would hand out an id an alert, a link or an audit entry already names.

A cluster prunes once: the runner asks only its leader (``prune``, ``runtime/_rounds.py``),
every ten minutes and at start.  Deletes go in chunks of :attr:`RetentionSQL.prune_chunk` rows, each
its own transaction, so that the writer takes the results queued meanwhile between them
(the first prune after an upgrade may have a year of rows to delete).

Alertmanager keeps expired silences and its notification log for ``--data.retention``
(120 h) and drops what is older at its maintenance (every 15 minutes); tether keeps its
outbox and silences longer by default, 30 days, because they are also what a person
reads back (the alerts a silence kept, what was sent for an outage), and keeps what the
reports read back (incidents, maintenance windows) as long as the roll-ups they are shown
beside.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from tether._plural import count, joined
from tether.monitor.store._dialect import C, SQLStore

__all__ = ["BURNING", "DAY", "RESOLVED", "Pruned", "Retention", "RetentionSQL", "RetentionStore"]

log = logging.getLogger("tether.monitor")

DAY: Final = 86400.0

BURNING: Final = "objective.burning "
"""How an objective's firing alert's dedup key starts (``engine/objectives/_words.py``'s
``objective_dedup``); its resolution's starts with :data:`RESOLVED`, the rest alike."""
RESOLVED: Final = "objective.resolved "


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each kind of history is kept, in seconds (``storage``'s ``*_retention``
    keys: ``docs/monitor-config.md``)."""

    raw: float = 7 * DAY
    """Raw results, per-minute roll-ups and screenshots."""
    rollups: float = 365 * DAY
    """Per-hour and per-day roll-ups (and state changes, 90 days at least)."""
    alerts: float = 30 * DAY
    """An alert in the outbox, after it was delivered or kept back (suppressed)."""
    silences: float = 30 * DAY
    """A silence, after it ended or was expired."""
    incidents: float = 365 * DAY
    """A resolved incident with its members, timeline and membership history, and a
    maintenance window opened at run time, after it ended."""
    audit: float = 365 * DAY
    """An entry of the audit log."""


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one :meth:`RetentionStore.prune` deleted, by what it was."""

    results: int = 0
    rollups: int = 0
    state_changes: int = 0
    screenshots: int = 0
    alerts: int = 0
    silences: int = 0
    windows: int = 0
    incidents: int = 0
    incident_rows: int = 0
    """The deleted incidents' members, timeline entries and membership moves."""
    audit: int = 0
    sessions: int = 0
    """Login sessions past their expiry."""

    @property
    def total(self) -> int:
        return sum(self.counts().values())

    def counts(self) -> dict[str, int]:
        """Each count by its name, in order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def __str__(self) -> str:
        said = [count(n, *_NOUNS[name]) for name, n in self.counts().items() if n]
        return joined(said) or "nothing"


_NOUNS: Final[dict[str, tuple[str, str]]] = {
    "results": ("result", "results"),
    "rollups": ("roll-up", "roll-ups"),
    "state_changes": ("state change", "state changes"),
    "screenshots": ("screenshot", "screenshots"),
    "alerts": ("alert", "alerts"),
    "silences": ("silence", "silences"),
    "windows": ("maintenance window", "maintenance windows"),
    "incidents": ("incident", "incidents"),
    "incident_rows": (
        "row of their members, timelines and history",
        "rows of their members, timelines and history",
    ),
    "audit": ("audit entry", "audit entries"),
    "sessions": ("expired login session", "expired login sessions"),
}


class RetentionStore(Protocol):
    """A store's retention: what it keeps, and the prune that deletes the rest."""

    retention: Retention

    def prune(self, now: float) -> Pruned:
        """Delete every row past its retention at ``now`` and never one still needed (an
        alert not delivered, an open incident's rows, a silence or window not over: see
        the module's table); what was deleted.  The caller prunes on one instance of a
        cluster (its leader): every instance's store is the same database."""


_KEEP_NEWEST: Final = "{alias}id < (SELECT max(id) FROM {table})"

_ALERTS: Final = f"""
    DELETE FROM outbox WHERE id IN (SELECT o.id FROM outbox o
    WHERE o.delivered < %(before)s AND {_KEEP_NEWEST.format(alias="o.", table="outbox")}
    AND NOT EXISTS (SELECT 1 FROM incidents i
        WHERE i.resolved IS NULL AND o.dedup LIKE CAST(i.id AS TEXT) || ':%%')
    AND NOT (o.dedup LIKE %(burning)s AND NOT EXISTS (SELECT 1 FROM outbox r
        WHERE r.channel = o.channel
        AND r.dedup = %(resolved)s::text || substr(o.dedup, %(cut)s::int)))
    LIMIT %(chunk)s)
"""
"""Delivered (or suppressed) alerts past their retention, but never an open incident's
(a restarted or new leader reads them to tell only the news, and the Alertmanager channel
to keep firing what was told), nor an objective's firing alert with no resolution stored
(its dedup key is what keeps a restart from paging it again)."""

_SILENCES: Final = f"""
    DELETE FROM tether_silences WHERE id IN (SELECT id FROM tether_silences
    WHERE coalesce(expired, ends) < %(before)s
    AND {_KEEP_NEWEST.format(alias="", table="tether_silences")} LIMIT %(chunk)s)
"""

_WINDOWS: Final = f"""
    DELETE FROM tether_maintenance WHERE id IN (SELECT id FROM tether_maintenance
    WHERE coalesce(closed, ends) < %(before)s
    AND {_KEEP_NEWEST.format(alias="", table="tether_maintenance")} LIMIT %(chunk)s)
"""

_AUDIT: Final = f"""
    DELETE FROM tether_audit WHERE id IN (SELECT id FROM tether_audit
    WHERE at < %(before)s AND {_KEEP_NEWEST.format(alias="", table="tether_audit")}
    LIMIT %(chunk)s)
"""

_SESSIONS: Final = """
    DELETE FROM tether_sessions WHERE digest IN (SELECT digest FROM tether_sessions
    WHERE expires < %(before)s LIMIT %(chunk)s)
"""
"""Login sessions past their expiry (issue 48): a session is ended when next used after
it anyway (``web/auth/_sessions.py``); this drops those never used again."""

_INCIDENTS: Final = f"""
    SELECT i.id FROM incidents i WHERE i.resolved < %(before)s
    AND {_KEEP_NEWEST.format(alias="i.", table="incidents")}
    AND NOT EXISTS (SELECT 1 FROM incidents o WHERE o.id = i.folded_into AND o.resolved IS NULL)
    ORDER BY i.id LIMIT %(chunk)s
"""
"""Resolved incidents past their retention, but not one folded into an incident still
open (that one's timeline names it)."""

_INCIDENT_TABLES: Final = ("incident_timeline", "incident_members", "incident_membership")


class RetentionSQL(SQLStore[C]):
    """The prune's SQL, both backends alike."""

    retention: Retention

    prune_chunk: int = 5000
    """Rows deleted in one transaction at most (incidents: a tenth of it, each with its
    rows)."""

    def prune(self, now: float) -> Pruned:
        r = self.retention
        results, rollups, changes, shots = self._call(self._results_job(now))
        incidents, rows = self._prune_incidents(now - r.incidents)
        pruned = Pruned(
            results=results,
            rollups=rollups,
            state_changes=changes,
            screenshots=shots,
            alerts=self._in_chunks(
                _ALERTS,
                {
                    "before": now - r.alerts,
                    "burning": BURNING + "%",
                    "resolved": RESOLVED,
                    "cut": len(BURNING) + 1,
                },
            ),
            silences=self._in_chunks(_SILENCES, {"before": now - r.silences}),
            windows=self._in_chunks(_WINDOWS, {"before": now - r.incidents}),
            incidents=incidents,
            incident_rows=rows,
            audit=self._in_chunks(_AUDIT, {"before": now - r.audit}),
            sessions=self._in_chunks(_SESSIONS, {"before": now}),
        )
        if pruned.total:
            log.info(
                "store: deleted what was past its retention: %s",
                pruned,
                extra={"event": "store.pruned", **pruned.counts()},
            )
        return pruned

    def _results_job(self, now: float) -> Callable[[C], tuple[int, int, int, int]]:
        r = self.retention
        # No check is made in the future: one dated more than a day ahead is a clock gone
        # wrong or a hand's write (a time that is not a number sorts after every number in
        # both backends), and kept it would be the monitor's newest for good.
        ahead = now + DAY

        def delete(conn: C) -> tuple[int, int, int, int]:
            raw = self._execute(
                conn, "DELETE FROM results WHERE ts < %s OR ts > %s", (now - r.raw, ahead)
            )
            # State changes are small and uptime looks back 90 days: keep them with the
            # roll-ups, never fewer than 90 days; and each monitor's last, the state it is
            # in (what ``tether status`` reads of a monitor that has not changed since).
            changes = self._execute(
                conn,
                "DELETE FROM state_changes WHERE at > %s OR (at < %s AND at < "
                "(SELECT max(s.at) FROM state_changes s WHERE s.monitor = state_changes.monitor "
                "AND s.at <= %s))",
                (ahead, now - max(r.rollups, 90 * DAY), ahead),
            )
            # Minute roll-ups go with the raw results: at a 60 s interval they are one row
            # per check, and a year of them is what roll-ups exist to avoid.
            old = self._execute(
                conn,
                "DELETE FROM rollups WHERE start > %s "
                "OR start < CASE WHEN period = 'minute' THEN %s ELSE %s END",
                (ahead, now - r.raw, now - r.rollups),
            )
            shots = self._execute(
                conn, "DELETE FROM tether_screenshots WHERE taken < %s", (now - r.raw,)
            )
            # A certificate is kept while its monitor has results: a renewal rewrites it.
            self._execute(
                conn,
                "DELETE FROM tether_certificates WHERE NOT EXISTS "
                "(SELECT 1 FROM results r WHERE r.monitor = tether_certificates.monitor)",
            )
            return int(raw.rowcount), int(old.rowcount), int(changes.rowcount), int(shots.rowcount)

        return delete

    def _in_chunks(self, sql: str, params: Mapping[str, Any]) -> int:
        """Run the chunked delete ``sql`` until a chunk deletes fewer than a chunk's worth;
        how many rows it deleted in all."""
        chunk = self.prune_chunk
        given = {**params, "chunk": chunk}
        total = 0
        while True:
            done = self._call(lambda conn: int(self._execute(conn, sql, given).rowcount))
            total += done
            if done < chunk:
                return total

    def _prune_incidents(self, before: float) -> tuple[int, int]:
        """Delete the resolved incidents past ``before`` with their rows, a chunk of
        them a transaction; (incidents, their rows) deleted."""
        chunk = max(1, self.prune_chunk // 10)

        def delete(conn: C) -> tuple[int, int]:
            found = self._execute(conn, _INCIDENTS, {"before": before, "chunk": chunk})
            ids = [int(row[0]) for row in found.fetchall()]
            if not ids:
                return 0, 0
            which = {"ids": self._list(ids)}
            rows = 0
            for table in _INCIDENT_TABLES:
                cur = self._execute(
                    conn, f"DELETE FROM {table} WHERE {self._any('incident', '%(ids)s')}", which
                )
                rows += int(cur.rowcount)
            self._execute(conn, f"DELETE FROM incidents WHERE {self._any('id', '%(ids)s')}", which)
            return len(ids), rows

        incidents = rows = 0
        while True:
            n, m = self._call(delete)
            incidents, rows = incidents + n, rows + m
            if n < chunk:
                return incidents, rows
