"""A runner at ``hq`` on an injected wall clock, a real SQLite store and a real outbox,
with agent locations that report through its agent intake: shared by the agent intake's
tests (tests/monitor/runtime/test_agent_intake*.py) and the web's."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.helpers.monitor_harness import Collect
from tether._kinds import Kind
from tether.monitor import Runner
from tether.monitor._agent_wire import AgentCheck, Batch, Receipt, new_batch_id
from tether.monitor._records import ProbeRecord
from tether.monitor.alerts import Outbox
from tether.monitor.config import MonitorConfig, parse_config
from tether.monitor.config._passwords import hash_token
from tether.monitor.store import SQLiteStore

T0 = 1_800_000_000.0
TOKENS = {"branch-1": "agent-token-branch-1", "branch-2": "agent-token-branch-2"}
"""Each agent location's token (the configurations below hold their hashes)."""


def agent_config(
    monitors: str, *, locations: str = "[hq, branch-1]", extra: str = ""
) -> MonitorConfig:
    """A configuration with the agent tokens of :data:`TOKENS` (those of ``locations``)."""
    names = [n.strip() for n in locations.strip("[]").split(",")]
    tokens = "".join(
        f"  - {{name: {loc}, hash: '{hash_token(tok)}', scope: agent, location: {loc}}}\n"
        for loc, tok in TOKENS.items()
        if loc in names
    )
    return parse_config(
        f"locations: {locations}\n"
        f"tokens:\n{tokens}"
        "alerts:\n  - {name: ops, type: webhook, url: http://127.0.0.1:9/}\n"
        f"{extra}"
        f"monitors:\n{monitors}"
    )


class Clock:
    """The server's wall clock, moved by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class World:
    """A runner at ``hq`` (no loop running: each call is the event loop's turn)."""

    def __init__(self, tmp_path: Path, config: MonitorConfig, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.ops = Collect()
        self.store = SQLiteStore(tmp_path / "t.db")
        self.runner = Runner(
            config,
            self.store,
            Outbox(self.store, {"ops": self.ops}),
            wall=self.clock,
            location="hq",
        )

    def send(self, batch: Batch) -> Receipt:
        """Hand ``batch`` to the intake as the web does (the token's location is the
        batch's), then deliver the alerts due."""
        receipt = asyncio.run(self.runner.agents.take(batch, batch.location))
        self.deliver()
        return receipt

    def deliver(self) -> None:
        self.store.flush()
        self.runner.outbox.deliver_due(self.clock() + 1e6)

    def events(self) -> list[str]:
        return [str(a["event"]) for a in self.ops.got]

    def close(self) -> None:
        self.store.close()


def check(monitor: str, ts: float, ok: bool, **more: Any) -> AgentCheck:
    """An agent's check of ``monitor`` at ``ts`` (the agent's clock)."""
    kind = None if ok else more.pop("kind", Kind.CONNECT_REFUSED)
    record = ProbeRecord(monitor, ts, ok, kind, 3.0, None if ok else "refused")
    return AgentCheck(record, "127.0.0.1:9", **more)


def batch(location: str, sent_at: float, *checks: AgentCheck, batch_id: str | None = None) -> Batch:
    """A batch from ``location``'s agent, sent at ``sent_at`` on its clock."""
    return Batch(batch_id or new_batch_id(), location, sent_at, checks, agent="a1", version="t")
