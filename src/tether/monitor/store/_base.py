"""What every store keeps and promises, and the logic that does not depend on SQL.

Both backends (SQLite, PostgreSQL) satisfy :class:`Store`.  What they share is
written here once: the value types, the roll-up maths (:class:`Tally`: bucket
boundaries, counts, latency sum, min and max, failures by kind), and how a
stored row becomes a value.  A backend only says how rows reach its database.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, Self

from tether.monitor._records import (
    Alert,
    AlertPayload,
    AuditEntry,
    Controls,
    Incident,
    LocationState,
    Member,
    Move,
    ProbeRecord,
    Push,
    QueuedAlert,
    TimelineEntry,
    Window,
    kind_from_text,
    kind_text,
    stored_ms,
)
from tether.monitor._state import State

PERIODS: Final = {"minute": 60, "hour": 3600, "day": 86400}
"""The roll-up periods and their length in seconds."""

# Column lists shared by both backends' SQL, in the order the row helpers read them.
RESULT_COLUMNS: Final = "monitor, ts, ok, kind, latency_ms, detail, data"
TALLY_COLUMNS: Final = (
    "count, ok_count, latency_count, latency_sum, latency_min, latency_max, kinds"
)
ALERT_COLUMNS: Final = "id, channel, dedup, payload, attempts, created, next_at, last_error"
INCIDENT_COLUMNS: Final = (
    "id, key, kind, detail, hint, opened, resolved, monitors, acknowledged, folded_into"
)
"""An incident's header row; its members and its timeline have tables of their own
(``incident_members``: one row a member; ``incident_timeline``: one row an entry, in
the order written), so that a change writes what changed, not the whole incident."""

Decode = Callable[[Any], Any]
"""How a backend turns a stored JSON column into Python (``json.loads`` for text)."""

RollupKey = tuple[str, str, float]
"""(monitor, period, bucket start) identifies one roll-up row."""

AUDIT_COLUMNS: Final = "id, at, who, via, action, target, params"
WINDOW_COLUMNS: Final = "id, monitors, start, ends, reason, opened_by, closed, closed_by"
CONTROL_COLUMNS: Final = (
    "monitor, paused, paused_by, check_at, push_at, push_ok, push_detail, push_ms"
)

LOCATION_COLUMNS: Final = "monitor, location, state, since, reason, kind, detail, host, latency_ms"
"""What a location state's writer gives, in order; ``updated`` is the database's."""


@dataclass(frozen=True, slots=True)
class LocationRow:
    """A monitor's state at a location as stored, with ``updated``: when the database took
    it, on the database's own clock, a cursor for reading what changed since (never
    compared with tether's clock)."""

    state: LocationState
    updated: float


@dataclass(frozen=True, slots=True)
class Fence:
    """A condition on a location state's write: that ``owner`` holds ``shard`` of the
    state's location (PostgreSQL's lease table) when the write lands.  A write held
    through an outage by an instance whose shard has moved on meanwhile is dropped, not
    laid over what the new owner wrote."""

    owner: str
    shard: int


