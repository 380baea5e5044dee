"""Roll-ups: their periods, their maths (:class:`Tally`: bucket boundaries, counts,
latency sum, min and max, failures by kind), and what a batch of results adds to them,
in each database's SQL.  A batch is added to the minute's roll-ups as it is written, and
to the hour's and the day's by a fold every :data:`FOLD_EVERY` seconds
(``_results.py``: a row updated in place for each check was 38% of what a result cost
the SQLite store).  SQLite tallies the rows the batch just wrote
(:data:`SQLITE_TALLY_BATCH`), and a fold the rows written since the last one;
PostgreSQL takes the batch as arrays (:func:`rollup_arrays`) and tallies it and adds it
to the rows it touches in one statement (:data:`ADD_ROLLUPS`), keeping the arrays for
the fold (:data:`QUEUE_FOLD`, :data:`FOLD_PENDING`).  Nothing is
read back into Python: in a mass outage the read, the merge in Python and the write back
were a sixth of an instance's interpreter lock; and an addition in the database is safe
when two instances of a cluster add to one row at once, where writing back a merged row
could lose the other's count.  ``tests/monitor/store/test_store_rollups.py`` holds both
stores to the pure tally (:func:`tally`) over random batches."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from tether.monitor._records import ProbeRecord, stored_ms
from tether.monitor.store._values import Decode, Rollup

__all__ = [
    "ADD_ROLLUPS",
    "FOLDED",
    "FOLD_EVERY",
    "FOLD_PENDING",
    "PERIODS",
    "QUEUE_FOLD",
    "SQLITE_TALLY_BATCH",
    "TALLY_COLUMNS",
    "RollupKey",
    "Tally",
    "bucket_sql",
    "bucket_start",
    "merge_tallies",
    "rollup_arrays",
    "tally",
]


PERIODS: Final = {"minute": 60, "hour": 3600, "day": 86400}
"""The roll-up periods and their length in seconds."""

FOLDED: Final[tuple[str, ...]] = ("hour", "day")
"""The periods the SQLite store folds its results into now and then, not batch by batch."""
FOLD_EVERY: Final = 300.0
"""Seconds between the SQLite store's folds of its new results into the hour's and the
day's roll-ups (besides the first batch after an hour begins, a flush and a close): at
a 60 s interval a fold adds five checks of a monitor to its rows in one update, where
each batch updated them for one."""

# The roll-up rows' totals, in the order :meth:`Tally.from_row` reads them.
TALLY_COLUMNS: Final = (
    "count, ok_count, latency_count, latency_sum, latency_min, latency_max, kinds"
)

RollupKey = tuple[str, str, float]
"""(monitor, period, bucket start) identifies one roll-up row."""


# -- roll-up maths ------------------------------------------------------------------------


def bucket_start(ts: float, seconds: int) -> float:
    """The start of the ``seconds``-long bucket that holds ``ts`` (buckets align to the epoch)."""
    return ts - ts % seconds


def _low(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _high(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def _mean_ms(total: object, count: object) -> float | None:
    """The mean duration a stored sum and count say, if it is one (:func:`stored_ms`)."""
    try:
        return stored_ms(float(total) / int(count))  # type: ignore[arg-type, call-overload]
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        return None


@dataclass(frozen=True, slots=True)
class Tally:
    """The running totals behind one roll-up row.

    The latency *sum* and count are stored, not the average, so two tallies
    merge exactly however the results were batched.
    """

    count: int = 0
    ok_count: int = 0
    latency_count: int = 0
    latency_sum: float = 0.0
    latency_min: float | None = None
    latency_max: float | None = None
    kinds: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, record: ProbeRecord) -> Tally:
        """The tally of one result."""
        timed = record.latency_ms is not None
        return cls(
            count=1,
            ok_count=int(record.ok),
            latency_count=int(timed),
            latency_sum=record.latency_ms or 0.0,
            latency_min=record.latency_ms,
            latency_max=record.latency_ms,
            kinds={record.kind: 1} if record.kind else {},
        )

    @classmethod
    def from_row(cls, row: Sequence[Any], decode: Decode) -> Tally:
        """A tally read back in :data:`TALLY_COLUMNS` order."""
        count, ok_count, latency_count, latency_sum, low, high, kinds = row
        # Latencies a direct write left infinite or text are read as none measured, so
        # an average never says what no check took (stored_ms).
        low, high = stored_ms(low), stored_ms(high)
        if latency_count and (_mean_ms(latency_sum, latency_count) is None or low is None):
            latency_count, latency_sum, low, high = 0, 0.0, None, None
        return cls(count, ok_count, latency_count, latency_sum, low, high, decode(kinds))

    def merged(self, other: Tally) -> Tally:
        """Both tallies as one."""
        kinds = dict(self.kinds)
        for kind, n in other.kinds.items():
            kinds[kind] = kinds.get(kind, 0) + n
        return Tally(
            self.count + other.count,
            self.ok_count + other.ok_count,
            self.latency_count + other.latency_count,
            self.latency_sum + other.latency_sum,
            _low(self.latency_min, other.latency_min),
            _high(self.latency_max, other.latency_max),
            kinds,
        )

    def row(self, encode: Callable[[dict[str, int]], Any]) -> tuple[Any, ...]:
        """The values for :data:`TALLY_COLUMNS`, ``kinds`` encoded the backend's way."""
        return (
            self.count,
            self.ok_count,
            self.latency_count,
            self.latency_sum,
            self.latency_min,
            self.latency_max,
            encode(self.kinds),
        )

    def rollup(self, monitor: str, period: str, start: float) -> Rollup:
        """The roll-up these totals stand for (the average is derived here, once)."""
        avg = self.latency_sum / self.latency_count if self.latency_count else None
        return Rollup(
            monitor,
            period,
            start,
            self.count,
            self.ok_count,
            avg,
            self.latency_min,
            self.latency_max,
            self.kinds,
        )


