"""A real HTTP API on loopback (aiohttp, started by the test) for multi-step checks: log in
for a token, create an item (answered with an ETag and a ``Location: id=N``-style body),
read it with the token and ``If-Match``, delete it.  Each route can be told to fail, or
to answer something odd, and every request it got is kept for the test to read."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "tok-MARKER-5f1c9e2a7b"
"""The token the API hands out: a marker no stored text, page or log may show."""
ETAG = '"v1-8d2e"'


@dataclass
class Api:
    token: str = TOKEN
    fail: dict[str, int] = field(default_factory=dict)
    """Route name (login, create, read, delete) → the status it answers instead."""
    seen: list[dict[str, Any]] = field(default_factory=list)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    no_token: bool = False
    next_id: int = 41

    def _note(self, route: str, request: web.Request, body: bytes) -> int | None:
        self.seen.append(
            {
                "route": route,
                "method": request.method,
                "path": request.path_qs,
                "headers": dict(request.headers),
                "body": body.decode("utf-8", "replace"),
            }
        )
        return self.fail.get(route)

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    async def login(self, request: web.Request) -> web.Response:
        body = await request.read()
        if (status := self._note("login", request, body)) is not None:
            return web.Response(status=status, text="login broke")
        data = {} if self.no_token else {"token": self.token}
        return web.json_response({"data": data, "user": json.loads(body or b"{}").get("user")})

    async def create(self, request: web.Request) -> web.Response:
        body = await request.read()
        if (status := self._note("create", request, body)) is not None:
            return web.Response(status=status, text="create broke")
        if not self._authorised(request):
            return web.Response(status=401)
        item = json.loads(body)
        key = str(self.next_id)
        self.next_id += 1
        self.items[key] = item
        return web.Response(
            status=201, text=f"created id={key}; see /items/{key}", headers={"ETag": ETAG}
        )

    async def read(self, request: web.Request) -> web.Response:
        body = await request.read()
        if (status := self._note("read", request, body)) is not None:
            return web.Response(status=status, text="read broke")
        if not self._authorised(request):
            return web.Response(status=401)
        key = request.match_info["key"]
        if key not in self.items:
            return web.Response(status=404)
        if request.headers.get("If-Match") != ETAG:
            return web.Response(status=412)
        return web.json_response({"id": key, **self.items[key]})

    async def delete(self, request: web.Request) -> web.Response:
        body = await request.read()
        if (status := self._note("delete", request, body)) is not None:
            return web.Response(status=status, text="delete broke")
        if not self._authorised(request):
            return web.Response(status=401)
        if self.items.pop(request.match_info["key"], None) is None:
            return web.Response(status=404)
        return web.Response(status=204)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/login", self.login)
        app.router.add_post("/items", self.create)
        app.router.add_get("/items/{key}", self.read)
        app.router.add_delete("/items/{key}", self.delete)
        return app


@asynccontextmanager
async def serving(api: Api) -> AsyncIterator[int]:
    """``api`` on a free loopback port of this loop: its port."""
    runner = web.AppRunner(api.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


@contextmanager
def serving_in_thread(api: Api) -> Iterator[int]:
    """``api`` on its own loop in a thread (for a monitor that runs as a process)."""
    loop = asyncio.new_event_loop()
    ready: asyncio.Future[int] = loop.create_future()
    stop = asyncio.Event()

    async def main() -> None:
        async with serving(api) as port:
            ready.set_result(port)
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    port = asyncio.run_coroutine_threadsafe(asyncio.wait_for(asyncio.shield(ready), 10), loop)
    try:
        yield port.result(timeout=15)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=15)
        assert not thread.is_alive(), "the API's thread did not stop"
        loop.close()


def flow(port: int, *, extra: str = "") -> str:
    """A monitor of the four steps, as YAML (under ``monitors:``)."""
    base = f"http://127.0.0.1:{port}"
    return f"""\
  - name: api
    interval: 30s
    timeout: 10s
    headers: {{Accept: application/json}}
{extra}    steps:
      - name: login
        url: {base}/login
        method: POST
        body: '{{"user": "probe"}}'
        conditions: ["[STATUS] == 200", "[BODY].user == probe"]
        extract: {{token: "[BODY].data.token"}}
      - name: create
        url: {base}/items
        method: POST
        headers: {{Authorization: "Bearer [CONTEXT].token", Content-Type: application/json}}
        body: '{{"name": "probe item", "owner": "[CONTEXT].token"}}'
        conditions: ["[STATUS] == 201"]
        extract:
          etag: "[HEADER].etag"
          id: {{from: "[BODY]", regex: "id=([0-9]+)"}}
      - name: read
        url: {base}/items/[CONTEXT].id
        headers: {{Authorization: "Bearer [CONTEXT].token", If-Match: "[CONTEXT].etag"}}
        conditions: ["[STATUS] == 200", "[BODY].name == \\"probe item\\""]
      - name: delete
        url: {base}/items/[CONTEXT].id
        method: DELETE
        headers: {{Authorization: "Bearer [CONTEXT].token"}}
        conditions: ["[STATUS] == 204"]
"""
