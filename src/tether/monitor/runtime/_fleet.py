"""What probes the monitors for the runner: one :class:`~tether.monitor.checks._prober.Prober`
in the monitor's own process, or the worker processes (``_workers.WorkerFleet``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from tether.monitor.checks._prober import Sink
    from tether.monitor.config import Monitor
    from tether.monitor.web._metrics import CheckParts

__all__ = ["Fleet", "SeriesFleet"]


class Fleet(Protocol):
    """Whatever probes the monitors for the coordinator: one :class:`Prober` in this
    process, or the worker processes (``_workers.WorkerFleet``)."""

    def assign(self, monitors: Iterable[Monitor]) -> None:
        """Probe exactly ``monitors`` from now on."""

    def reprobe(self, name: str, delay: float) -> None:
        """Probe ``name`` again in ``delay`` seconds."""

    async def run(self, stop: asyncio.Event, sink: Sink) -> None:
        """Probe until ``stop``, handing every check to ``sink``."""


@runtime_checkable
class SeriesFleet(Fleet, Protocol):
    """A fleet whose processes keep the per-check series of the checks they make
    (``/metrics``): the coordinator writes none of them, and asks for them at a scrape."""

    async def check_parts(self, here: str) -> list[CheckParts | None]:
        """Each process's series, labelled with ``here`` (None: it did not answer)."""
        ...
