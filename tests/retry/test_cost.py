"""What a call that is never redirected does not pay for (issue 27 §2): the integrations
keep the redirect credential rule, and work it out only for calls it can touch.

Each test runs real calls against the lab's healthy server and counts, with a spy on the
integration's own helper, the work the cut removed; the redirect tests
(test_integration_redirects.py) hold the rule itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import tether
from tether.integrations import aiohttp as tether_aiohttp
from tether.integrations import httpx as tether_httpx
from tether.lab import Lab

POLICY = tether.RetryPolicy(attempts=1)


def _counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    """Count the calls of ``module.name`` (still called through)."""
    calls = [0]
    real = getattr(module, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return calls


def test_aiohttp_session_skips_its_redirect_middleware_with_nothing_to_drop(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """session(): a call with no headers or cookies of the caller's goes through aiohttp
    without tether's redirect middleware; one with headers, or on a session with default
    headers, through it."""
    url = lab["healthy"].url
    seen = _counting(monkeypatch, tether_aiohttp, "_keep_on_origin")

    async def main() -> list[int]:
        counts = []
        async with tether_aiohttp.session(POLICY) as s:
            for kwargs in ({}, {"headers": {"X-Api-Key": "k"}}, {"cookies": {"c": "v"}}):
                async with s.get(url, **kwargs) as r:
                    assert r.status == 200
                counts.append(seen[0])
        async with tether_aiohttp.session(POLICY, headers={"Authorization": "x"}) as s:
            async with s.get(url) as r:
                assert r.status == 200
            counts.append(seen[0])
        return counts

    assert asyncio.run(main()) == [0, 1, 2, 3]


def test_aiohttp_session_keeps_the_callers_own_middlewares_when_it_skips_its_own(
    lab: Lab,
) -> None:
    """A session's own middlewares still run on a call that skips tether's."""
    url = lab["healthy"].url
    ran: list[str] = []

    async def mine(request: Any, handler: Any) -> Any:
        ran.append(str(request.url))
        return await handler(request)

    async def main() -> None:
        async with tether_aiohttp.session(POLICY, middlewares=[mine]) as s, s.get(url) as r:
            assert r.status == 200

    asyncio.run(main())
    assert ran == [url]


def test_httpx_works_out_the_first_origin_only_when_redirected(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Transport: a call answered without a redirect never computes its origin."""
    url = lab["healthy"].url
    seen = _counting(monkeypatch, tether_httpx, "origin")
    with httpx.Client(transport=tether_httpx.Transport(POLICY)) as c:
        assert c.get(url).status_code == 200
        assert c.get(url, headers={"Authorization": "x"}).status_code == 200
    assert seen[0] == 0
