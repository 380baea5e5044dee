"""The ``http`` phase: one request over the stream the lower phases built, read by h11's
rules (``_h11rules.py``), with time to first byte, status, headers and a bounded body read."""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from tether._classify import classify, failure_for, parse_retry_after
from tether._failure import Failure
from tether._kinds import Kind
from tether._parser_errors import parser_kind
from tether._redact import redact_text, redact_url
from tether._version import __version__
from tether.probe._details import Response
from tether.probe._h11rules import (
    End,
    Head,
    ProtocolError,
    ResponseReader,
    request_bytes,
    request_head,
    request_line,
)
from tether.probe._wire import Wire

_USER_AGENT = f"tether/{__version__}"


@dataclass(slots=True)
class Exchange:
    status: int | None = None
    version: str | None = None
    """The status line's HTTP version (``1.1``)."""
    headers: dict[str, str] = field(default_factory=dict)
    ttfb_ms: float | None = None
    size: int = 0
    complete: bool = False
    failure: Failure | None = None
    over_limit: bool = False
    body: bytearray = field(default_factory=bytearray)
    """The first ``keep_body`` bytes of the body (none unless asked for)."""


async def exchange(
    reader: asyncio.StreamReader | Wire,
    writer: asyncio.StreamWriter | Wire,
    *,
    method: str,
    target: str,
    host_header: str,
    headers: list[tuple[str, str]],
    timeout: float,
    max_body: int,
    url: str,
    read_body: bool = True,
    keep_body: int = 0,
    out: Exchange | None = None,
    body: bytes | None = None,
) -> Exchange:
    """Send one request and read the answer; never raises for what the server does.
    ``out`` is filled in as the answer arrives (so a caller cut short can see how far
    it got).  ``reader`` and ``writer`` are a stream's, or both one :class:`Wire`."""
    out = out if out is not None else Exchange()
    # A request without a body is the same bytes for the same method, target, Host and
    # fields: a check or a scrape repeats them (:func:`_made`).
    if body is None:
        request, upgrade = _made(method, target, host_header, headers)
    else:
        request, upgrade = _request(method, target, host_header, headers, body)
    response = ResponseReader(method, upgrade=upgrade)
    started = time.perf_counter()
    received = 0
    try:
        writer.write(request)
        unsent = await _send(writer, timeout)
        if unsent is not None:
            size = f" (its body is {len(body)} bytes)" if body else ""
            out.failure = failure_for(
                Kind.WRITE_TIMEOUT,
                f"the server stopped reading the request: after {timeout:g} s without "
                f"progress, {unsent} bytes of it were still unsent{size}",
                url=url,
            )
            return out
        while True:
            event = response.next_event()
            if event is None:
                try:
                    if isinstance(reader, Wire):
                        data = await reader.receive(timeout)
                    else:
                        async with asyncio.timeout(timeout):  # wait_for would make a task
                            data = await reader.read(65536)
                except TimeoutError:
                    what = (
                        f"the body stopped arriving: nothing for {timeout:g} s"
                        if out.status is not None
                        else f"the server sent no answer within {timeout:g} s"
                    )
                    out.failure = failure_for(
                        Kind.READ_TIMEOUT,
                        what,
                        url=url,
                    )
                    return out
                if data and out.ttfb_ms is None:
                    out.ttfb_ms = (time.perf_counter() - started) * 1000
                received += len(data)
                response.receive(data)
                continue
            if isinstance(event, Head):
                out.status = event.status
                out.version = event.version
                out.headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in event.headers}
                if method == "CONNECT" or not read_body:
                    return out
            elif isinstance(event, End):
                out.complete = True
                return out
            else:
                if len(out.body) < keep_body:
                    out.body += event[: keep_body - len(out.body)]
                out.size += len(event)
                if out.size > max_body:
                    out.over_limit = True
                    return out
    except ProtocolError as exc:
        out.failure = _parser_failure(exc, out, received, url)
    except OSError as exc:
        out.failure = classify(exc, url=url)
    return out


