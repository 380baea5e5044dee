"""The typed records that travel between the monitor's rooms.

A check is one :class:`ProbeRecord` from the judge to the store, the dashboard
and ``tether history``; a location's state of a monitor is one
:class:`LocationState` from the instance there to the store and the quorum,
which shows it to incidents and alerts as a :class:`LocationFact`; an incident
is one :class:`Incident` from the store to the engine, the pages and ``tether
incidents``; an alert is one frozen :class:`AlertPayload` from the incident
engine through the outbox (:class:`QueuedAlert`) to every channel.  Nothing
crosses a module boundary as a ``dict[str, Any]``; JSON exists only at the
edges (a stored column, a webhook's body), through each record's
``to_json``/``from_json``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from tether._frozen import quick_init
from tether._kinds import Kind
from tether.monitor._state import State

__all__ = [
    "Alert",
    "AlertPayload",
    "AuditEntry",
    "Controls",
    "Incident",
    "LocationFact",
    "LocationState",
    "Member",
    "Move",
    "OpenedWindow",
    "ProbeRecord",
    "Push",
    "QueuedAlert",
    "Stint",
    "TimelineEntry",
    "alert_key",
    "covered",
    "kind_from_text",
    "kind_text",
    "stints",
    "stored_ms",
    "stored_time",
]

PARTIAL_PREFIX: Final = "partial:"
PARTIAL: Final = "partial"
"""Why a monitor joined (or left) a stint of an incident while the incident was partial
(issue 73 item 9): its membership history tells its partial time from its time down for
the cluster, and a status page tells the latter alone."""
"""The key of a monitor's partial incident is ``partial:`` and its name."""

CONDITION: Final = "condition"
"""How a failure without a kind (a condition that was not met) is written where a kind
is expected: in stored incidents and alert payloads."""


STORED_MS_MAX: Final = 366 * 86_400_000.0
"""The longest duration a stored row may say, ms (a year): past it, or below 0, or not
a finite number, it is read as no duration."""


def stored_ms(value: object) -> float | None:
    """A duration in ms as a stored row holds it (a latency, a phase, a lag), or None
    when it is not a number from 0 to :data:`STORED_MS_MAX`: a row an older tether or
    a direct database write left infinite, huge or text is read as unmeasured, not
    raised on by every page that shows it."""
    if type(value) is not float and type(value) is not int:
        return None
    # A chain of comparisons: exact for an int of any size, false for NaN.
    return float(value) if 0 <= value <= STORED_MS_MAX else None


NO_TIME: Final = -1e15
"""The time a stored result is read at when its column holds no finite number (text in
SQLite, NaN or infinity in PostgreSQL: written by hand into the database): before any
calendar's first year, so every page shows it as invalid, and before every real time."""


def stored_time(value: object) -> float:
    """A time as a stored row holds it (Unix seconds), or :data:`NO_TIME` when it is not
    a finite number.  A finite time no calendar shows (year 10,000) is kept as it is:
    pages show it as invalid (``reports/_documents.py``'s ``iso``)."""
    if type(value) is not float and type(value) is not int:
        return NO_TIME
    try:
        number = float(value)
    except OverflowError:  # an int of hundreds of digits
        return NO_TIME
    return number if math.isfinite(number) else NO_TIME


def kind_text(kind: Kind | None) -> str:
    """``kind`` as stored: its code, or ``condition`` for a failed condition."""
    return CONDITION if kind is None else kind.value


def kind_from_text(text: object) -> Kind | None:
    """A stored kind read back: ``None`` for a failed condition (or nothing), and
    ``unknown`` for a code this tether does not know (a newer one wrote it)."""
    if text is None or text in (CONDITION, ""):
        return None
    try:
        return Kind(str(text))
    except ValueError:
        return Kind.UNKNOWN


