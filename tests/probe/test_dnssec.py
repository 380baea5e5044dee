"""``dns://`` probes with ``dnssec``: the chain from the test's own ``test.`` key, asked of
the lab's DNS server on loopback serving zones signed here (tests/helpers/signed_zones.py):
valid, bogus, expired, missing DS, unsigned, a wrong anchor; and a property: a flipped bit
in any signed record never validates."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.message
import dns.rdata
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.helpers.signed_zones import DAY, NOW, Signed, make_zones, serving, silent_apex
from tether._kinds import Kind
from tether.lab import _dns
from tether.probe import (
    DnsQuery,
    DnssecDetails,
    ProbeOptions,
    ProbeResult,
    parse_trust_anchor,
    probe,
)
from tether.probe._dnssec import validate


@pytest.fixture(scope="module")
def signed() -> Signed:
    return make_zones()


@pytest.fixture(scope="module")
def resolver(signed: Signed) -> Iterator[str]:
    with serving(signed.zones) as where:
        yield where


def _ask(
    resolver: str, name: str, anchor: str, *, now: float = NOW, rdtype: str = "A"
) -> ProbeResult:
    query = DnsQuery(rdtype, dnssec=True, trust_anchor=(anchor,), clock=lambda: now)
    return probe(f"dns://{name}", ProbeOptions(timeout=2, resolver=resolver, dns=query))


def _kind(result: ProbeResult) -> str | None:
    return None if result.failure is None else result.failure.kind.value


@pytest.mark.parametrize("name", ["good.test", "www.good.test"])
def test_a_signed_answer_validates_from_the_anchor(
    signed: Signed, resolver: str, name: str
) -> None:
    """The answer, its zone's keys and their DS, and the anchor zone's keys all verify:
    the dnssec phase names the chain."""
    result = _ask(resolver, name, signed.anchor_ds)
    assert result.failure is None
    assert [p.name for p in result.phases] == ["url", "dns", "dnssec"]
    phase = result.phases[-1]
    assert phase.ok
    assert phase.ms > 0
    assert phase.details == DnssecDetails("test.", ("test.", "good.test."), ("good.test.",), True)
    dns_phase = result.phases[1].details.to_json()
    assert [a["address"] for a in dns_phase["answers"]] == [
        "127.0.0.1" if name == "good.test" else "127.0.0.2"
    ]  # the RRSIG is no answer


def test_a_dnskey_anchor_works_as_a_ds_one(signed: Signed, resolver: str) -> None:
    """The anchor may be the key itself rather than its DS."""
    assert _ask(resolver, "good.test", signed.anchor_dnskey).failure is None


def test_a_record_changed_after_signing_is_bogus(signed: Signed, resolver: str) -> None:
    """bogus.test.'s A was replaced after signing: its RRSIG does not verify."""
    result = _ask(resolver, "bogus.test", signed.anchor_ds)
    assert _kind(result) == Kind.DNS_DNSSEC_BOGUS
    assert result.failure is not None
    assert result.failure.detail.startswith("bogus.test. A: the signature does not verify")
    assert result.phases[-1].details == DnssecDetails("test.", ("test.", "bogus.test."))


def test_an_anchor_no_key_matches_is_bogus(signed: Signed, resolver: str) -> None:
    """A DS for a key test. does not publish: the top of the chain fails."""
    result = _ask(resolver, "good.test", signed.other_ds)
    assert _kind(result) == Kind.DNS_DNSSEC_BOGUS
    assert "no DNSKEY of test. matches the trust anchor" in str(result.failure)


