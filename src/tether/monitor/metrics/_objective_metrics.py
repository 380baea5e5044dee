"""The objectives' series of ``/metrics`` (docs/objectives.md), read at each scrape from
their statuses at the last evaluation (every 10 s): the one figure the API, the pages and
the status pages give too (:func:`figure`)::

    tether_objective_sli{objective}                      good over total across the window
    tether_objective_error_budget_remaining{objective}   the share of the budget left
    tether_objective_burn_rate{objective, window}        the burn rate over each rule's window

An objective without an event in its window has no ``tether_objective_sli`` sample (its
SLI is not known), and a full budget left; one not evaluated yet (read from the store
still, the first seconds after a start) has no sample at all.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import TYPE_CHECKING, Protocol

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tether._durations import format_duration

if TYPE_CHECKING:
    from tether.monitor.engine.objectives._book import ObjectiveBook
    from tether.monitor.engine.objectives._budget import BurnRule, ObjectiveStatus

__all__ = ["ObjectiveMetrics", "ObjectivesView", "figure", "rule_windows"]


class ObjectivesView(Protocol):
    """The running monitor's objectives, as the web reads them."""

    @property
    def book(self) -> ObjectiveBook: ...
    @property
    def statuses(self) -> Mapping[str, ObjectiveStatus]: ...
    @property
    def since(self) -> Mapping[tuple[str, BurnRule], float]:
        """When each firing rule of each objective fired."""

    @property
    def waiting(self) -> Collection[str]:
        """The objectives whose counts are still being read from the store."""


def figure(view: ObjectivesView, name: str, now: float) -> ObjectiveStatus:
    """Objective ``name`` as last evaluated (KeyError if none): the one figure every
    surface shows.  One not evaluated yet (read from the store still, or the first
    seconds of a run) is evaluated for the answer."""
    found = view.statuses.get(name)
    return found if found is not None else view.book.ledgers[name].status(now)


def rule_windows(book: ObjectiveBook, name: str) -> tuple[float, ...]:
    """The window lengths of objective ``name``'s rules, long and short, shortest first."""
    found: set[float] = set()
    for rule in book.ledgers[name].objective.rules:
        found |= {rule.long, rule.short}
    return tuple(sorted(found))


class ObjectiveMetrics(Collector):
    """The ``tether_objective_*`` families, from ``view``'s last statuses."""

    def __init__(self, view: ObjectivesView) -> None:
        self._view = view

    def collect(self) -> Iterator[Metric]:
        book, statuses = self._view.book, self._view.statuses
        if not book.ledgers:
            return  # no objective: no family, not even its help
        sli = GaugeMetricFamily(
            "tether_objective_sli",
            "Good events over all events across the objective's window (none: no event yet)",
            labels=["objective"],
        )
        remaining = GaugeMetricFamily(
            "tether_objective_error_budget_remaining",
            "The share of the objective's error budget left (below 0 when overspent)",
            labels=["objective"],
        )
        burn = GaugeMetricFamily(
            "tether_objective_burn_rate",
            "How fast the error budget burns over the window (1: spent exactly over the "
            "objective's window)",
            labels=["objective", "window"],
        )
        for name, status in sorted(statuses.items()):
            if name not in book.ledgers:
                continue  # removed by a reload since the evaluation
            if status.sli is not None:
                sli.add_metric([name], status.sli)
            remaining.add_metric([name], status.remaining)
            for length in rule_windows(book, name):
                burn.add_metric([name, format_duration(length)], status.burn[length])
        yield sli
        yield remaining
        yield burn
