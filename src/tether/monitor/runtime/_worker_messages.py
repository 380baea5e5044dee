"""The messages between a monitor's coordinator and its worker processes
(:mod:`tether.monitor.runtime._workers`), and how each travels: a length, then the
pickled message, over the socket pair the coordinator made for the worker.  Both ends
are one tether (the coordinator starts its workers from its own interpreter), so a
message's shape may change from one version to the next."""

from __future__ import annotations

import asyncio
import pickle
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from tether.monitor._turns import in_turns
from tether.monitor.checks._prober import Check
from tether.monitor.config import Monitor
from tether.monitor.config._blackbox import DEFAULT_MODULES, BlackboxModule
from tether.probe import AllowedTargets

__all__: list[str] = []

_FRAME: Final = struct.Struct("!I")


@dataclass(frozen=True, slots=True)
class _Assign:
    parts: tuple[bytes, ...]
    """The monitors, :data:`PART` at a time, each part pickled on its own
    (:meth:`of`, :meth:`monitors`)."""
    allowed: AllowedTargets
    bearer: frozenset[str] | None = None
    """The hashes of the tokens ``/probe`` answers (``server.require_token``); None: any
    request."""
    modules: Mapping[str, BlackboxModule] = field(default_factory=lambda: dict(DEFAULT_MODULES))
    """The configuration's ``modules:``, for ``/probe?module=NAME``."""

    @classmethod
    def of(
        cls,
        monitors: Sequence[Monitor],
        allowed: AllowedTargets,
        bearer: frozenset[str] | None,
        modules: Mapping[str, BlackboxModule],
    ) -> _Assign:
        parts = tuple(
            pickle.dumps(tuple(monitors[at : at + PART]), protocol=pickle.HIGHEST_PROTOCOL)
            for at in range(0, len(monitors), PART)
        )
        return cls(parts, allowed, bearer, modules)

    async def monitors(self, clock: Callable[[], float] = time.monotonic) -> list[Monitor]:
        """The monitors, their parts unpickled with the event loop given a turn every
        :data:`~tether.monitor._turns.TURN` of the work (``in_turns``; ``clock`` its
        clock): a worker's loop also answers the monitor's HTTP port, and 60,000 monitors
        unpickled at once held it for 0.7 s at a cold start."""
        monitors: list[Monitor] = []
        async for part in in_turns(self.parts, clock=clock):
            monitors.extend(pickle.loads(part))
        return monitors


PART = 500
"""Monitors in one part of an :class:`_Assign`: a part is unpickled in one go, some
6 ms at 60,000 monitors' 0.7 s, about one :data:`~tether.monitor._turns.TURN`."""


@dataclass(frozen=True, slots=True)
class _Update:
    """Monitors to probe too (new or changed) and names no longer to probe: a change of
    the monitor set, at its size (a discovery change), not the whole share again.
    ``allowed``: what ``/probe`` may reach now, when a monitor put reaches a host it did
    not allow (None: as it was)."""

    monitors: tuple[Monitor, ...]
    removed: tuple[str, ...]
    allowed: AllowedTargets | None = None


@dataclass(frozen=True, slots=True)
class _Reprobes:
    """Monitors to probe again, each after its delay in seconds: those asked for in one
    turn of the coordinator's event loop, in one frame (one a request, each pickled as a
    dataclass, was a twentieth of the coordinator's time in a mass outage)."""

    asked: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class _Stop:
    pass


@dataclass(frozen=True, slots=True)
class _Ready:
    error: str | None = None


@dataclass(frozen=True, slots=True)
class _Checks:
    checks: list[Check]


def _frame(message: object) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _FRAME.pack(len(data)) + data


async def _receive(reader: asyncio.StreamReader) -> object | None:
    """The next message, or None once the other side has closed."""
    try:
        size = _FRAME.unpack(await reader.readexactly(_FRAME.size))[0]
        message: object = pickle.loads(await reader.readexactly(size))
        return message
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
