"""The world of tests/monitor/engine/test_incidents_partial.py and test_incident_scope.py:
instances at each location publish one monitor's state, the quorum and the incident engine
run on a virtual clock, as the runner runs them."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from tether._kinds import Kind
from tether.monitor._records import LocationState
from tether.monitor._state import State
from tether.monitor.engine._detect import StateChanged
from tether.monitor.engine._quorum import Placement, Quorum, QuorumEvent
from tether.monitor.engine.incidents._engine import IncidentEngine
from tether.monitor.engine.incidents._events import Event, IncidentRoute

__all__ = ["DETAIL", "HOSTS", "LOCS", "T0", "TIMEOUT", "World", "alerts", "kinds"]

T0 = 1_800_000_000.0
LOCS = ("eu-west", "us-east", "local")
TIMEOUT = Kind.CONNECT_TIMEOUT
HOSTS = {"api": "api.example.com", "db": "db.lan"}
DETAIL = "203.0.113.7:443 did not accept the connection within 10 s"


class World:
    """Instances at each location publish api's state; the leader runs the quorum and the
    engine, as the runner will."""

    def __init__(
        self,
        locations: tuple[str, ...] = LOCS,
        quorum: int | str = "majority",
        **route: object,
    ) -> None:
        placement = Placement(locations, quorum)  # type: ignore[arg-type]
        self.q = Quorum({"api": placement}, live=locations)
        defaults: dict[str, object] = {"channels": ("ops",), "url": "https://api.example.com/"}
        self.e = IncidentEngine(
            {"api": IncidentRoute(**{**defaults, **route})},  # type: ignore[arg-type]
            itertools.count(1).__next__,
        )
        self.now = T0
        self.events: list[Event] = []
        for loc in locations:
            self.set(loc, State.UP, after=0)

    def feed(self, events: Iterable[QuorumEvent]) -> list[Event]:
        out: list[Event] = []
        for event in events:
            if isinstance(event, StateChanged):
                name = event.monitor
                out += self.e.changed(
                    event, self.q.record(name), self.q.down(), HOSTS, self.q.locations(name)
                )
            else:
                out += self.e.locations(event)
        self.events += out
        return out

    def set(
        self, loc: str, state: State, kind: Kind | None = None, after: float = 10.0
    ) -> list[Event]:
        self.now += after
        detail = DETAIL if state is State.DOWN else None
        row = LocationState("api", loc, state, self.now, "", kind, detail, "api.example.com")
        return self.feed(self.q.update(row, self.now))

    def cut(self, loc: str, kind: Kind = TIMEOUT, after: float = 10.0) -> list[Event]:
        return self.set(loc, State.DOWN, kind, after)

    def mend(self, loc: str, after: float = 10.0) -> list[Event]:
        return self.set(loc, State.UP, after=after)


def alerts(events: Iterable[Event]) -> list[tuple[str, str]]:
    return [(a.payload.event, a.channel) for e in events for a in e.alerts]


def kinds(events: Iterable[Event]) -> list[str]:
    return [type(e).__name__ for e in events]
