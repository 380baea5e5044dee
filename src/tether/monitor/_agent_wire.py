"""What crosses between ``tether agent`` and the monitor it reports to, as JSON.

An agent dials out only.  It asks for its assignment and sends its checks in batches::

    GET  /api/agent/assignment?location=LOC[&version=V][&wait=S]   -> Assignment
    POST /api/agent/results                                        <- Batch, -> Receipt

both with ``Authorization: Bearer TOKEN``, a token of the ``agent`` scope bound to that
location (docs/agents.md).  The assignment is a long poll: with ``version`` the one the
agent holds, the server answers when it changes or after ``wait`` seconds (at most
:data:`MAX_WAIT`), whichever is first, with the same version when nothing changed.

A batch carries an id the agent makes once (:func:`new_batch_id`) and keeps when it
sends the batch again (a lost answer, a server down): the server takes each id once.
Its results are timed on the agent's clock; ``sent_at`` is that clock when the batch
left, so the server places them on its own (``offset``, :class:`Receipt`).

A batch also says what the agent cannot run of its assignment (:class:`NotRun`: a
monitor its tether's model refuses, a check it lacks the extra for, a file it names that
is not on the agent's machine), until the server has taken one batch saying it.

**Versions.**  Every message carries :data:`PROTOCOL`; a peer of another is refused,
saying both (the server's 400, the agent's log line).  Within a protocol, fields are
only ever added: a reader ignores a key it does not know, and a key an older peer does
not send reads as its default (an older agent's batch says nothing of what it cannot
run: ``cannot_run`` is None).  A change an older reader would misread is a new protocol.
The tether versions of the two sides need not match (docs/agents.md, "Versions").

Every value read from the wire is checked here (a text as every text from outside is, by
``tether._text.text_problem``: no lone surrogate, control character or noncharacter),
so a server or an agent that is not ours, or a broken one, is one
:class:`AgentWireError` with a line saying what was wrong, never a traceback or a record
that breaks a page later.  Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from tether._kinds import Kind
from tether._text import text_problem
from tether.monitor._records import STORED_MS_MAX, ProbeRecord, kind_from_text, kind_text

__all__ = [
    "ASSIGNMENT_PATH",
    "MAX_AHEAD",
    "MAX_BATCH",
    "MAX_DROPPED",
    "MAX_NOT_RUN",
    "MAX_WAIT",
    "PROTOCOL",
    "RESULTS_PATH",
    "AgentCheck",
    "AgentWireError",
    "Assignment",
    "Batch",
    "NotRun",
    "Receipt",
    "batches",
    "new_batch_id",
    "out_of_window",
]

PROTOCOL: Final = 1
"""The wire's version: a field of every message; a peer of another is refused, saying so."""
ASSIGNMENT_PATH: Final = "/api/agent/assignment"
RESULTS_PATH: Final = "/api/agent/results"
MAX_BATCH: Final = 5_000
"""The most checks one batch carries; an agent with more sends several."""
MAX_WAIT: Final = 60.0
"""The longest an assignment's long poll is held open, seconds."""
MAX_TEXT: Final = 4_096
"""The longest text field a check carries (a detail, a host, a condition), characters."""
MAX_AHEAD: Final = 86_400.0
"""The most a check's time may be after its batch's ``sent_at``, seconds (a day): more is
refused.  A check made before its batch left is never after it, unless the agent's clock
went back in between; the server places such a check at the batch's arrival."""
MAX_DROPPED: Final = 10**9
"""The most checks one batch may say its agent's spool dropped."""
MAX_NOT_RUN: Final = 1_000
"""The most monitors one batch lists as not run (the first, by name)."""
_MAX_WHY: Final = 1_024
_MAX_CONDITIONS: Final = 64
_MAX_PHASES: Final = 32
_MAX_MONITORS: Final = 100_000
_BATCH_ID_CHARS: Final = frozenset("0123456789abcdef-")