def instance_id() -> str:
    """A name for this process among the instances sharing a database, for its claims on
    alerts and its leases: ``HOST:PID:RANDOM``, readable in the tables and new at every
    start (a restarted process is another instance: what the old one claimed waits for
    its claim to run out)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class StoreError(RuntimeError):
    """The database cannot be opened or used, or is from a newer tether.

    ``outage`` says whether it cannot be *reached or written* now (a stopped server, a
    lost connection, a full disk), so that what was being written is held and tried
    again, rather than refused for what it holds.
    """

    def __init__(self, message: str, *, outage: bool = False) -> None:
        super().__init__(message)
        self.outage = outage


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """How the store's writing goes, for ``/metrics``, the log and the dashboard."""

    up: bool
    """False while writes fail and what was given is held."""
    down_for: float
    """Seconds since writing last failed without recovering (0 when up)."""
    error: str | None
    """The last write error, redacted (None when up)."""
    held: int
    """Results and state changes waiting in memory."""
    spilled: int
    """Results and state changes waiting in the spill file."""
    held_writes: int
    """Incident and alert writes waiting."""
    errors: int
    """Failed write attempts since start."""
    dropped: int
    """Results and state changes dropped because memory and the spill file were full."""
    refused: int
    """Items the database refused even alone (logged, left out)."""


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
    """The monitor's history: results, roll-ups, state changes, the alert outbox,
    incidents and detector state.

    Writes are serialised by one writer; :meth:`record`, :meth:`record_state` and
    :meth:`save_state` are batched, every other write is committed before it returns.
    While the database cannot be written, the writes of results, state changes,
    alerts and incidents are held and written once it can (see :meth:`health`);
    reads and other writes raise :class:`StoreError`.  Times are passed in (Unix
    seconds), never read.
    """

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

    def flush(self) -> None:
        """Wait until everything queued so far is committed (StoreError while the
        database cannot be written: what is queued is held, not lost)."""

    def health(self) -> StoreHealth:
        """How writing goes: up or holding, and the figures behind it."""

    # -- the outbox: one queue per channel ---------------------------------------------

    def enqueue_alert(self, channel: str, dedup: str, payload: AlertPayload, now: float) -> bool:
        """Put an alert in ``channel``'s queue, committed before returning; False if that
        channel already has ``dedup``.  While the database cannot be written the alert is
        held (True)."""

    def alert_heads(self) -> list[QueuedAlert]:
        """The oldest undelivered alert of each channel (a channel's next one waits for it,
        so order is kept within a channel), claimed or not."""

    def claim_alerts(
        self, owner: str, now: float, hold_for: float, channel: str | None = None
    ) -> list[QueuedAlert]:
        """Claim for ``owner``, until ``now + hold_for``, the head of each channel (of
        ``channel`` alone, when given) that is due and claimed by no other instance, or
        whose claim ran out; the claimed alerts, oldest first.

        Only a channel's head is ever claimed, so its order is kept whichever instance
        delivers it; ``owner`` may claim again what it holds.  Committed before returning
        (not held: while the database cannot be written this raises StoreError)."""

    def backlog(self) -> dict[str, tuple[int, float]]:
        """Per channel with undelivered alerts: how many, and when the oldest was queued."""

    def mark_delivered(self, alert_id: int, now: float, *, claimer: str | None = None) -> None:
        """Record that an alert reached its channel (whoever holds it now), and end its
        claim."""

    def mark_failed(
        self, alert_id: int, error: str, retry_at: float, *, claimer: str | None = None
    ) -> None:
        """Count a failed delivery, schedule the next try, and end ``claimer``'s claim.  A
        failure of an alert another instance has claimed since (``claimer``'s ran out) or
        delivered is not counted: it is that instance's now."""

    # -- incidents ---------------------------------------------------------------------

    def new_incident_id(self) -> int:
        """An id no incident has, for the next one to open (at once, even while the
        database cannot be reached)."""

    def reserve_incident_ids(self) -> None:
        """Make :meth:`new_incident_id` safe across instances from now on: call it (off
        the event loop) when this instance becomes the leader.  StoreError while the
        database cannot be reached."""

    def open_incident(self, incident: Incident) -> None:
        """Store a new incident (committed on return)."""

    def note_incident(
        self,
        incident_id: int,
        entry: TimelineEntry,
        *,
        resolved: float | None = None,
        monitors: Sequence[str] | None = None,
        members: dict[str, Member] | None = None,
    ) -> None:
        """Add ``entry`` to an incident's timeline; ``resolved`` closes it then;
        ``monitors`` and ``members``, when given, replace what it holds."""

    def commit_incident(
        self,
        incident: Incident,
        alerts: Sequence[Alert],
        now: float,
        *,
        opened: bool = False,
        entry: TimelineEntry | None = None,
        touched: Collection[str] | None = None,
        moves: Sequence[Move] = (),
    ) -> None:
        """Write an incident change and queue its alerts in one transaction: the new
        ``incident`` when ``opened``, else ``entry`` added to its timeline with its
        resolution, monitors and members as ``incident`` has them (``touched``: only
        those members changed, each written as ``incident`` has it or removed if it has it
        no more; None: every one), and ``moves`` appended to its membership history (a
        resolved incident's monitors are then everyone that history holds); then each alert
        (``now`` as its queueing time; one a channel has already is left out).

        Both are committed, or held together while the database cannot be written,
        or neither: a crash never leaves an incident whose members say "alerted" with
        no alert queued."""

    def acknowledge_incident(
        self, incident_id: int, entry: TimelineEntry, *, audit: AuditEntry | None = None
    ) -> bool:
        """Mark an open incident acknowledged at ``entry.at``, and log ``audit`` with it;
        False, and nothing logged, if none is open by that id."""

    def incidents(self, *, open_only: bool = False, limit: int = 100) -> list[Incident]:
        """Incidents with their timeline, newest first."""

    def incident_list(
        self,
        *,
        open_only: bool = False,
        limit: int = 100,
        monitor: str | None = None,
        shown: tuple[int, int] = (50, 100),
        among: Collection[str] | None = None,
    ) -> list[Listed]:
        """Incidents newest first as a list shows them (``shown``: at most so many
        monitors, so many timeline entries), with how many each has: a read that costs
        what it returns, not what the incidents hold (issue 23).  ``monitor``: only the
        incidents it is or was in; ``among``: of their monitors, only these are named
        (a status page's).  See :class:`Listed`."""

    def membership(
        self,
        incidents: Collection[int],
        monitors: Collection[str] | None = None,
        *,
        first: int | None = None,
    ) -> dict[int, tuple[Move, ...]]:
        """The membership history of each of ``incidents`` (of ``monitors`` alone, when
        given: a status page's; of the first ``first`` monitors to join each, when given:
        a list's), in the order written; an incident with none is left out.  Each
        monitor's :func:`~tether.monitor._records.stints` are read from it."""

    def down_since(self) -> dict[str, float]:
        """Each monitor in an open incident, and when it joined the first of them (the
        incident's opening for a member stored without its time): the monitor's own start,
        not that of the monitor that opened the incident."""

    def acknowledgements(self) -> dict[int, float]:
        """Each open incident that is acknowledged, and when: what a running monitor reads
        each second to take ``tether ack`` (no timeline, no members: a read that costs the
        same however many monitors an incident holds)."""

    # -- changes made at run time (the write API): each with its audit entry -----------

    def set_paused(self, monitor: str, paused: bool, audit: AuditEntry) -> bool:
        """Pause ``monitor`` (or resume it) on every instance from now on, and log
        ``audit`` in the same transaction; False, and nothing logged, if it was so
        already.  Committed before returning (StoreError while the database is away)."""

    def request_check(self, monitor: str, audit: AuditEntry) -> None:
        """Ask whichever instance probes ``monitor`` to check it now (it reads
        :meth:`controls`), and log ``audit``."""

    def open_window(
        self, monitors: Sequence[str], start: float, end: float, reason: str, audit: AuditEntry
    ) -> Window:
        """Open a maintenance window for ``monitors`` (empty: all) from ``start`` to
        ``end``, and log ``audit`` with its target set to the new window
        (``maintenance:ID``)."""

    def close_window(self, window_id: int, audit: AuditEntry) -> tuple[Window | None, bool]:
        """Close maintenance window ``window_id`` at ``audit.at`` and log ``audit``: the
        window as it is now, and whether this closed it (False, nothing logged, for one
        closed or over already); ``(None, False)`` if there is none by that id."""

    def add_note(self, incident_id: int, entry: TimelineEntry, audit: AuditEntry) -> bool:
        """Add ``entry`` (a note) to an incident's timeline and log ``audit``; False if
        there is no incident by that id."""

    def controls(self, now: float) -> Controls:
        """The monitors paused, the checks asked for, and the windows not over at ``now``
        (each instance reads these every second)."""

    def windows(self, *, limit: int = 100) -> list[Window]:
        """Maintenance windows opened at run time, newest first."""

    def audit(self, *, limit: int = 100) -> list[AuditEntry]:
        """The audit log, newest first."""

    def incident(self, incident_id: int) -> Incident | None:
        """One incident by id."""

    # -- state, retention, reading -----------------------------------------------------

    def save_state(self, monitor: str, data: dict[str, Any]) -> None:
        """Queue detector state under ``monitor``; the last one saved wins."""

    def load_state(self, names: Collection[str] | None = None) -> dict[str, dict[str, Any]]:
        """Every saved state by name, or those of ``names`` alone (the monitors an
        instance takes over: not every state of every monitor)."""

    def prune(self, now: float) -> tuple[int, int]:
        """Delete raw results and roll-ups past their retention; (results, roll-ups) removed."""

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

    def every_state_change(self, since: float) -> dict[str, list[tuple[float, State]]]:
        """Every monitor's state changes since ``since`` as :meth:`state_changes` gives one
        monitor's (oldest first, led by the last change before ``since``), in one read:
        the dashboard's overview sorts thousands of monitors by uptime."""

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


