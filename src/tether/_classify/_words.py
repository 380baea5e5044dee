"""The words of the kernel, the resolver and OpenSSL that a client copies into a message of
its own when it keeps no exception to chain: libpq ("Connection refused"), pymongo
("[Errno 111] Connection refused"), gRPC's core ("recvmsg:Connection reset by peer (104)"),
pika ("(111, ...)").

Read only from a client whose messages are known (the caller decides): the same words
from other code say nothing.  Most specific first; the first phrase found decides.
"""

from __future__ import annotations

import re

from tether._classify._evidence import TIMEOUT, Evidence
from tether._classify._sockets import ERRNO_KINDS
from tether._kinds import Kind

# (lowercase phrase, kind), most specific first.
_PHRASES: tuple[tuple[str, Kind | str], ...] = (
    # the resolver (glibc's gai_strerror, libpq's "could not translate host name")
    ("name or service not known", Kind.DNS_NOT_FOUND),
    ("nodename nor servname", Kind.DNS_NOT_FOUND),
    ("no address associated with hostname", Kind.DNS_NO_ADDRESS),
    ("temporary failure in name resolution", Kind.DNS_UNAVAILABLE),
    ("dns resolution failed", Kind.DNS_UNAVAILABLE),
    ("could not translate host name", Kind.DNS_UNAVAILABLE),
    # OpenSSL and the clients' TLS words
    ("certificate has expired", Kind.TLS_EXPIRED),
    ("certificate is not yet valid", Kind.TLS_EXPIRED),
    ("self-signed certificate", Kind.TLS_SELF_SIGNED),
    ("self signed certificate", Kind.TLS_SELF_SIGNED),
    ("does not match host name", Kind.TLS_HOSTNAME_MISMATCH),
    ("hostname mismatch", Kind.TLS_HOSTNAME_MISMATCH),
    ("certificate verify failed", Kind.TLS_UNTRUSTED),
    ("certificate_verify_failed", Kind.TLS_UNTRUSTED),
    ("unable to get local issuer certificate", Kind.TLS_UNTRUSTED),
    ("wrong version number", Kind.TLS_PROTOCOL),
    ("ssl handshake failed", Kind.TLS_PROTOCOL),
    ("handshake failed", Kind.TLS_PROTOCOL),
    ("tlsv1 alert", Kind.TLS_PROTOCOL),
    ("server does not support ssl", Kind.TLS_PROTOCOL),
    # the kernel's strerror
    ("connection refused", Kind.CONNECT_REFUSED),
    ("connection reset by peer", Kind.CONNECTION_RESET),
    ("broken pipe", Kind.CONNECTION_BROKEN_PIPE),
    ("no route to host", Kind.CONNECT_UNREACHABLE),
    ("network is unreachable", Kind.CONNECT_UNREACHABLE),
    ("connection timed out", TIMEOUT),
    ("timeout expired", TIMEOUT),
    ("timed out", TIMEOUT),
    ("deadline exceeded", TIMEOUT),
    # the clients' own words for a peer that hung up
    ("server closed the connection unexpectedly", Kind.CONNECTION_CLOSED),
    ("connection closed", Kind.CONNECTION_CLOSED),
    ("socket closed", Kind.CONNECTION_CLOSED),
    ("connection lost", Kind.CONNECTION_CLOSED),
    ("eof detected", Kind.CONNECTION_CLOSED),
    ("transport indicated eof", Kind.CONNECTION_CLOSED),
    ("unexpectedly closed", Kind.CONNECTION_CLOSED),
)

_ERRNO = re.compile(r"\[Errno (-?\d+)\]|\((\d{2,3})\)|\((\d{2,3}), ['\"]")


def words_kind(text: str) -> Kind | str | None:
    """The kind that a client's message names by the kernel's, the resolver's or OpenSSL's
    words (``TIMEOUT`` for a timeout whose phase the caller decides); None if none."""
    lower = text.lower()
    for phrase, kind in _PHRASES:
        if phrase in lower:
            return kind
    for match in _ERRNO.finditer(text):
        number = next(group for group in match.groups() if group is not None)
        said = ERRNO_KINDS.get(int(number))
        if said is not None:
            return said
    return None


def offer_words(text: str, ev: Evidence, depth: int, strength: int) -> bool:
    """Offer the kind ``text`` names (see :func:`words_kind`); whether it named one."""
    kind = words_kind(text)
    if kind is None:
        return False
    if kind == TIMEOUT:
        ev.timeouts.append(TimeoutError(text))
    ev.offer(kind, strength, depth, _said(text))
    return True


def _said(text: str) -> str:
    """The client's words, on one line and bounded."""
    return " ".join(text.split())[:300]


_PEER = re.compile(
    r'server at "(?P<pg>[^"]+)", port (?P<pgport>\d+)'  # libpq
    r"|(?:ipv4:|ipv6:)?\[?(?P<host>[\w.:-]*?[\w.-])\]?:(?P<port>\d{1,5})(?=[:\s,)'\"]|$)"
)


def note_peer_in(text: str, ev: Evidence, depth: int) -> None:
    """The peer a client names in its message (``server at "H", port P``, ``H:P:``)."""
    match = _PEER.search(text)
    if match is None:
        return
    if match["pg"]:
        ev.at(match["pg"], int(match["pgport"]), depth)
    elif match["host"]:
        port = int(match["port"])
        if 0 < port < 65536:
            ev.at(match["host"], port, depth)
