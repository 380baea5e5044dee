"""The ``tls`` phase: handshake, protocol, cipher, ALPN, the certificate chain and the
exact reason verification failed."""

from __future__ import annotations

import datetime as dt
import ipaddress
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
    if got and all(hasattr(c, "get_info") for c in got):
        # OpenSSL's own decoding: no need to import cryptography (tens of ms at start-up).
        out["chain"] = [certificate_from_info(c.get_info(), now) for c in got]
        return out
    if got:
        der = 2  # _ssl.ENCODING_DER: the private chain API of Python 3.10 to 3.12
        ders = [c if isinstance(c, bytes) else c.public_bytes(der) for c in got]
    else:
        leaf = sslobj.getpeercert(binary_form=True)
        ders = [leaf] if leaf else []
    try:
        out["chain"] = [certificate(der, now) for der in ders]
    except ImportError:
        # cryptography is not part of the core (tether[lab] brings it), and CPython 3.10+
        # never comes here.  OpenSSL still decodes the leaf once it has been verified.
        info = sslobj.getpeercert() if ders else None
        out["chain"] = [certificate_from_info(info, now)] if info else []
    return out


_SHORT_NAMES = {
    "commonName": "CN",
    "countryName": "C",
    "localityName": "L",
    "stateOrProvinceName": "ST",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
}


def certificate_from_info(info: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """What :func:`certificate` says, from the dict OpenSSL decodes (``getpeercert()``)."""
    sans = info.get("subjectAltName", ())
    names = [str(v) for k, v in sans if k == "DNS"]
    names += [_address(str(v)) for k, v in sans if k == "IP Address"]
    not_before = _when(info["notBefore"])
    not_after = _when(info["notAfter"])
    return {
        "subject": _rfc4514(info.get("subject", ())),
        "issuer": _rfc4514(info.get("issuer", ())),
        "sans": names,
        "not_before": not_before.isoformat(),
        "not_after": not_after.isoformat(),
        "days_left": (not_after - now).days,
    }


def _when(text: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(text), dt.UTC)


def _address(text: str) -> str:
    try:
        return ipaddress.ip_address(text.strip()).compressed
    except ValueError:
        return text.strip()


def _rfc4514(name: Any) -> str:
    """As cryptography's ``Name.rfc4514_string()``: the RDNs last first, short type names."""
    return ",".join(
        "+".join(f"{_SHORT_NAMES.get(k, k)}={_escape(str(v))}" for k, v in rdn)
        for rdn in reversed(name)
    )


def _escape(value: str) -> str:
    """RFC 4514 section 2.4, as cryptography escapes."""
    if not value:
        return ""
    for c in '\\"+,;<>':
        value = value.replace(c, "\\" + c)
    value = value.replace("\0", "\\00")
    if value[0] in "# ":
        value = "\\" + value
    if value[-1] == " ":
        value = value[:-1] + "\\ "
    return value


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
