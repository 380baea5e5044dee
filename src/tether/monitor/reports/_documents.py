"""What the store holds, as JSON: one shape for a check, a roll-up and an incident, used by
the dashboard's APIs and by ``tether status``, ``history`` and ``incidents``, whose text is
rendered from the same documents (so it is redacted alike): ``history`` and ``incidents``
here, ``status`` (the dashboard's document) in :mod:`tether.monitor.web.documents._statustext`.
Each document is a :class:`~typing.TypedDict` (:class:`IncidentDoc`, :class:`ResultDoc`...).

Times are ISO 8601 in UTC, to the second; URLs go through
:func:`~tether._redact.redact_url` and free text through
:func:`~tether._redact.redact_text`, so a secret shows in no document.  Nothing here
reads a clock or imports the web server: the caller passes ``now``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, NotRequired, TypedDict, overload

from tether._durations import human_duration
from tether._redact import redact_text
from tether._table import text_table
from tether.monitor._records import Incident, LocationFact, Move, Stint, kind_text, stints

if TYPE_CHECKING:
    from tether.monitor.store import ProbeRecord, Rollup, Store

__all__ = [
    "PHASES",
    "HistoryReport",
    "IncidentDoc",
    "IncidentsReport",
    "LocationDoc",
    "MemberDoc",
    "ResultDoc",
    "RollupDoc",
    "history_report",
    "history_text",
    "incident_json",
    "incidents_report",
    "incidents_text",
    "iso",
    "location_json",
    "members_json",
    "redacted",
    "result_json",
    "rollup_json",
    "round_ms",
    "table_time",
]

PHASES: Final = ("url", "proxy", "dns", "connect", "tls", "grpc", "ttfb", "transfer", "http")
"""The stored phases in the order they run (the store keeps them in any order): a check
splits the probe's ``http`` phase into ``ttfb`` and ``transfer``; ``http`` is what an
exchange that saw no byte keeps, and what results stored before the split hold."""


# -- the documents ---------------------------------------------------------------------------
# Each a TypedDict: the JSON is the contract, so a document stays the dict it was built
# as (its keys in the order written here) while mypy knows every field.


class TimelineDoc(TypedDict):
    at: str
    event: str
    detail: str | None


Span = TypedDict("Span", {"from": str, "until": str | None})
"""A span a monitor was paused in (``from`` is a keyword: written as a call)."""


class MemberDoc(TypedDict):
    """A monitor's time in an incident (:func:`members_json`)."""

    monitor: str
    joined: str
    left: str | None
    why_joined: str
    why_left: str | None
    down_s: float
    paused: list[Span]


class IncidentDoc(TypedDict):
    """An incident (:func:`incident_json`); ``members`` where its membership was read.
    A list's incident (the dashboard's ``IncidentBrief``) adds ``monitors_count`` and
    ``timeline_count``, what it has of each beyond those shown."""

    id: int
    key: str
    partial: bool
    monitors: list[str]
    kind: str
    detail: str | None
    hint: str | None
    open: bool
    acknowledged: str | None
    opened: str
    resolved: str | None
    duration_s: float
    timeline: list[TimelineDoc]
    members: NotRequired[list[MemberDoc]]


class LocationDoc(TypedDict):
    """What one location sees of a monitor (:func:`location_json`)."""

    location: str
    state: str
    kind: str | None
    detail: str | None
    since: str | None


class ResultDoc(TypedDict):
    """One stored check (:func:`result_json`)."""

    at: str
    ok: bool
    kind: str | None
    detail: str | None
    latency_ms: float | None
    conditions: list[str]
    phases: dict[str, float | None]


class RollupDoc(TypedDict):
    """One roll-up bucket (:func:`rollup_json`)."""

    start: str
    checks: int
    failed: int
    uptime_pct: float | None
    latency_avg_ms: float | None
    latency_max_ms: float | None
    failures: dict[str, int]


class HistoryReport(TypedDict):
    """``tether history --json`` (:func:`history_report`): ``per`` and ``rollups``, or
    ``results``."""

    now: str
    monitor: str
    per: NotRequired[str]
    rollups: NotRequired[list[RollupDoc]]
    results: NotRequired[list[ResultDoc]]


class IncidentsReport(TypedDict):
    """``tether incidents --json`` (:func:`incidents_report`), as ``/api/incidents``."""

    now: str
    incidents: list[IncidentDoc]


