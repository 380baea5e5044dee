"""What a status page adds for its subscribers (issue 48): each incident's updates as its
timeline, the maintenance it covers (ahead of time, under way), and the page's news as
the subscribers and the Atom feed are told it (``engine/_status_news.py``), all read from
the page's own document, so nothing the page does not show can be told.

A maintenance window is on a page when it covers one of the page's monitors: a window of
the configuration once (``start``, ``end``) from :data:`AHEAD` before it begins until it
ends, a weekly one from a day before each start until its end, and one opened at run time
(``POST /api/maintenance``) while it is open.  The page names the monitors of its own it
covers, by their display names, and nothing else of the window (not its name or reason,
which are the team's).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Final, TypedDict

from tether.monitor.config._cron import parse_cron
from tether.monitor.config._models import aware
from tether.monitor.engine._status_news import (
    IncidentShown,
    MaintenanceShown,
    StatusNews,
    UpdateShown,
    news_of,
)
from tether.monitor.reports._documents import iso

if TYPE_CHECKING:
    from tether.monitor._records import OpenedWindow, Stint
    from tether.monitor.config import MaintenanceWindow, StatusPage
    from tether.monitor.store import Store
    from tether.monitor.store._base import Listed

__all__ = [
    "AHEAD",
    "OPENED_READ",
    "PageMaintenance",
    "PageUpdate",
    "maintained",
    "page_maintenance",
    "page_news",
    "page_updates",
    "planned_only",
]

AHEAD: Final = 7 * 86400.0
"""How long before it begins a maintenance of the configuration is shown."""
WEEKLY_AHEAD: Final = 86400.0
"""How long before each start a weekly maintenance is shown."""
OPENED_READ: Final = 100
"""The newest windows opened at run time a page reads."""


class PageUpdate(TypedDict):
    """An update a team wrote on an incident, as the page shows it."""

    id: int
    at: str
    state: str
    text: str


class PageMaintenance(TypedDict):
    """A maintenance the page shows: ``key`` names it (and its occurrence)."""

    key: str
    start: str
    end: str
    active: bool
    over: bool
    text: str


def page_updates(store: Store, incidents: Collection[int]) -> dict[int, list[PageUpdate]]:
    """The updates of each of ``incidents``, oldest first, as a page shows them."""
    found = store.incident_updates(incidents)
    return {
        i: [{"id": u.id, "at": iso(u.at), "state": u.state, "text": u.text} for u in ups]
        for i, ups in found.items()
    }


def _key(name: str, start: float) -> str:
    """A configured window's occurrence, named without its name (the team's, not shown):
    a digest of it and the start."""
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"{digest}@{int(start)}"


def _words(names: Sequence[str]) -> str:
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _covered(page: StatusPage, monitors: Collection[str]) -> list[str]:
    """The display names of the page's monitors that ``monitors`` covers (empty: all)."""
    return [e.shown for e in page.entries() if not monitors or e.monitor in monitors]


def _starts(window: MaintenanceWindow, now: float, since: float) -> list[float]:
    """The starts of a weekly window's occurrences that end after ``since``: the last one
    begun (if it has) and the next, within a day ahead."""
    assert window.schedule is not None
    assert window.duration is not None
    zone = zoneinfo.ZoneInfo(window.timezone)
    cron = parse_cron(window.schedule)
    local = dt.datetime.fromtimestamp(now, zone)
    out = []
    last = cron.last_start(local, max(window.duration, now - since))
    if last is not None and last.timestamp() + window.duration > since:
        out.append(last.timestamp())
    for ahead in range(2):
        day = local.date() + dt.timedelta(days=ahead)
        if (day.isoweekday() % 7) not in cron.days:
            continue
        for hour in cron.hours:
            for minute in cron.minutes:
                start = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone).timestamp()
                if now < start <= now + WEEKLY_AHEAD:
                    return [*out, start]
    return out


def maintained(
    monitor: str,
    at: float,
    configured: Sequence[MaintenanceWindow],
    opened: Sequence[OpenedWindow],
) -> bool:
    """Whether a maintenance window covers ``monitor`` at ``at``: one of the
    configuration's, or one opened at run time (and not closed by then), as the holds
    ask it (``engine/_holds.py``)."""
    when = dt.datetime.fromtimestamp(at, dt.UTC)
    if any(w.covers(monitor) and w.active(when) for w in configured):
        return True
    return any((not r.monitors or monitor in r.monitors) and r.open_at(at) for r in opened)