# -- rows to values -----------------------------------------------------------------------


def probe_record(row: Sequence[Any], decode: Decode) -> ProbeRecord:
    """A result read back in :data:`RESULT_COLUMNS` order."""
    monitor, ts, ok, kind, latency_ms, detail, data = row
    return ProbeRecord.from_row(monitor, ts, ok, kind, latency_ms, detail, decode(data))


def queued_alert(row: Sequence[Any], decode: Decode) -> QueuedAlert:
    """An outbox row read back in :data:`ALERT_COLUMNS` order."""
    alert_id, channel, dedup, payload, attempts, created, next_at, last_error = row
    return QueuedAlert(
        int(alert_id),
        channel,
        dedup,
        AlertPayload.from_json(decode(payload)),
        int(attempts),
        float(created),
        float(next_at),
        last_error,
    )


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


def audit_record(row: Sequence[Any], decode: Decode) -> AuditEntry:
    """An audit entry read back in :data:`AUDIT_COLUMNS` order."""
    entry_id, at, who, via, action, target, params = row
    return AuditEntry(float(at), who, via, action, target, decode(params) or {}, int(entry_id))


def audit_values(entry: AuditEntry, encode: Callable[[Any], Any]) -> tuple[Any, ...]:
    """The values of an audit entry's row in :data:`AUDIT_COLUMNS` order, less ``id``."""
    return (
        entry.at,
        entry.who,
        entry.via,
        entry.action,
        entry.target,
        encode(dict(entry.params)),
    )


