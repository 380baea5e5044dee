"""What the store holds of an objective's monitors, bucket by bucket: what the running
monitor fills an objective's ledger with (at start, on a reload, when the monitor set
changes, on taking a cluster's lead), and the hours the burn-down and the monthly report
read.  One judgement of stored checks for all of them (docs/objectives.md, "After a
restart"), as sloth and Pyrra read an objective back from Prometheus's TSDB rather than
keep it in memory.

Where a bucket's counts come from, by its width:

- an hour or more: the hour roll-ups (a day for who spent a budget of 30 days and more:
  the day roll-ups), summed by the database, so that an objective of 10,000 monitors
  over 30 days is 720 rows read, not 7.2 million;
- a minute to an hour: the minute roll-ups (kept with the raw results, a week by
  default);
- under a minute: the raw results, each judged as the live count judges a check.

A read stops at a moment (``until``): the roll-up that moment falls in is still filling,
so the span from its start is read from the next shorter period's roll-ups, and the last
minute from the raw results (:func:`pieces`).  The running monitor counts the checks
made from that moment on itself, and none twice.

A roll-up is judged whole.  Availability: its passed checks are good, its failures of a
kind that counts are bad (a failure without a kind is a failed ``condition``), the others
are not counted, exactly as check by check.  Latency: a roll-up keeps its least, most
and mean latency, not each check's, so its passed checks are all good when its slowest
was under ``below``, none when its fastest was not, and otherwise as its mean says (an
approximation; minute roll-ups make it a fine one).  A roll-up is left out when its
middle falls while its monitor was paused (the stored state changes) or in a
maintenance window (the file's, or one opened at run time); a raw result when it does.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from tether.monitor._state import State
from tether.monitor.engine.objectives._budget import AvailabilitySLI, LatencySLI, Sample, is_good

if TYPE_CHECKING:
    from tether.monitor._records import OpenedWindow
    from tether.monitor.config import MonitorConfig
    from tether.monitor.config._models import MaintenanceWindow
    from tether.monitor.store import Store

__all__ = [
    "WINDOWS_READ",
    "Exclusions",
    "Spent",
    "bucket_counts",
    "paused_spans",
    "period_of",
    "pieces",
    "spent_rows",
]

WINDOWS_READ: Final = 1000
"""The most maintenance windows opened at run time read back (newest first)."""
PERIODS: Final = {"minute": 60.0, "hour": 3600.0, "day": 86400.0}
"""The store's roll-up periods (``store/_rollups.py``), as widths."""

Counts = dict[int, tuple[int, int]]
"""(good, total) by bucket index (``floor(start / width)``)."""


def period_of(width: float) -> str | None:
    """The roll-up period a bucket of ``width`` seconds is read from (None: the raw
    results): the widest that divides it."""
    for period in ("day", "hour", "minute"):
        seconds = PERIODS[period]
        if width >= seconds and width % seconds == 0:
            return period
    return None


