"""The objectives' pages of the dashboard: ``/objectives``, each objective with its SLI
and budget left over its window, and ``/objectives/NAME``, its burn-down chart, the
budget left hour by hour over the window with the incidents of its monitors marked.

Read from the store (``reports/_objective_history.py``), so they survive restarts; the
chart is an SVG whose numbers are computed here (:func:`burn_chart`), as the monitor
page's incident timeline is, and drawn without script.  The pages are not refreshed in
place: their figures move by the hour.  The same access rules as the
dashboard's other pages: the paths are not public (``_auth.area``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, TypedDict
from urllib.parse import quote

from aiohttp import web
from markupsafe import Markup

from tether._durations import format_duration, human_duration
from tether.monitor.reports._documents import iso
from tether.monitor.reports._objective_history import History, objective_history
from tether.monitor.web._html import Page, render

if TYPE_CHECKING:
    from tether.monitor.config import MonitorConfig
    from tether.monitor.web._dashboard_routes import DashboardHandlers
    from tether.monitor.web._running import Running
    from tether.monitor.web._snapshot import Snapshot

__all__ = [
    "CHART_HEIGHT",
    "CHART_WIDTH",
    "PLOT_BOTTOM",
    "PLOT_TOP",
    "BurnChart",
    "ObjectiveHandlers",
    "burn_chart",
    "chart_y",
    "incident_href",
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
    text = f"{share * 100:.{digits}f}%"
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


class BurnChart(TypedDict):
    """The burn-down chart's shapes (:func:`burn_chart`)."""

    width: int
    height: int
    low: float
    """The lowest share on the axis (0, or below when overspent)."""
    path: str
    end: tuple[float, float] | None
    remaining: float
    yticks: list[tuple[float, str]]
    xticks: list[tuple[float, str]]
    bands: list[Band]
    label: str


def _day(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def chart_y(remaining: float, low: float) -> float:
    """Where a budget share is drawn, the axis running from ``low`` (bottom) to 1 (top)."""
    return PLOT_TOP + (1 - remaining) / (1 - low) * (PLOT_BOTTOM - PLOT_TOP)


def burn_chart(history: History) -> BurnChart:
    """The budget left over ``history``'s span as a line, from 100% at its start, and its
    incidents as bands (their time, clipped to the span) that link to them."""
    span = max(history.end - history.start, 1.0)  # a month to come has none yet

    def x(at: float) -> float:
        return min(max((at - history.start) / span, 0.0), 1.0) * CHART_WIDTH

    low = min(0.0, min((p.remaining for p in history.points), default=0.0))
    line = [(0.0, chart_y(1.0, low))]
    line += [(x(p.at), chart_y(p.remaining, low)) for p in history.points if p.at > history.start]
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
    steps = 4 if low == 0 else 5
    shares = [1 - k * (1 - low) / steps for k in range(steps + 1)]
    yticks = [(chart_y(share, low), share_text(share, 0)) for share in shares]
    days = max(1, round(span / 86400 / 6))
    xticks = []
    at = history.start - history.start % 86400 + 86400
    while at < history.end:
        moment = dt.datetime.fromtimestamp(at, dt.UTC)
        xticks.append((x(at), moment.strftime("%b %d")))
        at += days * 86400
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "low": low,
        "path": " ".join(f"{px:.1f},{py:.1f}" for px, py in line),
        "end": line[-1] if history.points else None,
        "remaining": history.remaining,
        "yticks": yticks,
        "xticks": xticks,
        "bands": bands,
        "label": f"error budget left from {_day(history.start)} to {_day(history.end)}: "
        f"{share_text(history.remaining, 1)}",
    }


def _histories(snap: Snapshot, config: MonitorConfig, names: Sequence[str]) -> list[History]:
    by_name = {o.name: o for o in config.objectives}
    return [
        objective_history(snap.store, config, by_name[n], snap.now - by_name[n].window, snap.now)
        for n in names
    ]


def objectives_page(histories: Sequence[History], now: float, banner: Markup) -> Page:
    """``/objectives``: each objective's SLI, target and budget left over its window."""
    rows = [
        {
            "name": h.name,
            "path": objective_path(h.name),
            "sli": share_text(h.sli),
            "target": share_text(h.target),
            "window": format_duration(h.end - h.start),
            "remaining": share_text(h.remaining, 1),
            "overspent": h.remaining < 0,
            "monitors": len(h.monitors),
        }
        for h in histories
    ]
    main = render("objectives.html", banner=banner, rows=rows)
    # Not refreshed (no path): the figures move by the hour, and each build reads every
    # objective's window of hour roll-ups.
    return Page("Objectives", None, iso(now), main)


def objective_page(history: History, now: float, banner: Markup) -> Page:
    """``/objectives/NAME``: the burn-down chart and the incidents marked on it."""
    main = render(
        "objective.html",
        banner=banner,
        h=history,
        chart=burn_chart(history),
        sli=share_text(history.sli),
        target=share_text(history.target),
        remaining=share_text(history.remaining, 1),
        window=format_duration(history.end - history.start),
        href=incident_href,
        iso=iso,
        lasted=lambda m: human_duration(m.duration(history.end)),
    )
    return Page(history.name, None, iso(now), main)


def _missing_page(name: str, now: float, banner: Markup) -> Page:
    main = render("objective_not_found.html", banner=banner, name=repr(name))
    return Page("Not found", None, iso(now), main, status=404)


class ObjectiveHandlers:
    """The handlers of ``/objectives`` and ``/objectives/NAME``: built on a worker thread,
    as the dashboard's other pages (:meth:`DashboardHandlers.send`)."""

    def __init__(self, runner: Running, board: DashboardHandlers) -> None:
        self.runner = runner
        self.board = board

    async def listing(self, request: web.Request) -> web.Response:
        config = self.runner.config
        names = [o.name for o in config.objectives]
        return await self.board.send(
            request,
            lambda snap, banner: objectives_page(_histories(snap, config, names), snap.now, banner),
            (),
        )

    async def page(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        config = self.runner.config

        def built(snap: Snapshot, banner: Markup) -> Page:
            if not any(o.name == name for o in config.objectives):
                return _missing_page(name, snap.now, banner)
            return objective_page(_histories(snap, config, [name])[0], snap.now, banner)

        return await self.board.send(request, built, ())


def objective_handlers(runner: Running, board: DashboardHandlers) -> ObjectiveHandlers:
    """The objectives' page handlers, sharing the dashboard's (``board``) page building."""
    return ObjectiveHandlers(runner, board)
