"""The ``grpc`` phase of a ``grpc://`` or ``grpcs://`` probe: gRPC's standard health check.

Over the connection the engine opened (and, for ``grpcs://``, secured with ALPN ``h2``),
the probe speaks HTTP/2 (with prior knowledge on ``grpc://``, as gRPC's plaintext
clients do): the connection preface and SETTINGS, then one call, ``POST
/grpc.health.v1.Health/Check`` with ``content-type: application/grpc``, ``te: trailers``
and a ``grpc-timeout`` of the check's timeout, its one DATA frame the
``HealthCheckRequest`` naming the service (the URL's path; empty: the server as a
whole).  It reads the answer's headers, its DATA and its trailers (``grpc-status``,
``grpc-message``).  HTTP/2 is :mod:`tether.probe._h2call`'s one call, by h2's rules on
python-hyper's hyperframe and hpack (``tether[grpc]``), imported only for a gRPC target;
the two messages are :mod:`tether.probe._grpcwire`'s.

How answers map onto the taxonomy:

- ``SERVING``: the check passes;
- ``NOT_SERVING``, ``SERVICE_UNKNOWN``, ``UNKNOWN``, and the call's ``NOT_FOUND`` (how
  ``Check`` says a service is unknown): ``grpc.not_serving``;
- any other ``grpc-status`` but ``OK``: ``grpc.status``, the code named
  (``UNIMPLEMENTED (12)``), retryable for the codes gRPC calls transient;
- an HTTP/1.1 answer to the preface: ``response.malformed`` ("the server speaks
  HTTP/1.1, not HTTP/2"); an HTTP/2 answer that is not gRPC's (another content-type, a
  broken message, no ``grpc-status``): ``response.malformed``; a 4xx or 5xx ``:status``:
  the kind it gets for ``http://``;
- silence: ``read.timeout``; the connection closed or the call reset first:
  ``connection.closed`` / ``connection.reset``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote

from tether._classify import classify, classify_status, failure_for
from tether._failure import Failure
from tether._hostport import join_hostport
from tether._kinds import Kind
from tether._redact import redact_text
from tether.probe import _grpcwire as wire
from tether.probe._details import GrpcDetails
from tether.probe._wire import Wire

if TYPE_CHECKING:
    from tether.probe import _h2call

READ_SIZE: Final = 65536
MAX_CONTROL: Final = 100
"""PING and SETTINGS frames a server may send in one call: each wants an answer, and a
flood of them (CVE-2019-9512, -9515; nghttp2 and Go bound them too) kept the probe busy
answering past its deadline."""
MAX_ANSWER: Final = 16384
"""Bytes of DATA, padding included, a health answer may have (it is a few bytes).  Below
HTTP/2's initial flow-control window (65,535): a server that streams without end is told
its answer is too large, counted frame by frame, before it could break the window, and
the probe never has to open it further."""
GRACE: Final = 1.0
"""Seconds past the ``grpc-timeout`` the probe still waits: a gRPC server ends a call
that outlives its deadline with ``DEADLINE_EXCEEDED``, which says more than silence."""
CHECK_PATH: Final = "/grpc.health.v1.Health/Check"
RETRYABLE_CODES: Final = frozenset({4, 8, 10, 14})
"""DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, UNAVAILABLE: gRPC's transient codes."""
_WHY: Final = {
    4: "the health handler did not answer within the check's timeout",
    12: "the server has no grpc.health.v1.Health service",
    14: "the server (or a proxy in front of it) cannot take the call now",
    16: "the server wants credentials the check does not send",
    7: "the server refuses the check",
}


@dataclass(slots=True)
class GrpcCall:
    """What the ``grpc`` phase found, filled as it goes (a deadline may cut it short)."""

    details: GrpcDetails = field(default_factory=GrpcDetails)
    failure: Failure | None = None
    answered: bool = False
    """Whether any byte came back."""


def load() -> None:
    """Import the HTTP/2 call now: before the phase's clock starts, since the first
    import is not the server's time."""
    import tether.probe._h2call  # noqa: F401


def grpc_timeout(seconds: float) -> str:
    """``grpc-timeout``: whole milliseconds, at most 8 digits, at least 1."""
    return f"{min(99_999_999, max(1, int(seconds * 1000)))}m"


