"""The objectives a status page lists (``objectives:`` on the page): each one's SLI over
its window, its target and the share of its error budget left, as the running monitor
last evaluated them: the figure ``/api/objectives``, ``/metrics`` and the dashboard's
pages give (``_objective_metrics.figure``), copied on the event loop with the page's
other state.  Nothing of its monitors: not their names, not their incidents (the page's
own monitors tell those)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, TypedDict

from tether._durations import format_duration
from tether.monitor.engine.objectives._budget import needed
from tether.monitor.engine.objectives._words import too_few

if TYPE_CHECKING:
    from tether.monitor.config import MonitorConfig
    from tether.monitor.config._models import StatusPage
    from tether.monitor.engine.objectives._budget import ObjectiveStatus

__all__ = ["PageObjective", "page_objectives"]


class PageObjective(TypedDict):
    """One objective as a status page shows it (shares between 0 and 1)."""

    name: str
    sli: float | None
    """Good over counted checks over the window; None without any."""
    target: float
    window: str
    budget_left: float | None
    """1: untouched; below 0: overspent; None while there are too few checks for a
    budget (``little_data``)."""
    little_data: bool
    """Too few checks yet for a budget to mean anything (a 99.9% objective needs 1,000
    before one may fail within it)."""
    too_few: str | None
    """What the page says where the budget would be while ``little_data``: ``too few
    checks: 3 of 1,000 needed``; None otherwise."""


def page_objectives(
    figures: Mapping[str, ObjectiveStatus], config: MonitorConfig, page: StatusPage
) -> list[PageObjective]:
    """The objectives ``page`` lists, in its order, each as ``figures`` (by name) has it."""
    by_name = {o.name: o for o in config.objectives}
    out: list[PageObjective] = []
    for name in page.objectives:
        objective, status = by_name.get(name), figures.get(name)
        if objective is None or status is None:  # refused with the file; never fails a page
            continue
        out.append(
            {
                "name": name,
                "sli": status.sli,
                "target": objective.share,
                "window": format_duration(objective.window),
                "budget_left": None if status.little_data else round(status.remaining, 6),
                "little_data": status.little_data,
                "too_few": too_few(status.counts.total, needed(objective.share))
                if status.little_data
                else None,
            }
        )
    return out