def test_signatures_past_their_window_are_expired(signed: Signed, resolver: str) -> None:
    """expired.test.'s signatures ended 30 days before the clock: expired, with the
    window; the same chain checked at a clock inside that window validates."""
    result = _ask(resolver, "expired.test", signed.anchor_ds)
    assert _kind(result) == Kind.DNS_DNSSEC_EXPIRED
    assert result.failure is not None
    assert "expired.test. DNSKEY: expired: the signature is valid from" in result.failure.detail
    # At NOW - 45 days, test.'s own signatures are not valid yet: the clock decides.
    early = _ask(resolver, "expired.test", signed.anchor_ds, now=NOW - 45 * DAY)
    assert _kind(early) == Kind.DNS_DNSSEC_EXPIRED
    assert early.failure is not None
    assert "test. DNSKEY: not yet valid" in early.failure.detail
    late = _ask(resolver, "good.test", signed.anchor_ds, now=NOW + 31 * DAY)
    assert _kind(late) == Kind.DNS_DNSSEC_EXPIRED


def test_a_signed_zone_without_ds_is_insecure(signed: Signed, resolver: str) -> None:
    """nods.test. is signed, but test. has no DS for it: the chain stops (missing DS)."""
    result = _ask(resolver, "nods.test", signed.anchor_ds)
    assert _kind(result) == Kind.DNS_DNSSEC_INSECURE
    assert "publishes no DS for it (missing DS)" in str(result.failure)


def test_an_unsigned_zone_is_insecure(signed: Signed, resolver: str) -> None:
    """plain.test. is not signed: its answer has no RRSIG."""
    result = _ask(resolver, "plain.test", signed.anchor_ds)
    assert _kind(result) == Kind.DNS_DNSSEC_INSECURE
    assert "plain.test. A has no signature (RRSIG)" in str(result.failure)


def test_an_answer_with_no_records_is_not_validated(signed: Signed, resolver: str) -> None:
    """NODATA: denial-of-existence proofs are not validated, which the failure says;
    NXDOMAIN fails in the dns phase as without dnssec."""
    nodata = _ask(resolver, "good.test", signed.anchor_ds, rdtype="AAAA")
    assert _kind(nodata) == Kind.DNS_DNSSEC_INSECURE
    assert "does not validate denial-of-existence proofs" in str(nodata.failure)
    nx = _ask(resolver, "nx.good.test", signed.anchor_ds)
    assert _kind(nx) == Kind.DNS_NOT_FOUND
    assert [p.name for p in nx.phases] == ["url", "dns"]


def test_without_dnssec_nothing_is_validated(resolver: str) -> None:
    """A dns:// probe without dnssec asks without DO and has no dnssec phase."""
    result = probe("dns://bogus.test", ProbeOptions(timeout=2, resolver=resolver))
    assert result.failure is None
    assert [p.name for p in result.phases] == ["url", "dns"]


def test_a_server_without_the_anchor_zone_cannot_prove_it(signed: Signed) -> None:
    """Served without test., good.test. is answered but the anchor zone has no DNSKEY."""
    with serving(signed.zones[1:]) as where:
        result = _ask(where, "good.test", signed.anchor_ds)
    assert _kind(result) == Kind.DNS_DNSSEC_INSECURE
    assert "has no DNSKEY for test., the trust anchor's zone" in str(result.failure)


def _reply(signed: Signed, name: str, rdtype: str) -> dns.message.Message:
    """The lab server's reply to ``name rdtype`` with DO, from its answer function."""
    query = dns.message.make_query(name, rdtype, want_dnssec=True)
    wire = _dns.answer(query.to_wire(), signed.zones)
    assert wire is not None
    return dns.message.from_wire(wire)


_SIGNED = [("test.", "DNSKEY"), ("good.test.", "DS"), ("good.test.", "DNSKEY"), ("good.test.", "A")]


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    which=st.sampled_from(_SIGNED),
    sig=st.booleans(),
    position=st.integers(0, 10_000),
    bit=st.integers(0, 7),
)
def test_a_flipped_bit_in_any_signed_rrset_never_validates(
    signed: Signed, which: tuple[str, str], sig: bool, position: int, bit: int
) -> None:
    """Any one bit flipped in the data of any record on the chain, or of its signature,
    as if changed on the way, makes validation fail, never pass (the server's answers,
    in process)."""
    owner, rdtype = which

    async def ask(name: str, asked: str) -> Any:
        reply = _reply(signed, name, asked)
        if (name, asked) == which:
            _flip(reply, owner, rdtype, position, bit, sig=sig)
        return reply

    answer = _reply(signed, "good.test.", "A")
    if which == ("good.test.", "A"):
        _flip(answer, owner, rdtype, position, bit, sig=sig)
    anchor = parse_trust_anchor((signed.anchor_ds,))
    details, failure = asyncio.run(validate(answer, "good.test.", anchor, ask, NOW, "here"))
    assert failure is not None
    assert not details.secure
    assert failure.kind in (
        Kind.DNS_DNSSEC_BOGUS,
        Kind.DNS_DNSSEC_INSECURE,  # a flipped DS digest type or algorithm: no usable DS
    )


