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
import zoneinfo
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Final, TypedDict

from tether.monitor.config._cron import parse_cron
from tether.monitor.config._models import aware
from tether.monitor.engine._status_news import News, Planned, Told, Update, news_of
from tether.monitor.reports._documents import iso

if TYPE_CHECKING:
    from tether.monitor._records import Window
    from tether.monitor.config import MaintenanceWindow, StatusPage
    from tether.monitor.store import Store

__all__ = [
    "AHEAD",
    "PageMaintenance",
    "PageUpdate",
    "page_maintenance",
    "page_news",
    "page_updates",
]

AHEAD: Final = 7 * 86400.0
"""How long before it begins a maintenance of the configuration is shown."""
WEEKLY_AHEAD: Final = 86400.0
"""How long before each start a weekly maintenance is shown."""


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
    text: str


def page_updates(store: Store, incidents: Collection[int]) -> dict[int, list[PageUpdate]]:
    """The updates of each of ``incidents``, oldest first, as a page shows them."""
    found = store.incident_updates(incidents)
    return {
        i: [{"id": u.id, "at": iso(u.at), "state": u.state, "text": u.text} for u in ups]
        for i, ups in found.items()
    }


def _words(names: Sequence[str]) -> str:
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _covered(page: StatusPage, monitors: Collection[str]) -> list[str]:
    """The display names of the page's monitors that ``monitors`` covers (empty: all)."""
    return [e.shown for e in page.entries() if not monitors or e.monitor in monitors]


def _next_start(window: MaintenanceWindow, now: float) -> float | None:
    """The start of a weekly window's occurrence under way or next, within a day ahead."""
    assert window.schedule is not None
    assert window.duration is not None
    zone = zoneinfo.ZoneInfo(window.timezone)
    cron = parse_cron(window.schedule)
    local = dt.datetime.fromtimestamp(now, zone)
    last = cron.last_start(local, window.duration)
    if last is not None and now < last.timestamp() + window.duration:
        return last.timestamp()
    for ahead in range(2):
        day = local.date() + dt.timedelta(days=ahead)
        if (day.isoweekday() % 7) not in cron.days:
            continue
        for hour in cron.hours:
            for minute in cron.minutes:
                start = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone).timestamp()
                if now < start <= now + WEEKLY_AHEAD:
                    return start
    return None


def page_maintenance(
    page: StatusPage,
    configured: Sequence[MaintenanceWindow],
    opened: Sequence[Window],
    now: float,
) -> list[PageMaintenance]:
    """The maintenance ``page`` shows at ``now``, soonest first."""
    out: list[PageMaintenance] = []

    def add(key: str, start: float, end: float, monitors: Collection[str]) -> None:
        names = _covered(page, monitors)
        if names and end > now:
            text = f"Scheduled maintenance of {_words(names)}"
            active = start <= now
            out.append(
                {"key": key, "start": iso(start), "end": iso(end), "active": active, "text": text}
            )

    for w in configured:
        if w.schedule is None:
            start, end = (aware(t, zoneinfo.ZoneInfo(w.timezone)) for t in (w.start, w.end))
            if start is not None and end is not None and start.timestamp() - AHEAD <= now:
                add(
                    f"{w.name}@{int(start.timestamp())}",
                    start.timestamp(),
                    end.timestamp(),
                    w.monitors,
                )
        else:
            begins = _next_start(w, now)
            if begins is not None and w.duration is not None:
                add(f"{w.name}@{int(begins)}", begins, begins + w.duration, w.monitors)
    for r in opened:
        until = r.end if r.closed is None else min(r.end, r.closed)
        if r.start <= now < until:
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
) -> list[News]:
    """Every piece of news of a page's document (its ``incidents`` and ``maintenance``),
    oldest first (``engine/_status_news.news_of``): what its subscribers and its feed are
    told.  A note of no incident (``id`` ``None``) is no news."""
    told: list[Told] = []
    for i in incidents:
        number = i.get("id")
        opened = _ts(str(i["opened"]))
        if not isinstance(number, int) or opened is None:
            continue
        resolved = i.get("resolved")
        ups = i.get("updates") or []
        assert isinstance(ups, list)
        told.append(
            Told(
                number,
                opened,
                None if i.get("open") or resolved is None else _ts(str(resolved)),
                str(i["text"]),
                tuple(
                    Update(int(u["id"]), float(_ts(u["at"]) or 0.0), u["state"], u["text"])
                    for u in ups
                ),
            )
        )
    planned = [
        Planned(m["key"], _ts(m["start"]) or 0.0, _ts(m["end"]) or 0.0, m["text"])
        for m in maintenance
    ]
    return news_of(slug, title, told, planned, now)
