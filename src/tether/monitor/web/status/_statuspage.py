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
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, NotRequired, TypedDict

from aiohttp import web

from tether._redact import redact_url
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
from tether.monitor.web.status._page_incidents import (
    FAILING,
    PageIncident,
    down_time,
    page_incidents,
    plain_duration,
    trouble,
)
from tether.monitor.web.status._status_news import (
    OPENED_READ,
    PageMaintenance,
    maintained,
    page_maintenance,
)
from tether.monitor.web.status._status_objectives import PageObjective, page_objectives

if TYPE_CHECKING:
    from tether.monitor.config import MonitorConfig, StatusPage
    from tether.monitor.engine._detect import Observation
    from tether.monitor.engine.objectives._budget import ObjectiveStatus
    from tether.monitor.store import Store
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
    "trouble",
]

DAY: Final = 86400.0
DAYS: Final = 90
"""Daily uptime bars on a page."""
CACHE_SECONDS: Final = 5.0
"""A page's document, and a badge, are built at most this often."""
BADGE_MAX_AGE: Final = 60
"""Seconds a badge may be cached by whoever fetches it."""
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
    known = [s for s in states if s in _UP or s in FAILING]
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
    changes = sight.store.state_changes_of(names, since)
    windows = sight.store.windows(limit=OPENED_READ)
    configured = sight.config.maintenance

    def planned_at(name: str, at: float) -> bool:
        return maintained(name, at, configured, windows)

    under = {n for n in names if planned_at(n, now)}
    groups = _groups(sight, page, changes, under)
    told = page_incidents(sight.store, page, changes, planned_at, now)
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
