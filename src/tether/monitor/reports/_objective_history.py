"""An objective's history read from the store: its SLI and error budget hour by hour over
any span (the last window, a calendar month), so the burn-down chart and the monthly
report survive restarts and reach back as far as the roll-ups do (a year by default).

The live core (``engine/_objective_book.py``) counts each check as it comes; here the
store's hour roll-ups are counted instead, one :class:`Step` an hour:

- availability: an hour's passed checks are good, its failures of a kind that counts
  are bad (``kinds``; a failure without a kind is a failed ``condition``), the others are
  not counted, as the live core does;
- latency: the roll-ups keep each hour's least, most and average latency, not every
  check's, so an hour is judged whole: all its passed checks are good when its slowest
  was under ``below``, none when its fastest was not, and otherwise as its average says.
  That is an approximation (docs/objectives.md says so);
- an hour is left out when, at its middle, its monitor was paused (from the stored state
  changes) or in a maintenance window (the file's, or one opened at run time);
- a traffic monitor's stored results are its verdicts, not the application's calls
  (which are not stored): its verdicts are counted.

The burn-down (:func:`burn_down`) spends the span's budget, the allowed share of all the
span's events, step by step: ``remaining = 1 - bad so far / (allowed share x total)``.
It starts at 1, never rises, and ends where the live core's ``remaining`` stands for the
same span (1 - budget spent); below 0 once overspent.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from tether._redact import redact_text
from tether.monitor._state import State
from tether.monitor.engine._objectives import Availability, Latency, from_config

if TYPE_CHECKING:
    from tether.monitor._records import Window
    from tether.monitor.config import MonitorConfig
    from tether.monitor.config._objectives import ObjectiveConfig
    from tether.monitor.store import Rollup, Store

__all__ = [
    "STEP",
    "History",
    "Mark",
    "Point",
    "Step",
    "burn_down",
    "hour_counts",
    "objective_history",
    "steps_of",
]

STEP: Final = 3600.0
"""The width of a step: the store's hour roll-ups."""
INCIDENTS_READ: Final = 500
"""The most incidents read per monitor for a span (newest first)."""


@dataclass(frozen=True, slots=True)
class Step:
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


# -- the pure core ----------------------------------------------------------------------


def hour_counts(rollup: Rollup, sli: Availability | Latency) -> tuple[int, int]:
    """(good, counted) of one hour roll-up for ``sli`` (module docstring)."""
    failed = rollup.count - rollup.ok_count
    if isinstance(sli, Latency):
        low, high, mean = rollup.latency_min, rollup.latency_max, rollup.latency_avg
        if high is not None and high < sli.below_ms:
            good = rollup.ok_count
        elif low is None or low >= sli.below_ms or mean is None:
            good = 0
        else:
            good = rollup.ok_count if mean < sli.below_ms else 0
        return good, rollup.count
    named = sum(rollup.kinds.values())
    bad = sum(n for kind, n in rollup.kinds.items() if sli.counts(kind))
    if failed > named and sli.counts(None):
        bad += failed - named
    return rollup.ok_count, rollup.ok_count + bad


def steps_of(
    hours: Mapping[str, Iterable[Rollup]],
    sli: Availability | Latency,
    start: float,
    end: float,
    excluded: Callable[[str, float], bool] = lambda monitor, at: False,
) -> list[Step]:
    """Every hour of ``[start, end)`` (from the hour ``start`` falls in) as a step, the
    monitors' roll-ups counted in it; an hour a monitor was ``excluded`` at its middle
    leaves that monitor's roll-up out."""
    first = start - start % STEP
    n = max(0, int(-(-(end - first) // STEP)))
    good = [0] * n
    total = [0] * n
    for monitor, rollups in hours.items():
        for rollup in rollups:
            i = int((rollup.start - first) // STEP)
            if not 0 <= i < n or excluded(monitor, rollup.start + STEP / 2):
                continue
            g, t = hour_counts(rollup, sli)
            good[i] += g
            total[i] += t
    return [Step(first + i * STEP, good[i], total[i]) for i in range(n)]


def burn_down(steps: Sequence[Step], target: float) -> list[Point]:
    """The budget left after each step, out of the budget of all ``steps``' events
    (module docstring): starts at 1, never rises."""
    allowed = (1.0 - target) * sum(s.total for s in steps)
    points = []
    good = total = 0
    for step in steps:
        good += step.good
        total += step.total
        bad = total - good
        remaining = 1.0 - bad / allowed if allowed > 0 else 1.0
        points.append(Point(step.start + STEP, good, total, remaining))
    return points


# -- what the store knows ------------------------------------------------------------------


def _exclusions(
    config: MonitorConfig,
    changes: Mapping[str, Sequence[tuple[float, State]]],
    windows: Sequence[Window],
) -> Callable[[str, float], bool]:
    """Whether a monitor was paused or in maintenance at a moment."""
    times = {m: [at for at, _ in rows] for m, rows in changes.items()}

    def excluded(monitor: str, at: float) -> bool:
        rows = changes.get(monitor, ())
        i = bisect.bisect_right(times.get(monitor, []), at) - 1
        if i >= 0 and rows[i][1] is State.PAUSED:
            return True
        if any((not w.monitors or monitor in w.monitors) and w.open_at(at) for w in windows):
            return True
        return config.in_maintenance(monitor, dt.datetime.fromtimestamp(at, dt.UTC))

    return excluded


def incident_marks(
    store: Store, monitors: Collection[str], start: float, end: float
) -> tuple[Mark, ...]:
    """The incidents of ``monitors`` open at some moment of ``[start, end)``, oldest first."""
    found: dict[int, Mark] = {}
    for monitor in monitors:
        for listed in store.incident_list(monitor=monitor, limit=INCIDENTS_READ, shown=(50, 1)):
            i = listed.incident
            if i.opened >= end or (i.resolved is not None and i.resolved < start):
                continue
            if i.folded_into is not None:  # its members moved to the one it folded into
                continue
            named = tuple(m for m in i.monitors if m in monitors) or (monitor,)
            kind = None if i.kind is None else i.kind.value
            detail = redact_text(i.detail)
            found.setdefault(i.id, Mark(i.id, kind, detail, i.opened, i.resolved, named))
    return tuple(sorted(found.values(), key=lambda m: (m.opened, m.id)))


def objective_history(
    store: Store, config: MonitorConfig, objective: ObjectiveConfig, start: float, end: float
) -> History:
    """``objective`` over ``[start, end)`` from ``store``'s hour roll-ups, state changes,
    maintenance windows and incidents (module docstring)."""
    monitors = objective.selected(config.monitors)
    first = start - start % STEP
    hours = store.rollups_of(dict.fromkeys(monitors, first), "hour")
    changes = store.state_changes_of(monitors, first)
    excluded = _exclusions(config, changes, store.windows(limit=1000))
    sli = from_config(objective).sli
    steps = steps_of(hours, sli, start, end, excluded)
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
