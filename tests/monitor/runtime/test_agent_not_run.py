"""What an agent cannot run of its assignment (issue 44, section 3), as the agent says it:
a monitor its tether's model refuses, a check it lacks the extra for, a file it names that
is not on this machine.  Such a monitor is not probed (so it never fails a check its
server would count), said in the log once per episode, and told to the server in the
batches (``cannot_run``) until one telling it is taken, and again every lease; an
episode keeps its since across the agent's restart.  Against the stand-in server."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.agent_stub import AgentStub, agent_for, made
from tether import _extras
from tether.lab import Lab
from tether.monitor._agent_wire import NotRun
from tether.monitor.config import Monitor
from tether.monitor.runtime.agents._can_run import why_not_run


def _monitor(name: str, url: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "url": url, "interval": 1.0, "timeout": 0.5, **more}


def test_what_it_cannot_run_is_not_probed_and_told_until_taken(
    lab: Lab, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Of three monitors, one its model refuses and one whose CA file is not here are not
    probed; the first batch says both (with why and since), the next says nothing new,
    and once the server's assignment fixes one, the next batch says the one left; each
    episode is in the log once, and its end too."""
    healthy = _monitor("healthy", lab["healthy"].url)
    refused = _monitor("newer", lab["healthy"].url, some_key_of_a_newer_tether=1)
    no_ca = _monitor("no-ca", lab["healthy"].url.replace("http:", "https:"))
    no_ca["tls"] = {"ca_file": str(tmp_path / "absent-ca.pem")}

    async def go(stub: AgentStub) -> None:
        async with agent_for(stub, tmp_path / "a.spool") as agent:
            probed = agent.apply(await agent.fetch())
            assert [m.name for m in probed] == ["healthy"]
            assert agent.prober.names == {"healthy"}
            await agent.send()
            await agent.send()
            stub.assign([healthy, refused])  # the CA file's monitor removed
            agent.apply(await agent.fetch(wait=5))
            await agent.send()

    with (
        caplog.at_level(logging.INFO, "tether.agent"),
        AgentStub([healthy, refused, no_ca]).running() as stub,
    ):
        asyncio.run(go(stub))
    first, second, third = stub.said
    assert first is not None
    assert [n.monitor for n in first] == ["newer", "no-ca"]
    newer, ca = first
    assert "not a monitor this agent's tether" in newer.why
    assert "some_key_of_a_newer_tether" in newer.why
    assert (
        ca.why == f"tls.ca_file {tmp_path / 'absent-ca.pem'}: no such file on the agent's machine"
    )
    assert abs(ca.since - time.time()) < 60
    assert second is None  # taken already: not said again within the lease
    assert third == (newer,)  # same episode, same since
    lines = [r.getMessage() for r in caplog.records]
    assert sum(x.startswith("monitor newer not run:") for x in lines) == 1
    assert sum(x.startswith("monitor no-ca not run:") for x in lines) == 1
    assert sum(x == "monitor no-ca runs now" for x in lines) == 1


def test_an_episode_keeps_its_since_across_a_restart_and_is_said_every_lease(
    tmp_path: Path,
) -> None:
    """The monitors not run are kept in the spool: a restarted agent tells the same since
    (so the server knows the same episode); and a list the server took is told again
    once a lease has passed (an instance of a cluster that missed it learns it)."""
    broken = _monitor("broken", "http://127.0.0.1:9/", interval=0.5)
    mono = [1000.0]

    async def go(stub: AgentStub) -> None:
        async with agent_for(stub, tmp_path / "b.spool") as agent:
            agent.apply(await agent.fetch())
            await agent.send()
        async with agent_for(stub, tmp_path / "b.spool", mono=lambda: mono[0]) as agent:
            agent.apply(await agent.fetch())
            await agent.send()
            await agent.send()
            mono[0] += 61.0  # past the stand-in's lease of 60 s
            await agent.send()

    with AgentStub([broken], lease=60.0).running() as stub:
        asyncio.run(go(stub))
    before, after, quiet, again = stub.said
    assert before is not None
    assert after == before == again
    assert quiet is None


