"""A monitor's chart: the points behind ``/api/series/{name}?range=1h|24h|7d|30d``
(:func:`build_series`, a :class:`~tether.monitor.web.documents._documents.SeriesDoc`), drawn in
the browser by uPlot through ``static/charts.js``, and the layer that colours each
failure kind on the monitor's page (:func:`kind_layer`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from tether._catalogue import CATALOGUE
from tether._kinds import Kind
from tether.monitor._records import CONDITION, kind_text
from tether.monitor.reports._documents import PHASES, iso, round_ms
from tether.monitor.store._base import bucket_start
from tether.monitor.web.documents._documents import Columns, SeriesDoc, SeriesHead

if TYPE_CHECKING:
    from tether.monitor.store import ProbeRecord, Rollup, Store
    from tether.monitor.web.documents._snapshot import Snapshot

__all__ = ["RANGES", "RANGE_SHOWN", "build_series", "kind_layer"]

RANGES: Final = {"1h": 3600.0, "24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0}
"""The monitor page chart's ranges, by label."""
RANGE_SHOWN: Final = "24h"
"""The range a monitor's page opens on (and its incident timeline shows without script)."""
RAW_RANGES: Final = ("1h", "24h")
"""Drawn from raw results, check by check, when they fit in :data:`SERIES_RAW_MAX`."""
SERIES_RAW_MAX: Final = 5000
"""The most raw results a series reads; a window with more is drawn from minute roll-ups."""


def kind_layer(kind: str) -> str:
    """The layer a stored kind code belongs to (``dns``, ``connect``, ``tls``, ...;
    ``condition`` for conditions not met), which colours it on the monitor's page."""
    if kind == CONDITION:
        return CONDITION
    try:
        return CATALOGUE[Kind(kind)].layer.value
    except (ValueError, KeyError):  # a newer tether's kind
        return "unknown"


def build_series(snap: Snapshot, name: str, span: str) -> SeriesDoc | None:
    """The document behind ``/api/series/{name}?range=SPAN``: the monitor's response
    time over one of :data:`RANGES`, in columns for the chart (``time`` in Unix seconds,
    one entry per point in every other column); ``None`` when no monitor has that name.

    ``1h`` and ``24h`` are drawn from raw results, check by check, with each phase's
    time; a window holding more than :data:`SERIES_RAW_MAX` of them, and ``7d`` and
    ``30d`` always, from roll-ups (minute and hour buckets: average, least and most
    latency, checks and failures by kind), so a series never reads more than a few
    thousand rows.
    """
    monitor = next((m for m in snap.monitors if m.name == name), None)
    if monitor is None:
        return None
    now = snap.now
    since = now - RANGES[span]
    head: SeriesHead = {"monitor": name, "range": span, "from": iso(since), "to": iso(now)}
    steps = tuple(s.name for s in monitor.steps or ())
    columns = _columns(snap.store, name, span, since, steps)
    return {**head, **columns}


def _columns(
    store: Store, name: str, span: str, since: float, steps: tuple[str, ...] = ()
) -> Columns:
    if span in RAW_RANGES:
        records = store.results(name, since=since, limit=SERIES_RAW_MAX + 1)
        if len(records) <= SERIES_RAW_MAX:
            return _raw_series(records[::-1], steps)
        return _rollup_series(
            store.rollups(name, "minute", since=bucket_start(since, 60)), "minute"
        )
    return _rollup_series(store.rollups(name, "hour", since=bucket_start(since, 3600)), "hour")


def _raw_series(records: Sequence[ProbeRecord], steps: tuple[str, ...] = ()) -> Columns:
    """Raw results, oldest first, as columns: one point per check."""
    phases = _phase_order(records, steps)
    failures: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        if not r.ok:
            failures.setdefault(kind_text(r.kind), [0] * len(records))[i] = 1
    return {
        "source": "results",
        "step_s": None,
        "time": [round(r.ts, 3) for r in records],
        "latency_ms": [round_ms(r.latency_ms) for r in records],
        "latency_min_ms": None,
        "latency_max_ms": None,
        "checks": [1] * len(records),
        "failed": [0 if r.ok else 1 for r in records],
        "phases": {p: [round_ms(r.phases.get(p)) for r in records] for p in phases},
        "failures": dict(sorted(failures.items())),
        "layers": {kind: kind_layer(kind) for kind in sorted(failures)},
    }


def _phase_order(records: Sequence[ProbeRecord], steps: tuple[str, ...]) -> list[str]:
    """The phases in the order they happen; a multi-step check's (``login.dns``) step by
    step in the order of its ``steps`` (a step no longer configured after them)."""
    named = {p for r in records for p in r.phases}
    order = {step: i for i, step in enumerate(steps)}

    def key(p: str) -> tuple[int, str, int, str]:
        step, _, phase = p.rpartition(".")
        at = order.get(step, len(order)) if step else -1
        return (at, step, PHASES.index(phase) if phase in PHASES else len(PHASES), p)

    return sorted(named, key=key)


def _rollup_series(rollups: Sequence[Rollup], period: str) -> Columns:
    """Roll-ups, oldest first, as columns: one point per bucket.  A failed condition
    has no kind in a roll-up; what the kinds do not account for is ``condition``."""
    failures: dict[str, list[int]] = {}
    for i, r in enumerate(rollups):
        failed = r.count - r.ok_count
        kinds = dict(r.kinds)
        if failed > sum(kinds.values()):
            kinds[CONDITION] = failed - sum(kinds.values())
        for kind, n in kinds.items():
            failures.setdefault(kind, [0] * len(rollups))[i] = n
    return {
        "source": f"{period} roll-ups",
        "step_s": 60 if period == "minute" else 3600,
        "time": [r.start for r in rollups],
        "latency_ms": [round_ms(r.latency_avg) for r in rollups],
        "latency_min_ms": [round_ms(r.latency_min) for r in rollups],
        "latency_max_ms": [round_ms(r.latency_max) for r in rollups],
        "checks": [r.count for r in rollups],
        "failed": [r.count - r.ok_count for r in rollups],
        "phases": {},
        "failures": dict(sorted(failures.items())),
        "layers": {kind: kind_layer(kind) for kind in sorted(failures)},
    }
