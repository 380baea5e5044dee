"""What the store keeps of the agents that report to this monitor (``tether agent``):
the batch ids it took, so a batch sent again is stored once, and a row per agent
location (who reported, when on the server's clock, its clock's offset, its counts), so
every instance of a cluster, the leader included, sees which agent locations are live.

The batch id is inserted by :meth:`AgentStore.take_batch`, a write the caller waits for:
the writer commits it in one transaction with everything queued before it, the batch's
results among them (``_writer.py``), so an answer sent after it never precedes the
commit of what it answers for.

A row read back is never raised on: a count that is not one, an offset that is not a
finite number, a list of monitors not run that is not one (an older tether, a direct
write to the database) read as zero, zero and not said.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from tether._text import shown_within
from tether.monitor._agent_wire import AgentWireError, NotRun
from tether.monitor.store._dialect import C, SQLStore

__all__ = ["AGENT_COLUMNS", "COUNT_MAX", "AgentRow", "AgentSQL", "AgentStore", "counted"]

AGENT_COLUMNS: Final = (
    "location, agent, version, last_seen, clock_offset, results, late, dropped, cannot_run"
)
COUNT_MAX: Final = 2**53 - 1
"""Where an agent's counts stop: a whole number every reader holds exactly (a float, a
JSON number, PostgreSQL's BIGINT), so that counts an agent says cannot overflow a
column or a page."""


def counted(total: int, more: int) -> int:
    """``total`` plus ``more``, held at :data:`COUNT_MAX`."""
    return min(COUNT_MAX, max(0, total) + max(0, more))


@dataclass(frozen=True, slots=True)
class AgentRow:
    """An agent location as the server last heard from it."""

    location: str
    agent: str
    """The agent's own name for itself (host and process)."""
    version: str
    last_seen: float
    """The server's clock at the agent's last word (a batch or a poll)."""
    offset: float
    """The server's clock minus the agent's, at its last batch (seconds)."""
    results: int = 0
    """Checks taken from it, in total."""
    late: int = 0
    """Of those, the ones that came too late to be detected on."""
    dropped: int = 0
    """Checks its spool dropped, as it said, in total."""
    cannot_run: tuple[NotRun, ...] | None = None
    """The monitors of its assignment it last said it does not run, and why; None while
    it never said (an older agent)."""


def agent_row(row: Sequence[Any]) -> AgentRow:
    location, agent, version, seen, offset, results, late, dropped, not_run = row
    return AgentRow(
        str(location),
        str(agent),
        str(version),
        _finite(seen),
        _finite(offset),
        _count(results),
        _count(late),
        _count(dropped),
        _not_run(not_run),
    )


def _finite(value: object) -> float:
    if type(value) is not float and type(value) is not int:
        return 0.0
    number = float(value)
    return number if math.isfinite(number) else 0.0


def _count(value: object) -> int:
    return min(COUNT_MAX, value) if type(value) is int and value >= 0 else 0


def _not_run(text: object) -> tuple[NotRun, ...] | None:
    if not isinstance(text, str):
        return None
    try:
        items = shown_within(json.loads(text))  # a row stored before the gate: shown
        return tuple(NotRun.from_json(n, "cannot_run") for n in items)
    except (ValueError, TypeError, AgentWireError):
        return None


def _not_run_text(items: tuple[NotRun, ...] | None) -> str | None:
    return None if items is None else json.dumps([n.to_json() for n in items])


class AgentStore(Protocol):
    """The agents' batches and rows."""

    def batch_taken(self, batch_id: str) -> bool:
        """Whether the batch ``batch_id`` was taken (committed) already."""

    def take_batch(self, batch_id: str, location: str, at: float) -> bool:
        """Keep ``batch_id`` as taken at ``at``, committed with everything queued before
        (the batch's results): True, or False when it was taken already."""

    def save_agent(self, row: AgentRow) -> None:
        """Queue ``row`` as its location's agent (the last one queued wins)."""

    def agent_rows(self) -> list[AgentRow]:
        """Every agent location the store knows, by location."""

    def prune_agent_batches(self, before: float) -> int:
        """Forget the batch ids taken before ``before``; how many."""


class AgentSQL(SQLStore[C]):
    """The agents' SQL, both backends alike."""

    def batch_taken(self, batch_id: str) -> bool:
        rows = self._rows("SELECT 1 FROM tether_agent_batches WHERE id = %s", (batch_id,))
        return bool(rows)

    def take_batch(self, batch_id: str, location: str, at: float) -> bool:
        def insert(conn: C) -> bool:
            done = self._execute(
                conn,
                "INSERT INTO tether_agent_batches (id, location, taken) VALUES (%s, %s, %s) "
                "ON CONFLICT (id) DO NOTHING",
                (batch_id, location, at),
            )
            return int(done.rowcount) == 1

        return self._call(insert)

    def save_agent(self, row: AgentRow) -> None:
        values = (
            row.location,
            row.agent,
            row.version,
            row.last_seen,
            row.offset,
            row.results,
            row.late,
            row.dropped,
            _not_run_text(row.cannot_run),
        )

        def upsert(conn: C) -> None:
            self._execute(
                conn,
                f"INSERT INTO tether_agents ({AGENT_COLUMNS}) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (location) DO UPDATE "
                "SET agent = excluded.agent, version = excluded.version, "
                "last_seen = excluded.last_seen, clock_offset = excluded.clock_offset, "
                "results = excluded.results, late = excluded.late, dropped = excluded.dropped, "
                "cannot_run = excluded.cannot_run",
                values,
            )

        self._queue_write(upsert, f"agent {row.location}")

    def agent_rows(self) -> list[AgentRow]:
        rows = self._rows(f"SELECT {AGENT_COLUMNS} FROM tether_agents ORDER BY location")
        return [agent_row(r) for r in rows]

    def prune_agent_batches(self, before: float) -> int:
        def delete(conn: C) -> int:
            done = self._execute(
                conn, "DELETE FROM tether_agent_batches WHERE taken < %s", (before,)
            )
            return int(done.rowcount)

        return self._call(delete)
