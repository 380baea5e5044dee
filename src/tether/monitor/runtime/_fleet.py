"""What probes the monitors for the runner: one :class:`~tether.monitor.checks._prober.Prober`
in the monitor's own process, or the worker processes (``_workers.WorkerFleet``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tether.monitor.checks._prober import Sink
    from tether.monitor.config import Monitor

__all__ = ["Fleet"]


class Fleet(Protocol):
    """Whatever probes the monitors for the coordinator: one :class:`Prober` in this
    process, or the worker processes (``_workers.WorkerFleet``)."""

    def assign(self, monitors: Iterable[Monitor]) -> None:
        """Probe exactly ``monitors`` from now on."""

    def update(self, monitors: Iterable[Monitor], removed: Iterable[str] = ()) -> None:
        """Probe ``monitors`` too (new or changed), and no longer those ``removed``."""

    def reprobe(self, name: str, delay: float) -> None:
        """Probe ``name`` again in ``delay`` seconds."""

    async def run(self, stop: asyncio.Event, sink: Sink) -> None:
        """Probe until ``stop``, handing every check to ``sink``."""
