"""Building the :class:`Failure`: the catalogue's flags, corrected by what the walk
learnt, and the detail sentence that names the peer and what it did."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from tether._catalogue import CATALOGUE, hint_for
from tether._classify._evidence import Evidence, first_line
from tether._classify._http import RETRYABLE_STATUSES, header_value, parse_retry_after
from tether._failure import Failure
from tether._hostport import bracketed, default_port
from tether._kinds import Kind, Layer
from tether._redact import redact_text, redact_url


def build(
    kind: Kind,
    ev: Evidence,
    exc: BaseException | None,
    specific: str | None,
    *,
    now: float | None = None,
) -> Failure:
    entry = CATALOGUE[kind]
    retryable, request_sent = entry.retryable, entry.request_sent
    host, port = ev.host, ev.port
    safe_url = redact_url(ev.url) if ev.url else None
    if ev.url and host is None:
        try:
            parts = urlsplit(ev.url)
            host, port = parts.hostname, parts.port or default_port(parts.scheme)
        except ValueError:
            pass
    retry_after = None
    if ev.status is not None:
        retry_after = parse_retry_after(header_value(ev.headers, "Retry-After"), now=now)
        if (
            kind in (Kind.HTTP_CLIENT_ERROR, Kind.HTTP_SERVER_ERROR, Kind.HTTP_RATE_LIMITED)
            or kind is Kind.PROXY_REJECTED
        ):
            retryable = ev.status in RETRYABLE_STATUSES
    if kind is Kind.CONNECTION_RESET and ev.connect and not ev.read:
        request_sent = False  # reset while connecting: the request never left
    if ev.handshake and kind in _HANDSHAKE_KINDS:
        request_sent = False  # broke in the client's connection handshake: no query left
    if ev.undone:
        request_sent = False  # sent, but rolled back: nothing of it took effect
    if ev.retryable is not None:
        retryable = ev.retryable
    if ev.pushback is not None:
        retry_after = ev.pushback
    if kind is Kind.CONNECT_RESOURCE_EXHAUSTED and (ev.read or ev.write):
        request_sent = True  # ran out after the exchange had begun (urllib3's FullPoolError)
    detail = _detail(kind, ev, host, port, safe_url, specific, exc, retry_after)
    return Failure(
        kind=kind,
        layer=entry.layer,
        retryable=retryable,
        request_sent=request_sent,
        detail=redact_text(detail) if "@" in detail or "=" in detail else detail,
        hint=hint_for(kind, detail),
        host=host,
        port=port,
        url=safe_url,
        status=ev.status,
        retry_after=retry_after,
        errno=ev.errno,
        cause=exc,
    )


def failure_for(
    kind: Kind,
    detail: str,
    *,
    url: str | None = None,
    host: str | None = None,
    port: int | None = None,
    layer: Layer | None = None,
    cause: BaseException | None = None,
) -> Failure:
    """A ``Failure`` of ``kind`` that tether found itself (a probe, a policy), not by
    classifying an exception: the catalogue supplies the hint and the flags."""
    entry = CATALOGUE[kind]
    return Failure(
        kind=kind,
        layer=layer or entry.layer,
        retryable=entry.retryable,
        request_sent=entry.request_sent,
        detail=redact_text(detail),
        hint=entry.hint,
        host=host,
        port=port,
        url=redact_url(url) if url else None,
        cause=cause,
    )


def _detail(
    kind: Kind,
    ev: Evidence,
    host: str | None,
    port: int | None,
    url: str | None,
    specific: str | None,
    exc: BaseException | None,
    retry_after: float | None,
) -> str:
    peer = bracketed(host) if host else None
    where = f"{peer}:{port}" if peer and port else peer or "the server"
    text = _DETAILS.get(kind)
    if kind is Kind.UNKNOWN:
        if exc is None:
            return "The failure could not be classified."
        shown = first_line(exc)
        return f"Unrecognised failure {type(exc).__qualname__}" + (f": {shown}" if shown else "")
    if (
        kind
        in (
            Kind.HTTP_CLIENT_ERROR,
            Kind.HTTP_SERVER_ERROR,
            Kind.HTTP_RATE_LIMITED,
            Kind.PROXY_AUTH_REQUIRED,
            Kind.PROXY_REJECTED,
        )
        and ev.status is not None
    ):
        who = f"The proxy {(peer and where) or ''}" if kind.value.startswith("proxy") else where
        sentence = f"{who} answered {ev.status} {_reason(ev.status)}"
        if retry_after is not None:
            sentence += f", asking to retry after {retry_after:g} s"
        return _sentence(sentence, keep=peer)
    if kind is Kind.TLS_EXPIRED:
        not_yet = "not yet valid" in (specific or "") or "not yet valid" in str(exc)
        return (
            f"The certificate of {where} is not yet valid: check this machine's clock"
            if not_yet
            else f"The certificate of {where} has expired"
        )
    if kind is Kind.WRITE_TIMEOUT and ev.body_size is not None:
        text = (
            f"{{where}} stopped reading the request before its {ev.body_size}-byte body was "
            "all sent (write timeout)"
        )
    base = (text or "{kind} at {where}").format(
        where=where if peer else ("" if (text or "").startswith("The proxy") else where),
        name=host or "",
        url=url or "",
        kind=kind.value,
    )
    if specific and kind in _WITH_SPECIFIC:
        base += f": {specific}"
    return _sentence(base, keep=peer)


def _sentence(text: str, keep: str | None = None) -> str:
    """Tidy a filled template: no doubled or trailing spaces, a capital first letter
    (unless the sentence starts with ``keep``, a host name, or with a URL: each is shown
    as given, ``http://``, not ``Http://``)."""
    if "  " in text:
        text = _SPACES.sub(" ", text)
    text = text.replace(" :", ":").strip()
    if (keep and text.startswith(keep)) or _URL_FIRST.match(text):
        return text
    return text[:1].upper() + text[1:]


_SPACES = re.compile(r" {2,}")
_URL_FIRST = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_WITH_SPECIFIC = frozenset(
    {
        Kind.URL_INVALID,
        Kind.TLS_PROTOCOL,
        Kind.TLS_HOSTNAME_MISMATCH,
        Kind.TLS_UNTRUSTED,
        Kind.RESPONSE_TRUNCATED,
        Kind.RESPONSE_MALFORMED,
        Kind.RESPONSE_TOO_LARGE,
        Kind.CONNECT_UNREACHABLE,
        Kind.PROXY_UNREACHABLE,
        Kind.CONNECT_RESOURCE_EXHAUSTED,
        Kind.DB_AUTH_FAILED,
        Kind.DB_UNKNOWN_DATABASE,
        Kind.DB_READ_ONLY,
        Kind.DB_TOO_MANY_CONNECTIONS,
        Kind.DB_QUERY_FAILED,
        Kind.GRPC_STATUS,
        Kind.AUTH_FAILED,
        Kind.SERVER_UNAVAILABLE,
    }
)

# What a failure in a client's connection handshake (a database's startup, an SSH banner, a
# mail server's greeting) can be: the query or call had not left.
_HANDSHAKE_KINDS = frozenset(
    {
        Kind.CONNECTION_RESET,
        Kind.CONNECTION_CLOSED,
        Kind.CONNECTION_BROKEN_PIPE,
        Kind.CONNECTION_ABORTED,
        Kind.READ_TIMEOUT,
        Kind.WRITE_TIMEOUT,
        Kind.RESPONSE_MALFORMED,
        Kind.RESPONSE_TOO_LARGE,
        Kind.RESPONSE_TRUNCATED,
        Kind.SERVER_UNAVAILABLE,
    }
)

_DETAILS: dict[Kind, str] = {
    Kind.URL_INVALID: "The URL {url} is not valid",
    Kind.PROXY_UNREACHABLE: "The proxy {where} could not be reached",
    Kind.PROXY_AUTH_REQUIRED: "The proxy {where} requires authentication (407)",
    Kind.PROXY_REJECTED: "The proxy {where} refused to open the connection",
    Kind.DNS_NOT_FOUND: "The name {name} does not exist (NXDOMAIN)",
    Kind.DNS_NO_ADDRESS: "The name {name} exists but has no address of the requested family",
    Kind.DNS_UNAVAILABLE: (
        "The name {name} could not be resolved: the DNS resolver failed or could not be "
        "reached (SERVFAIL, REFUSED or no answer)"
    ),
    Kind.DNS_TIMEOUT: "The DNS resolver did not answer in time for {name}",
    Kind.CONNECT_REFUSED: "{where} refused the connection: nothing is listening on that port",
    Kind.CONNECT_TIMEOUT: (
        "Connecting to {where} timed out: nothing answered the connection request"
    ),
    Kind.CONNECT_UNREACHABLE: "{where} is unreachable from this machine",
    Kind.TLS_HOSTNAME_MISMATCH: "The certificate of {where} is not valid for that name",
    Kind.TLS_SELF_SIGNED: "{where} presented a self-signed certificate, which is not trusted",
    Kind.TLS_UNTRUSTED: "The certificate of {where} is not signed by a trusted CA",
    Kind.TLS_PROTOCOL: "The TLS handshake with {where} failed",
    Kind.TLS_TIMEOUT: (
        "The TLS handshake with {where} timed out: the server accepted the connection but "
        "did not answer the TLS hello"
    ),
    Kind.CONNECTION_RESET: "{where} reset the connection",
    Kind.CONNECTION_CLOSED: "{where} closed the connection without sending a response",
    Kind.CONNECTION_BROKEN_PIPE: (
        "{where} closed the connection while the request was still being sent (broken pipe)"
    ),
    Kind.CONNECTION_ABORTED: "The connection to {where} was aborted on this machine",
    Kind.WRITE_TIMEOUT: (
        "{where} stopped reading the request before it was all sent (write timeout)"
    ),
    Kind.READ_TIMEOUT: "{where} did not send the response in time (read timeout)",
    Kind.DEADLINE_EXCEEDED: "The call to {where} ran out of its total time",
    Kind.RESPONSE_TRUNCATED: "The response from {where} ended before its announced end",
    Kind.RESPONSE_MALFORMED: "{where} answered with something that is not valid HTTP",
    Kind.RESPONSE_TOO_LARGE: "The response from {where} is larger than allowed",
    Kind.HTTP_REDIRECT_LOOP: "{url} redirected too many times (a redirect loop)",
    Kind.CIRCUIT_OPEN: "The circuit breaker for {where} is open: calls fail fast for now",
    Kind.BULKHEAD_FULL: "The concurrency limit for {where} is reached and its queue is full",
    Kind.THROTTLE_REJECTED: "Client-side throttling for {where} dropped the request",
    Kind.CONNECT_RESOURCE_EXHAUSTED: (
        "This machine or the client ran out of resources for a connection to {where}"
    ),
    Kind.DB_AUTH_FAILED: "{where} refused the user name or password",
    Kind.DB_UNKNOWN_DATABASE: "{where} has no database by the name asked for",
    Kind.DB_READ_ONLY: "{where} is read-only: it refused a write",
    Kind.DB_TOO_MANY_CONNECTIONS: "{where} refused the connection: it has too many clients",
    Kind.DB_QUERY_FAILED: "The query to {where} failed",
    Kind.GRPC_STATUS: "The gRPC call to {where} failed",
    Kind.AUTH_FAILED: "{where} refused the credentials",
    Kind.SERVER_UNAVAILABLE: "{where} answered that it cannot serve for now",
}


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
