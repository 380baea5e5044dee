"""A mass outage costs work in proportion to its size: every monitor failing at once, then
every one coming back, is N state changes, and each must cost about the same at any N.

A real runner on simulated time (tests/helpers/monitor_harness.py), with a real store, probes ``tcp://``
targets on 32 hosts; each probe really connects on loopback, to a listening socket while the
targets are up and to a closed port once they all refuse.  The work is counted, not timed: the
Python and C function calls made on the event loop's thread (where the runner, the quorum,
the correlation and the incident engine run) from the moment the targets fail until every
monitor is down, and again for the recovery.  Quadratic work per wave (a walk over every
failure at each change) makes four times the monitors cost about sixteen times the calls.
"""

from __future__ import annotations

import contextlib
import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from tests.helpers.monitor_harness import Harness
from tests.helpers.ports import accepting, free_port
from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor._state import State
from tether.monitor.config import parse_config
from tether.monitor.engine._correlate import Failures
from tether.monitor.engine._detect import Observation, StateChanged
from tether.monitor.engine.incidents._engine import IncidentEngine
from tether.monitor.engine.incidents._events import IncidentRoute
from tether.probe import ProbeOptions

HOSTS = 32
T0 = 1_800_000_000.0


class Calls:
    """Counts function calls (Python and C) on the thread it is installed on."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event in ("call", "c_call"):
            self.n += 1


class Lines:
    """Counts the lines of Python run on the thread it is installed on (a loop's line once
    per turn, in a comprehension or generator too) and the C functions called."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, frame: FrameType, event: str, arg: Any) -> Lines:
        self.n += 1
        return self

    def c_calls(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "c_call":
            self.n += 1

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        sys.settrace(self)
        sys.setprofile(self.c_calls)
        try:
            yield
        finally:
            sys.settrace(None)
            sys.setprofile(None)


@pytest.fixture
def listener() -> Iterator[int]:
    """A loopback port that accepts every connection (and closes it)."""
    with accepting() as port:
        yield port


def wave(tmp_path: Path, n: int, up_port: int) -> tuple[int, int]:
    """The calls made while ``n`` monitors on 32 hosts all go down, then all come back;
    the outage opened the ``local`` incident (the correlation the runner keeps is the
    one its incidents go by) early in the wave, and every incident is resolved after
    it."""
    down_port = free_port()
    lines = "\n".join(
        f"  - {{name: m{i}, url: 'tcp://127.0.1.{i % HOSTS + 1}:7000', interval: 10s}}"
        for i in range(n)
    )
    config = parse_config(
        f"alerts:\n  - {{name: ops, type: webhook, url: http://127.0.0.1:9/}}\nmonitors:\n{lines}\n"
    )
    refusing = False

    def route(target: str, options: ProbeOptions) -> str:
        # The configured hosts (32 loopback addresses) are what the incidents correlate
        # on; every connection goes to the one listener, or to the closed port.
        return f"tcp://127.0.0.1:{down_port if refusing else up_port}"

    (tmp_path / str(n)).mkdir()
    h = Harness(tmp_path / str(n), config, probe=route)
    names = [f"m{i}" for i in range(n)]
    counted = Calls()
    spent: list[int] = []

    def every(state: State) -> bool:
        return all(h.state(name) is state for name in names)

    def start(fail: bool) -> None:
        nonlocal refusing
        refusing = fail
        counted.n = 0
        sys.setprofile(counted)

    def stop() -> None:
        sys.setprofile(None)
        spent.append(counted.n)

    h.drive(
        (lambda: every(State.UP), lambda: start(True)),
        (lambda: every(State.DOWN), stop),
        (lambda: True, lambda: start(False)),
        (lambda: every(State.UP), stop),
        limit=600,
    )
    incidents = h.store.incidents(limit=100_000)
    h.close()
    assert "local" in {i.key for i in incidents}
    assert all(i.resolved is not None for i in incidents)
    # The runner tells the correlation every passing check: a host counts from its first
    # failure, so the 20th host of 32 (60%) to fail opens the local incident, and at most
    # 19 hosts had an incident of their own (all 32 did, when a host counted only once
    # every monitor on it was down).
    assert sum(i.key.startswith("host:") for i in incidents) < 20
    return spent[0], spent[1]


def test_a_mass_outage_and_its_recovery_cost_in_proportion_to_their_size(
    tmp_path: Path, listener: int
) -> None:
    """Four times the monitors failing at once, then recovering, costs about four times the
    work (under 5.5x), not the sixteen times of a walk over every failure at each change."""
    small_down, small_up = wave(tmp_path, 200, listener)
    large_down, large_up = wave(tmp_path, 800, listener)
    assert large_down / small_down < 5.5, (small_down, large_down)
    assert large_up / small_up < 5.5, (small_up, large_up)


def engine_wave(n: int) -> int:
    """The calls the incident engine makes while ``n`` monitors, each on a host of its own,
    fail with an HTTP error (one incident each: never this machine's fault), then recover."""
    routes = {f"m{i}": IncidentRoute(("ops",)) for i in range(n)}
    engine = IncidentEngine(routes, itertools.count(1).__next__)
    failures = Failures({f"m{i}": f"h{i}.lan" for i in range(n)})
    counted = Lines()
    with counted.counting():
        _engine_wave(n, engine, failures)
    assert not engine.open_incidents()
    return counted.n


def _engine_wave(n: int, engine: IncidentEngine, failures: Failures) -> None:
    for i in range(n):
        name, at = f"m{i}", T0 + i
        failures.set(name, Observation(name, False, at, kind=Kind.HTTP_SERVER_ERROR))
        record = ProbeRecord(name, at, False, Kind.HTTP_SERVER_ERROR, 5.0, "HTTP 503")
        change = StateChanged(name, at, State.UP, State.DOWN, "failed")
        engine.changed(change, record, failures, {})
    for i in range(n):
        name, at = f"m{i}", T0 + n + i
        failures.set(name, None)
        engine.changed(StateChanged(name, at, State.DOWN, State.UP, "passed"), None, failures, {})


def test_many_open_incidents_cost_each_change_the_same() -> None:
    """With an incident open per host, a monitor's change finds its incident without a walk
    over the open ones: four times the hosts cost the engine about four times the calls."""
    small, large = engine_wave(200), engine_wave(800)
    assert large / small < 5.5, (small, large)
