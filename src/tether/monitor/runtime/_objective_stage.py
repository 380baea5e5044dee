"""The objectives of the running monitor (docs/objectives.md): a stage of the intake that
counts every check the runner takes, and the traffic intake's calls, into the objectives'
:class:`~tether.monitor.engine.objectives._book.ObjectiveBook`; every :data:`EVALUATE_EVERY`
seconds of the runner's clock, the burn-rate rules evaluated, and the alerts of the rules
that fired or ended queued in the outbox, each committed before it counts as sent.

The store is the objectives' one source of truth, memory its cache (as sloth and Pyrra
read a budget back from Prometheus's TSDB, and Prometheus restores its alerts' state):

- **Counts.** Each objective's ledger is filled from what the store holds of its monitors
  (``reports/objectives/_store.py``) at start, when the objective is new or its
  definition changed, and on taking a cluster's lead; the read runs on a thread, and the
  objective is not evaluated until it lands (the checks taken meanwhile are counted as
  they come).  A change of the monitor set (a reload, a discovered target that comes or
  goes: :meth:`Objectives.configure`) reads only the monitors that joined or left, and
  adds or takes away their share: the others' counts stay.
- **Firing rules.** Which rule of which objective fires, and since when, is kept in the
  store under :data:`STATE_KEY`, written before its alert is queued; a restart, a reload,
  a ``kill -9`` or a cluster's new leader reads it back, so a rule that still fires is
  not paged again and one that ends is resolved once.  The alerts of the last
  :data:`RECENT` seconds are kept with it and queued again at start (the outbox's dedup
  key makes that a no-op for those already queued): a crash between the two commits loses
  none.  A rule removed from the file, or whose objective is, is resolved.
- **A cluster.** No instance takes every check, so none counts them as they come: every
  :data:`EVALUATE_EVERY` seconds the last :data:`REFRESH_BACK` seconds of each objective
  are read again from the store, where every instance's checks are, and the whole
  window every :data:`FULL_EVERY` (what came late): every instance shows the same
  figure, the store's.  Only the leader writes the firing rules and queues alerts, so
  that a cluster pages once; an instance that takes the lead reads them back.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from tether.monitor._records import AlertPayload
from tether.monitor.engine.objectives._book import (
    Dropped,
    Moved,
    ObjectiveAlert,
    ObjectiveBook,
    spent_width,
)
from tether.monitor.engine.objectives._budget import BudgetLedger, ObjectiveStatus
from tether.monitor.engine.objectives._words import (
    dropped_payload,
    objective_dedup,
    objective_payload,
    parse_rule,
    rule_key,
    spent_over,
)
from tether.monitor.metrics._objective_metrics import ObjectiveMetrics
from tether.monitor.reports.objectives._store import Exclusions, Spent, bucket_counts, spent_rows
from tether.monitor.store import StoreError

if TYPE_CHECKING:
    from tether.monitor.alerts import Outbox
    from tether.monitor.checks._prober import Check
    from tether.monitor.config import Monitor, MonitorConfig
    from tether.monitor.engine._holds import Holds
    from tether.monitor.engine._traffic import TrafficCall
    from tether.monitor.metrics._metrics import MonitorMetrics
    from tether.monitor.runtime._intake import Pauses
    from tether.monitor.store import Store

__all__ = ["EVALUATE_EVERY", "FULL_EVERY", "RECENT", "REFRESH_BACK", "STATE_KEY", "Objectives"]

log = logging.getLogger("tether.monitor")

EVALUATE_EVERY: Final = 10.0
"""Seconds between two evaluations of the objectives' rules: the most an alert waits
after its rule holds, so that a total outage of a 99.9% objective, which the rules need
51.8 s of, pages within about a minute.  An evaluation costs 150 to 300 us an objective
whatever its number of monitors (benchmarks/results.md)."""
STATE_KEY: Final = "objectives"
"""Where the firing rules are kept in the store (beside the detectors' ``detector:NAME``)."""
RECENT: Final = 3600.0
"""Seconds an alert is kept with the firing rules, to be queued again at start if a crash
took it between the two commits."""
TOLD_KEPT: Final = 200
"""The most recent alerts kept with the firing rules."""
REFRESH_BACK: Final = 120.0
"""In a cluster, the seconds of each objective read again from the store at each
evaluation: past a batch's commit on every instance."""
RETRY_EVERY: Final = 10.0
"""Seconds before a read of the store that failed is tried again."""
FULL_EVERY: Final = 600.0
"""In a cluster, seconds between two reads of each objective's whole window (what came
late: an agent's spool, an instance's held writes)."""


class ObjectiveTaker(Protocol):
    """The runner, as the objectives see it."""

    @property
    def outbox(self) -> Outbox: ...
    @property
    def store(self) -> Store: ...
    @property
    def metrics(self) -> MonitorMetrics: ...
    @property
    def controls(self) -> Pauses: ...
    @property
    def leading(self) -> bool: ...
    @property
    def by_name(self) -> Mapping[str, Monitor]: ...
    @property
    def holds(self) -> Holds: ...
    def wall(self) -> float: ...


@dataclass(slots=True)
class _Job:
    """A read of the store into one ledger: ``monitors``' share, added (``sign`` 1) or
    taken away (-1); ``whole``: every monitor of the objective; with ``clear``, the
    buckets from that moment on emptied first (read again)."""

    name: str
    ledger: BudgetLedger
    monitors: tuple[str, ...]
    sign: int = 1
    clear: float | None = None
    whole: bool = False
    config: MonitorConfig | None = None
    """The configuration in force when the read began (its maintenance windows): the
    thread that reads never looks at the book, which a reload may replace meanwhile."""


@dataclass(frozen=True, slots=True)
class _Read:
    counts: dict[float, dict[int, tuple[int, int]]]
    spent: list[Spent] = field(default_factory=list)


class Objectives:
    """The running monitor's objectives: their book, their last statuses, the reads of
    the store that fill them, and their firing rules kept in the store."""

    def __init__(
        self,
        runner: ObjectiveTaker,
        config: MonitorConfig,
        *,
        every: float = EVALUATE_EVERY,
        shared: bool = False,
    ) -> None:
        self._runner = runner
        self.every = every
        self.shared = shared
        """Other instances share the work (a cluster): their checks are read back."""
        self.book = ObjectiveBook(config)
        self.statuses: Mapping[str, ObjectiveStatus] = {}
        """Each objective at the last evaluation (replaced whole, never changed: the
        scrape reads it on a thread)."""
        self.evaluated: float | None = None
        """When the rules were last evaluated."""
        self.waiting: set[str] = set()
        """The objectives whose counts are being read from the store: not evaluated yet."""
        self._traffic = frozenset(m.name for m in config.monitors if m.traffic)
        self._jobs: list[_Job] = []
        self._task: asyncio.Task[None] | None = None
        self._told: list[dict[str, Any]] = []
        self._led = False
        self._full = self._retry_at = -math.inf
        self._round: float | None = None
        """When this evaluation's reads of the store began (in a cluster)."""
        for name in self.book.objectives:
            self._fill(name)
        if not shared:
            self._take_lead(runner.wall())
        collector = ObjectiveMetrics(self)
        runner.metrics.registry.register(collector)
        runner.metrics.collectors.append(collector)

    @property
    def since(self) -> Mapping[tuple[str, Any], float]:
        """When each firing rule of each objective fired."""
        return {
            (name, rule): at
            for name, ledger in self.book.ledgers.items()
            for rule, at in ledger.firing.items()
        }

    # -- the configuration and the monitor set ----------------------------------------

    def configure(self, config: MonitorConfig) -> None:
        """Take ``config``'s objectives and monitors: at a reload, and at any change of the
        monitor set (a discovered target that comes or goes).  An objective defined as
        before keeps its counts, spenders and firing rules, the share of the monitors
        that joined is read from the store and added, that of those that left taken
        away: the cost is the change's, not the objective's.  A new objective, or one
        whose definition changed, is read whole; a firing rule that no longer exists is
        resolved."""
        if config is self.book.config:
            return  # the one it runs (the runner's start configures what it was made with)
        old, self.book = self.book, ObjectiveBook(config)
        self.book.opened = old.opened
        moved, dropped = self.book.take(old)
        self._traffic = frozenset(m.name for m in config.monitors if m.traffic)
        self._jobs = [j for j in self._jobs if self.book.ledgers.get(j.name) is j.ledger]
        self.waiting &= set(self.book.ledgers)
        fresh = {m.name for m in moved if m.fresh}
        self.statuses = {
            n: s for n, s in self.statuses.items() if n in self.book.ledgers and n not in fresh
        }
        for change in moved:
            self._move(change)
        now = self._runner.wall()
        for gone in dropped:
            self._drop(gone, now)
        if dropped or any(m.fresh for m in moved):
            self._save(now)

    def _move(self, change: Moved) -> None:
        if change.fresh:
            self._fill(change.name)
            return
        ledger = self.book.ledgers[change.name]
        added, removed = self._stored(change.added), self._stored(change.removed)
        if added:
            self._jobs.append(_Job(change.name, ledger, added, 1))
            # Until the read begins, its moment unknown, the checks of those that joined
            # are kept aside: the read will have those made before it (none counted twice).
            self.book.hold(change.name, -math.inf, added)
        if removed:
            self._jobs.append(_Job(change.name, ledger, removed, -1))

    def _stored(self, monitors: Iterable[str]) -> tuple[str, ...]:
        """Those of ``monitors`` whose events the store holds: not a traffic monitor's,
        whose events are its application's calls (the store keeps its verdicts), but in
        a cluster, where its verdicts are all that every instance shares."""
        return tuple(m for m in monitors if self.shared or m not in self._traffic)

    def _fill(self, name: str, clear: float | None = None) -> None:
        """Read objective ``name`` whole from the store (or from ``clear`` on); it is not
        evaluated until the read lands."""
        ledger = self.book.ledgers[name]
        monitors = self._stored(self.book.selected[name])
        self._jobs.append(_Job(name, ledger, monitors, 1, clear, whole=True))
        self.waiting.add(name)
        if clear is None:  # a fresh ledger: the read will have what comes until it begins
            self.book.hold(name, -math.inf)

    # -- counting ----------------------------------------------------------------------

    def __call__(self, check: Check) -> bool:
        """The intake's stage: count the check for the objectives of its monitor (a
        traffic monitor's verdicts are not counted: its calls are, by :meth:`calls`)."""
        record = check.record
        if record.monitor in self.book.members and not self.shared:
            self.book.opened = self._runner.holds.opened  # those opened at run time now
            m = self._runner.by_name.get(record.monitor)
            paused = m is not None and self._runner.controls.is_paused(m)
            self.book.observe(record, paused=paused)
        return True

    def calls(self, monitor: str, calls: Iterable[TrafficCall]) -> None:
        """Count a traffic monitor's calls (those of a paused one are not taken at all)."""
        if self.shared:
            return  # read back from the store (which keeps its verdicts, not its calls)
        self.book.opened = self._runner.holds.opened
        self.book.observe_calls(monitor, calls)

    # -- reading the store -------------------------------------------------------------

    def read_now(self) -> None:
        """Do every read of the store waiting, here and now (what the runner's loop does
        on a thread; for a caller without one)."""
        while self._jobs:
            job = self._jobs.pop(0)
            if self.book.ledgers.get(job.name) is job.ledger:
                self._apply(job, self._read(job, self._begin(job)))

    def _begin(self, job: _Job) -> float:
        """The moment ``job`` reads up to: the checks of its monitors made from then on
        are kept aside (:meth:`ObjectiveBook.hold`) until its read lands."""
        at = self._runner.wall()
        job.config = self.book.config
        if job.sign > 0:
            self.book.hold(job.name, at, None if job.whole else job.monitors)
        return at

    def _start_reads(self, now: float) -> None:
        if self._jobs and self._task is None and now >= self._retry_at:
            self._task = asyncio.get_running_loop().create_task(self._reads())

    async def _reads(self) -> None:
        try:
            while self._jobs:
                job = self._jobs[0]
                if self.book.ledgers.get(job.name) is not job.ledger:
                    self._jobs.pop(0)  # replaced by a reload since: its own read is queued
                    continue
                try:
                    read = await asyncio.to_thread(self._read, job, self._begin(job))
                except Exception as exc:  # a failed read is tried again, never lost
                    self._retry_at = self._runner.wall() + RETRY_EVERY
                    log.warning(
                        "objective %s: cannot read its counts from the store yet, trying "
                        "again in %g s (it is not evaluated until then): %s",
                        job.name,
                        RETRY_EVERY,
                        exc if isinstance(exc, StoreError) else repr(exc),
                        extra={"event": "objective.read_failed", "objective": job.name},
                    )
                    return
                if self._jobs and self._jobs[0] is job:
                    self._jobs.pop(0)
                    self._apply(job, read)
        finally:
            self._task = None

    def _read(self, job: _Job, now: float) -> _Read:
        """What the store holds of ``job``'s monitors for its ledger, of the checks made
        before ``now`` (on a thread: the store's reads are blocking)."""
        store, config = self._runner.store, job.config
        assert config is not None  # set when the read began
        store.flush()  # what was taken before now is in the store
        ledger = job.ledger
        window = ledger.objective.window
        since = now - max(window, *(w * n for w, n in ledger.widths.items()))
        exclusions = Exclusions.read(store, config, job.monitors, since)
        counts: dict[float, dict[int, tuple[int, int]]] = {}
        clear = job.clear if job.clear is not None and math.isfinite(job.clear) else None
        for width, size in sorted(ledger.widths.items()):
            last = math.floor(now / width)
            first = last - size + 1
            if clear is not None:
                first = max(first, math.floor(clear / width))
            counts[width] = bucket_counts(
                store, ledger.objective.sli, job.monitors, width, first, last, exclusions, now
            )
        spent: list[Spent] = []
        if job.sign > 0:
            width = spent_width(window)
            start = math.floor(max(now - window, -math.inf if clear is None else clear) / width)
            spent = list(
                spent_rows(
                    store,
                    ledger.objective.sli,
                    job.monitors,
                    width,
                    start * width,
                    now,
                    exclusions,
                )
            )
        return _Read(counts, spent)

    def _apply(self, job: _Job, read: _Read) -> None:
        """Put what was read into the ledger it was read for (still the book's)."""
        ledger = job.ledger
        if job.clear is not None:
            ledger.clear(job.clear)
            self.book.clear_spent(job.name, job.clear)
        for width, counts in read.counts.items():
            ledger.load(width, counts, job.sign)
        for s in read.spent:
            self.book.spent(job.name, s.at, s.monitor, s.kind, s.n)
        if job.sign > 0:
            self.book.release(job.name, None if job.whole else job.monitors)
        if not any(j.name == job.name for j in self._jobs):
            self.waiting.discard(job.name)

    # -- evaluating --------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Read the store where a read waits, take the lead's duties when this instance
        just took it, and evaluate once :attr:`every` seconds have passed since the last
        time (the runner calls it every second)."""
        if self.shared:
            leading = self._runner.leading
            if leading and not self._led:
                self._take_lead(now)  # done (``_led``) once the store could be read
            elif not leading:
                self._led = False
        due = self.evaluated is None or now - self.evaluated >= self.every
        if due and self.shared and self._round is None:
            if not self._jobs:
                self._refresh(now)
            self._round = now
        self._start_reads(now)
        if not due:
            return
        if self._round is not None and self._jobs and now - self._round < self.every:
            return  # in a cluster, once the round's reads have landed (or late)
        self.evaluate(now)
        self._round = None

    def _refresh(self, now: float) -> None:
        """In a cluster: read the recent buckets of every objective again (every
        instance's checks are in the store), and now and then the whole window."""
        full = now - self._full >= FULL_EVERY
        if full:
            self._full = now
        for name in self.book.ledgers:
            self._fill(name, clear=-math.inf if full else now - REFRESH_BACK)

    def evaluate(self, now: float) -> list[ObjectiveAlert]:
        """Every objective at ``now`` but those being read: its status kept for the API,
        the pages and ``/metrics``, and the alerts of the rules that fired or ended
        queued (on the leader)."""
        self.evaluated = now
        if self.shared and not self._runner.leading:
            return self._follow(now)
        statuses, alerts = self.book.review(now, skip=self.waiting)
        self.statuses = {
            **{n: s for n, s in self.statuses.items() if n in self.waiting},
            **statuses,
        }
        if alerts:
            self._save(now, alerts)
        for alert in alerts:
            self._alert(alert, now)
        return alerts

    def _follow(self, now: float) -> list[ObjectiveAlert]:
        """An instance that does not lead a cluster: every objective's status from the
        store's figures, as the leader's, and its firing rules the leader's, read from
        the store; it decides none.  Deciding on its own, it showed a rule firing from
        its own evaluation, a second from the leader's, and took the leader's on
        becoming leader (the lifecycle matrix's objective row through a takeover)."""
        self.statuses = {
            **{n: s for n, s in self.statuses.items() if n in self.waiting},
            **{
                n: ledger.status(now)
                for n, ledger in self.book.ledgers.items()
                if n not in self.waiting
            },
        }
        try:
            saved = self._runner.store.load_state([STATE_KEY]).get(STATE_KEY) or {}
        except StoreError:
            return []  # the leader's rules next time (the store's writer has said why)
        self._take_firing(_firing(saved))
        return []

    def _take_firing(self, firing: Mapping[str, tuple[tuple[str, ...], dict[str, float]]]) -> None:
        """Each objective's firing rules as ``firing`` (the store's) has them."""
        for name, ledger in self.book.ledgers.items():
            rules = {rule_key(r): r for r in ledger.objective.rules}
            kept = firing.get(name, ((), {}))[1]
            ledger.firing = {rules[k]: at for k, at in kept.items() if k in rules}

    def _alert(self, alert: ObjectiveAlert, now: float) -> None:
        rule, ledger = alert.event.rule, self.book.ledgers[alert.objective]
        since = now if alert.event.since is None else alert.event.since
        spent = spent_over(ledger, rule.long, now)
        payload = objective_payload(alert, ledger.objective.window, since, self._traffic, spent)
        self._say(payload, alert.objective, rule_key(rule))
        dedup = objective_dedup(alert.objective, rule, since, payload.event)
        self._queue(dedup, alert.channels, payload, now)

    def _drop(self, gone: Dropped, now: float) -> None:
        """Resolve a firing rule that no longer exists."""
        payload = dropped_payload(gone, now)
        self._say(payload, gone.objective, rule_key(gone.rule))
        dedup = objective_dedup(gone.objective, gone.rule, gone.since, payload.event)
        self._told.append(_told(dedup, gone.channels, payload, now))
        self._queue(dedup, gone.channels, payload, now)

    @staticmethod
    def _say(payload: AlertPayload, objective: str, rule: str) -> None:
        log.warning(
            "%s",
            payload.text,
            extra={"event": payload.event, "objective": objective, "rule": rule},
        )

    def _queue(
        self, dedup: str, channels: Sequence[str], payload: AlertPayload, now: float
    ) -> None:
        if not self._runner.leading:
            return
        outbox = self._runner.outbox
        for channel in channels:
            if channel in outbox.channels:  # checked with the file; a reload may race it
                outbox.post(channel, dedup, payload, now)

    # -- the firing rules in the store -------------------------------------------------

    def _save(self, now: float, alerts: Sequence[ObjectiveAlert] = ()) -> None:
        """Write every objective's firing rules, and the alerts of the last
        :data:`RECENT` seconds, before ``alerts`` are queued (the leader's alone)."""
        for alert in alerts:
            ledger = self.book.ledgers[alert.objective]
            since = now if alert.event.since is None else alert.event.since
            spent = spent_over(ledger, alert.event.rule.long, now)
            window = ledger.objective.window
            payload = objective_payload(alert, window, since, self._traffic, spent)
            dedup = objective_dedup(alert.objective, alert.event.rule, since, payload.event)
            self._told.append(_told(dedup, alert.channels, payload, now))
        self._told = [t for t in self._told if t["at"] >= now - RECENT][-TOLD_KEPT:]
        if not self._runner.leading:
            return
        firing = {
            name: {
                "channels": list(self.book.objectives[name].alerts),
                "rules": {rule_key(rule): at for rule, at in ledger.firing.items()},
            }
            for name, ledger in self.book.ledgers.items()
            if ledger.firing
        }
        self._runner.store.save_state(STATE_KEY, {"firing": firing, "told": self._told})

    def _take_lead(self, now: float) -> None:
        """Read the firing rules back from the store (at start, or on taking a cluster's
        lead: the last leader's), queue again the alerts of the last :data:`RECENT`
        seconds (those already queued are not, by their dedup key), resolve the rules
        that no longer exist, and, in a cluster, read every objective again."""
        try:
            saved = self._runner.store.load_state([STATE_KEY]).get(STATE_KEY) or {}
        except StoreError as exc:
            log.warning("the objectives' firing rules cannot be read yet: %s", exc)
            return
        self._led = True
        firing = _firing(saved)
        self._take_firing(firing)
        told = [t for t in saved.get("told") or [] if isinstance(t, dict)]
        self._told = [t for t in told if _number(t.get("at")) >= now - RECENT]
        for t in self._told:
            try:
                payload = AlertPayload.from_json(t["payload"])
                self._queue(str(t["dedup"]), [str(c) for c in t["channels"]], payload, now)
            except (KeyError, TypeError, ValueError):
                continue
        gone = _gone(firing, self.book)
        for dropped in gone:
            self._drop(dropped, now)
        if self.shared:
            for name in self.book.ledgers:
                self._fill(name, clear=-math.inf)
        if gone:
            self._save(now)


def _told(dedup: str, channels: Sequence[str], payload: AlertPayload, at: float) -> dict[str, Any]:
    return {"dedup": dedup, "channels": list(channels), "payload": payload.to_json(), "at": at}


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return -math.inf


def _firing(saved: Mapping[str, Any]) -> dict[str, tuple[tuple[str, ...], dict[str, float]]]:
    """The firing rules a saved document holds: each objective's channels and its rules'
    keys with since when (what does not read as such is left out)."""
    out: dict[str, tuple[tuple[str, ...], dict[str, float]]] = {}
    doc = saved.get("firing")
    for name, entry in doc.items() if isinstance(doc, dict) else ():
        if not isinstance(entry, dict) or not isinstance(entry.get("rules"), dict):
            continue
        channels = entry.get("channels")
        rules = {str(k): _number(v) for k, v in entry["rules"].items()}
        out[str(name)] = (
            tuple(str(c) for c in channels) if isinstance(channels, list) else (),
            {k: v for k, v in rules.items() if math.isfinite(v)},
        )
    return out


def _gone(
    firing: Mapping[str, tuple[tuple[str, ...], dict[str, float]]], book: ObjectiveBook
) -> list[Dropped]:
    """The rules the store says fire that ``book`` has not, to resolve."""
    out = []
    for name, (channels, rules) in firing.items():
        ledger = book.ledgers.get(name)
        known = {rule_key(r) for r in ledger.objective.rules} if ledger is not None else set()
        for key, since in rules.items():
            rule = parse_rule(key)
            if key not in known and rule is not None:
                out.append(Dropped(name, rule, since, channels))
    return out
