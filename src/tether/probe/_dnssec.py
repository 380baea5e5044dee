"""The ``dnssec`` phase of a ``dns://`` probe with ``dnssec``: the answer's chain of
trust, walked from a trust anchor down to the zone that signed the answer.

    anchor (DS or DNSKEY of zone Z0)
      └─ DNSKEY Z0, self-signed by a key the anchor names
           └─ DS Z1, signed by Z0's keys        (Z1 a signed zone below Z0)
                └─ DNSKEY Z1, self-signed by a key that DS names
                     └─ ... └─ the answer's RRsets, signed by the signer's keys

Every record is asked of the same server (the probe's resolver), with the DO bit.  The
cryptography is dnspython's (``dns.dnssec``: ``validate_rrsig``, ``make_ds``), which needs
the ``cryptography`` package (``tether[dnssec]``).

What breaks the chain, by kind:

- ``dns.dnssec_bogus``: a signature that does not verify, a DNSKEY set no DS (or anchor)
  matches, a signature by a key the zone does not publish;
- ``dns.dnssec_expired``: a signature that verifies but is outside its validity window at
  the probe's clock (expired, or not yet valid);
- ``dns.dnssec_insecure``: nothing to validate: an answer without RRSIG (an unsigned
  zone), a signed zone whose parent publishes no DS for it (missing DS), a signer outside
  the anchor's zone, or an answer with no records (denial-of-existence proofs, NSEC and
  NSEC3, are not validated).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from tether._classify import failure_for
from tether._failure import Failure
from tether._kinds import Kind
from tether.probe._details import DnssecDetails

ROOT_ANCHOR: Final = (
    ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBB683457104237C7F8EC8D"
)
"""IANA's root KSK-2017 (key tag 20326) as a DS record: the default trust anchor."""

Ask = Callable[[str, str], Awaitable[Any]]
"""Ask the resolver ``(name, record type)`` with DO set: its reply (a dnspython message)."""


@dataclass(frozen=True, slots=True)
class TrustAnchor:
    """The records a chain starts from: DS or DNSKEY records of one zone, as text."""

    zone: str
    records: tuple[str, ...]
    """Each in presentation format, owner name first."""


def parse_trust_anchor(texts: Sequence[str]) -> TrustAnchor:
    """The anchor ``texts`` give: records in presentation format (``test. DS 1 13 2
    ABCD...``, ``test. IN DNSKEY 257 3 13 ...``), or names of files holding them (one
    per line; ``;`` starts a comment).  Raises ValueError saying what is wrong."""
    lines: list[str] = []
    for text in texts or (ROOT_ANCHOR,):
        if text.strip() and len(text.split()) == 1:
            try:
                content = Path(text).read_text()
            except OSError as exc:
                raise ValueError(f"cannot read the trust anchor file {text}: {exc}") from None
            lines += [ln.split(";", 1)[0] for ln in content.splitlines()]
        else:
            lines += text.splitlines()
    records = tuple(line.strip() for line in lines if line.strip())
    if not records:
        raise ValueError("no trust anchor record: give DS or DNSKEY records of one zone")
    zones = {_record(r)[0] for r in records}
    if len(zones) > 1:
        raise ValueError(
            "the trust anchor's records are of several zones "
            f"({', '.join(sorted(str(z) for z in zones))}): give one zone's"
        )
    return TrustAnchor(str(zones.pop()), records)


def _record(text: str) -> tuple[Any, Any]:
    """(owner name, rdata) of one DS or DNSKEY record in presentation format."""
    import dns.exception
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype

    words = text.split()
    rest = words[1:]
    while rest and (rest[0].isdigit() or rest[0].upper() == "IN"):
        rest = rest[1:]  # a TTL, the class
    if len(rest) < 2 or rest[0].upper() not in ("DS", "DNSKEY"):
        raise ValueError(
            f"{text!r} is not a DS or DNSKEY record: write it as NAME DS KEYTAG ALG "
            "DIGEST-TYPE DIGEST or NAME DNSKEY FLAGS 3 ALG KEY"
        )
    try:
        owner = dns.name.from_text(words[0])
        rdata = dns.rdata.from_text(
            dns.rdataclass.IN, dns.rdatatype.from_text(rest[0].upper()), " ".join(rest[1:])
        )
    except (dns.exception.DNSException, ValueError) as exc:
        raise ValueError(f"{text!r} is not a valid {rest[0].upper()} record: {exc}") from None
    return owner, rdata


