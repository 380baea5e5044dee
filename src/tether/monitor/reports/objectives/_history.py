"""An objective's history read from the store: its SLI and error budget hour by hour over
any span (a calendar month for the monthly report), so the report survives restarts and
reaches back as far as the hour roll-ups do (a year by default).  Each hour is what the
store holds of the objective's monitors in it, judged as the running monitor judges what
it reads back at start (``objectives/_store.py``: one judgement for both).

The burn-down (:func:`burn_down`) spends the span's budget, the allowed share of all the
span's events, step by step: ``remaining = 1 - bad so far / (allowed share x total)``.
It starts where the data starts (an hour before the objective's first check is no
budget kept), at 1, never rises, and ends at the budget left over the span; below 0 once
overspent.  With too few events for a budget (fewer than one bad event allowed) there is
no budget to speak of: :attr:`History.little_data` says so.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from tether._redact import redact_text
from tether.monitor.engine.objectives._budget import from_config, little_data, needed
from tether.monitor.reports.objectives._store import Exclusions, bucket_counts

if TYPE_CHECKING:
    from tether.monitor.config import MonitorConfig
    from tether.monitor.config._objectives import ObjectiveConfig
    from tether.monitor.engine.objectives._budget import ObjectiveStatus
    from tether.monitor.store import Store
    from tether.monitor.store._base import Listed

__all__ = [
    "STEP",
    "History",
    "HistoryStep",
    "Mark",
    "Point",
    "burn_down",
    "incident_marks",
    "live_history",
    "objective_history",
    "steps_from",
]

STEP: Final = 3600.0
"""The width of a step: the store's hour roll-ups."""
INCIDENTS_READ: Final = 500
"""The most incidents read per monitor for a span (newest first)."""
MAX_STEPS: Final = 720
"""The most steps a burn-down drawn from the running monitor's buckets has (the chart's
width in pixels): more buckets are merged, a few at a time."""
ONE_BY_ONE: Final = 50
"""Up to this many monitors, each one's incidents are read on their own."""
MANY_READ: Final = 2000
"""The most incidents read for an objective of more monitors (newest first)."""


@dataclass(frozen=True, slots=True)
class HistoryStep:
    """The good and counted events of one step starting at ``start``."""

    start: float
    good: int
    total: int

    @property
    def bad(self) -> int:
        return self.total - self.good


@dataclass(frozen=True, slots=True)
class Point:
    """The objective at the end of a step: the events so far and the budget left."""

    at: float
    """The end of the step."""
    good: int
    total: int
    remaining: float
    """The share of the span's budget left (1: untouched, below 0: overspent)."""


@dataclass(frozen=True, slots=True)
class Mark:
    """An incident of the objective's monitors, as the chart and the report mark it."""

    id: int
    kind: str | None
    """Its cause's kind (None: conditions not met)."""
    detail: str
    opened: float
    resolved: float | None
    monitors: tuple[str, ...]
    """Its monitors among the objective's."""

    def duration(self, until: float) -> float:
        """How long it lasted, or has lasted by ``until`` while open."""
        return (until if self.resolved is None else self.resolved) - self.opened


@dataclass(frozen=True, slots=True)
class History:
    """One objective over ``[start, end)``."""

    name: str
    target: float
    sli_kind: str
    start: float
    end: float
    monitors: tuple[str, ...]
    points: tuple[Point, ...]
    incidents: tuple[Mark, ...]
    step: float = STEP
    """The width of each point's step."""

    @property
    def good(self) -> int:
        return self.points[-1].good if self.points else 0

    @property
    def total(self) -> int:
        return self.points[-1].total if self.points else 0

    @property
    def sli(self) -> float | None:
        """Good over counted events; None without any."""
        return self.good / self.total if self.total else None

    @property
    def remaining(self) -> float:
        """The share of the budget left at the end (1 without failures)."""
        return self.points[-1].remaining if self.points else 1.0

    @property
    def spent(self) -> float:
        """The share of the budget spent (above 1 when overspent)."""
        return 1.0 - self.remaining

    @property
    def approximated(self) -> bool:
        """Whether the counts are estimated from hourly latency (a latency objective)."""
        return self.sli_kind == "latency"

    @property
    def since(self) -> float | None:
        """Where the data starts: the start of its first hour with an event (None
        without any)."""
        return self.points[0].at - self.step if self.points else None

    @property
    def allowed(self) -> float:
        """How many of the span's events may be bad."""
        return (1.0 - self.target) * self.total

    @property
    def little_data(self) -> bool:
        """Too few events for the budget to mean anything (engine ``little_data``)."""
        return little_data(self.allowed)

    @property
    def needed(self) -> int:
        """How many events the span must hold for its budget (engine ``needed``)."""
        return needed(self.target)


# -- the pure core ----------------------------------------------------------------------