class AgentWireError(ValueError):
    """A message that is not what the protocol says: ``str()`` is one line, naming the
    field (``results[3].ts: not a number``)."""


def new_batch_id() -> str:
    """A fresh batch id: 32 hex digits, made once per batch and kept when it is resent."""
    return secrets.token_hex(16)


# --- the checks ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentCheck:
    """One check an agent made: the judged record (``record.ts`` on the agent's clock)
    and what the server's ``/metrics`` and pages need beside it, as the monitor's own
    prober hands a ``Check`` to its coordinator."""

    record: ProbeRecord
    host: str
    """What failed, at the layer that failed (the prober's ``where_failed``)."""
    timings: Mapping[str, float] = field(default_factory=dict)
    """Seconds per blackbox_exporter phase."""
    cert_days_left: int | None = None
    cert_expires: float | None = None

    def to_json(self) -> dict[str, Any]:
        r = self.record
        out: dict[str, Any] = {
            "monitor": r.monitor,
            "ts": r.ts,
            "ok": r.ok,
            "kind": None if r.ok else kind_text(r.kind),
            "latency_ms": r.latency_ms,
            "detail": r.detail,
            "phases": dict(r.phases),
            "conditions": list(r.conditions),
            "lag_ms": r.lag_ms,
            "host": self.host,
            "timings": dict(self.timings),
        }
        if self.cert_days_left is not None:
            out["cert_days_left"] = self.cert_days_left
        if self.cert_expires is not None:
            out["cert_expires"] = self.cert_expires
        return out

    @classmethod
    def from_json(cls, data: object, where: str = "check") -> AgentCheck:
        obj = _object(data, where)
        ok = obj.get("ok")
        if not isinstance(ok, bool):
            raise AgentWireError(f"{where}.ok: not true or false")
        kind: Kind | None = None
        raw_kind = obj.get("kind")
        if not ok and raw_kind is not None:
            kind = kind_from_text(_text(raw_kind, f"{where}.kind", 64))
        phases = _durations(obj.get("phases", {}), f"{where}.phases", STORED_MS_MAX)
        timings = _durations(obj.get("timings", {}), f"{where}.timings", STORED_MS_MAX / 1000)
        conditions = obj.get("conditions", [])
        if not isinstance(conditions, list) or len(conditions) > _MAX_CONDITIONS:
            raise AgentWireError(f"{where}.conditions: not a list of at most {_MAX_CONDITIONS}")
        record = ProbeRecord(
            monitor=_text(obj.get("monitor"), f"{where}.monitor", 256, empty=False),
            ts=_time(obj.get("ts"), f"{where}.ts"),
            ok=ok,
            kind=kind,
            latency_ms=_maybe_ms(obj.get("latency_ms"), f"{where}.latency_ms"),
            detail=_maybe_text(obj.get("detail"), f"{where}.detail"),
            phases=phases,
            conditions=tuple(
                _text(c, f"{where}.conditions[{i}]", MAX_TEXT) for i, c in enumerate(conditions)
            ),
            lag_ms=_maybe_ms(obj.get("lag_ms"), f"{where}.lag_ms"),
        )
        days = obj.get("cert_days_left")
        # A certificate may run to the year 9999 (about 2.9 million days from now).
        if days is not None and (type(days) is not int or not -4_000_000 <= days <= 4_000_000):
            raise AgentWireError(f"{where}.cert_days_left: not a whole number of days")
        expires = obj.get("cert_expires")
        return cls(
            record=record,
            host=_text(obj.get("host", ""), f"{where}.host", MAX_TEXT),
            timings=timings,
            cert_days_left=days,
            cert_expires=None if expires is None else _time(expires, f"{where}.cert_expires"),
        )