@overload
def iso(ts: float) -> str: ...
@overload
def iso(ts: float | None) -> str | None: ...
def iso(ts: float | None) -> str | None:
    """``ts`` (Unix seconds) as ISO 8601 in UTC, to the second: ``2027-01-15T08:00:00Z``;
    ``None`` for ``None`` (a time that is not there); :data:`INVALID_TIME` for one no
    calendar shows (before year 1 or after 9999, not a finite number): a stored row
    that says so, whoever wrote it, is shown as such rather than fail the page."""
    return None if ts is None else _iso(ts)


INVALID_TIME: Final = "invalid"
"""What a page shows for a stored time no calendar can (:func:`iso`)."""


@functools.lru_cache(maxsize=4096)  # every monitor's sparkline has the same minutes
def _iso(ts: float) -> str:
    try:
        return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError, OSError, TypeError):
        return INVALID_TIME


def round_ms(value: float | None) -> float | None:
    """A latency in milliseconds, to the microsecond."""
    return None if value is None else round(value, 3)


def redacted(value: str | None) -> str | None:
    """Free text (an error, a detail) with its secrets masked."""
    return None if value is None else redact_text(value)


def incident_json(
    incident: Incident, now: float, moves: Sequence[Move] | None = None
) -> IncidentDoc:
    """An incident: cause, fix, monitors, times, timeline; with its membership history
    (``moves``), ``members``: each monitor's time in it (:func:`members_json`)."""
    opened, resolved = incident.opened, incident.resolved
    out: IncidentDoc = {
        "id": incident.id,
        "key": redact_text(incident.key),
        "partial": incident.is_partial,
        "monitors": sorted(incident.monitors),
        "kind": kind_text(incident.kind),
        "detail": redacted(incident.detail),
        "hint": redacted(incident.hint),
        "open": resolved is None,
        "acknowledged": iso(incident.acknowledged),
        "opened": iso(opened),
        "resolved": iso(resolved),
        "duration_s": round((now if resolved is None else resolved) - opened, 3),
        "timeline": [
            {"at": iso(e.at), "event": e.event, "detail": redacted(e.detail)}
            for e in incident.timeline
        ],
    }
    if moves is not None:
        out["members"] = members_json(moves, now)
    return out


def members_json(moves: Sequence[Move], now: float) -> list[MemberDoc]:
    """Each monitor's time in an incident, from its membership history, in the order
    they joined: ``joined`` and ``left`` (null while it is in), why (``why_joined``:
    ``down``, or the incident it was folded in from; ``why_left``: ``up``, ``paused``,
    ``removed``, ``changed``, ``folded into incident #N``), ``down_s`` (its own time in,
    paused spans left out) and the spans it was ``paused`` in."""
    spans = sorted(
        (s for each in stints(moves).values() for s in each), key=lambda s: (s.start, s.monitor)
    )
    return [stint_json(s, now) for s in spans]


def stint_json(stint: Stint, now: float) -> MemberDoc:
    return {
        "monitor": stint.monitor,
        "joined": iso(stint.start),
        "left": iso(stint.end),
        "why_joined": stint.why,
        "why_left": stint.left or None,
        "down_s": round(stint.down_s(now), 3),
        "paused": [{"from": iso(a), "until": iso(b)} for a, b in stint.paused],
    }


def location_json(location: str, fact: LocationFact) -> LocationDoc:
    """What one location sees of a monitor: its ``state`` there, the ``kind`` and
    ``detail`` of its failure (``kind`` is null where it does not fail, ``condition`` for
    conditions not met), and ``since`` when it has been in that state there."""
    return {
        "location": location,
        "state": fact.state.value,
        "kind": fact.to_json()["kind"],
        "detail": redacted(fact.detail or None),
        "since": iso(fact.since),
    }


def result_json(record: ProbeRecord) -> ResultDoc:
    """One stored check: outcome, why, latency, resolved conditions, phase timings."""
    return {
        "at": iso(record.ts),
        "ok": record.ok,
        "kind": None if record.kind is None else record.kind.value,
        "detail": redacted(record.detail),
        "latency_ms": round_ms(record.latency_ms),
        "conditions": [redact_text(c) for c in record.conditions],
        "phases": {
            name: round_ms(v) for name, v in sorted(record.phases.items(), key=_phase_order)
        },
    }


def _phase_order(item: tuple[str, float]) -> tuple[int, str]:
    name = item[0]
    return (PHASES.index(name) if name in PHASES else len(PHASES), name)