def incident_note(
    audit: AuditEntry, window: Window | None = None
) -> tuple[tuple[str, ...], TimelineEntry] | None:
    """What a change made through the write API says on the timeline of each open
    incident it concerns: the monitors it concerns (empty: every one) and the entry, or
    None for a change that is not about monitors (an incident's acknowledgement and
    notes are written on its timeline by their own writes).  ``window`` is the window a
    ``maintenance.open`` opened or a ``maintenance.close`` closed: its monitors."""
    who, action, params = audit.who, audit.action, audit.params
    kind, _, name = audit.target.partition(":")
    reason = f": {params['reason']}" if params.get("reason") else ""
    if kind == "monitor" and action in ("pause", "resume", "check"):
        detail = {
            "pause": f"{name} paused by {who}{reason}",
            "resume": f"{name} resumed by {who}{reason}",
            "check": f"a check of {name} now, asked by {who}",
        }[action]
        return (name,), TimelineEntry(audit.at, action, detail)
    if action == "maintenance.open" and window is not None:
        detail = (
            f"maintenance window #{window.id} opened by {who} until {params.get('end')}, "
            f"alerts held{reason}"
        )
        return window.monitors, TimelineEntry(audit.at, "maintenance", detail)
    if action == "maintenance.close" and window is not None:
        detail = f"maintenance window #{window.id} closed by {who}"
        return window.monitors, TimelineEntry(audit.at, "maintenance", detail)
    return None


def window_record(row: Sequence[Any], decode: Decode) -> Window:
    """A maintenance window read back in :data:`WINDOW_COLUMNS` order."""
    window_id, monitors, start, ends, reason, opened_by, closed, closed_by = row
    return Window(
        int(window_id),
        tuple(decode(monitors)),
        float(start),
        float(ends),
        reason,
        opened_by,
        None if closed is None else float(closed),
        closed_by,
    )


