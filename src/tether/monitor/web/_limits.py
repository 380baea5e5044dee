"""How long a client may take and how many may connect: the monitor's servers (its own,
the coordinator's Unix socket, each worker process's) hold against slow clients.

aiohttp closes a connection idle between requests (``keepalive_timeout``) but has no
deadline for a request's headers or body, and no cap on connections, so a client that
drips its request a byte at a time holds a descriptor for ever.  Each accepted
connection's protocol is therefore wrapped (:class:`_Guard`) around aiohttp's own:

- **headers**: from the connection's start, or from the first byte of a later request,
  the headers must be complete within ``header_timeout``; else ``408`` (when nothing is
  being written on the connection; a JSON error, as every answer of these) and the
  connection is closed.  A connection that
  sent nothing at all is closed without an answer, as nginx does.
- **body**: from the headers' end, the whole body must have arrived within
  ``body_timeout``; else the handler's read of it fails and the answer is ``408``.
- **idle**: aiohttp's ``keepalive_timeout`` set to ``idle_timeout``.
- **connections**: past ``max_connections`` open at once in one process, a new one is
  answered ``503`` at once and closed.
"""

from __future__ import annotations

import asyncio
import json
import resource
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Final, cast

from aiohttp import hdrs, web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_urldispatcher import UrlMappingMatchInfo

from tether.monitor.web._listen import BACKLOG
from tether.monitor.web._protocol_log import ProtocolLog

__all__ = ["DIRECT_GETS", "ServerLimits", "on_socket", "raise_fd_limit", "start_guarded", "unix"]


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """The server's deadlines (seconds) and cap; the defaults are ``server:``'s."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    idle_timeout: float = 75.0
    max_connections: int = 4096


def _answer(status: str, text: str, extra: str = "") -> bytes:
    """An answer written before any request is read (so before its path is known): a
    JSON error, as every route's (``_errors.py``)."""
    body = json.dumps({"error": text}).encode()
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n{extra}\r\n"
    ).encode() + body


_FULL: Final = _answer("503 Service Unavailable", "too many connections", "Retry-After: 1\r\n")


_Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
"""What aiohttp's server calls with each request (an app's own handler, for an app)."""


DIRECT_GETS: Final = web.AppKey("direct_gets", frozenset[str])
"""Paths of GET routes that the server answers before the app's router, for an app with
no middleware: the path as the request line gives it, before any ``?``, to the router's
own handler, with the route's match info made once.  A request the shortcut does not take
(another method, a path spelled another way, an ``Expect`` header) goes through the
router to the same handler.  A worker's ``/probe``: the router's work (resolving, a match
info, the app's frozen state) was 1.6% of a probe's instructions."""


class _BodyTimeout(TimeoutError):
    """A request's body did not arrive in time (a TimeoutError: aiohttp's lingering read
    of an unread body takes it as the end of its wait, without a traceback)."""


class _Book:
    """One server's open connections (all its sites together) and its limits."""

    def __init__(self, limits: ServerLimits) -> None:
        self.limits = limits
        self.open: dict[RequestHandler, _Guard] = {}


def _nothing() -> None:
    pass


_EARLY: Final = 0.001
"""Seconds before its deadline a timer may wake and count as on time (a loop's timers
wake up to its clock's resolution early)."""