@quick_init
@dataclass(frozen=True, slots=True)
class ProbeRecord:
    """One check, as judged and stored: the verdict, why, and the timings behind it."""

    monitor: str
    ts: float
    """When the check ended, Unix seconds."""
    ok: bool
    kind: Kind | None = None
    """Why it failed, when the probe could say; ``None`` for a failed condition."""
    latency_ms: float | None = None
    detail: str | None = None
    phases: Mapping[str, float] = field(default_factory=dict)
    """Each phase's duration in ms (dns, connect, tls, ttfb, transfer, ...)."""
    conditions: tuple[str, ...] = ()
    """The conditions with their resolved values: ``[STATUS] (503) == 200``."""
    lag_ms: float | None = None
    """How late the check started against its schedule."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as its constructor's arguments: a worker process sends thousands a
        # second, and a slotted dataclass's own pickling walks fields() for each one.
        return (
            ProbeRecord,
            (
                self.monitor,
                self.ts,
                self.ok,
                self.kind,
                self.latency_ms,
                self.detail,
                self.phases,
                self.conditions,
                self.lag_ms,
            ),
        )

    def data(self) -> dict[str, Any]:
        """What a stored result keeps beside its verdict, as its JSON column: phase
        timings (to 0.01 ms), the resolved conditions, and how late the check started.
        Compact, since it is most of a row and a row is kept for every check."""
        out: dict[str, Any] = {"phases": {name: round(ms, 2) for name, ms in self.phases.items()}}
        if self.conditions:
            out["conditions"] = list(self.conditions)
        if self.lag_ms is not None:
            out["lag_ms"] = round(self.lag_ms, 1)
        return out

    @classmethod
    def from_row(
        cls,
        monitor: str,
        ts: float,
        ok: object,
        kind: object,
        latency_ms: float | None,
        detail: str | None,
        data: Mapping[str, Any] | None,
    ) -> ProbeRecord:
        """A result read back from its columns."""
        data = data if isinstance(data, Mapping) else {}
        phases = data.get("phases")
        timed = (
            {str(k): ms for k, v in phases.items() if (ms := stored_ms(v)) is not None}
            if isinstance(phases, Mapping)
            else {}
        )
        conditions = data.get("conditions")
        return cls(
            monitor,
            stored_time(ts),
            bool(ok),
            None if kind is None else kind_from_text(kind),
            stored_ms(latency_ms),
            detail,
            timed,
            tuple(str(c) for c in conditions) if isinstance(conditions, list) else (),
            stored_ms(data.get("lag_ms")),
        )


_FAILING: Final = frozenset({State.DOWN, State.FLAPPING})


@quick_init
@dataclass(frozen=True, slots=True)
class LocationFact:
    """What one location sees of a monitor, as an incident, an alert and a page show it."""

    state: State
    kind: Kind | None = None
    """Why it fails there (``None`` when it does not, or for a condition not met)."""
    detail: str = ""
    since: float | None = None
    """When it entered ``state`` there."""
    live: bool = True
    """False: no instance at this location is alive, so it is not counted."""

    @property
    def failing(self) -> bool:
        """Counted, and down or flapping."""
        return self.live and self.state in _FAILING

    @property
    def why(self) -> str:
        """Why it fails there, as a detail says it in brackets: the kind's code,
        ``flapping``, or ``conditions not met``."""
        if self.state is State.FLAPPING:
            return "flapping"
        return "conditions not met" if self.kind is None else self.kind.value

    def to_json(self) -> dict[str, Any]:
        """``{state, kind, detail, since, live}``: ``kind`` is ``condition`` for a failing
        check without one, and null where it does not fail."""
        failing = self.state in _FAILING
        return {
            "state": self.state.value,
            "kind": kind_text(self.kind) if failing or self.kind else None,
            "detail": self.detail,
            "since": self.since,
            "live": self.live,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LocationFact:
        try:
            state = State(str(data.get("state")))
        except ValueError:
            state = State.UNKNOWN
        since = data.get("since")
        return cls(
            state,
            kind_from_text(data.get("kind")),
            str(data.get("detail") or ""),
            float(since) if isinstance(since, int | float) else None,
            bool(data.get("live", True)),
        )


def facts_json(facts: Mapping[str, LocationFact]) -> dict[str, Any]:
    """Locations' facts as JSON, in their order."""
    return {name: fact.to_json() for name, fact in facts.items()}


def facts_from_json(data: object) -> dict[str, LocationFact]:
    """What :func:`facts_json` wrote; anything else (an older row) is no locations."""
    if not isinstance(data, Mapping):
        return {}
    return {
        str(name): LocationFact.from_json(fact)
        for name, fact in data.items()
        if isinstance(fact, Mapping)
    }


