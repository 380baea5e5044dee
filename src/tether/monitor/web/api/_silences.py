"""The write API's silences, beside the maintenance windows (``_actions.py``, whose body
reading, authorisation, audit and error shapes these share):

    GET  /api/silences                  silences, newest first, each with its state
                                        (``pending``, ``active``, ``expired``)
    POST /api/silences                  make one: ``matchers`` (a list, or one string
                                        of them, in braces or not), ``starts`` (default:
                                        now), ``ends`` or ``for``, ``comment``
    POST /api/silences/{id}/expire      end it now
    GET  /api/alerts/suppressed         the alerts kept from their channels, newest first
    GET  /silences                      the dashboard's page of both, with a form to make
                                        one and a button to expire each (for a writer)

Matchers are Alertmanager's (``docs/routing.md``), their regular expressions RE2's, run
in linear time (``config/labels/_regex.py``; on the fallback engine, one that could
backtrack without bound is refused); a silence whose every matcher selects the empty text
is refused (it would keep every alert: Alertmanager refuses it too).  A silence lasts at most
:data:`SILENCE_MAX` (90 days).  Who made it is the authenticated user or token.  Each
change is stored with its audit entry in one transaction; every instance that delivers
alerts reads the silences in force each second (``alerts/_silences.py``), this one at once.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypedDict

from aiohttp import web

from tether.monitor.alerts import SilenceGate
from tether.monitor.config.labels._labels import VALUE_MAX, Matcher, parse_matchers
from tether.monitor.config.labels._regex import untrusted_problem
from tether.monitor.engine._silences import (
    MATCHERS_MAX,
    SILENCE_MAX,
    SILENCES_MAX,
    Silence,
    SilenceState,
)
from tether.monitor.reports._documents import iso
from tether.monitor.store._silences import Suppressed
from tether.monitor.web._access import PRINCIPAL, authorize, refusal
from tether.monitor.web._html import Page, render
from tether.monitor.web._params import path_id
from tether.monitor.web.api._actions import (
    ActionHandlers,
    Forms,
    _answer,
    _authorized,
    _Body,
    _limit,
    _only,
    _text,
    duration_field,
    forms_for,
    openapi,
)

if TYPE_CHECKING:
    from tether.monitor.web._running import Running

__all__ = [
    "MATCHERS_MAX",
    "SilenceDoc",
    "SilenceHandlers",
    "SuppressedDoc",
    "silence_handlers",
    "silence_json",
    "silences_page",
    "suppressed_json",
]

_PAGE: Final = "/silences"
REFRESH_MS: Final = 5000
"""What the page says its refresh is (it has no live part: nothing is refreshed)."""


class SilenceDoc(TypedDict):
    """A silence (``/api/silences``)."""

    id: int
    matchers: list[str]
    starts: str
    ends: str
    comment: str
    created_by: str
    created: str
    expired: str | None
    expired_by: str | None
    state: SilenceState


class SuppressedDoc(TypedDict):
    """An alert kept from its channel (``/api/alerts/suppressed``)."""

    id: int
    channel: str
    event: str
    monitor: str
    incident: int | None
    at: str
    why: str


def silence_json(silence: Silence, now: float) -> SilenceDoc:
    """A silence as the API shows it, with its state at ``now``."""
    return {
        "id": silence.id,
        "matchers": [str(m) for m in silence.matchers],
        "starts": iso(silence.starts),
        "ends": iso(silence.ends),
        "comment": silence.comment,
        "created_by": silence.created_by,
        "created": iso(silence.created),
        "expired": None if silence.expired is None else iso(silence.expired),
        "expired_by": silence.expired_by,
        "state": silence.state(now),
    }


def suppressed_json(kept: Suppressed) -> SuppressedDoc:
    """An alert kept from its channel, as the API shows it."""
    return {
        "id": kept.id,
        "channel": kept.channel,
        "event": kept.event,
        "monitor": kept.monitor,
        "incident": kept.incident,
        "at": iso(kept.at),
        "why": kept.why,
    }


def silences_page(
    silences: list[SilenceDoc], kept: list[SuppressedDoc], now: float, forms: Forms | None
) -> Page:
    """The dashboard's silences page; ``forms``: its form and buttons (None: a reader's,
    without them).  Not refreshed: a refresh would take what someone is typing."""
    main = render("silences.html", silences=silences, kept=kept, forms=forms)
    return Page("Silences", None, iso(now), main)


def matchers_of(value: object) -> tuple[Matcher, ...]:
    """The matchers a body gives (a list of texts, or one text of them), or a 400 that
    says what to change."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise refusal(400, 'matchers: give a list of matchers, e.g. ["service=\\"checkout\\""]')
    found: list[Matcher] = []
    for item in items:
        if not item.strip():
            continue
        try:
            found.extend(parse_matchers(item))
        except ValueError as exc:
            raise refusal(400, f"matchers: {exc}") from None
    if not found:
        raise refusal(400, 'matchers: give at least one, e.g. service="checkout"')
    if len(found) > MATCHERS_MAX:
        raise refusal(400, f"matchers: {len(found)} given, at most {MATCHERS_MAX}")
    for m in found:
        if len(m.value) > VALUE_MAX:
            raise refusal(400, f"matchers: {m.name}'s value is longer than {VALUE_MAX}")
        if m.op in ("=~", "!~") and (problem := untrusted_problem(m.value)) is not None:
            raise refusal(400, f"matchers: {problem}")
    if all(m.matches({}) for m in found):
        raise refusal(
            400,
            "matchers: each of these selects an alert without that label, so together they "
            'would silence every alert: give one that needs a value, e.g. service="checkout"',
        )
    return tuple(found)


