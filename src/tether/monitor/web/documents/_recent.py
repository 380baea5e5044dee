"""The minute roll-ups of the last hour and the last failure in them of the monitors a
page shows (the dashboard's sparklines and its "last failure" column), read from the
store a little at a time and kept between refreshes (:class:`Recent`)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from tether.monitor.store._base import bucket_start

if TYPE_CHECKING:
    from tether.monitor.store import ProbeRecord, Rollup, Store

__all__ = ["FAILURE_LOOKBACK", "SPARKLINE_WINDOW", "Recent"]

SPARKLINE_WINDOW: Final = 3600.0
"""The sparklines and the last failure look this far back (seconds)."""
FAILURE_LOOKBACK: Final = 200
"""At most this many results, from the minute of the last failure on, are read to find it."""


class Recent:
    """The minute roll-ups of the last hour and the last failure in it of the monitors a
    page shows, read from the store a little at a time.

    A minute that is over does not change, so a monitor read again is read only from the
    minute before its last read (two minutes, when pages refresh every few seconds:
    a result is committed a moment after its check, in the writer's next batch): one
    query for every shown monitor per refresh, each from its own minute, instead of an
    hour of rows.  The last failure is looked up only when the roll-ups show a new one,
    from the minute it happened, in one more query for every monitor that has one.  A
    monitor no page has shown for an hour is forgotten.  Thread-safe: refreshes run on
    worker threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._minutes: dict[str, tuple[float, list[Rollup]]] = {}
        """Each monitor's roll-ups and when they were read."""
        self._failures: dict[str, tuple[tuple[float, int], ProbeRecord | None]] = {}

    def read(
        self, store: Store, names: Sequence[str], now: float
    ) -> tuple[dict[str, list[Rollup]], dict[str, ProbeRecord | None]]:
        """The minute roll-ups (oldest first) and the last failure of each of ``names``:
        one read of the store for all their roll-ups, and one for the failures looked up."""
        with self._lock:
            for gone in [n for n, (at, _) in self._minutes.items() if now - at > SPARKLINE_WINDOW]:
                del self._minutes[gone]
                self._failures.pop(gone, None)
            minutes = self._update(store, names, now)
            return minutes, self._last_failures(store, minutes)

    def _update(self, store: Store, names: Sequence[str], now: float) -> dict[str, list[Rollup]]:
        window = now - SPARKLINE_WINDOW
        kept: dict[str, list[Rollup]] = {}
        since: dict[str, float] = {}
        for name in names:
            cached = self._minutes.get(name)
            if cached is None or cached[0] > now:  # first read, or time went back
                kept[name], since[name] = [], window
                continue
            read_at, minutes = cached
            # This minute and the last may still grow, and so may what was the last minute
            # when it was read (minutes ago, if no page showed it meanwhile).
            settled = min(bucket_start(now, 60) - 60, bucket_start(read_at, 60))
            kept[name] = [r for r in minutes if window <= r.start < settled]
            since[name] = max(settled, window)
        fresh = store.rollups_of(since, "minute") if since else {}
        out: dict[str, list[Rollup]] = {}
        for name in names:
            out[name] = kept[name] + fresh.get(name, [])
            self._minutes[name] = (now, out[name])
        return out

    def _last_failures(
        self, store: Store, minutes: dict[str, list[Rollup]]
    ) -> dict[str, ProbeRecord | None]:
        out: dict[str, ProbeRecord | None] = {}
        asked: dict[str, tuple[float, int]] = {}
        for name, rollups in minutes.items():
            failing = next((r for r in reversed(rollups) if r.ok_count < r.count), None)
            if failing is None:
                self._failures.pop(name, None)
                out[name] = None
                continue
            key = (failing.start, failing.count - failing.ok_count)
            known = self._failures.get(name)
            if known is not None and known[0] == key:
                out[name] = known[1]
            else:
                asked[name] = key
        since = {name: key[0] for name, key in asked.items()}
        found = store.failures_of(since, FAILURE_LOOKBACK) if since else {}
        for name, key in asked.items():
            out[name] = found.get(name)
            self._failures[name] = (key, out[name])
        return out
