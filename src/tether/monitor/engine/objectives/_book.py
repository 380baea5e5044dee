"""Every objective of a configuration, fed its monitors' checks and calls: the seam the
running monitor feeds (``engine/objectives/_budget.py`` has the maths).  No clock, no I/O:
each check carries its time, and ``evaluate`` is asked at a ``now``.

- A probed or push monitor's checks are its events (``observe``); a traffic monitor's
  are the application's own calls (``observe_calls``), never its verdicts, which would
  count the same calls twice.
- A check during a maintenance window covering its monitor is not counted (the book
  reads the windows from the configuration, and :attr:`ObjectiveBook.opened` holds those opened
  at run time, which the running monitor keeps up to date); one while the monitor is
  paused is not either (the caller says so: pauses are the runner's state, not the
  file's).
- Beside each objective's counts, the book keeps who spent its budget: the failures that
  counted, by monitor and kind, in buckets over the objective's window (an hour, or a
  day for a window of 30 days and more; sparse: a bucket holds only what failed in it),
  so an alert names the monitors and kinds that spent the most.
- The book is a cache of the store: the running monitor fills each ledger from what the
  store holds (``reports/objectives/_store.py``) and then counts each check as it is
  stored.  A new configuration (:meth:`ObjectiveBook.take`) keeps each objective's counts,
  spenders and firing rules while its definition stays, whatever its monitors: the
  caller adds the share of those that joined and takes away the share of those that
  left, from the store, so a discovered target that comes or goes moves its own share
  and nothing else.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from tether.monitor._records import ProbeRecord
from tether.monitor.config import MonitorConfig
from tether.monitor.config._objectives import ObjectiveConfig
from tether.monitor.engine._traffic import TrafficCall
from tether.monitor.engine.objectives._budget import (
    AlertEvent,
    BudgetLedger,
    BurnRule,
    ObjectiveStatus,
    Sample,
    from_config,
)

if TYPE_CHECKING:
    from tether.monitor.engine._holds import HoldingWindow

__all__ = [
    "SPENT_WIDTHS",
    "TOP",
    "Dropped",
    "Moved",
    "ObjectiveAlert",
    "ObjectiveBook",
    "Spender",
    "definition",
    "spent_width",
]

TOP = 5
"""How many spenders an alert names."""
HELD_MAX: Final = 100_000
"""The most checks kept aside while the store is read for an objective (a read that
fails is tried again, from a later moment: what it dropped is then in the store)."""
SPENT_WIDTHS: Final = {"hour": 3600.0, "day": 86400.0}
"""The widths of the buckets that keep who spent a budget: the store's roll-up periods,
so that a seed reads them as they are."""


def spent_width(window: float) -> float:
    """The width of the buckets that keep who spent the budget of a ``window``: a day
    from 30 days on (31 of them, read from the store's day roll-ups), an hour below."""
    return SPENT_WIDTHS["day"] if window >= 30 * SPENT_WIDTHS["day"] else SPENT_WIDTHS["hour"]


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


Who = tuple[str, "str | None"]
"""(monitor, kind) of a failure that spent a budget."""


class _Spent:
    """Counted failures by (monitor, kind) in buckets over a window (sparse: a bucket
    holds only what failed in it), and their running total over the buckets kept, so
    that naming the top spenders costs the number of spenders, not buckets times
    spenders (a mass outage of 10,000 monitors over 30 days)."""

    def __init__(self, window: float) -> None:
        self.width = spent_width(window)
        self.window = window
        self.buckets: dict[int, Counter[Who]] = {}
        self.total: Counter[Who] = Counter()

    def add(self, at: float, monitor: str, kind: str | None, n: int = 1) -> None:
        i = math.floor(at / self.width)
        self.buckets.setdefault(i, Counter())[(monitor, kind)] += n
        self.total[(monitor, kind)] += n

    def _expire(self, now: float) -> None:
        """Drop the buckets a window ending at ``now`` no longer reads."""
        first = math.floor((now - self.window) / self.width)
        for old in [b for b in self.buckets if b < first]:
            self.total.subtract(self.buckets.pop(old))
        for who in [who for who, n in self.total.items() if n <= 0]:
            del self.total[who]

    def clear(self, since: float) -> None:
        """Empty the buckets that hold a moment from ``since`` on."""
        first = math.floor(since / self.width) if math.isfinite(since) else None
        for i in [b for b in self.buckets if first is None or b >= first]:
            self.total.subtract(self.buckets.pop(i))
        for who in [who for who, n in self.total.items() if n <= 0]:
            del self.total[who]

    def forget(self, monitor: str) -> None:
        """Take a monitor's failures out (it left the objective)."""
        for counts in self.buckets.values():
            for who in [who for who in counts if who[0] == monitor]:
                del counts[who]
        for who in [who for who in self.total if who[0] == monitor]:
            del self.total[who]

    def top(self, now: float, limit: int = TOP) -> tuple[Spender, ...]:
        self._expire(now)
        ordered = heapq.nsmallest(
            limit, self.total.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1] or "")
        )
        return tuple(Spender(m, k, n) for (m, k), n in ordered)