def _moment(value: object, name: str) -> float:
    """A time given as Unix seconds or ISO 8601 with its offset, or a 400."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise refusal(400, f"{name}: give Unix seconds or a time as 2030-01-15T08:00:00Z")
        return float(value)
    if not isinstance(value, str):
        raise refusal(400, f"{name}: give a time, not {type(value).__name__}")
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise refusal(
            400, f"{name}: give a time as 2030-01-15T08:00:00Z, not {value[:40]!r}"
        ) from None
    if moment.tzinfo is None:
        raise refusal(400, f"{name}: give the time with its offset (Z for UTC, +02:00)")
    return moment.timestamp()


def _given(body: _Body, key: str) -> object | None:
    value = body.fields.get(key)
    return None if value is None or value == "" else value


def span_of(body: _Body, now: float) -> tuple[float, float]:
    """When a silence starts (never before ``now``: one given in the past starts now, as
    Alertmanager's) and ends, from ``starts`` and ``ends`` or ``for``; a 400 otherwise."""
    given = _given(body, "starts")
    starts = now if given is None else max(now, _moment(given, "starts"))
    length, ends_given = _given(body, "for"), _given(body, "ends")
    if (length is None) == (ends_given is None):
        raise refusal(400, "give one of for (a duration: 30m, 2h) or ends (a time)")
    if length is not None:
        ends = starts + duration_field(length, example="2h")
    else:
        ends = _moment(ends_given, "ends")
        if ends <= starts:
            raise refusal(400, f"ends: {iso(ends)} is not after the start, {iso(starts)}")
    if ends - starts > SILENCE_MAX:
        raise refusal(400, "a silence lasts 90 days at most: change the routes instead")
    return starts, ends


@dataclass(eq=False)
class SilenceHandlers:
    """The silences' request handlers (:func:`silence_handlers`), writing through the
    write API's own (:class:`ActionHandlers`: its audit entries and store errors)."""

    actions: ActionHandlers

    @property
    def runner(self) -> Running:
        return self.actions.runner

    def forget(self) -> None:
        """This instance's gates read the silences again at the next alert."""
        for gate in self.runner.outbox.gates:
            if isinstance(gate, SilenceGate):
                gate.forget()

    async def add(self, request: web.Request) -> web.Response:
        runner = self.runner
        who, body = await _authorized(request)
        _only(body, ("matchers", "starts", "ends", "for", "comment"))
        matchers = [str(m) for m in matchers_of(body.fields.get("matchers"))]
        now = runner.wall()
        starts, ends = span_of(body, now)
        comment = _text(body, "comment", required=True)
        assert comment is not None
        in_force = await self.actions.write(lambda: runner.store.count_silences_in_force(now))
        if in_force >= SILENCES_MAX:
            raise refusal(
                400,
                f"{in_force} silences are in force, at most {SILENCES_MAX}: expire some, or "
                "make one whose matchers select what several would",
            )
        params = {"matchers": matchers, "starts": iso(starts), "ends": iso(ends)}
        audit = self.actions.entry(who, "silence.add", "silence", **params, comment=comment)
        made: Silence = await self.actions.write(
            lambda: runner.store.add_silence(matchers, starts, ends, comment, audit)
        )
        self.forget()
        return _answer(body, silence_json(made, runner.wall()), _PAGE, status=201)

    async def expire(self, request: web.Request) -> web.Response:
        runner = self.runner
        who, body = await _authorized(request)
        number = path_id(request, "a silence's")
        _only(body, ())
        audit = self.actions.entry(who, "silence.expire", f"silence:{number}")
        found, changed = await self.actions.write(
            lambda: runner.store.expire_silence(number, audit)
        )
        if found is None:
            raise refusal(404, f"no silence #{number}")
        self.forget()
        doc = {**silence_json(found, runner.wall()), "changed": changed}
        return _answer(body, doc, _PAGE)

    async def listed(self, request: web.Request) -> web.Response:
        runner = self.runner
        authorize(request, "read")
        n = _limit(request)
        found = await self.actions.write(lambda: runner.store.silences(limit=n))
        now = runner.wall()
        doc = {"now": iso(now), "silences": [silence_json(s, now) for s in found]}
        return _answer(_Body({}, False, None), doc, _PAGE)

    async def suppressed(self, request: web.Request) -> web.Response:
        runner = self.runner
        authorize(request, "read")
        n = _limit(request)
        found = await self.actions.write(lambda: runner.store.suppressed_alerts(limit=n))
        doc = {"now": iso(runner.wall()), "alerts": [suppressed_json(k) for k in found]}
        return _answer(_Body({}, False, None), doc, _PAGE)

    async def page(self, request: web.Request) -> web.Response:
        runner = self.runner
        forms = forms_for(request)
        store = runner.store
        found, kept = await self.actions.write(
            lambda: (store.silences(limit=100), store.suppressed_alerts(limit=100))
        )
        now = runner.wall()
        page = silences_page(
            [silence_json(s, now) for s in found], [suppressed_json(k) for k in kept], now, forms
        )
        html = page.document(REFRESH_MS, request.get(PRINCIPAL))
        return web.Response(text=html, content_type="text/html", charset="utf-8")


def silence_handlers(runner: Running, actions: ActionHandlers | None = None) -> SilenceHandlers:
    """The handlers of the silences' API (``actions``: the write API's, shared)."""
    return SilenceHandlers(actions if actions is not None else ActionHandlers(runner, openapi()))
