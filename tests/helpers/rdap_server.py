"""An RDAP server on loopback (RFC 9083's ``/domain/NAME`` answers, aiohttp in a thread)
and the RFC 9224 bootstrap that points ``.test`` at it, for ``[DOMAIN_EXPIRATION]``."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tether.lab._lab import close_accepting


def registration(domain: str, expires: float | None) -> dict[str, Any]:
    """An RFC 9083 domain object, with an ``expiration`` event when ``expires`` is given."""
    events: list[dict[str, str]] = [
        {"eventAction": "registration", "eventDate": "2020-01-01T00:00:00Z"}
    ]
    if expires is not None:
        when = dt.datetime.fromtimestamp(expires, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        events.append({"eventAction": "expiration", "eventDate": when})
    return {"objectClassName": "domain", "ldhName": domain, "events": events}


def bootstrap(url: str, suffixes: tuple[str, ...] = ("test",)) -> str:
    """RFC 9224's ``dns.json`` naming ``url`` for ``suffixes``."""
    return json.dumps(
        {
            "version": "1.0",
            "publication": "2026-01-01T00:00:00Z",
            "services": [[list(suffixes), [url]], [["invalid"], ["https://rdap.invalid/"]]],
        }
    )


@dataclass
class RdapServer:
    """Answers ``answers[name]`` (status, JSON) at ``/rdap/domain/NAME``, 404 for any other
    name; ``/dns.json`` with the bootstrap while ``serve_bootstrap``.  Counts requests."""

    answers: dict[str, tuple[int, Any]] = field(default_factory=dict)
    serve_bootstrap: bool = True
    hits: list[str] = field(default_factory=list)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/rdap/"

    async def _domain(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.hits.append(name)
        status, body = self.answers.get(name, (404, {"errorCode": 404}))
        return web.json_response(body, status=status, content_type="application/rdap+json")

    async def _bootstrap(self, request: web.Request) -> web.Response:
        self.hits.append("dns.json")
        if not self.serve_bootstrap:
            return web.Response(status=503)
        return web.Response(text=bootstrap(self.base), content_type="application/json")

    @contextmanager
    def running(self) -> Iterator[RdapServer]:
        loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_get("/rdap/domain/{name}", self._domain)
        app.router.add_get("/dns.json", self._bootstrap)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        made: list[_Watched] = []  # every connection's protocol, to see each one closed
        listening: list[asyncio.Server] = []

        async def start() -> None:
            await runner.setup()
            handler = runner.server
            assert handler is not None

            def protocol() -> _Watched:
                made.append(_Watched(handler()))
                return made[-1]

            server = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", 0)
            listening.append(server)
            self.port = server.sockets[0].getsockname()[1]

        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        asyncio.run_coroutine_threadsafe(start(), loop).result(10)

        async def stop() -> None:
            # Every socket the server accepted is closed before its loop stops: one left
            # open is collected in a later test and fails it with a ResourceWarning (the
            # rdap flake, three times).  Three ways one could stay open:
            # - Python 3.11's Server.close() between a connection's accept and its task's
            #   first step (a tcp:// check's connection, on a loaded machine): the
            #   transport's Server._attach() then fails an assertion, and the half-made
            #   transport keeps the socket (caught with the loop's debug mode and an
            #   exception handler, in runs that collected after every test).  So the
            #   server closes as the lab's do (``close_accepting``);
            # - aiohttp's handler forgets its transport as it asks it to close, a turn
            #   before the socket is (read in the code, as the next): so
            #   :class:`_Watched` counts a connection open until its connection_lost,
            #   which asyncio calls right before closing the socket;
            # - a connection's task not started when the loop's tasks were cancelled
            #   never closes its socket: so this waits for every task and connection to
            #   end, and cancels only past the bound.
            # Turns of the loop, bounded, not time.
            await close_accepting(listening)
            await runner.cleanup()
            me = asyncio.current_task()
            for _ in range(1000):
                live = [w for w in made if not w.lost]
                if not live and all(t is me for t in asyncio.all_tasks()):
                    break
                for w in live:
                    if w.transport is not None and not w.transport.is_closing():
                        w.transport.close()
                await asyncio.sleep(0)
            else:
                for w in made:
                    if not w.lost and w.transport is not None:
                        w.transport.abort()  # type: ignore[attr-defined]
                pending = [t for t in asyncio.all_tasks() if t is not me]
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)

        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()


class _Watched(asyncio.Protocol):
    """``inner`` (aiohttp's request handler) that knows its transport from
    ``connection_made`` and whether ``connection_lost`` has come: asyncio closes a
    transport's socket right after its protocol's ``connection_lost``, in the same call."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.transport: asyncio.BaseTransport | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()  # type: ignore[no-any-return]

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()
