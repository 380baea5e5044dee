"""DNS response codes: the one table of their names, and what each says as a failure.

The conditions (``[DNS_RCODE] == NXDOMAIN``), a ``dns://`` monitor's expected ``rcode``,
the probe's direct queries and the monitor's DNS check all read their names here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal, get_args

from tether._kinds import Kind

__all__ = [
    "HEADER_RCODES",
    "RCODES",
    "HeaderRcode",
    "Rcode",
    "rcode_kind",
    "rcode_of_kind",
    "worst_rcode",
]

HeaderRcode = Literal[
    "NOERROR",
    "FORMERR",
    "SERVFAIL",
    "NXDOMAIN",
    "NOTIMP",
    "REFUSED",
    "YXDOMAIN",
    "YXRRSET",
    "NXRRSET",
    "NOTAUTH",
    "NOTZONE",
]
"""The codes 0 to 10 of a DNS header's four bits (RFC 1035 4.1.1, RFC 2136 2.2), in order."""

Rcode = Literal[HeaderRcode, "BADVERS"]
"""...and BADVERS (16), the extended code of a server that does not speak the query's EDNS
version (RFC 6891 9)."""

HEADER_RCODES: Final[tuple[str, ...]] = get_args(HeaderRcode)
RCODES: Final[tuple[str, ...]] = get_args(Rcode)

# Which failure an answer's code is.  Any other code but NOERROR: the server could not say.
_KINDS: Final = {"NOERROR": None, "NXDOMAIN": Kind.DNS_NOT_FOUND}
# getaddrinfo hides the code; its outcome still implies one (no address: the name exists).
_IMPLIED: Final = {None: "NOERROR", Kind.DNS_NOT_FOUND: "NXDOMAIN", Kind.DNS_NO_ADDRESS: "NOERROR"}


def worst_rcode(codes: Iterable[str]) -> str:
    """The code that decides among one query's answers (one per record type): NXDOMAIN,
    else the first that is not NOERROR, else NOERROR."""
    seen = list(codes)
    if "NXDOMAIN" in seen:
        return "NXDOMAIN"
    return next((code for code in seen if code != "NOERROR"), "NOERROR")


def rcode_kind(rcode: str) -> Kind | None:
    """The failure an answer with ``rcode`` is: None for NOERROR, ``dns.not_found`` for
    NXDOMAIN, ``dns.unavailable`` for the rest (SERVFAIL, REFUSED, ...)."""
    return _KINDS.get(rcode, Kind.DNS_UNAVAILABLE)


def rcode_of_kind(kind: Kind | None) -> str | None:
    """The code the system resolver's outcome implies (getaddrinfo does not tell it):
    NOERROR for an answer or for no address, NXDOMAIN for no such name, else unknown."""
    return _IMPLIED.get(kind)
