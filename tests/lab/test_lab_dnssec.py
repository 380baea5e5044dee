"""The lab's dnssec_* scenarios, probed by tether's own dns:// check with ``dnssec`` from
the lab's trust anchor, at the real clock: each gives the kind SPECS declares."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from typing import Any

import dns.message
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether._kinds import Kind
from tether.lab import Lab, _dns
from tether.lab._lab import DNSSEC_SCENARIOS, listener_of
from tether.lab._matrix import planned
from tether.lab._signed import FAULTS, SignedTree, signed_tree
from tether.probe import (
    DnsQuery,
    DnssecDetails,
    ProbeOptions,
    ProbeResult,
    parse_trust_anchor,
    probe_async,
)
from tether.probe._dnssec import validate

# What each failure says: the fault the scenario is made of, not only its kind.
SAYS = {
    "dnssec_bogus": "bogus.dnssec.lab.test. A: the signature does not verify",
    "dnssec_rollover": "no DNSKEY of rollover.dnssec.lab.test. matches the DS for",
    "dnssec_wrong_anchor": "no DNSKEY of dnssec.lab.test. matches the trust anchor",
    "dnssec_expired": "expired.dnssec.lab.test. DNSKEY: expired: the signature is valid from",
    "dnssec_not_yet_valid": "early.dnssec.lab.test. DNSKEY: not yet valid",
    "dnssec_insecure": "publishes no DS for it (missing DS)",
    "dnssec_unsigned": "unsigned.dnssec.lab.test. A has no signature (RRSIG)",
    "dnssec_nodata": "does not validate denial-of-existence proofs",
    "dnssec_outside": "outside the trust anchor's zone dnssec.lab.test.",
}


def _probe(lab: Lab, name: str) -> ProbeResult:
    scenario = lab[name]
    assert scenario.trust_anchor is not None
    query = DnsQuery(dnssec=True, trust_anchor=(scenario.trust_anchor,))
    options = ProbeOptions(timeout=2, resolver=scenario.resolver, dns=query)
    return asyncio.run(probe_async(scenario.url, options))


@pytest.mark.parametrize("name", sorted(DNSSEC_SCENARIOS))
def test_each_dnssec_scenario_gives_its_kind(lab: Lab, name: str) -> None:
    """Asked of the lab's DNS server with the scenario's trust anchor, the check ends in
    the dnssec phase with the scenario's kind, for the scenario's reason."""
    result = _probe(lab, name)
    kind = result.failure.kind if result.failure else None
    assert kind == lab[name].kind, result.failure
    assert [p.name for p in result.phases] == ["url", "dns", "dnssec"]
    if name in SAYS:
        assert result.failure is not None
        assert SAYS[name] in result.failure.detail


def test_the_healthy_scenario_names_its_chain(lab: Lab) -> None:
    """dnssec_ok is proven from the lab's anchor down to the zone that signed it."""
    result = _probe(lab, "dnssec_ok")
    assert result.phases[-1].details == DnssecDetails(
        "dnssec.lab.test.",
        ("dnssec.lab.test.", "ok.dnssec.lab.test."),
        ("ok.dnssec.lab.test.",),
        True,
    )


