"""What a status page's subscribers are told (issue 48): pure, from what the page shows.

The news of a page is made from the page's own document alone (its incidents as it tells
them, each incident's updates, its maintenance), so a subscriber can learn nothing the
page does not show: no monitor it does not list, no internal name, URL, kind or detail.
An incident of a mass outage is told once, as the page tells it (the local incident the
others were folded into), not once per monitor.

Each piece of news has a key that names it for good (``incident:42:opened``,
``incident:42:update:7``, ``incident:42:again:1``, ``incident:42:resolved``,
``maintenance:KEY:started``): the
store tells a key once (``SubscriberStore.tell``), whichever instance finds it and however
often it is found again after a restart.  ``at`` is when it happened; a subscriber is
told what happened from its confirmation on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = [
    "STATES",
    "IncidentShown",
    "MaintenanceShown",
    "StatusNews",
    "UpdateShown",
    "moment",
    "news_of",
    "update_subject",
]

STATES: Final = ("investigating", "identified", "monitoring", "resolved")
"""The states of an incident update, as Statuspage names them."""

Event = Literal[
    "incident.opened",
    "incident.update",
    "incident.resolved",
    "maintenance.scheduled",
    "maintenance.started",
    "maintenance.ended",
]


def moment(at: float) -> str:
    """A moment as the page shows it: ``2027-01-17 02:00:00 UTC``."""
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def update_subject(state: str, text: str) -> str:
    """The subject of a team's update of an incident that the page tells as ``text``:
    ``Identified: ...``; a ``resolved`` update is ``Update (resolved): ...``, since
    ``Resolved: ...`` is the resolution's alone, told once when the page's monitors are
    back (issue 73): the team's word is an update of it, whenever it comes."""
    if state == "resolved":
        return f"Update (resolved): {text}"
    return f"{state.capitalize()}: {text}"


@dataclass(frozen=True, slots=True)
class UpdateShown:
    """An update a team wrote on an incident, as the page shows it."""

    id: int
    at: float
    state: str
    text: str


@dataclass(frozen=True, slots=True)
class IncidentShown:
    """An incident as the page tells it: its words and its page-wide times."""

    incident: int
    opened: float
    resolved: float | None
    text: str
    updates: tuple[UpdateShown, ...] = ()
    again: tuple[float, ...] = ()
    """When the page's monitors in it went down again after all were back for the quorum
    while the incident went on, partial (issue 73 item 9): each is told as an update."""


@dataclass(frozen=True, slots=True)
class MaintenanceShown:
    """A maintenance the page shows: ``key`` names it (and its occurrence), ``text`` says
    what it covers in the page's words."""

    key: str
    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class StatusNews:
    """One message for every subscriber of a page."""

    key: str
    at: float
    event: Event
    page: str
    title: str
    """The page's title."""
    subject: str
    text: str
    incident: int | None = None
    state: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "at": self.at,
            "event": self.event,
            "page": self.page,
            "title": self.title,
            "subject": self.subject,
            "text": self.text,
            "incident": self.incident,
            "state": self.state,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StatusNews:
        incident = data.get("incident")
        return cls(
            str(data["key"]),
            float(data["at"]),
            data["event"],
            str(data["page"]),
            str(data["title"]),
            str(data["subject"]),
            str(data["text"]),
            None if incident is None else int(incident),
            data.get("state"),
        )


def news_of(
    page: str,
    title: str,
    told: Iterable[IncidentShown],
    planned: Sequence[MaintenanceShown],
    now: float,
) -> list[StatusNews]:
    """Every piece of news of a page at ``now``, oldest first: each incident's opening,
    updates and resolution, each maintenance's announcement (dated ``now`` while it has not
    begun: told at the first look that finds it ahead), its start and its end; only what
    has happened by ``now``."""
    out: list[StatusNews] = []

    def add(key: str, at: float, event: Event, subject: str, text: str, **more: Any) -> None:
        if at <= now:
            out.append(StatusNews(key, at, event, page, title, subject, text, **more))

    for i in told:
        head = f"incident:{i.incident}"
        add(
            f"{head}:opened",
            i.opened,
            "incident.opened",
            f"Incident: {i.text}",
            i.text,
            incident=i.incident,
            state="investigating",
        )
        for n, at in enumerate(i.again, start=1):
            add(
                f"{head}:again:{n}",
                at,
                "incident.update",
                update_subject("investigating", i.text),
                f"Down again: {i.text}",
                incident=i.incident,
                state="investigating",
            )
        for u in i.updates:
            add(
                f"{head}:update:{u.id}",
                u.at,
                "incident.update",
                update_subject(u.state, i.text),
                u.text,
                incident=i.incident,
                state=u.state,
            )
        if i.resolved is not None:
            add(
                f"{head}:resolved",
                i.resolved,
                "incident.resolved",
                f"Resolved: {i.text}",
                i.text,
                incident=i.incident,
                state="resolved",
            )
    for m in planned:
        head = f"maintenance:{m.key}"
        # When, as the page shows it: every notice says the window's start and end.
        span = f"{moment(m.start)} to {moment(m.end)}"
        text = f"{m.text}, from {span}."
        if now < m.start:
            add(f"{head}:scheduled", now, "maintenance.scheduled", f"{m.text}: {span}", text)
        add(
            f"{head}:started",
            m.start,
            "maintenance.started",
            f"Maintenance begun: {m.text}, until {moment(m.end)}",
            text,
        )
        add(
            f"{head}:ended",
            m.end,
            "maintenance.ended",
            f"Maintenance over: {m.text}, {span}",
            text,
        )
    out.sort(key=lambda n: (n.at, n.key))
    return out
