"""The alerts of an incident of one service (or a partial one): each event's words,
to each of the monitor's channels and those its escalation reached."""

from __future__ import annotations

import itertools

from tether._durations import human_duration
from tether.monitor._records import RESOLVING, Alert, AlertPayload, Incident, Member, covered
from tether.monitor.engine.incidents._books import LOCAL, NAMES_SHOWN
from tether.monitor.engine.incidents._events import IncidentRoute
from tether.monitor.engine.incidents._ledger import IncidentLedger
from tether.monitor.engine.incidents._words import alerts_to, cause_of, dedup_key, iso, many

__all__ = ["IncidentAlerts"]


class IncidentAlerts(IncidentLedger):
    """The engine's alerts about one monitor: its channels, each event's payload."""

    __slots__ = ()

    @staticmethod
    def _channels(
        route: IncidentRoute, member: Member, event: str, incident: Incident
    ) -> tuple[str, ...]:
        """The channels of the monitor's alert about ``event`` in ``incident`` (the route
        tree's, by its labels), and those of the escalation steps it has reached."""
        out = list(route.channels_for(event, incident.kind, incident.id))
        for step in route.escalate[: member.escalated]:
            out += [c for c in step.alerts if c not in out]
        return tuple(out)

    def _say(
        self,
        incident: Incident,
        name: str,
        event: str,
        now: float,
        member: Member | None = None,
        then: Incident | None = None,
    ) -> tuple[Alert, ...]:
        """``event``'s alert about ``name``, for each channel the monitor's alerts go to."""
        member = member or incident.members[name]
        route = self.routes.get(name, IncidentRoute())
        channels = self._channels(route, member, event, incident)
        book = self._books.get(incident.id)
        if event == "incident.opened" and book is not None:
            book.opened_to = channels
        payload = self._payload(incident, name, event, now, member, route, then)
        return alerts_to(channels, dedup_key(incident, name, event, now), payload)

    def _payload(
        self,
        incident: Incident,
        name: str,
        event: str,
        now: float,
        member: Member,
        route: IncidentRoute,
        then: Incident | None = None,
    ) -> AlertPayload:
        down_for = human_duration(now - member.joined)
        others = len(incident.members)
        cause = cause_of(incident)
        partial_over = (
            f"down from a quorum of its locations now (incident #{then.id})"
            if then is not None
            else f"reachable from every location again after {down_for}"
        )
        text = {
            "incident.opened": f"{name} is down since {iso(member.joined)}: {incident.detail}",
            "monitor.down": (
                f"{name} is down too: same cause as incident #{incident.id} ({cause}), "
                f"{others} monitors affected"
                + (
                    f"; the incident was acknowledged at {iso(incident.acknowledged)}, "
                    f"before {name} joined: its reminders run until someone acknowledges "
                    "again"
                    if incident.acknowledged is not None and not covered(incident, member)
                    else ""
                )
            ),
            "monitor.up": (
                f"{name} is back up after {down_for}; incident #{incident.id} ({cause}) goes "
                f"on: {many(others, 'monitor')} still down"
            ),
            "incident.resolved": (
                f"{name} is back up after {down_for}: incident #{incident.id} ({cause}) is "
                f"resolved after {human_duration(now - incident.opened)}"
            ),
            "incident.reminder": (
                f"{name} is still down after {down_for}: {incident.detail} "
                f"(incident #{incident.id})"
            ),
            "incident.escalated": (
                f"{name} has been down for {down_for}: {incident.detail} "
                f"(incident #{incident.id}, escalated)"
            ),
            "incident.partial": f"{incident.detail} (incident #{incident.id})",
            "incident.partial_resolved": (
                f"{name} is {partial_over}: incident #{incident.id} is no longer partial"
                if then is not None and then.id == incident.id
                else f"{name} is {partial_over}: partial incident #{incident.id} is resolved"
            ),
        }[event]
        back = event in RESOLVING
        shown = tuple(itertools.islice(incident.members, NAMES_SHOWN)) or (name,)
        return AlertPayload(
            event,
            name,
            text,
            now,
            incident=incident.id,
            monitors=shown,
            url=route.url,
            kind=incident.kind,
            detail=(
                partial_over
                if event == "incident.partial_resolved"
                else f"back up after {down_for}"
                if back
                else incident.detail
            ),
            hint="" if back else incident.hint,
            since=member.joined,
            locations=member.locations,
            monitor_count=len(incident.members) if len(incident.members) > len(shown) else None,
            opened_to=() if event == "incident.opened" else self._opened_to(incident),
            labels=route.labels,
        )

    def _opened_to(self, incident: Incident) -> tuple[str, ...]:
        """The channels ``incident``'s opening alert went to, as far as the engine knows."""
        book = self._books.get(incident.id)
        if book is None:
            return ()
        return tuple(book.told) if incident.key == LOCAL else book.opened_to
