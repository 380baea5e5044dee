"""The dashboard's pages, rendered from the documents of ``_dashboard.py`` by the
templates of ``templates/`` (through ``_html.py``'s environment): the overview, a
monitor's page, the incidents, the pages for a store that cannot be read and a monitor
that is not there, and the banners every page shows.

What is computed here is what a template should not: the numbers of the SVG shapes (the
sparklines, the incident timeline), the words of a tooltip, the view a document was built
for.  The markup is the templates'; a value is escaped where a template writes it.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Final, TypedDict
from urllib.parse import quote

from markupsafe import Markup

from tether._durations import human_duration
from tether._plural import count
from tether._redact import redact_text
from tether.monitor._records import CONDITION
from tether.monitor._state import State
from tether.monitor.reports._documents import INVALID_TIME, iso
from tether.monitor.reports._uptime import WINDOWS
from tether.monitor.web._html import EMPTY, Page, latency, macro, render
from tether.monitor.web._routing import monitor_path
from tether.monitor.web.documents._board import STATE_ORDER
from tether.monitor.web.documents._dashboard import (
    CERT_SOON_DAYS,
    HEARTBEATS,
    NO_CONDITIONS,
    OPEN_ON_OVERVIEW,
    SPARK_HEIGHT,
    SPARK_WIDTH,
    TIMELINE_LANES,
    TIMELINE_WIDTH,
)
from tether.monitor.web.documents._documents import (
    IncidentBrief,
    IncidentsDoc,
    Location,
    MonitorDoc,
    MonitorHead,
    SparkPoint,
    StatusDoc,
    TrafficDoc,
)
from tether.monitor.web.documents._overview import QUERY_MAX, View
from tether.monitor.web.documents._recent import SPARKLINE_WINDOW
from tether.monitor.web.documents._series import RANGE_SHOWN, RANGES, kind_layer
from tether.monitor.web.documents._statustext import cluster_line

if TYPE_CHECKING:
    from tether.monitor.alerts import ChannelStatus
    from tether.monitor.reports._documents import ResultDoc
    from tether.monitor.store._base import StoreError, StoreHealth
    from tether.monitor.web.api._actions import Forms

__all__ = [
    "channel_banner",
    "dashboard_page",
    "incident_card",
    "incidents_page",
    "monitor_page",
    "not_found_page",
    "store_banner",
    "unavailable_page",
]


# -- the banners ----------------------------------------------------------------------------


def channel_banner(channels: Iterable[ChannelStatus], now: float) -> Markup:
    """The banner every page shows while an alert channel is failing, one line per
    failing channel: ``Alerts to ops are failing: <error>; 3 queued, the oldest for
    4 min 0 s``; empty while every channel delivers."""
    failing = [
        (
            c.name,
            None if c.last_error is None else redact_text(c.last_error),
            c.queued,
            None if c.oldest_queued_at is None else human_duration(now - c.oldest_queued_at),
        )
        for c in channels
        if c.failing
    ]
    if not failing:
        return EMPTY
    return render("banner_channels.html", failing=failing) + Markup("\n")


def store_banner(health: StoreHealth) -> Markup:
    """The banner every page shows while the history cannot be written; empty otherwise."""
    if health.up:
        return EMPTY
    return render(
        "banner_store.html",
        error=None if health.error is None else redact_text(health.error),
        down_for=human_duration(health.down_for),
        held=health.held + health.spilled,
        held_writes=health.held_writes,
    ) + Markup("\n")


# -- what the templates draw: each a TypedDict, as the documents they are drawn from --------


class Spark(TypedDict):
    """A row's sparkline (:func:`sparkline`): the line's points, the latest as a dot, and
    where the failed minutes' marks go."""

    width: int
    height: int
    label: str
    bottom: float
    path: str
    dot: tuple[float, float] | None
    fails: list[float]


class Heartbeat(TypedDict):
    """A monitor's last checks (:func:`heartbeat`): each its outcome and its title."""

    blocks: list[tuple[str, str]]
    label: str


class Bar(TypedDict):
    """An incident on a monitor's time axis, its timeline's events as marks on it."""

    id: int
    state: str
    layer: str
    x: float
    y: int
    width: float
    title: str
    marks: list[tuple[float, str]]


