"""Partial incidents: some of a monitor's locations fail, fewer than its quorum.  One
incident keyed ``partial:NAME`` follows its locations, resolved when none fails any more
or when the monitor goes down for the cluster."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from tether._durations import human_duration
from tether.monitor._records import (
    PARTIAL_PREFIX,
    Alert,
    Incident,
    LocationFact,
    Member,
    TimelineEntry,
)
from tether.monitor.engine.incidents._alerts import IncidentAlerts
from tether.monitor.engine.incidents._events import (
    Event,
    Held,
    IncidentRoute,
    Noted,
    Opened,
    Resolved,
)
from tether.monitor.engine.incidents._words import failing_of, kind_of, where_from

__all__ = ["PartialIncidents"]


class PartialIncidents(IncidentAlerts):
    """The engine's rules for a monitor that some of its locations see fail."""

    __slots__ = ()

    def _partial(self, name: str, facts: dict[str, LocationFact], now: float) -> list[Event]:
        """Open ``name``'s partial incident, or follow what its locations see."""
        detail = f"{name} {where_from(facts, 'unreachable')}"
        kind = kind_of(facts)
        existing = self.partial_of(name)
        if existing is not None:
            book = self._books[existing.id]
            member = book.members.get(name) or Member(existing.opened, opener=True)
            same = failing_of(member.locations) == failing_of(facts)
            book.members[name] = dataclasses.replace(member, locations=facts)
            if same:
                # Only an up location's news, or the same failures: keep the facts fresh.
                return []
            incident = self._replace(existing, detail=detail, kind=kind)
            return [Noted(incident, name, TimelineEntry(now, "locations", detail), (), (name,))]
        route = self.routes.get(name, IncidentRoute())
        held = self.hold(name, now) if route.partial_alerts else None
        member = Member(
            now, alerted=route.partial_alerts and held is None, opener=True, locations=facts
        )
        incident = self._open_new(PARTIAL_PREFIX + name, kind, detail, name, member, now, None)
        alerts = self._say(incident, name, "incident.partial", now) if member.alerted else ()
        events: list[Event] = [Opened(incident, name, None, alerts)]
        if held:
            self._held[(incident.id, name)] = None
            entry = TimelineEntry(now, "alert held", f"{name}: {held}")
            events.append(Held(incident, name, entry, touched=()))
        return events

    def _end_partial(
        self,
        name: str,
        now: float,
        facts: Mapping[str, LocationFact] | None = None,
        *,
        why: str = "up",
        superseded_by: Incident | None = None,
    ) -> list[Event]:
        """Resolve ``name``'s partial incident: no location fails (``up``), it was paused
        or removed, or it is down for the cluster now (``superseded_by`` that incident).
        ``facts``, when given, are what its alert shows of each location now."""
        incident = self.partial_of(name)
        if incident is None:
            return []
        member = incident.members.get(name) or Member(incident.opened, opener=True)
        if facts:
            member = dataclasses.replace(member, locations=facts)
        lasted = human_duration(now - incident.opened)
        if superseded_by is not None:
            said = f"{name} is down from a quorum now: see incident #{superseded_by.id}"
        else:
            said = {
                "up": f"{name} is reachable from every location again after {lasted}",
                "paused": f"{name} was paused",
                "removed": f"{name} was removed from the configuration",
            }[why]
        left = why if superseded_by is None else f"down in incident #{superseded_by.id}"
        closed = self._close(incident, now, monitors=(name,), why=left)
        told = member.alerted and why == "up"
        alerts: tuple[Alert, ...] = ()
        if told:
            alerts = self._say(
                closed, name, "incident.partial_resolved", now, member, then=superseded_by
            )
        return [Resolved(closed, name, TimelineEntry(now, "resolved", said), alerts)]

    def _note_locations(
        self, incident: Incident, name: str, facts: dict[str, LocationFact], now: float
    ) -> list[Event]:
        """A monitor down in ``incident``: its timeline follows the failing locations."""
        book = self._books[incident.id]
        member = book.members[name]
        if not facts:
            return []
        book.members[name] = dataclasses.replace(member, locations=facts)
        if failing_of(member.locations) == failing_of(facts):
            return []
        entry = TimelineEntry(now, "locations", f"{name}: {where_from(facts, 'down')}")
        return [Noted(incident, name, entry, touched=(name,))]
