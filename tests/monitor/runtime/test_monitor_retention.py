"""The running monitor prunes what is past its retention (issue 44 §7) at its start and
every ten minutes, and a restart after the prune keeps every page it owes and sends
none twice.

A runner on simulated time against the lab, with a real store and outbox
(tests/helpers/monitor_harness.py); and `tether monitor` as a real process, in one
process and with `workers: 2`, on real time, polled with a bound."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.helpers.monitor_harness import Harness, monitors
from tests.helpers.old_history import IN_FORCE, LEFT, seed
from tests.helpers.tether_processes import monitor, rows, wait_for
from tether.lab import Lab
from tether.monitor._state import State
from tether.monitor.config import MonitorConfig
from tether.monitor.store import SQLiteStore
from tether.probe import ProbeOptions

DAY = 86400.0


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


def test_a_restart_a_year_into_an_outage_prunes_around_it_and_pages_once(
    tmp_path: Path, lab: Lab
) -> None:
    """An outage that began 400 days ago is still open when the monitor starts again: the
    start's prune deletes the older, resolved outage and its alerts, and keeps the open
    one's; the monitor, still failing, pages nothing again, and its recovery is paged
    once."""
    switch = Switch(lab)
    h = Harness(tmp_path, config(lab), probe=switch)

    def fail() -> None:
        switch.failing = True

    def recover() -> None:
        switch.failing = False

    h.drive(
        (lambda: h.state("api") is State.UP, fail),
        (lambda: events(h) == ["incident.opened"], recover),
        (lambda: events(h)[-1:] == ["incident.resolved"], fail),
        (lambda: len(events(h)) == 3, list),
        limit=600,
    )
    h.store.flush()
    first, second = sorted(i.id for i in h.store.incidents())
    h.close()

    again = Harness(tmp_path, config(lab), probe=switch)
    again.sim.now = h.sim.now + 400 * DAY
    again.drive((lambda: again.state("api") is State.DOWN, list), limit=again.sim.now + 300)
    again.store.flush()
    assert events(again) == []
    assert [i.id for i in again.store.incidents()] == [second]
    assert first < second
    told = again.store.incident_tellings(0.0)
    assert {number for number, _ in told} == {second}
    again.close()

    switch.failing = False
    last = Harness(tmp_path, config(lab), probe=switch)
    last.sim.now = again.sim.now + 60
    last.drive(
        (lambda: last.state("api") is State.UP and bool(last.ops.got), list),
        limit=last.sim.now + 300,
    )
    assert events(last) == ["incident.resolved"]
    last.close()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workers", [1, 2])
def test_tether_monitor_prunes_at_its_start_in_every_shape(tmp_path: Path, workers: int) -> None:
    """Started on a store holding a year-old history, `tether monitor` (one process, or a
    coordinator and two workers) deletes what is past its retention at once, and keeps
    the silence still in force."""
    db = tmp_path / "t.db"
    with SQLiteStore(db) as store:
        seed(store, time.time())
    assert rows(db, LEFT) == [(3, 1)]
    config = tmp_path / "tether.yaml"
    config.write_text(
        f'workers: {workers}\nstorage: {{path: "{db}"}}\nserver: {{listen: "127.0.0.1:0"}}\n'
        "monitors:\n  - {name: api, url: 'http://127.0.0.1:9/', interval: 1h, timeout: 1s}\n"
    )
    with monitor(config, tmp_path / "monitor.log") as proc:
        wait_for(lambda: rows(db, LEFT) == [(1, 0)], proc, limit=60)
        assert rows(db, IN_FORCE) == [("in force",)]