@quick_init
@dataclass(frozen=True, slots=True)
class LocationState:
    """One location's state of one monitor, as the instance there publishes it (on each of
    its detector's state changes, and when the kind of a failure changes): the quorum's
    input, and what a cluster's store keeps per (monitor, location)."""

    monitor: str
    location: str
    state: State
    since: float
    """When it entered ``state`` at this location, epoch seconds."""
    reason: str = ""
    """The detector's words for the change (``3 consecutive checks failed (...)``)."""
    kind: Kind | None = None
    detail: str | None = None
    host: str | None = None
    latency_ms: float | None = None

    def fact(self, *, live: bool = True) -> LocationFact:
        return LocationFact(self.state, self.kind, self.detail or "", self.since, live)

    def to_json(self) -> dict[str, Any]:
        """A stored row's JSON (a cluster's location state table, or one column of it)."""
        return {
            "monitor": self.monitor,
            "location": self.location,
            "state": self.state.value,
            "since": self.since,
            "reason": self.reason,
            "kind": None if self.kind is None else self.kind.value,
            "detail": self.detail,
            "host": self.host,
            "latency_ms": self.latency_ms,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LocationState:
        try:
            state = State(str(data.get("state")))
        except ValueError:
            state = State.UNKNOWN
        latency = data.get("latency_ms")
        return cls(
            str(data["monitor"]),
            str(data["location"]),
            state,
            float(data.get("since") or 0.0),
            str(data.get("reason") or ""),
            kind_from_text(data.get("kind")),
            None if data.get("detail") is None else str(data["detail"]),
            None if data.get("host") is None else str(data["host"]),
            float(latency) if isinstance(latency, int | float) else None,
        )


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of an incident's timeline."""

    at: float
    event: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "event": self.event, "detail": self.detail}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TimelineEntry:
        return cls(
            float(data.get("at") or 0.0), str(data.get("event", "")), str(data.get("detail", ""))
        )


@quick_init
@dataclass(frozen=True, slots=True)
class Member:
    """A monitor's part in an open incident: what it has been told, and when."""

    joined: float
    alerted: bool = False
    """Its down alert was queued (not held by maintenance, a parent or flapping)."""
    escalated: int = 0
    """How many of its escalation steps have been taken."""
    reminded: float | None = None
    """When its last reminder went out."""
    opener: bool = False
    """It opened the incident: its down alert is the incident's opening one."""
    locations: Mapping[str, LocationFact] = field(default_factory=dict)
    """What each of its locations sees now, when it has more than one (empty otherwise):
    kept in the members column, so an open incident shows them after a restart."""
    paused: float | None = None
    """When it was paused while down in the incident: it stays a member (a pause is no
    recovery), with no reminders, until a check after its resume says down (it stays,
    with no second page, if for the same cause) or up (it leaves)."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "joined": self.joined,
            "alerted": self.alerted,
            "escalated": self.escalated,
            "reminded": self.reminded,
            "opener": self.opener,
        }
        if self.locations:
            out["locations"] = facts_json(self.locations)
        if self.paused is not None:
            out["paused"] = self.paused
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], opened: float) -> Member:
        # A row written before members were kept: its monitors were alerted when it opened.
        return cls(
            float(data.get("joined", opened)),
            bool(data.get("alerted", True)),
            int(data.get("escalated", 0)),
            data.get("reminded"),
            bool(data.get("opener", False)),
            facts_from_json(data.get("locations")),
            _number(data.get("paused")),
        )


@dataclass(frozen=True, slots=True)
class Incident:
    """One incident: a cause (``key``), the monitors it took down, and its timeline."""

    id: int
    key: str
    kind: Kind | None
    """The cause's kind; ``None`` when a monitor's conditions were not met."""
    detail: str
    hint: str
    opened: float
    resolved: float | None = None
    monitors: Sequence[str] = ()
    """Every monitor down with it now (while open), or that was (once resolved).  The
    incident engine's open incidents name them through a live view of ``members`` (in
    the order they joined), so that a change costs no copy of them all: read it at once,
    or copy it (``tuple(incident.monitors)``) to keep it."""
    timeline: tuple[TimelineEntry, ...] = ()
    acknowledged: float | None = None
    """When someone acknowledged it (``tether ack``): reminders stop."""
    members: Mapping[str, Member] = field(default_factory=dict)
    """Each monitor down in it now, with what it has been told."""
    folded_into: int | None = None
    """The ``local`` incident this one was folded into when it opened (its members moved
    there; this one is closed then, ``resolved`` at that moment): issue 23."""

    @property
    def is_open(self) -> bool:
        return self.resolved is None

    @property
    def is_partial(self) -> bool:
        """A partial incident (key ``partial:MONITOR``): some of the monitor's locations
        fail, fewer than its quorum."""
        return self.key.startswith(PARTIAL_PREFIX)

    def locations(self, monitor: str) -> Mapping[str, LocationFact]:
        """What each location sees of ``monitor`` while it is in this open incident (empty
        for a monitor of one location, or once it has left)."""
        member = self.members.get(monitor)
        return {} if member is None else member.locations


MOVES: Final = ("joined", "left", "paused", "resumed")
"""What can happen to a monitor's membership of an incident."""


