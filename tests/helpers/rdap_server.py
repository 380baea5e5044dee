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
        made: list[Any] = []  # every connection's protocol, to see each one closed
        listening: list[asyncio.Server] = []

        async def start() -> None:
            await runner.setup()
            handler = runner.server
            assert handler is not None

            def protocol() -> Any:
                made.append(handler())
                return made[-1]

            server = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", 0)
            listening.append(server)
            self.port = server.sockets[0].getsockname()[1]

        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        asyncio.run_coroutine_threadsafe(start(), loop).result(10)

        async def stop() -> None:
            for server in listening:
                server.close()
            await runner.cleanup()
            # A connection accepted just before the server closed (a tcp:// check's, on a
            # loaded machine) may still be becoming a transport: cancelled, it closes it,
            # where a loop stopped under it left an unclosed socket for the collector to
            # warn about in whichever test ran next.
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            # Every connection closed, and its connection_lost run (which closes the
            # socket) before the loop stops: a loop stopped first left a socket for the
            # collector to warn about in whichever test ran next (the rdap flake).  Turns
            # of the loop, bounded, not time.
            for _ in range(1000):
                open_ = [p.transport for p in made if p.transport is not None]
                if not open_:
                    break
                for transport in open_:
                    if not transport.is_closing():
                        transport.close()
                await asyncio.sleep(0)
            else:
                for p in made:
                    if p.transport is not None:
                        p.transport.abort()
                await asyncio.sleep(0)

        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
