"""What a store keeps of the probes' results (issue 25: the store's protocol by concern):
results, roll-ups, state changes, detector state and each monitor's state at each
location; the protocol of their writes and reads, how their rows become values, and the
SQL both backends share for them."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Final, Protocol

from tether.monitor._records import LocationState, ProbeRecord, kind_from_text, stored_ms
from tether.monitor._state import State
from tether.monitor.store._dialect import C, SQLStore
from tether.monitor.store._rollups import FOLD_EVERY, TALLY_COLUMNS, Tally, bucket_start
from tether.monitor.store._values import (
    Decode,
    Fence,
    LocationRead,
    LocationRow,
    Rollup,
    StoreError,
)

# The columns both backends' SQL names, in the order the row helpers read them.
RESULT_COLUMNS: Final = "monitor, ts, ok, kind, latency_ms, detail, data"
VERDICT_COLUMNS: Final = "monitor, ts, ok, kind, latency_ms, detail"
"""A result's columns but its ``data``: what a detector counts (:func:`verdict_record`)."""

LOCATION_COLUMNS: Final = "monitor, location, state, since, reason, kind, detail, host, latency_ms"
"""What a location state's writer gives, in order; ``updated`` is the database's."""


class ResultStore(Protocol):
    """A store's results, state changes, location states and detector state: their
    writes (batched) and reads."""

    def record(self, record: ProbeRecord) -> None:
        """Queue a probe result; it is committed with the next batch."""

    def record_state(self, monitor: str, at: float, state: State) -> None:
        """Queue a change of ``monitor``'s state at ``at``; uptime is computed from these."""

    def record_location_state(self, state: LocationState, *, fence: Fence | None = None) -> None:
        """Queue ``state`` as its monitor's state at its location, batched like
        :meth:`record_state`; of several queued for one monitor and location the last
        wins, and while the database cannot be written only that one is held.  With
        ``fence``, it is written only if the fence holds then (see :class:`Fence`)."""

    def record_push(
        self, monitor: str, at: float, ok: bool, detail: str | None, latency_ms: float | None
    ) -> None:
        """Queue a heartbeat of push monitor ``monitor``: kept as its last push, read
        back by every instance in :meth:`controls`; of several queued for one monitor
        the last wins, and it is held, not lost, while the database cannot be written."""

    def location_states(self, since: float | None = None) -> list[LocationRow]:
        """Every monitor's state at every location, each with when the database took it,
        or only those taken at or after ``since`` (an ``updated`` read before, less an
        overlap: see ``LocationFeed``), oldest first."""

    def location_changes(self, since: float | None, horizon: int | None) -> LocationRead:
        """The location states a reader that read up to ``horizon`` (the last read's,
        or None) may not have seen, among those taken at or after ``since`` (None: all):
        what :class:`LocationFeed` reads every second.  PostgreSQL reads only the rows
        written by transactions from ``horizon`` on, so a wave's rows are read about
        once, not once a second for as long as ``since`` reaches back."""

    # -- state, reading ----------------------------------------------------------------

    def save_state(self, monitor: str, data: dict[str, Any]) -> None:
        """Queue detector state under ``monitor``; the last one saved wins."""

    def load_state(self, names: Collection[str] | None = None) -> dict[str, dict[str, Any]]:
        """Every saved state by name, or those of ``names`` alone (the monitors an
        instance takes over: not every state of every monitor)."""

    def results(self, monitor: str, since: float = 0.0, limit: int = 1000) -> list[ProbeRecord]:
        """A monitor's raw results since ``since``, newest first."""

    def rollups(self, monitor: str, period: str, since: float = 0.0) -> list[Rollup]:
        """A monitor's roll-ups for ``period`` (minute, hour, day) since ``since``, oldest first."""

    def state_changes(self, monitor: str, since: float) -> list[tuple[float, State]]:
        """``monitor``'s state changes since ``since``, oldest first, led by the last change
        before ``since`` (the state it was in then), if any."""

    def state_changes_of(
        self, monitors: Collection[str], since: float
    ) -> dict[str, list[tuple[float, State]]]:
        """Each of ``monitors``' state changes as :meth:`state_changes` gives them (an empty
        list for one with none), in one read: a page's uptimes."""

    def rollups_of(self, since: Mapping[str, float], period: str) -> dict[str, list[Rollup]]:
        """Each monitor's roll-ups for ``period`` from its own ``since``, oldest first, as
        :meth:`rollups` gives them (an empty list for one with none), in one read."""

    def failures_of(self, since: Mapping[str, float], limit: int) -> dict[str, ProbeRecord]:
        """Each monitor's newest failed result among its newest ``limit`` results from its
        own ``since``; a monitor with none is left out.  In one read."""

    def verdicts_of(self, since: Mapping[str, float], limit: int) -> dict[str, list[ProbeRecord]]:
        """Each monitor's newest ``limit`` results made after its own ``since``, oldest
        first, their verdicts alone (ok, kind, latency and detail: no phases, conditions
        or lag); a monitor with none is left out.  In one read: what a restart gives each
        detector back of the checks its saved state had not seen."""

    def latest_results(self, monitors: Collection[str]) -> dict[str, ProbeRecord]:
        """Each of ``monitors``' newest result, from whichever location or instance took
        it; a monitor with none is left out.  In one read: a page's last checks."""

    def every_state_change(self, since: float) -> dict[str, list[tuple[float, State]]]:
        """Every monitor's state changes since ``since`` as :meth:`state_changes` gives one
        monitor's (oldest first, led by the last change before ``since``), in one read:
        the dashboard's overview sorts thousands of monitors by uptime."""

    # -- what an objective reads back (issue 44: objectives seeded from the store) -----

    def rollup_sums(
        self,
        monitors: Collection[str],
        period: str,
        since: float,
        until: float,
        below_ms: float | None = None,
    ) -> list[tuple[float, int, int, int]]:
        """``monitors``' roll-ups of ``period`` starting in ``[since, until)``, summed by
        start in one read (the sum is the database's: an objective of 10,000 monitors
        over 30 days reads 720 rows, not 7.2 million): (start, count, ok_count, quick),
        oldest first.  ``quick`` is the passed checks of the roll-ups whose latency is
        under ``below_ms`` as a roll-up can tell (all of them when its slowest was, none
        when its fastest was not, else as its average says); 0 without ``below_ms``."""

    def rollup_failures(
        self, monitors: Collection[str], period: str, since: float, until: float
    ) -> list[tuple[str, float, int, dict[str, int]]]:
        """Each of ``monitors``' roll-ups of ``period`` starting in ``[since, until)`` that
        holds a failed check: (monitor, start, failed checks, failures by kind; those
        without a kind are failed conditions)."""

    def result_rows(
        self, monitors: Collection[str], since: float, until: float
    ) -> list[tuple[str, float, bool, str | None, float | None]]:
        """``monitors``' raw results in ``[since, until)``, as (monitor, ts, ok, kind,
        latency_ms): no detail, no data."""


