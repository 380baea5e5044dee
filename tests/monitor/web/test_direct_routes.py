"""The server's shortcut past the router (``DIRECT_GETS``, a worker's ``/probe``): real
requests on loopback to an app behind ``start_guarded``, as a worker serves it.

The shortcut gives the route's handler one match info made once, and the router makes a
new one for every request it resolves: which one a request got tells which way it went."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from tether.monitor.web._limits import DIRECT_GETS, ServerLimits, on_socket, start_guarded


def _app(direct: frozenset[str], seen: list[Any]) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        seen.append(request.match_info)
        assert request.app is request.match_info.current_app  # as the router leaves it
        return web.Response(text=f"{request.method} {request.query.get('target', '')}")

    app = web.Application()
    app.router.add_get("/probe", handler)
    app.router.add_post("/probe", handler)
    app.router.add_get("/other", handler)
    app[DIRECT_GETS] = direct
    return app


def _serve(
    app: web.Application, requests: Callable[[aiohttp.ClientSession, str], Awaitable[Any]]
) -> Any:
    async def run() -> Any:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        try:
            runner = await start_guarded(app, [on_socket(sock)], ServerLimits())
        except ValueError:
            sock.close()
            raise
        try:
            async with aiohttp.ClientSession() as session:
                return await requests(session, base)
        finally:
            await runner.cleanup()

    return asyncio.run(run())


def test_a_direct_get_reaches_the_routes_handler_past_the_router() -> None:
    """Two GETs of the path take the shortcut (one match info for both, the route's);
    a HEAD, a POST, a path spelled otherwise and an ``Expect`` header go through the
    router (a match info each), and every one reaches the same handler."""
    seen: list[Any] = []

    async def requests(session: aiohttp.ClientSession, base: str) -> list[tuple[int, str]]:
        answers = []
        for method, path, headers in [
            ("GET", "/probe?target=a", {}),
            ("GET", "/probe?target=b", {}),
            ("HEAD", "/probe", {}),
            ("POST", "/probe", {}),
            ("GET", "/%70robe?target=c", {}),
            ("GET", "/probe?target=d", {"Expect": "100-continue"}),
            ("GET", "/other", {}),
        ]:
            url = URL(base + path, encoded=True)
            async with session.request(method, url, headers=headers) as r:
                answers.append((r.status, await r.text()))
        return answers

    answers = _serve(_app(frozenset({"/probe"}), seen), requests)
    assert answers == [
        (200, "GET a"),
        (200, "GET b"),
        (200, ""),
        (200, "POST "),
        (200, "GET c"),
        (200, "GET d"),
        (200, "GET "),
    ]
    first, second, *routed = seen
    assert first is second
    assert first.route.method == "GET"
    assert first.route.resource.canonical == "/probe"
    assert all(m is not first for m in routed)
    assert len({id(m) for m in routed}) == len(routed)


def test_without_direct_routes_every_request_goes_through_the_router() -> None:
    seen: list[Any] = []

    async def requests(session: aiohttp.ClientSession, base: str) -> None:
        for _ in range(2):
            async with session.get(base + "/probe?target=a") as r:
                assert r.status == 200

    _serve(_app(frozenset(), seen), requests)
    assert seen[0] is not seen[1]


@pytest.mark.parametrize(
    ("direct", "middleware", "said"),
    [
        (frozenset({"/absent"}), False, "not GET routes of the app: ['/absent']"),
        (frozenset({"/probe"}), True, "would skip the app's middlewares"),
    ],
)
def test_a_shortcut_the_router_would_not_take_is_refused(
    direct: frozenset[str], middleware: bool, said: str
) -> None:
    """A path the app has no GET route for, or an app with a middleware (which the
    shortcut would skip), is refused at start rather than answered differently."""
    app = _app(direct, [])
    if middleware:

        @web.middleware
        async def passing(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            return await handler(request)

        app.middlewares.append(passing)

    async def requests(session: aiohttp.ClientSession, base: str) -> None:
        raise AssertionError("served")

    with pytest.raises(ValueError, match=said.replace("[", r"\[").replace("]", r"\]")):
        _serve(app, requests)