@dataclass(slots=True)
class _Chain:
    """One validation's state: what was asked and proven so far."""

    ask: Ask
    now: float
    server: str
    zones: list[str] = field(default_factory=list)
    """The zones whose keys were proven, top down."""
    keys: dict[Any, Any] = field(default_factory=dict)
    """Proven DNSKEY rdatasets, by zone name."""


class _Broken(Exception):
    def __init__(self, kind: Kind, detail: str) -> None:
        super().__init__(detail)
        self.kind, self.detail = kind, detail


async def validate(
    response: Any, name: str, anchor: TrustAnchor, ask: Ask, now: float, server: str
) -> tuple[DnssecDetails, Failure | None]:
    """Whether ``response`` (the reply to ``name``'s query, asked with DO) is proven by
    the chain from ``anchor``, at ``now`` (Unix seconds)."""
    import dns.rdatatype

    chain = _Chain(ask, now, server)
    signers: list[str] = []
    try:
        rrsets = [r for r in response.answer if r.rdtype != dns.rdatatype.RRSIG]
        if not rrsets:
            raise _Broken(
                Kind.DNS_DNSSEC_INSECURE,
                f"{server} gave no records for {name} to validate: tether does not "
                "validate denial-of-existence proofs (NSEC, NSEC3)",
            )
        for rrset in rrsets:
            signer = await _validate_rrset(chain, response, rrset, anchor)
            if signer not in signers:
                signers.append(signer)
    except _Broken as broken:
        details = DnssecDetails(anchor.zone, tuple(chain.zones), tuple(signers), False)
        return details, failure_for(broken.kind, broken.detail)
    return DnssecDetails(anchor.zone, tuple(chain.zones), tuple(signers), True), None


async def _validate_rrset(chain: _Chain, response: Any, rrset: Any, anchor: TrustAnchor) -> str:
    """Prove one RRset of the answer; the zone that signed it."""
    import dns.name
    import dns.rdatatype

    what = f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)}"
    sigs = _sigs(response, rrset.name, rrset.rdtype)
    if not sigs:
        raise _Broken(
            Kind.DNS_DNSSEC_INSECURE,
            f"{what} has no signature (RRSIG) at {chain.server}: the zone is unsigned",
        )
    signer = sigs[0].signer
    top = dns.name.from_text(anchor.zone)
    if not signer.is_subdomain(top):
        raise _Broken(
            Kind.DNS_DNSSEC_INSECURE,
            f"{what} is signed by {signer}, outside the trust anchor's zone {top}",
        )
    await _prove_keys(chain, signer, top, anchor)
    _check(chain, rrset, sigs, signer, what)
    return str(signer)


async def _prove_keys(chain: _Chain, signer: Any, top: Any, anchor: TrustAnchor) -> None:
    """Prove the DNSKEY sets from the anchor's zone down to ``signer``'s (each zone with
    keys on the way is a signed zone whose parent must publish its DS)."""
    import dns.rdatatype

    if signer in chain.keys:
        return
    names = [signer]
    while names[-1] != top:
        names.append(names[-1].parent())
    parent = None
    for zone in reversed(names):
        if zone in chain.keys:
            parent = zone
            continue
        reply = await chain.ask(str(zone), "DNSKEY")
        keys = _rrset(reply, zone, dns.rdatatype.DNSKEY)
        if keys is None:
            if zone in (signer, top):
                raise _Broken(
                    Kind.DNS_DNSSEC_INSECURE if zone == top else Kind.DNS_DNSSEC_BOGUS,
                    f"{chain.server} has no DNSKEY for {zone}, "
                    + ("the trust anchor's zone" if zone == top else "which signed the answer"),
                )
            continue  # not a zone apex: the zone above goes on
        if parent is None:
            allowed = [_record(r)[1] for r in anchor.records]
            source = "the trust anchor"
        else:
            allowed = list(await _proven_ds(chain, zone, parent))
            source = f"the DS for {zone} in {parent}"
        matched = _matching(zone, keys, allowed)
        if not matched:
            raise _Broken(
                Kind.DNS_DNSSEC_BOGUS,
                f"no DNSKEY of {zone} matches {source}: a key rollover left it behind, "
                "or the zone was re-keyed without a new DS",
            )
        sigs = _sigs(reply, zone, dns.rdatatype.DNSKEY)
        _check(chain, keys, sigs, zone, f"{zone} DNSKEY", matched)
        chain.keys[zone] = keys
        chain.zones.append(str(zone))
        parent = zone


