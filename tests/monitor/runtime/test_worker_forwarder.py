"""A worker process's forwarder to the coordinator is a transparent pipe: nothing of one
request goes with the next, headers go back as written, bodies stream both ways, and no
more of a body than the server's limit is sent on.

The forwarder (``_workers._probe_app``) is served on 127.0.0.1 as a worker serves it; in
place of the coordinator a real aiohttp server on a Unix socket that records what arrives
and, to show streaming, holds its answer until the test has seen the first part (the real
coordinator cannot be made to wait halfway).  The client is a raw socket, so the test
decides when each byte is sent.  Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from tether.monitor.runtime._workers import _probe_app
from tether.monitor.web._web import REQUEST_BODY_MAX
from tether.probe import AllowedTargets

LIMIT = 5.0
"""Seconds any one step may take."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def forwarder(tmp: Path, handler: Handler) -> AsyncIterator[int]:
    """The port of a worker's server forwarding to a coordinator served by ``handler``."""
    coordinator = web.Application(client_max_size=REQUEST_BODY_MAX)
    coordinator.router.add_route("*", "/{tail:.*}", handler)
    behind = web.AppRunner(coordinator, access_log=None)
    await behind.setup()
    path = str(tmp / "coordinator.sock")
    await web.UnixSite(behind, path).start()
    front = web.AppRunner(_probe_app(lambda: AllowedTargets((), ()), path), access_log=None)
    await front.setup()
    site = web.TCPSite(front, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield port
    finally:
        await front.cleanup()
        await behind.cleanup()


async def exchange(port: int, head: str, body: bytes = b"") -> tuple[str, bytes]:
    """Send ``head`` (and ``body``) on a connection of its own; the answer's head and body
    (the connection closes after it: ``Connection: close``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head.encode() + body)
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), LIMIT)
    writer.close()
    top, _, rest = raw.partition(b"\r\n\r\n")
    return top.decode(), rest


def test_headers_go_back_as_written_and_no_cookie_is_kept_for_the_next_request(
    tmp_path: Path,
) -> None:
    """Two Set-Cookie, a reason and a custom header come back unchanged; the next
    request (no cookie of its own) reaches the coordinator with no Cookie, and with no
    header the client did not send but the two the worker sets itself (never the
    client's X-Forwarded-For or X-Tether-Local-Address)."""
    seen: list[dict[str, str]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(dict(request.headers))
        r = web.Response(status=299, reason="Quite Fine", text="ok")
        r.headers.add("Set-Cookie", "tether_session=abc; HttpOnly; Path=/; SameSite=Strict")
        r.headers.add("Set-Cookie", "other=1; Path=/")
        r.headers["X-Custom"] = "as written"
        return r

    async def scenario() -> tuple[str, str]:
        async with forwarder(tmp_path, handler) as port:
            first, _ = await exchange(
                port, "GET /login HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
            )
            second, _ = await exchange(
                port,
                "GET /api/status HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
                "X-Forwarded-For: 203.0.113.9\r\nX-Tether-Local-Address: 127.0.0.1\r\n\r\n",
            )
            return first, second

    first, second = asyncio.run(scenario())
    lines = first.split("\r\n")
    assert lines[0] == "HTTP/1.1 299 Quite Fine"
    assert [v for k, v in (line.split(": ", 1) for line in lines[1:]) if k == "Set-Cookie"] == [
        "tether_session=abc; HttpOnly; Path=/; SameSite=Strict",
        "other=1; Path=/",
    ]
    assert "X-Custom: as written" in lines
    assert second.startswith("HTTP/1.1 299 Quite Fine")
    assert "Cookie" not in seen[1]
    assert set(seen[1]) == {"Host", "X-Forwarded-For", "X-Tether-Local-Address"}
    assert seen[1]["X-Forwarded-For"] == "127.0.0.1"
    assert seen[1]["X-Tether-Local-Address"] == "127.0.0.1"


def test_the_answer_streams_back_before_the_coordinator_has_finished_it(
    tmp_path: Path,
) -> None:
    """The coordinator's first part reaches the client while the coordinator still holds
    the rest (which it sends once the client has the first): nothing is buffered whole."""

    async def scenario() -> bytes:
        got_first = asyncio.Event()

        async def handler(request: web.Request) -> web.StreamResponse:
            r = web.StreamResponse()
            await r.prepare(request)
            await r.write(b"first part;")
            await asyncio.wait_for(got_first.wait(), LIMIT)
            await r.write(b"the rest")
            await r.write_eof()
            return r

        async with forwarder(tmp_path, handler) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            received = b""
            while b"first part;" not in received:
                chunk = await asyncio.wait_for(reader.read(65536), LIMIT)
                assert chunk, "closed before the first part"
                received += chunk
            got_first.set()
            received += await asyncio.wait_for(reader.read(), LIMIT)
            writer.close()
            return received

    assert b"the rest" in asyncio.run(scenario())


def test_the_request_body_streams_on_before_the_client_has_sent_all_of_it(
    tmp_path: Path,
) -> None:
    """The coordinator reads the first part of a chunked body while the client still
    holds the rest (sent once the coordinator has the first), and gets it all, in order."""

    async def scenario() -> tuple[str, bytes]:
        have_first = asyncio.Event()
        bodies: list[bytes] = []

        async def handler(request: web.Request) -> web.StreamResponse:
            first = await request.content.readany()
            have_first.set()
            bodies.append(first + await request.content.read())
            return web.Response(text="taken")

        async with forwarder(tmp_path, handler) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"POST /api/report HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n6\r\nfirst;\r\n"
            )
            await writer.drain()
            await asyncio.wait_for(have_first.wait(), LIMIT)
            writer.write(b"4\r\nrest\r\n0\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(), LIMIT)
            writer.close()
            return answer.decode(), bodies[0]

    answer, body = asyncio.run(scenario())
    assert answer.startswith("HTTP/1.1 200 ")
    assert answer.endswith("taken")
    assert body == b"first;rest"


def test_no_more_of_a_body_than_the_servers_limit_is_sent_on(tmp_path: Path) -> None:
    """A body of 3 MiB, chunked or with its Content-Length, reaches the coordinator cut
    one byte past the server's limit (which the coordinator refuses as it would the
    whole); one at the limit goes whole, with its Content-Length."""
    received: list[tuple[int, str | None]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        size = 0
        while chunk := await request.content.readany():
            size += len(chunk)
        received.append((size, request.headers.get("Content-Length")))
        return web.Response(text="counted")

    big = b"x" * (3 * 1024 * 1024)
    exact = b"y" * REQUEST_BODY_MAX

    async def scenario() -> list[str]:
        heads = []
        async with forwarder(tmp_path, handler) as port:
            post = "POST /api/report HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
            chunked = f"{len(big):x}\r\n".encode() + big + b"\r\n0\r\n\r\n"
            for head, body in (
                (post + "Transfer-Encoding: chunked\r\n\r\n", chunked),
                (post + f"Content-Length: {len(big)}\r\n\r\n", big),
                (post + f"Content-Length: {len(exact)}\r\n\r\n", exact),
            ):
                heads.append((await exchange(port, head, body))[0])
        return heads

    heads = asyncio.run(scenario())
    assert all(h.startswith("HTTP/1.1 200 ") for h in heads), heads
    assert received == [
        (REQUEST_BODY_MAX + 1, None),
        (REQUEST_BODY_MAX + 1, None),
        (REQUEST_BODY_MAX, str(REQUEST_BODY_MAX)),
    ]


def test_a_compressed_body_goes_on_decoded_and_one_that_does_not_decode_is_a_400(
    tmp_path: Path,
) -> None:
    """A gzip body reaches the coordinator as the worker's server decoded it, without its
    Content-Encoding or its compressed Content-Length (it was sent on as if still
    compressed); one that is not gzip is the worker's JSON 400, the coordinator never
    asked."""
    received: list[tuple[bytes, str | None, str | None]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        received.append(
            (body, request.headers.get("Content-Encoding"), request.headers.get("Content-Length"))
        )
        return web.Response(text="read")

    plain = b'{"text": "' + b"z" * 5000 + b'"}'
    packed = gzip.compress(plain)

    async def scenario() -> list[tuple[str, bytes]]:
        answers = []
        async with forwarder(tmp_path, handler) as port:
            post = "POST /api/report HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
            for body in (packed, b"not gzip at all"):
                head = post + f"Content-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n"
                answers.append(await exchange(port, head, body))
        return answers

    (good, _), (bad, text) = asyncio.run(scenario())
    assert good.startswith("HTTP/1.1 200 "), good
    assert received == [(plain, None, None)]
    assert bad.startswith("HTTP/1.1 400 "), bad
    assert "application/json" in bad
    assert json.loads(text)["error"].startswith("the body could not be read")


def test_a_compressed_answer_goes_back_compressed_with_its_content_encoding(
    tmp_path: Path,
) -> None:
    """An answer the coordinator gzipped (``/metrics`` for a client that accepts gzip)
    comes back as it was written: the same compressed bytes, with its Content-Encoding
    and its Content-Length (without the header the client would read gzip as text)."""
    plain = b"tether_monitors 3.0\n" * 2000
    packed = gzip.compress(plain)

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=packed, headers={"Content-Encoding": "gzip"})

    async def scenario() -> tuple[str, bytes]:
        async with forwarder(tmp_path, handler) as port:
            head = "GET /metrics HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n"
            return await exchange(port, head + "Connection: close\r\n\r\n")

    head, body = asyncio.run(scenario())
    assert head.startswith("HTTP/1.1 200 "), head
    lines = [line.lower() for line in head.split("\r\n")]
    assert "content-encoding: gzip" in lines
    assert f"content-length: {len(packed)}" in lines
    assert body == packed
    assert gzip.decompress(body) == plain