@dataclass(frozen=True, slots=True)
class NotRun:
    """A monitor of an agent's assignment that the agent does not run, and why."""

    monitor: str
    why: str
    """One line: ``a grpc:// check needs tether[grpc] (missing: h2): pip install ...``."""
    since: float
    """When the agent began not running it, on the agent's clock (Unix seconds): the
    same for as long as it goes on, across the agent's restarts."""

    def to_json(self) -> dict[str, Any]:
        return {"monitor": self.monitor, "why": self.why, "since": self.since}

    @classmethod
    def from_json(cls, data: object, where: str) -> NotRun:
        obj = _object(data, where)
        return cls(
            monitor=_text(obj.get("monitor"), f"{where}.monitor", 256, empty=False),
            why=_text(obj.get("why"), f"{where}.why", _MAX_WHY, empty=False),
            since=_time(obj.get("since"), f"{where}.since"),
        )


def out_of_window(check: AgentCheck, sent_at: float, max_age: float | None) -> str | None:
    """Why ``check`` is outside the window a batch sent at ``sent_at`` may carry (a time
    more than :data:`MAX_AHEAD` after ``sent_at``, or more than ``max_age`` before it), or
    None.  The server refuses such a batch and the agent drops such a check before
    sending: both read the same two numbers, so they agree to the bit, whatever the
    offset between their clocks (the server places the check at ``ts + now - sent_at``,
    ``sent_at - ts`` before its own now)."""
    age = sent_at - check.record.ts
    if age < -MAX_AHEAD:
        return f"{-age:.0f} s after its batch's sent_at, more than a day"
    if max_age is not None and age > max_age:
        return (
            f"{age:.0f} s before its batch's sent_at, more than the server keeps "
            f"({max_age:.0f} s, storage.raw_retention)"
        )
    return None


# --- the messages --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Batch:
    """Checks an agent sends at once (``POST /api/agent/results``)."""

    id: str
    """Made once (:func:`new_batch_id`), kept when the batch is sent again."""
    location: str
    sent_at: float
    """The agent's clock (Unix seconds) when it sent this batch, this time."""
    checks: tuple[AgentCheck, ...] = ()
    dropped: int = 0
    """Checks the agent's spool dropped (oldest first, past its bound) since its last batch
    the server took: counted by the server, and said on its pages."""
    agent: str = ""
    """The agent's own name for itself (host and process), for the pages and the log."""
    version: str = ""
    """The agent's tether version."""
    assignment: str | None = None
    """The version of the assignment the agent probes (None: none yet, or an older
    agent, which does not say)."""
    cannot_run: tuple[NotRun, ...] | None = None
    """The monitors of that assignment the agent does not run (at most
    :data:`MAX_NOT_RUN`), or None: not said in this batch (unchanged since the server
    took a batch saying it, or an older agent, which never says)."""

    def to_json(self) -> dict[str, Any]:
        out = {
            "protocol": PROTOCOL,
            "id": self.id,
            "location": self.location,
            "sent_at": self.sent_at,
            "dropped": self.dropped,
            "agent": self.agent,
            "version": self.version,
            "results": [c.to_json() for c in self.checks],
        }
        if self.assignment is not None:
            out["assignment"] = self.assignment
        if self.cannot_run is not None:
            out["cannot_run"] = [n.to_json() for n in self.cannot_run]
        return out

    @classmethod
    def from_json(cls, data: object) -> Batch:
        obj = _object(data, "batch")
        _protocol(obj)
        batch_id = _text(obj.get("id"), "id", 64, empty=False)
        if not set(batch_id) <= _BATCH_ID_CHARS or len(batch_id) < 16:
            raise AgentWireError("id: not a batch id (16 to 64 hex digits)")
        results = obj.get("results", [])
        if not isinstance(results, list):
            raise AgentWireError("results: not a list")
        if len(results) > MAX_BATCH:
            raise AgentWireError(
                f"results: {len(results):,} checks, more than {MAX_BATCH:,} a batch"
            )
        dropped = obj.get("dropped", 0)
        if type(dropped) is not int or not 0 <= dropped <= MAX_DROPPED:
            raise AgentWireError(f"dropped: not a count from 0 to {MAX_DROPPED:,}")
        assignment = obj.get("assignment")
        cannot_run = obj.get("cannot_run")
        if cannot_run is not None and (
            not isinstance(cannot_run, list) or len(cannot_run) > MAX_NOT_RUN
        ):
            raise AgentWireError(f"cannot_run: not a list of at most {MAX_NOT_RUN:,}")
        return cls(
            id=batch_id,
            location=_text(obj.get("location"), "location", 256, empty=False),
            sent_at=_time(obj.get("sent_at"), "sent_at"),
            checks=tuple(AgentCheck.from_json(r, f"results[{i}]") for i, r in enumerate(results)),
            dropped=dropped,
            agent=_text(obj.get("agent", ""), "agent", 256),
            version=_text(obj.get("version", ""), "version", 64),
            assignment=None if assignment is None else _text(assignment, "assignment", 128),
            cannot_run=None
            if cannot_run is None
            else tuple(NotRun.from_json(n, f"cannot_run[{i}]") for i, n in enumerate(cannot_run)),
        )