def controls_of(rows: Iterable[Sequence[Any]], windows: Iterable[Window]) -> Controls:
    """The controls from rows in :data:`CONTROL_COLUMNS` order and the open windows."""
    paused: dict[str, tuple[float, str]] = {}
    checks: dict[str, float] = {}
    pushes: dict[str, Push] = {}
    for monitor, at, by, check_at, push_at, push_ok, push_detail, push_ms in rows:
        if at is not None:
            paused[monitor] = (float(at), by or "")
        if check_at is not None:
            checks[monitor] = float(check_at)
        if push_at is not None:
            latency = stored_ms(push_ms)
            pushes[monitor] = Push(float(push_at), bool(push_ok), push_detail, latency)
    return Controls(paused, checks, tuple(windows), pushes)


def incident_record(
    row: Sequence[Any],
    decode: Decode,
    members: Mapping[str, Any] | None = None,
    timeline: Sequence[Any] = (),
) -> Incident:
    """An incident read back: its header in :data:`INCIDENT_COLUMNS` order (its JSON read
    with ``decode``), its members (name to member, decoded) and its timeline's entries
    (decoded), in order.

    An open incident's monitors are its members' names (the ``monitors`` column is not
    rewritten at every join and leave: that was O(members) a change); a resolved one's, or
    an open one stored before members were kept, are as the column has them."""
    incident_id, key, kind, detail, hint, opened, resolved, monitors, acknowledged, folded = row
    kept = {m: Member.from_json(v, opened) for m, v in (members or {}).items()}
    names = tuple(sorted(kept)) if resolved is None and kept else tuple(decode(monitors))
    return Incident(
        int(incident_id),
        key,
        kind_from_text(kind),
        detail,
        hint,
        float(opened),
        resolved,
        names,
        tuple(TimelineEntry.from_json(e) for e in timeline),
        acknowledged,
        dict(sorted(kept.items())),
        None if folded is None else int(folded),
    )


@dataclass(frozen=True, slots=True)
class Listed:
    """An incident as a list shows it (:meth:`Store.incident_list`): ``incident`` names
    only the first monitors by name and has only its first timeline entry and the newest
    ones, within the caps asked for, and no members' records; how many monitors and
    timeline entries it has in all are ``monitors_count`` and ``timeline_count``."""

    incident: Incident
    monitors_count: int
    timeline_count: int
    current: bool = False
    """The monitors named are down in it now (it is open and has its members)."""


LISTED_COLUMNS: Final = (
    "i.id, i.key, i.kind, i.detail, i.hint, i.opened, i.resolved, i.acknowledged"
)
"""An incident's header as :func:`listed_record` reads it (no ``monitors``: a resolved
incident's may name thousands)."""

MEMBERS_KEPT: Final = (
    "(i.resolved IS NULL AND EXISTS (SELECT 1 FROM incident_members WHERE incident = i.id))"
)
"""An incident whose monitors are its members' names (see :func:`incident_record`);
the others' are its ``monitors`` column."""


def listed_record(row: Sequence[Any], decode: Decode) -> Listed:
    """An incident read for a list: :data:`LISTED_COLUMNS`, then ``folded_into``,
    whether its monitors are its members (:data:`MEMBERS_KEPT`), the number of its
    monitors, the first of them by name (a JSON array), the number of its timeline
    entries and the entries shown (a JSON array of [seq, entry])."""
    incident_id, key, kind, detail, hint, opened, resolved, acknowledged = row[:8]
    folded, current, count, names, entries, shown = row[8:]
    pairs = sorted(decode(shown) or (), key=_seq)
    return Listed(
        Incident(
            int(incident_id),
            key,
            kind_from_text(kind),
            detail,
            hint,
            float(opened),
            resolved,
            tuple(sorted(decode(names) or ())),
            tuple(TimelineEntry.from_json(e) for _, e in pairs),
            acknowledged,
            {},
            None if folded is None else int(folded),
        ),
        int(count or 0),
        int(entries or 0),
        bool(current),
    )


def _seq(pair: Sequence[Any]) -> Any:
    return pair[0]


FIRST_READ: Final = 4
"""How many join lines per monitor asked for a list's first monitors (:func:`first_names`)
are read at most: a monitor that joined more often than that takes a place of another."""


def first_names(joined: Iterable[str], n: int) -> list[str]:
    """The first ``n`` monitors of ``joined`` (the names of an incident's join lines, in
    order), each once."""
    out: dict[str, None] = {}
    for name in joined:
        out.setdefault(name)
        if len(out) >= n:
            break
    return list(out)


