"""The write API: changing a running monitor, each change logged in the audit log.

    POST /api/monitors/{name}/pause        stop probing it (state ``paused``)
    POST /api/monitors/{name}/resume       probe it again
    POST /api/monitors/{name}/check        probe it now: its result, or 202 when another
                                           instance probes it
    POST /api/incidents/{id}/acknowledge   stop its reminders and escalation
    POST /api/incidents/{id}/notes         add a note to its timeline (``{"text": ...}``)
    GET  /api/maintenance                  the windows opened here, newest first
    POST /api/maintenance                  open a window (``monitors``, ``for`` or
                                           ``until``, ``reason``)
    POST /api/maintenance/{id}/close       close it
    GET  /api/audit                        the audit log, newest first (``?limit=N``)
    GET  /api/openapi.json                 every route of the API, described (OpenAPI 3.1)

Each change is written to the store with its audit entry in one transaction (who, what,
when on the runner's clock, and by which way: session, token, local), then applied to
this instance at once; every other instance reads the store's controls each second
(``runtime/_controls.ControlsIntake.apply``), so a pause or a window reaches them all and
outlives a restart.  A pause is the configuration's ``paused: true`` at run time; a window holds
alerts exactly as the configuration's maintenance windows do (``engine/_holds.py``); an
acknowledgement is what ``tether ack`` writes.

The bodies are JSON (``application/json``) or, for the dashboard's forms, a form
(``application/x-www-form-urlencoded``), whose answer is a 303 back to the page (JSON
for a request with an ``Authorization`` header: a script).  A form-typed body that is a
JSON object (``curl -d '{...}'``, curl's default type) is read as JSON.  Bad
input is a 400 or 404 with ``{"error": "..."}`` saying what to change; a change made
already is a 200 with ``"changed": false``.  Every handler asks :func:`authorize` for
``write`` (``read`` for the two lists) before it reads anything of the request, its path
included: the body is read and parsed only once the request may make the change (a
session's form has its ``csrf`` field read by the login gate, ``_auth.gate``, which
keeps the form for the handler: ``_params.read_form``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.resources
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypedDict
from urllib.parse import quote

from aiohttp import web

from tether._durations import parse_duration
from tether._redact import redact_text
from tether._suggest import did_you_mean
from tether.monitor._records import AuditEntry, Incident, OpenedWindow, TimelineEntry, covered
from tether.monitor.reports._documents import iso, result_json
from tether.monitor.store import StoreError
from tether.monitor.web._access import AUTHORITY, LocalAuthority, Principal, authorize, refusal
from tether.monitor.web._params import (
    FORM_TYPES,
    BadBody,
    body_number,
    parse_json,
    path_id,
    read_body,
    read_form,
    request_number,
)

if TYPE_CHECKING:
    from tether.monitor.config import Monitor
    from tether.monitor.store import Store
    from tether.monitor.web._running import Running

__all__ = [
    "NOTE_MAX",
    "ActionHandlers",
    "AuditDoc",
    "Forms",
    "WindowDoc",
    "acknowledge",
    "action_handlers",
    "audit_json",
    "forms_for",
    "openapi",
    "window_json",
]

NOTE_MAX: Final = 2000
"""The longest note or reason, in characters."""
CHECK_WAIT: Final = 10.0
"""Seconds a check asked for may take beyond the monitor's timeout before the answer is
202 (asked for, the result to come) rather than the result."""
AUDIT_SHOWN: Final = 100
WINDOW_MAX: Final = 366 * 86400.0
"""The longest a maintenance window opened at run time may be (seconds): a longer one is
a mistake (``for: 1e300`` would also be a time no page could show); pause the monitor."""


@dataclass(frozen=True, slots=True)
class Forms:
    """What a page needs to show its buttons: the session's CSRF token for the forms'
    hidden ``csrf`` field (``None`` outside sessions)."""

    csrf: str | None = None


def acknowledge(
    store: Store, incident_id: int, by: str, now: float, audit: AuditEntry | None = None
) -> bool:
    """Acknowledge the open incident ``incident_id`` in ``store`` (what ``tether ack``
    and the write API do, the API with its ``audit`` entry); a running monitor stops its
    reminders and escalation within a second.  False if no incident by that id is open."""
    entry = TimelineEntry(now, "acknowledged", f"by {by}")
    return store.acknowledge_incident(incident_id, entry, audit=audit)


def forms_for(request: web.Request) -> Forms | None:
    """The buttons for ``request``'s page, or ``None`` when its principal may not write
    (no buttons then)."""
    authority = request.app.get(AUTHORITY) or LocalAuthority()
    who = authority.principal(request)
    if who is None or not who.may("write"):
        return None
    return Forms(who.csrf)


# -- JSON -------------------------------------------------------------------------------------


class AuditDoc(TypedDict):
    """An audit entry (``/api/audit``); ``params`` as the write was given them (redacted),
    whatever the action takes."""

    id: int | None
    at: str
    who: str
    via: str
    action: str
    target: str
    params: dict[str, object]


class WindowDoc(TypedDict):
    """A maintenance window (``/api/maintenance``)."""

    id: int
    monitors: list[str]
    start: str
    end: str
    reason: str
    opened_by: str
    closed: str | None
    closed_by: str | None
    open: bool


def audit_json(entry: AuditEntry) -> AuditDoc:
    """An audit entry as ``/api/audit`` shows it."""
    return {
        "id": entry.id,
        "at": iso(entry.at),
        "who": entry.who,
        "via": entry.via,
        "action": entry.action,
        "target": entry.target,
        "params": dict(entry.params),
    }


def window_json(window: OpenedWindow, now: float) -> WindowDoc:
    """A maintenance window opened at run time."""
    return {
        "id": window.id,
        "monitors": list(window.monitors),
        "start": iso(window.start),
        "end": iso(window.end),
        "reason": window.reason,
        "opened_by": window.opened_by,
        "closed": iso(window.closed),
        "closed_by": window.closed_by,
        "open": window.open_at(now),
    }


def openapi() -> bytes:
    """The API's OpenAPI 3.1 description (``openapi.json`` beside this module)."""
    return (importlib.resources.files("tether.monitor.web") / "openapi.json").read_bytes()


