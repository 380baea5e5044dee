"""The ``tls`` phase: handshake, protocol, cipher, ALPN, the certificate chain and the
exact reason verification failed."""

from __future__ import annotations

import datetime as dt
import ssl
from typing import Any

EXPIRY_WARNING_DAYS = 14


def context(cacert: str | None, *, verify: bool) -> ssl.SSLContext:
    """The system's trust, plus ``cacert`` if given; never unverified unless asked."""
    ctx = ssl.create_default_context()
    if cacert:
        ctx.load_verify_locations(cafile=cacert)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def describe(sslobj: ssl.SSLObject | ssl.SSLSocket, now: dt.datetime) -> dict[str, Any]:
    """Protocol, cipher, ALPN and each certificate of the chain the server sent."""
    cipher = sslobj.cipher()
    out: dict[str, Any] = {
        "version": sslobj.version(),
        "cipher": cipher[0] if cipher else None,
        "alpn": sslobj.selected_alpn_protocol(),
    }
    ders: list[bytes] = []
    inner = getattr(sslobj, "_sslobj", sslobj)
    chain = getattr(inner, "get_unverified_chain", None)
    try:
        got = chain() if chain is not None else None
    except (ssl.SSLError, ValueError):
        got = None
    if got:
        der = 2  # _ssl.ENCODING_DER: the private chain API of Python 3.10 to 3.12
        ders = [c if isinstance(c, bytes) else c.public_bytes(der) for c in got]
    else:
        leaf = sslobj.getpeercert(binary_form=True)
        ders = [leaf] if leaf else []
    out["chain"] = [certificate(der, now) for der in ders]
    return out


def certificate(der: bytes, now: dt.datetime) -> dict[str, Any]:
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n) for n in sans.get_values_for_type(x509.DNSName)]
        names += [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names = []
    not_after = cert.not_valid_after_utc
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "sans": names,
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": not_after.isoformat(),
        "days_left": (not_after - now).days,
    }