def tally(records: Iterable[ProbeRecord]) -> dict[RollupKey, Tally]:
    """What a batch of results adds to each roll-up row it touches, for every period."""
    tallies: dict[RollupKey, Tally] = {}
    for record in records:
        one = Tally.of(record)
        for period, seconds in PERIODS.items():
            key = (record.monitor, period, bucket_start(record.ts, seconds))
            before = tallies.get(key)
            tallies[key] = one if before is None else before.merged(one)
    return tallies


def merge_tallies(
    new: dict[RollupKey, Tally], stored: dict[RollupKey, Tally]
) -> dict[RollupKey, Tally]:
    """``new`` added to what is ``stored`` for the same rows: the rows to write back."""
    return {key: stored[key].merged(t) if key in stored else t for key, t in new.items()}


# -- the roll-ups a batch adds, in each database's SQL ---------------------------------


def _add_rollups(source: str, periods: Sequence[str]) -> str:
    """PostgreSQL's statement adding the results ``source`` gives (monitor, ok, kind,
    latency, and each of ``periods``' bucket start, in columns of those names) to the
    roll-up rows of ``periods``, each row once."""
    starts = ", ".join(f"('{p}', {p})" for p in periods)
    return (
        f"INSERT INTO rollups (monitor, period, start, {TALLY_COLUMNS}) "
        "SELECT monitor, period, start, sum(n), sum(ok_n), sum(lat_n), sum(lat_sum), "
        "min(lat_min), max(lat_max), "
        "coalesce(jsonb_object_agg(kind, n) FILTER (WHERE kind IS NOT NULL), '{}') "
        "FROM (SELECT monitor, period, start, kind, count(*) AS n, "
        "count(*) FILTER (WHERE ok) AS ok_n, count(latency) AS lat_n, "
        "coalesce(sum(latency), 0) AS lat_sum, min(latency) AS lat_min, "
        "max(latency) AS lat_max "
        f"FROM {source} "
        # Each result in the bucket of each period (bucket_start, worked out in Python).
        f"CROSS JOIN LATERAL (VALUES {starts}) AS p(period, start) "
        "GROUP BY monitor, period, start, kind) g "
        "GROUP BY monitor, period, start "
        # Rows locked in one order by every writer: two instances adding to the same
        # rows in a hash aggregate's order each could deadlock, each holding a row the
        # other needs.
        "ORDER BY monitor, period, start "
        "ON CONFLICT (monitor, period, start) DO UPDATE SET "
        "count = rollups.count + excluded.count, "
        "ok_count = rollups.ok_count + excluded.ok_count, "
        "latency_count = rollups.latency_count + excluded.latency_count, "
        "latency_sum = rollups.latency_sum + excluded.latency_sum, "
        # least() and greatest() leave out a NULL side: one without latencies defers.
        "latency_min = least(rollups.latency_min, excluded.latency_min), "
        "latency_max = greatest(rollups.latency_max, excluded.latency_max), "
        # Failure kinds added up by name (most batches add none: the row's stay as they
        # are): the batch's kinds (one, as a rule), each added to the row's count of it,
        # over the row's; no pass over the row's other kinds.
        "kinds = CASE WHEN excluded.kinds = '{}' THEN rollups.kinds "
        "WHEN rollups.kinds = '{}' THEN excluded.kinds "
        "ELSE rollups.kinds || (SELECT jsonb_object_agg(key, value::bigint "
        "+ coalesce((rollups.kinds->>key)::bigint, 0)) FROM jsonb_each_text(excluded.kinds)) END"
    )


