"""Alert payloads shaped as the monitor's runner queues them, for the channel tests."""

from __future__ import annotations

from typing import Any

from tether._catalogue import CATALOGUE
from tether._kinds import Kind


def opened(**changes: Any) -> dict[str, Any]:
    """The payload of an incident that opened: api refused its connection."""
    payload: dict[str, Any] = {
        "event": "incident.opened",
        "incident": 7,
        "monitors": ["api"],
        "since": "2026-03-02T14:05:09+00:00",
        "kind": "connect.refused",
        "detail": "127.0.0.1:8080 refused the connection: nothing is listening on that port",
        "hint": CATALOGUE[Kind.CONNECT_REFUSED].hint,
        "text": "api is down since 2026-03-02T14:05:09+00:00: 127.0.0.1:8080 refused",
    }
    return payload | changes


def resolved(**changes: Any) -> dict[str, Any]:
    """The payload of the same incident resolved, 3 min 2 s later."""
    back = {"event": "incident.resolved", "kind": None, "hint": ""}
    return opened(**back, detail="back up after 3 min 2 s") | changes
