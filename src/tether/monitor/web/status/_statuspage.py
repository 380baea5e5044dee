"""Public status pages and badges: what the configuration makes public, readable without
a login.

    GET /status/{slug}                      the page (HTML, no script needed)
    GET /status/{slug}.json                 the JSON document it is rendered from
    GET /badge/{monitor}/status.svg         up, down, degraded ... in its colour
    GET /badge/{monitor}/uptime-30d.svg     the share of time up over 30 days
    GET /badge/{monitor}/response-time.svg  the last check's response time
    GET /static/status.css                  the page's style sheet

A page shows the monitors its ``groups`` list, under their display names, and nothing
about any other: the overall state in plain words, each monitor's state, 90 bars of
daily uptime (time-based, per UTC day, as :mod:`._uptime` defines it), the 90-day uptime,
the team's announcements, and the incidents of the last ``incident_days`` that touched
its monitors, told in plain words ("Checkout was unreachable for 12 minutes") with the
team's notes.  A monitor's URL, address, host, failure kind, error detail and fix are
internal: the document carries none of them unless the page opts in (``show_urls``,
``show_kinds``), and the HTML is rendered from the document alone, so what the JSON
does not hold the page cannot show.

A badge is served for a monitor that is on some status page; for any other name the
answer is the same 404 as for a name that does not exist, so a badge URL does not tell
whether a monitor exists.

The HTML is rendered here, once, by ``templates/status.html`` with every value escaped
where the template writes it (``_html.py``'s environment, autoescape on), under the
dashboard's Content-Security-Policy (no inline script or style: the bars are SVG
rectangles whose colour comes from a class).  A public page may be asked for often, so
each document is built at most once every :data:`CACHE_SECONDS` (by the runner's clock)
per slug, and each badge per monitor, on a worker thread.  Nothing here asks who is
asking (:func:`~tether.monitor.web._access.authorize` is not called): these routes are public.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.resources
import json
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, NotRequired, TypedDict

from aiohttp import web

from tether._catalogue import CATALOGUE
from tether._kinds import Kind, Layer
from tether._plural import count
from tether._redact import redact_url
from tether.monitor._records import PARTIAL, Stint, stints
from tether.monitor._state import State
from tether.monitor.metrics._objective_metrics import figure
from tether.monitor.reports._documents import iso, round_ms
from tether.monitor.reports._uptime import WINDOWS, uptime
from tether.monitor.web._html import render
from tether.monitor.web._routing import Handler
from tether.monitor.web.pages._objective_pages import share_text
from tether.monitor.web.status._badges import (
    latency_badge,
    maintenance_badge,
    status_badge,
    uptime_badge,
)
from tether.monitor.web.status._status_news import (
    OPENED_READ,
    PageMaintenance,
    PageUpdate,
    maintained,
    page_maintenance,
    page_updates,
    planned_only,
)
from tether.monitor.web.status._status_objectives import PageObjective, page_objectives

if TYPE_CHECKING:
    from tether.monitor._records import Incident
    from tether.monitor.config import IncidentNote, MonitorConfig, StatusPage
    from tether.monitor.engine._detect import Observation
    from tether.monitor.engine.objectives._budget import ObjectiveStatus
    from tether.monitor.store import Store
    from tether.monitor.store._base import Listed
    from tether.monitor.web._running import Running

__all__ = [
    "CACHE_SECONDS",
    "DAYS",
    "StatusHandlers",
    "TtlCache",
    "build_page",
    "daily_uptime",
    "day_starts",
    "down_time",
    "overall",
    "plain_duration",
    "render_page",
    "status_handlers",
]

DAY: Final = 86400.0
DAYS: Final = 90
"""Daily uptime bars on a page."""
CACHE_SECONDS: Final = 5.0
"""A page's document, and a badge, are built at most this often."""
BADGE_MAX_AGE: Final = 60
"""Seconds a badge may be cached by whoever fetches it."""
INCIDENTS_READ: Final = 1000
"""The newest incidents read to find those of a page."""
BAR_WIDTH: Final = 4
BAR_GAP: Final = 1
BAR_HEIGHT: Final = 28

