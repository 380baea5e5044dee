"""The ``tls`` phase: handshake, protocol, cipher, ALPN, the certificate chain and the
exact reason verification failed."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tether._kinds import Kind
from tether.probe._details import Certificate, TlsDetails

EXPIRY_WARNING_DAYS = 14

ALPN = ("http/1.1",)
ALPN_H2 = ("h2",)
"""What a ``grpcs://`` handshake offers: gRPC runs over HTTP/2 alone."""

_Stamp = tuple[str, int, int, int] | tuple[str, None]
"""A trusted file or directory as the cache sees it: (path, inode, size, mtime in ns),
or (path, None) when it cannot be read."""


@dataclass(frozen=True, slots=True)
class Trust:
    """Everything an SSL context is built from: the key of the context cache.

    ``files`` stamps the CA file and the system's trust store (``SSL_CERT_FILE``,
    ``SSL_CERT_DIR`` or OpenSSL's defaults) by inode, size and modification time, so a
    CA file replaced or edited on disk gets a new context at the next probe, with no
    reload needed."""

    cafile: str | None
    verify: bool
    alpn: tuple[str, ...]
    files: tuple[_Stamp, ...]


def trust(cacert: str | None, *, verify: bool, alpn: tuple[str, ...] = ALPN) -> Trust:
    """The :class:`Trust` a probe with these options needs, stamped as of now."""
    paths = ssl.get_default_verify_paths()
    seen = [cacert] if cacert else []
    seen += [p for p in (paths.cafile, paths.capath) if p]
    return Trust(cacert or None, verify, alpn, tuple(_stamp(p) for p in seen))


def _stamp(path: str) -> _Stamp:
    try:
        st = os.stat(path)
    except OSError:
        return (path, None)
    return (path, st.st_ino, st.st_size, st.st_mtime_ns)


def build(t: Trust) -> ssl.SSLContext:
    """A new context for ``t``: the system's trust, plus ``t.cafile``; never unverified
    unless asked.  Loading the trust store takes tens of milliseconds: see :func:`context`."""
    ctx = ssl.create_default_context()
    if t.cafile:
        ctx.load_verify_locations(cafile=t.cafile)
    if not t.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if t.alpn:
        ctx.set_alpn_protocols(list(t.alpn))
    return ctx


class Contexts:
    """The contexts built so far, by :class:`Trust`: at most ``size``, the least recently
    used dropped first.  Safe to share between threads (the monitor's and a test's)."""

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._built: OrderedDict[Trust, ssl.SSLContext] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, t: Trust) -> ssl.SSLContext:
        with self._lock:
            found = self._built.get(t)
            if found is not None:
                self._built.move_to_end(t)
                return found
            # Built under the lock: two probes of a new configuration at once build once.
            ctx = self._built[t] = build(t)
            while len(self._built) > self._size:
                self._built.popitem(last=False)
            return ctx

    def clear(self) -> None:
        with self._lock:
            self._built.clear()

    def __len__(self) -> int:
        return len(self._built)


CONTEXTS = Contexts()
"""The process's contexts: every probe (diagnose's and the monitor's) shares them."""


def context(cacert: str | None, *, verify: bool, alpn: tuple[str, ...] = ALPN) -> ssl.SSLContext:
    """The context for this trust: built once, then shared by every probe that needs it."""
    return CONTEXTS.get(trust(cacert, verify=verify, alpn=alpn))


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a certificate chain, as the kind it would be on its own."""

    kind: Kind
    text: str
    """With the dates: for the tls phase."""
    brief: str
    """Without them (a verdict reads the same tomorrow): for the failure's detail."""


def problems(
    chain: tuple[Certificate, ...], *, name: str, where: str, now: dt.datetime
) -> list[Problem]:
    """Everything wrong with the ``chain`` (as :func:`describe` lists it, leaf first) that
    ``where`` (HOST:PORT) sent for ``name``: each certificate out of its dates, by its
    place in the chain, and a leaf that does not name ``name``, with the names it has.
    OpenSSL stops at its first complaint; this lists them all.  Trust is not judged here
    (that needs the trust store): the handshake's own verdict says it."""
    found: list[Problem] = []
    if not chain:
        return found
    leaf = chain[0]
    leaf_valid = dt.datetime.fromisoformat(leaf.not_before) <= now <= leaf.expires
    for i, cert in enumerate(chain):
        which = _which(i, cert, where)
        not_before = dt.datetime.fromisoformat(cert.not_before)
        not_after = cert.expires
        # Beside an intermediate's, say the leaf is fine: "expired" alone reads as the leaf.
        aside = i > 0 and leaf_valid
        if now > not_after:
            until = f", while the server's own certificate is valid until {leaf.not_after[:10]}"
            found.append(
                Problem(
                    Kind.TLS_EXPIRED,
                    f"{which} expired on {_date(not_after)}, {_span(now - not_after)} ago"
                    + (until if aside else ""),
                    f"{which} has expired"
                    + (" (the server's own certificate is valid)" if aside else ""),
                )
            )
        elif now < not_before:
            found.append(
                Problem(
                    Kind.TLS_EXPIRED,
                    f"{which} is not valid yet: valid from {_date(not_before)}, in "
                    f"{_span(not_before - now)} (check this machine's clock)",
                    f"{which} is not yet valid: check this machine's clock",
                )
            )
    if not names_match(leaf.sans, name):
        listed = ", ".join(leaf.sans) or "no name (it has no subjectAltName)"
        text = f"the certificate of {where} is not valid for {name}: it names {listed}"
        found.append(Problem(Kind.TLS_HOSTNAME_MISMATCH, text, text))
    return found


