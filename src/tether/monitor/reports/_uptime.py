"""Uptime: the share of *time* a monitor was up, from its state changes.

Not a count of checks: the confirmation re-probes that confirm an outage in
seconds do not weigh on it, and a monitor checked every 10 s and one checked
every 5 min that were down for the same hour have the same uptime.  One
definition, used by the store's readers alike: ``tether status``, ``/api/status``
and the dashboard.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

from tether.monitor._state import State

if TYPE_CHECKING:
    from tether.monitor.store import Store

__all__ = ["WINDOWS", "UptimeTable", "format_uptime", "uptime", "uptimes"]

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
    return uptimes_of(store, [monitor], now)[monitor]


def uptimes_of(
    store: Store, monitors: Sequence[str], now: float
) -> dict[str, dict[str, float | None]]:
    """Each of ``monitors``' uptime over each of :data:`WINDOWS` up to ``now``, in one read
    of the store for them all (a page's monitors)."""
    return uptimes_from(store.state_changes_of(monitors, now - max(WINDOWS.values())), now)


def uptimes_from(
    every: Mapping[str, Sequence[tuple[float, State]]], now: float
) -> dict[str, dict[str, float | None]]:
    """Each monitor's uptime over each of :data:`WINDOWS` from its state changes as
    :meth:`Store.state_changes_of` reads them since the longest window's start."""
    return {
        monitor: {label: uptime(changes, now - seconds, now) for label, seconds in WINDOWS.items()}
        for monitor, changes in every.items()
    }


TABLE_EVERY: Final = 60.0
"""How old, at most, :class:`UptimeTable`'s figures are (seconds of the runner's clock)."""


class UptimeTable:
    """Every monitor's uptime over a few windows, for sorting thousands of monitors by it:
    read from the store in one query (:meth:`Store.every_state_change`) and computed again
    at most every ``every`` seconds.

    A uptime over 24 hours moves by at most ``every`` / 86,400 between two reads (0.07%
    with a minute), so a minute-old figure orders the monitors as a fresh one would,
    for a read that at 10,000 monitors costs a few hundred milliseconds instead of one
    query per monitor every few seconds.  The figures a page shows are read fresh
    (:func:`uptimes`) and put back with :meth:`put`.  Thread-safe: pages are built on
    worker threads.
    """

    def __init__(self, windows: Iterable[str] = ("24h", "30d"), every: float = TABLE_EVERY) -> None:
        self.windows = {label: WINDOWS[label] for label in windows}
        self.every = every
        self._lock = threading.Lock()
        self._at: float | None = None
        self._shares: dict[str, dict[str, float | None]] = {}
        self.reads = 0
        """How many times the store was read (for the tests and the benchmark)."""

    def read(
        self, store: Store, names: Sequence[str], now: float
    ) -> Mapping[str, Mapping[str, float | None]]:
        """Each of ``names``' uptime over each window, as of at most ``every`` seconds ago
        (read again when older, when the clock went back, or when a name is new)."""
        with self._lock:
            at = self._at
            stale = at is None or not at <= now < at + self.every
            if stale or any(name not in self._shares for name in names):
                since = now - max(self.windows.values())
                changes = store.every_state_change(since)
                self._shares = {
                    name: {
                        label: uptime(changes.get(name, ()), now - seconds, now)
                        for label, seconds in self.windows.items()
                    }
                    for name in names
                }
                self._at = now
                self.reads += 1
            return dict(self._shares)

    def put(self, name: str, shares: Mapping[str, float | None]) -> None:
        """``name``'s figures as just read for a page, so that the next sort uses them."""
        with self._lock:
            if name in self._shares:
                self._shares[name] = {label: shares[label] for label in self.windows}


def format_uptime(share: float | None) -> str:
    """``99.95%``, ``100%``, or ``-`` when unknown; never rounds a downtime up to 100%."""
    if share is None:
        return "-"
    if share >= 1.0:
        return "100%"
    return f"{min(share * 100, 99.99):.2f}%"