# -- reading what was sent ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Body:
    fields: dict[str, object]
    form: bool
    """It came from a form: the answer is a 303 back to the page."""
    back: str | None


async def _read(request: web.Request) -> _Body | bytes:
    """A form parsed, or the raw body to parse as JSON: :class:`BadBody` as a JSON
    refusal (400, or 413 past the limit)."""
    try:
        if request.content_type == FORM_TYPES[0]:
            # curl -d '{"reason": ...}' sends JSON with curl's default type, a form's: take
            # it as the JSON it is (a form's first field never starts with a brace).
            raw = await read_body(request)
            if raw.lstrip().startswith(b"{"):
                return raw
        if request.content_type in FORM_TYPES:
            form = await read_form(request)
        else:
            return await read_body(request)
    except BadBody as exc:
        raise refusal(exc.status, str(exc)) from None
    fields: dict[str, object] = {}
    for key in set(form.keys()) - {"csrf", "back"}:
        values = form.getall(key)
        fields[key] = values if key == "monitors" else values[0]
    back = form.get("back")
    # A page's form gets a 303 back to the page; a script with a token, its JSON.
    browser = "Authorization" not in request.headers
    return _Body(fields, browser, back)


def _parse(raw: _Body | bytes) -> _Body:
    if isinstance(raw, _Body):
        return raw
    if not raw.strip():
        return _Body({}, False, None)
    try:
        data = parse_json(raw)
    except BadBody as exc:
        raise refusal(exc.status, str(exc)) from None
    if not isinstance(data, dict):
        raise refusal(400, f"the body must be a JSON object, not {type(data).__name__}")
    return _Body(data, False, None)


async def _authorized(request: web.Request) -> tuple[Principal, _Body]:
    """Who may make this change (a JSON 401 or 403 before anything is read), and the
    body they sent."""
    who = authorize(request, "write")
    return who, _parse(await _read(request))


def _only(body: _Body, allowed: tuple[str, ...]) -> None:
    for key in body.fields:
        if key not in allowed:
            takes = ", ".join(allowed) if allowed else "no fields"
            raise refusal(
                400, f"unknown field {key!r}{did_you_mean(key, allowed)}; it takes {takes}"
            )


WHITESPACE: Final = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
"""What a blank text is made of: JSON Schema's (ECMA-262's) ``\\s``, so that the API's
document says exactly which texts are blank (Python's ``str.isspace`` differs on two)."""


