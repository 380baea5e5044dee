"""``/api/objectives``: every objective's SLI, error budget, burn rates, alerts and who spent
its budget, as the running monitor last evaluated them (every 10 s; docs/objectives.md).

    GET /api/objectives          {"objectives": [OBJECTIVE, ...]}, in the file's order
    GET /api/objectives/{name}   one OBJECTIVE; 404 for a name no objective has

An OBJECTIVE (``tether objectives`` reads this shape; the pages, the status pages and
``/metrics`` show the same figures, from the same evaluation)::

    {"name", "sli", "target", "window", "monitors": [...], "sli_value" (null without
     events), "good", "total", "data_since" (where the window's data starts; null
     without events), "ready" (false while its counts are read from the store),
     "budget": {"total_bad_allowed", "spent", "remaining", "little_data", "needed"},
     "burn_rates": {"5m": x, "30m": x, "1h": x, "6h": x, "3d": x},   (the rules' windows)
     "alerts": [{"severity", "long", "short", "factor", "minimum", "firing", "since"}],
     "spenders": [{"monitor", "kind", "bad"}]}

``budget.little_data`` is true while the window holds too few events for a budget (it
allows less than one bad event): ``spent`` and ``remaining`` are then no measure of
anything, and the pages say so rather than show them ("too few checks: 3 of 1,000
needed", ``needed`` being the checks the window must hold); no rule fires then.  An
alert's ``minimum`` is the fewest checks its windows are judged on (fewer count as that
many), so that one failed check never fires it.  Read access, as ``/api/status``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tether._durations import format_duration
from tether.monitor.engine.objectives._budget import needed, rule_minimum
from tether.monitor.metrics._objective_metrics import ObjectivesView, figure, rule_windows
from tether.monitor.reports._documents import iso
from tether.monitor.web._access import READ, authorize, refusal

if TYPE_CHECKING:
    from tether.monitor.web._running import Running

__all__ = ["ObjectiveHandlers", "objective_json", "objectives_json"]


def objective_json(view: ObjectivesView, name: str, now: float) -> dict[str, Any]:
    """Objective ``name`` as the API gives it (KeyError if none)."""
    book = view.book
    config = book.objectives[name]
    ledger = book.ledgers[name]
    status = figure(view, name, now)
    target = ledger.objective.target
    good, total = status.counts
    return {
        "name": name,
        "sli": config.sli,
        "target": target,
        "window": format_duration(config.window),
        "monitors": list(book.selected[name]),
        "sli_value": status.sli,
        "good": good,
        "total": total,
        "data_since": None if status.since is None else iso(status.since),
        "ready": name not in view.waiting,
        "budget": {
            "total_bad_allowed": (1 - target) * total,
            "spent": status.spent,
            "remaining": status.remaining,
            "little_data": status.little_data,
            "needed": needed(target),
        },
        "burn_rates": {
            format_duration(length): status.burn[length] for length in rule_windows(book, name)
        },
        "alerts": [
            {
                "severity": rule.severity,
                "long": format_duration(rule.long),
                "short": format_duration(rule.short),
                "factor": rule.burn,
                "minimum": rule_minimum(rule, target),
                "firing": rule in ledger.firing,
                "since": iso(ledger.firing[rule]) if rule in ledger.firing else None,
            }
            for rule in ledger.objective.rules
        ],
        "spenders": [
            {"monitor": s.monitor, "kind": s.kind, "bad": s.bad}
            for s in book.spenders(name, status.at)
        ],
    }


def objectives_json(view: ObjectivesView, now: float) -> dict[str, Any]:
    """Every objective, in the configuration's order."""
    return {"objectives": [objective_json(view, name, now) for name in view.book.objectives]}


def _answer(doc: dict[str, Any]) -> web.Response:
    return web.Response(text=json.dumps(doc), content_type="application/json", charset="utf-8")


class ObjectiveHandlers:
    """The handlers of ``/api/objectives`` and ``/api/objectives/{name}``."""

    def __init__(self, runner: Running) -> None:
        self.runner = runner

    async def all(self, request: web.Request) -> web.Response:
        authorize(request, READ)
        return _answer(objectives_json(self.runner.objectives, self.runner.wall()))

    async def one(self, request: web.Request) -> web.Response:
        authorize(request, READ)
        name = request.match_info["name"]
        view = self.runner.objectives
        if name not in view.book.objectives:
            raise refusal(404, f"no objective named {json.dumps(name)[:80]}")
        return _answer(objective_json(view, name, self.runner.wall()))
