"""Uptime: the share of *time* a monitor was up, from its state changes.

Not a count of checks: the confirmation re-probes that confirm an outage in
seconds do not weigh on it, and a monitor checked every 10 s and one checked
every 5 min that were down for the same hour have the same uptime.  One
definition, used by the store's readers alike: ``tether status``, ``/api/status``
and the dashboard.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from tether.monitor._state import State

if TYPE_CHECKING:
    from tether.monitor.store import Store

__all__ = ["WINDOWS", "format_uptime", "uptime", "uptimes"]

WINDOWS: Final = {"24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0, "90d": 90 * 86400.0}
"""The windows uptime is reported over, by label."""


def uptime(changes: Sequence[tuple[float, State]], since: float, until: float) -> float | None:
    """The share of the time from ``since`` to ``until`` that the monitor was up, from its
    state changes (oldest first, led by the last one before ``since``); ``None`` when
    its state was never known in that time.

    Up and degraded count as up; down and flapping as down; unknown (before the first
    check, and while tether was stopped) and paused are left out of both.
    """
    up = known = 0.0
    for i, (at, state) in enumerate(changes):
        start = max(at, since)
        end = min(changes[i + 1][0] if i + 1 < len(changes) else until, until)
        if end <= start or state in (State.UNKNOWN, State.PAUSED):
            continue
        known += end - start
        if state in (State.UP, State.DEGRADED):
            up += end - start
    return up / known if known > 0 else None


def uptimes(store: Store, monitor: str, now: float) -> dict[str, float | None]:
    """``monitor``'s uptime over each of :data:`WINDOWS` up to ``now`` (one read)."""
    changes = store.state_changes(monitor, now - max(WINDOWS.values()))
    return {label: uptime(changes, now - seconds, now) for label, seconds in WINDOWS.items()}


def format_uptime(share: float | None) -> str:
    """``99.95%``, ``100%``, or ``-`` when unknown; never rounds a downtime up to 100%."""
    if share is None:
        return "-"
    if share >= 1.0:
        return "100%"
    return f"{min(share * 100, 99.99):.2f}%"
