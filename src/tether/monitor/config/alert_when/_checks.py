"""What ``alert_when:`` cannot see alone, checked with its monitor: only a probed monitor
takes it (a push or traffic monitor has rules of its own), never beside a
``failure_threshold`` (one rule decides when a monitor is down, so that the reason it
gives is the whole reason), and a window that holds, at the monitor's interval, enough
checks for the rule ever to hold."""

from __future__ import annotations

import math

from tether._durations import format_duration
from tether.monitor.config._errors import KeyPath, Problem
from tether.monitor.config._models import Monitor, MonitorDefaults
from tether.monitor.config.alert_when._rule import AlertWhen

__all__ = ["check_alert_when", "check_default_alert_when", "most_checks"]

_EITHER = (
    "give failure_threshold (failures in a row) or alert_when (failures within a window), not both"
)


def most_checks(within: float, interval: float) -> int:
    """The most checks ``within`` seconds hold at one check every ``interval`` seconds: a
    check at ``t`` is in the window while ``now - within < t``."""
    return max(1, math.ceil(within / interval))


def check_default_alert_when(defaults: MonitorDefaults) -> list[Problem]:
    rule = defaults.alert_when
    if rule is None:
        return []
    if "failure_threshold" in defaults.model_fields_set:
        return [(("defaults", "alert_when"), _EITHER)]
    found = _unreachable(rule, defaults.interval)
    return [] if found is None else [(("defaults", "alert_when", found[0]), found[1])]


def check_alert_when(monitor: Monitor, defaults: MonitorDefaults, at: KeyPath) -> list[Problem]:
    own = monitor.model_fields_set
    if monitor.alert_when is not None and "alert_when" in own:
        if monitor.push:
            return [
                (
                    (*at, "alert_when"),
                    "a push monitor has its own rule (a heartbeat missed past its grace "
                    "is down): alert_when is for probed monitors",
                )
            ]
        if monitor.traffic:
            return [
                (
                    (*at, "alert_when"),
                    "a traffic monitor has its own window: give failure_ratio, window and "
                    "min_calls instead",
                )
            ]
        if "failure_threshold" in own:
            return [((*at, "alert_when"), _EITHER)]
        found = _unreachable(monitor.alert_when, _interval(monitor, defaults))
        return [] if found is None else [((*at, "alert_when", found[0]), found[1])]
    inherited = defaults.alert_when
    # At defaults.interval, defaults.alert_when is checked once (check_default_alert_when).
    if inherited is None or not monitor.probed or "interval" not in own:
        return []
    if {"failure_threshold", "alert_when"} & own:
        return []
    found = _unreachable(inherited, monitor.interval)
    if found is None:
        return []
    return [((*at, "interval"), f"with defaults.alert_when, {found[0]}: {found[1]}")]


def _interval(monitor: Monitor, defaults: MonitorDefaults) -> float:
    return monitor.interval if "interval" in monitor.model_fields_set else defaults.interval


def _unreachable(rule: AlertWhen, interval: float) -> tuple[str, str] | None:
    """The key of ``rule`` its window can never reach at ``interval``, and why; ``None``
    when the rule can hold."""
    most = most_checks(rule.within, interval)
    if rule.needed <= most:
        return None
    key = "failures" if rule.failures is not None else "min_checks"
    default = "" if key in rule.model_fields_set else " (the default)"
    return key, (
        f"{rule.needed}{default} can never be reached: {format_duration(rule.within)} "
        f"holds at most {most} checks at an interval of {format_duration(interval)}"
    )
