"""The agent against a stand-in server on loopback (tests/helpers/agent_stub.py): what it
probes arrives with the right kinds; nothing is lost or taken twice across an outage or a
lost answer; the spool's bound drops the oldest and says how many; a refused token stops
it; a monitor it cannot read is skipped and the rest run; the clock offset is estimated."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.agent_stub import AgentStub, agent_for, made
from tether._kinds import Kind
from tether.lab import Lab
from tether.monitor._agent_wire import Assignment
from tether.monitor.config import ConfigError, parse_config
from tether.monitor.config._monitor_wire import monitor_json
from tether.monitor.runtime.agents._agent import Agent, AgentRefused, _Failed, clock_offset


def _monitor(name: str, url: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "url": url, "interval": "1s", "timeout": "2s", **more}


async def _probe_all(agent: Agent) -> None:
    """Each assigned monitor probed once, by the agent's prober, into the spool."""
    for name in sorted(agent.prober.names):
        agent.take(await agent.prober.check(name, agent.mono()))


def test_what_the_agent_probes_arrives_with_the_right_kinds(lab: Lab, tmp_path: Path) -> None:
    """The lab's healthy target arrives as up and its refusing one as connect.refused, in
    one batch of this location, the spool empty after the receipt."""

    async def go(stub: AgentStub) -> None:
        async with agent_for(stub, tmp_path / "a.spool") as agent:
            agent.apply(await agent.fetch())
            await _probe_all(agent)
            assert await agent.send() == 2
            assert agent.spool.held() == 0

    monitors = [_monitor("healthy", lab["healthy"].url), _monitor("refused", lab["refused"].url)]
    with AgentStub(monitors).running() as stub:
        asyncio.run(go(stub))
    (batch,) = stub.taken.values()
    assert batch.location == "branch-1"
    assert batch.agent == "test-agent"
    kinds = {c.record.monitor: (c.record.ok, c.record.kind) for c in batch.checks}
    assert kinds == {"healthy": (True, None), "refused": (False, Kind.CONNECT_REFUSED)}


def test_an_outage_loses_nothing_and_each_batch_is_taken_once(tmp_path: Path) -> None:
    """While the server answers 503 the checks wait in the spool; once it is back every
    check arrives once, oldest first, and no batch id is taken twice."""

    async def go(stub: AgentStub) -> None:
        async with agent_for(stub, tmp_path / "b.spool") as agent:
            stub.mode = "503"
            for n in range(7):
                agent.take(made(n))
                with pytest.raises(_Failed, match="503"):
                    await agent.send()
            stub.mode = "ok"
            assert await agent.send() == 7

    with AgentStub([]).running() as stub:
        asyncio.run(go(stub))
    assert [c.record.monitor for c in stub.checks()] == [f"m{n}" for n in range(7)]
    assert len(stub.posts) == len(set(stub.posts)) == len(stub.taken) == 2  # m0; m1 to m6


def test_a_lost_answer_is_sent_again_with_the_same_id(tmp_path: Path) -> None:
    """The server takes a batch and its answer is lost: the agent sends the same batch
    (same id, same checks) again, the server says duplicate, and the spool lets it go."""

    async def go(stub: AgentStub) -> None:
        async with agent_for(stub, tmp_path / "c.spool") as agent:
            for n in range(3):
                agent.take(made(n))
            stub.mode = "lose"
            with pytest.raises(_Failed):
                await agent.send()
            assert agent.spool.held() == 3  # not forgotten without a receipt
            stub.mode = "ok"
            assert await agent.send() == 3
            assert agent.spool.held() == 0

    with AgentStub([]).running() as stub:
        asyncio.run(go(stub))
    first, again = stub.posts
    assert first == again
    assert list(stub.taken) == [first]
    assert [c.record.monitor for c in stub.checks()] == ["m0", "m1", "m2"]


def test_a_hanging_server_is_a_timeout_and_the_batch_is_kept(tmp_path: Path) -> None:
    """A server that never answers is a failed send after the agent's timeout (not the
    test's); the checks stay."""

    async def go(stub: AgentStub) -> None:
        async with agent_for(stub, tmp_path / "h.spool", timeout=0.3) as agent:
            agent.take(made(1))
            stub.mode = "hang"
            started = time.monotonic()
            with pytest.raises(_Failed, match="ran out of its total time"):
                await agent.send()
            assert time.monotonic() - started < 10
            assert agent.spool.held() == 1

    with AgentStub([]).running() as stub:
        asyncio.run(go(stub))


