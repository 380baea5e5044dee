"""The objectives' pages of the dashboard: ``/objectives``, each objective with its SLI
and budget left over its window, and ``/objectives/NAME``, its burn-down chart, the
budget left bucket by bucket over the window with the incidents of its monitors marked.

Their figures are the running monitor's last evaluation (``metrics/_objective_metrics.py``'s
:func:`figure`), the ones ``/api/objectives``, ``tether objectives``, ``/metrics`` and the
status pages give: computed once.  The chart is drawn from the buckets behind that
figure (the objective's ledger, filled from the store at start: it survives restarts),
from where its data starts; the incidents are read from the store.  The chart is an SVG
whose numbers are computed here (:func:`burn_chart`), drawn without script; its axis
reaches down to -100% at most, and a budget overspent further says by how much.  An
objective with too few checks for a budget says so instead of a chart.  The pages are
not refreshed in place: their figures move by the evaluation.  The same access rules as
the dashboard's other pages: the paths are not public (``_auth.area``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final, TypedDict
from urllib.parse import quote

from aiohttp import web
from markupsafe import Markup

from tether._durations import format_duration, human_duration
from tether.monitor.engine.objectives._budget import needed
from tether.monitor.engine.objectives._words import too_few
from tether.monitor.metrics._objective_metrics import ObjectivesView, figure
from tether.monitor.reports._documents import iso
from tether.monitor.reports.objectives._history import History, incident_marks, live_history
from tether.monitor.web._html import Page, render

if TYPE_CHECKING:
    from tether.monitor.web._running import Running
    from tether.monitor.web.documents._snapshot import Snapshot
    from tether.monitor.web.pages._dashboard_routes import DashboardHandlers

__all__ = [
    "AXIS_FLOORS",
    "CHART_HEIGHT",
    "CHART_WIDTH",
    "PLOT_BOTTOM",
    "PLOT_TOP",
    "BurnChart",
    "ObjectivePageHandlers",
    "ObjectiveRow",
    "axis_low",
    "budget_text",
    "burn_chart",
    "chart_y",
    "incident_href",
    "listing_rows",
    "objective_handlers",
    "objective_path",
    "share_text",
]

CHART_WIDTH: Final = 720
CHART_HEIGHT: Final = 240
PLOT_TOP: Final = 24
"""Where the 100% line is drawn."""
PLOT_BOTTOM: Final = 210
"""Where the chart's lowest value (0%, or the overspent low) is drawn."""


def objective_path(name: str) -> str:
    """The page of objective ``name``; any character of a name survives the trip."""
    return "/objectives/" + quote(name, safe="")


def incident_href(incident: int) -> str:
    """Where an incident mark leads: its card on the incidents page."""
    return f"/incidents?limit=1000#incident-{incident}"


def share_text(share: float | None, digits: int = 3) -> str:
    """``99.950%``, or ``-`` for none: never rounded up to 100% when short of it."""
    if share is None:
        return "-"
    text = f"{share * 100:,.{digits}f}%"
    if share < 1 and text == f"{100:.{digits}f}%":
        return f"{100 - 10**-digits:.{digits}f}%"
    return text


class Band(TypedDict):
    """An incident on the chart's time axis."""

    id: int
    x: float
    width: float
    title: str
    href: str


class ObjectiveRow(TypedDict):
    """One objective on ``/objectives``."""

    name: str
    path: str
    sli: str
    target: str
    window: str
    remaining: str
    overspent: bool
    monitors: int


class BurnChart(TypedDict):
    """The burn-down chart's shapes (:func:`burn_chart`)."""

    width: int
    height: int
    low: float
    """The lowest share on the axis (0, or down to -1 when overspent)."""
    path: str
    end: tuple[float, float] | None
    """Where the line ends; None when no line is drawn (``empty`` says why)."""
    remaining: float
    yticks: list[tuple[float, str]]
    xticks: list[tuple[float, str]]
    bands: list[Band]
    label: str
    note: str | None
    """What the line does not show: a budget overspent below the axis."""
    empty: str | None
    """Why there is no line: no check yet, or too few for a budget."""


