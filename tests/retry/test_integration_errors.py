"""The one table of errors: each integration's row names its library's own classes.

What tether raises itself must be caught by the ``except`` clauses a user
already has for the library: the library's base error, and the narrower
connection or timeout class that says what happened.
"""

from __future__ import annotations

import asyncio

import aiohttp
import httpx
import pytest
import requests

import tether
from tether.integrations import aiohttp as tether_aiohttp
from tether.integrations import httpx as tether_httpx
from tether.integrations import requests as tether_requests
from tether.integrations._errors import Errors
from tether.lab import Lab

ROWS = [
    (tether_requests._ERRORS, requests.ConnectionError, requests.Timeout, requests.ReadTimeout),
    (tether_httpx._ERRORS, httpx.ConnectError, httpx.TimeoutException, httpx.ReadTimeout),
    (
        tether_aiohttp._ERRORS,
        aiohttp.ClientConnectionError,
        aiohttp.ServerTimeoutError,
        aiohttp.ServerTimeoutError,
    ),
]


@pytest.mark.parametrize(
    ("row", "connection", "timeout", "read_timeout"), ROWS, ids=["requests", "httpx", "aiohttp"]
)
def test_each_row_is_the_librarys_and_tethers(
    row: Errors, connection: type, timeout: type, read_timeout: type
) -> None:
    """circuit open: the library's connection error and CircuitOpenError; deadline: its
    timeout and DeadlineExceededError; a cut attempt: its read timeout."""
    assert issubclass(row.circuit_open, connection)
    assert issubclass(row.circuit_open, tether.CircuitOpenError)
    assert issubclass(row.deadline, timeout)
    assert issubclass(row.deadline, tether.DeadlineExceededError)
    assert issubclass(row.total_timeout, read_timeout)
    # What a traceback and type(exc).__name__ show: tether's public names (issue 24).
    assert (row.circuit_open.__name__, row.deadline.__name__) == (
        "CircuitOpenError",
        "DeadlineExceededError",
    )
    made = row.new(row.circuit_open, "GET http://127.0.0.1:9/ was not sent", None)
    assert str(made) == "GET http://127.0.0.1:9/ was not sent"


@pytest.mark.parametrize(
    ("row", "theirs", "ours"),
    [
        (tether_requests._ERRORS, requests.ReadTimeout(), requests.ConnectionError()),
        (tether_httpx._ERRORS, httpx.ReadTimeout("x"), TimeoutError()),
        (tether_aiohttp._ERRORS, aiohttp.ServerTimeoutError(), TimeoutError()),
    ],
    ids=["requests", "httpx", "aiohttp"],
)
def test_own_timeout_tells_the_librarys_timeout_from_tethers_cut(
    row: Errors, theirs: BaseException, ours: BaseException
) -> None:
    """A timeout the library raised itself is kept; what tether's timer left is a total timeout."""
    assert row.own_timeout(theirs)
    assert not row.own_timeout(ours)


def _through(client: str, url: str, policy: tether.RetryPolicy) -> BaseException:
    """What ``client`` under ``policy`` raises for ``url``."""
    if client == "requests":
        with tether.Session(policy=policy) as session:
            try:
                session.get(url)
            except Exception as exc:
                return exc
    elif client == "httpx":
        with httpx.Client(transport=tether_httpx.Transport(policy=policy)) as c:
            try:
                c.get(url)
            except Exception as exc:
                return exc
    else:

        async def go() -> BaseException:
            async with tether_aiohttp.session(policy) as s:
                try:
                    async with s.get(url) as r:
                        await r.read()
                except Exception as exc:
                    return exc
            raise AssertionError("no error")

        return asyncio.run(go())
    raise AssertionError("no error")


@pytest.mark.parametrize("client", ["requests", "httpx", "aiohttp"])
def test_a_slow_drip_cut_by_the_deadline_is_one_kind_everywhere(drip_lab: Lab, client: str) -> None:
    """The deadline ends a body that never ends: deadline.exceeded, and the attempt it cut
    a read timeout, in every integration (issue 24: requests said the attempt was
    response.truncated, its socket shut under it, where httpx said read.timeout)."""
    error = _through(client, drip_lab["slow_drip"].url, tether.RetryPolicy(deadline=0.5))
    failure = error.failure  # type: ignore[attr-defined]
    assert failure.kind is tether.Kind.DEADLINE_EXCEEDED
    if client != "aiohttp":  # aiohttp reads the body after the call, under its total
        assert failure.detail.endswith("(attempt 1: read.timeout)"), failure.detail
