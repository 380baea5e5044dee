"""Alert payloads shaped as the incident engine makes them, for the channel tests.

One incident, #7: api's connection is refused at 2026-03-02 14:05:09 UTC
(``opened``), web goes down for the same cause 30 s later (``down_too``) and
comes back after a minute (``up``), api is reminded about and escalated, and
comes back after 3 min 2 s (``resolved``).  Beside it, api's latency notices
(``degraded``, ``recovered``), which belong to no incident.  Each helper takes
field changes (``dataclasses.replace``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tether._catalogue import CATALOGUE
from tether._kinds import Kind
from tether.monitor._records import AlertPayload, alert_key

OPENED_AT = 1_772_460_309.0
"""2026-03-02 14:05:09 UTC, when api went down and incident #7 opened."""
URL = "http://127.0.0.1:8080/health"
DETAIL = "127.0.0.1:8080 refused the connection: nothing is listening on that port"
HINT = CATALOGUE[Kind.CONNECT_REFUSED].hint
CAUSE = "connect.refused on 127.0.0.1"


def _down(
    event: str, monitor: str, text: str, at: float, since: float, monitors: tuple[str, ...]
) -> AlertPayload:
    return AlertPayload(
        event,
        monitor,
        text,
        at,
        incident=7,
        monitors=monitors,
        url=URL,
        kind=Kind.CONNECT_REFUSED,
        detail=DETAIL,
        hint=HINT,
        since=since,
        # The channels incident #7's opening went to, as the engine says on later alerts.
        opened_to=() if event == "incident.opened" else ("ops", "mail"),
    )


def opened(**changes: Any) -> AlertPayload:
    """api refused its connection and opened incident #7."""
    text = f"api is down since 2026-03-02T14:05:09+00:00: {DETAIL}"
    payload = _down("incident.opened", "api", text, OPENED_AT, OPENED_AT, ("api",))
    return dataclasses.replace(payload, **changes)


def down_too(**changes: Any) -> AlertPayload:
    """web went down 30 s later for the same cause, joining incident #7."""
    text = f"web is down too: same cause as incident #7 ({CAUSE}), 2 monitors affected"
    payload = _down("monitor.down", "web", text, OPENED_AT + 30, OPENED_AT + 30, ("api", "web"))
    return dataclasses.replace(payload, **changes)


def up(**changes: Any) -> AlertPayload:
    """web came back after 1 min 0 s while api is still down."""
    text = f"web is back up after 1 min 0 s; incident #7 ({CAUSE}) goes on: 1 monitor still down"
    payload = dataclasses.replace(
        _down("monitor.up", "web", text, OPENED_AT + 90, OPENED_AT + 30, ("api",)),
        detail="back up after 1 min 0 s",
        hint="",
    )
    return dataclasses.replace(payload, **changes)


def reminder(**changes: Any) -> AlertPayload:
    """api is still down an hour later (remind_every)."""
    text = f"api is still down after 1 h 0 min: {DETAIL} (incident #7)"
    payload = _down("incident.reminder", "api", text, OPENED_AT + 3600, OPENED_AT, ("api",))
    return dataclasses.replace(payload, **changes)


def escalated(**changes: Any) -> AlertPayload:
    """api has been down for 30 min: an escalation step tells more channels."""
    text = f"api has been down for 30 min 0 s: {DETAIL} (incident #7, escalated)"
    payload = _down("incident.escalated", "api", text, OPENED_AT + 1800, OPENED_AT, ("api",))
    return dataclasses.replace(payload, **changes)


def resolved(**changes: Any) -> AlertPayload:
    """api, the last one down, came back 3 min 2 s after it went down: #7 is resolved."""
    text = f"api is back up after 3 min 2 s: incident #7 ({CAUSE}) is resolved after 3 min 2 s"
    payload = dataclasses.replace(
        _down("incident.resolved", "api", text, OPENED_AT + 182, OPENED_AT, ("api",)),
        detail="back up after 3 min 2 s",
        hint="",
    )
    return dataclasses.replace(payload, **changes)


def degraded(**changes: Any) -> AlertPayload:
    """api answers, but slower than its baseline allows (no incident)."""
    text = "api is slower than usual: 850 ms, above its limit of 300 ms (median 40 ms)"
    at = OPENED_AT + 7200
    payload = AlertPayload("monitor.degraded", "api", text, at, url=URL, detail=text, since=at)
    return dataclasses.replace(payload, **changes)


def recovered(**changes: Any) -> AlertPayload:
    """api is back to its usual latency (no incident)."""
    text = "api is back to its usual latency: 41 ms"
    at = OPENED_AT + 7500
    payload = AlertPayload("monitor.recovered", "api", text, at, url=URL, detail=text, since=at)
    return dataclasses.replace(payload, **changes)


EVERY_EVENT = (opened, down_too, up, reminder, escalated, resolved, degraded, recovered)
"""A helper for each event a channel may be given, in the order they happen."""


def key_of(payload: AlertPayload, channel: str = "ops") -> str:
    """The key the outbox would give ``payload`` on ``channel``: the engine's dedup key
    (incident, monitor, event, time) under :func:`alert_key`."""
    return alert_key(
        channel, f"{payload.incident}:{payload.monitor}:{payload.event}:{payload.at:.3f}"
    )