_HeadKey = tuple[str | tuple[str, str], ...]
_HEADS: dict[_HeadKey, tuple[bytes, bool]] = {}
"""The fields of requests without a body, written and checked (:func:`_made`), and
whether they ask for an upgrade, by method, Host and fields."""
_LINES: dict[tuple[str, str], bytes] = {}
"""Request lines written and checked, by method and target."""
_MADE_MAX = 4096


def _made(
    method: str, target: str, host_header: str, headers: list[tuple[str, str]]
) -> tuple[bytes, bool]:
    """:func:`_request` of a request without a body, its two parts each written and
    checked once: a check or a scrape repeats them.  The fields (Host among them) are
    kept apart from the request line, whose target is each monitor's own: a cache of
    whole requests held fewer than a worker's monitors, and writing one afresh was
    9% of a passing check's instructions.  Raises what :func:`_request` raises, fields first."""
    key: _HeadKey = (method, host_header, *headers)
    head = _HEADS.get(key)
    if head is None:
        head = _head(method, host_header, headers)
        if len(_HEADS) >= _MADE_MAX:
            _HEADS.clear()
        _HEADS[key] = head
    line = _LINES.get((method, target))
    if line is None:
        line = request_line(method, target)
        if len(_LINES) >= _MADE_MAX:
            _LINES.clear()
        _LINES[method, target] = line
    return line + head[0], head[1]


def _request(
    method: str,
    target: str,
    host_header: str,
    headers: list[tuple[str, str]],
    body: bytes | None,
) -> tuple[bytes, bool]:
    """The request's bytes, and whether it asks for an upgrade; raises what
    :func:`request_bytes` raises."""
    sent, upgrade = _fields(method, host_header, headers, body)
    return request_bytes(method, target, sent, body), upgrade


def _head(method: str, host_header: str, headers: list[tuple[str, str]]) -> tuple[bytes, bool]:
    """The fields of a request without a body as :func:`_request` writes them, with the
    blank line that ends them, and whether they ask for an upgrade."""
    sent, upgrade = _fields(method, host_header, headers, None)
    return request_head(sent, None)[0] + b"\r\n", upgrade


def _fields(
    method: str, host_header: str, headers: list[tuple[str, str]], body: bytes | None
) -> tuple[list[tuple[str, str]], bool]:
    """The fields a request sends: ``Host``, ``User-Agent`` and ``Accept`` unless the
    caller's ``headers`` name them, the caller's, ``Connection: close`` and the body's
    length; and whether they ask for an upgrade."""
    names = {n.lower() for n, _ in headers}
    base = [("Host", host_header), ("User-Agent", _USER_AGENT), ("Accept", "*/*")]
    sent = [(n, v) for n, v in base if n.lower() not in names] + headers
    if method != "CONNECT":
        sent.append(("Connection", "close"))
    # A caller's Transfer-Encoding frames the body itself: a Content-Length beside it is
    # what RFC 9112 (section 6.3) forbids a sender, and a request-smuggling shape.
    if body is not None and not names & {"content-length", "transfer-encoding"}:
        sent.append(("Content-Length", str(len(body))))
    # An Upgrade field (the caller's) makes a 101 the answer, as it made h11 switch.
    upgrade = any(n.lower() == "upgrade" and v.strip() for n, v in sent)
    return sent, upgrade


