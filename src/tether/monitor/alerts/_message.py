"""The words of an alert, for the channels a person reads: email and apprise.

One place decides what a message says, so an email and a chat message about the
same incident read the same.  Both functions take the payload the runner queues
(``event``, ``incident``, ``monitors``, ``since``, ``kind``, ``detail``, ``hint``,
``text``) and tolerate keys that are missing: the payload may have waited in the
outbox since an older tether queued it.

An opened incident (the subject, then the body; docs/monitor.md shows the
same, and a test checks that it is what these functions write)::

    [tether] DOWN api: connection refused

    api is down since 2026-03-02 14:05:09 UTC.

    Why: 127.0.0.1:8080 refused the connection: nothing is listening on that port
    What to do: Check that the service is running and listening on that port: ...
    Failure kind: connect.refused (more: tether explain connect.refused)
    Incident: 7

    tether will send another message when it is back up.

Its resolution::

    [tether] RESOLVED api: back up after 3 min 2 s

    api is back up after 3 min 2 s.

    It went down at 2026-03-02 14:05:09 UTC.
    Incident: 7 (resolved)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tether._catalogue import CATALOGUE
from tether._kinds import Kind

__all__ = ["body", "subject"]

_PREFIX = "[tether]"
_NAMED = 3
"""Monitors named in a subject before the rest are counted: a subject must stay short."""
_REASON_MAX = 100


def subject(payload: dict[str, Any]) -> str:
    """One line a person can act on from the inbox: what happened, to what, and why."""
    event = payload.get("event")
    who = _names(payload, limit=_NAMED)
    if event == "incident.opened":
        reason = _reason(payload)
        return f"{_PREFIX} DOWN {who}: {reason}" if reason else f"{_PREFIX} DOWN {who}"
    if event == "incident.resolved":
        return f"{_PREFIX} RESOLVED {who}: {_one_line(str(payload.get('detail') or 'back up'))}"
    # Other events (a monitor's latency leaving its baseline and coming back):
    # the event's name and the runner's sentence, without the monitor's name twice.
    label = str(event or "alert").rpartition(".")[2].upper()
    detail = _one_line(_without_subject(payload))
    return f"{_PREFIX} {label} {who}: {detail}" if detail else f"{_PREFIX} {label} {who}"


def body(payload: dict[str, Any]) -> str:
    """The plain-text message: what is down, since when, why, what to do, which incident."""
    event = payload.get("event")
    if event == "incident.opened":
        return _opened(payload)
    if event == "incident.resolved":
        return _resolved(payload)
    text = str(payload.get("detail") or payload.get("text") or "").rstrip(".")
    lines = [f"{text}." if text else str(event or "alert"), ""]
    if when := _when(payload):
        lines.append(f"At: {when}")
    return "\n".join(lines).rstrip() + "\n"


def _opened(payload: dict[str, Any]) -> str:
    names = _monitors(payload)
    when = _when(payload)
    since = f" since {when}" if when else ""
    lines = [f"{_names(payload)} {'is' if len(names) == 1 else 'are'} down{since}.", ""]
    if detail := payload.get("detail"):
        lines.append(f"Why: {detail}")
    if hint := payload.get("hint"):
        lines.append(f"What to do: {hint}")
    if kind := payload.get("kind"):
        lines.append(f"Failure kind: {kind} (more: tether explain {kind})")
    if (incident := payload.get("incident")) is not None:
        lines.append(f"Incident: {incident}")
    back = "it is" if len(names) == 1 else "they are"
    lines += ["", f"tether will send another message when {back} back up."]
    return "\n".join(lines) + "\n"


def _resolved(payload: dict[str, Any]) -> str:
    names = _monitors(payload)
    detail = str(payload.get("detail") or "back up")
    verb = "is" if len(names) == 1 else "are"
    # The runner words it "back up after 3 min 2 s"; anything else is quoted as given.
    status = detail if detail.startswith("back up") else f"back up: {detail}"
    lines = [f"{_names(payload)} {verb} {status}.", ""]
    if when := _when(payload):
        lines.append(f"{'It' if len(names) == 1 else 'They'} went down at {when}.")
    if (incident := payload.get("incident")) is not None:
        lines.append(f"Incident: {incident} (resolved)")
    return "\n".join(lines) + "\n"


def _without_subject(payload: dict[str, Any]) -> str:
    """``api is slower than usual: ...`` -> ``slower than usual: ...`` after ``api`` is named."""
    detail = str(payload.get("detail") or payload.get("text") or "")
    names = _monitors(payload)
    if len(names) == 1:
        for verb in ("is", "are"):
            detail = detail.removeprefix(f"{names[0]} {verb} ")
    return detail


def _monitors(payload: dict[str, Any]) -> list[str]:
    monitors = payload.get("monitors") or []
    return [str(m) for m in monitors] if isinstance(monitors, list | tuple) else [str(monitors)]


def _names(payload: dict[str, Any], *, limit: int | None = None) -> str:
    """``api``, ``api and web``, ``api, web and db``; past ``limit``, ``... and 4 more``."""
    names = _monitors(payload) or ["a monitor"]
    if limit is not None and len(names) > limit:
        shown, rest = names[:limit], len(names) - limit
        return f"{', '.join(shown)} and {rest} more"
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _when(payload: dict[str, Any]) -> str | None:
    """When the incident opened, ``2026-11-14 22:13:20 UTC``; None when the payload has no time."""
    since = payload.get("since")
    if not since:
        return None
    try:
        at = dt.datetime.fromisoformat(str(since)).astimezone(dt.UTC)
    except ValueError:
        return str(since)
    return f"{at:%Y-%m-%d %H:%M:%S} UTC"


def _reason(payload: dict[str, Any]) -> str:
    """The failure kind's title (``connection refused``); the detail when there is no kind."""
    try:
        title = CATALOGUE[Kind(str(payload.get("kind")))].title
    except ValueError:
        return _one_line(str(payload.get("detail") or ""))
    # "Connection refused" reads as "connection refused" after a colon; "DNS ..." stays.
    if title[1:2].islower():
        title = title[0].lower() + title[1:]
    return title


def _one_line(text: str) -> str:
    """A subject is one line: newlines would end the header, length would hide the rest."""
    text = " ".join(text.split())
    return text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 1] + "…"
