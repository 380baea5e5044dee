"""What aiohttp's request handler logs, made fit for a server on an open network.

aiohttp logs a request it cannot parse (a NUL in a header, a bad chunk size, a body whose
``Content-Encoding`` does not decode) with its whole traceback, once per request, at
error level: anyone who can reach the port could fill the monitor's log with them.  Such
a request is the client's fault, answered 400 and closed; it is worth one line, and not
even that for each of a flood.  :class:`ProtocolLog` is the logger aiohttp's handler is
given (``start_guarded``): a client's malformed request is one warning line without a
traceback, at most :data:`BURST` lines every :data:`EVERY` seconds, the next line saying
how many were left out; anything else (a handler's exception: a defect of tether's) is
logged as aiohttp logs it, traceback and all.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any, Final

from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from tether._text import visible
from tether.monitor.web._params import payload_problem

__all__ = ["BURST", "EVERY", "ProtocolLog"]

BURST: Final = 5
"""Lines about malformed requests in one window, at most."""
EVERY: Final = 60.0
"""The window, in seconds."""


def _client_fault(exc: object) -> bool:
    return isinstance(exc, HttpProcessingError | RequestPayloadError)


class ProtocolLog:
    """The logger aiohttp's ``RequestHandler`` writes to: a malformed request is one
    line, rate-limited on ``clock``; the rest goes to ``log`` as it came."""

    def __init__(
        self,
        log: logging.Logger | None = None,
        *,
        burst: int = BURST,
        every: float = EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log or logging.getLogger("tether.monitor")
        self._burst = burst
        self._every = every
        self._clock = clock
        self._window: float | None = None
        self._said = 0
        self._quiet = 0

    def exception(self, msg: object, *args: Any, exc_info: Any = True, **kw: Any) -> None:
        exc = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        if _client_fault(exc):
            assert exc is not None
            # aiohttp's "Error handling request from %s" names the client; its lingering
            # read of a body that failed ("Unhandled exception") names nobody.
            client = args[0] if args and "%s" in str(msg) else None
            self.malformed(client, payload_problem(exc))
            return
        self._log.error(msg, *args, exc_info=exc_info, **kw)

    def debug(self, msg: object, *args: Any, **kw: Any) -> None:
        # aiohttp logs a first request that is not HTTP at all (TLS to a plain port)
        # at debug level, with its traceback: the line is enough.
        if _client_fault(kw.get("exc_info")):
            kw["exc_info"] = None
        self._log.debug(msg, *args, **kw)

    def info(self, msg: object, *args: Any, **kw: Any) -> None:
        self._log.info(msg, *args, **kw)

    def warning(self, msg: object, *args: Any, **kw: Any) -> None:
        self._log.warning(msg, *args, **kw)

    def error(self, msg: object, *args: Any, **kw: Any) -> None:
        self._log.error(msg, *args, **kw)

    def malformed(self, client: object, problem: str) -> None:
        """Say that ``client`` sent a request that could not be read (``problem``), or
        count it when this window has said enough."""
        now = self._clock()
        if self._window is None or not 0 <= now - self._window < self._every:
            self._window, self._said = now, 0
        if self._said >= self._burst:
            self._quiet += 1
            return
        self._said += 1
        more = ""
        if self._quiet:
            more = f" ({self._quiet} more since the last such line not logged)"
            self._quiet = 0
        # The client (a worker's X-Forwarded-For) and aiohttp's words (which may quote
        # the request's bytes) are request text: escaped, they cannot start a line.
        source = f" from {visible(str(client))}" if client else ""
        self._log.warning(
            "a request%s could not be read: %s; answered 400%s",
            source,
            visible(problem),
            more,
            extra={"event": "request.malformed"},
        )
