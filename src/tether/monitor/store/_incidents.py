"""Incidents (issue 25: the store's protocol by concern): the protocol of their writes and
reads."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from tether.monitor._records import Alert, AuditEntry, Incident, Member, Move, TimelineEntry
from tether.monitor.store._incident_rows import Listed


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
