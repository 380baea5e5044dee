"""Heartbeats in: ``GET`` or ``POST /api/push/TOKEN`` records a check of the push monitor
the token belongs to (``runtime/_pushes.Pushes.push``).

    status=up|down     the job's verdict (default up)
    msg=TEXT           why, kept as the check's detail (redacted, 1000 characters at most)
    duration_ms=N      how long the job took, kept as the check's latency

The parameters come from the query string or, for a ``POST``, a form body, read only
once the token is known (a body that is not a form that can be read is a 400).  The
route is public (``_auth.area``): the token is the credential.  An unknown token is a 404
like any other, with the same answer; the token never appears in an answer or a log.

Each monitor's pushes go through a token bucket (:class:`PushLimiter`): a burst of
``PUSH_BURST``, refilled ``PUSH_PER_INTERVAL`` times an interval (at least once a
minute), so a heartbeat at its interval is never refused and a flood is.  A refused push
is answered ``429`` with ``Retry-After`` and not recorded.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from aiohttp import web

from tether.monitor.web._params import FORM_TYPES, BadBody, read_form, request_number
from tether.monitor.web._routing import Handler

if TYPE_CHECKING:
    from tether.monitor.web._running import Running

__all__ = ["PUSH_BURST", "PUSH_PER_INTERVAL", "PushLimiter", "push_handler"]

_DAY_MS: Final = 86_400_000.0


PUSH_BURST: Final = 10
"""Pushes one monitor may take at once (a job's retries, a start and an end)."""
PUSH_PER_INTERVAL: Final = 10
"""Pushes one monitor may take, on average, in one of its intervals: ten times the
heartbeat it expects."""
_SLOWEST_REFILL: Final = 60.0
"""A push is allowed again at least this often (seconds), however long the interval."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class PushLimiter:
    """A token bucket per push monitor, on ``clock`` (seconds; monotonic by default)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        """By monitor name, not token: as many as there are push monitors, whatever
        tokens a client makes up."""

    def take(self, name: str, interval: float) -> float | None:
        """Take a push of monitor ``name`` (expected every ``interval`` seconds): None
        when it is allowed, else the seconds until one is."""
        now = self._clock()
        every = min(interval / PUSH_PER_INTERVAL, _SLOWEST_REFILL)
        bucket = self._buckets.setdefault(name, _Bucket(PUSH_BURST, now))
        bucket.tokens = min(PUSH_BURST, bucket.tokens + max(0.0, now - bucket.at) / every)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return (1 - bucket.tokens) * every


def _bad(message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=400)


def _unknown() -> web.Response:
    return web.json_response({"ok": False, "error": "no push monitor has this token"}, status=404)


def push_handler(runner: Running, limiter: PushLimiter | None = None) -> Handler:
    """The handler of ``/api/push/{token}`` for ``runner``'s push monitors, each within
    ``limiter``'s rate (by default one on the runner's clock, which the heartbeats'
    schedule is on too; one set back only refills later)."""
    limiter = limiter or PushLimiter(runner.wall)

    async def push(request: web.Request) -> web.Response:
        token = request.match_info["token"]
        monitor = runner.pushes.monitor(token)
        if monitor is None:
            return _unknown()
        if (wait := limiter.take(monitor.name, monitor.interval)) is not None:
            return web.json_response(
                {"ok": False, "error": "too many pushes for this monitor; retry later"},
                status=429,
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        params = dict(request.query)
        if request.method == "POST" and request.content_type in FORM_TYPES:
            try:
                params.update(await read_form(request))
            except BadBody as exc:
                return web.json_response({"ok": False, "error": str(exc)}, status=exc.status)
        status = params.get("status", "up").lower()
        if status not in ("up", "down"):
            return _bad(f"status: give up or down, not {status[:20]!r}")
        latency = None
        if (raw := params.get("duration_ms")) is not None:
            try:
                latency = request_number(raw, "duration_ms", least=0, most=_DAY_MS)
            except web.HTTPBadRequest as exc:
                return _bad((exc.text or "duration_ms").strip())
        if runner.pushes.push(token, status == "up", params.get("msg"), latency) is None:
            return _unknown()  # gone in a reload since
        return web.json_response({"ok": True})

    return push