async def _proven_ds(chain: _Chain, zone: Any, parent: Any) -> Any:
    """The DS set for ``zone``, proven by ``parent``'s keys."""
    import dns.rdatatype

    reply = await chain.ask(str(zone), "DS")
    ds = _rrset(reply, zone, dns.rdatatype.DS)
    if ds is None:
        raise _Broken(
            Kind.DNS_DNSSEC_INSECURE,
            f"{zone} is signed but {parent} publishes no DS for it (missing DS): "
            "the chain of trust stops at the delegation",
        )
    _check(chain, ds, _sigs(reply, zone, dns.rdatatype.DS), parent, f"{zone} DS")
    return ds


def _matching(zone: Any, keys: Any, allowed: list[Any]) -> list[Any]:
    """The keys of ``keys`` that a DS or DNSKEY of ``allowed`` names."""
    import dns.dnssec
    import dns.exception
    import dns.rdatatype

    out = []
    for key in keys:
        for item in allowed:
            if item.rdtype == dns.rdatatype.DNSKEY:
                same = item == key
            else:
                try:
                    same = dns.dnssec.make_ds(zone, key, item.digest_type) == item
                except (dns.exception.DNSException, ValueError):
                    same = False
            if same and key not in out:
                out.append(key)
    return out


def _check(chain: _Chain, rrset: Any, sigs: Any, signer: Any, what: str, keys: Any = None) -> None:
    """Raise unless one of ``sigs`` by ``signer`` verifies ``rrset`` now with ``keys``
    (by default the signer's proven DNSKEY set)."""
    import dns.dnssec
    import dns.exception
    import dns.rdataset

    if keys is None:
        keys = chain.keys[signer]
    elif not isinstance(keys, dns.rdataset.Rdataset):
        keys = dns.rdataset.from_rdata_list(0, keys)
    if not sigs:
        raise _Broken(Kind.DNS_DNSSEC_BOGUS, f"{what} has no signature (RRSIG) by {signer}")
    reasons: list[str] = []
    for sig in sigs:
        if sig.signer != signer:
            reasons.append(f"signed by {sig.signer}, not {signer}")
            continue
        try:
            dns.dnssec.validate_rrsig(rrset, sig, {signer: keys}, now=chain.now)
            return
        except dns.exception.DNSException as exc:
            # ValidationFailure, or UnsupportedAlgorithm (a key or digest dnspython lacks)
            reasons.append(_why(rrset, sig, signer, keys, str(exc)))
    expired = [r for r in reasons if r.startswith(("expired", "not yet valid"))]
    kind = Kind.DNS_DNSSEC_EXPIRED if expired and len(expired) == len(reasons) else None
    raise _Broken(
        kind or Kind.DNS_DNSSEC_BOGUS,
        f"{what}: {'; '.join(dict.fromkeys(reasons))}",
    )


def _why(rrset: Any, sig: Any, signer: Any, keys: Any, reason: str) -> str:
    """Why ``sig`` failed, in words: a time-window failure is said as one only when the
    signature verifies inside its window (else it is bogus whatever its dates)."""
    import datetime as dt

    import dns.dnssec
    import dns.exception

    if reason not in ("expired", "not yet valid"):
        if reason == "unknown key":
            return f"key tag {sig.key_tag} of {signer} is not among its DNSKEYs"
        if reason != "verify failure":
            return f"the signature cannot be checked: {reason}"
        return "the signature does not verify (a record changed after signing, or a wrong key)"
    try:
        dns.dnssec.validate_rrsig(rrset, sig, {signer: keys}, now=sig.inception)
    except dns.exception.DNSException:
        return "the signature does not verify (a record changed after signing, or a wrong key)"
    window = " to ".join(
        dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        for t in (sig.inception, sig.expiration)
    )
    return f"{reason}: the signature is valid from {window}"


def _rrset(reply: Any, name: Any, rdtype: int) -> Any:
    import dns.rdataclass

    found = reply.get_rrset(reply.answer, name, dns.rdataclass.IN, rdtype)
    return found if found else None


def _sigs(reply: Any, name: Any, covers: int) -> Any:
    import dns.rdataclass
    import dns.rdatatype

    found = reply.get_rrset(reply.answer, name, dns.rdataclass.IN, dns.rdatatype.RRSIG, covers)
    return found or ()