def test_the_bound_drops_the_oldest_and_says_how_many(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Past the spool's limit the oldest checks go, the log says so once, and the next
    batch carries the count; once taken it is not sent again."""

    async def go(stub: AgentStub) -> None:
        async with agent_for(stub, tmp_path / "d.spool", limit=3) as agent:
            for n in range(8):
                agent.take(made(n))
            await agent.send()
            agent.take(made(8))
            await agent.send()

    with caplog.at_level(logging.INFO, "tether.agent"), AgentStub([]).running() as stub:
        asyncio.run(go(stub))
    first, second = stub.taken.values()
    assert [c.record.monitor for c in first.checks] == ["m5", "m6", "m7"]
    assert (first.dropped, second.dropped) == (5, 0)
    warned = [r for r in caplog.records if "dropping the oldest" in r.getMessage()]
    assert len(warned) == 1
    assert any("told of 5 dropped" in r.getMessage() for r in caplog.records)


def test_a_refused_token_stops_the_agent_at_once_when_it_may_not_wait(tmp_path: Path) -> None:
    """With give_up_after 0, a 401 is AgentRefused saying the token was refused, and run()
    ends with it (docs/agents.md: --give-up-after 0s)."""

    async def go(stub: AgentStub) -> None:
        async with agent_for(stub, tmp_path / "e.spool", token="wrong") as agent:
            with pytest.raises(AgentRefused, match="refused this agent's token"):
                await agent.fetch()
            with pytest.raises(AgentRefused):
                await asyncio.wait_for(agent.run(asyncio.Event()), 20)

    with AgentStub([]).running() as stub:
        asyncio.run(go(stub))


def test_a_monitor_it_cannot_read_is_skipped_and_the_others_run(
    lab: Lab, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A monitor that does not validate is logged once (not once per assignment) and
    not run; the valid one is probed and its check arrives."""
    bad = _monitor("broken", lab["healthy"].url, interval=0.5)

    async def go(stub: AgentStub) -> None:
        async with agent_for(stub, tmp_path / "f.spool") as agent:
            first = agent.apply(await agent.fetch())
            again = agent.apply(await agent.fetch())
            assert [m.name for m in first] == [m.name for m in again] == ["healthy"]
            await _probe_all(agent)
            await agent.send()

    monitors = [bad, _monitor("healthy", lab["healthy"].url)]
    with caplog.at_level(logging.INFO, "tether.agent"), AgentStub(monitors).running() as stub:
        asyncio.run(go(stub))
    skipped = [r.getMessage() for r in caplog.records if "not run" in r.getMessage()]
    assert len(skipped) == 1
    assert "broken" in skipped[0]
    assert "interval" in skipped[0]
    assert [c.record.monitor for c in stub.checks()] == ["healthy"]


def test_a_restart_while_the_server_is_down_probes_the_last_assignment(
    lab: Lab, tmp_path: Path
) -> None:
    """The assignment is kept in the spool: a new agent on it probes those monitors
    before the server has answered it once."""

    async def go(stub: AgentStub) -> None:
        async with agent_for(stub, tmp_path / "g.spool") as agent:
            agent.apply(await agent.fetch())
        stub.mode = "503"
        async with agent_for(stub, tmp_path / "g.spool") as agent:
            assert agent.resume()
            assert agent.prober.names == {"healthy"}

    with AgentStub([_monitor("healthy", lab["healthy"].url)]).running() as stub:
        asyncio.run(go(stub))


def test_the_clock_offset_is_estimated_and_a_far_one_warned_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A server 30 s ahead gives an offset near 30 s and one warning over several answers."""

    async def go(stub: AgentStub) -> None:
        async with agent_for(stub, tmp_path / "o.spool") as agent:
            for _ in range(3):
                await agent.send()
            assert agent.offset is not None
            assert abs(agent.offset - 30) < 5

    with caplog.at_level(logging.INFO, "tether.agent"), AgentStub([], skew=30).running() as stub:
        asyncio.run(go(stub))
    assert sum("clock is" in r.getMessage() for r in caplog.records) == 1


def test_clock_offset_is_the_server_against_the_midpoint() -> None:
    """NTP's estimate: sent at 100, answered at 102, server said 131 → 30 s ahead."""
    assert clock_offset(100.0, 102.0, 131.0) == 30.0
    assert clock_offset(100.0, 100.0, 95.0) == -5.0


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


def test_the_loop_backs_off_says_the_outage_once_and_its_end(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """run() against a server answering 503: its waits between sends grow as
    backoff_delay's (capped at 4 × batch_every), the log says the outage once, and when
    the server is back once more, with how many checks waited; then nothing is lost."""
    sim = _Clock()

    async def go(stub: AgentStub) -> None:
        stop = asyncio.Event()
        async with agent_for(
            stub, tmp_path / "r.spool", wall=sim.clock(), mono=sim.clock(), sleep=sim.sleep,
            rand=lambda: 0.5,
        ) as agent:  # fmt: skip
            agent.batch_every = 2.0
            for n in range(4):
                agent.take(made(n))
            stub.mode = "503"
            running = asyncio.create_task(agent.run(stop))
            for _ in range(2000):
                if sim.slept.count(6.0) >= 4:  # both loops at the cap, twice
                    break
                await asyncio.sleep(0.005)  # a real server answers in real time: poll
            else:
                pytest.fail("the loops never reached the backoff's cap")
            stub.mode = "ok"
            for _ in range(2000):
                if not agent.spool.held():
                    break
                await asyncio.sleep(0.005)
            else:
                pytest.fail("the spool was never emptied once the server answered")
            stop.set()
            await asyncio.wait_for(running, 20)

    with caplog.at_level(logging.INFO, "tether.agent"), AgentStub([]).running() as stub:
        stub.batch_every = 2.0
        asyncio.run(go(stub))
    # equal jitter at rand 0.5: three quarters of 1, 2, 4, ..., capped at 8 s (the
    # prober's idle schedule sleeps 1 s, and batch_every is 2 s once the server is back)
    backoffs = sorted({s for s in sim.slept if s not in (1.0, 2.0)})
    assert backoffs == [0.75, 1.5, 3.0, 6.0]
    lines = [r.getMessage() for r in caplog.records]
    assert sum("cannot send checks" in line for line in lines) == 1
    assert sum("can send checks to the server again" in line for line in lines) == 1
    assert any("4 checks waited" in line for line in lines)
    assert [c.record.monitor for c in stub.checks()] == ["m0", "m1", "m2", "m3"]


def test_a_monitor_as_the_server_dumps_it_is_read_as_loaded(tmp_path: Path) -> None:
    """The server sends each monitor as the keys of the loaded model it sets (durations
    as bare seconds, config/_monitor_wire.py): the agent reads back the very monitor,
    nested durations included; a file's YAML still may not write a bare number."""
    config = parse_config(
        "alerts:\n  - {name: ops, type: webhook, url: 'http://127.0.0.1:9/hook'}\n"
        "monitors:\n  - {name: api, url: 'http://127.0.0.1:9/', interval: 90s, timeout: 3s,"
        " alerts: [ops], remind_every: 1h, escalate: [{after: 10m, alerts: [ops]}]}\n"
    )
    (loaded,) = config.monitors
    dumped = monitor_json(loaded)
    assert dumped["interval"] == 90.0

    async def go(stub: AgentStub) -> None:
        async with agent_for(stub, tmp_path / "w.spool") as agent:
            assignment = Assignment("7", "branch-1", (dumped,), 60.0, 5.0, 1_800_000_000.0)
            assert agent.apply(assignment) == [loaded]

    with AgentStub([]).running() as stub:
        asyncio.run(go(stub))
    with pytest.raises(ConfigError, match="90 is not a duration, write 90s"):
        parse_config("monitors:\n  - {name: api, url: 'http://127.0.0.1:9/', interval: 90}\n")


def test_a_spool_that_fails_stops_the_agent_saying_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spool that fails otherwise than a full disk while the agent runs (a damaged file)
    ends run() with the error, instead of an agent that runs on and sends nothing.  The
    damage is made by replacing the spool's pending(); a full disk keeps the agent running
    (test_agent_full_disk.py)."""

    def full(*_: object) -> None:
        raise sqlite3.DatabaseError("database disk image is malformed")

    async def go(stub: AgentStub) -> None:
        async with agent_for(stub, tmp_path / "x.spool") as agent:
            monkeypatch.setattr(agent.spool, "pending", full)
            with pytest.raises(sqlite3.DatabaseError, match="malformed"):
                await asyncio.wait_for(agent.run(asyncio.Event()), 20)

    with AgentStub([]).running() as stub:
        asyncio.run(go(stub))


def test_a_long_poll_says_nothing_of_the_clocks(tmp_path: Path) -> None:
    """The server holds a long poll and answers at its end: the answer is not halfway
    between asking and reading, so it is not read as the clocks' offset (a poll held 40 s
    once read as a clock 20 s off and warned).  The wall clock here jumps 40 s between
    asking and reading, as a poll held that long would look."""
    reads = iter(range(1_000))

    def held() -> float:  # asked now, read 40 s later
        return time.time() + (40.0 if next(reads) % 2 else 0.0)

    async def go(stub: AgentStub) -> None:
        async with agent_for(stub, tmp_path / "p.spool") as agent:
            agent.apply(await agent.fetch())
            before = agent.offset
            assert before is not None
            assert abs(before) < 5
            agent.wall = held
            await agent.fetch(wait=0.05)
            assert agent.offset == before

    with AgentStub([]).running() as stub:
        asyncio.run(go(stub))
