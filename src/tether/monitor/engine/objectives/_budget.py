"""Objectives and error budgets, the pure core: good and total events counted in time
buckets, the SLI, the error budget and how fast it burns, and the Google SRE Workbook's
multi-window, multi-burn-rate alerts.  No clock, no I/O: every event carries its time,
and every question is asked at a ``now`` the caller passes.

The maths (the Workbook, chapter 5 "Alerting on SLOs"):

- SLI = good / total over a window; the error budget is ``1 - target`` (0.1% of events
  for a 99.9% objective);
- burn rate over a window = (bad / total) / (1 - target): 1 spends the budget exactly
  over the objective's window, 14.4 spends a 30-day budget in 50 hours;
- budget spent = the burn rate over the objective's whole window (a share of the budget;
  above 1 when overspent), budget remaining = 1 - spent (never above 1, negative once
  overspent).  A window without events spends nothing;
- an alert rule (severity, burn, long window, short window) fires when the burn rate is
  at least ``burn`` over both windows, and ends once the short window falls below it:
  the long window makes the alert significant, the short one makes it end soon after
  the trouble does.  The defaults are the Workbook's recommended table
  (:data:`DEFAULT_RULES`): page at 14.4 over 1 h and 5 min (2% of a 30-day budget), page
  at 6 over 6 h and 30 min (5%), ticket at 1 over 3 d and 6 h (10%).

Counting: a window's counts cost O(buckets), not O(events).  Each window length ``L`` is
read from buckets of the widest width on the ladder 1 s, 10 s, 1 min, 10 min, 1 h that is
at most ``L / 30``; one ring of buckets per width the objective needs, each as long as
the longest window it serves.  A window's count takes whole buckets, the one its start
falls in included, so it holds every event of ``(now - L, now]`` and at most the events
of one more bucket before it: an error of at most 1/30 of the window's length (3.3%)
under a steady rate, and far less for most windows.  With the defaults and a 30-day
objective: 5 min on 10 s buckets (3.3%), 30 min and 1 h on 1 min (3.3%, 1.7%), 6 h on
10 min (2.8%), 3 d and 30 d on 1 h (1.4%, 0.14%), in 32 + 62 + 38 + 722 = 854 buckets.
A 1-year objective needs 8,762 hour buckets; its short windows stay as exact.

The buckets are a cache of the store (docs/objectives.md, "After a restart"): a ledger is
filled with what the store holds (:meth:`BudgetLedger.load`, a bucket's counts at a time; -1 to
take a monitor's share away again), read again from a moment on (:meth:`BudgetLedger.clear`),
and gives the buckets behind its window's figure (:meth:`BudgetLedger.steps`) for a burn-down
drawn from the same counts.  A window with too few events for a budget, less than one
bad event allowed, says so (:func:`little_data`): one failure would otherwise read as
thousands of percent of it spent; and no rule fires then, nor on a window under the rule's
minimum count (:func:`needed`, :func:`rule_minimum`): nothing pages on too little data.
The rules that fire are kept with when they fired
(:attr:`BudgetLedger.firing`), so that they can be written down and read back.

What is counted is decided here too (docs/objectives.md): an ``availability`` event is
good when its check or call passed, bad when it failed with a kind that counts (all of
them by default), and not counted when it failed with another kind; a ``latency`` event
is good when it passed in less than ``below``, bad otherwise (a failure is not a fast
answer).  Events during a pause or a maintenance window are never counted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, NamedTuple

from tether._durations import format_duration
from tether.monitor.config._objectives import ObjectiveConfig

__all__ = [
    "CONDITION",
    "DEFAULT_RULES",
    "LADDER",
    "RESOLUTION",
    "AlertEvent",
    "AvailabilitySLI",
    "BudgetLedger",
    "BurnRule",
    "Counts",
    "LatencySLI",
    "Objective",
    "ObjectiveStatus",
    "Sample",
    "bucket_width",
    "budget_consumed",
    "budget_spent",
    "burn_rate",
    "detection_time",
    "error_budget",
    "from_config",
    "is_good",
    "little_data",
    "needed",
    "reaches",
    "rule_minimum",
]

LADDER: Final = (1.0, 10.0, 60.0, 600.0, 3600.0)
"""The bucket widths a window may be read from, in seconds."""
RESOLUTION: Final = 30
"""A window is read from buckets at most 1/30 of its length."""

Severity = Literal["page", "ticket"]
CONDITION: Final = "condition"
"""What ``kinds`` calls a failed condition (a check whose probe went through and whose
conditions did not hold: it has no failure kind)."""


def error_budget(target: float) -> float:
    """The share of events that may be bad: ``1 - target``."""
    return 1.0 - target


def burn_rate(good: int, total: int, target: float) -> float:
    """How fast the budget burns over a window of ``good`` of ``total`` events: the share
    of bad ones over the share allowed (0 without events)."""
    if total <= 0:
        return 0.0
    return ((total - good) / total) / error_budget(target)


def budget_spent(good: int, total: int, target: float) -> float:
    """The share of the budget spent, given the counts over the objective's whole
    window: the burn rate over it (above 1 when overspent)."""
    return burn_rate(good, total, target)


def budget_consumed(burn: float, long: float, window: float) -> float:
    """The share of a ``window``'s budget spent by burning at ``burn`` for ``long``
    seconds, the least an alert of that rule reports (the Workbook's "budget consumed")."""
    return burn * long / window


def detection_time(burn: float, long: float, target: float, error_rate: float = 1.0) -> float:
    """Seconds until a rule of ``burn`` over ``long`` fires after events start failing at
    ``error_rate`` (1: a total outage) after a clean history; ``math.inf`` when that rate
    never reaches it (the Workbook's "time to detect")."""
    if not reaches(error_rate / error_budget(target), burn):
        return math.inf
    return long * burn * error_budget(target) / error_rate


def reaches(burn: float, threshold: float) -> bool:
    """Whether ``burn`` is at least ``threshold``, a rounding error below it included
    (``1 - 0.999`` is not exactly 0.001 in floating point)."""
    return burn >= threshold * (1 - 1e-9)


def bucket_width(length: float) -> float:
    """The width of the buckets a window of ``length`` seconds is read from."""
    return max((w for w in LADDER if w * RESOLUTION <= length), default=LADDER[0])


@dataclass(frozen=True, slots=True)
class BurnRule:
    """Alert at ``severity`` while the budget burns at ``burn`` or faster over both
    ``long`` and ``short`` seconds."""

    severity: Severity
    burn: float
    long: float
    short: float

    def __repr__(self) -> str:
        return (
            f"<BurnRule {self.severity} {self.burn:g}x "
            f"{format_duration(self.long)}/{format_duration(self.short)}>"
        )


DEFAULT_RULES: Final = (
    BurnRule("page", 14.4, 3600.0, 300.0),
    BurnRule("page", 6.0, 6 * 3600.0, 1800.0),
    BurnRule("ticket", 1.0, 3 * 86400.0, 6 * 3600.0),
)
"""The SRE Workbook's recommended rules for a 99.9% objective over 30 days."""


@dataclass(frozen=True, slots=True)
class AvailabilitySLI:
    """Good when the check or call passed.  A failure counts against the objective when
    its kind is in ``kinds`` (a kind, ``connect.refused``, a family, ``connect``, or
    ``condition`` for a failed condition, which has no kind); ``None``: every kind.  A
    failure of another kind is not counted at all."""

    kinds: frozenset[str] | None = None

    def counts(self, kind: str | None) -> bool:
        """Whether a failure of ``kind`` (None: a failed condition) counts against the
        objective."""
        if self.kinds is None:
            return True
        if kind is None:
            return CONDITION in self.kinds
        return kind in self.kinds or kind.partition(".")[0] in self.kinds


@dataclass(frozen=True, slots=True)
class LatencySLI:
    """Good when the check or call passed in less than ``below_ms``; bad otherwise."""

    below_ms: float


class Sample(NamedTuple):
    """One check or call, as an objective sees it."""

    at: float
    """Unix seconds."""
    passed: bool
    kind: str | None = None
    """The failure kind's value when it failed (None for a failed condition)."""
    ms: float | None = None
    """How long it took."""
    excluded: bool = False
    """During a pause or a maintenance window: not counted."""


def is_good(sli: AvailabilitySLI | LatencySLI, sample: Sample) -> bool | None:
    """Whether ``sample`` is a good event for ``sli``; None when it is not counted."""
    if sample.excluded:
        return None
    if isinstance(sli, LatencySLI):
        return sample.passed and sample.ms is not None and sample.ms < sli.below_ms
    if sample.passed:
        return True
    return False if sli.counts(sample.kind) else None


@dataclass(frozen=True, slots=True)
class Objective:
    """A share of good events (``target``, between 0 and 1) over a rolling ``window`` of
    seconds, and the rules that alert on its burn rate."""

    target: float
    window: float
    sli: AvailabilitySLI | LatencySLI = field(default_factory=AvailabilitySLI)
    rules: tuple[BurnRule, ...] = DEFAULT_RULES

    def __post_init__(self) -> None:
        if not 0 < self.target < 1:
            raise ValueError(f"target: must be between 0 and 1, not {self.target!r}")
        if self.window <= 0:
            raise ValueError(f"window: must be above 0 s, not {self.window!r}")
        for rule in self.rules:
            if not 0 < rule.short < rule.long <= self.window:
                raise ValueError(f"{rule!r}: needs 0 < short < long <= window")

    def lengths(self) -> tuple[float, ...]:
        """Every window length this objective reads: its own and its rules'."""
        found = {self.window}
        for rule in self.rules:
            found |= {rule.long, rule.short}
        return tuple(sorted(found))


def from_config(config: ObjectiveConfig) -> Objective:
    """The engine's objective for one of the file's ``objectives:``."""
    sli: AvailabilitySLI | LatencySLI
    if config.sli == "latency":
        assert config.below is not None  # checked with the file
        sli = LatencySLI(below_ms=config.below * 1000)
    else:
        sli = AvailabilitySLI(frozenset(config.kinds) if config.kinds else None)
    rules = tuple(BurnRule(r.severity, r.burn, r.long, r.short) for r in config.burn_rates)
    return Objective(config.share, config.window, sli, rules)


class Counts(NamedTuple):
    """Good and total events over a window."""

    good: int
    total: int

    @property
    def bad(self) -> int:
        return self.total - self.good


class _Ring:
    """Buckets of ``width`` seconds, the last ``size`` of them; each slot remembers which
    bucket it holds, so a slot left from an older lap reads as empty."""

    __slots__ = ("good", "index", "size", "total", "width")

    def __init__(self, width: float, size: int) -> None:
        self.width, self.size = width, size
        self.index = [-1] * size
        self.good = [0] * size
        self.total = [0] * size

    def add(self, at: float, good: int, total: int) -> None:
        i = math.floor(at / self.width)
        slot = i % self.size
        if self.index[slot] > i:
            return  # older than the ring holds
        if self.index[slot] != i:
            self.index[slot], self.good[slot], self.total[slot] = i, 0, 0
        self.good[slot] += good
        self.total[slot] += total

    def count(self, length: float, now: float) -> Counts:
        last = math.floor(now / self.width)
        first = math.floor((now - length) / self.width)
        good = total = 0
        for i in range(max(first, last - self.size + 1), last + 1):
            slot = i % self.size
            if self.index[slot] == i:
                good += self.good[slot]
                total += self.total[slot]
        return Counts(good, total)

    def load(self, counts: Mapping[int, tuple[int, int]], sign: int) -> None:
        """Add (``sign`` 1) or take away (-1, never below none) ``counts`` of bucket
        indexes; a bucket older than the ring holds is left out."""
        newest = max(self.index)
        for i, (good, total) in counts.items():
            slot = i % self.size
            if self.index[slot] > i or i <= newest - self.size:
                continue  # older than the ring holds
            if self.index[slot] != i:
                self.index[slot], self.good[slot], self.total[slot] = i, 0, 0
            if sign > 0:
                self.good[slot] += good
                self.total[slot] += total
            else:
                self.good[slot] = max(0, self.good[slot] - good)
                self.total[slot] = max(self.good[slot], self.total[slot] - total)

    def clear(self, first: int) -> None:
        """Empty every bucket from index ``first`` on."""
        for slot, i in enumerate(self.index):
            if i >= first:
                self.good[slot] = self.total[slot] = 0

    def buckets(self, length: float, now: float) -> list[tuple[int, int, int]]:
        """(index, good, total) of each bucket a window of ``length`` before ``now`` reads,
        oldest first, empty ones included."""
        last = math.floor(now / self.width)
        first = math.floor((now - length) / self.width)
        out = []
        for i in range(max(first, last - self.size + 1), last + 1):
            slot = i % self.size
            held = self.index[slot] == i
            out.append((i, self.good[slot] if held else 0, self.total[slot] if held else 0))
        return out


def little_data(allowed: float) -> bool:
    """Whether a budget of ``allowed`` bad events (the allowed share of the events
    counted) is too little to speak of: less than one event, so that a single bad one
    spends it many times over (a 99.9% objective needs 1,000 events before one may fail
    within its budget).  Its figures then say so rather than -63,000%."""
    return allowed < 1 - 1e-9


def needed(target: float) -> int:
    """How many events a budget of ``target`` needs before one bad event fits in it: the
    fewest whose allowed share is one event (1,000 at 99.9%, 100 at 99%)."""
    budget = error_budget(target)
    n = max(1, math.floor(1 / budget))
    while little_data(budget * n):
        n += 1
    while n > 1 and not little_data(budget * (n - 1)):
        n -= 1
    return n


def rule_minimum(rule: BurnRule, target: float) -> int:
    """The fewest events a window of ``rule`` must hold for one bad event among them to
    stay under the rule's burn rate (70 for 14.4x at 99.9%, 1,001 for 1x).  A window
    with fewer is judged as if it held this many (:meth:`BudgetLedger.evaluate`): a
    single failed check then fires no rule, and two or more in a thin window still can."""
    budget = error_budget(target)
    n = max(1, math.floor(1 / (rule.burn * budget)))
    while reaches(1 / (n * budget), rule.burn):
        n += 1
    while n > 1 and not reaches(1 / ((n - 1) * budget), rule.burn):
        n -= 1
    return n


@dataclass(frozen=True, slots=True)
class ObjectiveStatus:
    """An objective at one moment: the figure every page, the API, ``/metrics`` and the
    alerts give (computed once, at each evaluation)."""

    at: float
    sli: float | None
    """Good over total across the window; None without events."""
    counts: Counts
    spent: float
    """The share of the window's budget spent (above 1 when overspent)."""
    burn: dict[float, float]
    """The burn rate over each window length the objective reads."""
    allowed: float = math.inf
    """How many of the window's events may be bad: ``(1 - target) x total``."""
    since: float | None = None
    """Where the window's data starts: the start of its oldest bucket with an event
    (None without events)."""
    totals: dict[float, int] = field(default_factory=dict)
    """The events counted over each window length the objective reads."""
    needed: int = 0
    """How many events the window must hold for its budget to allow one bad event
    (:func:`needed`); 0: not known."""

    @property
    def remaining(self) -> float:
        """The share of the budget left: 1 - spent, never above 1, below 0 when overspent."""
        return 1.0 - self.spent

    @property
    def little_data(self) -> bool:
        """Too few events for the budget to mean anything (:func:`little_data`)."""
        return little_data(self.allowed)


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """A burn-rate alert that fired or ended."""

    type: Literal["fired", "ended"]
    rule: BurnRule
    at: float
    long_burn: float
    short_burn: float
    spent: float
    remaining: float
    since: float | None = None
    """When the rule fired (``at`` for a rule that fires now)."""
    little_data: bool = False
    """The window holds too few events for a budget (:func:`little_data`)."""

    @property
    def severity(self) -> Severity:
        return self.rule.severity


class BudgetLedger:
    """One objective's counts and alerts: the state the caller owns and feeds.

    ``add`` a sample (or ``record`` counts), ask for the ``status`` at a moment, and
    ``evaluate`` the rules at a moment for the alerts that fired or ended since the last
    evaluation.  Events older than the longest window are dropped."""

    def __init__(self, objective: Objective) -> None:
        self.objective = objective
        longest: dict[float, float] = {}
        for length in objective.lengths():
            width = bucket_width(length)
            longest[width] = max(longest.get(width, 0.0), length)
        # +2: the bucket a window starts in, and the one it ends in.
        self._rings = {w: _Ring(w, math.ceil(n / w) + 2) for w, n in sorted(longest.items())}
        self.firing: dict[BurnRule, float] = {}
        """Each rule that fires, and since when."""

    @property
    def buckets(self) -> int:
        """How many buckets this ledger keeps in all."""
        return sum(r.size for r in self._rings.values())

    def add(self, sample: Sample) -> bool | None:
        """Count ``sample``; whether it was good (None: not counted)."""
        good = is_good(self.objective.sli, sample)
        if good is not None:
            self.record(sample.at, good=int(good), total=1)
        return good

    def add_all(self, samples: Iterable[Sample]) -> None:
        for sample in samples:
            self.add(sample)

    def record(self, at: float, *, good: int, total: int) -> None:
        """Count ``good`` of ``total`` events at ``at`` (already judged: a traffic
        monitor's calls of one second, or a roll-up)."""
        if not 0 <= good <= total:
            raise ValueError(f"good must be 0 to total, not {good} of {total}")
        for ring in self._rings.values():
            ring.add(at, good, total)

    @property
    def widths(self) -> dict[float, int]:
        """Each bucket width this ledger keeps, and how many buckets of it: a seed from
        the store fills the last that many up to now."""
        return {w: ring.size for w, ring in self._rings.items()}

    def _ring(self, length: float) -> _Ring:
        width = bucket_width(length)
        ring = self._rings.get(width)
        if ring is None or (ring.size - 2) * width < length:
            # Not a length the objective reads: the finest ring that holds it.
            ring = min(
                (r for r in self._rings.values() if (r.size - 2) * r.width >= length),
                key=lambda r: r.width,
                default=self._rings[max(self._rings)],
            )
        return ring

    def count(self, length: float, now: float) -> Counts:
        """The events of the last ``length`` seconds before ``now`` (one of the
        objective's lengths, or any within its longest), from the buckets of its width:
        all of ``(now - length, now]``, and at most one bucket's worth before it."""
        return self._ring(length).count(length, now)

    def load(self, width: float, counts: Mapping[int, tuple[int, int]], sign: int = 1) -> None:
        """Add to the buckets of ``width`` the (good, total) ``counts`` of their indexes
        (``floor(at / width)``): what the store holds of some monitors; ``sign`` -1 takes
        them away again (a monitor that left), never below none."""
        self._rings[width].load(counts, sign)

    def clear(self, since: float) -> None:
        """Empty every bucket that holds a moment from ``since`` on (to be read again from
        the store)."""
        for ring in self._rings.values():
            ring.clear(math.floor(since / ring.width) if math.isfinite(since) else -1)

    @property
    def window_width(self) -> float:
        """The width of the buckets the objective's own window is read from."""
        return self._ring(self.objective.window).width

    def steps(self, now: float) -> list[tuple[float, int, int]]:
        """(start, good, total) of each bucket the window reads at ``now``, oldest first:
        the counts behind :meth:`status`'s, for a burn-down chart of the same figure."""
        ring = self._ring(self.objective.window)
        return [(i * ring.width, g, t) for i, g, t in ring.buckets(self.objective.window, now)]

    def burn(self, length: float, now: float) -> float:
        good, total = self.count(length, now)
        return burn_rate(good, total, self.objective.target)

    def status(self, now: float) -> ObjectiveStatus:
        objective = self.objective
        counts = self.count(objective.window, now)
        sli = counts.good / counts.total if counts.total else None
        spent = budget_spent(counts.good, counts.total, objective.target)
        burns: dict[float, float] = {}
        totals: dict[float, int] = {}
        for length in objective.lengths():
            good, total = self.count(length, now)
            burns[length] = burn_rate(good, total, objective.target)
            totals[length] = total
        allowed = error_budget(objective.target) * counts.total
        since = self._since(now) if counts.total else None
        return ObjectiveStatus(
            now, sli, counts, spent, burns, allowed, since, totals, needed(objective.target)
        )

    def _since(self, now: float) -> float | None:
        """The start of the window's oldest bucket with an event."""
        ring = self._ring(self.objective.window)
        for i, _, total in ring.buckets(self.objective.window, now):
            if total:
                return i * ring.width
        return None

    def judged(self, rule: BurnRule, length: float, status: ObjectiveStatus) -> float:
        """The burn rate over ``length`` (one of ``rule``'s windows) as the rule judges it
        to fire: a window holding fewer events than :func:`rule_minimum` counts as if it
        held that many, so that one failed check never reaches the rule."""
        burn = status.burn[length]
        total = status.totals.get(length)
        if total is None:
            return burn
        floor = rule_minimum(rule, self.objective.target)
        return burn * total / floor if 0 < total < floor else burn

    def evaluate(self, now: float, status: ObjectiveStatus | None = None) -> list[AlertEvent]:
        """The rules at ``now``: each that starts to hold fires, each firing one whose
        short window burns below its rate ends.  ``status`` is :meth:`status` at ``now``
        when the caller has it already (it costs as much as the rules).

        Nothing fires on too little data: no rule while the objective's window holds
        fewer events than its budget needs (:func:`needed`), and a rule's window under
        its minimum is judged as :meth:`judged` says."""
        status = self.status(now) if status is None else status
        events: list[AlertEvent] = []
        for rule in self.objective.rules:
            long_burn, short_burn = status.burn[rule.long], status.burn[rule.short]
            if rule in self.firing:
                if reaches(short_burn, rule.burn):
                    continue
                since = self.firing.pop(rule)
                kind: Literal["fired", "ended"] = "ended"
            elif (
                not status.little_data
                and reaches(self.judged(rule, rule.long, status), rule.burn)
                and reaches(self.judged(rule, rule.short, status), rule.burn)
            ):
                since = self.firing[rule] = now
                kind = "fired"
            else:
                continue
            events.append(
                AlertEvent(
                    kind,
                    rule,
                    now,
                    long_burn,
                    short_burn,
                    status.spent,
                    status.remaining,
                    since,
                    status.little_data,
                )
            )
        return events