async def health_check(
    reader: asyncio.StreamReader | Wire,
    writer: asyncio.StreamWriter | Wire,
    *,
    authority: str,
    secure: bool,
    service: str,
    timeout: float,
    wait: float,
    url: str,
    host: str,
    port: int,
    out: GrpcCall,
    clock: Callable[[], float] = time.perf_counter,
) -> GrpcCall:
    """One ``Health/Check`` call for ``service``; ``timeout`` goes to the server as
    ``grpc-timeout``, ``wait`` is how long the answer is waited for.  ``reader`` and
    ``writer`` are a stream's, or both one :class:`~tether.probe._wire.Wire`."""
    from tether.probe import _h2call as h2

    where = join_hostport(host, port)
    if out.details.service != service:
        out.details = dataclasses.replace(out.details, service=service)

    def fail(kind: Kind, detail: str) -> GrpcCall:
        out.failure = failure_for(kind, detail, url=url, host=host, port=port)
        return out

    # Our own headers are fixed, lower-case and valid; the answer's are read by name and
    # checked here (:status, content-type, grpc-status).  The same call is the same bytes.
    message = wire.frame(wire.encode_request(service))
    headers = (
        (":method", "POST"),
        (":scheme", "https" if secure else "http"),
        (":path", CHECK_PATH),
        (":authority", authority),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
        ("grpc-timeout", grpc_timeout(timeout)),
        ("user-agent", "tether-probe"),
    )
    answer = h2.Answer(sent=len(message))
    try:
        writer.write(h2.request(headers, message))
        loop = asyncio.get_running_loop()
        until = loop.time() + wait
        # A Wire's wait has a timer of its own, cheaper than a Timeout.
        whole = contextlib.nullcontext() if isinstance(reader, Wire) else asyncio.timeout(wait)
        async with whole:
            while True:
                if isinstance(reader, Wire):
                    chunk = await reader.receive(until - loop.time())
                else:
                    chunk = await reader.read(READ_SIZE)
                if not chunk:
                    return fail(*_closed(out.answered, where))
                if not out.answered and (odd := _not_http2(chunk, where)) is not None:
                    return fail(Kind.RESPONSE_MALFORMED, odd)
                out.answered = True
                over = answer.take(chunk, stop=MAX_ANSWER, max_control=MAX_CONTROL)
                if (problem := _problem(answer)) is not None:
                    return fail(*problem)
                if over:
                    break
                if reply := answer.replies():  # SETTINGS and PING acknowledged
                    writer.write(reply)
    except TimeoutError:
        return fail(
            Kind.READ_TIMEOUT,
            f"{where} did not answer the health check within {round(wait, 3):g} s",
        )
    except h2.H2Error as exc:
        text = str(exc)
        if not out.answered:
            text = f"it does not speak HTTP/2: {text}"
        return fail(Kind.RESPONSE_MALFORMED, f"{where} broke HTTP/2: {text}"[:300])
    except OSError as exc:
        out.failure = classify(exc, url=url)
        return out
    out.details, out.failure = _verdict(answer, out.details, where, url, host, port)
    return out


def _problem(answer: _h2call.Answer) -> tuple[Kind, str] | None:
    """What ends the call short of an answer, read as its frames came: an answer past
    :data:`MAX_ANSWER`, a flood of PING and SETTINGS, a reset, a GOAWAY before the end."""
    from tether.probe._h2call import error_name

    if answer.answer_bytes > MAX_ANSWER:
        return Kind.RESPONSE_TOO_LARGE, f"the health answer is larger than {MAX_ANSWER} bytes"
    if answer.control > MAX_CONTROL:
        return Kind.RESPONSE_MALFORMED, (
            f"the server sent more than {MAX_CONTROL} PING and SETTINGS frames "
            "in one call: a flood, not an answer"
        )
    if answer.reset is not None:
        return Kind.CONNECTION_RESET, (
            f"the server reset the call (RST_STREAM {error_name(answer.reset)})"
        )
    if answer.goaway is not None and not answer.ended:
        if answer.goaway == 0:
            return Kind.CONNECTION_CLOSED, (
                "the server closed the connection (GOAWAY) before the call ended"
            )
        return Kind.RESPONSE_MALFORMED, (
            f"the server ended the connection with GOAWAY {error_name(answer.goaway)}"
        )
    return None


