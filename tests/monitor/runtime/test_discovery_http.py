"""``http_sd`` against a real HTTP server on loopback (aiohttp, in the test) answering in
the format Prometheus documents (prometheus.io/docs/prometheus/latest/http_sd/): the
authorization checked by the server, a 503 and a wrong Content-Type failing the source
while it keeps its last set, then back; TLS verified against the CA given."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trustme
from aiohttp import web

from tether.monitor.config import parse_config
from tether.monitor.runtime._discovery import Discovery

TOKEN = "s3cret-sd-token"


class Inventory:
    """What the server answers next, and what it was asked."""

    def __init__(self) -> None:
        self.status = 200
        self.content_type = "application/json"
        self.groups: list[dict[str, Any]] = []
        self.asked: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.asked.append(dict(request.headers))
        if request.headers.get("Authorization") not in (
            f"Bearer {TOKEN}",
            "Basic " + base64.b64encode(b"sd:pw-basic").decode(),
        ):
            return web.Response(status=401)
        return web.Response(
            status=self.status, body=json.dumps(self.groups), content_type=self.content_type
        )


@asynccontextmanager
async def serving(
    inventory: Inventory, context: ssl.SSLContext | None = None
) -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_get("/sd", inventory.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


def source(url: str, auth: str, extra: str = "") -> str:
    return f"""\
discover:
  - name: inventory
    http_sd:
      url: {url}
      refresh_interval: 30s
      {auth}
      {extra}
    template: {{url: "tcp://{{{{address}}}}", labels: {{team: "{{{{labels.team}}}}"}}}}
"""


class Clock:
    now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_polled_with_its_token_a_failure_keeps_the_last_set() -> None:
    """The source is asked at start and every refresh interval with the bearer token and
    Prometheus's refresh header; a 503, then an answer that is not application/json,
    fail it (its monitors kept, the reason on its status, never the token); a good
    answer brings it back with the new targets."""
    inventory = Inventory()
    inventory.groups = [{"targets": ["127.0.0.1:81"], "labels": {"team": "pay"}}]
    clock = Clock()

    async def main() -> None:
        async with serving(inventory) as port:
            url = f"http://127.0.0.1:{port}/sd"
            config = parse_config(source(url, f"authorization: {{credentials: {TOKEN}}}"))
            d = Discovery(config, wall=clock)
            assert await d.step()
            (m,) = d.merged().monitors
            assert (m.name, m.labels) == ("inventory/127.0.0.1:81", {"team": "pay"})
            assert inventory.asked[-1]["X-Prometheus-Refresh-Interval-Seconds"] == "30"
            clock.now += 29
            assert not await d.step()
            assert len(inventory.asked) == 1  # not due yet
            for status, kind, why in [
                (503, "application/json", "answered 503"),
                (200, "text/plain", "answered Content-Type text/plain, not application/json"),
            ]:
                inventory.status, inventory.content_type = status, kind
                clock.now += 30
                assert not await d.step()
                (s,) = d.status()
                assert not s.up
                assert s.targets == 1
                assert s.error is not None
                assert why in s.error
                assert TOKEN not in s.error
            assert [m.name for m in d.merged().monitors] == ["inventory/127.0.0.1:81"]
            inventory.status, inventory.content_type = 200, "application/json"
            inventory.groups = [{"targets": ["127.0.0.1:82"], "labels": {"team": "pay"}}]
            clock.now += 30
            assert await d.step()
            (s,) = d.status()
            assert s.up
            assert s.error is None
            assert s.last_success == clock.now
            assert len(inventory.asked) == 4

    asyncio.run(main())


def test_a_wrong_token_is_a_failure() -> None:
    """The server refuses another token: the source fails with the status, and nothing
    is made."""
    inventory = Inventory()

    async def main() -> None:
        async with serving(inventory) as port:
            url = f"http://127.0.0.1:{port}/sd"
            d = Discovery(parse_config(source(url, "authorization: {credentials: wrong}")))
            assert not await d.step()
            (s,) = d.status()
            assert s.error is not None
            assert "answered 401" in s.error
            assert s.last_success is None

    asyncio.run(main())


def test_tls_is_verified_against_the_ca_given_and_basic_auth_sent(tmp_path: Path) -> None:
    """Over HTTPS with ``tls: {ca_file}`` and ``basic_auth`` the source reads; without
    the CA the certificate is refused (verification is on)."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    inventory = Inventory()
    inventory.groups = [{"targets": ["127.0.0.1:81"]}]

    async def main() -> None:
        async with serving(inventory, server) as port:
            url = f"https://127.0.0.1:{port}/sd"
            auth = "basic_auth: {username: sd, password: pw-basic}"
            trusted = parse_config(source(url, auth, f"tls: {{ca_file: {tmp_path / 'ca.pem'}}}"))
            d = Discovery(trusted)
            assert await d.step()
            assert d.status()[0].up
            untrusted = Discovery(parse_config(source(url, auth)))
            assert not await untrusted.step()
            error = untrusted.status()[0].error
            assert error is not None
            assert "certificate" in error.lower()
            assert "pw-basic" not in error

    asyncio.run(main())