class Timeline(TypedDict):
    """A monitor's incidents over one range (:func:`timeline`)."""

    span: str
    width: int
    height: int
    top: int
    lane: int
    ticks: list[tuple[float, str, str]]
    bars: list[Bar]


# -- the overview ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)  # the same minutes again, as in iso()
def _unix(text: str) -> float:
    """An ISO time of a document in Unix seconds; NaN for :data:`INVALID_TIME` (a stored
    time no calendar shows), which no comparison holds for: drawn nowhere."""
    if text == INVALID_TIME:
        return math.nan
    return dt.datetime.fromisoformat(text).timestamp()


def sparkline(points: Sequence[SparkPoint], now: str) -> Spark | None:
    """A sparkline's shapes (``None``: no checks): each minute's average latency as a
    line and each minute with a failure as a red mark; time runs left to right over the
    last hour, so a young monitor's line starts late."""
    end = _unix(now)
    # A stored minute no calendar shows, or one after now (a row written by hand, or by
    # an older tether from an agent's clock), is not drawn: it would be off the chart.
    points = [p for p in points if _unix(p["at"]) <= end]
    if not points:
        return None

    def x(at: str) -> float:
        return SPARK_WIDTH * (1 - (end - _unix(at)) / SPARKLINE_WINDOW)

    timed = [(p["at"], ms) for p in points if (ms := p["latency_ms"]) is not None]
    top = max((ms for _, ms in timed), default=0.0) or 1.0
    line = [(x(at), SPARK_HEIGHT - 2 - ms / top * (SPARK_HEIGHT - 4)) for at, ms in timed]
    checks = sum(p["checks"] for p in points)
    failed = sum(p["failed"] for p in points)
    return {
        "width": SPARK_WIDTH,
        "height": SPARK_HEIGHT,
        "label": f"last hour: {checks} checks, {failed} failed",
        "bottom": SPARK_HEIGHT - 0.5,
        "path": " ".join(f"{px:.1f},{py:.1f}" for px, py in line),
        # The latest minute as a dot, so even one point shows.
        "dot": line[-1] if line else None,
        "fails": [x(p["at"]) - 1 for p in points if p["failed"]],
    }


def _place_title(where: Location) -> str:
    """What a location's state rests on, for its tooltip: the kind and detail of its
    failure, or since when it has been in its state."""
    if not where["live"]:
        return "nothing probes from there now (no live instance, no agent reporting): not counted"
    since = "" if where["since"] is None else f"since {where['since']}"
    why = ": ".join(part for part in (where["kind"], where["detail"]) if part)
    return "; ".join(part for part in (why, since) if part)


def places(row: MonitorHead) -> list[dict[str, str]]:
    """``east down · west up · local up`` under a monitor's state, each coloured as the
    state badges are."""
    return [
        {
            "location": where["location"],
            "state": where["state"] if where["live"] else "unknown",
            "shown": where["state"] if where["live"] else "not counted",
            "title": _place_title(where),
        }
        for where in row["locations"]
    ]


def _view_of(doc: StatusDoc) -> View:
    """The view a status document was built for, with the page it shows."""
    v = doc["view"]
    state = None if v["state"] is None else State(v["state"])
    return View(state, v["q"], v["sort"], v["order"], v["page"], v["per_page"], v["match"])