def _day(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


AXIS_FLOORS: Final = (0.0, -0.25, -0.5, -1.0)
"""Where the chart's axis may end at the bottom: 0%, or the first of these at or below
the lowest share; never below -100% (a readable axis: a line lower leaves the chart)."""
_TICKS: Final = (3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 5 * 86400, 7 * 86400)


def axis_low(low: float) -> float:
    """The bottom of the axis for a lowest share of ``low`` (:data:`AXIS_FLOORS`)."""
    return next((f for f in AXIS_FLOORS if low >= f - 1e-12), AXIS_FLOORS[-1])


def chart_y(remaining: float, low: float) -> float:
    """Where a budget share is drawn, the axis running from ``low`` (bottom) to 1 (top);
    a share below ``low`` is drawn at the bottom."""
    share = min(max(remaining, low), 1.0)
    return PLOT_TOP + (1 - share) / (1 - low) * (PLOT_BOTTOM - PLOT_TOP)


def _xticks(origin: float, end: float, x: Callable[[float], float]) -> list[tuple[float, str]]:
    """About six ticks between ``origin`` and ``end``, on whole hours or days (UTC)."""
    span = max(end - origin, 1.0)
    step = next((t for t in _TICKS if span / t <= 7), _TICKS[-1] * math.ceil(span / _TICKS[-1] / 7))
    fmt = "%b %d" if step >= 86400 else "%H:%M"
    at = origin - origin % step + step
    ticks = []
    while at < end:
        ticks.append((x(at), dt.datetime.fromtimestamp(at, dt.UTC).strftime(fmt)))
        at += step
    return ticks


def little_data_text(history: History) -> str:
    """What the chart says instead of a line when the data is too little for a budget."""
    if not history.total:
        return "No checks counted yet."
    need = history.needed
    since = "" if history.since is None else f" since {_day(history.since)}"
    return (
        f"Too few checks for a budget yet: {history.total:,} counted{since}; at "
        f"{share_text(history.target)} a single failed one is within budget after {need:,}."
    )


def burn_chart(history: History) -> BurnChart:
    """The budget left over ``history``'s span as a line, from 100% where its data starts,
    and its incidents as bands (their time, clipped to the span) that link to them."""
    origin = history.start if history.since is None else max(history.start, history.since)
    span = max(history.end - origin, 1.0)  # a month to come has none yet

    def x(at: float) -> float:
        return min(max((at - origin) / span, 0.0), 1.0) * CHART_WIDTH

    lowest = min((p.remaining for p in history.points), default=1.0)
    low = axis_low(min(0.0, lowest))
    drawn = bool(history.points) and not history.little_data
    line = [(0.0, chart_y(1.0, low))]
    line += [(x(p.at), chart_y(p.remaining, low)) for p in history.points if p.at > origin]
    bands: list[Band] = []
    for mark in history.incidents:
        left = x(mark.opened)
        right = x(history.end if mark.resolved is None else mark.resolved)
        cause = mark.kind or "conditions not met"
        lasted = human_duration(mark.duration(history.end))
        bands.append(
            {
                "id": mark.id,
                "x": left,
                "width": max(right - left, 2.0),
                "title": f"#{mark.id} {cause}: {', '.join(mark.monitors)}, {lasted}",
                "href": incident_href(mark.id),
            }
        )
    step = 0.25 if low >= -0.5 else 0.5
    shares = [1 - k * step for k in range(round((1 - low) / step) + 1)]
    note = None
    if drawn and lowest < low:
        over, floor = share_text(-history.remaining, 0), share_text(low, 0)
        note = f"overspent by {over}: the line leaves the chart at {floor}"
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "low": low,
        "path": " ".join(f"{px:.1f},{py:.1f}" for px, py in line),
        "end": line[-1] if drawn else None,
        "remaining": history.remaining,
        "yticks": [(chart_y(share, low), share_text(share, 0)) for share in shares],
        "xticks": _xticks(origin, history.end, x),
        "bands": bands,
        "label": f"error budget left from {_day(origin)} to {_day(history.end)}: "
        f"{budget_text(history.remaining, history.little_data, history.total, history.needed)}",
        "note": note,
        "empty": None if drawn else little_data_text(history),
    }


