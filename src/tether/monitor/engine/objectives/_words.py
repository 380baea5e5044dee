"""An objective's burn-rate alert in words: the :class:`AlertPayload` every channel sends
(``objective.burning`` when a rule fires, ``objective.resolved`` when it ends), and its
dedup key in the outbox.  Pure: what the alert says is decided from the event, the
objective's window and who spent its budget.

The text says the budget spent and left, the burn rate, and the monitors that spent the
most, with their kinds (issue 26)::

    checkout: burning its error budget 14.4x over 1h (page): 2.1% of the 30d budget
    spent in the last 1h, 87.3% left; most spent by api-eu (connect.refused, 312 failed
    checks), api-us (condition, 4 failed checks)
"""

from __future__ import annotations

from typing import Final

from tether._durations import format_duration, parse_duration
from tether.monitor._records import AlertPayload, kind_from_text
from tether.monitor.engine.objectives._book import Dropped, ObjectiveAlert, Spender
from tether.monitor.engine.objectives._budget import (
    BudgetLedger,
    BurnRule,
    budget_consumed,
    error_budget,
)

__all__ = [
    "BURNING",
    "RESOLVED",
    "dropped_payload",
    "objective_dedup",
    "objective_payload",
    "parse_rule",
    "rule_key",
    "spent_over",
    "too_few",
]

BURNING: Final = "objective.burning"
"""The event of a rule that fired."""
RESOLVED: Final = "objective.resolved"
"""The event of a rule that ended."""


def too_few(total: int, needed: int, what: str = "checks") -> str:
    """What every page, the CLI and the API say where a budget's figure would be while
    the window holds too few events for one: ``too few checks: 3 of 1,000 needed``."""
    return f"too few {what}: {total:,} of {needed:,} needed"


def rule_key(rule: BurnRule) -> str:
    """A rule written short and stable: ``page 14.4x 1h/5m``."""
    long, short = format_duration(rule.long), format_duration(rule.short)
    return f"{rule.severity} {rule.burn:g}x {long}/{short}"


def parse_rule(key: str) -> BurnRule | None:
    """The rule :func:`rule_key` wrote (None for a text it did not)."""
    try:
        severity, burn, windows = key.split(" ")
        long, short = windows.split("/")
        if severity not in ("page", "ticket") or not burn.endswith("x"):
            return None
        return BurnRule(severity, float(burn[:-1]), parse_duration(long), parse_duration(short))  # type: ignore[arg-type]
    except ValueError:
        return None


def objective_dedup(name: str, rule: BurnRule, since: float, event: str) -> str:
    """The outbox's dedup key of one alert: one per (objective, rule, firing start) and
    event, so a retried evaluation never queues the same alert twice."""
    return f"{event} {name} {rule_key(rule)} {since:.3f}"


def _share(x: float) -> str:
    return f"{x * 100:.1f}%"


def _left(remaining: float, span: str | None = None) -> str:
    """``87.3% left`` (``87.3% of the 30d budget left``), or past the budget ``none left
    (overspent by 245.0%)``."""
    of = f" of the {span} budget" if span else ""
    if remaining < 0:
        return f"none{of} left (overspent by {_share(-remaining)})"
    return f"{_share(remaining)}{of} left"


def _rate(x: float) -> str:
    return f"{x:.3g}x"


def _spender(s: Spender, traffic: frozenset[str]) -> str:
    what = "calls" if s.monitor in traffic else "checks"
    failed = f"{s.bad:,} failed {what}" if s.bad != 1 else f"1 failed {what[:-1]}"
    return f"{s.monitor} ({s.kind or 'condition'}, {failed})"


def spent_over(ledger: BudgetLedger, length: float, now: float) -> float:
    """The share of the window's error budget that the last ``length`` seconds spent: their
    bad events over the bad events the window allows (the Workbook's ``burn x length /
    window`` when events come at a steady rate, and right when they do not, as after a
    restart)."""
    objective = ledger.objective
    allowed = error_budget(objective.target) * ledger.count(objective.window, now).total
    if allowed <= 0:
        return 0.0
    return ledger.count(length, now).bad / allowed


def objective_payload(
    alert: ObjectiveAlert,
    window: float,
    since: float,
    traffic: frozenset[str] = frozenset(),
    spent: float | None = None,
) -> AlertPayload:
    """What ``alert`` says, for an objective over ``window`` seconds whose rule fired at
    ``since``; ``traffic`` names the traffic monitors (their failures are calls), and
    ``spent`` is the share of the budget the rule's long window spent (default: as a
    steady rate would, :func:`budget_consumed`)."""
    event, rule, name = alert.event, alert.event.rule, alert.objective
    long, short = format_duration(rule.long), format_duration(rule.short)
    span = format_duration(window)
    left = _left(event.remaining, span)
    if event.type == "fired":
        if spent is None:
            spent = budget_consumed(event.long_burn, rule.long, window)
        text = (
            f"{name}: burning its error budget {_rate(event.long_burn)} over {long} "
            f"({rule.severity}): {_share(spent)} of the {span} budget spent in the last "
            f"{long}, {_left(event.remaining)}"
        )
        if alert.spenders:
            text += "; most spent by " + ", ".join(_spender(s, traffic) for s in alert.spenders)
        kind = kind_from_text(alert.spenders[0].kind) if alert.spenders else None
    else:
        text = (
            f"{name}: no longer burning its error budget {_rate(rule.burn)} over {long} "
            f"({rule.severity}): {_rate(event.short_burn)} over the last {short}; {left}"
        )
        if event.little_data:
            text = text.removesuffix(f"; {left}") + f"; too few checks yet for a {span} budget"
        kind = None
    budget = f"{_share(event.spent)} of the {span} budget spent, {_left(event.remaining)}"
    if event.little_data:
        # Never "25000.0% of the 30d budget spent" of a window too thin for a budget.
        budget = f"too few checks yet for a {span} budget"
    detail = (
        f"burn rate {_rate(event.long_burn)} over {long} and {_rate(event.short_burn)} over "
        f"{short} (the rule: {_rate(rule.burn)} or more over both); {budget}"
    )
    monitors = tuple(dict.fromkeys(s.monitor for s in alert.spenders))
    return AlertPayload(
        event=BURNING if event.type == "fired" else RESOLVED,
        monitor=name,
        text=text,
        at=event.at,
        monitors=monitors,
        kind=kind,
        detail=detail,
        since=since,
        labels={"objective": name, "severity": rule.severity, "window": long},
    )


def dropped_payload(gone: Dropped, now: float) -> AlertPayload:
    """The resolution of a firing rule that no longer exists (its objective or the rule
    removed from the file): the same labels as its alert, so a receiver that keeps
    alerts by labels (Alertmanager) ends it."""
    rule = gone.rule
    long = format_duration(rule.long)
    return AlertPayload(
        event=RESOLVED,
        monitor=gone.objective,
        text=(
            f"{gone.objective}: no longer burning its error budget {_rate(rule.burn)} over "
            f"{long} ({rule.severity}): the rule is no longer in the configuration"
        ),
        at=now,
        since=gone.since,
        labels={"objective": gone.objective, "severity": rule.severity, "window": long},
    )
