"""The incident engine with the detector's side played by hand, on a virtual clock: for
the engine's tests."""

from __future__ import annotations

import itertools

from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor._state import State
from tether.monitor.engine._detect import Observation, StateChanged
from tether.monitor.engine.incidents._engine import IncidentEngine
from tether.monitor.engine.incidents._events import Event, IncidentRoute

T0 = 1_800_000_000.0
HOSTS = {"alpha": "web.lab.test", "bravo": "web.lab.test", "charlie": "db.lan"}


def engine(**routes: IncidentRoute) -> IncidentEngine:
    base = {name: IncidentRoute(("ops",), url=f"http://{HOSTS[name]}/") for name in HOSTS}
    return IncidentEngine({**base, **routes}, itertools.count(1).__next__)


class World:
    """The engine with the detector's side played by hand: who is down, on what."""

    def __init__(self, e: IncidentEngine) -> None:
        self.e = e
        self.down: dict[str, Observation] = {}

    def fail(self, name: str, at: float, kind: Kind = Kind.HTTP_SERVER_ERROR) -> list[Event]:
        self.down[name] = Observation(name, False, at, 5.0, kind, HOSTS[name])
        record = ProbeRecord(name, at, False, kind, 5.0, f"{name} answered 503")
        change = StateChanged(name, at, State.UP, State.DOWN, "3 failed checks")
        return self.e.changed(change, record, self.down.values(), HOSTS)

    def recover(self, name: str, at: float, old: State = State.DOWN) -> list[Event]:
        self.down.pop(name, None)
        change = StateChanged(name, at, old, State.UP, "2 passed checks")
        record = ProbeRecord(name, at, True)
        return self.e.changed(change, record, self.down.values(), HOSTS)


def pause(w: World, name: str, at: float) -> list[Event]:
    w.down.pop(name, None)
    return w.e.changed(
        StateChanged(name, at, State.DOWN, State.PAUSED, "paused"), None, w.down.values(), HOSTS
    )