@dataclass(slots=True)
class _Held:
    """Checks kept from an objective's counts while the store is read for it: of one of
    its monitors, or of all of them."""

    since: float
    samples: list[tuple[str, Sample]] = field(default_factory=list)


def definition(objective: ObjectiveConfig) -> tuple[object, ...]:
    """What an objective counts and how (not its monitors nor its channels): a change of
    it starts its counts afresh, from the store."""
    return (
        objective.sli,
        objective.share,
        objective.below,
        objective.window,
        objective.kinds,
        objective.burn_rates,
    )


@dataclass(frozen=True, slots=True)
class Moved:
    """What a new configuration does to one objective's counts (:meth:`ObjectiveBook.take`)."""

    name: str
    fresh: bool
    """A new ledger, to be read whole from the store (a new objective, or one whose
    definition changed)."""
    added: tuple[str, ...] = ()
    """Monitors that joined a kept ledger: their share is read from the store."""
    removed: tuple[str, ...] = ()
    """Monitors that left a kept ledger: their share is taken away."""


@dataclass(frozen=True, slots=True)
class Dropped:
    """A firing rule that no longer exists (its objective or the rule removed from the
    file): it is resolved to the ``channels`` it was paged to."""

    objective: str
    rule: BurnRule
    since: float
    channels: tuple[str, ...]


