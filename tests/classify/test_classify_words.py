"""A failure's detail is worded as the user reads it: a sentence that starts with a URL
keeps the URL as it is (``http://``, not ``Http://``).  Real redirect loops from the lab
(``/a`` redirects to ``/b``, ``/b`` to ``/a``) through requests, httpx and aiohttp."""

from __future__ import annotations

import asyncio

import aiohttp
import httpx
import pytest
import requests

import tether
from tether.lab import Lab


def _requests(url: str) -> BaseException:
    with pytest.raises(requests.TooManyRedirects) as caught:
        requests.get(url, timeout=5)
    return caught.value


def _httpx(url: str) -> BaseException:
    with httpx.Client(timeout=5) as client, pytest.raises(httpx.TooManyRedirects) as caught:
        client.get(url, follow_redirects=True)
    return caught.value


def _aiohttp(url: str) -> BaseException:
    async def get() -> None:
        async with aiohttp.ClientSession() as s:
            await s.get(url, max_redirects=3)

    with pytest.raises(aiohttp.TooManyRedirects) as caught:
        asyncio.run(get())
    return caught.value


@pytest.mark.parametrize("client", [_requests, _httpx, _aiohttp])
def test_a_redirect_loop_names_its_url_as_given(lab: Lab, client: object) -> None:
    """The redirect loop's detail starts with the URL in lower case, as requested."""
    url = lab["redirect_loop"].url
    assert url.startswith("http://")
    failure = tether.classify(client(url), url=url)  # type: ignore[operator]
    assert failure.kind is tether.Kind.HTTP_REDIRECT_LOOP
    assert failure.detail.startswith("http://127.0.0.1:"), failure.detail
    assert "redirected too many times" in failure.detail
