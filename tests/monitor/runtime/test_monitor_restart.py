"""A restart squares the open incidents with the saved states, so that a crash between the
writes of one state change neither loses its alert nor sends one twice.

A change is written in this order: the incident change with its alerts (one commit), then
the monitor's detector state.  A ``kill -9`` can stop the writer between the two; these
tests make each such store by hand, from a real run, and start a new runner on it.  Real
probes against the lab on simulated time (tests/helpers/monitor_harness.py), a real store and a
real outbox.  The whole process killed in the middle of a wave is
tests/monitor/runtime/test_monitor_crash.py.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.helpers.monitor_harness import Harness, monitors
from tether.lab import Lab
from tether.monitor._state import State
from tether.monitor.config import MonitorConfig
from tether.probe import ProbeOptions


class Switch:
    """Routes the monitor's probe to the lab's healthy target or to its refusing one."""

    def __init__(self, lab: Lab) -> None:
        self.up, self.down = lab["healthy"].url, lab["refused"].url
        self.failing = False

    def __call__(self, target: str, options: ProbeOptions) -> str:
        return self.down if self.failing else self.up


def config(lab: Lab) -> MonitorConfig:
    return monitors(
        f"{{name: api, url: '{lab['healthy'].url}', interval: 30s, timeout: 1s, alerts: [ops]}}"
    )


def events(h: Harness) -> list[str]:
    return [str(a["event"]) for a in h.ops.got]


def restart(tmp_path: Path, lab: Lab, switch: Switch, before: Harness) -> Harness:
    """A new runner on ``before``'s store, its clock a minute after ``before``'s."""
    again = Harness(tmp_path, config(lab), probe=switch)
    again.sim.now = before.sim.now + 60
    return again


def crashed_after_the_incident(
    tmp_path: Path, lab: Lab, switch: Switch, *, through: bool
) -> Harness:
    """A run stopped after the incident's commit and before the down state's: the store
    keeps the monitor's state from before the change (``through``: with the time of the
    newest check it had taken, as this tether saves it; without, as an older one did)."""
    h = Harness(tmp_path, config(lab), probe=switch)
    saved: dict[str, Any] = {}

    def fail() -> None:
        saved.update(h.runner.detector.export("api") or {})
        if not through:
            saved.pop("through", None)
        switch.failing = True

    h.drive(
        (lambda: h.state("api") is State.UP, fail),
        (lambda: h.state("api") is State.DOWN and events(h) == ["incident.opened"], list),
        limit=300,
    )
    h.store.flush()
    h.close()
    conn = sqlite3.connect(tmp_path / "t.db")
    with conn:
        conn.execute(
            "UPDATE monitor_state SET data = ? WHERE monitor = 'detector:api'",
            (json.dumps(saved),),
        )
    conn.close()
    return h


def test_an_incident_written_without_its_state_is_neither_alerted_twice_nor_stuck(
    tmp_path: Path, lab: Lab
) -> None:
    """Stopped after the incident's commit and before the down state's, from a state saved
    without the time of its newest check (an older tether's): the monitor comes back with
    its old "up" state and still in the open incident.  It is restored as unknown: still
    failing, it stays in its incident with no second alert; back up, it leaves it and the
    recovery is alerted once.  (Restored "up", it would have stayed in the incident for
    good: a check agreeing with a state is no change.)"""
    switch = Switch(lab)
    h = crashed_after_the_incident(tmp_path, lab, switch, through=False)

    again = restart(tmp_path, lab, switch, h)
    assert again.state("api") is State.UNKNOWN
    again.drive((lambda: again.state("api") is State.DOWN, list), limit=again.sim.now + 300)
    again.store.flush()
    assert events(again) == []
    (incident,) = again.store.incidents()
    assert incident.is_open
    assert incident.monitors == ("api",)
    again.close()

    switch.failing = False
    last = restart(tmp_path, lab, switch, again)
    last.drive(
        (lambda: last.state("api") is State.UP and bool(last.ops.got), list),
        limit=last.sim.now + 300,
    )
    last.store.flush()
    assert events(last) == ["incident.resolved"]
    (incident,) = last.store.incidents()
    assert not incident.is_open
    last.close()


def test_the_checks_stored_after_a_saved_state_are_taken_again_at_a_restart(
    tmp_path: Path, lab: Lab
) -> None:
    """Stopped after the incident's commit and before the down state's, from a state that
    says when its newest check was made: the failures stored after it are taken again at
    the start, so the monitor comes back down, in its incident, with nothing alerted;
    back up, the recovery is alerted once."""
    switch = Switch(lab)
    h = crashed_after_the_incident(tmp_path, lab, switch, through=True)
    again = restart(tmp_path, lab, switch, h)
    assert again.state("api") is State.DOWN
    again.drive((lambda: again.state("api") is State.DOWN, list), limit=again.sim.now + 30)
    again.store.flush()
    assert events(again) == []
    again.close()
    switch.failing = False
    last = restart(tmp_path, lab, switch, again)
    last.drive(
        (lambda: last.state("api") is State.UP and bool(last.ops.got), list),
        limit=last.sim.now + 300,
    )
    last.store.flush()
    assert events(last) == ["incident.resolved"]
    last.close()


def test_a_state_written_without_its_incident_is_alerted_after_a_restart(
    tmp_path: Path, lab: Lab
) -> None:
    """The other order (a store written by an older tether, which saved the state first):
    the monitor saved down with no open incident is restored as unknown, and its next
    failing checks open the incident and send its alert, once."""
    switch = Switch(lab)
    switch.failing = True
    h = Harness(tmp_path, config(lab), probe=switch)
    h.drive((lambda: h.state("api") is State.DOWN and bool(h.ops.got), list), limit=300)
    h.store.flush()
    h.close()
    conn = sqlite3.connect(tmp_path / "t.db")
    with conn:  # the incident and its alert never landed
        conn.execute("DELETE FROM incidents")
        conn.execute("DELETE FROM outbox")
    conn.close()

    again = restart(tmp_path, lab, switch, h)
    assert again.state("api") is State.UNKNOWN
    again.drive(
        (lambda: again.state("api") is State.DOWN and bool(again.ops.got), list),
        limit=again.sim.now + 300,
    )
    again.store.flush()
    assert events(again) == ["incident.opened"]
    (incident,) = again.store.incidents()
    assert incident.is_open
    assert incident.monitors == ("api",)
    again.close()


def test_states_that_match_their_incidents_are_restored_as_they_were(
    tmp_path: Path, lab: Lab
) -> None:
    """Nothing to square: a monitor down in its open incident comes back down, and one up
    in none comes back up; nothing is alerted at the start."""
    switch = Switch(lab)
    switch.failing = True
    h = Harness(tmp_path, config(lab), probe=switch)
    h.drive((lambda: h.state("api") is State.DOWN and bool(h.ops.got), list), limit=300)
    h.store.flush()
    h.close()
    again = restart(tmp_path, lab, switch, h)
    assert again.state("api") is State.DOWN
    again.close()
