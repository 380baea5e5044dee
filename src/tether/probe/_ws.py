"""The ``ws`` phase of a ``ws://`` or ``wss://`` probe: the upgrade, and one message.

RFC 6455 section 4: over the connection the engine opened (and, for ``wss://``, secured
as for ``https://``), the probe sends ``GET path`` with ``Connection: Upgrade``,
``Upgrade: websocket``, ``Sec-WebSocket-Version: 13`` and a random
``Sec-WebSocket-Key``, and wants ``101 Switching Protocols`` with the
``Sec-WebSocket-Accept`` that key implies.  With a message (the monitor's ``body``) it
sends it as one text frame (binary if it is not UTF-8), waits for one reply within the
timeout, and closes with a close frame (1000); without one it closes at once.

The handshake and the frames are python-hyper's wsproto, sans-IO: it turns events into
bytes and bytes into events, so it fits the engine's streams as they are (the engine
reads and writes, with its own timeouts; wsproto only parses).  It needs h11, which the
core does not install: wsproto comes with ``tether[ws]`` (and ``tether[monitor]``), and
is imported only when a ``ws://`` target is probed.

How answers map onto the taxonomy (no kind of its own: the same meaning as for HTTP):

- a ``4xx`` or ``5xx`` to the upgrade: the kind the status gets for ``http://``
  (``http.client_error``, ``http.rate_limited``, ``http.server_error``);
- any other status (``200``: a plain web server at that path, a ``3xx``: not followed)
  and a ``101`` whose ``Sec-WebSocket-Accept``, ``Upgrade`` or ``Connection`` is wrong:
  ``response.malformed``, the detail saying which;
- silence: ``read.timeout``; closed before or instead of an answer: ``connection.closed``;
- a reply larger than ``max_body``: ``response.too_large``; the server closing with a
  close frame instead of replying: ``connection.closed`` with its code and reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from tether._classify import classify, classify_status, failure_for
from tether._failure import Failure
from tether._hostport import join_hostport
from tether._kinds import Kind
from tether.probe._details import WsClose, WsDetails, WsMessage

if TYPE_CHECKING:
    from wsproto import WSConnection

READ_SIZE: Final = 65536
CLOSE_WAIT: Final = 1.0
"""At most this long (and never longer than the phase's timeout) for the server's close
frame in answer to ours: a courtesy, not a check."""
SHOWN_REPLY: Final = 200
"""Characters of the reply the phase's details keep (the whole reply goes to ``[BODY]``)."""


@dataclass(slots=True)
class Upgrade:
    """What the ``ws`` phase found: its details, the failure, the reply and the headers."""

    details: WsDetails = field(default_factory=WsDetails)
    failure: Failure | None = None
    reply: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    upgraded: bool = False


def load() -> None:
    """Import wsproto (and h11) now: before the phase's clock starts, as loading a trust
    store is before the tls phase's, since the first import is not the server's time."""
    import wsproto.events
    import wsproto.utilities  # noqa: F401


async def upgrade(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    host_header: str,
    path: str,
    headers: list[tuple[str, str]],
    message: bytes | None,
    timeout: float,
    max_reply: int,
    url: str,
    host: str,
    port: int,
    out: Upgrade,
    clock: Callable[[], float] = time.perf_counter,
) -> Upgrade:
    """The upgrade, then ``message`` and its reply when given; fills ``out`` as it goes
    (so a deadline that cuts it short can still say how far it got) and returns it."""
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import Request
    from wsproto.utilities import ProtocolError

    where = join_hostport(host, port)
    started = clock()
    conn = WSConnection(ConnectionType.CLIENT)
    subprotocols = [
        p.strip()
        for name, value in headers
        if name.lower() == "sec-websocket-protocol"
        for p in value.split(",")
        if p.strip()
    ]
    extra = [
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in headers
        if name.lower() not in _OWN_HEADERS
    ]

    def fail(kind: Kind, detail: str) -> Upgrade:
        out.failure = failure_for(kind, detail, url=url, host=host, port=port)
        return out

    try:
        writer.write(
            conn.send(
                Request(
                    host=host_header, target=path, extra_headers=extra, subprotocols=subprotocols
                )
            )
        )
        received, head = 0, b""
        async with asyncio.timeout(timeout):
            while not out.upgraded:
                chunk = await reader.read(READ_SIZE)
                if not chunk:
                    if received:
                        return fail(
                            Kind.RESPONSE_TRUNCATED,
                            f"{where} closed the connection in the middle of its answer to "
                            "the WebSocket upgrade",
                        )
                    return fail(
                        Kind.CONNECTION_CLOSED,
                        f"{where} closed the connection without answering the WebSocket upgrade",
                    )
                if received < 5 and not _may_be_http(head := head + chunk[:5]):
                    # h11 would wait for the blank line that ends the headers, and time out.
                    return fail(
                        Kind.RESPONSE_MALFORMED,
                        f"{where} did not answer the WebSocket upgrade in HTTP/1.1: it sent "
                        f"{_shown(chunk)!r}",
                    )
                received += len(chunk)
                conn.receive_data(chunk)
                verdict = _handshake_events(conn, out, clock() - started, url, where)
                if verdict is not None:
                    out.failure = verdict
                    return out
    except TimeoutError:
        return fail(
            Kind.READ_TIMEOUT,
            f"{where} accepted the connection but did not answer the WebSocket upgrade "
            f"within {timeout:g} s",
        )
    except ProtocolError as exc:
        return fail(Kind.RESPONSE_MALFORMED, _protocol_detail(str(exc), where, out))
    except OSError as exc:
        out.failure = classify(exc, url=url)
        return out
    if message is not None:
        await _exchange(conn, reader, writer, message, timeout, max_reply, where, out, clock, fail)
        if out.failure is not None:
            return out
    await _close(conn, reader, writer, min(timeout, CLOSE_WAIT))
    return out


_OWN_HEADERS: Final = frozenset(
    {
        "host",
        "connection",
        "upgrade",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
        "content-length",
        "transfer-encoding",
    }
)
"""Headers the handshake writes itself (a subprotocol the caller names is offered)."""


def _handshake_events(
    conn: WSConnection, out: Upgrade, elapsed: float, url: str, where: str
) -> Failure | None:
    """Read the handshake's events into ``out``; a refusal's failure, or None."""
    from wsproto.events import AcceptConnection, RejectConnection

    for event in conn.events():
        if isinstance(event, AcceptConnection):
            out.upgraded = True
            out.details = WsDetails(101, "ok", event.subprotocol, round(elapsed * 1000, 3))
            out.headers = _text_headers(event.extra_headers)
            return None
        if isinstance(event, RejectConnection):
            status = event.status_code
            out.headers = _text_headers(event.headers)
            out.details = WsDetails(status, upgrade_ms=round(elapsed * 1000, 3))
            refused = classify_status(status, out.headers, url=url)
            if refused is not None:
                return refused
            location = out.headers.get("location")
            to = f" (to {location}; a ws:// check follows no redirect)" if location else ""
            return failure_for(
                Kind.RESPONSE_MALFORMED,
                f"the server answered {status}{to} and did not switch to WebSocket",
                url=url,
            )
    return None


def _protocol_detail(reason: str, where: str, out: Upgrade) -> str:
    """wsproto's reason for refusing an answer, in the phase's words."""
    if reason == "Bad HTTP message":  # h11 could not read it
        return f"{where} did not answer the WebSocket upgrade in HTTP/1.1"
    out.details = dataclasses.replace(out.details, status=101)  # wsproto refuses only a 101
    if "accept token" in reason.lower():
        out.details = dataclasses.replace(out.details, accept="mismatch")
        return (
            f"{where} answered 101 with a Sec-WebSocket-Accept that does not match the key "
            "sent (RFC 6455 section 4.1): not a WebSocket server, or a proxy that rewrote it"
        )
    return f"{where} answered 101 but not as RFC 6455 asks: {reason}"


def _may_be_http(head: bytes) -> bool:
    """The first bytes of an answer could begin ``HTTP/``."""
    n = min(len(head), 5)
    return head[:n] == b"HTTP/"[:n]


def _shown(raw: bytes) -> str:
    text = raw.split(b"\n", 1)[0].decode("utf-8", "backslashreplace").rstrip("\r")
    return text if len(text) <= 60 else text[:59] + "…"


def _text_headers(raw: Any) -> dict[str, str]:
    return {
        bytes(name).decode("latin-1").lower(): bytes(value).decode("latin-1")
        for name, value in raw or ()
    }


async def _exchange(
    conn: WSConnection,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    message: bytes,
    timeout: float,
    max_reply: int,
    where: str,
    out: Upgrade,
    clock: Callable[[], float],
    fail: Callable[[Kind, str], object],
) -> None:
    """Send ``message`` as one frame; read one whole reply into ``out.reply``."""
    from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage
    from wsproto.utilities import ProtocolError

    frame: TextMessage | BytesMessage
    try:
        frame, sent = TextMessage(data=message.decode("utf-8")), "text"
    except UnicodeDecodeError:
        frame, sent = BytesMessage(data=message), "binary"
    out.details = dataclasses.replace(out.details, sent=WsMessage(sent, len(message)))
    started = clock()
    parts: list[bytes] = []
    size = 0
    try:
        writer.write(conn.send(frame))
        async with asyncio.timeout(timeout):
            while True:
                for event in conn.events():
                    if isinstance(event, Ping):
                        writer.write(conn.send(event.response()))
                    elif isinstance(event, CloseConnection):
                        close = WsClose(int(event.code), event.reason)
                        out.details = dataclasses.replace(out.details, close=close)
                        reason = f" ({event.reason})" if event.reason else ""
                        fail(
                            Kind.CONNECTION_CLOSED,
                            f"{where} closed the WebSocket with code {int(event.code)}{reason} "
                            "instead of replying to the message",
                        )
                        return
                    elif isinstance(event, TextMessage | BytesMessage):
                        data = event.data
                        chunk = data.encode("utf-8") if isinstance(data, str) else bytes(data)
                        size += len(chunk)
                        if size > max_reply:
                            fail(
                                Kind.RESPONSE_TOO_LARGE,
                                f"{where} replied with more than {max_reply} bytes",
                            )
                            return
                        parts.append(chunk)
                        if event.message_finished:
                            out.reply = b"".join(parts)
                            kind = "text" if isinstance(event, TextMessage) else "binary"
                            out.details = dataclasses.replace(
                                out.details,
                                reply=_reply_details(out.reply, kind),
                                reply_ms=round((clock() - started) * 1000, 3),
                            )
                            return
                chunk = await reader.read(READ_SIZE)
                if not chunk:
                    fail(
                        Kind.CONNECTION_CLOSED,
                        f"{where} closed the connection without replying to the message",
                    )
                    return
                conn.receive_data(chunk)
    except TimeoutError:
        fail(
            Kind.READ_TIMEOUT,
            f"{where} upgraded to WebSocket but sent no reply to the message within {timeout:g} s",
        )
    except ProtocolError as exc:
        fail(Kind.RESPONSE_MALFORMED, f"{where} sent a broken WebSocket frame: {exc}")
    except OSError as exc:
        out.failure = classify(exc)


def _reply_details(reply: bytes, kind: str) -> WsMessage:
    shown = reply.decode("utf-8", "backslashreplace")
    if len(shown) > SHOWN_REPLY:
        shown = shown[: SHOWN_REPLY - 1] + "…"
    return WsMessage(kind, len(reply), shown)


async def _close(
    conn: WSConnection,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    wait: float,
) -> None:
    """Our close frame (1000, normal closure), then the server's, briefly."""
    from wsproto.events import CloseConnection
    from wsproto.utilities import ProtocolError

    try:
        writer.write(conn.send(CloseConnection(code=1000)))
        async with asyncio.timeout(wait):
            while True:
                chunk = await reader.read(READ_SIZE)
                conn.receive_data(chunk or None)
                if not chunk or any(isinstance(e, CloseConnection) for e in conn.events()):
                    return
    except (TimeoutError, OSError, ProtocolError):
        return