def _flip(
    reply: dns.message.Message, owner: str, rdtype: str, position: int, bit: int, *, sig: bool
) -> None:
    """Flip one bit of the first record of ``owner rdtype`` in ``reply``'s answer (with
    ``sig``, of its first RRSIG)."""
    covered = dns.rdatatype.from_text(rdtype)
    kind = dns.rdatatype.RRSIG if sig else covered
    for rrset in reply.answer:
        if (
            rrset.rdtype == kind
            and str(rrset.name) == owner
            and (not sig or rrset.covers == covered)
        ):
            first = next(iter(rrset))
            wire = bytearray(first.to_digestable())
            at = position % len(wire)
            wire[at] ^= 1 << bit
            try:
                changed = dns.rdata.from_wire(rrset.rdclass, kind, bytes(wire), 0, len(wire))
            except Exception:
                assume(False)
            assume(changed != first)
            # In place: the message's index (which find_rrset reads) keeps the object.
            rrset.discard(first)
            try:
                rrset.add(changed)
            except Exception:  # an RRSIG now covering another type: not this RRset's
                assume(False)
            return
    raise AssertionError(f"{owner} {rdtype} is not in the reply")


def test_an_anchor_file_is_read(signed: Signed, resolver: str, tmp_path: Path) -> None:
    """trust_anchor may name a file of records, comments allowed."""
    path = tmp_path / "anchor.txt"
    path.write_text(f"; the test zone's key\n{signed.anchor_ds}\n")
    assert _ask(resolver, "good.test", str(path)).failure is None
    result = _ask(resolver, "good.test", str(tmp_path / "missing.txt"))
    assert _kind(result) == Kind.URL_INVALID
    assert "cannot read the trust anchor file" in str(result.failure)


@pytest.mark.parametrize(
    ("texts", "error"),
    [
        (("test. A 127.0.0.1",), "is not a DS or DNSKEY record"),
        (("test. DS 1 13 2 zz",), "is not a valid DS record"),
        ((f"a.test. DS 1 13 2 {'AB' * 32}", f"b.test. DS 1 13 2 {'AB' * 32}"), "several zones"),
    ],
)
def test_a_malformed_anchor_says_what_is_wrong(texts: tuple[str, ...], error: str) -> None:
    """Anchors are parsed with a readable error."""
    with pytest.raises(ValueError, match=error):
        parse_trust_anchor(texts)


def test_the_default_anchor_is_the_root_ksk() -> None:
    """No anchor given: IANA's root KSK-2017, key tag 20326."""
    anchor = parse_trust_anchor(())
    assert anchor.zone == "."
    assert " 20326 8 2 " in anchor.records[0]


def test_a_chain_the_server_does_not_give_in_time_is_a_dns_timeout() -> None:
    """The answer comes, the DNSKEY query is never answered: dns.timeout within the
    probe's one timeout, naming the validation."""
    zone, anchor = silent_apex()
    with serving((zone,)) as where:
        query = DnsQuery("A", dnssec=True, trust_anchor=(anchor,), clock=lambda: NOW)
        options = ProbeOptions(timeout=0.3, resolver=where, dns=query)
        result = probe("dns://www.silent.lab.test", options)
    assert _kind(result) == Kind.DNS_TIMEOUT
    assert result.failure is not None
    assert result.failure.detail.startswith("validating www.silent.lab.test")
    assert result.phases[-1].name == "dnssec"
    assert result.phases[-1].ms < 1000