def steps_from(counts: Mapping[int, tuple[int, int]], first: int, last: int) -> list[HistoryStep]:
    """The hours ``first`` to ``last`` (indexes: ``floor(start / STEP)``) as steps, from
    the first with an event: the span before the data starts is no budget kept."""
    begin = min((i for i in counts if first <= i <= last), default=None)
    if begin is None:
        return []
    return [HistoryStep(i * STEP, *counts.get(i, (0, 0))) for i in range(begin, last + 1)]


def burn_down(steps: Sequence[HistoryStep], target: float, width: float = STEP) -> list[Point]:
    """The budget left after each step of ``width`` seconds, out of the budget of all
    ``steps``' events (module docstring): starts at 1, never rises."""
    allowed = (1.0 - target) * sum(s.total for s in steps)
    points = []
    good = total = 0
    for step in steps:
        good += step.good
        total += step.total
        bad = total - good
        remaining = 1.0 - bad / allowed if allowed > 0 else 1.0
        points.append(Point(step.start + width, good, total, remaining))
    return points


# -- what the store knows ------------------------------------------------------------------


def incident_marks(
    store: Store, monitors: Collection[str], start: float, end: float
) -> tuple[Mark, ...]:
    """The incidents of ``monitors`` open at some moment of ``[start, end)``, oldest first.
    Up to :data:`ONE_BY_ONE` monitors, each one's newest :data:`INCIDENTS_READ`; more
    (an objective over thousands), the newest :data:`MANY_READ` incidents of any monitor
    in one read, naming only these monitors: a read per monitor would be thousands."""
    among = set(monitors)
    found: list[tuple[Listed, str | None]]
    if len(among) <= ONE_BY_ONE:
        found = [
            (listed, monitor)
            for monitor in monitors
            for listed in store.incident_list(monitor=monitor, limit=INCIDENTS_READ, shown=(50, 1))
        ]
    else:
        found = [
            (listed, None)
            for listed in store.incident_list(limit=MANY_READ, shown=(50, 1), among=among)
        ]
    marks: dict[int, Mark] = {}
    for listed, monitor in found:
        i = listed.incident
        if i.opened >= end or (i.resolved is not None and i.resolved < start):
            continue
        if i.folded_into is not None:  # its members moved to the one it folded into
            continue
        named = tuple(m for m in i.monitors if m in among) or ((monitor,) if monitor else ())
        if not named:
            continue  # of other monitors
        kind = None if i.kind is None else i.kind.value
        marks.setdefault(i.id, Mark(i.id, kind, redact_text(i.detail), i.opened, i.resolved, named))
    return tuple(sorted(marks.values(), key=lambda m: (m.opened, m.id)))


def live_history(
    objective: ObjectiveConfig,
    status: ObjectiveStatus,
    steps: Sequence[tuple[float, int, int]],
    width: float,
    monitors: tuple[str, ...],
    incidents: tuple[Mark, ...] = (),
) -> History:
    """The running monitor's figure of ``objective`` (its ``status`` at the last
    evaluation) as a history over its window: the ledger's buckets (``steps``: start,
    good, total; ``width`` seconds each) as read at that moment, the newest one made to
    hold what the status counted (checks taken since went into it), so the burn-down ends
    exactly where the figure stands."""
    good = sum(g for _, g, _ in steps)
    total = sum(t for _, _, t in steps)
    counted = list(steps)
    if counted:
        start, g, t = counted[-1]
        g, t = g + status.counts.good - good, t + status.counts.total - total
        counted[-1] = (start, max(0, min(g, t)), max(0, t))
    begin = next((i for i, (_, _, t) in enumerate(counted) if t), len(counted))
    kept = [HistoryStep(a, g, t) for a, g, t in counted[begin:]]
    # A year of hours is 8,760 steps for a chart 720 wide: consecutive ones merged.
    k = max(1, math.ceil(len(kept) / MAX_STEPS))
    if k > 1:
        kept = [
            HistoryStep(group[0].start, sum(s.good for s in group), sum(s.total for s in group))
            for group in (kept[i : i + k] for i in range(0, len(kept), k))
        ]
        width *= k
    return History(
        objective.name,
        objective.share,
        objective.sli,
        status.at - objective.window,
        status.at,
        monitors,
        tuple(burn_down(kept, objective.share, width)),
        incidents,
        width,
    )


def objective_history(
    store: Store, config: MonitorConfig, objective: ObjectiveConfig, start: float, end: float
) -> History:
    """``objective`` over ``[start, end)`` from ``store``'s hour roll-ups, state changes,
    maintenance windows and incidents (module docstring)."""
    monitors = objective.selected(config.monitors)
    first, last = math.floor(start / STEP), math.ceil(end / STEP) - 1
    exclusions = Exclusions.read(store, config, monitors, first * STEP)
    sli = from_config(objective).sli
    counts = bucket_counts(store, sli, monitors, STEP, first, last, exclusions)
    steps = steps_from(counts, first, last)
    return History(
        objective.name,
        objective.share,
        objective.sli,
        start,
        end,
        monitors,
        tuple(burn_down(steps, objective.share)),
        incident_marks(store, monitors, start, end),
    )
