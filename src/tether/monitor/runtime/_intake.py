"""What the runner's intakes beside the probers (pushes: ``_pushes.py``; an
application's calls: ``_traffic_intake.py``) ask of the runner they feed: each turns
what it is handed into checks, and the runner takes them as it takes a prober's."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tether.monitor._records import ProbeRecord
    from tether.monitor.checks._prober import Check
    from tether.monitor.config import Monitor
    from tether.monitor.store import Store


class Pauses(Protocol):
    """The runner's controls, as an intake asks them (``_controls.py``)."""

    def is_paused(self, m: Monitor) -> bool:
        """Whether ``m`` is paused (a paused monitor takes no check)."""


class Taker(Protocol):
    """The runner, as an intake sees it."""

    @property
    def store(self) -> Store: ...
    @property
    def wall(self) -> Callable[[], float]: ...

    def monitor(self, name: str) -> Monitor:
        """The monitor called ``name``."""

    @property
    def controls(self) -> Pauses: ...

    def probes_here(self, name: str) -> bool:
        """Whether this instance probes ``name`` (its location, its shard)."""

    def take_check(self, check: Check) -> ProbeRecord:
        """Run ``check`` through the intake's stages, as a prober's."""


class Stage(Protocol):
    """One stage of the runner's intake (``Runner.stages``, run in order on each check,
    as Alertmanager's ``MultiStage`` runs its notification stages): it does its part of
    ``check`` and says whether the check goes on to the next stage."""

    def __call__(self, check: Check, /) -> bool: ...