def first_members(
    incidents: Collection[int],
    first: int,
    joined: Callable[[int, int], Iterable[str]],
    moves: Callable[[int, list[str]], Iterable[Sequence[Any]]],
) -> dict[int, tuple[Move, ...]]:
    """``Store.membership(..., first=N)`` over a backend's two reads: ``joined(incident,
    n)``, the names of its first ``n`` join lines; ``moves(incident, names)``, the rows
    of those monitors' moves in order.  Two indexed reads an incident, whatever its size."""
    out: dict[int, tuple[Move, ...]] = {}
    for incident in sorted(set(incidents)):
        names = first_names(joined(incident, first * FIRST_READ), first)
        if names:
            out.update(moves_of(moves(incident, names)))
    return out


def moves_of(rows: Iterable[Sequence[Any]]) -> dict[int, tuple[Move, ...]]:
    """Membership history by incident from rows of (incident, monitor, at, event, why),
    in the order written."""
    out: dict[int, list[Move]] = {}
    for incident, monitor, at, event, why in rows:
        out.setdefault(int(incident), []).append(Move(monitor, float(at), event, why or ""))
    return {i: tuple(m) for i, m in out.items()}


def earliest(rows: Iterable[Sequence[Any]]) -> dict[str, float]:
    """Each monitor and the earliest time rows of (monitor, opened) give it."""
    out: dict[str, float] = {}
    for name, opened in rows:
        at = float(opened)
        known = out.get(name)
        if known is None or at < known:
            out[name] = at
    return out


@dataclass(frozen=True, slots=True)
class IncidentWrite:
    """One incident change as the rows it writes, encoded when it was made (the engine
    goes on changing its incidents afterwards): constant work for a change of a member,
    whatever the incident's size.  Both backends write it the same way, each in its SQL.
    """

    id: int
    new: tuple[Any, ...] | None
    """A new incident's header, in :data:`INCIDENT_COLUMNS` order (None: a change)."""
    header: tuple[Any, ...]
    """For a change: (kind, detail, hint, resolved, acknowledged, folded_into, monitors),
    each None to keep what is stored (``resolved`` and ``acknowledged`` are never cleared;
    ``monitors`` is encoded)."""
    entries: tuple[str, ...]
    """Timeline entries to append, encoded, in order."""
    every: bool
    """Every member is in ``upserts``: the others are deleted first."""
    upserts: tuple[tuple[str, str], ...]
    """(monitor, member encoded) to write."""
    deletes: tuple[str, ...]
    """Members no longer in the incident."""
    moves: tuple[tuple[str, float, str, str], ...] = ()
    """(monitor, at, event, why) to append to its membership history, in order."""

    @property
    def resolves(self) -> bool:
        """It writes the incident resolved: its monitors are then everyone its history
        holds (the engine knows only those in it at the end)."""
        return (self.new[6] if self.new is not None else self.header[3]) is not None


def incident_write(
    incident: Incident,
    encode: Callable[[Any], str],
    *,
    opened: bool = False,
    entries: Sequence[TimelineEntry] = (),
    touched: Collection[str] | None = None,
    monitors: Sequence[str] | None = None,
    moves: Sequence[Move] = (),
) -> IncidentWrite:
    """The rows of an incident change: ``incident`` new (``opened``: with its timeline and
    members), or ``entries`` appended to its timeline, its header as ``incident`` has it
    and the ``touched`` members (None: every one) written as it has them, or deleted.
    ``monitors`` is written as the incident's monitors when given; else a resolved
    incident's are (what readers show once it is over), an open one's are its members'.
    ``moves`` are appended to its membership history."""
    members = incident.members
    if opened and not moves:  # opened whole (``open_incident``): its members joined
        moves = [Move(m, member.joined, "joined", "down") for m, member in members.items()]
    if opened:
        # An open incident's monitors are its members: kept out of its row, which every
        # change rewrites (a list of thousands there made each change O(members)).
        derived = incident.resolved is None and bool(members)
        new = (
            incident.id,
            incident.key,
            kind_text(incident.kind),
            incident.detail,
            incident.hint,
            incident.opened,
            incident.resolved,
            encode([] if derived else list(incident.monitors)),
            incident.acknowledged,
            incident.folded_into,
        )
        entries = incident.timeline
    else:
        new = None
    if monitors is None and not opened and incident.resolved is not None:
        monitors = incident.monitors
    header = (
        kind_text(incident.kind),
        incident.detail,
        incident.hint,
        incident.resolved,
        incident.acknowledged,
        incident.folded_into,
        None if monitors is None else encode(sorted(monitors)),
    )
    every = touched is None
    names = sorted(members) if touched is None else sorted(set(touched))
    upserts = tuple((m, encode(members[m].to_json())) for m in names if m in members)
    deletes = tuple(m for m in names if m not in members)
    return IncidentWrite(
        incident.id,
        new,
        header,
        tuple(encode(e.to_json()) for e in entries),
        every and not opened,
        upserts,
        deletes,
        tuple((m.monitor, m.at, m.event, m.why) for m in moves),
    )


