"""Every objective of a configuration, fed its monitors' checks and calls: the seam the
running monitor will feed (``engine/_objectives.py`` has the maths).  No clock, no I/O:
each check carries its time, and ``evaluate`` is asked at a ``now``.

- A probed or push monitor's checks are its events (``observe``); a traffic monitor's
  are the application's own calls (``observe_calls``), never its verdicts, which would
  count the same calls twice.
- A check during a maintenance window covering its monitor is not counted (the book
  reads the windows from the configuration); one while the monitor is paused is not
  either (the caller says so: pauses are the runner's state, not the file's).
- Beside each objective's counts, the book keeps who spent its budget: the failures that
  counted, by monitor and kind, in hour buckets over the objective's window (sparse: a
  bucket holds only what failed in it), so an alert names the monitors and kinds that
  spent the most.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from tether.monitor._records import ProbeRecord
from tether.monitor.config import MonitorConfig
from tether.monitor.config._objectives import ObjectiveConfig
from tether.monitor.engine._objectives import AlertEvent, Ledger, Sample, Status, from_config
from tether.monitor.engine._traffic import Call

__all__ = ["Book", "ObjectiveAlert", "Spender"]

_SPENT_WIDTH = 3600.0
"""The width of the buckets that keep who spent the budget."""
TOP = 5
"""How many spenders an alert names."""


@dataclass(frozen=True, slots=True)
class Spender:
    """Failures that spent an objective's budget: of one monitor, of one kind (None: a
    failed condition)."""

    monitor: str
    kind: str | None
    bad: int


@dataclass(frozen=True, slots=True)
class ObjectiveAlert:
    """A burn-rate alert of one objective, with where it goes and who spent the budget."""

    objective: str
    event: AlertEvent
    channels: tuple[str, ...]
    spenders: tuple[Spender, ...]


class _Spent:
    """Counted failures by (monitor, kind) in hour buckets over a window."""

    def __init__(self, window: float) -> None:
        self.size = math.ceil(window / _SPENT_WIDTH) + 2
        self.window = window
        self.buckets: dict[int, Counter[tuple[str, str | None]]] = {}

    def add(self, at: float, monitor: str, kind: str | None) -> None:
        i = math.floor(at / _SPENT_WIDTH)
        self.buckets.setdefault(i, Counter())[(monitor, kind)] += 1
        for old in [b for b in self.buckets if b <= i - self.size]:
            del self.buckets[old]

    def top(self, now: float, limit: int = TOP) -> tuple[Spender, ...]:
        first = math.floor((now - self.window) / _SPENT_WIDTH)
        total: Counter[tuple[str, str | None]] = Counter()
        for i, counts in self.buckets.items():
            if first <= i <= math.floor(now / _SPENT_WIDTH):
                total.update(counts)
        ordered = sorted(total.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1] or ""))
        return tuple(Spender(m, k, n) for (m, k), n in ordered[:limit])


class Book:
    """The objectives of ``config``, each with its ledger and who spent its budget."""

    def __init__(self, config: MonitorConfig) -> None:
        self.config = config
        self.objectives: dict[str, ObjectiveConfig] = {o.name: o for o in config.objectives}
        self.ledgers = {name: Ledger(from_config(o)) for name, o in self.objectives.items()}
        self._spent = {name: _Spent(o.window) for name, o in self.objectives.items()}
        self.members: dict[str, list[str]] = {}
        """Each monitor's objectives, by name."""
        self.selected: dict[str, tuple[str, ...]] = {}
        """Each objective's monitors, by name."""
        for name, objective in self.objectives.items():
            self.selected[name] = tuple(objective.selected(config.monitors))
            for monitor in self.selected[name]:
                self.members.setdefault(monitor, []).append(name)
        self._traffic = {m.name for m in config.monitors if m.traffic}

    def _maintained(self, monitor: str, at: float) -> bool:
        return self.config.in_maintenance(monitor, dt.datetime.fromtimestamp(at, dt.UTC))

    def _count(self, monitor: str, sample: Sample) -> None:
        for name in self.members.get(monitor, ()):
            if self.ledgers[name].add(sample) is False:
                self._spent[name].add(sample.at, monitor, sample.kind)

    def observe(self, record: ProbeRecord, *, paused: bool = False) -> None:
        """Count one check of a probed or push monitor (a traffic monitor's checks are
        its verdicts: its calls are counted instead, by :meth:`observe_calls`)."""
        if record.monitor not in self.members or record.monitor in self._traffic:
            return
        excluded = paused or self._maintained(record.monitor, record.ts)
        kind = None if record.kind is None else str(record.kind)
        sample = Sample(record.ts, record.ok, kind, record.latency_ms, excluded)
        self._count(record.monitor, sample)

    def observe_calls(self, monitor: str, calls: Iterable[Call], *, paused: bool = False) -> None:
        """Count a traffic monitor's calls: each a success or a failure of its kind."""
        if monitor not in self.members:
            return
        for call in calls:
            excluded = paused or self._maintained(monitor, call.at)
            self._count(monitor, Sample(call.at, call.kind is None, call.kind, call.ms, excluded))

    def status(self, name: str, now: float) -> Status:
        """The objective ``name`` at ``now`` (KeyError if none)."""
        return self.ledgers[name].status(now)

    def spenders(self, name: str, now: float, limit: int = TOP) -> tuple[Spender, ...]:
        """Who spent the most of ``name``'s budget over its window, most first."""
        return self._spent[name].top(now, limit)

    def evaluate(self, now: float) -> list[ObjectiveAlert]:
        """Every objective's rules at ``now``: the alerts that fired or ended."""
        return self.review(now)[1]

    def review(self, now: float) -> tuple[dict[str, Status], list[ObjectiveAlert]]:
        """Every objective's status at ``now`` and its rules' alerts that fired or ended
        (as :meth:`evaluate`), each status computed once for both."""
        statuses: dict[str, Status] = {}
        out = []
        for name, ledger in self.ledgers.items():
            statuses[name] = status = ledger.status(now)
            for event in ledger.evaluate(now, status):
                channels = self.objectives[name].alerts
                out.append(ObjectiveAlert(name, event, channels, self.spenders(name, now)))
        return statuses, out

    def carry(self, old: Book) -> tuple[str, ...]:
        """Keep ``old``'s counts, spenders and firing rules for each objective whose
        definition and monitors are the same here (a reload); the names kept."""
        kept = []
        for name, objective in self.objectives.items():
            same = old.selected.get(name) == self.selected[name]
            if same and old.objectives.get(name) == objective:
                self.ledgers[name] = old.ledgers[name]
                self._spent[name] = old._spent[name]
                kept.append(name)
        return tuple(kept)