_UNFOLDED: Final = tuple(p for p in PERIODS if p not in FOLDED)

ADD_ROLLUPS: Final = _add_rollups(
    "unnest(%(monitor)b::text[], %(ok)b::bool[], %(kind)b::text[], %(latency)b::float8[], "
    + ", ".join(f"%({p})b::float8[]" for p in _UNFOLDED)
    + f") AS b(monitor, ok, kind, latency, {', '.join(_UNFOLDED)})",
    _UNFOLDED,
)
"""What a batch of results adds to the roll-up rows of the periods not folded (the
minute's), added to the rows in the database by PostgreSQL (as
:data:`SQLITE_TALLY_BATCH` does): the batch's results as arrays, each with its bucket's
start in each period."""

QUEUE_FOLD: Final = (
    "INSERT INTO rollups_pending (monitor, ok, kind, latency, "
    + ", ".join(FOLDED)
    + ") VALUES (%(monitor)b::text[], %(ok)b::bool[], %(kind)b::text[], %(latency)b::float8[], "
    + ", ".join(f"%({p})b::float8[]" for p in FOLDED)
    + ")"
)
"""A batch's arrays kept for the next fold (:data:`FOLD_PENDING`), in the batch's own
transaction: one row a batch, where adding them to the hour's and the day's rows was an
update of two rows a result."""

FOLD_PENDING: Final = _add_rollups(
    "(SELECT unnest(monitor) AS monitor, unnest(ok) AS ok, unnest(kind) AS kind, "
    "unnest(latency) AS latency, "
    + ", ".join(f"unnest({p}) AS {p}" for p in FOLDED)
    + " FROM rollups_pending WHERE id = ANY(%(ids)s)) AS b",
    FOLDED,
)
"""The batches kept for a fold (``rollups_pending`` rows ``ids``, which the fold locks
and then deletes) added to the hour's and the day's roll-ups, each row once."""


def rollup_arrays(records: Sequence[ProbeRecord]) -> dict[str, list[Any]]:
    """:data:`ADD_ROLLUPS`' parameters for ``records``: each field as an array, and each
    result's bucket start in each period (``_base.bucket_start``, worked out here so that
    a float's edge falls in the same bucket as in Python)."""
    return {
        "monitor": [r.monitor for r in records],
        "ok": [r.ok for r in records],
        "kind": [None if r.kind is None else r.kind.value for r in records],
        # Floats, every one: the arrays go in binary, of one type each.
        "latency": [None if r.latency_ms is None else float(r.latency_ms) for r in records],
        **{
            period: [float(r.ts - r.ts % seconds) for r in records]
            for period, seconds in PERIODS.items()
        },
    }


_SQLITE_INTO: Final = f"INSERT INTO rollups (monitor, period, start, {TALLY_COLUMNS})"
_SQLITE_ADD: Final = (
    "ON CONFLICT (monitor, period, start) DO UPDATE SET "
    "count = count + excluded.count, "
    "ok_count = ok_count + excluded.ok_count, "
    "latency_count = latency_count + excluded.latency_count, "
    "latency_sum = latency_sum + excluded.latency_sum, "
    # min() and max() of SQL are NULL when either is: a side without latencies defers.
    "latency_min = coalesce(min(latency_min, excluded.latency_min), latency_min, "
    "excluded.latency_min), "
    "latency_max = coalesce(max(latency_max, excluded.latency_max), latency_max, "
    "excluded.latency_max), "
    # Failure kinds added up by name (most batches add none: the row's stay as they are),
    # written as the SQLite store's ``_dumps`` writes them: keys in order, no spaces.
    "kinds = CASE WHEN excluded.kinds = '{}' THEN kinds WHEN kinds = '{}' THEN excluded.kinds "
    "ELSE (SELECT json_group_object(key, total) FROM (SELECT key, sum(value) AS total FROM "
    "(SELECT key, value FROM json_each(rollups.kinds) UNION ALL "
    "SELECT key, value FROM json_each(excluded.kinds)) GROUP BY key ORDER BY key)) END"
)
"""A batch's tally added to its roll-up row in the database (after
``_SQLITE_INTO VALUES ...``), one statement for all rows:
no read of the rows first (the batch's minute rows are new, and its hour and day rows
are read and written back by SQLite itself)."""


def bucket_sql(seconds: str) -> str:
    """SQLite's SQL for ``_base.bucket_start`` of ``ts`` in ``seconds`` (a parameter): the integer
    part floored to the bucket, one bucket less for a negative ``ts`` below it (SQL's
    division truncates towards zero; Python's ``%`` floors)."""
    whole = f"CAST(ts AS INTEGER) / {seconds} * {seconds}"
    return f"({whole} - (ts < {whole}) * {seconds})"


SQLITE_TALLY_BATCH: Final = (
    f"{_SQLITE_INTO} SELECT monitor, :period, start, sum(n), sum(ok_n), sum(lat_n), "
    "total(lat_sum), min(lat_min), max(lat_max), "
    "coalesce(json_group_object(kind, n) FILTER (WHERE kind IS NOT NULL), '{}') "
    # Grouped by kind first, in order: each row's kinds come out sorted by name, as
    # the SQLite store's _dumps writes them.
    "FROM (SELECT monitor, start, kind, count(*) AS n, sum(ok) AS ok_n, "
    "count(latency_ms) AS lat_n, total(latency_ms) AS lat_sum, min(latency_ms) AS lat_min, "
    "max(latency_ms) AS lat_max FROM (SELECT monitor, "
    f"{bucket_sql(':seconds')} AS start, ok, kind, latency_ms "
    # NOT INDEXED: the batch's rows by their ids, not every row in monitor order.
    "FROM results NOT INDEXED WHERE id > :after) "
    "GROUP BY monitor, start, kind ORDER BY monitor, start, kind) "
    # WHERE true: an upsert after INSERT ... SELECT needs one, or SQLite reads its ON as
    # a join's.
    f"WHERE true GROUP BY monitor, start {_SQLITE_ADD}"
)
"""What the results written after row ``:after`` add to the ``:period`` roll-ups (each
one's :class:`Tally`, summed in SQL), added to the rows as :data:`_SQLITE_ADD` adds."""
