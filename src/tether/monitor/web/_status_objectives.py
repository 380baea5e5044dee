"""The objectives a status page lists (``objectives:`` on the page): each one's SLI over
its window, its target and the share of its error budget left, read from the store
(``reports/_objective_history.py``).  Nothing of its monitors: not their names, not
their incidents (the page's own monitors tell those)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from tether._durations import format_duration
from tether.monitor.reports._objective_history import objective_history

if TYPE_CHECKING:
    from tether.monitor.config import MonitorConfig
    from tether.monitor.config._models import StatusPage
    from tether.monitor.store import Store

__all__ = ["PageObjective", "page_objectives"]


class PageObjective(TypedDict):
    """One objective as a status page shows it (shares between 0 and 1)."""

    name: str
    sli: float | None
    """Good over counted checks over the window; None without any."""
    target: float
    window: str
    budget_left: float
    """1: untouched; below 0: overspent."""


def page_objectives(
    store: Store, config: MonitorConfig, page: StatusPage, now: float
) -> list[PageObjective]:
    """The objectives ``page`` lists, in its order, each over its window up to ``now``."""
    by_name = {o.name: o for o in config.objectives}
    out: list[PageObjective] = []
    for name in page.objectives:
        objective = by_name.get(name)
        if objective is None:  # refused with the file; a page never fails for it
            continue
        h = objective_history(store, config, objective, now - objective.window, now)
        out.append(
            {
                "name": name,
                "sli": h.sli,
                "target": h.target,
                "window": format_duration(objective.window),
                "budget_left": round(h.remaining, 6),
            }
        )
    return out