def planned_only(
    listed: Listed,
    own: Mapping[str, Sequence[Stint]],
    shown: Collection[str],
    planned_at: Callable[[str, float], bool],
    now: float,
) -> set[str]:
    """The page's monitors of ``listed``'s incident that were down under maintenance
    alone: each of their outages (``own``: their stints; none: the incident's time)
    began and ended, or still down is now, inside a window (``planned_at``)."""
    incident = listed.incident
    out = set()
    for name in own or incident.monitors:
        if name not in shown:
            continue
        spans = [(s.start, s.end) for s in own.get(name, ())] or [
            (incident.opened, incident.resolved)
        ]
        if all(planned_at(name, a) and planned_at(name, now if b is None else b) for a, b in spans):
            out.add(name)
    return out


def page_maintenance(
    page: StatusPage,
    configured: Sequence[MaintenanceWindow],
    opened: Sequence[OpenedWindow],
    now: float,
) -> list[PageMaintenance]:
    """The maintenance ``page`` shows at ``now``, soonest first: ahead, under way, or over
    within the page's ``incident_days`` (``opened``: the windows opened at run time, those
    closed too)."""
    out: list[PageMaintenance] = []
    since = now - page.incident_days * 86400.0

    def add(key: str, start: float, end: float, monitors: Collection[str]) -> None:
        names = _covered(page, monitors)
        if names and end > since and start - AHEAD <= now:
            out.append(
                {
                    "key": key,
                    "start": iso(start),
                    "end": iso(end),
                    "active": start <= now < end,
                    "over": end <= now,
                    "text": f"Scheduled maintenance of {_words(names)}",
                }
            )

    for w in configured:
        if w.schedule is None:
            start, end = (aware(t, zoneinfo.ZoneInfo(w.timezone)) for t in (w.start, w.end))
            if start is not None and end is not None:
                add(_key(w.name, start.timestamp()), start.timestamp(), end.timestamp(), w.monitors)
        elif w.duration is not None:
            for begins in _starts(w, now, since):
                add(_key(w.name, begins), begins, begins + w.duration, w.monitors)
    for r in opened:
        until = r.end if r.closed is None else min(r.end, r.closed)
        if r.start <= now:
            add(f"#{r.id}", r.start, until, r.monitors)
    out.sort(key=lambda m: (m["start"], m["key"]))
    return out


def _ts(text: str | None) -> float | None:
    return None if text is None else dt.datetime.fromisoformat(text).timestamp()


def page_news(
    slug: str,
    title: str,
    incidents: Sequence[Mapping[str, object]],
    maintenance: Sequence[PageMaintenance],
    now: float,
) -> list[StatusNews]:
    """Every piece of news of a page's document (its ``incidents`` and ``maintenance``),
    oldest first (``engine/_status_news.news_of``): what its subscribers and its feed are
    told.  A note of no incident (``id`` ``None``) is no news."""
    told: list[IncidentShown] = []
    for i in incidents:
        number = i.get("id")
        opened = _ts(str(i["opened"]))
        if not isinstance(number, int) or opened is None:
            continue
        resolved = i.get("resolved")
        ups = i.get("updates") or []
        assert isinstance(ups, list)
        outages = i.get("outages") or []
        assert isinstance(outages, list)
        told.append(
            IncidentShown(
                number,
                opened,
                None if i.get("open") or resolved is None else _ts(str(resolved)),
                str(i["text"]),
                tuple(
                    UpdateShown(int(u["id"]), float(_ts(u["at"]) or 0.0), u["state"], u["text"])
                    for u in ups
                ),
                tuple(float(_ts(o["start"]) or 0.0) for o in outages[1:]),
            )
        )
    planned = [
        MaintenanceShown(m["key"], _ts(m["start"]) or 0.0, _ts(m["end"]) or 0.0, m["text"])
        for m in maintenance
    ]
    return news_of(slug, title, told, planned, now)