def _parser_failure(exc: ProtocolError, out: Exchange, received: int, url: str) -> Failure:
    """What the reader's error (h11's words) means, read through the table ``classify``
    reads too, so the probe and a client's exception (httpx parses with h11) name a
    fault the same way."""
    head = out.status is None
    kind = parser_kind(["tether.ProtocolError"], str(exc), before_head=head)
    if kind is Kind.RESPONSE_TOO_LARGE:
        where = "response head" if head else "chunk-size or trailer line"
        detail = f"a {where} was longer than the parser's limit ({_plain(exc)})"
    elif kind is Kind.CONNECTION_CLOSED:
        detail = (
            f"the server closed the connection after {received} bytes, before a complete "
            "response head"
            if received
            else "the server closed the connection without answering"
        )
    elif kind is Kind.RESPONSE_TRUNCATED:
        detail = f"the response ended after {out.size} body bytes, before its announced end ({exc})"
    elif head:
        kind = Kind.RESPONSE_MALFORMED
        detail = f"the server answered with bytes that are not HTTP ({_plain(exc)})"
    else:
        kind = Kind.RESPONSE_MALFORMED
        detail = f"the response body's framing is broken ({_plain(exc)})"
    return failure_for(kind, detail, url=url, cause=exc)


async def _send(writer: asyncio.StreamWriter | Wire, timeout: float) -> int | None:
    """Wait until the request is handed to the system; None when it is, or the bytes still
    unsent once nothing moved for ``timeout`` s.  As for reading, ``timeout`` bounds each
    wait for progress, not the whole upload, so a slow link is not a failure."""
    left = writer.transport.get_write_buffer_size()
    if left == 0 and not writer.transport.is_closing():
        # All of it went to the socket at write(): nothing to wait for, so no timer (a
        # small request nearly always does).  A failed write closes the transport, and
        # drain() then says how, as before.
        return None
    while True:
        try:
            async with asyncio.timeout(timeout):
                await writer.drain()
        except TimeoutError:
            now = writer.transport.get_write_buffer_size()
            if now >= left:
                return now
            left = now
        else:
            return None


def summary(ex: Exchange, *, now: Callable[[], float] = time.time) -> Response:
    """What arrived, for the ``http`` phase's details, even when the body then broke off.
    ``now`` (epoch seconds) counts an HTTP-date ``Retry-After`` without a ``Date``."""
    headers = ex.headers
    sent = "retry-after" in headers
    return Response(
        ex.status,
        ex.size,
        None if ex.version is None else f"HTTP/{ex.version}",
        announced_size(headers),
        None if ex.ttfb_ms is None else round(ex.ttfb_ms, 3),
        retry_after_seconds(headers["retry-after"], headers.get("date"), now) if sent else None,
        sent,
        redact_url(headers["location"]) if "location" in headers else None,
    )


def retry_after_seconds(
    value: str, date: str | None, now: Callable[[], float] = time.time
) -> int | None:
    """``Retry-After`` in whole seconds (rounded up), None when it cannot be read.

    Delta-seconds are taken as they are.  An HTTP-date is counted from the response's
    own ``Date`` (both from the server's clock, so an offset between its clock and
    ours cancels out), or from ``now()`` when it sent none; a date past is 0."""
    text = value.strip()
    if text.isascii() and text.isdigit():
        return int(text)
    base: float | None = None
    if date:
        try:
            sent = parsedate_to_datetime(date)
        except (TypeError, ValueError, IndexError):
            sent = None
        if sent is not None and sent.tzinfo is not None:
            base = sent.timestamp()
    seconds = parse_retry_after(text, now=now() if base is None else base)
    return None if seconds is None else math.ceil(seconds)


def announced_size(headers: dict[str, str]) -> int | None:
    """The body size a ``Content-Length`` announces, or None (chunked, absent, invalid)."""
    value = headers.get("content-length", "").strip()
    if not value.isdigit() or "transfer-encoding" in headers:
        return None
    return int(value)


_SHOWN = 200
"""The most characters of what a server sent that a failure's detail quotes."""


def _plain(exc: BaseException) -> str:
    """The reader's message (h11's words), with its ``bytearray(b'...')`` shown as the
    bytes' text, redacted, then cut: an illegal header line can be 16 KB, and the detail
    goes into every record, page and alert of the check."""
    text = redact_text(re.sub(r"bytearray\(b(['\"])(.*?)\1\)", r"'\2'", str(exc)))
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}… ({len(text)} characters)"