class Exclusions:
    """When each monitor was paused or in maintenance: its checks then are not counted.
    Built once for a seed (:meth:`read`); :meth:`at` answers for one check, and
    :meth:`groups` for the buckets of many monitors at once."""

    def __init__(
        self,
        config: MonitorConfig,
        windows: Sequence[OpenedWindow] = (),
        paused: Mapping[str, Sequence[tuple[float, float]]] | None = None,
    ) -> None:
        self._config = config
        self._windows = tuple(windows)
        self._paused = {m: sorted(spans) for m, spans in (paused or {}).items() if spans}
        self._starts = {m: [a for a, _ in spans] for m, spans in self._paused.items()}

    @classmethod
    def read(
        cls, store: Store, config: MonitorConfig, monitors: Collection[str], since: float
    ) -> Exclusions:
        """The exclusions of ``monitors`` from ``since`` on, from ``store``'s state changes
        (pauses) and maintenance windows, and ``config``'s windows."""
        changes = store.state_changes_of(monitors, since)
        return cls(config, store.windows(limit=WINDOWS_READ), paused_spans(changes))

    @property
    def none(self) -> bool:
        """Nothing is ever excluded: the fast path."""
        return not (self._config.maintenance or self._windows or self._paused)

    def at(self, monitor: str, at: float) -> bool:
        """Whether a check of ``monitor`` at ``at`` is not counted."""
        if self.none:
            return False
        spans = self._paused.get(monitor)
        if spans:
            i = bisect.bisect_right(self._starts[monitor], at) - 1
            if i >= 0 and at < spans[i][1]:
                return True
        if any((not w.monitors or monitor in w.monitors) and w.open_at(at) for w in self._windows):
            return True
        return bool(self._config.maintenance) and self._config.in_maintenance(
            monitor, dt.datetime.fromtimestamp(at, dt.UTC)
        )

    def groups(
        self, monitors: Collection[str], width: float, since: float, until: float
    ) -> list[tuple[tuple[str, ...], list[tuple[float, float]]]]:
        """The buckets of ``width`` starting in ``[since, until)`` whose middle is excluded,
        for every monitor of ``monitors`` with any: monitors that share the same buckets
        grouped, each group with its buckets as spans ``[start, end)`` of starts."""
        if self.none:
            return []
        starts = [since + k * width for k in range(max(0, math.ceil((until - since) / width)))]
        everyone: set[float] = set()
        own: dict[str, set[float]] = defaultdict(set)
        for window in self._config.maintenance:
            hit = self._config_window(window, starts, width)
            if hit:
                self._spread(hit, window.monitors, monitors, everyone, own)
        for opened in self._windows:
            hit = {a for a in starts if opened.open_at(a + width / 2)}
            if hit:
                self._spread(hit, opened.monitors, monitors, everyone, own)
        for monitor in monitors:
            for start, end in self._paused.get(monitor, ()):
                own[monitor].update(a for a in starts if start <= a + width / 2 < end)
        by_set: dict[frozenset[float], list[str]] = defaultdict(list)
        for monitor in monitors:
            excluded = everyone | own[monitor] if monitor in own else everyone
            if excluded:
                by_set[frozenset(excluded)].append(monitor)
        return [(tuple(names), _spans(sorted(hit), width)) for hit, names in by_set.items()]

    @staticmethod
    def _config_window(
        window: MaintenanceWindow, starts: Sequence[float], width: float
    ) -> set[float]:
        return {
            a for a in starts if window.active(dt.datetime.fromtimestamp(a + width / 2, dt.UTC))
        }

    @staticmethod
    def _spread(
        hit: set[float],
        covers: tuple[str, ...],
        monitors: Collection[str],
        everyone: set[float],
        own: dict[str, set[float]],
    ) -> None:
        if not covers:
            everyone |= hit
            return
        for monitor in covers:
            if monitor in monitors:
                own[monitor] |= hit


def paused_spans(
    changes: Mapping[str, Sequence[tuple[float, State]]],
) -> dict[str, list[tuple[float, float]]]:
    """Each monitor's spans ``[start, end)`` in the paused state, from its state changes
    (oldest first); a pause not ended reaches on."""
    out: dict[str, list[tuple[float, float]]] = {}
    for monitor, rows in changes.items():
        spans = []
        for i, (at, state) in enumerate(rows):
            if state is State.PAUSED:
                end = rows[i + 1][0] if i + 1 < len(rows) else math.inf
                spans.append((at, end))
        if spans:
            out[monitor] = spans
    return out


def _spans(starts: Sequence[float], width: float) -> list[tuple[float, float]]:
    """Bucket starts in order as runs ``[first, last + width)``."""
    out: list[tuple[float, float]] = []
    for a in starts:
        if out and math.isclose(out[-1][1], a):
            out[-1] = (out[-1][0], a + width)
        else:
            out.append((a, a + width))
    return out


def _counted(sli: AvailabilitySLI | LatencySLI, failed: int, kinds: Mapping[str, int]) -> int:
    """How many of a roll-up's ``failed`` checks count against an availability
    objective (those with no kind in ``kinds`` are failed conditions)."""
    if isinstance(sli, LatencySLI):
        return failed
    named = sum(kinds.values())
    bad = sum(n for kind, n in kinds.items() if sli.counts(kind))
    if failed > named and sli.counts(None):
        bad += failed - named
    return bad


def _rollup_counts(
    store: Store,
    sli: AvailabilitySLI | LatencySLI,
    monitors: Collection[str],
    period: str,
    since: float,
    until: float,
) -> dict[float, tuple[int, int]]:
    """(good, total) of each roll-up start of ``period`` in ``[since, until)`` over
    ``monitors``, judged (module docstring)."""
    below = sli.below_ms if isinstance(sli, LatencySLI) else None
    out = {
        start: (quick if below is not None else ok, count)
        for start, count, ok, quick in store.rollup_sums(monitors, period, since, until, below)
    }
    if isinstance(sli, AvailabilitySLI) and sli.kinds is not None:
        # Failures of a kind that does not count are not counted at all.
        for _, start, failed, kinds in store.rollup_failures(monitors, period, since, until):
            good, total = out[start]
            out[start] = (good, total - (failed - _counted(sli, failed, kinds)))
    return out


_LADDER: Final = ("day", "hour", "minute")


