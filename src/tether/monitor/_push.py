"""Heartbeats in: ``GET`` or ``POST /api/push/TOKEN`` records a check of the push monitor
the token belongs to (``_runner.Runner.push``).

    status=up|down     the job's verdict (default up)
    msg=TEXT           why, kept as the check's detail (redacted, 1000 characters at most)
    duration_ms=N      how long the job took, kept as the check's latency

The parameters come from the query string or, for a ``POST``, a form body.  The route
is public (``_auth.area``): the token is the credential.  An unknown token is a 404
like any other, with the same answer; the token never appears in an answer or a log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from aiohttp import web

from tether.monitor._params import request_number

if TYPE_CHECKING:
    from tether.monitor._runner import Runner

__all__ = ["add_push"]

_DAY_MS: Final = 86_400_000.0


def _bad(message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=400)


def add_push(app: web.Application, runner: Runner) -> None:
    """Serve ``/api/push/{token}`` for ``runner``'s push monitors."""

    async def push(request: web.Request) -> web.Response:
        params = dict(request.query)
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            params.update({k: str(v) for k, v in (await request.post()).items()})
        status = params.get("status", "up").lower()
        if status not in ("up", "down"):
            return _bad(f"status: give up or down, not {status[:20]!r}")
        latency = None
        if (raw := params.get("duration_ms")) is not None:
            try:
                latency = request_number(raw, "duration_ms", least=0, most=_DAY_MS)
            except web.HTTPBadRequest as exc:
                return _bad((exc.text or "duration_ms").strip())
        name = runner.push(request.match_info["token"], status == "up", params.get("msg"), latency)
        if name is None:
            return web.json_response(
                {"ok": False, "error": "no push monitor has this token"}, status=404
            )
        return web.json_response({"ok": True})

    app.router.add_route("GET", "/api/push/{token}", push)
    app.router.add_route("POST", "/api/push/{token}", push)
