"""The incident engine's words: counts and lists of names, an incident's cause, what a
monitor's locations see, and the pieces every alert is made of.  Pure functions."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

from tether._kinds import Kind
from tether._plural import joined
from tether.monitor._records import Alert, AlertPayload, Incident, LocationFact, kind_text
from tether.monitor._state import State
from tether.monitor.engine._correlate import where_of_key

__all__ = [
    "UP_STATES",
    "alerts_to",
    "cause_of",
    "dedup_key",
    "failing_of",
    "is_passive",
    "iso",
    "kind_of",
    "many",
    "reworded",
    "where_from",
]

UP_STATES = frozenset({State.UP, State.DEGRADED})


def many(n: int, noun: str) -> str:
    """``1 monitor``, ``1,815 monitors``."""
    return f"{n:,} {noun if n == 1 else noun + 's'}"


def is_passive(url: str) -> bool:
    """Whether a monitor of ``url`` is told rather than probed (push, traffic)."""
    return url.startswith(("push://", "traffic://"))


def alerts_to(channels: Sequence[str], dedup: str, payload: AlertPayload) -> tuple[Alert, ...]:
    return tuple(Alert(channel, dedup, payload) for channel in channels)


def reworded(alerts: Iterable[Alert], text: str, detail: str) -> tuple[Alert, ...]:
    """``alerts``, each with the ``text`` and ``detail`` of its payload replaced."""
    return tuple(
        dataclasses.replace(a, payload=dataclasses.replace(a.payload, text=text, detail=detail))
        for a in alerts
    )


def dedup_key(incident: Incident, name: str, event: str, now: float) -> str:
    return f"{incident.id}:{name}:{event}:{now:.3f}"


def cause_of(incident: Incident) -> str:
    """``http.server_error on 127.0.0.1:8080``, from the incident's key when it names a
    service (a name, for DNS)."""
    scope = incident.key.partition(":")[0]
    if scope == "host":
        return f"{kind_text(incident.kind)} on {where_of_key(incident.key)}"
    if scope == "local":
        return f"{kind_text(incident.kind)} on this machine"
    return kind_text(incident.kind)


def failing_of(facts: Mapping[str, LocationFact]) -> list[tuple[str, str]]:
    """The failing locations and why: what is worth a timeline line when it changes."""
    return [(loc, fact.why) for loc, fact in facts.items() if fact.failing]


def kind_of(facts: Mapping[str, LocationFact]) -> Kind | None:
    """The most common kind among the failing locations (the first one's on a tie)."""
    kinds = [fact.kind for fact in facts.values() if fact.failing]
    return max(kinds, key=kinds.count) if kinds else None


def where_from(facts: Mapping[str, LocationFact], verb: str) -> str:
    """``unreachable from eu-west (connect.timeout), up from us-east and local``: the
    failing locations with why, then those that see it up, those with no result yet and
    those not counted (no live instance)."""
    failing = [f"{loc} ({fact.why})" for loc, fact in facts.items() if fact.failing]
    up = [loc for loc, fact in facts.items() if fact.live and fact.state in UP_STATES]
    waiting = [loc for loc, fact in facts.items() if fact.live and fact.state is State.UNKNOWN]
    dead = [loc for loc, fact in facts.items() if not fact.live]
    parts = [f"{verb} from {joined(failing)}"] if failing else []
    if up:
        parts.append(f"up from {joined(up)}")
    if waiting:
        parts.append(f"no result yet from {joined(waiting)}")
    if dead:
        parts = [", ".join(parts)] if parts else []
        parts.append(f"not counted: {joined(dead)} (no live instance)")
        return "; ".join(parts)
    return ", ".join(parts)


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")