def dashboard_page(
    doc: StatusDoc, banner: Markup = EMPTY, bad_match: tuple[str, str] | None = None
) -> Page:
    """The dashboard, from :func:`status_document`; ``banner`` from :func:`channel_banner`.
    ``bad_match``: the ``match`` typed and why it is not a matcher (every monitor is
    shown, the form keeps the text and says why, the page answers 400)."""
    view = _view_of(doc)
    counts = doc["summary"]
    total = sum(counts.values())
    summary = {
        "total": total,
        "noun": "monitor" if total == 1 else "monitors",
        "states": [
            (state, n, view.href(state=State(state), page=1)) for state, n in counts.items() if n
        ],
    }
    v = doc["view"]
    matching, page = v["matching"], v["page"]
    pager = {
        "matching": matching,
        "pages": v["pages"],
        "page": page,
        "first": (page - 1) * view.per_page + 1,
        "last": min(page * view.per_page, matching),
    }
    main = render(
        "dashboard.html",
        banner=banner,
        view=view,
        summary=summary,
        cluster=cluster_line(doc["cluster"]),
        open_incidents=doc["open_incidents"],
        open_shown=OPEN_ON_OVERVIEW,
        pager=pager,
        rows=doc["rows"],
        places=places,
        spark=functools.partial(sparkline, now=doc["now"]),
        soon_days=CERT_SOON_DAYS,
    )
    typed, problem = bad_match or (view.match, None)
    controls = render(
        "filter.html",
        view=view,
        states=STATE_ORDER,
        query_max=QUERY_MAX,
        typed=typed,
        problem=problem,
    )
    status = 200 if problem is None else 400
    return Page("Monitors", view.href(), doc["now"], main, status, controls=controls + Markup("\n"))


# -- a monitor's page -----------------------------------------------------------------------


def kind_text_of(kind: str | None) -> str:
    """A result document's ``kind`` as the kinds of incidents name it (``condition``
    for conditions not met)."""
    return CONDITION if kind is None else kind


def heartbeat(results: Sequence[ResultDoc]) -> Heartbeat:
    """The last :data:`HEARTBEATS` checks, oldest first, each its outcome and its title
    (time, outcome, kind and latency), and the bar's label."""
    beats = list(reversed(results[:HEARTBEATS]))
    blocks = []
    for r in beats:
        outcome = "ok" if r["ok"] else "failed"
        parts = [r["at"].replace("T", " ").replace("Z", " UTC"), outcome]
        if not r["ok"]:
            parts.append(kind_text_of(r["kind"]))
        if r["latency_ms"] is not None:
            parts.append(f"{r['latency_ms']:.1f} ms")
        blocks.append((outcome, " · ".join(parts)))
    failed = sum(not r["ok"] for r in beats)
    return {"blocks": blocks, "label": f"last {count(len(beats), 'check')}: {failed} failed"}


def timeline(incidents: Sequence[IncidentBrief], now: str, span: str) -> Timeline:
    """The shapes of the monitor's incidents over the last ``span`` on a time axis: each
    incident a bar from when it opened to when it was resolved (or now), or, with the
    monitor's own ``members`` lines, from when it joined to when it left (or now),
    coloured by its kind's layer, each event of its timeline a mark on it.  Shapes carry
    their place and colour as SVG attributes and classes, which the CSP allows (an inline
    ``style`` it does not)."""
    end = _unix(now)
    start = end - RANGES[span]
    width = TIMELINE_WIDTH
    top, lane, pad = 18, 16, 4

    def x(at: float) -> float:
        return max(0.0, min(width, (at - start) / (end - start) * width))

    shown = [
        i
        for i in incidents
        if _unix(i["opened"]) < end and (i["resolved"] is None or _unix(i["resolved"]) > start)
    ][:TIMELINE_LANES]
    height = top + max(1, len(shown)) * lane + pad
    ticks = []
    for k in range(5):
        at = iso(start + (end - start) * k / 4) or ""
        label = at[5:16].replace("T", " ") if span != "1h" else at[11:16]
        ticks.append((width * k / 4, label, "start" if k == 0 else "end" if k == 4 else "middle"))
    bars: list[Bar] = []
    for n, i in enumerate(shown):
        x0 = x(_unix(i["opened"]))
        x1 = x(end if i["resolved"] is None else _unix(i["resolved"]))
        if i.get("members"):  # the monitor's own time in it, when the page has it
            x0 = x(min(_unix(m["joined"]) for m in i["members"]))
            lefts = [m["left"] for m in i["members"]]
            x1 = x(end if None in lefts else max(_unix(t) for t in lefts if t is not None))
        title = f"#{i['id']} {i['kind']}: opened {i['opened']}, " + (
            "still open" if i["open"] else f"resolved {i['resolved']}"
        )
        marks = [
            (x(_unix(e["at"])), e["at"] + " " + e["event"] + ": " + (e["detail"] or ""))
            for e in i["timeline"]
            if start <= _unix(e["at"]) <= end
        ]
        bars.append(
            {
                "id": i["id"],
                "state": "open" if i["open"] else "resolved",
                "layer": kind_layer(i["kind"]),
                "x": x0,
                "y": top + n * lane + 2,
                "width": max(2.0, x1 - x0),
                "title": title,
                "marks": marks,
            }
        )
    return {
        "span": span,
        "width": width,
        "height": height,
        "top": top,
        "lane": lane,
        "ticks": ticks,
        "bars": bars,
    }


