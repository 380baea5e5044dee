"""The words of an alert, for the channels a person reads: e-mail and apprise.

One place decides what a message says, so an e-mail and a chat message about the
same event read the same.  Both functions take the :class:`AlertPayload` the
incident engine made; its ``text`` is the sentence that says it all, and the
body adds why, what to do, the target and the incident.

A monitor that opens an incident (the subject, then the body; docs/monitor.md
shows the same, and a test checks that it is what these functions write)::

    [tether] DOWN api: connection refused

    api is down since 2026-03-02T14:05:09+00:00: 127.0.0.1:8080 refused the connection: ...

    Why: 127.0.0.1:8080 refused the connection: nothing is listening on that port
    What to do: Check that the service is running and listening on that port: ...
    Failure kind: connect.refused (more: tether explain connect.refused)
    Target: http://127.0.0.1:8080/health
    Incident: 7

Its resolution::

    [tether] RESOLVED api: back up after 3 min 2 s

    api is back up after 3 min 2 s: incident #7 (connect.refused on 127.0.0.1) is resolved
    after 3 min 2 s.

    It went down at 2026-03-02 14:05:09 UTC.
    Target: http://127.0.0.1:8080/health
    Incident: 7 (resolved)

A monitor probed from several locations adds what each sees; a partial incident (some
locations fail, fewer than the quorum, with ``partial_alerts``) reads::

    [tether] PARTIAL api: unreachable from eu-west (connection timed out)

    api unreachable from eu-west (connect.timeout), up from us-east and local (incident #8).

    Why: api unreachable from eu-west (connect.timeout), up from us-east and local
    What to do: Run `nc -vz -w 5 HOST PORT`; ...
    Failure kind: connect.timeout (more: tether explain connect.timeout)
    Locations:
      eu-west: down (connect.timeout): 203.0.113.7:443 did not accept the connection ...
      us-east: up
      local: up
    Target: https://api.example.com/health
    Incident: 8
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Final

from tether._catalogue import CATALOGUE
from tether._plural import and_more, joined
from tether.monitor._records import RESOLVING, AlertPayload, LocationFact
from tether.monitor.config.labels._labels import Matcher

__all__ = ["body", "labels_line", "subject"]

_PREFIX = "[tether]"
_REASON_MAX = 100
_LABELS = {
    "incident.opened": "DOWN",
    "monitor.down": "DOWN",
    "monitor.up": "UP",
    "incident.resolved": "RESOLVED",
    "incident.reminder": "STILL DOWN",
    "incident.escalated": "ESCALATED",
    "incident.partial": "PARTIAL",
    "incident.partial_resolved": "RESOLVED",
    "incident.updated": "UPDATE",
    "agent.skipped": "NOT CHECKED",
    "agent.running": "CHECKED AGAIN",
}
_DOWN = (
    "incident.opened",
    "monitor.down",
    "incident.reminder",
    "incident.escalated",
    "incident.partial",
)
_BACK = RESOLVING
_CLOSED = ("incident.resolved", "incident.partial_resolved")


def subject(payload: AlertPayload) -> str:
    """One line a person can act on from the inbox: what happened, to what, and why."""
    event = payload.event
    label = _LABELS.get(event) or event.rpartition(".")[2].upper()
    if payload.host_count is not None:  # the local incident's: about many monitors
        return f"{_PREFIX} {label} {_about_many(payload)}"
    who = payload.monitor or "a monitor"
    if event in _DOWN:
        reason = _reason(payload)
        if event == "monitor.down" and payload.incident is not None:
            reason += f" (incident #{payload.incident})"
        failing = [name for name, fact in payload.locations.items() if fact.failing]
        if event == "incident.partial" and failing:
            reason = f"unreachable from {joined(failing)} ({reason})"
    elif event in _BACK:
        reason = _one_line(payload.detail or "back up")
    elif event.startswith("agent."):  # what an agent does not run, and where
        who += f" from {payload.labels.get('location', 'an agent')}"
        reason = _one_line(payload.detail) if event == "agent.skipped" else ""
    elif event.startswith("objective."):  # the text names the objective first
        reason = _one_line(payload.text.removeprefix(f"{who}: "))
    else:  # a latency notice: the engine's sentence, without the monitor's name twice
        reason = _one_line(_without_subject(payload))
    return f"{_PREFIX} {label} {who}: {reason}" if reason else f"{_PREFIX} {label} {who}"


def body(payload: AlertPayload) -> str:
    """The plain-text message: what happened, why, what to do, the target, the incident."""
    text = (payload.text or payload.detail or payload.event).rstrip(".")
    lines = [f"{text}.", ""]
    if payload.event in _DOWN or payload.event == "incident.updated":
        if payload.detail:
            lines.append(f"Why: {payload.detail}")
        if payload.hint:
            lines.append(f"What to do: {payload.hint}")
        if payload.kind is not None:
            lines.append(f"Failure kind: {payload.kind} (more: tether explain {payload.kind})")
    elif payload.event in _BACK and payload.since is not None:
        began = "It began" if payload.event == "incident.partial_resolved" else "It went down"
        lines.append(f"{began} at {_when(payload.since)}.")
    else:
        lines.append(f"At: {_when(payload.at)}")
    if payload.host_count is not None and payload.monitors and payload.event != "incident.resolved":
        n = payload.monitor_count or len(payload.monitors)
        lines.append(f"Monitors ({n:,}): {and_more(payload.monitors, n)}")
    if payload.locations:
        lines.append("Locations:")
        lines += [f"  {name}: {_seen(fact)}" for name, fact in payload.locations.items()]
    if payload.url:
        lines.append(f"Target: {payload.url}")
    if payload.labels:
        lines.append(f"Labels: {labels_line(payload.labels)}")
    if payload.incident is not None:
        closed = " (resolved)" if payload.event in _CLOSED else ""
        lines.append(f"Incident: {payload.incident}{closed}")
    return "\n".join(lines).rstrip() + "\n"


_PLAIN: Final = re.compile(r"[A-Za-z0-9_.:/@+-]*")


def labels_line(labels: Mapping[str, str]) -> str:
    """``team=payments, tier=1``: a value that is not plain is quoted as a matcher's is
    (``note="a \\"b\\"\\nc"``), so no value can break the line or pass for another label."""
    return ", ".join(
        f"{name}={value}" if _PLAIN.fullmatch(value) else str(Matcher(name, "=", value))
        for name, value in labels.items()
    )


def _about_many(payload: AlertPayload) -> str:
    """The subject of a ``local`` incident's alert: ``1,200 monitors on 20 hosts:
    connection refused (incident #7)``; ``incident #7: all 2,000 monitors back up``."""
    n = payload.monitor_count or len(payload.monitors)
    hosts = payload.host_count or 0
    incident = f"incident #{payload.incident}" if payload.incident is not None else "incident"
    monitors = f"{n:,} monitor{'' if n == 1 else 's'}"
    if payload.event == "incident.resolved":
        everyone = "the only monitor" if n == 1 else f"all {monitors}"
        return f"{incident}: {everyone} back up"
    if payload.event == "incident.updated":
        news = payload.text.partition("): ")[2].partition(":")[0] or "monitors changed"
        return f"{incident}: {_one_line(news)}"
    where = f" on {hosts:,} host{'' if hosts == 1 else 's'}" if hosts else ""
    return f"{monitors}{where}: {_reason(payload)} ({incident})"


def _seen(fact: LocationFact) -> str:
    """``down (connect.timeout): 203.0.113.7:443 did not ...``, ``up``, or why it is not
    counted: one location's line of a message."""
    if not fact.live:
        return "not counted (no live instance)"
    if not fact.failing or fact.why == "flapping":
        return str(fact.state)
    said = f"{fact.state} ({fact.why})"
    return f"{said}: {_one_line(fact.detail)}" if fact.detail else said


def _without_subject(payload: AlertPayload) -> str:
    """``api is slower than usual: ...`` -> ``slower than usual: ...`` after ``api`` is named."""
    detail = payload.detail or payload.text
    for verb in ("is", "are"):
        detail = detail.removeprefix(f"{payload.monitor} {verb} ")
    return detail


def _when(ts: float) -> str:
    """``2026-11-14 22:13:20 UTC``."""
    return f"{dt.datetime.fromtimestamp(ts, dt.UTC):%Y-%m-%d %H:%M:%S} UTC"


def _reason(payload: AlertPayload) -> str:
    """The failure kind's title (``connection refused``); the detail when there is no kind."""
    if payload.kind is None:
        return _one_line(payload.detail)
    title = CATALOGUE[payload.kind].title
    # "Connection refused" reads as "connection refused" after a colon; "DNS ..." stays.
    if title[1:2].islower():
        title = title[0].lower() + title[1:]
    return title


def _one_line(text: str) -> str:
    """A subject is one line: newlines would end the header, length would hide the rest."""
    text = " ".join(text.split())
    return text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 1] + "…"
