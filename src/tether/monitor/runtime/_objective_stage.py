"""The objectives of the running monitor (docs/objectives.md): a stage of the intake that
counts every check the runner takes, and the traffic intake's calls, into the objectives'
:class:`~tether.monitor.engine._objective_book.Book`; every :data:`EVALUATE_EVERY`
seconds of the runner's clock, the burn-rate rules evaluated, and the alerts of the rules
that fired or ended queued in the outbox, each committed before it counts as sent.

- The book is in memory: after a restart the budget counts from the restart on.  A
  reload keeps the counts of each objective whose definition and monitors did not change;
  one that changed starts afresh.
- Every instance counts the checks it takes (its location's, its shards'); only the
  leader queues alerts, so that a cluster pages once.  An instance that is not the leader
  evaluates all the same, to know which rules fire, and its ``/api/objectives`` shows
  what its own checks say.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final, Protocol

from tether.monitor.engine._objective_book import Book, ObjectiveAlert
from tether.monitor.engine._objective_words import (
    objective_dedup,
    objective_payload,
    rule_key,
    spent_over,
)
from tether.monitor.engine._objectives import BurnRule, Status
from tether.monitor.web._objective_metrics import ObjectiveMetrics

if TYPE_CHECKING:
    from tether.monitor.alerts import Outbox
    from tether.monitor.checks._prober import Check
    from tether.monitor.config import Monitor, MonitorConfig
    from tether.monitor.engine._traffic import Call
    from tether.monitor.runtime._intake import Pauses
    from tether.monitor.web._metrics import MonitorMetrics

__all__ = ["EVALUATE_EVERY", "Objectives"]

log = logging.getLogger("tether.monitor")

EVALUATE_EVERY: Final = 10.0
"""Seconds between two evaluations of the objectives' rules: the most an alert waits
after its rule holds, so that a total outage of a 99.9% objective, which the rules need
51.8 s of, pages within about a minute.  An evaluation costs 150 to 300 us an objective
(benchmarks/results.md): 1,000 objectives take about 2% of the event loop."""


class ObjectiveTaker(Protocol):
    """The runner, as the objectives see it."""

    @property
    def outbox(self) -> Outbox: ...
    @property
    def metrics(self) -> MonitorMetrics: ...
    @property
    def controls(self) -> Pauses: ...
    @property
    def leading(self) -> bool: ...
    @property
    def by_name(self) -> Mapping[str, Monitor]: ...


class Objectives:
    """The running monitor's objectives: their book, their last statuses, and since when
    each rule fires."""

    def __init__(
        self, runner: ObjectiveTaker, config: MonitorConfig, *, every: float = EVALUATE_EVERY
    ) -> None:
        self._runner = runner
        self.every = every
        self.book = Book(config)
        self.statuses: Mapping[str, Status] = {}
        """Each objective at the last evaluation (replaced whole, never changed: the
        scrape reads it on a thread)."""
        self.since: dict[tuple[str, BurnRule], float] = {}
        """When each firing rule of each objective fired."""
        self.evaluated: float | None = None
        """When the rules were last evaluated."""
        self._traffic = frozenset(m.name for m in config.monitors if m.traffic)
        collector = ObjectiveMetrics(self)
        runner.metrics.registry.register(collector)
        runner.metrics.collectors.append(collector)

    def configure(self, config: MonitorConfig) -> None:
        """Take ``config``'s objectives (a reload): those unchanged keep their counts."""
        old, self.book = self.book, Book(config)
        kept = set(self.book.carry(old))
        self._traffic = frozenset(m.name for m in config.monitors if m.traffic)
        self.since = {k: at for k, at in self.since.items() if k[0] in kept}
        self.statuses = {name: s for name, s in self.statuses.items() if name in kept}

    # -- counting ----------------------------------------------------------------------

    def __call__(self, check: Check) -> bool:
        """The intake's stage: count the check for the objectives of its monitor (a
        traffic monitor's verdicts are not counted: its calls are, by :meth:`calls`)."""
        record = check.record
        if record.monitor in self.book.members:
            m = self._runner.by_name.get(record.monitor)
            paused = m is not None and self._runner.controls.is_paused(m)
            self.book.observe(record, paused=paused)
        return True

    def calls(self, monitor: str, calls: Iterable[Call]) -> None:
        """Count a traffic monitor's calls (those of a paused one are not taken at all)."""
        self.book.observe_calls(monitor, calls)

    # -- evaluating --------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Evaluate once :attr:`every` seconds have passed since the last time (the
        runner calls it every second)."""
        if self.evaluated is None or now - self.evaluated >= self.every:
            self.evaluate(now)

    def evaluate(self, now: float) -> list[ObjectiveAlert]:
        """Every objective at ``now``: its status kept for the API and ``/metrics``, and
        the alerts of the rules that fired or ended queued (on the leader)."""
        self.evaluated = now
        statuses, alerts = self.book.review(now)
        self.statuses = statuses
        for alert in alerts:
            self._alert(alert, now)
        return alerts

    def _alert(self, alert: ObjectiveAlert, now: float) -> None:
        key = (alert.objective, alert.event.rule)
        if alert.event.type == "fired":
            since = self.since[key] = now
        else:
            since = self.since.pop(key, now)
        rule, ledger = alert.event.rule, self.book.ledgers[alert.objective]
        spent = spent_over(ledger, rule.long, now)
        payload = objective_payload(alert, ledger.objective.window, since, self._traffic, spent)
        log.warning(
            "%s",
            payload.text,
            extra={
                "event": payload.event,
                "objective": alert.objective,
                "rule": rule_key(alert.event.rule),
            },
        )
        if not self._runner.leading:
            return
        dedup = objective_dedup(alert.objective, alert.event.rule, since, payload.event)
        outbox = self._runner.outbox
        for channel in alert.channels:
            if channel in outbox.channels:  # checked with the file; a reload may race it
                outbox.queue(channel, dedup, payload, now)