# -- rows to values -----------------------------------------------------------------------


def probe_record(row: Sequence[Any], decode: Decode) -> ProbeRecord:
    """A result read back in :data:`RESULT_COLUMNS` order; one whose columns are not what
    tether writes (a direct write to the database) is read as far as it can be, never
    raised on: every page that shows it would fail."""
    monitor, ts, ok, kind, latency_ms, detail, data = row
    try:
        extra = decode(data)
    except (ValueError, TypeError):
        extra = None
    text = None if detail is None else str(detail)
    return ProbeRecord.from_row(str(monitor), ts, ok, kind, latency_ms, text, extra)


def verdict_record(row: Sequence[Any]) -> ProbeRecord | None:
    """A result read back in :data:`VERDICT_COLUMNS` order: its verdict alone (None for
    a row whose time is no time, which a direct write to the database can leave)."""
    monitor, ts, ok, kind, latency_ms, detail = row
    if (type(ts) is not float and type(ts) is not int) or not math.isfinite(ts):
        return None
    failed = None if kind is None else kind_from_text(kind)
    text = None if detail is None else str(detail)
    return ProbeRecord(str(monitor), float(ts), bool(ok), failed, stored_ms(latency_ms), text)


def verdicts_by_monitor(rows: Iterable[Sequence[Any]]) -> dict[str, list[ProbeRecord]]:
    """Rows read in :data:`VERDICT_COLUMNS` order as each monitor's verdicts, oldest
    first (a row whose time is no time left out)."""
    out: dict[str, list[ProbeRecord]] = {}
    found = [r for r in map(verdict_record, rows) if r is not None]
    for record in sorted(found, key=lambda r: (r.monitor, r.ts)):
        out.setdefault(record.monitor, []).append(record)
    return out