def rollup_json(rollup: Rollup) -> RollupDoc:
    """One roll-up bucket: checks, uptime, latency, failures by kind."""
    uptime = 100.0 * rollup.ok_count / rollup.count if rollup.count else None
    return {
        "start": iso(rollup.start),
        "checks": rollup.count,
        "failed": rollup.count - rollup.ok_count,
        "uptime_pct": None if uptime is None else round(uptime, 3),
        "latency_avg_ms": round_ms(rollup.latency_avg),
        "latency_max_ms": round_ms(rollup.latency_max),
        "failures": dict(sorted(rollup.kinds.items())),
    }


def history_report(
    store: Store, monitor: str, now: float, *, limit: int, per: str | None
) -> HistoryReport:
    """``tether history --json``: ``monitor``'s latest ``limit`` results, or with ``per``
    its latest ``limit`` roll-ups per minute, hour or day; newest first either way."""
    out: HistoryReport = {"now": iso(now), "monitor": monitor}
    if per:
        latest = store.rollups(monitor, per)[-limit:] if limit > 0 else []
        out["per"] = per
        out["rollups"] = [rollup_json(r) for r in reversed(latest)]
    else:
        out["results"] = [result_json(r) for r in store.results(monitor, limit=limit)]
    return out


def incidents_report(store: Store, now: float, *, open_only: bool, limit: int) -> IncidentsReport:
    """``tether incidents --json``: the incidents, newest first, as ``/api/incidents``."""
    found = store.incidents(open_only=open_only, limit=limit)
    moves = store.membership([i.id for i in found])
    return {
        "now": iso(now),
        "incidents": [incident_json(i, now, moves.get(i.id, ())) for i in found],
    }


# -- the same documents as text, for the terminal --------------------------------------------


def history_text(report: HistoryReport) -> str:
    """``tether history``: the results newest first, or the roll-ups oldest first (as a
    time series reads)."""
    rows: list[tuple[str, ...]]
    if "rollups" in report:
        rows = [
            (
                table_time(r["start"]),
                str(r["checks"]),
                "-" if r["uptime_pct"] is None else f"{r['uptime_pct']:.1f}%",
                _ms(r["latency_avg_ms"]),
                ", ".join(f"{k} {n}" for k, n in r["failures"].items()),
            )
            for r in reversed(report["rollups"])
        ]
        header = (f"{report['per']} (UTC)", "checks", "ok", "avg ms", "failures")
        return text_table(header, rows)
    rows = [
        (table_time(r["at"]), _verdict(r), _ms(r["latency_ms"]), r["detail"] or "")
        for r in report["results"]
    ]
    return text_table(("at (UTC)", "result", "ms", "detail"), rows)


def incidents_text(report: IncidentsReport, *, open_only: bool) -> str:
    """``tether incidents``: each incident with its cause, fix and timeline."""
    if not report["incidents"]:
        return "no open incident\n" if open_only else "no incident\n"
    out = ""
    for i in report["incidents"]:
        state = f"resolved {table_time(i['resolved'])}" if i["resolved"] else "OPEN"
        if i["acknowledged"] and not i["resolved"]:
            state += f", acknowledged {table_time(i['acknowledged'])}"
        if i["partial"]:
            state += ", partial"
        out += f"incident {i['id']} ({state}), opened {table_time(i['opened'])}: {i['kind']}\n"
        out += f"  {i['detail']}\n"
        out += f"  monitors: {', '.join(i['monitors'])}\n"
        for m in i.get("members", ()):
            out += f"  {_member_line(m)}\n"
        if i["hint"]:
            out += f"  fix: {i['hint']}\n"
        for entry in i["timeline"]:
            out += f"  {table_time(entry['at'])}  {entry['event']}: {entry['detail']}\n"
    return out


def _member_line(m: MemberDoc) -> str:
    """``www: in from 2027-01-15 08:01:00 (down) to 08:04:00 (up), 3 min 0 s``."""
    start = table_time(m["joined"])
    end = "now" if m["left"] is None else table_time(m["left"]).removeprefix(start[:11])
    left = "" if m["why_left"] is None else f" ({m['why_left']})"
    n = len(m["paused"])
    paused = "" if not n else f", paused {'once' if n == 1 else f'{n} times'}"
    took = human_duration(m["down_s"])
    return f"{m['monitor']}: in from {start} ({m['why_joined']}) to {end}{left}, {took}{paused}"


def table_time(when: str | None) -> str:
    """An ISO time of a document as the tables show it: ``2027-01-15 08:00:00``."""
    return "-" if when is None else when.replace("T", " ").removesuffix("Z")


def _verdict(result: ResultDoc) -> str:
    return "ok" if result["ok"] else (result["kind"] or "failed")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