_PERCENTILES: Final = ("p50_ms", "p90_ms", "p99_ms")


def traffic_rows(t: TrafficDoc) -> list[tuple[str, str]]:
    """A traffic monitor's window, figure by figure."""
    share = f"{t['failed_share'] * 100:.1f}%" if t["calls"] else "—"
    rate = "—" if t["per_minute"] is None else f"{t['per_minute']:g} a minute"
    retried = (
        f"{t['retried']} ({t['retried_share'] * 100:.1f}%), {t['retries']} retries in all"
        if t["calls"]
        else "—"
    )
    return [
        ("Calls in the last " + t["window"], f"{t['calls']} ({rate})"),
        ("Failed", f"{t['failed']} ({share})"),
        ("Latency p50 / p90 / p99", " / ".join(latency(t[k]) for k in _PERCENTILES)),
        ("Needed a retry", retried),
    ]


def monitor_page(doc: MonitorDoc, banner: Markup = EMPTY, forms: Forms | None = None) -> Page:
    """One monitor's page, from :func:`monitor_document`; ``forms``: its buttons (none
    for a reader who may not write)."""
    main = render(
        "monitor.html",
        doc=doc,
        banner=banner,
        forms=forms,
        back=monitor_path(doc["name"]),
        actions="/api/monitors/" + quote(doc["name"], safe=""),
        windows=tuple(WINDOWS),
        beats=heartbeat(doc["results"]),
        no_conditions=NO_CONDITIONS,
        ranges=tuple(RANGES),
        range_shown=RANGE_SHOWN,
        timelines=[timeline(doc["incidents"], doc["now"], span) for span in RANGES],
        traffic_rows=traffic_rows(doc["traffic"]) if "traffic" in doc else (),
    )
    return Page(
        doc["name"],
        monitor_path(doc["name"]),
        doc["now"],
        main,
        styles=("uplot.min.css",),
        scripts=("uplot.min.js", "charts.js"),
    )


# -- the incidents, and the pages of what is missing -----------------------------------------


def incident_card(
    incident: IncidentBrief, *, timeline: bool, forms: Forms | None = None, back: str = "/"
) -> Markup:
    """One incident as the pages show it (``_incidents.html``'s ``incident``)."""
    return macro("_incidents.html", "incident")(incident, timeline, forms, back)


def incidents_page(
    doc: IncidentsDoc,
    banner: Markup = EMPTY,
    forms: Forms | None = None,
    *,
    open_only: bool = False,
) -> Page:
    """The incidents page, from :func:`incidents_document`; ``forms``: its buttons;
    ``open_only``: the open ones alone (``?open=1``, as the API takes it)."""
    path = "/incidents?open=1" if open_only else "/incidents"
    title = "Open incidents" if open_only else "Incidents"
    main = render(
        "incidents.html",
        banner=banner,
        title=title,
        open_only=open_only,
        incidents=doc["incidents"],
        forms=forms,
        back=path,
    )
    return Page(title, path, doc["now"], main)


def unavailable_page(error: StoreError, now: float, banner: Markup = EMPTY) -> Page:
    """The page shown when the history cannot be read (PostgreSQL away, say)."""
    main = render("unavailable.html", banner=banner, error=redact_text(str(error)))
    return Page("History unavailable", None, iso(now), main, status=503)


def not_found_page(name: str, now: float, banner: Markup = EMPTY) -> Page:
    """The page for a monitor name that is not configured."""
    main = render("not_found.html", banner=banner, name=repr(name))
    return Page("Not found", None, iso(now), main, status=404)