def test_expired_signatures_are_expired_at_the_real_clock(lab: Lab) -> None:
    """The lab signs at its start: dnssec_expired's window ended before now (and
    dnssec_not_yet_valid's starts after), so a real monitor sees them so."""
    for name, ended in (("dnssec_expired", True), ("dnssec_not_yet_valid", False)):
        failure = _probe(lab, name).failure
        assert failure is not None
        start, end = (
            dt.datetime.strptime(t, "%Y-%m-%d %H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()
            for t in re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", failure.detail)
        )
        assert (end < time.time()) if ended else (start > time.time()), failure.detail


def test_the_anchor_is_the_lab_s_own(lab: Lab) -> None:
    """Every scenario but dnssec_wrong_anchor starts from the lab's DS of its tree, which
    is served by the lab resolver on the DNS server's port."""
    assert lab.trust_anchor.startswith("dnssec.lab.test. DS ")
    for name in DNSSEC_SCENARIOS:
        scenario = lab[name]
        assert scenario.resolver == lab.resolver
        assert scenario.port == int(lab.resolver.rsplit(":", 1)[1])
        assert listener_of(name) == "dns"
        wrong = name == "dnssec_wrong_anchor"
        assert (scenario.trust_anchor == lab.trust_anchor) != wrong


def test_the_lab_s_plain_names_still_answer(lab: Lab) -> None:
    """Serving the signed zones does not take over the lab's other names."""
    options = ProbeOptions(timeout=2, resolver=lab.resolver)
    result = asyncio.run(probe_async("dns://ok.lab.test", options))
    assert result.failure is None
    nx = asyncio.run(probe_async("dns://nx.lab.test", options))
    assert nx.failure is not None
    assert nx.failure.kind.value == "dns.not_found"


def test_the_matrix_leaves_them_out() -> None:
    """The HTTP clients' matrix plans no dnssec cell."""
    assert not {name for name, _ in planned(netns=False)} & DNSSEC_SCENARIOS


EXPECTED_KIND = {
    "ok": None,
    "bogus": Kind.DNS_DNSSEC_BOGUS,
    "rollover": Kind.DNS_DNSSEC_BOGUS,
    "expired": Kind.DNS_DNSSEC_EXPIRED,
    "not_yet_valid": Kind.DNS_DNSSEC_EXPIRED,
    "nods": Kind.DNS_DNSSEC_INSECURE,
    "unsigned": Kind.DNS_DNSSEC_INSECURE,
}


@settings(max_examples=25, deadline=None)
@given(
    faults=st.lists(st.sampled_from(FAULTS), min_size=1, max_size=4),
    now=st.integers(1_000_000_000, 4_000_000_000),
)
def test_any_tree_the_signer_makes_validates_as_its_faults_say(faults: list[str], now: int) -> None:
    """Whatever children a tree has, in any order, at any clock: each child's answer, asked
    of the lab's answer function in process (no socket), validates to its fault's kind at
    the clock it was signed for, and its siblings' faults do not leak into it."""
    assert set(EXPECTED_KIND) == set(FAULTS)
    children = {f"c{i}": fault for i, fault in enumerate(faults)}
    tree = signed_tree("tree.test.", children, float(now))
    anchor = parse_trust_anchor((tree.anchor_ds,))

    async def ask(name: str, rdtype: str) -> Any:
        return _reply(tree, name, rdtype)

    for label, fault in children.items():
        name = f"{label}.tree.test."
        details, failure = asyncio.run(
            validate(_reply(tree, name, "A"), name, anchor, ask, float(now), "here")
        )
        assert (failure.kind if failure else None) == EXPECTED_KIND[fault], (fault, failure)
        assert details.secure == (fault == "ok")


def _reply(tree: SignedTree, name: str, rdtype: str) -> Any:
    query = dns.message.make_query(name, rdtype, want_dnssec=True)
    wire = _dns.answer(query.to_wire(), tree.zones)
    assert wire is not None
    return dns.message.from_wire(wire)


def test_a_monitor_at_the_real_clock_sees_each_scenario_s_kind(lab: Lab) -> None:
    """Monitors written as a user would (the scenario's dns:// URL, the lab's resolver,
    the scenario's trust anchor), checked by the monitor's prober on its own wall clock:
    each gets the scenario's kind, so the expired signatures are expired for real."""
    from tether.monitor.checks._prober import Prober
    from tether.monitor.config import parse_config

    lines = ["monitors:"]
    for name in sorted(DNSSEC_SCENARIOS):
        s = lab[name]
        lines.append(
            f"  - {{name: {name}, url: '{s.url}', resolver: '{s.resolver}', "
            f"dns: {{dnssec: true, trust_anchor: '{s.trust_anchor}'}}}}"
        )
    prober = Prober()
    prober.assign(parse_config("\n".join(lines) + "\n").monitors)

    async def go() -> dict[str, str | None]:
        checked = {}
        for name in sorted(prober.names):
            record = (await prober.check(name, prober.mono())).record
            checked[name] = None if record.ok else record.kind
        return checked

    found = asyncio.run(go())
    assert found == {
        name: (lab[name].kind.value if lab[name].kind else None) for name in DNSSEC_SCENARIOS
    }
