"""Streams: retried before the first item (or the response head), never after.

``@tether.retry`` on async generator and generator functions, with failures raised
in-process and against the lab through aiohttp; then each integration's streamed
responses against ``reset_on_accept`` (nothing came: retried) and ``reset_mid_body``
(the head and 100 bytes came, then a reset: not retried once the body is the caller's).
Waits go to a fake clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import aiohttp
import httpx
import pytest
import requests

import tether
from tests.helpers.fakes import Recorder
from tether import Kind
from tether.integrations.httpx import STREAM, AsyncTransport, Transport
from tether.lab import Lab

LIMIT = 10.0


def reset() -> ConnectionResetError:
    return ConnectionResetError(104, "Connection reset by peer")


async def collect(stream: AsyncIterator[int]) -> list[int]:
    return [item async for item in stream]


# -- the decorator on async generators ----------------------------------------------


def test_async_generator_is_retried_before_its_first_item() -> None:
    """An attempt that fails before yielding is run again, from the start."""
    r, starts = Recorder(), []

    @tether.retry(policy=r.policy)
    async def numbers() -> AsyncIterator[int]:
        starts.append(1)
        if len(starts) < 3:
            raise reset()
        for n in range(3):
            yield n

    assert asyncio.run(collect(numbers())) == [0, 1, 2]
    assert len(starts) == 3
    assert [d.failure.kind for d in r.retries] == [Kind.CONNECTION_RESET] * 2


def test_async_generator_is_never_retried_after_an_item() -> None:
    """A failure after an item was delivered is raised as it is, once, with .failure and a
    note saying why it was not retried."""
    r, starts, got = Recorder(), [], []

    @tether.retry(policy=r.policy)
    async def numbers() -> AsyncIterator[int]:
        starts.append(1)
        yield 1
        yield 2
        raise reset()

    async def main() -> None:
        async for item in numbers():
            got.append(item)

    with pytest.raises(ConnectionResetError) as caught:
        asyncio.run(main())
    assert got == [1, 2]
    assert starts == [1]
    assert r.retries == []
    assert caught.value.failure.kind is Kind.CONNECTION_RESET  # type: ignore[attr-defined]
    assert caught.value.__notes__ == [
        "tether: numbers() failed after 2 items had been delivered (connection.reset); "
        "not retried: a stream is retried only before its first item"
    ]


def test_async_generator_empty_closed_early_and_sent_values() -> None:
    """An empty stream is a success; a caller that stops early closes the inner generator;
    values sent with asend() reach it."""
    closed, received = [], []

    @tether.retry(policy=Recorder().policy)
    async def nothing() -> AsyncIterator[int]:
        return
        yield  # pragma: no cover - makes this an async generator

    @tether.retry(policy=Recorder().policy)
    async def echo() -> AsyncIterator[int]:
        try:
            value = 0
            while True:
                value = yield value + 1
                received.append(value)
        finally:
            closed.append(True)

    async def main() -> list[int]:
        stream = echo()
        got = [await stream.__anext__(), await stream.asend(10), await stream.asend(20)]
        await stream.aclose()
        assert closed == [True]  # at once, not when the loop shuts down
        return got

    assert asyncio.run(collect(nothing())) == []
    assert asyncio.run(main()) == [1, 11, 21]
    assert received == [10, 20]
    assert closed == [True]


def test_async_generator_first_item_is_bounded_by_total() -> None:
    """The per-attempt timeout covers the wait for the first item: cut, it is retried."""
    r, starts = Recorder(total=0.05), []

    @tether.retry(policy=r.policy)
    async def late() -> AsyncIterator[int]:
        starts.append(1)
        if len(starts) == 1:
            await asyncio.Event().wait()
        yield 7

    assert asyncio.run(asyncio.wait_for(collect(late()), LIMIT)) == [7]
    assert [d.failure.kind for d in r.retries] == [Kind.READ_TIMEOUT]


# -- the decorator on generators ----------------------------------------------------


def test_generator_is_retried_before_its_first_item_only() -> None:
    """The sync generator follows the same rule."""
    r, starts = Recorder(), []

    @tether.retry(policy=r.policy)
    def lines() -> Iterator[str]:
        starts.append(1)
        if len(starts) == 1:
            raise reset()
        yield "a"
        raise reset()

    stream = lines()
    assert next(stream) == "a"
    with pytest.raises(ConnectionResetError) as caught:
        next(stream)
    assert len(starts) == 2
    assert len(r.retries) == 1
    assert "after 1 item had been delivered" in caught.value.__notes__[0]


# -- aiohttp through the decorator ----------------------------------------------------


def chunks(r: Recorder) -> object:
    @tether.retry(policy=r.policy)
    async def download(url: str) -> AsyncIterator[bytes]:
        async with aiohttp.ClientSession() as s, s.get(url) as response:
            response.raise_for_status()
            async for chunk in response.content.iter_any():
                yield chunk

    return download


def test_aiohttp_stream_reset_before_anything_is_retried(lab: Lab) -> None:
    """reset_on_accept: no item came, so each attempt is retried until they run out."""
    r = Recorder()
    download = chunks(r)

    with pytest.raises(aiohttp.ClientError) as caught:
        asyncio.run(asyncio.wait_for(collect(download(lab["reset_on_accept"].url)), LIMIT))  # type: ignore[operator]
    assert len(r.retries) == 2
    assert caught.value.__notes__[0].startswith("tether: download() failed after 3 attempts")


def test_aiohttp_stream_reset_mid_body_is_not_retried(lab: Lab) -> None:
    """reset_mid_body: the first 100 bytes were handed on, so the reset is the caller's."""
    r, got = Recorder(), []
    download = chunks(r)

    async def main() -> None:
        async for chunk in download(lab["reset_mid_body"].url):  # type: ignore[operator]
            got.append(chunk)

    with pytest.raises(aiohttp.ClientError) as caught:
        asyncio.run(asyncio.wait_for(main(), LIMIT))
    assert b"".join(got) == b"x" * 100
    assert r.retries == []
    assert "not retried: a stream is retried only before its first item" in str(
        caught.value.__notes__
    )


