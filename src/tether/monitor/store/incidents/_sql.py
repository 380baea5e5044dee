"""Incidents (issue 25: the store's protocol by concern): the protocol of their writes and
reads, and the SQL both backends share for them (their rows: ``incidents/_rows.py``)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, ClassVar, Protocol

from tether.monitor._records import Alert, AuditEntry, Incident, Member, Move, TimelineEntry
from tether.monitor.store._dialect import C
from tether.monitor.store._outbox import OutboxSQL
from tether.monitor.store._writer import IncidentJob
from tether.monitor.store.incidents._rows import (
    IncidentWrite,
    Listed,
    earliest,
    first_members,
    incident_write,
    moves_of,
    note_write,
)


class IncidentStore(Protocol):
    """A store's incidents: their header, members, timeline and membership history."""

    def new_incident_id(self) -> int:
        """An id no incident has, for the next one to open (at once, even while the
        database cannot be reached)."""

    def reserve_incident_ids(self) -> None:
        """Make :meth:`new_incident_id` safe across instances from now on: call it (off
        the event loop) when this instance becomes the leader.  StoreError while the
        database cannot be reached."""

    def open_incident(self, incident: Incident) -> None:
        """Store a new incident (committed on return)."""

    def note_incident(
        self,
        incident_id: int,
        entry: TimelineEntry,
        *,
        resolved: float | None = None,
        monitors: Sequence[str] | None = None,
        members: dict[str, Member] | None = None,
    ) -> None:
        """Add ``entry`` to an incident's timeline; ``resolved`` closes it then;
        ``monitors`` and ``members``, when given, replace what it holds."""

    def commit_incident(
        self,
        incident: Incident,
        alerts: Sequence[Alert],
        now: float,
        *,
        opened: bool = False,
        entry: TimelineEntry | None = None,
        touched: Collection[str] | None = None,
        moves: Sequence[Move] = (),
    ) -> None:
        """Write an incident change and queue its alerts in one transaction: the new
        ``incident`` when ``opened``, else ``entry`` added to its timeline with its
        resolution, monitors and members as ``incident`` has them (``touched``: only
        those members changed, each written as ``incident`` has it or removed if it has it
        no more; None: every one), and ``moves`` appended to its membership history (a
        resolved incident's monitors are then everyone that history holds); then each alert
        (``now`` as its queueing time; one a channel has already is left out).

        Both are committed, or held together while the database cannot be written,
        or neither: a crash never leaves an incident whose members say "alerted" with
        no alert queued."""

    def acknowledge_incident(
        self, incident_id: int, entry: TimelineEntry, *, audit: AuditEntry | None = None
    ) -> bool:
        """Mark an open incident acknowledged at ``entry.at``, and log ``audit`` with it;
        False, and nothing logged, if none is open by that id."""

    def incidents(self, *, open_only: bool = False, limit: int = 100) -> list[Incident]:
        """Incidents with their timeline, newest first."""

    def incident_list(
        self,
        *,
        open_only: bool = False,
        limit: int = 100,
        monitor: str | None = None,
        shown: tuple[int, int] = (50, 100),
        among: Collection[str] | None = None,
    ) -> list[Listed]:
        """Incidents newest first as a list shows them (``shown``: at most so many
        monitors, so many timeline entries), with how many each has: a read that costs
        what it returns, not what the incidents hold (issue 23).  ``monitor``: only the
        incidents it is or was in; ``among``: of their monitors, only these are named
        (a status page's).  See :class:`Listed`."""

    def membership(
        self,
        incidents: Collection[int],
        monitors: Collection[str] | None = None,
        *,
        first: int | None = None,
    ) -> dict[int, tuple[Move, ...]]:
        """The membership history of each of ``incidents`` (of ``monitors`` alone, when
        given: a status page's; of the first ``first`` monitors to join each, when given:
        a list's), in the order written; an incident with none is left out.  Each
        monitor's :func:`~tether.monitor._records.stints` are read from it."""

    def down_since(self) -> dict[str, float]:
        """Each monitor in an open incident, and when it joined the first of them (the
        incident's opening for a member stored without its time): the monitor's own start,
        not that of the monitor that opened the incident."""

    def acknowledgements(self) -> dict[int, float]:
        """Each open incident that is acknowledged, and when: what a running monitor reads
        each second to take ``tether ack`` (no timeline, no members: a read that costs the
        same however many monitors an incident holds)."""

    def incident(self, incident_id: int) -> Incident | None:
        """One incident by id."""


