"""The monitor's client of the OpenID provider against a small provider of the test's own
on loopback (aiohttp over TLS with a trustme CA): the discovery document is held to its
issuer, the keys are read again for a rotation but at most once a minute, every answer
is bounded, and the certificate is verified against ``ca_file``.  (The full flow runs
against the real ``oidc-provider`` in test_oidc_rejections.py; this peer is one whose
documents and keys the test can change between two requests.)"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trustme
from aiohttp import web

from tests.helpers.config_text import dump
from tests.helpers.web_harness import start_site
from tether.monitor.config import parse_config
from tether.monitor.config._oidc import OidcSettings
from tether.monitor.web.auth._oidc import ANSWER_MAX, ProviderClient
from tether.monitor.web.auth._oidc_flow import LoginRefused


class Peer:
    """What the provider serves, changed by the test; the requests it took."""

    def __init__(self) -> None:
        self.issuer = ""
        self.document: dict[str, Any] = {}
        self.jwks: dict[str, Any] = {"keys": []}
        self.big = False
        self.asked: list[str] = []

    async def discovery(self, request: web.Request) -> web.Response:
        self.asked.append(request.path)
        if self.big:
            return web.Response(body=b" " * (ANSWER_MAX + 10), content_type="application/json")
        return web.json_response(self.document)

    async def keys(self, request: web.Request) -> web.Response:
        self.asked.append(request.path)
        return web.json_response(self.jwks)


@asynccontextmanager
async def serving(ca: trustme.CA) -> AsyncIterator[Peer]:
    """The peer on https://127.0.0.1:PORT, on the running loop (as the client is)."""
    peer = Peer()
    app = web.Application()
    app.router.add_get("/.well-known/openid-configuration", peer.discovery)
    app.router.add_get("/jwks", peer.keys)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(tls)
    runner = await start_site(app, tls=tls)
    port = runner.addresses[0][1]
    peer.issuer = f"https://127.0.0.1:{port}"
    peer.document = {
        "issuer": peer.issuer,
        "authorization_endpoint": f"{peer.issuer}/auth",
        "token_endpoint": f"{peer.issuer}/token",
        "jwks_uri": f"{peer.issuer}/jwks",
        "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
    }
    try:
        yield peer
    finally:
        await runner.cleanup()


def settings(issuer: str, ca_file: str | None) -> OidcSettings:
    section: dict[str, Any] = {
        "issuer": issuer,
        "client_id": "tether",
        "redirect_uri": "https://m.example.com/login/oidc/callback",
        "roles": [{"value": "ops"}],
    }
    if ca_file is not None:
        section["ca_file"] = ca_file
    found = parse_config(dump(oidc=section)).oidc
    assert found is not None
    return found


def test_the_discovery_document_is_read_once_an_hour_and_held_to_its_issuer(
    ca: trustme.CA, cafile: str
) -> None:
    """The endpoints come from the document, asymmetric algorithms alone kept; it is read
    again after an hour; a document naming another issuer is refused (a mix-up)."""

    async def main() -> None:
        async with serving(ca) as peer:
            now = [0.0]
            client = ProviderClient(clock=lambda: now[0])
            oidc = settings(peer.issuer, cafile)
            meta = await client.metadata(oidc)
            assert await client.metadata(oidc) is meta
            assert meta.token_endpoint == f"{peer.issuer}/token"
            assert meta.algorithms == ("RS256",)
            assert meta.end_session_endpoint is None
            assert peer.asked.count("/.well-known/openid-configuration") == 1
            now[0] = 3601.0
            peer.document["issuer"] = "https://127.0.0.2:1"
            with pytest.raises(LoginRefused, match="names issuer"):
                await client.metadata(oidc)

    asyncio.run(main())


def test_the_keys_are_read_again_for_a_rotation_at_most_once_a_minute(
    ca: trustme.CA, cafile: str
) -> None:
    """Within the hour the keys are the held ones; asked again (a token signed by a key
    not among them) they are read afresh, unless read less than a minute ago."""

    async def main() -> None:
        async with serving(ca) as peer:
            now = [0.0]
            client = ProviderClient(clock=lambda: now[0])
            oidc = settings(peer.issuer, cafile)
            meta = await client.metadata(oidc)
            first = await client.keys(oidc, meta, again=False)
            peer.jwks = {"keys": [{"kty": "oct", "k": "AAAA", "kid": "rotated"}]}
            now[0] = 30.0
            assert await client.keys(oidc, meta, again=True) == first
            assert await client.keys(oidc, meta, again=False) == first
            now[0] = 61.0
            assert await client.keys(oidc, meta, again=True) == peer.jwks
            assert peer.asked.count("/jwks") == 2

    asyncio.run(main())


def test_an_answer_over_a_mib_is_refused(ca: trustme.CA, cafile: str) -> None:
    """A provider that answers without end is read to 1 MiB and refused."""

    async def main() -> None:
        async with serving(ca) as peer:
            peer.big = True
            with pytest.raises(LoginRefused, match="over"):
                await ProviderClient().metadata(settings(peer.issuer, cafile))

    asyncio.run(main())


def test_the_certificate_is_verified_against_the_ca_file(ca: trustme.CA) -> None:
    """Without ca_file the private CA's certificate is untrusted (the system's CAs do not
    know it); a ca_file that is not there says so."""

    async def main() -> None:
        async with serving(ca) as peer:
            with pytest.raises(LoginRefused, match=r"tls\.untrusted"):
                await ProviderClient().metadata(settings(peer.issuer, None))
            with pytest.raises(LoginRefused, match="could not be read"):
                await ProviderClient().metadata(settings(peer.issuer, "/nonexistent/ca.pem"))

    asyncio.run(main())
