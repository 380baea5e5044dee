"""``tether demo --agents``: the demo's monitor with a ``tether agent`` beside it.

The agent runs in the demo's process, on its own location (``agent-1``), and reports
to the demo's monitor over HTTP on loopback exactly as a remote one does over HTTPS: it
fetches its assignment, probes with the same prober, spools its checks and sends them
in batches with its own agent token.  The monitor counts the agent's location in every
monitor's quorum; the demo ends by printing the per-location view, the one the
dashboard shows on each monitor's page.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

from tether.monitor.config._passwords import hash_token

if TYPE_CHECKING:
    import asyncio

    from tether.monitor.cluster._view import LocationsView

__all__ = [
    "AGENT_LOCATION",
    "HERE",
    "DemoAgent",
    "agent_config_lines",
    "agent_settled",
    "print_locations",
]

HERE: Final = "here"
"""The demo monitor's own location, when an agent runs beside it."""
AGENT_LOCATION: Final = "agent-1"


class DemoAgent:
    """An agent token made for this run, and the agent that uses it."""

    def __init__(self, place: Path) -> None:
        self.token = secrets.token_urlsafe(24)
        self.spool_path = place / "agent.spool"

    def config_lines(self) -> list[str]:
        return agent_config_lines(hash_token(self.token))

    async def run(self, port: int, stop: asyncio.Event) -> None:
        """Report to the monitor on ``port`` of 127.0.0.1 until ``stop`` is set."""
        import aiohttp

        from tether.monitor.runtime.agents._agent import Agent, AgentOptions
        from tether.monitor.runtime.agents._spool import Spool

        options = AgentOptions(
            server=f"http://127.0.0.1:{port}",
            location=AGENT_LOCATION,
            token=self.token,
            name="demo agent",
        )
        with Spool(self.spool_path) as spool:
            async with aiohttp.ClientSession() as session:
                await Agent(options, spool, session).run(stop)


def agent_config_lines(token_hash: str) -> list[str]:
    """The configuration's lines for a monitor at ``HERE`` with an agent at
    ``AGENT_LOCATION``: every monitor is probed from both."""
    return [
        f"locations: [{HERE}, {AGENT_LOCATION}]",
        "agents: {lease: 10s, batch_every: 1s}",
        f'tokens: [{{name: demo-agent, hash: "{token_hash}", scope: agent, '
        f"location: {AGENT_LOCATION}}}]",
    ]


def agent_settled(views: Mapping[str, LocationsView], names: list[str]) -> bool:
    """Whether the agent's location is live and has a state for each of ``names``."""
    for name in names:
        view = views.get(name)
        fact = view.facts.get(AGENT_LOCATION) if view is not None else None
        if fact is None or not fact.live or fact.state.value == "unknown":
            return False
    return True


def print_locations(views: Mapping[str, LocationsView], names: list[str], out: TextIO) -> None:
    """Each monitor's state at each location, as its page's per-location view shows it."""
    print("What each location saw (the per-location view of each monitor's page):", file=out)
    rows: list[tuple[str, ...]] = [("monitor", HERE, AGENT_LOCATION)]
    for name in names:
        view = views.get(name)
        facts = view.facts if view is not None else {}
        cells = []
        for where in (HERE, AGENT_LOCATION):
            fact = facts.get(where)
            if fact is None:
                cells.append("-")
            elif not fact.live:
                cells.append("not live")
            else:
                kind = fact.kind.value if fact.kind is not None else ""
                cells.append(f"{fact.state.value} {kind}".strip())
        rows.append((name, *cells))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
        print("  " + line.rstrip(), file=out)
