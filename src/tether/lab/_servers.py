"""Connection handlers for the lab's HTTP scenarios: one coroutine per misbehaviour.

Each handler gets an asyncio stream pair for one accepted connection.  They
speak just enough HTTP/1.1 to be believable: a request head is read before a
server misbehaves, so that every failure happens where its scenario says.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def run_loop(name: str) -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    """A new event loop running in a daemon thread of its own: where a lab serves."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name=name, daemon=True)
    thread.start()
    return loop, thread


def end_loop(
    loop: asyncio.AbstractEventLoop,
    thread: threading.Thread | None,
    end: Callable[[], Awaitable[None]],
) -> None:
    """Run ``end()`` on ``loop`` (its servers closed), then stop the loop, join its thread
    and close it; each step bounded, whatever the one before did."""
    with contextlib.suppress(Exception):
        asyncio.run_coroutine_threadsafe(_awaited(end), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    if thread is not None:
        thread.join(timeout=10)
    if not loop.is_running():
        # Transports closed in the last turns finish closing here.
        loop.run_until_complete(asyncio.sleep(0.01))
    loop.close()


async def _awaited(end: Callable[[], Awaitable[None]]) -> None:
    await end()


UPLOAD_STALL_HOLD = 60.0
"""Seconds upload_stall keeps a connection it does not read."""
_REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    407: "Proxy Authentication Required",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    target: str
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return urlsplit(self.target).path or "/"

    def query(self, name: str, default: str | None = None) -> str | None:
        values = parse_qs(urlsplit(self.target).query).get(name)
        return values[0] if values else default


class NotHTTP(Exception):
    """The client sent something that is not an HTTP/1.x request head."""

    def __init__(self, first: bytes) -> None:
        super().__init__("not an HTTP request")
        self.first = first


async def read_head(reader: asyncio.StreamReader) -> Request | None:
    """Read one request head; None on a clean EOF between requests."""
    first = await reader.read(1)
    if not first:
        return None
    if first[0] == 0x16:  # a TLS handshake record: somebody speaks TLS to a plain port
        raise NotHTTP(first)
    try:
        head = first + await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        raise NotHTTP(first + exc.partial) from None
    except asyncio.LimitOverrunError:
        raise NotHTTP(b"") from None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise NotHTTP(head[:16])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return Request(parts[0], parts[1], headers)


async def read_body(reader: asyncio.StreamReader, request: Request) -> None:
    """Consume (and drop) the request body the head announced."""
    length = int(request.headers.get("content-length", "0") or 0)
    if length:
        await reader.readexactly(length)
    elif request.headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break


def response(
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    length: int | None = None,
) -> bytes:
    """A response head (and body); ``length`` overrides Content-Length (to lie)."""
    fields = {
        "Content-Type": "text/plain",
        "Content-Length": str(len(body) if length is None else length),
    }
    fields.update(headers or {})
    head = f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    return head.encode("latin-1") + b"\r\n" + body


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST instead of a FIN: SO_LINGER on, timeout zero."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def hold(reader: asyncio.StreamReader) -> None:
    """Say nothing until the client goes away (or the lab stops)."""
    with contextlib.suppress(OSError):
        while await reader.read(65536):
            pass


def serving(respond: Callable[[Request], Awaitable[bytes]]) -> Handler:
    """A keep-alive HTTP/1.1 handler that answers each request with ``respond``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (request := await read_head(reader)) is not None:
                await read_body(reader, request)
                writer.write(await respond(request))
                await writer.drain()
                if request.headers.get("connection", "").lower() == "close":
                    break
        except NotHTTP:
            # What nginx does: a TLS ClientHello on a plain port gets a 400.
            writer.write(response(400, b"not HTTP\n", {"Connection": "close"}))
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        with contextlib.suppress(OSError):
            writer.close()

    return handle


async def _ok(request: Request) -> bytes:
    return response(200, b"ok\n")


healthy = serving(_ok)


async def _status(request: Request) -> bytes:
    """``/503?retry_after=7``: that status, with that Retry-After."""
    try:
        code = int(request.path.strip("/") or "200")
    except ValueError:
        code = 400
    extra = {}
    if (after := request.query("retry_after")) is not None:
        extra["Retry-After"] = after
    return response(code, f"status {code}\n".encode(), extra)


status = serving(_status)


async def _redirect(request: Request) -> bytes:
    target = "/b" if request.path != "/b" else "/a"
    return response(302, b"", {"Location": target})


redirect_loop = serving(_redirect)


def latency(delay: float) -> Handler:
    """Answer 200 after ``delay`` seconds (``?ms=`` overrides it per request)."""

    async def respond(request: Request) -> bytes:
        ms = request.query("ms")
        await asyncio.sleep(float(ms) / 1000 if ms else delay)
        return response(200, b"ok\n")

    return serving(respond)


def stall_one_in(every: int, stall: float) -> Handler:
    """Answer 200 at once, but hold every ``every``-th request (counted by this server,
    over all connections: the 10th, the 20th...) ``stall`` seconds first: the tail a
    hedged request is for."""
    seen = [0]

    async def respond(request: Request) -> bytes:
        seen[0] += 1
        if seen[0] % every == 0:
            await asyncio.sleep(stall)
        return response(200, b"ok\n")

    return serving(respond)


def load_latency(workers: int, service: float) -> Handler:
    """A server of ``workers`` workers taking ``service`` seconds per request, behind an
    unbounded first-come queue: alone a request takes ``service``; under a load past
    ``workers / service`` a second its latency grows with the queue."""
    slots: list[asyncio.Semaphore] = []

    async def respond(request: Request) -> bytes:
        if not slots:  # made on the lab's own loop, on first use
            slots.append(asyncio.Semaphore(workers))
        async with slots[0]:
            await asyncio.sleep(service)
        return response(200, b"ok\n")

    return serving(respond)


def flapping(period: float, clock: Callable[[], float]) -> Handler:
    """Healthy for ``period`` seconds, then 503 for ``period`` seconds, and so on."""

    async def respond(request: Request) -> bytes:
        if int(clock() // period) % 2 == 0:
            return response(200, b"ok\n")
        return response(503, b"down\n")

    return serving(respond)


async def reset_on_accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reset before answering anything.

    It waits for the request's first byte: a reset that races the client's
    send would be seen as a reset or as a close, depending on timing.
    """
    await reader.read(1)
    reset(writer)


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept and say nothing at all, whatever arrives (a TLS hello included)."""
    await hold(reader)


async def reset_mid_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    if await read_head(reader) is not None:
        writer.write(response(200, b"x" * 100, length=1000))
        await writer.drain()
    reset(writer)


def reset_after(sent: bytes) -> Handler:
    """Read the request head, send ``sent`` (part of a response), then reset."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await read_head(reader) is not None:
            writer.write(sent)
            await writer.drain()  # in the client's receive queue, which a RST does not purge
        reset(writer)

    return handle


async def close_no_response(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(NotHTTP, OSError):
        await read_head(reader)
    writer.close()


async def truncated_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    if await read_head(reader) is not None:
        writer.write(response(200, b"only ten..", length=100))
        await writer.drain()
    writer.close()


async def cut_chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    if await read_head(reader) is not None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
        writer.write(head + b"a\r\nfirst ten.\r\n")  # and no terminating zero-size chunk
        await writer.drain()
    writer.close()


async def stall_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    if await read_head(reader) is not None:
        await hold(reader)
    writer.close()


def slow_drip(interval: float) -> Handler:
    """Send the head at once, then one byte of body every ``interval`` seconds, for ever."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await read_head(reader) is not None:
            with contextlib.suppress(OSError):
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n"
                )
                while not reader.at_eof():
                    writer.write(b"1\r\n.\r\n")
                    await writer.drain()
                    await asyncio.sleep(interval)
        writer.close()

    return handle


async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(NotHTTP):
        await read_head(reader)
    writer.write(b"GARBAGE 123 definitely not http\r\nxyzzy\r\n\r\n")
    await writer.drain()
    writer.close()


async def upload_early_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the head of an upload, then hang up without reading the body.

    Closing with unread data in the receive queue makes Linux send a RST, so the
    client's next send fails with EPIPE (or ECONNRESET if it was reading).
    """
    with contextlib.suppress(NotHTTP, asyncio.IncompleteReadError):
        await read_head(reader)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    writer.close()


async def upload_stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Stop reading at once and keep the connection open, answering nothing.

    What the client sends piles up in the socket buffers; a large upload fills
    them, and the client's send can go no further.  After a minute (longer than
    any client here waits) the connection is reset.
    """
    transport = writer.transport
    if isinstance(transport, asyncio.ReadTransport):  # a socket's transport is both
        transport.pause_reading()
    await asyncio.sleep(UPLOAD_STALL_HOLD)
    reset(writer)


def tls_refusing(context: ssl.SSLContext) -> Handler:
    """Run the TLS handshake by hand, so that a failure's alert reaches the client.

    asyncio's own TLS layer drops the connection without flushing the alert
    OpenSSL wrote, so a client would see a bare EOF instead of the
    ``protocol_version`` alert a real old server sends.
    """

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_side=True)
        try:
            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    writer.write(outgoing.read())
                    data = await reader.read(65536)
                    if not data:
                        return
                    incoming.write(data)
        except ssl.SSLError:
            writer.write(outgoing.read())  # the alert
            await writer.drain()
            return
        await hold(reader)

    return handle


def proxy_answering(status_code: int) -> Handler:
    """A proxy that answers every request (CONNECT or absolute-URI) with ``status_code``."""

    async def respond(request: Request) -> bytes:
        extra = {"Connection": "close"}
        if status_code == 407:
            extra["Proxy-Authenticate"] = 'Basic realm="tether lab"'
        return response(status_code, f"proxy says {status_code}\n".encode(), extra)

    return serving(respond)


def answering(raw: bytes) -> Handler:
    """Read a request head, answer with ``raw`` exactly as given, then close."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(NotHTTP):
            if await read_head(reader) is not None:
                writer.write(raw)
                await writer.drain()
        writer.close()

    return handle


_OK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
BAD_CHUNK_SIZE = _OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nnot a size\r\n0\r\n\r\n"
"""A chunk whose size line is not hexadecimal."""
CONFLICTING_LENGTH = _OK_HEAD + b"Content-Length: 3\r\nContent-Length: 12\r\n\r\nok\n"
"""Two Content-Length fields that disagree (a request-smuggling classic)."""
BAD_LENGTH = _OK_HEAD + b"Content-Length: -3\r\n\r\nok\n"
"""A Content-Length that is not a number of bytes."""
LENGTH_AND_CHUNKED = (
    _OK_HEAD + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nok\n\r\n0\r\n\r\n"
)
"""Both Content-Length and chunked framing: the request-smuggling shape RFC 9112 forbids."""
BAD_CHUNK_FOOTER = _OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nok\nXX0\r\n\r\n"
"""A chunk whose data is not followed by CRLF."""
LONG_CHUNK_LINE = (
    _OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n3;" + b"x" * 200_000 + b"\r\nok\n\r\n0\r\n\r\n"
)
"""A chunk-size line of 200,000 bytes (a chunk extension nobody asked for)."""
LONG_TRAILER = (
    _OK_HEAD
    + b"Transfer-Encoding: chunked\r\n\r\n3\r\nok\n\r\n0\r\nX-Trailer: "
    + b"t" * 200_000
    + b"\r\n\r\n"
)
"""A trailer line of 200,000 bytes after the last chunk."""
BAD_VERSION = b"HTTP/2.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"
"""An HTTP/2.0 status line over an HTTP/1.1 connection."""
BAD_GZIP = _OK_HEAD + b"Content-Encoding: gzip\r\nContent-Length: 12\r\n\r\nnot gzip at."
"""A body that says it is gzip and is not."""
TOO_MANY_HEADERS = (
    _OK_HEAD
    + b"".join(b"X-Lab-%d: %d\r\n" % (n, n) for n in range(200))
    + b"Content-Length: 3\r\n\r\nok\n"
)
"""200 short header fields: http.client stops at 100, aiohttp at 128."""
LONG_HEADER = _OK_HEAD + b"X-Lab-Long: " + b"a" * 200_000 + b"\r\nContent-Length: 3\r\n\r\nok\n"
"""One header line of 200,000 bytes: beyond every client's limit (http.client 64 KiB a
line, httpcore 100 KiB a head, aiohttp 8 KiB a field)."""
LONG_STATUS_LINE = b"HTTP/1.1 200 " + b"O" * 200_000 + b"\r\nContent-Length: 3\r\n\r\nok\n"
"""A status line of 200,000 bytes."""


async def _surplus(request: Request) -> bytes:
    """A redirect that sends more than its Content-Length, then the page it points at.

    A client that follows it on the same keep-alive connection reads the
    surplus as the start of the next response.
    """
    if request.path == "/next":
        return response(200, b"ok\n")
    return response(302, b"", {"Location": "/next"}) + b"surplus bytes\r\n\r\n"


surplus_body = serving(_surplus)
BAD_HEADER = _OK_HEAD + b"this line has no colon\r\nContent-Length: 3\r\n\r\nok\n"
"""A header line that is not ``name: value``."""


def dropping_reused(*, hard: bool) -> Handler:
    """Redirect ``/`` to ``/next``; a ``/next`` that reuses the connection is dropped.

    The keep-alive race, made certain: the connection goes away just as the
    client sends its second request on it, with a RST (``hard``) or a FIN.  A
    ``/next`` on a fresh connection is answered.
    """

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served = 0
        while (request := await read_head(reader)) is not None:
            if request.path != "/next":
                writer.write(response(302, b"", {"Location": "/next"}))
            elif served == 0:
                writer.write(response(200, b"ok\n"))
            elif hard:
                reset(writer)
                return
            else:
                break
            served += 1
            await writer.drain()
        writer.close()

    return handle


def redirecting(targets: dict[str, str], name: str) -> Handler:
    """Answer every request with a 302 to ``targets[name]``, looked up when asked."""

    async def respond(request: Request) -> bytes:
        return response(302, b"", {"Location": targets[name]})

    return serving(respond)


# -- pages for browser checks ------------------------------------------------------------

PAGE_READY = "#ready"
"""The element the pages' script draws: what a ``wait_for`` step waits for."""
_DRAW = "document.getElementById('app').innerHTML = '<p id=\"ready\">rendered by script</p>';"
_PAGE = (
    "<!doctype html><html><head><meta charset=utf-8><title>tether lab: {title}</title></head>"
    "<body><main id=app>loading</main>{body}</body></html>"
)
PAGES: dict[str, bytes] = {
    "/ok": _PAGE.format(title="ok", body=f"<script>{_DRAW}</script>").encode(),
    # The library answers 404, so the call into it throws: an uncaught ReferenceError.
    "/script_error": _PAGE.format(
        title="script error",
        body=f'<script src="/lib.js"></script><script>{_DRAW} LabChart.draw("#app");</script>',
    ).encode(),
    # The data the page needs answers 503: the script never draws #ready.  #retry is
    # there but hidden: a step that clicks it cannot.
    "/never_renders": _PAGE.format(
        title="never renders",
        body="<button id=retry hidden>Retry</button><script>"
        "fetch('/api/data').then(r => r.ok ? r.json() : null)"
        f".then(data => {{ if (data) {{ {_DRAW} }} }});</script>",
    ).encode(),
    # The page draws itself; only its image answers 404.
    "/broken_asset": _PAGE.format(
        title="broken asset", body=f'<img id=logo src="/logo.png" alt=logo><script>{_DRAW}</script>'
    ).encode(),
}
"""The pages of the ``page_*`` scenarios, by path: static HTML with inline scripts and
nothing from another origin.  Every other path (``/lib.js``, ``/logo.png``) is a 404,
``/api/data`` a 503."""


async def _page(request: Request) -> bytes:
    if request.path == "/api/data":
        return response(503, b'{"error": "backend down"}', {"Content-Type": "application/json"})
    page = PAGES.get(request.path)
    if page is None:
        return response(404, b"not found\n")
    return response(200, page, {"Content-Type": "text/html; charset=utf-8"})


pages = serving(_page)