def location_values(state: LocationState) -> tuple[Any, ...]:
    """The values for :data:`LOCATION_COLUMNS`."""
    kind = None if state.kind is None else state.kind.value
    return (
        state.monitor,
        state.location,
        str(state.state),
        state.since,
        state.reason,
        kind,
        state.detail,
        state.host,
        state.latency_ms,
    )


def location_row(row: Sequence[Any]) -> LocationRow:
    """A location state read back in :data:`LOCATION_COLUMNS` order, then ``updated``."""
    monitor, location, state, since, reason, kind, detail, host, latency_ms, updated = row
    try:
        known = State(state)
    except ValueError:  # a newer tether's state
        known = State.UNKNOWN
    stored = LocationState(
        monitor,
        location,
        known,
        float(since),
        reason,
        None if kind is None else kind_from_text(kind),
        detail,
        host,
        stored_ms(latency_ms),
    )
    return LocationRow(stored, float(updated))


class ResultSQL(SQLStore[C]):
    """The SQL of results, roll-ups and detector state that both backends share (writing
    them, and the reads of many monitors at once, are each backend's own)."""

    _select_state_changes: ClassVar[str]
    """One monitor's state changes from ``since``, led by the last one before it, oldest
    first: (at, state) rows; its parameters are (monitor, since, monitor, since)."""
    _select_every_change: ClassVar[str]
    """Every monitor's state changes as :attr:`_select_state_changes` reads one's,
    ordered by monitor and time: (monitor, at, state) rows; parameters (since, since)."""

    # -- the hour's and the day's roll-ups, folded now and then (issue 46 §3) ---------
    #
    # A batch adds itself to the minute's roll-ups as it is written, and leaves what it
    # adds to the hour's and the day's for a fold (each backend's ``_fold_rows``): every
    # FOLD_EVERY seconds, with the first batch of a later hour, at a flush and at the
    # close of a store that wrote results.  A fold adds a monitor's checks since the last
    # one in one update of each row, where each batch updated them for its one check.
    # What is left to fold is kept in the database, in the batch's own transaction, so a
    # crash leaves it for the next fold, and none is added twice.

    _fold_at: float = -math.inf
    """When the next fold is due (the writer's clock); the first batch folds what a
    process that ended without folding left."""
    _fold_hour: float = -math.inf
    """The newest hour a batch held at the last fold: a batch of a later one folds, so an
    hour's rows are whole soon after it ends."""
    _unfolded: bool = True
    """May there be results to fold (a fold with nothing to do reads nothing)?  At a
    start, what a process that ended without folding left."""
    _wrote: bool = False
    """Has this store written results (its close folds them)?"""

    def _fold_rows(self, conn: C) -> None:
        """Add what is left to fold to the hour's and the day's roll-ups and mark it
        folded, in the caller's transaction (the backend's)."""
        raise NotImplementedError

    def _fold(self, conn: C) -> None:
        self._fold_at = self._clock() + FOLD_EVERY
        if self._unfolded:
            self._fold_rows(conn)
            # If the transaction rolls back, the database is as it was, and the batch is
            # written again (held), which sets this again.
            self._unfolded = False

    def _written(self, conn: C, records: Sequence[ProbeRecord]) -> None:
        """``records`` were just written, their fold left to do: fold now if one is due."""
        self._unfolded = self._wrote = True
        hour = bucket_start(max(r.ts for r in records), 3600)
        if hour > self._fold_hour or self._clock() >= self._fold_at:
            self._fold(conn)
            self._fold_hour = max(self._fold_hour, hour)

    def flush(self) -> None:
        """Wait until everything queued so far is committed and the hour's and the day's
        roll-ups folded (StoreError while the database cannot be written: what is queued
        is held, not lost)."""
        self._call(self._fold)

    def close(self) -> None:
        """Commit what is queued, fold the hour's and the day's roll-ups if this store
        wrote results (unless the database cannot be written: the next fold, any
        process's, takes them), and release the database.  A command that only read
        (``tether status`` beside a running monitor) leaves the folds to the monitor."""
        if not self._closed and self._wrote:
            with contextlib.suppress(StoreError):
                self._call(self._fold)
        super().close()

    def state_changes(self, monitor: str, since: float) -> list[tuple[float, State]]:
        rows = self._rows(self._select_state_changes, (monitor, since, monitor, since))
        return [(at, State(state)) for at, state in rows]

    def every_state_change(self, since: float) -> dict[str, list[tuple[float, State]]]:
        out: dict[str, list[tuple[float, State]]] = {}
        for monitor, at, state in self._rows(self._select_every_change, (since, since)):
            out.setdefault(monitor, []).append((at, State(state)))
        return out

    def results(self, monitor: str, since: float = 0.0, limit: int = 1000) -> list[ProbeRecord]:
        rows = self._rows(
            f"SELECT {RESULT_COLUMNS} FROM results "
            "WHERE monitor = %s AND ts >= %s ORDER BY ts DESC LIMIT %s",
            (monitor, since, limit),
        )
        return [probe_record(r, self._decode) for r in rows]

    def rollups(self, monitor: str, period: str, since: float = 0.0) -> list[Rollup]:
        rows = self._rows(
            f"SELECT start, {TALLY_COLUMNS} FROM rollups "
            "WHERE monitor = %s AND period = %s AND start >= %s ORDER BY start",
            (monitor, period, since),
        )
        return [Tally.from_row(r[1:], self._decode).rollup(monitor, period, r[0]) for r in rows]

    def rollup_sums(
        self,
        monitors: Collection[str],
        period: str,
        since: float,
        until: float,
        below_ms: float | None = None,
    ) -> list[tuple[float, int, int, int]]:
        rows = self._rows(
            "SELECT start, sum(count), sum(ok_count), sum(CASE WHEN %s::float8 IS NULL THEN 0 "
            "WHEN latency_count = 0 OR latency_min IS NULL OR latency_max IS NULL THEN 0 "
            "WHEN latency_max < %s THEN ok_count WHEN latency_min >= %s THEN 0 "
            "WHEN latency_sum / latency_count < %s THEN ok_count ELSE 0 END) "
            f"FROM rollups WHERE period = %s AND start >= %s AND start < %s AND "
            f"{self._any('monitor', '%s', 'text[]')} GROUP BY start ORDER BY start",
            (below_ms, below_ms, below_ms, below_ms, period, since, until, self._list(monitors)),
        )
        return [(float(a), int(n), int(ok), int(quick)) for a, n, ok, quick in rows]

    def rollup_failures(
        self, monitors: Collection[str], period: str, since: float, until: float
    ) -> list[tuple[str, float, int, dict[str, int]]]:
        rows = self._rows(
            "SELECT monitor, start, count - ok_count, kinds FROM rollups "
            "WHERE period = %s AND start >= %s AND start < %s AND ok_count < count AND "
            f"{self._any('monitor', '%s', 'text[]')}",
            (period, since, until, self._list(monitors)),
        )
        return [(m, float(a), int(n), dict(self._decode(kinds))) for m, a, n, kinds in rows]

    def result_rows(
        self, monitors: Collection[str], since: float, until: float
    ) -> list[tuple[str, float, bool, str | None, float | None]]:
        rows = self._rows(
            "SELECT monitor, ts, ok, kind, latency_ms FROM results "
            f"WHERE ts >= %s AND ts < %s AND {self._any('monitor', '%s', 'text[]')}",
            (since, until, self._list(monitors)),
        )
        return [(m, float(ts), bool(ok), kind, stored_ms(ms)) for m, ts, ok, kind, ms in rows]

    def load_state(self, names: Collection[str] | None = None) -> dict[str, dict[str, Any]]:
        if names is None:
            rows = self._rows("SELECT monitor, data FROM monitor_state")
        else:
            rows = self._rows(
                f"SELECT monitor, data FROM monitor_state WHERE {self._any('monitor', '%s')}",
                (self._list(list(names)),),
            )
        return {m: self._decode(d) for m, d in rows}

    def location_states(self, since: float | None = None) -> list[LocationRow]:
        rows = self._rows(
            f"SELECT {LOCATION_COLUMNS}, updated FROM tether_location_states "
            "WHERE %s::float8 IS NULL OR updated >= %s ORDER BY updated, monitor, location",
            (since, since),
        )
        return [location_row(r) for r in rows]

    def location_changes(self, since: float | None, horizon: int | None) -> LocationRead:
        # SQLite's one writer stamps its rows in the order it commits them: ``since``
        # alone is enough, and there is no horizon to keep.
        return LocationRead(self.location_states(since), None)
