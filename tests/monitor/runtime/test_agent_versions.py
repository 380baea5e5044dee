"""Versions as docs/agents.md says (issue 44, section 3): a peer of another protocol is
refused, saying both, on each side; a tether version that differs, on the same protocol,
is taken and shown beside the server's own.  The server side through the real HTTP route
(tests/helpers/web_harness.py), the agent's against the stand-in server."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.agent_stub import AgentStub, agent_for, made
from tests.helpers.agent_world import T0, TOKENS, agent_config
from tests.helpers.web_harness import ServedRunner
from tether._version import __version__
from tether.monitor._agent_wire import PROTOCOL, Batch, new_batch_id
from tether.monitor.runtime.agents._agent import _Failed
from tether.monitor.store import SQLiteStore

API = "  - {name: api, url: 'http://127.0.0.1:9/', locations: [hq, branch-1]}\n"
AGENT = {"Authorization": f"Bearer {TOKENS['branch-1']}"}


def _served(tmp_path: Path) -> ServedRunner:
    served = ServedRunner(agent_config(API), SQLiteStore(tmp_path / "t.db"), location="hq")
    served.now = T0
    return served


def test_a_batch_of_another_protocol_is_refused_saying_both(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A batch of protocol 2: a 400 whose line names both protocols and what to do; the
    server's log says it once for the agent's location; nothing is taken."""
    served = _served(tmp_path)
    try:
        body: dict[str, Any] = {**Batch(new_batch_id(), "branch-1", T0).to_json(), "protocol": 2}
        with caplog.at_level(logging.WARNING, "tether.monitor"):
            for _ in range(2):
                answer = served.request("POST", "/api/agent/results", headers=AGENT, body=body)
                assert answer.status == 400
                assert answer.json() == {
                    "error": "protocol: 2, and this tether speaks 1: upgrade the older side "
                    "(docs/agents.md, Versions)"
                }
        said = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert said == [
            "agent at branch-1: its batch was refused: protocol: 2, and this tether speaks "
            "1: upgrade the older side (docs/agents.md, Versions)"
        ]
        assert served.request("GET", "/api/agents").json()["agents"] == []
    finally:
        served.close()


def test_another_tether_version_of_the_same_protocol_is_taken_and_shown(tmp_path: Path) -> None:
    """A batch from an agent of another tether version, same protocol: taken, and
    /api/agents shows its version beside the server's own and the protocol."""
    served = _served(tmp_path)
    try:
        older = Batch(new_batch_id(), "branch-1", T0, version="0.9.0").to_json()
        answer = served.request("POST", "/api/agent/results", headers=AGENT, body=older)
        assert answer.status == 200
        listed = served.request("GET", "/api/agents").json()
        assert (listed["server_version"], listed["protocol"]) == (__version__, PROTOCOL)
        (row,) = listed["agents"]
        assert (row["version"], row["cannot_run"]) == ("0.9.0", None)
    finally:
        served.close()


def test_an_agent_facing_another_protocol_says_so_and_probes_on(tmp_path: Path) -> None:
    """A server of the next protocol: the agent reads no assignment of it and sends no
    batch it takes, each failure naming both protocols (the loops say it once an
    outage), keeps probing the assignment it has, and keeps its checks."""

    async def go(stub: AgentStub) -> None:
        async with agent_for(stub, tmp_path / "v.spool") as agent:
            agent.apply(await agent.fetch())
            stub.mode = "protocol 2"
            agent.take(made(0))
            for _ in range(2):
                with pytest.raises(_Failed, match="protocol: 2, and this tether speaks 1"):
                    await agent.fetch()
                with pytest.raises(_Failed, match="answered 400: protocol: 1, and this"):
                    await agent.send()
            assert agent.prober.names == {"healthy"}
            assert agent.spool.held() == 1

    healthy = {"name": "healthy", "url": "http://127.0.0.1:9/", "interval": "1s", "timeout": "1s"}
    with AgentStub([healthy]).running() as stub:
        asyncio.run(go(stub))