def merged_writes(changes: Iterable[IncidentWrite]) -> list[IncidentWrite]:
    """``changes``, in order, as fewer writes that leave the same rows: each incident's
    changes that follow one another merged into one (a new incident's row stays a write
    of its own, the changes after it merged into the next).  A mass outage's incident
    gains thousands of members a few at a time, and a batch of their changes is then a
    few statements, not three a member.

    The header follows the SQL each backend writes it with: each column keeps the last
    value given, ``acknowledged`` the first (a stored one wins over both); timeline
    entries are appended in order; members end as the last change said."""
    runs: list[list[IncidentWrite]] = []
    mergeable: dict[int, int] = {}  # an incident's run in ``runs`` a change may join
    for change in changes:
        at = mergeable.get(change.id)
        if change.new is not None or at is None:
            if change.new is None:
                mergeable[change.id] = len(runs)
            else:
                mergeable.pop(change.id, None)
            runs.append([change])
        else:
            runs[at].append(change)
    return [run[0] if len(run) == 1 else _merged(run) for run in runs]


def _merged(run: list[IncidentWrite]) -> IncidentWrite:
    """One incident's changes, in order, as one write, built in one pass over them (not
    change by change: that copied what the earlier ones said once per change, and a wave
    of thousands of changes to one incident took seconds to merge)."""
    header = list(run[0].header)
    members: dict[str, str | None] = {}
    every = False
    for change in run:
        for i, value in enumerate(change.header):
            if value is not None and (i != _ACKNOWLEDGED or header[i] is None):
                header[i] = value
        if change.every:
            members.clear()
            every = True
        members.update(dict.fromkeys(change.deletes))
        members.update(change.upserts)
    return IncidentWrite(
        run[0].id,
        None,
        tuple(header),
        tuple(entry for change in run for entry in change.entries),
        every,
        tuple((m, v) for m, v in members.items() if v is not None),
        tuple(m for m, v in members.items() if v is None),
        tuple(move for change in run for move in change.moves),
    )


_ACKNOWLEDGED: Final = 4
"""Where ``acknowledged`` stands in :attr:`IncidentWrite.header`."""


def note_write(
    incident_id: int,
    entry: TimelineEntry,
    encode: Callable[[Any], str],
    *,
    resolved: float | None = None,
    monitors: Sequence[str] | None = None,
    members: Mapping[str, Member] | None = None,
) -> IncidentWrite:
    """The rows of :meth:`Store.note_incident`: ``entry`` appended, ``resolved`` set when
    given, ``monitors`` and ``members`` (all of them) replaced when given."""
    header = (None, None, None, resolved, None, None)
    return IncidentWrite(
        incident_id,
        None,
        (*header, None if monitors is None else encode(sorted(monitors))),
        (encode(entry.to_json()),),
        members is not None,
        tuple((m, encode(v.to_json())) for m, v in sorted((members or {}).items())),
        (),
    )


def too_new(version: int, known: int, where: str) -> StoreError:
    """The error for a database migrated by a newer tether than this one."""
    return StoreError(
        f"the database is at schema version {version}, newer than this tether knows "
        f"({known}): upgrade tether, or use another {where}"
    )
