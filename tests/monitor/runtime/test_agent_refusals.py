"""A refused token (issue 45, section 4): the agent tells a passing refusal (a 401 while
the server restarts, or while another process answers on its port) from a revoked token
(a 401 that persists), tries again with backoff for ``give_up_after``, and says which in
one line.  Against the stand-in server on loopback, on simulated time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from tests.helpers.agent_stub import AgentStub, agent_for, made
from tether.monitor.runtime.agents._agent import Agent, AgentRefused, _Failed


class _Clock:
    """Simulated time: the agent's sleep moves it and yields to the loop once."""

    def __init__(self) -> None:
        self.now, self.slept = 1_800_000_000.0, list[float]()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)

    def clock(self) -> Callable[[], float]:
        return lambda: self.now


def _agent(
    stub: AgentStub, spool: Path, sim: _Clock, give_up_after: float
) -> AbstractAsyncContextManager[Agent]:
    return agent_for(
        stub, spool, give_up_after=give_up_after,
        wall=sim.clock(), mono=sim.clock(), sleep=sim.sleep, rand=lambda: 0.5,
    )  # fmt: skip


def test_a_passing_refusal_is_retried_and_said_when_it_passes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The server refuses the token for a minute (as another monitor on the port would),
    then takes it: each refused exchange is one to try again (never AgentRefused), the
    refusal is said once and its end once, and the checks arrive.  On main the first 401
    stopped the agent for good."""
    sim = _Clock()

    async def go(stub: AgentStub) -> None:
        async with _agent(stub, tmp_path / "a.spool", sim, 120.0) as agent:
            for n in range(3):
                agent.take(made(n, sim.now - 10))
            stub.mode = "refuse"
            for _ in range(4):
                with pytest.raises(_Failed, match=r"refused this agent's token \(401\)"):
                    await agent.send()
                with pytest.raises(_Failed, match=r"refused this agent's token \(401\)"):
                    await agent.fetch()
                sim.now += 15.0
            stub.mode = "ok"
            assert await agent.send() == 3
            agent.apply(await agent.fetch())

    with caplog.at_level(logging.INFO, "tether.agent"), AgentStub([]).running() as stub:
        asyncio.run(go(stub))
    lines = [r.getMessage() for r in caplog.records]
    assert sum("refused this agent's token (401): trying again for 2m" in x for x in lines) == 1
    passed = [x for x in lines if "takes this agent's token again" in x]
    assert passed == [
        "the server takes this agent's token again after 1m (8 refusals): it was a passing refusal"
    ]
    assert [c.record.monitor for c in stub.checks()] == ["m0", "m1", "m2"]


def test_a_refusal_that_persists_is_a_revoked_token_and_stops_the_agent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Refused all along, the agent keeps trying for give_up_after (30 s of simulated
    time), then run() ends with AgentRefused saying how long and that the token is
    revoked or wrong; the refusal was said once before, and the checks are kept."""
    sim = _Clock()

    async def go(stub: AgentStub) -> None:
        async with _agent(stub, tmp_path / "b.spool", sim, 30.0) as agent:
            agent.batch_every = 2.0
            agent.take(made(0, sim.now - 10))
            stub.mode = "refuse"
            started = sim.now
            with pytest.raises(AgentRefused) as raised:
                await asyncio.wait_for(agent.run(asyncio.Event()), 30)
            assert sim.now - started >= 30.0
            assert agent.spool.held() == 1
            said = str(raised.value)
            assert said.startswith("the server has refused this agent's token (401) for ")
            assert "it is revoked or wrong; it must be a token of scope agent for location" in said
            assert "\n" not in said

    with caplog.at_level(logging.INFO, "tether.agent"), AgentStub([]).running() as stub:
        asyncio.run(go(stub))
    lines = [r.getMessage() for r in caplog.records]
    assert sum("trying again for 30s" in x for x in lines) == 1
    assert not any("cannot send checks" in x or "cannot fetch" in x for x in lines)
    assert stub.refused_posts + stub.polls >= 4