def _text(body: _Body, key: str, *, required: bool) -> str | None:
    """``key``'s text: at most :data:`NOTE_MAX` characters as sent, no control character
    but a newline or a tab; a blank one (or none) is no text, which a required field
    refuses.  Its ends are trimmed and its secrets redacted."""
    given = body.fields.get(key, "")
    if not isinstance(given, str):
        raise refusal(400, f"{key}: give a text, not {type(given).__name__}")
    value = given
    if len(value) > NOTE_MAX:
        raise refusal(400, f"{key}: give a text of 1 to {NOTE_MAX} characters")
    if any((ord(c) < 32 and c not in "\n\t") or ord(c) == 127 for c in value):
        raise refusal(400, f"{key}: remove the control characters")
    value = value.strip(WHITESPACE)
    if not value:
        if required:
            raise refusal(400, f"{key}: give a text of 1 to {NOTE_MAX} characters")
        return None
    return redact_text(value)


_FOR_WANTED: Final = "give seconds; a window lasts 366 days at most (pause the monitor)"
_UNTIL_WANTED: Final = "give Unix seconds; a window ends within 366 days (pause the monitor)"


def _number(value: object, name: str, *, most: float, want: str) -> float:
    """``value`` from 0 to ``most`` (:func:`body_number`), or a 400 naming it."""
    try:
        return float(body_number(value, name, least=0, most=most, want=want))
    except BadBody as exc:
        raise refusal(exc.status, str(exc)) from None


def _answer(body: _Body, doc: Mapping[str, object], back: str, status: int = 200) -> web.Response:
    """The JSON answer, or for a form a 303 back to the page it was sent from."""
    if body.form:
        given = body.back
        # A path of this server only: never a redirect to another site.
        if given and given.startswith("/") and not given.startswith("//") and "\\" not in given:
            back = given
        raise web.HTTPSeeOther(location=back)
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    return web.Response(text=text, status=status, content_type="application/json")


def _monitor_page(name: str) -> str:
    return "/monitors/" + quote(name, safe="")


