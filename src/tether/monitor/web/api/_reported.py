"""An application's own calls in: ``POST /api/report`` takes a batch of them and hands it
to the runner's traffic intake (``runtime/_traffic_intake.TrafficIntake.report``), which
feeds the traffic monitors of the application (``_traffic.py``) and the
``tether_traffic_*`` metrics.

The body (the wire format ``tether.report_to`` sends; docs/monitor.md, "Traffic
monitors")::

    {"v": 1, "app": "checkout", "dropped": 0,
     "calls": [[1795000000.125, "payments.internal:443", "GET", "tls.expired", null, 12.5, 3]]}

each call ``[at, endpoint, method, kind, status, ms, attempts]``.  The whole body is
checked before any of it is counted: one bad call refuses the batch with a 400 that
names the first bad field and its index; ``dropped`` is at most 2**53 (a float holds
every count up to it exactly).  A body over 1 MiB is a 413, said from its
``Content-Length`` before it is read (or once a chunked one passes the limit); more than
5,000 calls too; one nested past ``MAX_DEPTH`` is a 400 before it is parsed (the body is
read and parsed by ``_params``, as every JSON route's).  The route needs the ``report``
scope (``_auth.area``): a ``report`` or ``write`` token, or loopback while no users are
configured.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from tether._kinds import Kind
from tether.monitor.config._models import APP
from tether.monitor.engine._traffic import TrafficCall
from tether.monitor.web._access import REPORT, authorize
from tether.monitor.web._params import MAX_BODY, BadBody, body_number, parse_json, read_body
from tether.monitor.web._routing import Handler

if TYPE_CHECKING:
    from tether.monitor.web._running import Running

__all__ = [
    "MAX_BODY",
    "MAX_CALLS",
    "MAX_DROPPED",
    "BadReport",
    "Report",
    "parse_report",
    "report_handler",
]

MAX_CALLS: Final = 5000
"""The most calls in one batch."""
MAX_DROPPED: Final = 2**53
"""The most dropped calls one batch may say: every count up to it is exact as a float
(what Prometheus reads), and a client never drops so many."""
_KINDS: Final = frozenset(k.value for k in Kind)
_KIND_SHAPE: Final = re.compile(r"[a-z][a-z0-9_]{0,30}(?:\.[a-z0-9_]{1,30}){1,2}")
"""What a kind looks like (``layer.what``): one not in :data:`_KINDS` is a newer tether's."""
_LONGEST_ENDPOINT: Final = 300
_LONGEST_MS: Final = 86_400_000.0
"""A call's latency: a day at most."""
_LATEST: Final = 1e11
"""A call's ``at`` below this (the year 5138): a bound that also refuses infinity."""


class BadReport(ValueError):
    """A body that is not a report; its message is the 400's one line."""


class BodyTooLarge(ValueError):
    """A body past the limits: a 413."""


class Report:
    """A checked batch: its application, its calls, and what its client dropped."""

    __slots__ = ("app", "calls", "dropped")

    def __init__(self, app: str, calls: list[TrafficCall], dropped: int) -> None:
        self.app, self.calls, self.dropped = app, calls, dropped


def _is_int(value: object) -> bool:
    # JSON Schema's integer, as the document says it: 6470.0 is one (issue 72 §7).
    return type(value) is int or (type(value) is float and value.is_integer())


