"""``dns:`` monitors with ``dnssec: true``: the prober checks them against the lab's DNS
server serving zones signed in the test (tests/helpers/signed_zones.py), at its injected
wall clock; an agent reads one back as the server dumps it and probes it the same way;
the options' mistakes are named by key."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.agent_stub import AgentStub, agent_for
from tests.helpers.config_text import dump, errors_of
from tests.helpers.signed_zones import DAY, NOW, Signed, make_zones, serving
from tether.monitor._agent_wire import Assignment
from tether.monitor._records import ProbeRecord
from tether.monitor.checks._prober import Prober
from tether.monitor.config import Monitor, parse_config
from tether.monitor.config._fields import SECONDS_CONTEXT


@pytest.fixture(scope="module")
def signed() -> Signed:
    return make_zones()


@pytest.fixture(scope="module")
def resolver(signed: Signed) -> Iterator[str]:
    with serving(signed.zones) as where:
        yield where


def _config(resolver: str, anchor: str, **extra: Any) -> str:
    lines = ["monitors:"]
    for name in ("good", "bogus", "expired", "nods", "plain"):
        lines.append(
            f"  - {{name: {name}, url: 'dns://{name}.test', resolver: '{resolver}', "
            f"dns: {{dnssec: true, trust_anchor: '{anchor}'}}, "
            "conditions: ['[PHASE].dnssec < 5s']}"
        )
    return "\n".join(lines) + "\n"


def _checked(cfg_text: str, wall: float) -> dict[str, ProbeRecord]:
    config = parse_config(cfg_text)
    prober = Prober(wall=lambda: wall)
    prober.assign(config.monitors)

    async def go() -> dict[str, ProbeRecord]:
        return {n: (await prober.check(n, prober.mono())).record for n in sorted(prober.names)}

    return asyncio.run(go())


def test_the_prober_judges_each_chain_at_its_wall_clock(signed: Signed, resolver: str) -> None:
    """Valid passes (its condition on the dnssec phase too); bogus, expired, missing DS
    and unsigned fail with their kinds; 31 days on, the valid one has expired."""
    found = _checked(_config(resolver, signed.anchor_ds), NOW)
    assert found["good"].ok, found["good"].detail
    assert [(n, r.kind) for n, r in sorted(found.items()) if not r.ok] == [
        ("bogus", "dns.dnssec_bogus"),
        ("expired", "dns.dnssec_expired"),
        ("nods", "dns.dnssec_insecure"),
        ("plain", "dns.dnssec_insecure"),
    ]
    later = _checked(_config(resolver, signed.anchor_ds), NOW + 31 * DAY)
    assert later["good"].kind == "dns.dnssec_expired"


def test_an_agent_reads_a_dnssec_monitor_as_dumped_and_probes_it(
    signed: Signed, resolver: str, tmp_path: Path
) -> None:
    """The monitor as the server sends it to an agent validates to the same monitor, and
    the agent's prober validates its chain."""
    config = parse_config(_config(resolver, signed.anchor_ds))
    loaded = config.monitor("good")
    dumped = loaded.model_dump(mode="json")
    assert Monitor.model_validate(dumped, context={SECONDS_CONTEXT: True}) == loaded

    async def go(stub: AgentStub) -> ProbeRecord:
        async with agent_for(stub, tmp_path / "w.spool", wall=lambda: NOW) as agent:
            assignment = Assignment("7", "branch-1", (dumped,), 60.0, 5.0, NOW)
            assert agent.apply(assignment) == [loaded]
            return (await agent.prober.check("good", agent.mono())).record

    with AgentStub([]).running() as stub:
        record = asyncio.run(go(stub))
    assert record.ok, record.detail


@pytest.mark.parametrize(
    ("dns", "error"),
    [
        (
            {"dnssec": True, "trust_anchor": "test. A 127.0.0.1"},
            "monitors[0].dns.trust_anchor[0]: 'test. A 127.0.0.1' is not a DS or DNSKEY record",
        ),
        (
            {"dnssec": True, "trust_anchor": ["test. DS 1 13 2 zz"]},
            "monitors[0].dns.trust_anchor[0]: 'test. DS 1 13 2 zz' is not a valid DS record",
        ),
        (
            {"trust_anchor": f"test. DS 1 13 2 {'AB' * 32}"},
            "monitors[0].dns.trust_anchor: is set but dnssec is not: add dnssec: true",
        ),
        (
            {"dnssec": True, "rcode": "NXDOMAIN"},
            "monitors[0].dns.rcode: NXDOMAIN with dnssec: denial-of-existence proofs",
        ),
        (
            {"dnssec": True, "trust_anchor": "/nonexistent/anchor.txt"},
            "monitors[0].dns.trust_anchor: cannot read the trust anchor file",
        ),
        ({"dnssec": "yes please"}, "monitors[0].dns.dnssec: "),
    ],
)
def test_dnssec_option_errors_name_their_key(dns: dict[str, Any], error: str) -> None:
    """Each mistake in the DNSSEC options is one line at its key."""
    (got,) = errors_of(dump({"name": "n", "url": "dns://good.test", "dns": dns}))
    assert got.startswith(error), got
