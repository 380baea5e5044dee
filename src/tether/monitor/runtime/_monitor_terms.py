"""A monitor's configuration in the engine's terms, as the runner tells it: the
detector's rules (``config/_rules.py``) and the incident engine's route; and a saved
detector state with its verdict forgotten, for one restored as unknown."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tether._redact import redact_url
from tether.monitor._state import State
from tether.monitor.alerts import RouteTree, TreePick, route_tree
from tether.monitor.config import AlertmanagerChannelConfig, Monitor, MonitorConfig
from tether.monitor.config._rules import Latency, Rules, WindowRule
from tether.monitor.config.alert_when._checks import most_checks
from tether.monitor.engine.incidents._events import IncidentEscalation, IncidentRoute


def detector_rules(m: Monitor) -> Rules:
    """What the detector is told of ``m``."""
    # No margin means never degraded: an infinite margin puts the limit out of reach.
    k = math.inf if m.latency_margin is None else m.latency_margin
    return Rules(
        failure_threshold=m.failure_threshold,
        success_threshold=m.success_threshold,
        latency=Latency(k=k),
        # A push or traffic monitor cannot be probed again: its next report confirms.
        confirm_delay=1.0 if m.probed else None,
        window=_window(m),
    )


_SPARE_CHECKS = 8
"""Room in a window past what it holds at the monitor's interval: a late result, a check
run by hand."""


def _window(m: Monitor) -> WindowRule | None:
    """``m``'s ``alert_when`` in the detector's terms (probed monitors only: the file says
    so for the others)."""
    rule = m.alert_when
    if rule is None or not m.probed:
        return None
    return WindowRule(
        within=rule.within,
        failures=rule.failures,
        failure_ratio=rule.failure_ratio,
        min_checks=rule.min_checks if rule.failure_ratio is not None else 1,
        capacity=most_checks(rule.within, m.interval) + _SPARE_CHECKS,
    )


def incident_routes(config: MonitorConfig) -> dict[str, IncidentRoute]:
    """Each monitor's route, as the incident engine is told it."""
    tree = route_tree(config) if config.routes is not None else None
    # Alertmanager keeps an alert per monitor and groups them itself.
    alone = frozenset(c.name for c in config.alerts if isinstance(c, AlertmanagerChannelConfig))
    return {m.name: incident_route(m, tree, alone) for m in config.monitors}


def incident_route(
    m: Monitor, tree: RouteTree | None = None, ungrouped: frozenset[str] = frozenset()
) -> IncidentRoute:
    """Where the incident engine sends ``m``'s alerts, and when again.  With a ``routes:``
    tree, the tree picks each alert's channels by its labels (``m.alerts`` among them, as
    a route of its own); without one, they are ``m.alerts``, as they always were.
    ``ungrouped`` channels hear of each monitor on its own."""
    return IncidentRoute(
        pick=TreePick(tree, m.name, m.labels) if tree is not None else None,
        ungrouped=ungrouped,
        channels=tuple(m.alerts),
        url=redact_url(m.url),
        remind_every=m.remind_every,
        escalate=tuple(IncidentEscalation(step.after, tuple(step.alerts)) for step in m.escalate),
        partial_alerts=m.partial_alerts,
        labels=m.labels,
    )


def verdict_forgotten(data: Mapping[str, Any]) -> dict[str, Any]:
    """A saved detector state with its verdict forgotten (unknown, no consecutive count),
    its latency baseline and recent changes kept."""
    availability = dict(data["availability"])
    availability.update(health=State.UNKNOWN.value, failures=0, successes=0, flapping=False)
    return {**data, "availability": availability}
