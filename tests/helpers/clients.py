"""Each HTTP client tether plugs into, behind one face, for the tests that hold every
integration to the same behaviour: ``tether.Session`` (requests), httpx's ``Transport``
and ``AsyncTransport``, aiohttp's ``session()`` and ``middleware()``.

A :class:`Client` sends one request through a fresh client of its kind and names the
library's own exception classes a user's ``except`` clauses already catch.  The async
clients run inside ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import httpx
import requests

import tether
from tether import Guard, RetryPolicy
from tether.integrations import aiohttp as tether_aiohttp
from tether.integrations.httpx import AsyncTransport, Transport


@dataclass(frozen=True, slots=True)
class Call:
    """One request as a test asks for it: through tether under ``policy`` (or ``guard``,
    which holds the breaker between calls)."""

    policy: RetryPolicy
    guard: Guard | None
    method: str
    url: str
    body: bytes | None


Send = Callable[[Call], tuple[int, bytes]]


def _requests(call: Call) -> tuple[int, bytes]:
    session = tether.Session(guard=call.guard) if call.guard else tether.Session(call.policy)
    with session:
        response = session.request(call.method, call.url, data=call.body)
    return response.status_code, response.content


def _httpx(call: Call) -> tuple[int, bytes]:
    with httpx.Client(transport=Transport(call.policy, guard=call.guard)) as client:
        response = client.request(call.method, call.url, content=call.body)
    return response.status_code, response.content


def _httpx_async(call: Call) -> tuple[int, bytes]:
    async def go() -> tuple[int, bytes]:
        transport = AsyncTransport(call.policy, guard=call.guard)
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.request(call.method, call.url, content=call.body)
        return response.status_code, response.content

    return asyncio.run(go())


def _aiohttp_session(call: Call) -> aiohttp.ClientSession:
    return tether_aiohttp.session(call.policy, guard=call.guard)


def _aiohttp_middleware(call: Call) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        middlewares=[tether_aiohttp.middleware(call.policy, guard=call.guard)]
    )


def _aiohttp(make: Callable[[Call], aiohttp.ClientSession]) -> Send:
    def send(call: Call) -> tuple[int, bytes]:
        async def go() -> tuple[int, bytes]:
            session = make(call)
            async with session, session.request(call.method, call.url, data=call.body) as r:
                return r.status, await r.read()

        return asyncio.run(go())

    return send


@dataclass(frozen=True, slots=True)
class Client:
    """One way to send a request through tether, and the library's own errors for it."""

    name: str
    _send: Send
    connection_error: type[BaseException]
    """What a refused connection is raised as."""
    sent_error: type[BaseException]
    """What a connection lost after the request was sent is raised as."""
    circuit_error: type[BaseException]
    """What a call refused by an open circuit is raised as (besides CircuitOpenError)."""
    timeout_error: type[BaseException]
    """What the deadline is raised as."""
    base_error: type[BaseException]
    """The library's base class that a user's ``except`` catches everything with."""
    chains: bool
    """Whether tether raises an error of its own, chained from the library's (requests,
    httpx), or the library's own error with a note added (aiohttp)."""

    def send(
        self,
        policy: RetryPolicy,
        method: str,
        url: str,
        *,
        guard: Guard | None = None,
        body: bytes | None = None,
    ) -> tuple[int, bytes]:
        """``(status, body)`` of one request through a fresh client (sharing ``guard``)."""
        return self._send(Call(policy, guard, method, url, body))

    def said(self, error: BaseException) -> list[str]:
        """What tether said of the failure: the error's message where it raised its own,
        else its notes that start ``tether: `` (without those words)."""
        if self.chains:
            return [str(error)]
        notes = getattr(error, "__notes__", [])
        return [n.removeprefix("tether: ") for n in notes if n.startswith("tether: ")]

    def __repr__(self) -> str:
        return self.name


CLIENTS = [
    Client(
        "requests",
        _requests,
        connection_error=requests.ConnectionError,
        sent_error=requests.ConnectionError,
        circuit_error=requests.ConnectionError,
        timeout_error=requests.Timeout,
        base_error=requests.RequestException,
        chains=True,
    ),
    *(
        Client(
            name,
            send,
            connection_error=httpx.ConnectError,
            sent_error=httpx.TransportError,
            circuit_error=httpx.ConnectError,
            timeout_error=httpx.TimeoutException,
            base_error=httpx.TransportError,
            chains=True,
        )
        for name, send in [("httpx", _httpx), ("httpx-async", _httpx_async)]
    ),
    *(
        Client(
            f"aiohttp-{way}",
            _aiohttp(make),
            connection_error=aiohttp.ClientConnectorError,
            sent_error=aiohttp.ClientConnectionError,
            circuit_error=aiohttp.ClientConnectionError,
            timeout_error=aiohttp.ServerTimeoutError,
            base_error=aiohttp.ClientError,
            chains=False,
        )
        for way, make in [("session", _aiohttp_session), ("middleware", _aiohttp_middleware)]
    ),
]
"""Every client, named as the test ids name them."""
BY_NAME = {c.name: c for c in CLIENTS}