def pieces(period: str | None, since: float, end: float) -> list[tuple[str | None, float, float]]:
    """``[since, end)`` as the store holds it: whole roll-ups of ``period`` as far as they
    go, then of each shorter period, then the raw results (None) up to ``end``: the
    newest roll-up may be still filling, so what is read stops exactly at ``end``.
    ``since`` is on a boundary of ``period`` (a bucket's start)."""
    out: list[tuple[str | None, float, float]] = []
    at = since
    for name in _LADDER[_LADDER.index(period) :] if period is not None else ():
        edge = max(at, math.floor(end / PERIODS[name]) * PERIODS[name])
        if edge > at:
            out.append((name, at, edge))
            at = edge
    if end > at:
        out.append((None, at, end))
    return out


def bucket_counts(
    store: Store,
    sli: AvailabilitySLI | LatencySLI,
    monitors: Collection[str],
    width: float,
    first: int,
    last: int,
    exclusions: Exclusions,
    until: float = math.inf,
) -> Counts:
    """(good, total) of each bucket of ``width`` seconds, indexes ``first`` to ``last``,
    over ``monitors``, as the store holds them (module docstring), of the checks made
    before ``until`` alone; buckets without an event left out."""
    since, end = first * width, min((last + 1) * width, until)
    if not monitors or end <= since:
        return {}
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for period, start, stop in pieces(period_of(width), since, end):
        if period is None:
            _raw_counts(out, store, sli, monitors, width, start, stop, exclusions)
            continue
        _fold(out, _rollup_counts(store, sli, monitors, period, start, stop), width, 1)
        for group, spans in exclusions.groups(monitors, PERIODS[period], start, stop):
            for a, b in spans:
                _fold(out, _rollup_counts(store, sli, group, period, a, b), width, -1)
    return {i: (g, t) for i, (g, t) in out.items() if t > 0}


def _raw_counts(
    out: dict[int, list[int]],
    store: Store,
    sli: AvailabilitySLI | LatencySLI,
    monitors: Collection[str],
    width: float,
    since: float,
    until: float,
    exclusions: Exclusions,
) -> None:
    """Each raw result of ``[since, until)`` judged as the live count judges a check."""
    for monitor, ts, ok, kind, ms in store.result_rows(monitors, since, until):
        good = is_good(sli, Sample(ts, ok, kind, ms, exclusions.at(monitor, ts)))
        if good is not None:
            bucket = out[math.floor(ts / width)]
            bucket[0] += int(good)
            bucket[1] += 1


def _fold(
    out: dict[int, list[int]], counts: Mapping[float, tuple[int, int]], width: float, sign: int
) -> None:
    for start, (good, total) in counts.items():
        bucket = out[math.floor(start / width)]
        bucket[0] += sign * good
        bucket[1] += sign * total


@dataclass(frozen=True, slots=True)
class Spent:
    """Failures that spent a budget, as the store holds them: ``n`` of ``monitor``'s of
    ``kind`` (None: a failed condition) in the bucket starting at ``at``."""

    at: float
    monitor: str
    kind: str | None
    n: int


def spent_rows(
    store: Store,
    sli: AvailabilitySLI | LatencySLI,
    monitors: Collection[str],
    width: float,
    since: float,
    until: float,
    exclusions: Exclusions,
) -> Iterable[Spent]:
    """The counted failures of ``monitors`` from ``since`` to ``until``, by monitor and
    kind, in buckets of ``width`` (an hour or a day): who spent the budget."""
    for period, start, stop in pieces(period_of(width) or "hour", since, until):
        if period is None:
            yield from _raw_spent(store, sli, monitors, width, start, stop, exclusions)
            continue
        seconds = PERIODS[period]
        excluded: dict[str, set[float]] = {}
        for group, spans in exclusions.groups(monitors, seconds, start, stop):
            hit = {a for a0, b0 in spans for a in _starts(a0, b0, seconds)}
            excluded.update(dict.fromkeys(group, hit))
        for monitor, at, failed, kinds in store.rollup_failures(monitors, period, start, stop):
            if at in excluded.get(monitor, ()):
                continue
            bucket = math.floor(at / width) * width
            for kind, n in kinds.items():
                if isinstance(sli, LatencySLI) or sli.counts(kind):
                    yield Spent(bucket, monitor, kind, n)
            unnamed = failed - sum(kinds.values())
            if unnamed > 0 and (isinstance(sli, LatencySLI) or sli.counts(None)):
                yield Spent(bucket, monitor, None, unnamed)


def _raw_spent(
    store: Store,
    sli: AvailabilitySLI | LatencySLI,
    monitors: Collection[str],
    width: float,
    since: float,
    until: float,
    exclusions: Exclusions,
) -> Iterable[Spent]:
    for monitor, ts, ok, kind, _ in store.result_rows(monitors, since, until):
        if ok or exclusions.at(monitor, ts):
            continue
        if isinstance(sli, LatencySLI) or sli.counts(kind):
            yield Spent(math.floor(ts / width) * width, monitor, kind, 1)


def _starts(start: float, end: float, width: float) -> Iterable[float]:
    at = start
    while at < end - width / 2:
        yield at
        at += width
