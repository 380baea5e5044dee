"""``tether._rcodes``: the one table of DNS response codes.  Pure."""

from __future__ import annotations

import dns.rcode
import pytest

from tether._kinds import Kind
from tether._rcodes import HEADER_RCODES, RCODES, rcode_kind, rcode_of_kind, worst_rcode


def test_the_names_are_dnspythons_and_in_number_order() -> None:
    """Each name is the one dnspython writes for its number; the header's are 0 to 10."""
    assert [dns.rcode.to_text(dns.rcode.from_text(name)) for name in RCODES] == list(RCODES)
    assert [dns.rcode.from_text(name) for name in HEADER_RCODES] == list(range(11))
    assert (*HEADER_RCODES, "BADVERS") == RCODES


@pytest.mark.parametrize(
    ("codes", "worst"),
    [
        ([], "NOERROR"),
        (["NOERROR", "NOERROR"], "NOERROR"),
        (["NOERROR", "SERVFAIL"], "SERVFAIL"),
        (["REFUSED", "SERVFAIL"], "REFUSED"),
        (["SERVFAIL", "NXDOMAIN"], "NXDOMAIN"),
    ],
)
def test_worst_rcode(codes: list[str], worst: str) -> None:
    """NXDOMAIN decides, then the first that is not NOERROR, then NOERROR."""
    assert worst_rcode(codes) == worst
    assert worst_rcode(iter(codes)) == worst


@pytest.mark.parametrize(
    ("rcode", "kind"),
    [
        ("NOERROR", None),
        ("NXDOMAIN", Kind.DNS_NOT_FOUND),
        ("SERVFAIL", Kind.DNS_UNAVAILABLE),
        ("REFUSED", Kind.DNS_UNAVAILABLE),
        ("BADVERS", Kind.DNS_UNAVAILABLE),
    ],
)
def test_rcode_kind(rcode: str, kind: Kind | None) -> None:
    """An answer's code as a failure: none, no such name, or a server that could not say."""
    assert rcode_kind(rcode) is kind


@pytest.mark.parametrize(
    ("kind", "rcode"),
    [
        (None, "NOERROR"),
        (Kind.DNS_NOT_FOUND, "NXDOMAIN"),
        (Kind.DNS_NO_ADDRESS, "NOERROR"),
        (Kind.DNS_TIMEOUT, None),
        (Kind.DNS_UNAVAILABLE, None),
    ],
)
def test_rcode_of_kind(kind: Kind | None, rcode: str | None) -> None:
    """The system resolver's outcome implies a code only when it is certain."""
    assert rcode_of_kind(kind) == rcode
