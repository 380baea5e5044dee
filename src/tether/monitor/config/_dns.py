"""A ``dns://`` monitor's options: the query, the answer expected, and DNSSEC."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator

from tether._rcodes import HeaderRcode
from tether.monitor.config._base import _Model
from tether.monitor.config._errors import KeyPath, Problem, fail, show
from tether.monitor.config._fields import one_or_many

__all__ = ["DnsOptions", "RecordType", "dnssec_problems"]

RecordType = Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS"]


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


def _check_anchor(value: str) -> str:
    """A record is parsed here (a typo is named with its key); a file name is read
    when the monitor is checked (:func:`dnssec_problems`) and probed."""
    from tether.probe import parse_trust_anchor

    if len(value.split()) > 1:
        try:
            parse_trust_anchor((value,))
        except ValueError as exc:
            raise fail(str(exc)) from None
    elif not value.strip():
        raise fail(f"{show(value)} is empty: give a DS or DNSKEY record, or a file of them")
    return value


class DnsOptions(_Model):
    """What a ``dns://`` monitor asks and expects."""

    record_type: Annotated[RecordType, BeforeValidator(_upper)] = "A"
    answers: Annotated[tuple[str, ...], BeforeValidator(one_or_many)] = ()
    """Answers that must all be present (in any order); empty means any answer."""
    rcode: Annotated[HeaderRcode, BeforeValidator(_upper)] = "NOERROR"
    dnssec: bool = False
    """Require the answer validated from ``trust_anchor`` (docs/monitor.md, "DNSSEC")."""
    trust_anchor: Annotated[
        tuple[Annotated[str, AfterValidator(_check_anchor)], ...], BeforeValidator(one_or_many)
    ] = ()
    """DS or DNSKEY records of one zone, or files of them; empty: the root's KSK-2017."""


def dnssec_problems(dns: DnsOptions, at: KeyPath) -> list[Problem]:
    """What the whole of ``dns``'s DNSSEC options get wrong, each at its key."""
    from tether.probe import parse_trust_anchor

    errors: list[Problem] = []
    if dns.trust_anchor and not dns.dnssec:
        errors.append(((*at, "trust_anchor"), "is set but dnssec is not: add dnssec: true"))
    if not dns.dnssec:
        return errors
    if dns.rcode != "NOERROR":
        errors.append(
            (
                (*at, "rcode"),
                f"{dns.rcode} with dnssec: denial-of-existence proofs (NSEC, NSEC3) are "
                "not validated; only a NOERROR answer with records can be",
            )
        )
    try:
        parse_trust_anchor(dns.trust_anchor)
    except ValueError as exc:
        errors.append(((*at, "trust_anchor"), str(exc)))
    return errors