# -- requests: stream=True -------------------------------------------------------------


def test_requests_stream_is_retried_up_to_the_head(lab: Lab) -> None:
    """With stream=True a reset before the head is retried; a reset in the body the
    caller reads is not (and without stream=True the body is read in the attempt, so a
    reset there is retried)."""
    r = Recorder()
    with tether.Session(policy=r.policy) as session:
        with pytest.raises(requests.exceptions.ConnectionError):
            session.get(lab["reset_on_accept"].url, stream=True)
        assert len(r.retries) == 2
        response = session.get(lab["reset_mid_body"].url, stream=True)
        assert response.status_code == 200
        assert len(r.retries) == 2
        with pytest.raises(requests.exceptions.RequestException):
            response.content  # noqa: B018 - reading the body is the point
        assert len(r.retries) == 2
        with pytest.raises(requests.exceptions.RequestException):
            session.get(lab["reset_mid_body"].url)
        assert len(r.retries) == 4


# -- httpx: the tether.stream extension ------------------------------------------------


def test_httpx_stream_extension_hands_the_body_over_unread(lab: Lab) -> None:
    """Under client.stream() the transport still reads the body in the attempt (retried);
    with extensions={STREAM: True} it hands the response over once the head is judged:
    a reset before it is retried, one in the body is the caller's."""
    r = Recorder()
    with httpx.Client(transport=Transport(policy=r.policy)) as client:
        with (
            pytest.raises(httpx.TransportError),
            client.stream("GET", lab["reset_mid_body"].url),
        ):
            pass
        assert len(r.retries) == 2
        with client.stream("GET", lab["reset_mid_body"].url, extensions={STREAM: True}) as response:
            assert response.status_code == 200
            assert len(r.retries) == 2
            with pytest.raises(httpx.TransportError):
                response.read()
        assert len(r.retries) == 2
        with pytest.raises(httpx.TransportError):
            client.get(lab["reset_on_accept"].url, extensions={STREAM: True})
        assert len(r.retries) == 4


def test_httpx_async_stream_extension(lab: Lab) -> None:
    """The same rule for AsyncTransport."""
    r = Recorder()

    async def main() -> bytes:
        async with httpx.AsyncClient(transport=AsyncTransport(policy=r.policy)) as client:
            with pytest.raises(httpx.TransportError):
                await client.get(lab["reset_on_accept"].url, extensions={STREAM: True})
            url = lab["reset_mid_body"].url
            async with client.stream("GET", url, extensions={STREAM: True}) as response:
                got = b""
                try:
                    async for chunk in response.aiter_raw():
                        got += chunk
                except httpx.TransportError:
                    return got
                raise AssertionError("the reset in the body was not raised")

    assert asyncio.run(asyncio.wait_for(main(), LIMIT)) == b"x" * 100
    assert len(r.retries) == 2