def _verdict(
    answer: _h2call.Answer, details: GrpcDetails, where: str, url: str, host: str, port: int
) -> tuple[GrpcDetails, Failure | None]:
    headers = answer.headers or {}
    status_text = headers.get(":status", "")
    http_status = int(status_text) if status_text.isdigit() else None
    # What the answer said, put into ``details`` once (dataclasses.replace is slow).
    found: dict[str, Any] = {"http_status": http_status}

    def failed(kind: Kind, detail: str) -> tuple[GrpcDetails, Failure]:
        failure = failure_for(kind, detail, url=url, host=host, port=port)
        return dataclasses.replace(details, **found), failure

    if http_status is None:
        return failed(Kind.RESPONSE_MALFORMED, f"{where} answered the call without a :status")
    content_type = headers.get("content-type", "")
    if http_status != 200 and "grpc-status" not in headers:
        if http_status >= 400:
            return dataclasses.replace(details, **found), classify_status(
                http_status, headers, url=url
            )
        return failed(Kind.RESPONSE_MALFORMED, f"{where} answered the gRPC call with {http_status}")
    if not content_type.startswith("application/grpc"):
        shown = content_type or "none"
        return failed(
            Kind.RESPONSE_MALFORMED,
            f"{where} answered with content-type {shown[:60]}, not application/grpc "
            "(an HTTP/2 server that is not gRPC?)",
        )
    said = answer.trailers or headers  # a Trailers-Only answer carries the status in its headers
    raw_code = said.get("grpc-status")
    if raw_code is None or not raw_code.isdigit():
        return failed(
            Kind.RESPONSE_MALFORMED, f"{where} ended the call without a valid grpc-status"
        )
    code = int(raw_code)
    said_message = said.get("grpc-message")  # none on an OK answer: nothing to redact
    message = (redact_text(unquote(said_message))[:300] or None) if said_message else None
    found.update(code=code, code_name=wire.code_name(code), message=message)
    if code == 5:  # NOT_FOUND: Check's answer for a service it does not know
        found["serving_status"] = "SERVICE_UNKNOWN"
        return failed(
            Kind.GRPC_NOT_SERVING,
            f"{where} does not know the service {details.service!r} (NOT_FOUND (5)): no status "
            "was set for it",
        )
    if code != 0:
        why = _WHY.get(code, "the call failed")
        said_text = f" ({message})" if message else ""
        detail = f"{wire.code_name(code)} ({code}): {why}{said_text}"
        details, failure = failed(Kind.GRPC_STATUS, detail)
        return details, dataclasses.replace(failure, retryable=code in RETRYABLE_CODES)
    try:
        number = wire.decode_response(wire.unframe(bytes(answer.data)))
    except wire.WireError as exc:
        return failed(Kind.RESPONSE_MALFORMED, f"{where} sent a broken health answer: {exc}")
    name = (
        wire.SERVING_STATUSES[number]
        if 0 <= number < len(wire.SERVING_STATUSES)
        else f"status {number}"
    )
    found["serving_status"] = name
    if name == "SERVING":
        return dataclasses.replace(details, **found), None
    shown = repr(details.service) if details.service else "the server"
    return failed(Kind.GRPC_NOT_SERVING, f"the health check says {shown} is {name}")


def _closed(answered: bool, where: str) -> tuple[Kind, str]:
    if not answered:
        return Kind.CONNECTION_CLOSED, f"{where} closed the connection without answering"
    return Kind.CONNECTION_CLOSED, f"{where} closed the connection before the call ended"


def _not_http2(chunk: bytes, where: str) -> str | None:
    """Why the server's first bytes are not HTTP/2, or None: its preface is a SETTINGS
    frame (RFC 9113, 3.4), whose type is the fourth byte; an HTTP/1 server answers the
    client's preface (``PRI * HTTP/2.0``) with a status line or a page."""
    if chunk.startswith(b"HTTP/"):
        version = chunk[:8].decode("latin-1")
        return (
            f"{where} speaks {version}, not HTTP/2 (is this a gRPC port?): it answered "
            f"{_first_line(chunk)!r}"
        )
    if len(chunk) >= 4 and chunk[3] != 4:
        return (
            f"{where} does not speak HTTP/2 (is this a gRPC port?): it sent {_first_line(chunk)!r}"
        )
    return None


def _first_line(chunk: bytes) -> str:
    return chunk.split(b"\n", 1)[0].rstrip(b"\r")[:80].decode("latin-1")