class _Guard(asyncio.Protocol):
    """aiohttp's protocol for one connection (made only once it is admitted), with the
    deadlines it does not keep itself."""

    def __init__(self, make: Callable[[], RequestHandler], book: _Book) -> None:
        self._make = make
        self._book = book
        self._inner: RequestHandler | None = None
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: float | None = None  # the loop's time the current deadline ends
        self._late: Callable[[], None] = _nothing  # what is done at the deadline
        self._handling = False
        self._sent = False  # bytes of a request whose headers are not complete yet

    # -- asyncio's calls -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; they are one in kind.
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        if len(self._book.open) >= self._book.limits.max_connections:
            transport.write(_FULL)
            transport.close()
            return
        self._inner = self._make()
        self._book.open[self._inner] = self
        self._inner.connection_made(transport)
        self._arm(self._book.limits.header_timeout, self._headers_late)

    def data_received(self, data: bytes) -> None:
        if self._inner is None:
            return
        if data and not self._handling:
            self._sent = True
            if self._deadline is None:  # a later request starts: its headers' deadline
                self._arm(self._book.limits.header_timeout, self._headers_late)
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        if self._inner is not None:
            self._inner.eof_received()
        return None  # aiohttp's: the transport closes itself at the client's end

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._inner is not None:
            self._book.open.pop(self._inner, None)
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    # -- the deadlines ---------------------------------------------------------------------

    # A deadline is a time and what to do then; the timer that wakes for it is kept
    # across requests and moved only when a deadline ends before it.  A timer made and
    # cancelled for each request of a kept-alive connection cost about 5,000 instructions
    # a request (under 1% of a ``/probe``), and a deadline is met far more often than
    # missed.

    def _arm(self, seconds: float, then: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        self._deadline, self._late = deadline, then
        timer = self._timer
        if timer is None or timer.when() > deadline:
            if timer is not None:
                timer.cancel()
            self._timer = loop.call_at(deadline, self._wake)

    def _disarm(self) -> None:
        self._deadline = None  # the timer, when it wakes, finds nothing due

    def _wake(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None:
            return
        loop = asyncio.get_running_loop()
        if loop.time() + _EARLY < deadline:  # a deadline set after the timer was
            self._timer = loop.call_at(deadline, self._wake)
            return
        self._deadline = None
        self._late()

    def _headers_late(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        # 408 only where it cannot land inside another answer still being written.
        if self._sent and not self._handling and transport.get_write_buffer_size() == 0:
            seconds = self._book.limits.header_timeout
            transport.write(
                _answer("408 Request Timeout", f"request headers not received in {seconds:g} s")
            )
        transport.close()

    def began(self, request: web.BaseRequest) -> None:
        """The headers of ``request`` are in: its body's deadline starts."""
        self._handling, self._sent = True, False
        self._disarm()
        if not request.content.is_eof():
            self._arm(self._book.limits.body_timeout, lambda: self._body_late(request))

    def ended(self) -> None:
        """The handler is done: bytes from now on are the next request's (or the rest of
        a body it did not read, which aiohttp reads away, within the same deadline)."""
        self._handling = False
        self._disarm()

    def _body_late(self, request: web.BaseRequest) -> None:
        if not request.content.is_eof():
            request.content.set_exception(_BodyTimeout())


_Direct = dict[str, tuple[_Handler, UrlMappingMatchInfo]]


def _direct_routes(app: web.Application) -> _Direct:
    """``app``'s :data:`DIRECT_GETS`: each path's handler and match info; raises
    ``ValueError`` for a path the router has no GET route for, or an app with
    middlewares (which the shortcut would skip)."""
    paths = app.get(DIRECT_GETS) or frozenset()
    if paths and app.middlewares:
        raise ValueError("direct routes would skip the app's middlewares")
    direct: _Direct = {}
    for route in app.router.routes() if paths else ():
        path = route.resource.canonical if route.resource is not None else None
        if route.method == "GET" and path in paths:
            matched = UrlMappingMatchInfo({}, route)
            matched.add_app(app)
            matched.freeze()  # one for every request: nothing in it is the request's
            direct[path] = (cast(_Handler, route.handler), matched)
    if direct.keys() != paths:
        raise ValueError(f"not GET routes of the app: {sorted(paths - direct.keys())}")
    return direct


def _direct(direct: _Direct, handler: _Handler) -> _Handler:
    """``handler`` (the app's) with the routes of ``direct`` taken before it."""
    if not direct:
        return handler
    taken = direct.get

    async def shortcut(request: web.BaseRequest) -> web.StreamResponse:
        if request.method == "GET":
            path, _, _ = request.raw_path.partition("?")
            route = taken(path)
            if route is not None and hdrs.EXPECT not in request.headers:
                route_handler, request._match_info = route  # type: ignore[attr-defined]
                return await route_handler(request)
        return await handler(request)

    return shortcut


def _deadlines(book: _Book, handler: _Handler) -> _Handler:
    """``handler`` (the app's, router and middlewares in it) telling each connection's
    guard when a request's headers are in and when the answer is made; answering 408 for
    a body that came too late.  A wrapper around the app rather than a middleware of it:
    aiohttp's middleware chain costs a ``/probe`` about 2% of its CPU for nothing this
    needs (a worker's app has no other middleware, so it runs none)."""
    guards = book.open

    async def deadlines(request: web.BaseRequest) -> web.StreamResponse:
        guard = guards.get(request.protocol)
        if guard is None:
            return await handler(request)
        guard.began(request)
        try:
            try:
                response = await handler(request)
            except _BodyTimeout:
                response = None
            # Whatever the handler made of the failed read (the forwarder of a worker
            # answers 503 to an OSError), the answer is the client's lateness.
            if not isinstance(request.content.exception(), _BodyTimeout):
                assert response is not None
                return response
            if response is not None and response.prepared:
                response.force_close()
                return response
            seconds = book.limits.body_timeout
            late = web.json_response(
                {"error": f"request body not received in {seconds:g} s"}, status=408
            )
            late.force_close()
            return late
        finally:
            guard.ended()

    return deadlines


Listen = Callable[[Callable[[], asyncio.Protocol]], Awaitable[asyncio.AbstractServer]]
"""Starts listening with the protocol factory it is given (``loop.create_server`` or
``loop.create_unix_server`` with the address bound in)."""


class _GuardedSite(web.BaseSite):
    """A listening socket whose connections are guarded (``book``)."""

    def __init__(self, runner: web.BaseRunner, listen: Listen, book: _Book, name: str) -> None:
        super().__init__(runner)
        self._listen = listen
        self._book = book
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        book = self._book
        self._server = await self._listen(lambda: _Guard(server, book))


def on_socket(sock: socket.socket) -> Listen:
    """Listen on ``sock``, bound already (TCP or Unix)."""
    return lambda factory: asyncio.get_running_loop().create_server(
        factory, sock=sock, backlog=BACKLOG
    )


def unix(path: str) -> Listen:
    """Listen on the Unix socket ``path``."""
    return lambda factory: asyncio.get_running_loop().create_unix_server(
        factory, path, backlog=BACKLOG
    )


async def start_guarded(
    app: web.Application,
    listens: Iterable[Listen],
    limits: ServerLimits,
    log: ProtocolLog | None = None,
) -> web.AppRunner:
    """Serve ``app`` on each of ``listens`` within ``limits``, aiohttp's own log lines
    going through ``log`` (a new :class:`ProtocolLog` by default: a malformed request is
    one line, rate-limited); the caller awaits ``.cleanup()`` on the result to stop it."""
    book = _Book(limits)
    direct = _direct_routes(app)
    runner = web.AppRunner(
        app,
        access_log=None,
        keepalive_timeout=limits.idle_timeout,
        logger=log or ProtocolLog(),
    )
    await runner.setup()
    server = runner.server
    assert server is not None  # made by setup()
    # Outermost, before the router and the login gate; set before any connection,
    # each of which takes the server's handler as it is made.
    server.request_handler = _deadlines(book, _direct(direct, server.request_handler))
    try:
        for i, listen in enumerate(listens):
            await _GuardedSite(runner, listen, book, f"guarded-{i}").start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


def raise_fd_limit() -> int:
    """Raise this process's open-file limit to its hard limit (as Go's runtime does): a
    socket per connection held and per probe under way.  The soft limit after it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft
