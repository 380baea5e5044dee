"""What every store keeps and promises, and the logic that does not depend on SQL.

Both backends (SQLite, PostgreSQL) satisfy :class:`Store`.  What they share is
written here once: the value types, the roll-up maths (:class:`Tally`: bucket
boundaries, counts, latency sum, min and max, failures by kind), and how a
stored row becomes a value.  A backend only says how rows reach its database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, Self

PERIODS: Final = {"minute": 60, "hour": 3600, "day": 86400}
"""The roll-up periods and their length in seconds."""

# Column lists shared by both backends' SQL, in the order the row helpers read them.
RESULT_COLUMNS: Final = "monitor, ts, ok, kind, latency_ms, detail, data"
TALLY_COLUMNS: Final = (
    "count, ok_count, latency_count, latency_sum, latency_min, latency_max, kinds"
)
ALERT_COLUMNS: Final = "id, channel, dedup, payload, attempts"
INCIDENT_COLUMNS: Final = "id, key, kind, detail, hint, opened, resolved, monitors, timeline"

Decode = Callable[[Any], Any]
"""How a backend turns a stored JSON column into Python (``json.loads`` for text)."""

RollupKey = tuple[str, str, float]
"""(monitor, period, bucket start) identifies one roll-up row."""


class StoreError(RuntimeError):
    """The database cannot be opened or used, or is from a newer tether."""


@dataclass(frozen=True, slots=True)
class ProbeRecord:
    """One stored probe result."""

    monitor: str
    ts: float
    ok: bool
    kind: str | None = None
    latency_ms: float | None = None
    detail: str | None = None
    data: dict[str, Any] | None = None
    """Phase timings, resolved conditions and the like, stored as JSON."""


@dataclass(frozen=True, slots=True)
class Rollup:
    """One monitor's results summed over one minute, hour or day."""

    monitor: str
    period: str
    start: float
    count: int
    ok_count: int
    latency_avg: float | None
    latency_min: float | None
    latency_max: float | None
    kinds: dict[str, int]


class Store(Protocol):
    """The monitor's history: results, roll-ups, the alert outbox, incidents, detector state.

    Writes are serialised by one writer; :meth:`record` and :meth:`save_state`
    are batched, every other write is committed before it returns.  Times are
    passed in (Unix seconds), never read.
    """

    def record(self, record: ProbeRecord) -> None:
        """Queue a probe result; it is committed with the next batch."""

    def flush(self) -> None:
        """Wait until everything queued so far is committed."""

    def enqueue_alert(self, channel: str, dedup: str, payload: dict[str, Any], now: float) -> bool:
        """Put an alert in the outbox, committed before returning; False if ``dedup`` exists."""

    def due_alerts(self, now: float, limit: int = 100) -> list[dict[str, Any]]:
        """Undelivered alerts whose retry time has come, oldest first."""

    def mark_delivered(self, alert_id: int, now: float) -> None:
        """Record that an alert reached its channel."""

    def mark_failed(self, alert_id: int, error: str, retry_at: float) -> None:
        """Count a failed delivery and schedule the next try."""

    def open_incident(
        self, key: str, kind: str, detail: str, hint: str, monitors: Sequence[str], now: float
    ) -> int:
        """Open an incident (committed on return) and return its id."""

    def note_incident(
        self,
        incident_id: int,
        event: str,
        detail: str,
        now: float,
        *,
        resolve: bool = False,
        monitors: Sequence[str] | None = None,
    ) -> None:
        """Add to an incident's timeline; ``resolve`` closes it at ``now``; ``monitors``,
        when given, replaces the list of monitors it affects."""

    def incidents(self, *, open_only: bool = False, limit: int = 100) -> list[dict[str, Any]]:
        """Incidents with their timeline, newest first."""

    def save_state(self, monitor: str, data: dict[str, Any]) -> None:
        """Queue detector state under ``monitor``; the last one saved wins."""

    def load_state(self) -> dict[str, dict[str, Any]]:
        """Every saved state, by name."""

    def prune(self, now: float) -> tuple[int, int]:
        """Delete raw results and roll-ups past their retention; (results, roll-ups) removed."""

    def results(self, monitor: str, since: float = 0.0, limit: int = 1000) -> list[ProbeRecord]:
        """A monitor's raw results since ``since``, newest first."""

    def rollups(self, monitor: str, period: str, since: float = 0.0) -> list[Rollup]:
        """A monitor's roll-ups for ``period`` (minute, hour, day) since ``since``, oldest first."""

    def close(self) -> None:
        """Commit what is queued and release the database."""

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


# -- roll-up maths ------------------------------------------------------------------------


def bucket_start(ts: float, seconds: int) -> float:
    """The start of the ``seconds``-long bucket that holds ``ts`` (buckets align to the epoch)."""
    return ts - ts % seconds


def _low(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _high(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


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


# -- rows to values -----------------------------------------------------------------------


def probe_record(row: Sequence[Any], decode: Decode) -> ProbeRecord:
    """A result read back in :data:`RESULT_COLUMNS` order."""
    monitor, ts, ok, kind, latency_ms, detail, data = row
    return ProbeRecord(monitor, ts, bool(ok), kind, latency_ms, detail, decode(data))


def alert_dict(row: Sequence[Any], decode: Decode) -> dict[str, Any]:
    """An outbox row read back in :data:`ALERT_COLUMNS` order."""
    alert_id, channel, dedup, payload, attempts = row
    return {
        "id": alert_id,
        "channel": channel,
        "dedup": dedup,
        "payload": decode(payload),
        "attempts": attempts,
    }


def incident_dict(row: Sequence[Any], decode: Decode) -> dict[str, Any]:
    """An incident read back in :data:`INCIDENT_COLUMNS` order."""
    names = [c.strip() for c in INCIDENT_COLUMNS.split(",")]
    incident = dict(zip(names, row, strict=True))
    incident["monitors"] = decode(incident["monitors"])
    incident["timeline"] = decode(incident["timeline"])
    return incident


def timeline_event(now: float, event: str, detail: str) -> dict[str, Any]:
    """One entry of an incident's timeline."""
    return {"at": now, "event": event, "detail": detail}


def too_new(version: int, known: int, where: str) -> StoreError:
    """The error for a database migrated by a newer tether than this one."""
    return StoreError(
        f"the database is at schema version {version}, newer than this tether knows "
        f"({known}): upgrade tether, or use another {where}"
    )
