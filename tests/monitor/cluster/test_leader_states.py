"""The states a new leader finds (tests/helpers/cluster_harness.py: real Runners at two
locations on one real PostgreSQL schema, real probes of the lab, a clock the test sets).
Only the leader writes a monitor's state changes, which uptime and ``tether status``
read; a change decided while no instance led, or by a leader killed before it wrote it,
was written by nobody, so the store said the monitor's old state until its next change
(a discovered monitor listed ``unknown`` by ``tether status`` after a takeover while
every page said ``up``)."""

from __future__ import annotations

import math

from tests.helpers.cluster_harness import Instances
from tether.lab import Lab
from tether.monitor._state import State
from tether.monitor.config import parse_config

LOCATIONS = ("east", "west")


def _instances(postgres_dsn: str, lab: Lab, fixed: set[str]) -> Instances:
    """api always healthy; db refused until it is in ``fixed``."""
    healthy, refused = lab["healthy"].url, lab["refused"].url
    config = parse_config(
        f"locations: [{', '.join(LOCATIONS)}]\n"
        "monitors:\n"
        f"  - {{name: api, url: '{healthy}', interval: 1h, timeout: 2s}}\n"
        f"  - {{name: db, url: '{healthy}?db', interval: 1h, timeout: 2s}}\n"
    )

    def route(location: str, url: str) -> str:
        return refused if url.endswith("?db") and "db" not in fixed else url

    return Instances(postgres_dsn, config, LOCATIONS, route)


def _last(instances: Instances) -> dict[str, tuple[float, State] | None]:
    for runner in instances.runners.values():
        runner.store.flush()
    found = instances["east"].store.state_changes_of(["api", "db"], math.inf)
    return {name: (rows[-1] if rows else None) for name, rows in found.items()}


def _leaders(instances: Instances) -> list[str]:
    return [at for at, r in instances.runners.items() if r.leading and at not in instances.left]


def _both_check(instances: Instances, *at: str) -> None:
    """The instances at ``at`` (every one by default) check both monitors until their
    states are confirmed; then every instance still there reads what they published."""
    for location in at or LOCATIONS:
        for _ in range(3):  # a failure confirmed, a recovery too
            instances.check(location, "api", "db")
    for runner in instances.runners.values():
        runner.store.flush()
    for location, runner in instances.runners.items():
        if location not in instances.left:  # one that left reads nothing any more
            instances.call(runner.poll_locations())
            runner.store.flush()


def test_a_new_leader_writes_a_change_decided_while_nobody_led(postgres_dsn: str, lab: Lab) -> None:
    """api up and db down, written by the leader.  The leader leaves; db comes back and
    the other instance sees it before it takes the lead: nobody writes it then.  Taking
    the lead it writes db up (main's code left the store saying down), and nothing for
    api, whose stored state is already its quorum's."""
    fixed: set[str] = set()
    instances = _instances(postgres_dsn, lab, fixed)
    try:
        instances.rounds()
        _both_check(instances)
        before = _last(instances)
        assert before["api"] is not None
        assert before["api"][1] is State.UP
        assert before["db"] is not None
        assert before["db"][1] is State.DOWN
        (leader,) = _leaders(instances)
        (other,) = [at for at in LOCATIONS if at != leader]
        instances.leave(leader)
        instances.now += 60
        fixed.add("db")
        _both_check(instances, other)
        assert _leaders(instances) == []
        assert _last(instances) == before  # nobody leads: nothing written
        instances.rounds()
        assert _leaders(instances) == [other]
        after = _last(instances)
        assert after["api"] == before["api"]
        assert after["db"] == (instances.now, State.UP)
    finally:
        instances.close()
