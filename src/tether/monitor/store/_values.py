"""The values every part of a store shares: its errors and its health, a location state
as stored and the fence its write passes, a roll-up row, an instance's name, and how a
backend reads its JSON back."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tether.monitor._records import LocationState

Decode = Callable[[Any], Any]
"""How a backend turns a stored JSON column into Python (``json.loads`` for text)."""


@dataclass(frozen=True, slots=True)
class LocationRow:
    """A monitor's state at a location as stored, with ``updated``: when the database took
    it, on the database's own clock, a cursor for reading what changed since (never
    compared with tether's clock)."""

    state: LocationState
    updated: float


@dataclass(frozen=True, slots=True)
class LocationRead:
    """One read of the location states that changed (``Store.location_changes``): the
    rows, oldest first, and where the next read may start."""

    rows: list[LocationRow]
    horizon: int | None
    """PostgreSQL's: the oldest transaction still running when the rows were read
    (``pg_snapshot_xmin``): every row written by a transaction before it was in this
    read, so the next one needs only the rows written from it on.  None where the store
    keeps no such mark (SQLite, whose one writer commits its rows in the order of their
    stamps)."""


@dataclass(frozen=True, slots=True)
class Fence:
    """A condition on a location state's write: that ``owner`` holds ``shard`` of the
    state's location (PostgreSQL's lease table) when the write lands.  A write held
    through an outage by an instance whose shard has moved on meanwhile is dropped, not
    laid over what the new owner wrote."""

    owner: str
    shard: int


def instance_id() -> str:
    """A name for this process among the instances sharing a database, for its claims on
    alerts and its leases: ``HOST:PID:RANDOM``, readable in the tables and new at every
    start (a restarted process is another instance: what the old one claimed waits for
    its claim to run out)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class StoreError(RuntimeError):
    """The database cannot be opened or used, or is from a newer tether.

    ``outage`` says whether it cannot be *reached or written* now (a stopped server, a
    lost connection, a full disk), so that what was being written is held and tried
    again, rather than refused for what it holds.
    """

    def __init__(self, message: str, *, outage: bool = False) -> None:
        super().__init__(message)
        self.outage = outage


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """How the store's writing goes, for ``/metrics``, the log and the dashboard."""

    up: bool
    """False while writes fail and what was given is held."""
    down_for: float
    """Seconds since writing last failed without recovering (0 when up)."""
    error: str | None
    """The last write error, redacted (None when up)."""
    held: int
    """Results and state changes waiting in memory."""
    spilled: int
    """Results and state changes waiting in the spill file."""
    held_writes: int
    """Incident and alert writes waiting."""
    errors: int
    """Failed write attempts since start."""
    dropped: int
    """Results and state changes dropped because memory and the spill file were full."""
    refused: int
    """Items the database refused even alone (logged, left out)."""


@dataclass(frozen=True, slots=True)
class Rollup:
    """One monitor's results summed over one minute, hour or day."""

    monitor: str
    period: str
    start: float
    count: int
    ok_count: int
    latency_avg: float | None
    latency_min: float | None
    latency_max: float | None
    kinds: dict[str, int]


def too_new(version: int, known: int, where: str) -> StoreError:
    """The error for a database migrated by a newer tether than this one."""
    return StoreError(
        f"the database is at schema version {version}, newer than this tether knows "
        f"({known}): upgrade tether, or use another {where}"
    )
