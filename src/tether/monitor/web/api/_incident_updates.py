"""Updates a team writes on an incident for its users (issue 48), in the write API beside
the notes (``_actions.py``, whose body reading and answers they share):

    GET  /api/incidents/{id}/updates   the incident's updates, oldest first (read)
    POST /api/incidents/{id}/updates   {"state": "identified", "text": "..."} (write)

A state is one of ``investigating``, ``identified``, ``monitoring`` and ``resolved``
(Statuspage's); the text is a note's (2,000 characters at most, secrets redacted).  The
update is stored with its audit entry (``incident.update``, target ``incident:ID``) and
a line of the incident's timeline in one transaction; every status page that shows the
incident shows it in the incident's timeline, and its subscribers are told it
(``runtime/_heralds.py``).  ``resolved`` is the team's word to the users: the incident
itself resolves when its monitors come back.  The dashboard's incident list has a form
for it; ``tether update`` posts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from aiohttp import web

from tether.monitor.engine._status_news import STATES
from tether.monitor.reports._documents import iso
from tether.monitor.store._subscribers import IncidentUpdate
from tether.monitor.web._access import authorize, refusal
from tether.monitor.web._params import path_id
from tether.monitor.web.api._actions import (
    ActionHandlers,
    _answer,
    _authorized,
    _Body,
    _only,
    _text,
)

if TYPE_CHECKING:
    from tether.monitor.web._running import Running

__all__ = ["UpdateDoc", "UpdateHandlers", "update_handlers", "update_json"]


class UpdateDoc(TypedDict):
    """An incident update (``/api/incidents/{id}/updates``)."""

    id: int
    incident: int
    at: str
    state: str
    text: str
    who: str


def update_json(update: IncidentUpdate) -> UpdateDoc:
    return {
        "id": update.id,
        "incident": update.incident,
        "at": iso(update.at) or "",
        "state": update.state,
        "text": update.text,
        "who": update.who,
    }


@dataclass(frozen=True, slots=True)
class UpdateHandlers:
    """The handlers of an incident's updates."""

    runner: Running
    actions: ActionHandlers

    async def post(self, request: web.Request) -> web.Response:
        runner = self.runner
        who, body = await _authorized(request)
        number = path_id(request, "an incident's")
        _only(body, ("state", "text"))
        state = body.fields.get("state")
        if not isinstance(state, str) or state.strip().lower() not in STATES:
            raise refusal(400, f"state: give one of {', '.join(STATES)}")
        text = _text(body, "text", required=True)
        assert text is not None
        update = IncidentUpdate(0, number, runner.wall(), state.strip().lower(), text, who.who)
        audit = self.actions.entry(
            who, "incident.update", f"incident:{number}", state=update.state, text=text
        )
        stored = await self.actions.write(lambda: runner.store.add_incident_update(update, audit))
        if stored is None:
            raise refusal(404, f"no incident #{number}")
        return _answer(body, update_json(stored), "/incidents", status=201)

    async def listed(self, request: web.Request) -> web.Response:
        runner = self.runner
        authorize(request, "read")
        number = path_id(request, "an incident's")
        await self.actions.incident(number)  # a 404 for none
        found = await self.actions.write(lambda: runner.store.incident_updates([number]))
        doc = {"incident": number, "updates": [update_json(u) for u in found.get(number, [])]}
        return _answer(_Body({}, False, None), doc, "/incidents")


def update_handlers(runner: Running, actions: ActionHandlers) -> UpdateHandlers:
    return UpdateHandlers(runner, actions)