def budget_text(remaining: float, little: bool, total: int, need: int, digits: int = 1) -> str:
    """The budget left as a page says it: ``87.3%``, or ``too few checks: 3 of 1,000
    needed`` while there are too few (``total`` of ``need``) for a budget (not
    -63,000%)."""
    return too_few(total, need) if little else share_text(remaining, digits)


def objectives_page(rows: Sequence[ObjectiveRow], now: float, banner: Markup) -> Page:
    """``/objectives``: each objective's SLI, target and budget left over its window."""
    main = render("objectives.html", banner=banner, rows=rows)
    # Not refreshed (no path): the figures move by the evaluation.
    return Page("Objectives", None, iso(now), main)


def listing_rows(view: ObjectivesView, now: float) -> list[ObjectiveRow]:
    """Every objective as ``/objectives`` lists it, from its last evaluation (on the loop:
    no store read, whatever the number of monitors)."""
    rows: list[ObjectiveRow] = []
    for name, objective in view.book.objectives.items():
        status = figure(view, name, now)
        ready = name not in view.waiting
        rows.append(
            {
                "name": name,
                "path": objective_path(name),
                "sli": share_text(status.sli),
                "target": share_text(objective.share),
                "window": format_duration(objective.window),
                "remaining": budget_text(
                    status.remaining,
                    status.little_data,
                    status.counts.total,
                    needed(objective.share),
                )
                if ready
                else "reading the store",
                "overspent": ready and not status.little_data and status.remaining < 0,
                "monitors": len(view.book.selected[name]),
            }
        )
    return rows


def objective_page(history: History, now: float, banner: Markup, ready: bool = True) -> Page:
    """``/objectives/NAME``: the burn-down chart and the incidents marked on it."""
    main = render(
        "objective.html",
        banner=banner,
        h=history,
        chart=burn_chart(history),
        sli=share_text(history.sli),
        target=share_text(history.target),
        remaining=budget_text(history.remaining, history.little_data, history.total, history.needed)
        if ready
        else "reading the store",
        window=format_duration(history.end - history.start),
        href=incident_href,
        iso=iso,
        lasted=lambda m: human_duration(m.duration(history.end)),
    )
    return Page(history.name, None, iso(now), main)


def _missing_page(name: str, now: float, banner: Markup) -> Page:
    main = render("objective_not_found.html", banner=banner, name=repr(name))
    return Page("Not found", None, iso(now), main, status=404)


class ObjectivePageHandlers:
    """The handlers of ``/objectives`` and ``/objectives/NAME``: the figures taken on the
    loop, the page built on a worker thread (reading the incidents from the store), as
    the dashboard's other pages (:meth:`DashboardHandlers.send`)."""

    def __init__(self, runner: Running, board: DashboardHandlers) -> None:
        self.runner = runner
        self.board = board

    async def listing(self, request: web.Request) -> web.Response:
        rows = listing_rows(self.runner.objectives, self.runner.wall())
        return await self.board.send(
            request, lambda snap, banner: objectives_page(rows, snap.now, banner), ()
        )

    async def page(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        view = self.runner.objectives
        objective = view.book.objectives.get(name)
        if objective is None:
            return await self.board.send(
                request, lambda snap, banner: _missing_page(name, snap.now, banner), ()
            )
        status = figure(view, name, self.runner.wall())
        ledger = view.book.ledgers[name]
        steps, width = ledger.steps(status.at), ledger.window_width
        monitors = view.book.selected[name]
        ready = name not in view.waiting

        def built(snap: Snapshot, banner: Markup) -> Page:
            marks = incident_marks(snap.store, monitors, status.at - objective.window, status.at)
            history = live_history(objective, status, steps, width, monitors, marks)
            return objective_page(history, snap.now, banner, ready)

        return await self.board.send(request, built, ())


def objective_handlers(runner: Running, board: DashboardHandlers) -> ObjectivePageHandlers:
    """The objectives' page handlers, sharing the dashboard's (``board``) page building."""
    return ObjectivePageHandlers(runner, board)
