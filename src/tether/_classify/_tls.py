"""The ssl module's exceptions: certificate verification, handshakes, TLS alerts.

A plain ``ssl.SSLError`` is read as a TLS failure only when it came from a connection,
not from loading a certificate, key or CA file (this machine's setup).
"""

from __future__ import annotations

from tether._classify._evidence import FACT, Evidence
from tether._classify._origin import raised_at
from tether._kinds import Kind


def tls_eof(ev: Evidence, depth: int) -> None:
    ev.tls = True
    ev.offer(
        Kind.TLS_PROTOCOL, FACT, depth, "the server closed the connection during the TLS handshake"
    )


def end_of_stream(exc: BaseException, ev: Evidence, depth: int) -> None:
    """anyio's ``EndOfStream`` under httpcore's ``ConnectError``: httpcore maps it so only in
    ``start_tls``, as TCP connects have no stream to end."""
    if ev.connect:
        tls_eof(ev, depth)


def verify_error(exc: BaseException, ev: Evidence, depth: int) -> None:
    code = getattr(exc, "verify_code", None)
    message = getattr(exc, "verify_message", None) or None
    kind = _VERIFY_KINDS.get(code, Kind.TLS_UNTRUSTED) if isinstance(code, int) else None
    if kind is None:
        # No code (a hand-made CertificateError): go by the words, or call it untrusted.
        text = str(exc).lower()
        kind = (
            Kind.TLS_HOSTNAME_MISMATCH
            if "match" in text
            else Kind.TLS_EXPIRED
            if "expired" in text or "not yet valid" in text
            else Kind.TLS_SELF_SIGNED
            if text.strip() == "self-signed certificate"
            else Kind.TLS_UNTRUSTED
        )
    ev.tls = True
    ev.offer(kind, FACT, depth, message)


# X509_V_ERR_* codes (OpenSSL's x509_vfy.h).
_VERIFY_KINDS: dict[int, Kind] = {
    9: Kind.TLS_EXPIRED,  # certificate is not yet valid
    10: Kind.TLS_EXPIRED,  # certificate has expired
    18: Kind.TLS_SELF_SIGNED,  # self-signed leaf
    19: Kind.TLS_UNTRUSTED,  # self-signed root in chain: a CA nobody here trusts
    20: Kind.TLS_UNTRUSTED,  # unable to get local issuer: unknown CA or missing intermediate
    21: Kind.TLS_UNTRUSTED,  # unable to verify the first certificate
    2: Kind.TLS_UNTRUSTED,  # unable to get issuer certificate
    62: Kind.TLS_HOSTNAME_MISMATCH,
    64: Kind.TLS_HOSTNAME_MISMATCH,  # IP address mismatch
    63: Kind.TLS_HOSTNAME_MISMATCH,  # email mismatch
    # The certificate is too weak for this client's security level: the chain may be
    # trusted, but the two sides cannot agree on it.
    66: Kind.TLS_PROTOCOL,  # EE certificate key too weak
    67: Kind.TLS_PROTOCOL,  # CA certificate key too weak
    68: Kind.TLS_PROTOCOL,  # CA signature digest algorithm too weak
}


def ssl_error(exc: BaseException, ev: Evidence, depth: int) -> None:
    reason = getattr(exc, "reason", None)
    name = type(exc).__name__
    if name == "SSLError" and not _ssl_on_connection(exc, ev):
        return  # a certificate, key or CA file that did not load: this machine's setup
    ev.tls = True
    if name == "SSLZeroReturnError":
        ev.offer(Kind.CONNECTION_CLOSED, FACT, depth, "the peer closed the TLS session")
    elif name == "SSLEOFError" and ev.read and not ev.connect:
        ev.offer(Kind.CONNECTION_CLOSED, FACT, depth, "the peer closed the connection mid-stream")
    elif name in ("SSLWantReadError", "SSLWantWriteError"):
        # anyio (httpx async) leaves this under a ConnectTimeout when the
        # server never answers the TLS hello: the handshake was waiting.
        ev.tls_wait = True
    elif name == "SSLSyscallError":
        return
    else:
        detail = _SSL_REASONS.get(reason) if isinstance(reason, str) else None
        if detail is None and name == "SSLEOFError":
            detail = "the server closed the connection during the TLS handshake"
        ev.offer(Kind.TLS_PROTOCOL, FACT, depth, detail or (reason or str(exc)))


_SSL_REASONS = {
    "WRONG_VERSION_NUMBER": "the server did not answer in TLS (is it a plain-text port?)",
    "RECORD_LAYER_FAILURE": "the server did not answer in TLS (is it a plain-text port?)",
    "PACKET_LENGTH_TOO_LONG": "the server did not answer in TLS (is it a plain-text port?)",
    "HTTP_REQUEST": "the server expected TLS but was sent plain HTTP",
    "TLSV1_ALERT_PROTOCOL_VERSION": "client and server share no TLS version",
    "UNSUPPORTED_PROTOCOL": "client and server share no TLS version",
    "NO_PROTOCOLS_AVAILABLE": "client and server share no TLS version",
    "VERSION_TOO_LOW": "the server offered a TLS version the client refuses",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": "client and server share no cipher suite or TLS feature",
    "NO_SHARED_CIPHER": "client and server share no cipher suite",
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the server requires a client certificate",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the server rejected the client certificate",
    "TLSV1_ALERT_UNKNOWN_CA": "the server does not trust the client certificate's CA",
    "TLSV1_UNRECOGNIZED_NAME": "the server does not serve that name (SNI)",
}


def _ssl_on_connection(exc: BaseException, ev: Evidence) -> bool:
    """Whether a plain ``ssl.SSLError`` came from a TLS connection, not from loading a file
    (``load_cert_chain``, ``load_verify_locations``: ``[SSL] PEM lib``, ``[X509: ...]``)."""
    origin = raised_at(exc)
    if origin is not None and (origin[0] == "asyncio.sslproto" or origin in _TLS_IO):
        return True
    library, reason = getattr(exc, "library", None), getattr(exc, "reason", None)
    if library == "SSL" and isinstance(reason, str):
        return reason not in _LOCAL_SSL_REASONS
    if library is None and reason is None:  # made by hand: the wrapper says where it was
        return ev.tls or ev.connect or ev.read or ev.write
    return False  # the PEM, X509 or ASN1 library, or "[SSL] PEM lib": reading a file


_TLS_IO = frozenset(
    ("ssl", name)
    for name in ("do_handshake", "read", "write", "recv", "recv_into", "send", "sendall", "unwrap")
)
# Reasons of the SSL library that loading a certificate or key gives.
_LOCAL_SSL_REASONS = frozenset(
    {"CA_KEY_TOO_SMALL", "CA_MD_TOO_WEAK", "EE_KEY_TOO_SMALL", "KEY_VALUES_MISMATCH"}
)