def expired_anchor(chain: tuple[Certificate, ...], *, where: str) -> Problem:
    """What OpenSSL's "certificate has expired" means when every certificate in the
    ``chain`` that ``where`` sent is within its dates: the expired one came from this
    client's own trust store, the root the last certificate sent names as its issuer.
    An outdated CA bundle, whose newer root for that chain is missing."""
    root = chain[-1].issuer if chain else "of the chain"
    text = (
        f"the root certificate {root} that this client trusts has expired, while every "
        f"certificate {where} sent is valid: this client's CA bundle is outdated"
    )
    return Problem(Kind.TLS_EXPIRED, text, text)


def _which(i: int, cert: Certificate, where: str) -> str:
    if i == 0:
        return f"the certificate of {where}"
    role = "root" if cert.subject == cert.issuer else "intermediate"
    return f"the {role} certificate {cert.subject} that {where} sent"


def _date(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _span(span: dt.timedelta) -> str:
    """``3 hours``, ``1 day``, ``12 days`` (whole days from 23.5 hours on)."""
    hours = round(span.total_seconds() / 3600)
    if hours < 24:
        return f"{max(1, hours)} hour{'s' if hours > 1 else ''}"
    days = max(1, round(span.total_seconds() / 86400))
    return f"{days} day{'s' if days != 1 else ''}"


def names_match(sans: Sequence[str], name: str) -> bool:
    """Whether a certificate with these subject alternative names is valid for ``name``
    (RFC 6125: an address matches an address; a ``*`` stands for one whole left label)."""
    asked = _address(name).lower().rstrip(".")
    head, _, rest = asked.partition(".")
    for given in sans:
        san = given.lower().rstrip(".")
        if san == asked or (san.startswith("*.") and head and rest == san[2:]):
            return True
    return False


def describe(
    sslobj: ssl.SSLObject | ssl.SSLSocket,
    now: dt.datetime,
    *,
    server_name: str | None,
    verified: bool,
) -> TlsDetails:
    """The ``tls`` phase's details: protocol, cipher, ALPN and each certificate of the
    chain the server sent."""
    cipher = sslobj.cipher()
    return TlsDetails(
        server_name,
        verified,
        sslobj.version(),
        cipher[0] if cipher else None,
        sslobj.selected_alpn_protocol(),
        _chain(sslobj, now),
    )


def _chain(sslobj: ssl.SSLObject | ssl.SSLSocket, now: dt.datetime) -> tuple[Certificate, ...]:
    ders: list[bytes] = []
    inner = getattr(sslobj, "_sslobj", sslobj)
    chain = getattr(inner, "get_unverified_chain", None)
    try:
        got = chain() if chain is not None else None
    except (ssl.SSLError, ValueError):
        got = None
    if got and all(hasattr(c, "get_info") for c in got):
        # OpenSSL's own decoding: no need to import cryptography (tens of ms at start-up).
        return tuple(certificate_from_info(c.get_info(), now) for c in got)
    if got:
        der = 2  # _ssl.ENCODING_DER: the private chain API of Python 3.10 to 3.12
        ders = [c if isinstance(c, bytes) else c.public_bytes(der) for c in got]
    else:
        leaf = sslobj.getpeercert(binary_form=True)
        ders = [leaf] if leaf else []
    try:
        return tuple(certificate(der, now) for der in ders)
    except ImportError:
        # cryptography is not part of the core (tether[lab] brings it), and CPython 3.10+
        # never comes here.  OpenSSL still decodes the leaf once it has been verified.
        info = sslobj.getpeercert() if ders else None
        return (certificate_from_info(info, now),) if info else ()


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


def certificate_from_info(info: dict[str, Any], now: dt.datetime) -> Certificate:
    """What :func:`certificate` says, from the dict OpenSSL decodes (``getpeercert()``)."""
    sans = info.get("subjectAltName", ())
    names = [str(v) for k, v in sans if k == "DNS"]
    names += [_address(str(v)) for k, v in sans if k == "IP Address"]
    not_before = _when(info["notBefore"])
    not_after = _when(info["notAfter"])
    return Certificate(
        _rfc4514(info.get("subject", ())),
        _rfc4514(info.get("issuer", ())),
        tuple(names),
        not_before.isoformat(),
        not_after.isoformat(),
        (not_after - now).days,
    )


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


def certificate(der: bytes, now: dt.datetime) -> Certificate:
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n) for n in sans.get_values_for_type(x509.DNSName)]
        names += [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names = []
    not_after = cert.not_valid_after_utc
    return Certificate(
        cert.subject.rfc4514_string(),
        cert.issuer.rfc4514_string(),
        tuple(names),
        cert.not_valid_before_utc.isoformat(),
        not_after.isoformat(),
        (not_after - now).days,
    )
