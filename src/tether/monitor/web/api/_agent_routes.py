"""The routes of ``tether agent`` (``_agent_wire.py``) and the agents' list:

    GET  /api/agent/assignment?location=LOC[&version=V][&wait=S]   -> Assignment
    POST /api/agent/results                                        <- Batch, -> Receipt
    GET  /api/agents                                               the agent locations (read)

``/api/agent/*`` takes only a token of the ``agent`` scope (``_auth.agent_principal``),
and only for the location it is bound to: another location is a 403 that says so.  A
batch is read up to :data:`AGENT_BODY_MAX` bytes (a 413 past it) and checked whole by
``Batch.from_json`` (another protocol, a value out of range), then by the intake (a
check's time outside the window its ``sent_at`` allows): anything refused is one 400
line naming the field, said once in the server's log for the token's location.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final

from aiohttp import web

from tether.monitor._agent_wire import MAX_WAIT, AgentWireError, Batch
from tether.monitor.metrics._agent_metrics import agent_document
from tether.monitor.store import StoreError
from tether.monitor.web._access import AGENT, PRINCIPAL, READ, Principal, authorize, refusal
from tether.monitor.web._params import BadBody, parse_json, read_body, request_number
from tether.monitor.web._routing import Handler

if TYPE_CHECKING:
    from tether.monitor.web._running import Running

__all__ = ["AGENT_BODY_MAX", "AgentHandlers", "agent_handlers"]

AGENT_BODY_MAX: Final = 8 << 20
"""The largest batch a server reads, bytes (8 MiB): a full batch (``MAX_BATCH`` checks)
with long details and conditions fits."""


class AgentHandlers:
    """The agents' routes, for one running monitor."""

    def __init__(self, assignment: Handler, results: Handler, listed: Handler) -> None:
        self.assignment, self.results, self.listed = assignment, results, listed


def _agent(request: web.Request, location: str) -> Principal:
    """The agent token's principal, if it is bound to ``location`` (else a 403)."""
    who: Principal | None = request.get(PRINCIPAL)
    if who is None or who.via != "token" or not who.may(AGENT):
        raise refusal(401, "send the agent's token: Authorization: Bearer TOKEN")
    if who.location != location:
        raise refusal(
            403,
            f"{who.who} reports for location {who.location}, not {location[:100]}: "
            "give the agent the location its token is bound to",
        )
    return who


def _bad(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def agent_handlers(runner: Running) -> AgentHandlers:
    """The handlers of the agents' routes for ``runner``."""

    async def assignment(request: web.Request) -> web.Response:
        location = request.query.get("location", "")
        if not location:
            return _bad(400, "location: give the agent's location (?location=NAME)")
        _agent(request, location)
        version = request.query.get("version")
        wait = 0.0
        if (raw := request.query.get("wait")) is not None:
            wait = request_number(raw, "wait", least=0, most=MAX_WAIT)
        agents = runner.agents
        agents.assignment(location)  # the poll renews the lease before it waits
        await agents.changed(location, version, wait)
        return web.json_response(agents.assignment(location).to_json())

    async def results(request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return _bad(400, "send the batch as Content-Type: application/json")
        who = request.get(PRINCIPAL)
        if who is None or who.location is None:
            _agent(request, "")
        try:
            batch = Batch.from_json(parse_json(await read_body(request, AGENT_BODY_MAX)))
        except BadBody as exc:
            return _bad(exc.status, str(exc))
        except AgentWireError as exc:
            if who is not None and who.location is not None:
                runner.agents.refused(who.location, str(exc))
            return _bad(400, str(exc))
        _agent(request, batch.location)
        try:
            receipt = await runner.agents.take(batch, batch.location)
        except StoreError as exc:
            return _bad(503, f"the batch was not stored (send it again): {exc}")
        except AgentWireError as exc:
            runner.agents.refused(batch.location, str(exc))
            return _bad(400, str(exc))
        return web.json_response(receipt.to_json())

    async def listed(request: web.Request) -> web.Response:
        authorize(request, READ)
        return web.Response(
            text=json.dumps(agent_document(runner.agents.view())), content_type="application/json"
        )

    return AgentHandlers(assignment, results, listed)