@quick_init
@dataclass(frozen=True, slots=True)
class Move:
    """One line of an incident's membership history: ``monitor`` ``joined`` it (down),
    ``left`` it (``why``: up, paused, removed, changed, folded into another), was
    ``paused`` while down in it, or ``resumed`` (and stayed).  Appended, never rewritten:
    an outage stays on the record after the monitor is back (issue 24)."""

    monitor: str
    at: float
    event: str
    why: str = ""


@dataclass(frozen=True, slots=True)
class Stint:
    """A monitor's time in one incident, read from its :class:`Move` lines: from
    ``start`` (it went down, for this cause) to ``end`` (it left; None while it is in
    it), with the spans it was paused in between."""

    monitor: str
    start: float
    end: float | None
    why: str
    """Why it joined ("down", or the incident it was folded in from)."""
    left: str = ""
    """Why it left ("up", "paused", ...; empty while it is in)."""
    paused: tuple[tuple[float, float | None], ...] = ()

    def down_s(self, now: float) -> float:
        """How long it was in, paused spans left out, up to ``now`` while it is in."""
        end = now if self.end is None else self.end
        out = max(0.0, end - self.start)
        for start, stop in self.paused:
            out -= max(0.0, min(end, now if stop is None else stop) - max(start, self.start))
        return max(0.0, out)


def stints(moves: Iterable[Move]) -> dict[str, tuple[Stint, ...]]:
    """Each monitor's stints in one incident, from its moves in the order written.  A
    ``left`` with no ``joined`` before it (history cut short) is dropped; a pause with no
    resume before the monitor left ends when it left."""
    open_: dict[str, Stint] = {}
    done: dict[str, list[Stint]] = {}
    for move in moves:
        name, current = move.monitor, open_.get(move.monitor)
        if move.event == "joined":
            if current is not None:  # joined twice with no leave between: one stint
                continue
            open_[name] = Stint(name, move.at, None, move.why)
            done.setdefault(name, [])
        elif current is None:
            continue
        elif move.event == "left":
            paused = tuple((a, move.at if b is None else b) for a, b in current.paused)
            done[name].append(
                Stint(name, current.start, move.at, current.why, move.why or "left", paused)
            )
            del open_[name]
        elif move.event == "paused":
            if not current.paused or current.paused[-1][1] is not None:
                open_[name] = Stint(
                    name, current.start, None, current.why, "", (*current.paused, (move.at, None))
                )
        elif move.event == "resumed" and current.paused and current.paused[-1][1] is None:
            spans = (*current.paused[:-1], (current.paused[-1][0], move.at))
            open_[name] = Stint(name, current.start, None, current.why, "", spans)
    for name, current in open_.items():
        done[name].append(current)
    return {name: tuple(s) for name, s in sorted(done.items()) if s}


def covered(incident: Incident, member: Member) -> bool:
    """Whether ``incident``'s acknowledgement covers ``member``: given after it joined.
    One given before it joined does not silence it (its reminders and escalation run)."""
    return incident.acknowledged is not None and incident.acknowledged >= member.joined


RESOLVING: Final = ("monitor.up", "incident.resolved", "incident.partial_resolved")
"""Events whose ``kind`` is the one that ended (``resolves`` in the webhook's body)."""