def test_a_check_whose_extra_is_missing_is_not_run_but_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A grpc:// monitor on an agent without the grpc extra is said as not run, naming
    what to install, and is not probed: probed, it would fail with url.invalid at every
    check, a failure its server counts against the target.  The extra is made missing by
    naming a module no installation has in its table (``_extras.EXTRAS``): this one has
    every extra installed, and no other can be made here."""
    monkeypatch.setitem(_extras.EXTRAS, "grpc", ("no_such_module_for_grpc",))
    grpc = _monitor("ledger", "grpc://127.0.0.1:50051")

    async def go(stub: AgentStub) -> None:
        async with agent_for(stub, tmp_path / "c.spool") as agent:
            assert agent.apply(await agent.fetch()) == []
            await agent.send()

    with AgentStub([grpc]).running() as stub:
        asyncio.run(go(stub))
    ((said,),) = stub.said
    assert isinstance(said, NotRun)
    assert said.monitor == "ledger"
    assert said.why == (
        "a grpc:// check needs tether[grpc] (missing: no_such_module_for_grpc): "
        "pip install 'tether[grpc]'"
    )
    assert stub.checks() == []


def test_the_files_a_monitor_names_must_be_on_the_agents_machine() -> None:
    """A CA file, a DNSSEC trust anchor's file, an RDAP bootstrap file (used by a
    condition) and a browser's executable (filled in from the server's probe:) are looked
    for on this machine; a bootstrap no condition reads is not."""
    https, dns, rdap, records, page = (
        Monitor.model_validate(m)
        for m in (
            {"name": "a", "url": "https://127.0.0.1/", "tls": {"ca_file": "/etc/absent/ca.pem"}},
            {
                "name": "b",
                "url": "dns://example.test",
                "dns": {"dnssec": True, "trust_anchor": "/etc/absent/root.key"},
            },
            {
                "name": "c",
                "url": "https://api.test/",
                "conditions": ["[DOMAIN_EXPIRATION] > 30d"],
                "rdap": {"bootstrap": "/etc/absent/dns.json"},
            },
            {"name": "d", "url": "https://api.test/", "rdap": {"bootstrap": "/etc/absent/x"}},
            {"name": "e", "url": "https://api.test/", "browser": {"executable": "/opt/chrome"}},
        )
    )
    present = {"/usr/bin/chromium"}
    assert why_not_run(https, present.__contains__) == (
        "tls.ca_file /etc/absent/ca.pem: no such file on the agent's machine"
    )
    assert why_not_run(dns, present.__contains__) == (
        "dns.trust_anchor /etc/absent/root.key: no such file on the agent's machine"
    )
    assert why_not_run(rdap, present.__contains__) == (
        "rdap.bootstrap /etc/absent/dns.json: no such file on the agent's machine"
    )
    assert why_not_run(records, present.__contains__) is None
    assert why_not_run(page, present.__contains__) == (
        "browser.executable /opt/chrome: no such file on the agent's machine"
    )


def test_checks_the_server_would_refuse_are_dropped_counted_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A check dated two days ahead (a clock set back since it was made) and one older
    than the server keeps (max_age, 1 h here) are dropped before the batch leaves,
    counted in the next batch's dropped, and said; the others arrive."""
    now = time.time()

    async def go(stub: AgentStub) -> None:
        async with agent_for(stub, tmp_path / "d.spool") as agent:
            agent.apply(await agent.fetch())
            agent.take(made(0, now - 7200))  # older than max_age
            agent.take(made(1, now - 10))
            agent.take(made(2, now + 2 * 86400))  # ahead of its batch by two days
            await agent.send()
            agent.take(made(3, now))
            await agent.send()

    with (
        caplog.at_level(logging.INFO, "tether.agent"),
        AgentStub([], max_age=3600.0).running() as stub,
    ):
        asyncio.run(go(stub))
    first, second = stub.taken.values()
    assert [c.record.monitor for c in first.checks] == ["m1"]
    assert (first.dropped, second.dropped) == (0, 2)
    assert any(r.getMessage().startswith("2 checks dropped: dated") for r in caplog.records)