def duration_field(length: object, *, example: str) -> float:
    """A body's ``for``: seconds, or a duration (``30m``, ``2h``), of more than 0 s and
    within a year; a 400 naming it otherwise (the caller bounds it further)."""
    if isinstance(length, int | float) and not isinstance(length, bool):
        seconds = _number(length, "for", most=WINDOW_MAX, want=_FOR_WANTED)
    elif isinstance(length, str):
        try:
            seconds = parse_duration(length.strip())
        except ValueError as exc:
            raise refusal(400, f"for: {exc}") from None
    else:
        raise refusal(400, f"for: give a duration ({example}), not {type(length).__name__}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise refusal(400, "for: give a duration of more than 0 s")
    return seconds


def _window_end(body: _Body, now: float) -> float:
    length, until = body.fields.get("for"), body.fields.get("until")
    if (length in (None, "")) == (until in (None, "")):
        raise refusal(400, "give one of for (a duration: 30m, 2h) or until (a time)")
    if length not in (None, ""):
        seconds = duration_field(length, example="30m")
        if seconds > WINDOW_MAX:
            raise refusal(400, "for: a window lasts 366 days at most; pause the monitor")
        return now + seconds
    if isinstance(until, int | float) and not isinstance(until, bool):
        end = _number(until, "until", most=now + WINDOW_MAX, want=_UNTIL_WANTED)
    elif isinstance(until, str):
        try:
            moment = dt.datetime.fromisoformat(until.strip())
        except ValueError:
            raise refusal(
                400, f"until: give a time as 2030-01-15T08:00:00Z, not {until[:40]!r}"
            ) from None
        if moment.tzinfo is None:
            raise refusal(400, "until: give the time with its offset (Z for UTC, +02:00)")
        end = moment.timestamp()
    else:
        raise refusal(400, f"until: give a time, not {type(until).__name__}")
    if not math.isfinite(end) or end > now + WINDOW_MAX:
        raise refusal(400, "until: a window ends within 366 days; pause the monitor")
    if end <= now:
        raise refusal(400, f"until: {iso(end)} is not ahead")
    return end


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", str(AUDIT_SHOWN))
    try:
        return int(request_number(raw, "limit", least=1, most=1000, whole=True))
    except web.HTTPBadRequest as exc:
        raise refusal(400, (exc.text or "limit").strip()) from None


@dataclass(eq=False)
class ActionHandlers:
    """The write API's request handlers (:func:`action_handlers`) and what they share: the
    runner they change and the OpenAPI description, read once."""

    runner: Running
    described: bytes

    def monitor(self, request: web.Request) -> Monitor:
        name = request.match_info["name"]
        try:
            return self.runner.monitor(name)
        except KeyError:
            known = [m.name for m in self.runner.config.monitors]
            raise refusal(
                404, f"no monitor is called {name!r}{did_you_mean(name, known)}"
            ) from None

    def entry(self, who: Principal, action: str, target: str, **params: Any) -> AuditEntry:
        return AuditEntry(self.runner.wall(), who.who, who.via, action, target, params)

    async def write(self, call: Callable[[], Any]) -> Any:
        try:
            return await asyncio.to_thread(call)
        except StoreError as exc:
            raise web.HTTPServiceUnavailable(
                text=json.dumps({"error": f"the store cannot be written now: {exc}"}),
                content_type="application/json",
            ) from None

    async def apply(self) -> None:
        """This instance applies the change now, not at its next read of the store."""
        runner = self.runner
        controls = await self.write(lambda: runner.store.controls(runner.wall()))
        runner.controls.apply(controls)

    async def pause_or_resume(self, request: web.Request, paused: bool) -> web.Response:
        runner = self.runner
        who, body = await _authorized(request)
        m = self.monitor(request)
        _only(body, ("reason",))
        reason = _text(body, "reason", required=False)
        if not paused and m.paused:
            raise refusal(
                409,
                f"{m.name} is paused in the configuration (paused: true): change the file "
                "and reload (SIGHUP) to resume it",
            )
        action = "pause" if paused else "resume"
        params = {} if reason is None else {"reason": reason}
        audit = self.entry(who, action, f"monitor:{m.name}", **params)
        changed = await self.write(lambda: runner.store.set_paused(m.name, paused, audit))
        await self.apply()
        state = runner.quorum.states().get(m.name)
        doc = {
            "monitor": m.name,
            "paused": runner.controls.is_paused(m),
            "state": None if state is None else str(state),
            "changed": changed,
        }
        return _answer(body, doc, _monitor_page(m.name))

    async def pause(self, request: web.Request) -> web.Response:
        return await self.pause_or_resume(request, True)

    async def resume(self, request: web.Request) -> web.Response:
        return await self.pause_or_resume(request, False)

    async def check(self, request: web.Request) -> web.Response:
        runner = self.runner
        who, body = await _authorized(request)
        m = self.monitor(request)
        _only(body, ())
        if runner.controls.is_paused(m):
            raise refusal(409, f"{m.name} is paused: resume it to check it")
        if m.push:
            raise refusal(409, f"{m.name} is a push monitor: its job reports in, nothing is probed")
        here = runner.probes_here(m.name)
        waiting = runner.next_record(m.name) if here else None
        audit = self.entry(who, "check", f"monitor:{m.name}")
        try:
            await self.write(lambda: runner.store.request_check(m.name, audit))
            await self.apply()
            if waiting is None:
                doc = {"monitor": m.name, "requested": True, "result": None}
                return _answer(body, doc, _monitor_page(m.name), status=202)
            try:
                async with asyncio.timeout(m.timeout + CHECK_WAIT):
                    record = await asyncio.shield(waiting)
            except TimeoutError:
                doc = {"monitor": m.name, "requested": True, "result": None}
                return _answer(body, doc, _monitor_page(m.name), status=202)
        finally:
            if waiting is not None:
                waiting.cancel()
        doc = {"monitor": m.name, "requested": True, "result": result_json(record)}
        return _answer(body, doc, _monitor_page(m.name))

    async def incident(self, number: int) -> Incident:
        runner = self.runner
        found: Incident | None = await self.write(lambda: runner.store.incident(number))
        if found is None:
            raise refusal(404, f"no incident #{number}")
        return found

    async def acknowledge_it(self, request: web.Request) -> web.Response:
        runner = self.runner
        who, body = await _authorized(request)
        number = path_id(request, "an incident's")
        _only(body, ())
        found = await self.incident(number)
        if not found.is_open:
            raise refusal(409, f"incident #{number} is resolved: nothing to acknowledge")
        # Again when a monitor joined after the last acknowledgement: that one did not
        # cover it (its reminders run), this one does.
        changed = found.acknowledged is None or any(
            not covered(found, member) for member in found.members.values()
        )
        at = found.acknowledged
        if changed:
            now = runner.wall()
            audit = self.entry(who, "acknowledge", f"incident:{number}")
            done = await self.write(lambda: acknowledge(runner.store, number, who.who, now, audit))
            if not done:  # resolved meanwhile
                raise refusal(409, f"incident #{number} is resolved: nothing to acknowledge")
            at = now
            if runner.leading:  # reminders stop now, not at the next read of the store
                runner.tick({number: now})
        doc = {"incident": number, "acknowledged": iso(at), "changed": changed}
        return _answer(body, doc, "/incidents")

    async def note(self, request: web.Request) -> web.Response:
        runner = self.runner
        who, body = await _authorized(request)
        number = path_id(request, "an incident's")
        _only(body, ("text",))
        text = _text(body, "text", required=True)
        assert text is not None
        line = TimelineEntry(runner.wall(), "note", f"{who.who}: {text}")
        audit = self.entry(who, "note", f"incident:{number}", text=text)
        if not await self.write(lambda: runner.store.add_note(number, line, audit)):
            raise refusal(404, f"no incident #{number}")
        doc = {
            "incident": number,
            "note": {"at": iso(line.at), "event": line.event, "detail": line.detail},
        }
        return _answer(body, doc, "/incidents", status=201)

    def window_monitors(self, body: _Body) -> tuple[str, ...]:
        given = body.fields.get("monitors", [])
        if isinstance(given, str):
            given = [given]
        if not isinstance(given, list) or not all(isinstance(n, str) for n in given):
            raise refusal(400, "monitors: give a list of monitor names (none: all of them)")
        known = [m.name for m in self.runner.config.monitors]
        names = [n for n in given if n]
        for name in names:
            if name not in known:
                raise refusal(
                    400, f"monitors: no monitor is called {name!r}{did_you_mean(name, known)}"
                )
        return tuple(dict.fromkeys(names))

    async def open_window(self, request: web.Request) -> web.Response:
        runner = self.runner
        who, body = await _authorized(request)
        _only(body, ("monitors", "for", "until", "reason"))
        names = self.window_monitors(body)
        now = runner.wall()
        end = _window_end(body, now)
        reason = _text(body, "reason", required=True)
        assert reason is not None
        params = {"monitors": list(names), "end": iso(end), "reason": reason}
        audit = self.entry(who, "maintenance.open", "maintenance", **params)
        window = await self.write(lambda: runner.store.open_window(names, now, end, reason, audit))
        await self.apply()
        return _answer(body, window_json(window, runner.wall()), "/", status=201)

    async def close_window(self, request: web.Request) -> web.Response:
        runner = self.runner
        who, body = await _authorized(request)
        number = path_id(request, "a window's")
        _only(body, ())
        audit = self.entry(who, "maintenance.close", f"maintenance:{number}")
        window, changed = await self.write(lambda: runner.store.close_window(number, audit))
        if window is None:
            raise refusal(404, f"no maintenance window #{number}")
        await self.apply()
        doc = {**window_json(window, runner.wall()), "changed": changed}
        return _answer(body, doc, "/")

    async def audit(self, request: web.Request) -> web.Response:
        runner = self.runner
        authorize(request, "read")
        n = _limit(request)
        entries = await self.write(lambda: runner.store.audit(limit=n))
        doc = {"now": iso(runner.wall()), "entries": [audit_json(e) for e in entries]}
        return _answer(_Body({}, False, None), doc, "/")

    async def windows(self, request: web.Request) -> web.Response:
        runner = self.runner
        authorize(request, "read")
        n = _limit(request)
        found = await self.write(lambda: runner.store.windows(limit=n))
        now = runner.wall()
        doc = {"now": iso(now), "windows": [window_json(w, now) for w in found]}
        return _answer(_Body({}, False, None), doc, "/")

    async def description(self, request: web.Request) -> web.Response:
        return web.Response(body=self.described, content_type="application/json")


def action_handlers(runner: Running) -> ActionHandlers:
    """The handlers of the write API, the audit log and the OpenAPI description."""
    return ActionHandlers(runner, openapi())