@dataclass(frozen=True, slots=True)
class AlertPayload:
    """What one alert says, for every channel: a webhook sends :meth:`to_json`, e-mail
    and apprise word it with ``alerts.subject`` and ``alerts.body``.

    Events: ``incident.opened`` (the first monitor down opens an incident),
    ``monitor.down`` (another monitor joins it), ``monitor.up`` (one comes back while
    the incident goes on), ``incident.resolved`` (the last one comes back),
    ``incident.reminder``, ``incident.escalated``, the latency notices
    ``monitor.degraded`` and ``monitor.recovered``, and, with ``partial_alerts``,
    ``incident.partial`` (some of a monitor's locations fail, fewer than its quorum) and
    ``incident.partial_resolved`` (none does any more, or a quorum does: the incident
    that follows is named).  The ``local`` incident (this machine's side) sends one
    ``incident.opened`` per channel, then ``incident.updated`` (monitors that went down or
    came back since, grouped, at most one a minute per channel), its reminders and
    escalation, and one ``incident.resolved`` per channel.
    """

    event: str
    monitor: str
    text: str
    """One sentence that says it all: ``api is down too: same cause as incident #2 ...``."""
    at: float
    """When it happened, Unix seconds."""
    incident: int | None = None
    monitors: tuple[str, ...] = ()
    """Monitors of the incident at that moment, at most the first ten (in the order they
    went down); ``monitor_count`` says how many there are."""
    url: str | None = None
    """The monitor's target, credentials redacted."""
    kind: Kind | None = None
    """The failure's kind (down events), or the kind it resolves (``monitor.up``,
    ``incident.resolved``)."""
    detail: str = ""
    hint: str = ""
    since: float | None = None
    """When the monitor (or, for incident events, the incident) went down."""
    locations: Mapping[str, LocationFact] = field(default_factory=dict)
    """What each location sees, for a monitor probed from more than one (else empty)."""
    monitor_count: int | None = None
    """How many monitors the incident has at that moment (None: as many as ``monitors``
    names); for a resolution of the ``local`` incident, how many it had in all."""
    host_count: int | None = None
    """On how many hosts (None: not counted, an alert about one monitor)."""
    opened_to: tuple[str, ...] = ()
    """The channels the incident's opening alert went to: an e-mail channel threads a
    later alert under that opening message only when it sent it (one it never sent
    would be a reply to nothing)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """The labels of the monitor it is about; for the ``local`` incident's alerts, those
    every monitor it names has in common (the same name with the same value)."""

    def to_json(self) -> dict[str, Any]:
        """The webhook's JSON body (documented in docs/monitor.md); ``locations`` only for
        a monitor of more than one location, so a body of one is as it always was."""
        resolving = self.event in RESOLVING
        kind = None if self.kind is None else self.kind.value
        out: dict[str, Any] = {
            "event": self.event,
            "monitor": self.monitor,
            "incident": self.incident,
            "monitors": list(self.monitors),
            "monitor_count": (
                len(self.monitors) if self.monitor_count is None else self.monitor_count
            ),
            "host_count": self.host_count,
            "url": self.url,
            "at": _iso(self.at),
            "since": _iso(self.since),
            "kind": None if resolving else kind,
            "resolves": kind if resolving else None,
            "detail": self.detail,
            "hint": self.hint,
            "text": self.text,
            "labels": dict(self.labels),
        }
        if self.locations:
            out["locations"] = facts_json(self.locations)
        if self.opened_to:
            out["opened_to"] = list(self.opened_to)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AlertPayload:
        """A payload read back from the outbox; tolerant of keys an older tether did not
        write (its alert may have waited there across an upgrade)."""
        monitors = data.get("monitors") or []
        if not isinstance(monitors, list | tuple):
            monitors = [monitors]
        monitor = data.get("monitor") or (monitors[0] if monitors else "")
        incident = data.get("incident")
        counted = _count(data.get("monitor_count"))
        return cls(
            event=str(data.get("event") or "alert"),
            monitor=str(monitor),
            text=str(data.get("text") or data.get("detail") or ""),
            at=_unix(data.get("at")) or _unix(data.get("since")) or 0.0,
            incident=int(incident) if isinstance(incident, int | float) else None,
            monitors=tuple(str(m) for m in monitors),
            url=None if data.get("url") is None else str(data.get("url")),
            kind=kind_from_text(data.get("kind") or data.get("resolves")),
            detail=str(data.get("detail") or ""),
            hint=str(data.get("hint") or ""),
            since=_unix(data.get("since")),
            locations=facts_from_json(data.get("locations")),
            # As many as ``monitors`` names is said by None, as the engine says it.
            monitor_count=None if counted == len(monitors) else counted,
            host_count=_count(data.get("host_count")),
            opened_to=_names(data.get("opened_to")),
            labels=_texts(data.get("labels")),
        )


def _names(value: object) -> tuple[str, ...]:
    """A list of names read back (anything else, as an older or damaged row: none)."""
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()


def _texts(value: object) -> dict[str, str]:
    """A map of labels read back (anything else, as an older row: none)."""
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


def _number(value: object) -> float | None:
    """A number read back (anything else: None)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _count(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def alert_key(channel: str, dedup: str) -> str:
    """The key every delivery of one alert to one channel carries, so that a receiver can
    drop a second copy (delivery is at least once): 32 hex digits of SHA-256 over the
    channel and the alert's dedup key.

    Hashed, not spelled out, so that it fits anywhere a receiver looks: an HTTP header
    (``Idempotency-Key`` is a structured-field string, printable ASCII only), a
    Message-ID, a column of fixed width; a monitor's name may be any Unicode and any
    length.  The channel is part of it because the dedup key is unique within a channel
    only: two channels that end at one receiver are two messages, not one sent twice.
    """
    text = f"{channel}\0{dedup}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(text).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert for one channel, as the incident engine makes it; ``dedup`` is unique
    within the channel."""

    channel: str
    dedup: str
    payload: AlertPayload

    @property
    def key(self) -> str:
        """What the receiver sees (:func:`alert_key`)."""
        return alert_key(self.channel, self.dedup)


@dataclass(frozen=True, slots=True)
class QueuedAlert:
    """An alert waiting in the outbox for one channel."""

    id: int
    channel: str
    dedup: str
    payload: AlertPayload
    attempts: int
    created: float
    next_at: float
    last_error: str | None = None

    @property
    def key(self) -> str:
        """What the receiver sees (:func:`alert_key`)."""
        return alert_key(self.channel, self.dedup)


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


def _unix(text: object) -> float | None:
    if isinstance(text, int | float):
        return float(text)
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(str(text)).timestamp()
    except ValueError:
        return None


# -- changes made at run time (the write API, ``_actions.py``) -------------------------------


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change made through the write API or the CLI: ``who`` (``alice``,
    ``token:ci``, ``local``) did ``action`` (``pause``, ``acknowledge``, ...) to
    ``target`` (``monitor:api``, ``incident:7``, ``maintenance:3``) with ``params``
    (redacted before they get here) at ``at``, by way of ``via`` (``session``, ``token``,
    ``local``, ``cli``).  ``id`` is the store's, ``None`` until stored."""

    at: float
    who: str
    via: str
    action: str
    target: str
    params: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "who": self.who,
            "via": self.via,
            "action": self.action,
            "target": self.target,
            "params": dict(self.params),
        }