class IncidentSQL(OutboxSQL[C]):
    """The SQL of incidents that both backends share; a backend says how it writes an
    incident change (:meth:`_write_incidents`) and reads one whole
    (:attr:`_select_incidents`, :meth:`_incident`), and hands out ids its own way."""

    _select_incidents: ClassVar[str]
    """Incidents with their members and timelines, in one statement (one snapshot), up to
    the ``WHERE``."""
    _select_down_since: ClassVar[str]
    """Each monitor in an open incident and since when (rows for :func:`earliest`)."""

    _select_listed: ClassVar[str]
    """Incidents as a list shows them (:class:`Listed`), up to the conditions that follow
    ``WHERE``: its parameters are ``members``, ``newest`` and ``among``."""
    _has_monitor: ClassVar[str]
    """The condition (``AND ...``) of an incident the monitor ``name`` is or was in."""

    def _incident(self, row: Sequence[Any]) -> Incident:
        """An incident read by :attr:`_select_incidents`."""
        raise NotImplementedError

    def _listed(self, row: Sequence[Any]) -> Listed:
        """An incident read by :attr:`_select_listed` (``listed_record``)."""
        raise NotImplementedError

    def _write_incidents(self, conn: C, changes: Sequence[IncidentWrite]) -> None:
        """Incident changes (:class:`IncidentWrite`), in order (a batch's come merged:
        :func:`merged_writes`)."""
        raise NotImplementedError

    def _write_incident(self, change: IncidentWrite) -> Callable[[C], None]:
        """The write of one incident change."""

        def write(conn: C) -> None:
            self._write_incidents(conn, (change,))

        return write

    def open_incident(self, incident: Incident) -> None:
        """Store a new incident (committed on return, or held while the database cannot be
        written)."""
        change = incident_write(incident, self._json, opened=True)
        self._call(self._write_incident(change), hold=True)

    def note_incident(
        self,
        incident_id: int,
        entry: TimelineEntry,
        *,
        resolved: float | None = None,
        monitors: Sequence[str] | None = None,
        members: dict[str, Member] | None = None,
    ) -> None:
        """Add ``entry`` to an incident's timeline; ``resolved`` closes it then;
        ``monitors`` and ``members``, when given, replace what it holds."""
        change = note_write(
            incident_id, entry, self._json, resolved=resolved, monitors=monitors, members=members
        )
        self._call(self._write_incident(change), hold=True)

    def commit_incident(
        self,
        incident: Incident,
        alerts: Sequence[Alert],
        now: float,
        *,
        opened: bool = False,
        entry: TimelineEntry | None = None,
        touched: Collection[str] | None = None,
        moves: Sequence[Move] = (),
    ) -> None:
        """Open ``incident`` (``opened``) or note ``entry`` on it with the ``touched``
        members and its membership ``moves``, and queue ``alerts``, in one transaction:
        queued on the writer, not waited for (held as one while the database cannot be
        written).  What it writes is encoded now."""
        change = incident_write(
            incident,
            self._json,
            opened=opened,
            entries=() if entry is None else (entry,),
            touched=touched,
            moves=moves,
        )
        job = IncidentJob(
            change,
            tuple(self._insert_alert(a.channel, a.dedup, a.payload, now) for a in alerts),
            self._write_incidents,
        )
        # A member's join or leave alone (a wave's thousands a second) is committed with
        # the batch, as the state change that made it is; an opening, a line of the
        # timeline, a resolution and an alert within PROMPT_SECONDS.
        prompt = opened or entry is not None or bool(alerts) or change.resolves
        self._queue_write(job, f"a change of incident #{incident.id}", prompt=prompt)

    def acknowledge_incident(
        self, incident_id: int, entry: TimelineEntry, *, audit: AuditEntry | None = None
    ) -> bool:
        """Mark an open incident acknowledged at ``entry.at`` (``audit`` logged with it);
        False if none is open by that id."""

        text = self._json(entry.to_json())

        def update(conn: C) -> bool:
            cur = self._execute(
                conn,
                "UPDATE incidents SET acknowledged = %s WHERE id = %s AND resolved IS NULL",
                (entry.at, incident_id),
            )
            if cur.rowcount != 1:
                return False
            self._execute(
                conn,
                "INSERT INTO incident_timeline (incident, entry) VALUES (%s, %s::jsonb)",
                (incident_id, text),
            )
            if audit is not None:
                self._log(audit)(conn)
            return True

        return self._call(update)

    def incidents(self, *, open_only: bool = False, limit: int = 100) -> list[Incident]:
        where = "WHERE resolved IS NULL " if open_only else ""
        rows = self._rows(f"{self._select_incidents}{where}ORDER BY id DESC LIMIT %s", (limit,))
        return [self._incident(r) for r in rows]

    def incident(self, incident_id: int) -> Incident | None:
        rows = self._rows(f"{self._select_incidents}WHERE id = %s", (incident_id,))
        return self._incident(rows[0]) if rows else None

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
            where += self._has_monitor
        members, timeline = shown
        params = {
            "members": members,
            "newest": max(timeline - 1, 0),
            "limit": limit,
            "name": monitor,
            "among": None if among is None else self._list(sorted(among)),
        }
        rows = self._rows(f"{self._select_listed}{where}ORDER BY i.id DESC LIMIT %(limit)s", params)
        return [self._listed(r) for r in rows]

    def membership(
        self,
        incidents: Collection[int],
        monitors: Collection[str] | None = None,
        *,
        first: int | None = None,
    ) -> dict[int, tuple[Move, ...]]:
        if not incidents:
            return {}
        if first is not None:
            return first_members(incidents, first, self._joined, self._moves)
        rows = self._rows(
            "SELECT incident, monitor, at, event, why FROM incident_membership "
            f"WHERE {self._any('incident', '%(ids)s')} AND (%(names)s::text[] IS NULL "
            f"OR {self._any('monitor', '%(names)s', 'text[]')}) ORDER BY seq",
            {
                "ids": self._list(sorted(set(incidents))),
                "names": None if monitors is None else self._list(sorted(set(monitors))),
            },
        )
        return moves_of(rows)

    def _joined(self, incident: int, n: int) -> Iterable[str]:
        """The monitors of an incident's first ``n`` join lines, in order."""
        rows = self._rows(
            "SELECT monitor FROM incident_membership WHERE incident = %s "
            "AND event = 'joined' ORDER BY seq LIMIT %s",
            (incident, n),
        )
        return (m for (m,) in rows)

    def _moves(self, incident: int, names: list[str]) -> Iterable[Sequence[Any]]:
        """The rows of the moves of ``names`` in an incident, in order."""
        return self._rows(
            "SELECT incident, monitor, at, event, why FROM incident_membership "
            f"WHERE incident = %s AND {self._any('monitor', '%s', 'text[]')} ORDER BY seq",
            (incident, self._list(names)),
        )

    def down_since(self) -> dict[str, float]:
        return earliest(self._rows(self._select_down_since))

    def acknowledgements(self) -> dict[int, float]:
        rows = self._rows(
            "SELECT id, acknowledged FROM incidents "
            "WHERE resolved IS NULL AND acknowledged IS NOT NULL"
        )
        return {int(i): float(at) for i, at in rows}
