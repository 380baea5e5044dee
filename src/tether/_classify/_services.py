"""The other clients a service calls: gRPC (sync and ``grpc.aio``), botocore, websockets,
paramiko and asyncssh, pika and aiormq (aio-pika), and the standard library's smtplib,
ftplib, imaplib and poplib.

gRPC keeps no exception to chain: its status code and the core's words (``details()``,
``debug_error_string()``) say it all.  The others chain the socket's error where there was
one, or copy its words (:mod:`._words`); their own classes name a login refused, a server
that hung up, a greeting that was a refusal.
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal

from tether._classify._evidence import (
    FACT,
    LIBRARY,
    TIMEOUT,
    WRAPPER,
    Evidence,
    attribute,
    first_line,
    text_of,
)
from tether._classify._http import offer_status
from tether._classify._origin import opening, traceback_frames
from tether._classify._words import note_peer_in, offer_words
from tether._kinds import Kind

# --- gRPC ----------------------------------------------------------------------------------

_GRPC_RETRYABLE: Final = frozenset({"UNAVAILABLE"})
"""The status gRPC's own retry guidance names as safe to retry for any call: the request
was not processed (gRFC A6: 'UNAVAILABLE' is the one status retried by default)."""


def _call(exc: BaseException, name: str) -> str:
    method = attribute(exc, name)
    if not callable(method):
        return ""
    try:
        value = method()
    except Exception:  # an error built by hand, whose state is not set
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ""


def grpc_error(exc: BaseException, ev: Evidence, depth: int) -> None:
    """An ``RpcError`` that is a call (``_InactiveRpcError``, ``grpc.aio.AioRpcError``):
    its code, and for UNAVAILABLE the transport failure its details name."""
    method = attribute(exc, "code")
    try:
        code = method() if callable(method) else None
    except Exception:
        code = None
    status = getattr(code, "name", None)
    if not isinstance(status, str):
        return
    details = _call(exc, "details")
    debug = _call(exc, "debug_error_string")
    said = f"{status}: {' '.join(details.split())[:300]}"
    pushback = _pushback(exc)
    if pushback == "never":
        # The server asked for no retry: gRFC A6's negative or unreadable pushback.
        ev.retryable = False
        said += " (the server asked not to retry: grpc-retry-pushback-ms)"
    elif pushback is not None:
        ev.pushback = pushback
    note_peer_in(details, ev, depth)
    lower = details.lower()
    if "goaway" in lower:
        # The server closed the connection (HTTP/2 GOAWAY) before it took the call: gRPC
        # says UNAVAILABLE, and the call was not processed.
        ev.handshake = True
        ev.offer(Kind.CONNECTION_CLOSED, LIBRARY, depth, said)
        return
    if "rst_stream" in lower:
        # The server reset the call's stream (HTTP/2 RST_STREAM): it had taken the call.
        ev.read = True
        ev.offer(Kind.CONNECTION_RESET, LIBRARY, depth, said)
        return
    if status == "UNAVAILABLE":
        if "failed to connect" in lower:
            ev.handshake = True
            ev.connect = True
        if offer_words(f"{details} {debug}", ev, depth, LIBRARY):
            return
        ev.offer(Kind.SERVER_UNAVAILABLE, LIBRARY, depth, said)
        return
    if status == "DEADLINE_EXCEEDED":
        ev.deadline = True
        ev.offer(Kind.DEADLINE_EXCEEDED, LIBRARY, depth, said)
        return
    if status == "UNAUTHENTICATED":
        ev.offer(Kind.AUTH_FAILED, LIBRARY, depth, said)
        return
    if ev.retryable is None:
        ev.retryable = status in _GRPC_RETRYABLE
    ev.offer(Kind.GRPC_STATUS, LIBRARY, depth, said)


PUSHBACK: Final = "grpc-retry-pushback-ms"
"""The trailing metadata by which a gRPC server tells a client when to retry (gRFC A6)."""


def _pushback(exc: BaseException) -> float | Literal["never"] | None:
    """What the call's trailing metadata says of a retry: seconds to wait first, "never"
    (a negative or unreadable value: gRFC A6's "do not retry"), or None (nothing said)."""
    method = attribute(exc, "trailing_metadata")
    try:
        metadata = method() if callable(method) else None
        pairs = list(metadata or ())
    except Exception:  # an error built by hand, whose state is not set
        return None
    for pair in pairs:
        try:
            key, value = pair
        except (TypeError, ValueError):
            continue
        if key != PUSHBACK:
            continue
        text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
        text = text.strip()
        if not text.isascii() or not text.isdigit() or len(text) > 12:
            return "never"
        return int(text) / 1000.0
    return None


# --- botocore -------------------------------------------------------------------------------

AWS_THROTTLING: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
"""botocore's own list of throttling error codes (``botocore/retries/standard.py``)."""


def botocore_client(exc: BaseException, ev: Evidence, depth: int) -> None:
    """botocore's ``ClientError``: the service answered; its HTTP status and error code."""
    response = attribute(exc, "response")
    if not isinstance(response, dict):
        return
    error = response.get("Error")
    meta = response.get("ResponseMetadata")
    code = error.get("Code") if isinstance(error, dict) else None
    status = meta.get("HTTPStatusCode") if isinstance(meta, dict) else None
    headers = meta.get("HTTPHeaders") if isinstance(meta, dict) else None
    if code in AWS_THROTTLING:
        status = 429 if not isinstance(status, int) or status < 500 else status
    if isinstance(status, int) and not isinstance(status, bool):
        offer_status(status, headers, ev, depth, FACT)


# --- websockets -----------------------------------------------------------------------------


def websockets_status(exc: BaseException, ev: Evidence, depth: int) -> None:
    """websockets' ``InvalidStatus``: the opening handshake was answered with a status."""
    response = attribute(exc, "response")
    status = getattr(response, "status_code", None)
    if isinstance(status, int) and not isinstance(status, bool):
        offer_status(status, getattr(response, "headers", None), ev, depth, FACT)


def peer_closed(exc: BaseException, ev: Evidence, depth: int) -> None:
    """A client's word for a peer that hung up (websockets' ``ConnectionClosedError``,
    asyncssh's ``ConnectionLost``, smtplib's ``SMTPServerDisconnected``, imaplib's
    ``abort``, a client's ``EOFError``): closed, unless a socket error below says more."""
    # smtplib says "Connection unexpectedly closed: timed out" of a timeout: the chained
    # TimeoutError decides.
    if ev.known and "timed out" not in text_of(exc):
        ev.offer(Kind.CONNECTION_CLOSED, WRAPPER, depth, first_line(exc))


def incomplete_read(exc: BaseException, ev: Evidence, depth: int) -> None:
    """asyncio's ``IncompleteReadError`` from a client's ``readexactly``: nothing of the
    frame came (the peer hung up), or part of it did (the reply was cut off)."""
    if not ev.known:
        return
    partial = attribute(exc, "partial")
    kind = Kind.RESPONSE_TRUNCATED if partial else Kind.CONNECTION_CLOSED
    ev.offer(kind, WRAPPER, depth, first_line(exc))


# --- SSH ----------------------------------------------------------------------------------------


def ssh_error(exc: BaseException, ev: Evidence, depth: int) -> None:
    """paramiko's ``SSHException`` and asyncssh's ``DisconnectError``: a banner that never
    came or was not SSH's, a login refused."""
    name = type(exc).__name__
    text = text_of(exc)
    ev.handshake = True
    if name in ("AuthenticationException", "BadAuthenticationType", "PermissionDenied"):
        ev.offer(Kind.AUTH_FAILED, FACT, depth, first_line(exc))
    elif "protocol banner" in text or name == "ProtocolError":
        if not offer_words(text, ev, depth, LIBRARY):
            ev.offer(Kind.CONNECTION_CLOSED, WRAPPER, depth, first_line(exc))
    elif name == "ConnectionLost" or "No existing session" in text:
        # paramiko's "No existing session": its transport ended before the login (why is
        # in its log: a banner that never came, a peer that hung up).
        ev.offer(Kind.CONNECTION_CLOSED, WRAPPER, depth, first_line(exc))
    else:
        offer_words(text, ev, depth, WRAPPER)


def ssh_no_connection(exc: BaseException, ev: Evidence, depth: int) -> None:
    """paramiko's ``NoValidConnectionsError``: one socket error per address (``errors``,
    walked); every address refused."""
    ev.connect = True
    ev.handshake = True
    ev.offer(Kind.CONNECT_REFUSED, WRAPPER, depth, first_line(exc))


# --- AMQP (pika, aiormq) ----------------------------------------------------------------------


def amqp_error(exc: BaseException, ev: Evidence, depth: int) -> None:
    """pika's and aiormq's errors of the connection: a login refused, a broker that closed
    the connection (its reply code), or the stream's end in their words."""
    name = type(exc).__name__
    ev.handshake = ev.handshake or _amqp_opening(exc)
    if name in (
        "ProbableAuthenticationError",
        "ProbableAccessDeniedError",
        "AuthenticationError",
        "AMQPAccessRefused",
        "AccessRefused",
    ):
        ev.offer(Kind.AUTH_FAILED, FACT, depth, first_line(exc))
        return
    if "Timeout" in name:  # pika's AMQPConnectorStackTimeout: the handshake never finished
        ev.handshake = True
        ev.timeouts.append(exc)
        ev.offer(TIMEOUT, WRAPPER, depth)
        return
    code = _reply_code(exc)
    if code in (403, 530):  # ACCESS_REFUSED, NOT_ALLOWED (a virtual host not allowed)
        ev.offer(Kind.AUTH_FAILED, FACT, depth, first_line(exc))
    elif code in (320, 541):  # CONNECTION_FORCED (a broker shutting down), INTERNAL_ERROR
        ev.offer(Kind.SERVER_UNAVAILABLE, FACT, depth, first_line(exc))
    elif not offer_words(text_of(exc), ev, depth, WRAPPER) and name == "IncompatibleProtocolError":
        ev.offer(Kind.RESPONSE_MALFORMED, WRAPPER, depth, first_line(exc))


def _reply_code(exc: BaseException) -> int | None:
    for name in ("reply_code", "code"):
        value = attribute(exc, name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    args: tuple[Any, ...] = exc.args
    if args and isinstance(args[0], int) and not isinstance(args[0], bool) and args[0] >= 200:
        return args[0]
    return None


def _amqp_opening(exc: BaseException) -> bool:
    """pika and aiormq, while opening the connection (before a channel exists)."""
    return any(
        module.startswith(("pika.adapters.utils.connection_workflow", "aiormq.connection"))
        and function in ("connect", "_on_transport_establishment_done", "_handle_connection")
        for module, function in traceback_frames(exc)
    ) or type(exc).__name__ in ("AMQPConnectionError", "IncompatibleProtocolError")


# --- mail and files: smtplib, ftplib, imaplib, poplib -------------------------------------------

_REPLY: Final = re.compile(r"^\s*[-+]?(?:ERR\s+)?(\d{3})\b")


def mail_reply(exc: BaseException, ev: Evidence, depth: int) -> None:
    """A mail or file server's refusal: SMTP's and FTP's reply codes (421: closing, come back
    later; 554 as a greeting: no service here for this client, for good; 530 and 535: login
    refused), and IMAP's and POP's words for a refused login or a stream that ended."""
    code = attribute(exc, "smtp_code")
    text = text_of(exc)
    if not isinstance(code, int):
        match = _REPLY.match(text)
        code = int(match[1]) if match else None
    if opening(exc):
        ev.handshake = True
    if code == 421 or (code == 554 and opening(exc)):
        if code == 554:
            ev.retryable = False
        ev.offer(Kind.SERVER_UNAVAILABLE, FACT, depth, first_line(exc))
    elif code in (530, 535) or _login_refused(text):
        ev.offer(Kind.AUTH_FAILED, FACT, depth, first_line(exc))
    elif text.rstrip().upper().endswith("EOF"):
        # imaplib's "socket error: EOF", poplib's "-ERR EOF": the server hung up
        ev.offer(Kind.CONNECTION_CLOSED, WRAPPER, depth, first_line(exc))


def _login_refused(text: str) -> bool:
    upper = text.upper()
    return "AUTHENTICATIONFAILED" in upper or "[AUTH]" in upper or "LOGIN FAILED" in upper