@dataclass(frozen=True, slots=True)
class OpenedWindow:
    """A maintenance window opened at run time: ``monitors`` (empty: all of them) have
    their alerts held from ``start`` until ``end``, or until it is closed."""

    id: int
    monitors: tuple[str, ...]
    start: float
    end: float
    reason: str
    opened_by: str
    closed: float | None = None
    closed_by: str | None = None

    def open_at(self, now: float) -> bool:
        """Whether it holds alerts at ``now``."""
        end = self.end if self.closed is None else min(self.end, self.closed)
        return self.start <= now < end


@dataclass(frozen=True, slots=True)
class Push:
    """A push monitor's heartbeat as stored: when, the job's verdict, its message and
    how long it said it took."""

    at: float
    ok: bool
    detail: str | None = None
    latency_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Controls:
    """What changed at run time that every instance must apply: the monitors paused
    (name to when, and by whom), the checks asked for (name to when), the maintenance
    windows not over, and each push monitor's last heartbeat (whichever instance took
    it)."""

    paused: Mapping[str, tuple[float, str]] = field(default_factory=dict)
    checks: Mapping[str, float] = field(default_factory=dict)
    windows: tuple[OpenedWindow, ...] = ()
    pushes: Mapping[str, Push] = field(default_factory=dict)
