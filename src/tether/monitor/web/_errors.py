"""Every error of the API is JSON: ``{"error": "..."}`` with the status the document
(``openapi.json``) gives, whichever layer answered it.

The handlers answer their own errors so (``_access.refusal``); :func:`json_errors` holds
the rest to it for every path under ``/api/``: aiohttp's router (a path no route takes is
a 404, a method the path does not take a 405 with its ``Allow``), a query parameter's 400
(``_params.request_number``), a body past aiohttp's size limit.  And for every route, a
page's and a public one's too: a body that aiohttp could not read (its chunks or its
``Content-Encoding`` did not decode), whichever handler read it, is a JSON 400, never a
500.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from tether.monitor.web._params import payload_problem

__all__ = ["json_errors"]

_API: Final = "/api/"
_KEPT: Final = ("Allow", "Retry-After", "WWW-Authenticate", "Location")
"""The headers of an error that still say something once its body is JSON."""


def _is_json(response: web.StreamResponse) -> bool:
    return response.content_type == "application/json"


def _as_json(error: web.Response | web.HTTPException) -> web.Response:
    text = (error.text or "").strip() or error.reason
    if text.startswith(f"{error.status}: "):  # aiohttp's own, "404: Not Found"
        text = text.partition(": ")[2]
    headers = {k: v for k in _KEPT if (v := error.headers.get(k)) is not None}
    return web.Response(
        text=json.dumps({"error": text}),
        status=error.status,
        reason=error.reason,
        content_type="application/json",
        headers=headers,
    )


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """An error answered under ``/api/`` in any other type answered as JSON, its status
    and meaningful headers kept; a body aiohttp could not read a JSON 400 anywhere."""
    api = request.path.startswith(_API)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if api and exc.status >= 400 and not _is_json(exc):
            return _as_json(exc)
        raise
    except (HttpProcessingError, RequestPayloadError) as exc:
        answer = web.json_response(
            {"error": f"the body could not be read: {payload_problem(exc)}"}, status=400
        )
        answer.force_close()  # what is left of the body cannot be told from a request
        return answer
    error = api and response.status >= 400 and isinstance(response, web.Response)
    if error and not _is_json(response) and not response.prepared:
        assert isinstance(response, web.Response)
        return _as_json(response)
    return response