SECURITY_HEADERS: Final = {
    # As the dashboard's (_dashboard.SECURITY_HEADERS), and no form at all.
    "Content-Security-Policy": (
        "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_FAILING: Final = frozenset({State.DOWN, State.FLAPPING})
_UP: Final = frozenset({State.UP, State.DEGRADED})

# -- pure: days, uptime, words --------------------------------------------------------------


def day_starts(now: float, days: int = DAYS) -> list[float]:
    """The starts (UTC midnight, Unix seconds) of the ``days`` days up to today's, oldest
    first."""
    today = (now // DAY) * DAY
    return [today - (days - 1 - i) * DAY for i in range(days)]


def daily_uptime(
    changes: Sequence[tuple[float, State]], now: float, days: int = DAYS
) -> list[tuple[float, float | None]]:
    """Each of the last ``days`` UTC days (today up to ``now``) with its uptime as
    :func:`~tether.monitor.reports._uptime.uptime` reckons it: the share of its known time spent
    up or degraded; ``None`` for a day with no known time.  ``changes`` as
    ``store.state_changes`` gives them (oldest first, led by the last one before the
    first day).  One pass over the changes, however many days."""
    starts = day_starts(now, days)
    first = starts[0]
    up = [0.0] * days
    known = [0.0] * days
    for i, (at, state) in enumerate(changes):
        if state in (State.UNKNOWN, State.PAUSED):
            continue
        start = max(at, first)
        end = min(changes[i + 1][0] if i + 1 < len(changes) else now, now)
        while start < end:
            day = min(int((start - first) // DAY), days - 1)
            stop = min(end, first + (day + 1) * DAY)
            if day == days - 1:
                stop = end
            known[day] += stop - start
            if state in _UP:
                up[day] += stop - start
            start = stop
    return [(s, up[d] / known[d] if known[d] > 0 else None) for d, s in enumerate(starts)]


def down_time(changes: Sequence[tuple[float, State]], since: float, until: float) -> float:
    """Seconds from ``since`` to ``until`` spent down or flapping."""
    total = 0.0
    for i, (at, state) in enumerate(changes):
        if state not in _FAILING:
            continue
        end = min(changes[i + 1][0] if i + 1 < len(changes) else until, until)
        total += max(0.0, end - max(at, since))
    return total


def plain_duration(seconds: float) -> str:
    """``less than a minute``, ``12 minutes``, ``1 hour 5 minutes``, ``2 days 3 hours``:
    a length of time for the public, to the minute at most."""
    minutes = int(seconds // 60 + (1 if seconds % 60 >= 30 else 0))
    if minutes < 1:
        return "less than a minute"
    if minutes < 60:
        return count(minutes, "minute")
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return count(hours, "hour") + (f" {count(minutes, 'minute')}" if minutes else "")
    days, hours = divmod(hours, 24)
    return count(days, "day") + (f" {count(hours, 'hour')}" if hours else "")


@dataclass(frozen=True, slots=True)
class Status:
    """A state as the public reads it: a code for the colour and words for people."""

    code: str
    text: str

    def json(self) -> StatusWords:
        return {"code": self.code, "text": self.text}


_PUBLIC: Final = {
    State.UP: Status("operational", "Operational"),
    State.DEGRADED: Status("degraded", "Degraded performance"),
    State.FLAPPING: Status("partial", "Intermittent outage"),
    State.DOWN: Status("major", "Outage"),
    State.PAUSED: Status("unknown", "Not monitored"),
    State.UNKNOWN: Status("unknown", "No data yet"),
}


MAINTENANCE: Final = Status("maintenance", "Under maintenance")
"""A monitor that a maintenance window covers now, whatever its state: planned work is
not an outage (issue 73)."""


def overall(states: Sequence[State], maintained: int = 0) -> Status:
    """The page's (or a group's) headline: ``All systems operational``, ``Degraded
    performance``, ``Partial outage`` (some monitors down or flapping), ``Major outage``
    (every monitor whose state is known is down), or ``No data yet``, of ``states``, the
    monitors not under maintenance; ``Under maintenance`` when ``maintained`` monitors
    are and the others are operational (or have no data)."""
    known = [s for s in states if s in _UP or s in _FAILING]
    if not known:
        return MAINTENANCE if maintained else Status("unknown", "No data yet")
    down = sum(s is State.DOWN for s in known)
    if down == len(known):
        return Status("major", "Major outage")
    if down or any(s is State.FLAPPING for s in known):
        return Status("partial", "Partial outage")
    if any(s is State.DEGRADED for s in known):
        return Status("degraded", "Degraded performance")
    return MAINTENANCE if maintained else Status("operational", "All systems operational")


_UNREACHABLE: Final = frozenset({Layer.URL, Layer.PROXY, Layer.DNS, Layer.CONNECT, Layer.TLS})
_SILENT: Final = frozenset({Kind.READ_TIMEOUT, Kind.WRITE_TIMEOUT, Kind.DEADLINE_EXCEEDED})


def trouble(kind: Kind | None) -> str:
    """What a failure did, in the fewest and plainest words, and nothing of which
    failure it was: ``unreachable`` (it could not be reached), ``not responding`` (it did
    not answer in time) or ``returning errors`` (it answered wrongly, or a condition
    failed); a push monitor whose job did not push is ``not reporting``."""
    if kind is Kind.HEARTBEAT_MISSED:
        return "not reporting"
    if kind in _SILENT:
        return "not responding"
    if kind is not None and CATALOGUE[kind].layer in _UNREACHABLE:
        return "unreachable"
    return "returning errors"


# -- the document --------------------------------------------------------------------------
# Each part a TypedDict: the JSON (``/status/{slug}.json``) is the contract, and the HTML
# renders the same dict, so a document stays the dict it was built as.


class StatusWords(TypedDict):
    """A state as the public reads it (:meth:`Status.json`)."""

    code: str
    text: str


class Day(TypedDict):
    date: str
    uptime: float | None


class PageRow(TypedDict):
    """A monitor of a group; ``url`` and ``latency_ms`` where the page shows them."""

    name: str
    state: str
    status: StatusWords
    uptime_90d: float | None
    days: list[Day]
    url: NotRequired[str]
    latency_ms: NotRequired[float | None]


class Group(TypedDict):
    name: str
    status: StatusWords
    monitors: list[PageRow]


class AnnouncementDoc(TypedDict):
    level: str
    text: str
    start: str | None
    end: str | None


class Told(TypedDict):
    """One of the page's monitors in an incident, with its own time down (``down_s``:
    ``None`` in a note of no incident)."""

    name: str
    down_s: int | None
    text: str


class Outage(TypedDict):
    """A span in which some of the page's monitors in an incident were down."""

    start: str
    end: str | None


class PageIncident(TypedDict):
    """An incident as the page tells it (``id`` ``None``: a note no incident met);
    ``kind`` and ``meaning`` where the page shows kinds."""

    id: int | None
    open: bool
    opened: str
    resolved: str | None
    text: str
    monitors: list[Told]
    notes: list[str]
    updates: NotRequired[list[PageUpdate]]
    """The team's updates, newest first, as docs/status-pages.md says (issue 48, 73 §7)."""
    outages: NotRequired[list[Outage]]
    """When the page's monitors in it were down, oldest first: more than one when they
    came back for the quorum and went down again while some location still failed
    (issue 73 item 9)."""
    kind: NotRequired[str]
    meaning: NotRequired[str]


class Shows(TypedDict):
    urls: bool
    kinds: bool
    latency: bool


class PageDoc(TypedDict):
    """``/status/{slug}.json`` and the page's HTML (:func:`build_page`)."""

    slug: str
    title: str
    description: str | None
    now: str
    status: StatusWords
    announcements: list[AnnouncementDoc]
    groups: list[Group]
    incident_days: int
    incidents: list[PageIncident]
    shows: Shows
    objectives: list[PageObjective]
    maintenance: NotRequired[list[PageMaintenance]]
    """Maintenance ahead or under way (issue 48)."""
    subscribe: NotRequired[bool]
    """Visitors may subscribe (``/status/SLUG/subscribe``, ``/status/SLUG/feed.atom``)."""


@dataclass(frozen=True, slots=True)
class Sight:
    """What a page needs of the runner's memory, copied on its event loop."""

    now: float
    config: MonitorConfig
    states: Mapping[str, State]
    latest: Mapping[str, Observation]
    store: Store
    objectives: Mapping[str, ObjectiveStatus] = field(default_factory=dict)
    """Each objective's figure at the last evaluation (``_objective_metrics.figure``)."""

    @classmethod
    def of(cls, runner: Running) -> Sight:
        now, view = runner.wall(), runner.objectives
        shown = {name for page in runner.config.status_pages for name in page.objectives}
        figures = {n: figure(view, n, now) for n in view.book.objectives if n in shown}
        return cls(
            now, runner.config, runner.quorum.states(), dict(runner.latest), runner.store, figures
        )

    def state(self, name: str) -> State:
        return self.states.get(name, State.UNKNOWN)


def _date(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d")


def _meets(
    note: IncidentNote, incident: Incident, now: float, names: Collection[str] | None = None
) -> bool:
    """Whether ``note`` is of ``incident``: by its id, or of a monitor that was in it
    (``names``; else its monitors) over a span that meets the incident's."""
    if note.incident is not None:
        return note.incident == incident.id
    if note.monitor not in (incident.monitors if names is None else names):
        return False
    start, stop = note.span()
    end = incident.resolved if incident.resolved is not None else now
    return start <= end and (stop is None or incident.opened <= stop)


def _incident_json(
    page: StatusPage,
    listed: Listed,
    shown: Mapping[str, str],
    changes: Mapping[str, Sequence[tuple[float, State]]],
    now: float,
    own: Mapping[str, Sequence[Stint]],
    planned: Collection[str] = (),
    every: Mapping[str, Sequence[Stint]] | None = None,
) -> PageIncident:
    """One incident as the page tells it: each of the page's monitors that was in it
    with its own time (``own``: its stints down for the cluster, from the membership
    history), not the incident's: a monitor that joined late, or left while others stay
    down, shows its own outage, for as long as the page shows that day (issue 24).  A
    monitor of ``planned`` was down under maintenance alone: it is not told.

    ``every``: its stints partial ones included (issue 73 item 9).  An incident whose
    monitor is up for the quorum while some of its locations still fail goes on as a
    partial one: the page keeps it open ("Checkout was unreachable for 2 minutes, and
    still is from some locations") until the incident resolves, so that its opening and
    its resolution are each told once however often its scope changes."""
    incident = listed.incident
    every = own if every is None else every
    until = incident.resolved if incident.resolved is not None else now
    words = trouble(incident.kind)
    monitors: list[Told] = []
    names = sorted(own) if own else sorted(m for m in incident.monitors if m in shown)
    names = [n for n in names if n not in planned]
    for name in (n for n in names if n in shown):
        spans = own.get(name)
        partly = False
        if spans:
            down = sum(
                down_time(changes.get(name, ()), s.start, until if s.end is None else s.end)
                or s.down_s(until)
                for s in spans
            )
            still = incident.is_open and spans[-1].end is None
            partly = incident.is_open and not still and _in(every.get(name, ()))
        else:
            down = (
                down_time(changes.get(name, ()), incident.opened, until) or until - incident.opened
            )
            still = listed.current
        if still:
            text = f"{shown[name]} is {words}, for {plain_duration(down)} so far"
        elif partly:
            text = (
                f"{shown[name]} was {words} for {plain_duration(down)}, and still is from "
                "some locations"
            )
        else:
            text = f"{shown[name]} was {words} for {plain_duration(down)}"
        monitors.append({"name": shown[name], "down_s": round(down), "text": text})
    # The page's own outage: from its first monitor's start to its last one's end.
    mine = [s for name in names if name in shown for s in own.get(name, ())]
    ours = [s for name in names if name in shown for s in every.get(name, ())]
    opened, resolved, is_open = incident.opened, incident.resolved, incident.is_open
    if mine:
        opened = min(s.start for s in mine)
        is_open = incident.is_open and _in(ours)
        ends = [s.end for s in ours if s.end is not None]
        resolved = None if is_open else max(ends, default=incident.resolved)
    out: PageIncident = {
        "id": incident.id,
        "open": is_open,
        "opened": iso(opened),
        "resolved": iso(resolved),
        "text": "; ".join(m["text"] for m in monitors) + ".",
        "monitors": monitors,
        "notes": [note.text for note in page.notes if _meets(note, incident, now, own or None)],
    }
    if mine:
        out["outages"] = [
            {"start": iso(a), "end": None if b is None else iso(b)} for a, b in _spans(mine)
        ]
    if page.show_kinds:
        kind = incident.kind
        out["kind"] = "condition" if kind is None else kind.value
        out["meaning"] = (
            "A condition of the check was not met." if kind is None else CATALOGUE[kind].meaning
        )
    return out


def _in(spans: Iterable[Stint]) -> bool:
    """Whether one of ``spans`` goes on."""
    return any(s.end is None for s in spans)


def _spans(spans: Iterable[Stint]) -> list[tuple[float, float | None]]:
    """``spans`` merged where they meet or overlap, oldest first (None: goes on)."""
    out: list[tuple[float, float | None]] = []
    for s in sorted(spans, key=lambda s: s.start):
        if out and (out[-1][1] is None or s.start <= out[-1][1]):
            a, b = out[-1]
            out[-1] = (a, None if b is None or s.end is None else max(b, s.end))
        else:
            out.append((s.start, s.end))
    return out


def told_stints(every: Mapping[str, Sequence[Stint]]) -> dict[str, tuple[Stint, ...]]:
    """Of each monitor's stints in an incident, those a status page tells: not those of
    its partial times (``partial``: some of its locations failed, fewer than its quorum).
    A monitor with none is left out."""
    out = {}
    for name, spans in every.items():
        told = tuple(s for s in spans if s.why != PARTIAL)
        if told:
            out[name] = told
    return out


def _lone_note(note: IncidentNote, shown: Mapping[str, str], now: float) -> PageIncident:
    """A note of a monitor's time that no incident of it met: shown on its own."""
    start, end = note.span()
    assert note.monitor is not None
    return {
        "id": None,
        "open": end is None or end > now,
        "opened": iso(start),
        "resolved": None if end is None or end > now else iso(end),
        "text": f"{shown[note.monitor]}.",
        "monitors": [{"name": shown[note.monitor], "down_s": None, "text": shown[note.monitor]}],
        "notes": [note.text],
    }


def _groups(
    sight: Sight,
    page: StatusPage,
    changes: Mapping[str, Sequence[tuple[float, State]]],
    under: Collection[str],
) -> list[Group]:
    """The page's groups, each monitor's row with its state in words (``Under
    maintenance`` for one of ``under``), its uptime and its days."""
    now = sight.now
    since = now - WINDOWS["90d"]
    groups: list[Group] = []
    for group in page.groups:
        rows: list[PageRow] = []
        for entry in group.monitors:
            state = sight.state(entry.monitor)
            public = MAINTENANCE if entry.monitor in under else _PUBLIC[state]
            row: PageRow = {
                "name": entry.shown,
                "state": str(state),
                "status": public.json(),
                "uptime_90d": uptime(changes[entry.monitor], since, now),
                "days": [
                    {"date": _date(start), "uptime": share}
                    for start, share in daily_uptime(changes[entry.monitor], now)
                ],
            }
            if page.show_urls:
                # A monitor not discovered yet has no URL to show.
                m = next((m for m in sight.config.monitors if m.name == entry.monitor), None)
                if m is not None:
                    row["url"] = redact_url(m.url)
            if page.show_latency:
                latest = sight.latest.get(entry.monitor)
                row["latency_ms"] = None if latest is None else round_ms(latest.latency_ms)
            rows.append(row)
        states = [sight.state(e.monitor) for e in group.monitors if e.monitor not in under]
        held = sum(e.monitor in under for e in group.monitors)
        groups.append(
            {"name": group.name, "status": overall(states, held).json(), "monitors": rows}
        )
    return groups


def build_page(sight: Sight, page: StatusPage) -> PageDoc:
    """The document behind ``/status/{slug}`` and its HTML (see the module's docstring
    for what it holds and what it never does).  Reads the store: run it off the loop."""
    now = sight.now
    since = now - WINDOWS["90d"]
    names = [e.monitor for e in page.entries()]
    shown = {e.monitor: e.shown for e in page.entries()}
    changes = sight.store.state_changes_of(names, since)
    windows = sight.store.windows(limit=OPENED_READ)
    configured = sight.config.maintenance

    def planned_at(name: str, at: float) -> bool:
        return maintained(name, at, configured, windows)

    under = {n for n in names if planned_at(n, now)}
    groups = _groups(sight, page, changes, under)
    window = now - page.incident_days * DAY
    # Each incident's monitors as far as the page's and its notes' go: not the
    # thousands a mass outage's incident holds (issue 23).
    among = {*names, *(n.monitor for n in page.notes if n.monitor is not None)}
    # An incident folded into the local one is told by that one (its members' times
    # went with them); a monitor that was in an incident is found by its history.
    near = [
        i
        for i in sight.store.incident_list(limit=INCIDENTS_READ, shown=(len(among), 1), among=among)
        if i.incident.folded_into is None
        and (
            i.incident.is_open
            or (i.incident.resolved is not None and i.incident.resolved >= window)
        )
    ]
    moves = sight.store.membership([i.incident.id for i in near], among)
    every = {i: stints(m) for i, m in moves.items()}
    own = {i: full for i, spans in every.items() if (full := told_stints(spans))}
    # A partial incident is told once one of its monitors was down for the cluster in it
    # (its scope changed: issue 73 item 9), and from then until it resolves.
    near = [i for i in near if not i.incident.is_partial or i.incident.id in own]

    hushed = {
        i.incident.id: planned_only(i, own.get(i.incident.id) or {}, shown, planned_at, now)
        for i in near
    }
    listed = [
        i
        for i in near
        if any(
            m in shown and m not in hushed[i.incident.id]
            for m in own.get(i.incident.id) or i.incident.monitors
        )
    ]
    told = [
        _incident_json(
            page,
            i,
            shown,
            changes,
            now,
            own.get(i.incident.id, {}),
            hushed[i.incident.id],
            every.get(i.incident.id, {}),
        )
        for i in listed
    ]
    for note in page.notes:
        if note.incident is not None or note.monitor not in shown:
            continue
        start, end = note.span()
        met = any(_meets(note, i.incident, now, own.get(i.incident.id) or None) for i in listed)
        if not met and start <= now and (end is None or end >= window):
            told.append(_lone_note(note, shown, now))
    told.sort(key=lambda i: i["opened"] or "", reverse=True)
    ups = page_updates(sight.store, [i["id"] for i in told if i["id"] is not None])
    for i in told:
        if i["id"] is not None:
            i["updates"] = ups.get(i["id"], [])[::-1]  # newest first, as the docs say
    doc: PageDoc = {
        "slug": page.slug,
        "title": page.title,
        "description": page.description,
        "now": iso(now),
        "status": overall([sight.state(n) for n in names if n not in under], len(under)).json(),
        "announcements": [
            {
                "level": a.level,
                "text": a.text,
                "start": None if a.start is None else iso(_ts(a.start)),
                "end": None if a.end is None else iso(_ts(a.end)),
            }
            for a in page.announcements
            if a.shown_at(now)
        ],
        "groups": groups,
        "incident_days": page.incident_days,
        "incidents": told,
        "shows": {"urls": page.show_urls, "kinds": page.show_kinds, "latency": page.show_latency},
        "objectives": page_objectives(sight.objectives, sight.config, page),
        "maintenance": page_maintenance(page, sight.config.maintenance, windows, now),
    }
    if page.subscribe is not None:
        doc["subscribe"] = True
    return doc


def _ts(moment: dt.datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


# -- HTML: the one renderer -----------------------------------------------------------------


def render_page(doc: PageDoc) -> str:
    """The status page, from :func:`build_page`: a whole HTML document, no script."""
    days = len(doc["groups"][0]["monitors"][0]["days"]) if doc["groups"] else DAYS
    bar = {"width": BAR_WIDTH, "gap": BAR_GAP, "height": BAR_HEIGHT}
    return str(render("status.html", doc=doc, days=days, bar=bar, share=share_text)) + "\n"


def not_found_page() -> str:
    """The page for a slug no status page has (it does not echo the slug)."""
    return str(render("status_not_found.html")) + "\n"


# -- caching and routes -----------------------------------------------------------------------


class TtlCache:
    """Values built at most once every ``ttl`` seconds of ``clock`` per key, and again
    when their source changes (a reload brings a new page); builds of one key wait for
    each other rather than run twice."""

    def __init__(self, clock: Callable[[], float], ttl: float = CACHE_SECONDS) -> None:
        self.clock, self.ttl = clock, ttl
        self._values: dict[object, tuple[float, object, Any]] = {}
        self._locks: dict[object, asyncio.Lock] = {}

    async def get(self, key: object, source: object, build: Callable[[], Awaitable[Any]]) -> Any:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            now = self.clock()
            found = self._values.get(key)
            if found is not None and found[1] is source and 0 <= now - found[0] < self.ttl:
                return found[2]
            value = await build()
            self._values[key] = (now, source, value)
            return value

    def forget(self, keep: set[object]) -> None:
        """Drop every key but ``keep`` (pages removed by a reload)."""
        for key in list(self._values.keys() - keep):
            del self._values[key]
            self._locks.pop(key, None)


BADGES: Final = ("status", "uptime-30d", "response-time")


def public_monitors(config: MonitorConfig) -> dict[str, str]:
    """Each monitor on some status page, with the display name of its first."""
    out: dict[str, str] = {}
    for page in config.status_pages:
        for entry in page.entries():
            out.setdefault(entry.monitor, entry.shown)
    return out


def badge(sight: Sight, name: str, shown: str, which: str) -> str:
    """The SVG of badge ``which`` of monitor ``name``.  Reads the store for the uptime:
    run it off the loop."""
    if which == "status":
        windows = sight.store.windows(limit=OPENED_READ)
        if maintained(name, sight.now, sight.config.maintenance, windows):
            return maintenance_badge(shown)
        return status_badge(shown, sight.state(name))
    if which == "uptime-30d":
        changes = sight.store.state_changes(name, sight.now - WINDOWS["30d"])
        return uptime_badge("uptime 30d", uptime(changes, sight.now - WINDOWS["30d"], sight.now))
    latest = sight.latest.get(name)
    failed = (
        "down"
        if sight.state(name) is State.DOWN
        else "failed"
        if latest is not None and not latest.ok
        else None
    )
    return latency_badge("response time", None if latest is None else latest.latency_ms, failed)


def asset() -> bytes:
    return (importlib.resources.files("tether.monitor.web") / "static" / "status.css").read_bytes()


@dataclass(frozen=True, slots=True)
class StatusHandlers:
    """The handlers of the status pages (``page``), their documents (``document``), the
    badges, ``/static/status.css`` (``stylesheet``) and any other path under /status/
    (``not_found``); public, with the dashboard's security headers."""

    stylesheet: Handler
    document: Handler
    page: Handler
    badge: Handler
    not_found: Handler


def status_handlers(runner: Running) -> StatusHandlers:
    """:class:`StatusHandlers` of ``runner``'s status pages, each page's document and
    each badge cached a while."""
    pages = TtlCache(runner.wall)
    badges = TtlCache(runner.wall)
    style = asset()

    async def document(slug: str) -> tuple[PageDoc, str] | None:
        page = runner.config.status_page(slug)
        if page is None:
            return None
        pages.forget({p.slug for p in runner.config.status_pages})

        async def build() -> tuple[PageDoc, str]:
            sight = Sight.of(runner)

            def work() -> tuple[PageDoc, str]:
                doc = build_page(sight, page)
                return doc, json.dumps(doc, separators=(",", ":"), ensure_ascii=False)

            return await asyncio.to_thread(work)

        found: tuple[PageDoc, str] = await pages.get(slug, page, build)
        return found

    async def html_page(request: web.Request) -> web.Response:
        found = await document(request.match_info["slug"])
        if found is None:
            return _html(not_found_page(), 404)
        return _html(await asyncio.to_thread(render_page, found[0]), 200)

    async def json_page(request: web.Request) -> web.Response:
        found = await document(request.match_info["slug"])
        if found is None:
            body, status = json.dumps({"error": "no status page here"}), 404
        else:
            body, status = found[1], 200
        return web.Response(
            text=body,
            status=status,
            content_type="application/json",
            charset="utf-8",
            headers={**SECURITY_HEADERS, "Cache-Control": f"max-age={int(CACHE_SECONDS)}"},
        )

    async def badge_svg(request: web.Request) -> web.Response:
        name, which = request.match_info["monitor"], request.match_info["which"]
        public = public_monitors(runner.config)
        if name not in public or which not in BADGES:
            return web.Response(status=404, text="no such badge\n", headers={**SECURITY_HEADERS})
        shown = public[name]

        async def build() -> str:
            sight = Sight.of(runner)
            return await asyncio.to_thread(badge, sight, name, shown, which)

        svg: str = await badges.get((name, which), runner.config, build)
        return web.Response(
            text=svg,
            headers={
                **SECURITY_HEADERS,
                "Content-Type": "image/svg+xml; charset=utf-8",
                "Cache-Control": f"max-age={BADGE_MAX_AGE}",
            },
        )

    async def not_found(request: web.Request) -> web.Response:
        return _html(not_found_page(), 404)

    async def stylesheet(request: web.Request) -> web.Response:
        return web.Response(
            body=style,
            headers={"Content-Type": "text/css; charset=utf-8", "Cache-Control": "no-cache"},
        )

    return StatusHandlers(stylesheet, json_page, html_page, badge_svg, not_found)


def _html(text: str, status: int) -> web.Response:
    return web.Response(
        text=text,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={**SECURITY_HEADERS, "Cache-Control": f"max-age={int(CACHE_SECONDS)}"},
    )