@dataclass(frozen=True, slots=True)
class Receipt:
    """The server's answer to a batch."""

    taken: int
    """Checks stored from this batch (0 when it had them already)."""
    duplicate: bool
    """True when the server had taken this batch id before: nothing was stored again."""
    offset: float
    """The server's clock minus the agent's, as the server saw this batch (seconds)."""
    server_time: float
    """The server's clock when it answered."""

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": PROTOCOL,
            "taken": self.taken,
            "duplicate": self.duplicate,
            "offset": self.offset,
            "server_time": self.server_time,
        }

    @classmethod
    def from_json(cls, data: object) -> Receipt:
        obj = _object(data, "receipt")
        _protocol(obj)
        taken, duplicate = obj.get("taken"), obj.get("duplicate")
        if type(taken) is not int or taken < 0:
            raise AgentWireError("taken: not a count")
        if not isinstance(duplicate, bool):
            raise AgentWireError("duplicate: not true or false")
        offset = _finite(obj.get("offset"), "offset")
        return cls(taken, duplicate, offset, _time(obj.get("server_time"), "server_time"))


@dataclass(frozen=True, slots=True)
class Assignment:
    """What an agent probes (``GET /api/agent/assignment``), and how it reports."""

    version: str
    """Changes whenever the monitors change (a reload): the long poll's ``version``."""
    location: str
    monitors: tuple[Mapping[str, Any], ...]
    """Each monitor as the configuration holds it once loaded (defaults applied), in the
    configuration's own keys: the agent validates each with the same model the monitor
    does.  They may hold credentials (headers): sent only to an agent's token, over the
    connection it opened, and never logged by either side."""
    lease: float
    """Seconds after its last word (a batch or a poll) that the server counts this
    location as not live: an agent sends at least one batch, empty if need be, well
    within it."""
    batch_every: float
    """How often the agent sends what it has, seconds."""
    server_time: float
    """The server's clock when it answered: the agent's first estimate of its offset."""
    max_age: float | None = None
    """The oldest a check may be when its batch is sent (seconds before ``sent_at``): the
    server keeps raw results no longer, and refuses a batch with an older one; the agent
    drops such checks, counted, before sending.  None: not said (an older server)."""

    def to_json(self) -> dict[str, Any]:
        out = {
            "protocol": PROTOCOL,
            "version": self.version,
            "location": self.location,
            "lease": self.lease,
            "batch_every": self.batch_every,
            "server_time": self.server_time,
            "monitors": [dict(m) for m in self.monitors],
        }
        if self.max_age is not None:
            out["max_age"] = self.max_age
        return out

    @classmethod
    def from_json(cls, data: object) -> Assignment:
        obj = _object(data, "assignment")
        _protocol(obj)
        monitors = obj.get("monitors")
        if not isinstance(monitors, list) or len(monitors) > _MAX_MONITORS:
            raise AgentWireError("monitors: not a list")
        for i, m in enumerate(monitors):
            _object(m, f"monitors[{i}]")
        lease = _finite(obj.get("lease"), "lease")
        every = _finite(obj.get("batch_every"), "batch_every")
        if not 0 < every < lease:
            raise AgentWireError("batch_every: not a positive number of seconds below the lease")
        max_age = obj.get("max_age")
        if max_age is not None and not _finite(max_age, "max_age") > 0:
            raise AgentWireError("max_age: not a positive number of seconds")
        return cls(
            version=_text(obj.get("version"), "version", 128, empty=False),
            location=_text(obj.get("location"), "location", 256, empty=False),
            monitors=tuple(monitors),
            lease=lease,
            batch_every=every,
            server_time=_time(obj.get("server_time"), "server_time"),
            max_age=None if max_age is None else float(max_age),
        )