class ObjectiveBook:
    """The objectives of ``config``, each with its ledger and who spent its budget."""

    def __init__(self, config: MonitorConfig) -> None:
        self.config = config
        self.objectives: dict[str, ObjectiveConfig] = {o.name: o for o in config.objectives}
        self.ledgers = {name: BudgetLedger(from_config(o)) for name, o in self.objectives.items()}
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
        self._held: dict[str, dict[str | None, _Held]] = {}
        """Each objective's holds, by monitor (``None``: all of its monitors)."""
        self.opened: Sequence[HoldingWindow] = ()
        """The maintenance windows opened at run time (``POST /api/maintenance``)."""

    def _maintained(self, monitor: str, at: float) -> bool:
        when = dt.datetime.fromtimestamp(at, dt.UTC)
        if self.config.in_maintenance(monitor, when):
            return True
        return any(w.covers(monitor) and w.active(when) for w in self.opened)

    def _count(self, monitor: str, sample: Sample) -> None:
        for name in self.members.get(monitor, ()):
            holds = self._held.get(name)
            held = None if holds is None else holds.get(monitor) or holds.get(None)
            if held is not None:
                # Before the read's moment, the read has it; past HELD_MAX the read has
                # failed for long (the store down), and the next one reads them.
                if sample.at >= held.since and len(held.samples) < HELD_MAX:
                    held.samples.append((monitor, sample))
                continue
            self._counted(name, monitor, sample)

    def _counted(self, name: str, monitor: str, sample: Sample) -> None:
        if self.ledgers[name].add(sample) is False:
            self._spent[name].add(sample.at, monitor, sample.kind)

    def hold(self, name: str, since: float, monitors: Collection[str] | None = None) -> None:
        """While the store is read for objective ``name`` up to ``since`` (of ``monitors``,
        or all of its own), keep its checks from its counts: those from ``since`` on
        until :meth:`release`, those before dropped (the read has them).  So the read
        and the live count meet at one moment, and no check counts twice or never.  Held
        again (the read begins, its moment known now), what is kept from before
        ``since`` is dropped.  Each monitor's hold is its own: the read of monitors that
        joined does not release those of another read still under way."""
        holds = self._held.setdefault(name, {})
        for key in (None,) if monitors is None else monitors:
            was = holds.get(key)
            kept = [(m, s) for m, s in was.samples if s.at >= since] if was is not None else []
            holds[key] = _Held(since, kept)

    def release(self, name: str, monitors: Collection[str] | None = None) -> None:
        """Count the checks :meth:`hold` kept of ``monitors`` (or of all of ``name``'s
        monitors): their read has landed."""
        holds = self._held.get(name)
        if holds is None:
            return
        for key in (None,) if monitors is None else monitors:
            held = holds.pop(key, None)
            for monitor, sample in held.samples if held is not None else ():
                self._counted(name, monitor, sample)
        if not holds:
            del self._held[name]

    def observe(self, record: ProbeRecord, *, paused: bool = False) -> None:
        """Count one check of a probed or push monitor (a traffic monitor's checks are
        its verdicts: its calls are counted instead, by :meth:`observe_calls`)."""
        if record.monitor not in self.members or record.monitor in self._traffic:
            return
        excluded = paused or self._maintained(record.monitor, record.ts)
        kind = None if record.kind is None else str(record.kind)
        sample = Sample(record.ts, record.ok, kind, record.latency_ms, excluded)
        self._count(record.monitor, sample)

    def observe_calls(
        self, monitor: str, calls: Iterable[TrafficCall], *, paused: bool = False
    ) -> None:
        """Count a traffic monitor's calls: each a success or a failure of its kind."""
        if monitor not in self.members:
            return
        for call in calls:
            excluded = paused or self._maintained(monitor, call.at)
            self._count(monitor, Sample(call.at, call.kind is None, call.kind, call.ms, excluded))

    def status(self, name: str, now: float) -> ObjectiveStatus:
        """The objective ``name`` at ``now`` (KeyError if none)."""
        return self.ledgers[name].status(now)

    def spenders(self, name: str, now: float, limit: int = TOP) -> tuple[Spender, ...]:
        """Who spent the most of ``name``'s budget over its window, most first."""
        return self._spent[name].top(now, limit)

    def spent(self, name: str, at: float, monitor: str, kind: str | None, n: int) -> None:
        """Count ``n`` failures of ``monitor`` of ``kind`` at ``at`` as spent from ``name``'s
        budget (what the store holds, when the book is seeded from it)."""
        self._spent[name].add(at, monitor, kind, n)

    def clear_spent(self, name: str, since: float) -> None:
        """Forget who spent ``name``'s budget from ``since`` on (to be read again)."""
        self._spent[name].clear(since)

    def evaluate(self, now: float) -> list[ObjectiveAlert]:
        """Every objective's rules at ``now``: the alerts that fired or ended."""
        return self.review(now)[1]

    def review(
        self, now: float, skip: Collection[str] = ()
    ) -> tuple[dict[str, ObjectiveStatus], list[ObjectiveAlert]]:
        """Every objective's status at ``now`` and its rules' alerts that fired or ended
        (as :meth:`evaluate`), each status computed once for both; those of ``skip``
        (not read from the store yet) left out."""
        statuses: dict[str, ObjectiveStatus] = {}
        out = []
        for name, ledger in self.ledgers.items():
            if name in skip:
                continue
            statuses[name] = status = ledger.status(now)
            for event in ledger.evaluate(now, status):
                channels = self.objectives[name].alerts
                out.append(ObjectiveAlert(name, event, channels, self.spenders(name, now)))
        return statuses, out

    def take(self, old: ObjectiveBook) -> tuple[list[Moved], list[Dropped]]:
        """Carry over from ``old`` (the book before a reload, or before the monitor set
        changed) what still holds: the ledger, spenders and firing rules of each
        objective defined as before, whatever its monitors (those that left are taken
        out of its spenders here, and of its counts by the caller, from the store); the
        firing rules of one whose definition changed, on a fresh ledger.  Returns what
        the caller must read from the store (:class:`Moved`) and the firing rules that no
        longer exist, to resolve (:class:`Dropped`)."""
        moved: list[Moved] = []
        dropped: list[Dropped] = []
        for name, objective in self.objectives.items():
            before = old.objectives.get(name)
            if before is None:
                moved.append(Moved(name, True))
                continue
            ledger = old.ledgers[name]
            if definition(before) != definition(objective):
                fresh = self.ledgers[name]
                for rule, since in ledger.firing.items():
                    if rule in fresh.objective.rules:
                        fresh.firing[rule] = since
                    else:
                        dropped.append(Dropped(name, rule, since, before.alerts))
                moved.append(Moved(name, True))
                continue
            self.ledgers[name] = ledger
            self._spent[name] = spent = old._spent[name]
            if name in old._held:
                self._held[name] = old._held[name]
            was, now = set(old.selected[name]), set(self.selected[name])
            added = tuple(m for m in self.selected[name] if m not in was)
            removed = tuple(m for m in old.selected[name] if m not in now)
            for monitor in removed:
                spent.forget(monitor)
            if added or removed:
                moved.append(Moved(name, False, added, removed))
        for name, objective in old.objectives.items():
            if name not in self.objectives:
                ledger = old.ledgers[name]
                for rule, since in ledger.firing.items():
                    dropped.append(Dropped(name, rule, since, objective.alerts))
        return moved, dropped