def parse_report(body: bytes) -> Report:
    """The report ``body`` holds; raises :class:`BadReport` naming the first bad field
    (``calls[3].kind: ...``), :class:`BodyTooLarge` past :data:`MAX_CALLS`."""
    try:
        data: Any = parse_json(body)
    except BadBody as exc:
        raise BadReport(str(exc)) from None
    if not isinstance(data, dict):
        raise BadReport("the body must be a JSON object with v, app and calls")
    if data.get("v") != 1 or not _is_int(data.get("v")):
        raise BadReport("v: this monitor reads version 1 of the report format (give v: 1)")
    app = data.get("app")
    if not isinstance(app, str) or not APP.fullmatch(app):
        raise BadReport("app: give 1 to 64 letters, digits, '.', '_' or '-'")
    try:
        dropped = body_number(
            data.get("dropped", 0), "dropped", least=0, most=MAX_DROPPED, whole=True
        )
    except BadBody as exc:
        raise BadReport(str(exc)) from None
    calls = data.get("calls")
    if not isinstance(calls, list):
        raise BadReport(
            "calls: give a list of calls, each [at, endpoint, method, kind, status, ms, attempts]"
        )
    if len(calls) > MAX_CALLS:
        raise BodyTooLarge(f"calls: {len(calls)} calls in one batch; {MAX_CALLS} at most")
    unknown = sorted(set(data) - {"v", "app", "dropped", "calls"})
    if unknown:
        raise BadReport(f"{unknown[0]}: not a field of a report (v, app, dropped, calls)")
    endpoints: set[str] = set()
    methods: set[str] = {"", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
    out: list[TrafficCall] = []
    append = out.append
    kinds = _KINDS
    # Type checks inline, not in helpers: this loop runs for every call of every batch.
    # A comparison chain is false for NaN and the infinities, so it also checks finiteness.
    for i, call in enumerate(calls):
        if type(call) is not list or len(call) != 7:
            raise BadReport(f"calls[{i}]: give [at, endpoint, method, kind, status, ms, attempts]")
        at, endpoint, method, kind, status, ms, attempts = call
        if (type(at) is not float and type(at) is not int) or not 0 < at < _LATEST:
            raise BadReport(f"calls[{i}].at: give Unix seconds, a number above 0")
        if type(endpoint) is not str or endpoint not in endpoints:
            endpoints.add(_endpoint(endpoint, i))
        if type(method) is not str or method not in methods:
            methods.add(_method(method, i))
        if kind is not None and (type(kind) is not str or kind not in kinds):
            if type(kind) is str and _KIND_SHAPE.fullmatch(kind):
                # A kind this monitor's tether does not know (a newer client's): a
                # failure all the same, counted as unknown so the labels stay the
                # taxonomy's, rather than refusing every batch that client sends.
                kind = "unknown"
            else:
                raise BadReport(
                    f"calls[{i}].kind: give null for a success or a tether kind, as in "
                    f'"connect.refused" (not {json.dumps(kind)[:40]})'
                )
        # JSON Schema's integers, as the document says them: 200.0 is one (issue 72 §7).
        if type(status) is float and status.is_integer():
            status = int(status)
        if type(attempts) is float and attempts.is_integer():
            attempts = int(attempts)
        if status is not None and (type(status) is not int or not 100 <= status <= 599):
            raise BadReport(f"calls[{i}].status: give the HTTP status (100 to 599) or null")
        if (type(ms) is not float and type(ms) is not int) or not 0 <= ms <= _LONGEST_MS:
            raise BadReport(f"calls[{i}].ms: give milliseconds, 0 to {_LONGEST_MS:.0f}")
        if type(attempts) is not int or not 0 <= attempts <= 1000:
            raise BadReport(f"calls[{i}].attempts: give a whole number, 0 to 1000")
        append(TrafficCall(at, endpoint, kind, ms, attempts))
    return Report(app, out, int(dropped))


def _method(method: object, i: int) -> str:
    """``method`` if it is an HTTP method's name (letters, 16 at most) or ``""``."""
    if type(method) is not str or len(method) > 16 or not (method.isascii() and method.isalpha()):
        raise BadReport(f'calls[{i}].method: give the HTTP method, as in "GET", or ""')
    return method


def _endpoint(endpoint: object, i: int) -> str:
    """``endpoint``: ``host:port`` as the retry loop keys a call, or, for a
    ``@tether.retry`` function whose calls named no host, the function's name
    (``mymod.fetch``): any printable text of at most 300 characters; raises
    :class:`BadReport` otherwise."""
    if (
        type(endpoint) is not str
        or not endpoint
        or len(endpoint) > _LONGEST_ENDPOINT
        or not endpoint.isprintable()
    ):
        raise BadReport(
            f'calls[{i}].endpoint: give HOST:PORT, as in "payments.internal:443", or a '
            "function's name (printable, 300 characters at most)"
        )
    return endpoint


def _answer(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)


def report_handler(runner: Running) -> Handler:
    """The handler of ``POST /api/report`` for ``runner``."""

    async def report(request: web.Request) -> web.Response:
        authorize(request, REPORT)
        if request.content_type != "application/json":
            return _answer(400, "send the report as Content-Type: application/json")
        try:
            parsed = parse_report(await read_body(request))
        except BadBody as exc:
            return _answer(exc.status, str(exc))
        except BodyTooLarge as exc:
            return _answer(413, str(exc))
        except BadReport as exc:
            return _answer(400, str(exc))
        accepted = runner.traffic.report(parsed.app, parsed.calls, parsed.dropped)
        return web.json_response({"ok": True, "accepted": accepted}, status=202)

    return report