# --- checking what was read ------------------------------------------------------------------


def _object(data: object, where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise AgentWireError(f"{where}: not a JSON object")
    return data


def _protocol(obj: Mapping[str, Any]) -> None:
    sent = obj.get("protocol")
    if type(sent) is not int or sent != PROTOCOL:
        shown = repr(sent)[:20] if sent is not None else "not said"
        raise AgentWireError(
            f"protocol: {shown}, and this tether speaks {PROTOCOL}: upgrade the older "
            "side (docs/agents.md, Versions)"
        )


def _text(value: object, where: str, limit: int, *, empty: bool = True) -> str:
    if not isinstance(value, str):
        raise AgentWireError(f"{where}: not text")
    if len(value) > limit:
        raise AgentWireError(f"{where}: longer than {limit:,} characters")
    if not empty and not value:
        raise AgentWireError(f"{where}: empty")
    if (problem := text_problem(value)) is not None:  # the one gate for text from outside
        raise AgentWireError(f"{where}: holds {problem}")
    return value


def _maybe_text(value: object, where: str) -> str | None:
    return None if value is None else _text(value, where, MAX_TEXT)


def _finite(value: object, where: str) -> float:
    if type(value) is not float and type(value) is not int:
        raise AgentWireError(f"{where}: not a number")
    try:
        number = float(value)
    except OverflowError:  # a JSON integer of hundreds of digits: no float holds it
        raise AgentWireError(f"{where}: not a finite number") from None
    if not math.isfinite(number):
        raise AgentWireError(f"{where}: not a finite number")
    return number


def _time(value: object, where: str) -> float:
    """Unix seconds, from 1970 to the year 10000."""
    number = _finite(value, where)
    if not 0 <= number < 253_402_300_800:
        raise AgentWireError(f"{where}: not a time (Unix seconds)")
    return number


def _maybe_ms(value: object, where: str) -> float | None:
    if value is None:
        return None
    number = _finite(value, where)
    if not 0 <= number <= STORED_MS_MAX:
        raise AgentWireError(f"{where}: not a duration in ms")
    return number


def _durations(value: object, where: str, limit: float) -> dict[str, float]:
    if not isinstance(value, Mapping) or len(value) > _MAX_PHASES:
        raise AgentWireError(f"{where}: not an object of at most {_MAX_PHASES} durations")
    out: dict[str, float] = {}
    for name, v in value.items():
        key = _text(name, f"{where} key", 64, empty=False)
        number = _finite(v, f"{where}.{key}")
        if not 0 <= number <= limit:
            raise AgentWireError(f"{where}.{key}: not a duration")
        out[key] = number
    return out


def batches(checks: Sequence[AgentCheck], size: int = MAX_BATCH) -> list[tuple[AgentCheck, ...]]:
    """``checks`` cut into batches of at most ``size`` (at least one, empty if need be:
    an empty batch renews the lease)."""
    if not checks:
        return [()]
    return [tuple(checks[i : i + size]) for i in range(0, len(checks), size)]
