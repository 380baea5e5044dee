"""A test double for the scheduler: feeds one monitor's checks to a detector on a fake clock."""

from __future__ import annotations

from tether import Kind
from tether.monitor._state import State
from tether.monitor.engine._detect import Detector, Event, Observation, StateChanged

T0 = 1_700_000_000.0
"""2023-11-14 22:13:20 UTC, a Tuesday: hour 46 of the week (Monday 00:00 UTC is hour 0)."""


class Feed:
    """Checks of one monitor, one ``interval`` apart, on a clock that moves only when told."""

    def __init__(
        self,
        detector: Detector | None = None,
        monitor: str = "api",
        interval: float = 30.0,
        now: float = T0,
    ) -> None:
        self.detector = detector or Detector()
        self.monitor = monitor
        self.interval = interval
        self.now = now

    def ok(
        self,
        latency_ms: float | None = 100.0,
        after: float | None = None,
        *,
        lag_ms: float | None = None,
    ) -> list[Event]:
        """A passing check, ``after`` seconds (default: one interval) after the last one,
        started ``lag_ms`` late."""
        self.now += self.interval if after is None else after
        seen = Observation(self.monitor, True, self.now, latency_ms=latency_ms, lag_ms=lag_ms)
        return self.detector.observe(seen, self.now)

    def fail(
        self, kind: Kind | None = Kind.CONNECT_REFUSED, after: float | None = None
    ) -> list[Event]:
        """A failed check, ``after`` seconds (default: one interval) after the last one."""
        self.now += self.interval if after is None else after
        seen = Observation(self.monitor, False, self.now, kind=kind, host="db.lan")
        return self.detector.observe(seen, self.now)

    @property
    def state(self) -> State:
        return self.detector.state(self.monitor)


def changes(events: list[Event]) -> list[tuple[State, State]]:
    """The (old, new) pairs of the StateChanged events."""
    return [(e.old, e.new) for e in events if isinstance(e, StateChanged)]


def kinds(events: list[Event]) -> list[str]:
    """The events' class names, in order."""
    return [type(e).__name__ for e in events]
