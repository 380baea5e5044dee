"""``alert_when:`` end to end: a real runner on simulated time probes a target behind a
round-robin load balancer of three real loopback backends, one of which answers 503, so
one check in three fails.  The balancer is the harness's probe route (it picks the
backend each probe goes to); the probes, the store and the outbox are real."""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers.monitor_harness import Harness, monitors
from tether.lab import Lab
from tether.monitor._state import State
from tether.probe import ProbeOptions


def test_one_bad_backend_in_three_pages_on_a_window_and_not_on_a_run(
    tmp_path: Path, lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    """The monitor with ``alert_when: {failure_ratio: 20%, ...}`` goes down once its window
    holds ``min_checks`` checks (a third failed), with one incident and one alert saying
    which rule fired; the same target on ``failure_threshold`` never goes down; no
    re-probe is made for the window's monitor."""
    healthy, bad = lab["healthy"].url, lab["http_503"].url
    ratio = (
        f"{{name: lb, url: '{healthy}?lb=ratio', interval: 30s, timeout: 1s, alerts: [ops], "
        "alert_when: {failure_ratio: 20%, within: 5m, min_checks: 6}}"
    )
    run = f"{{name: run, url: '{healthy}?lb=run', interval: 30s, timeout: 1s, alerts: [ops]}}"
    turns: Counter[str] = Counter()

    def balancer(target: str, options: ProbeOptions) -> str:
        turns[target] += 1
        return bad if turns[target] % 3 == 0 else target

    caplog.set_level(logging.INFO, logger="tether")
    h = Harness(tmp_path, monitors(ratio, run), probe=balancer)
    h.drive((lambda: h.sim.now > 600, lambda: None), limit=700)
    h.store.flush()
    assert h.state("lb") is State.DOWN
    assert h.state("run") is State.UP
    (incident,) = h.store.incidents()
    assert incident.monitors == ("lb",)
    assert [(a["event"], a["monitors"]) for a in h.ops.got] == [("incident.opened", ["lb"])]
    # Six checks 30 s apart, the third and sixth failed: down at the sixth, 150 s after
    # the first, and never a probe between two intervals.
    lb = sorted(r.ts for r in h.store.results("lb"))
    assert all(round(b - a) == 30 for a, b in itertools.pairwise(lb)), lb
    assert round(incident.opened - lb[0]) == 150
    # The log says which rule fired, in words.
    downs = [r.getMessage() for r in caplog.records if "-> down" in r.getMessage()]
    assert downs == [
        "lb: up -> down (2 of 6 checks (33.3%) failed within 5 min, at least 20% needed "
        "(http.server_error))"
    ]
    h.close()


def test_a_restart_keeps_the_window_and_pages_no_second_time(tmp_path: Path, lab: Lab) -> None:
    """Down on its window, the monitor is stopped and a new runner starts on the same store
    a minute later, the backend still failing one check in three: it comes back down with
    the window it had (checks from before the restart in it), and no second alert is
    sent while the rule goes on holding."""
    healthy, bad = lab["healthy"].url, lab["http_503"].url
    lb = monitors(
        f"{{name: lb, url: '{healthy}', interval: 30s, timeout: 1s, alerts: [ops], "
        "alert_when: {failure_ratio: 20%, within: 5m, min_checks: 6}}"
    )
    turns = itertools.count(1)

    def balancer(target: str, options: ProbeOptions) -> str:
        return bad if next(turns) % 3 == 0 else target

    before = Harness(tmp_path, lb, probe=balancer)
    before.drive((lambda: before.state("lb") is State.DOWN, lambda: None), limit=600)
    before.store.flush()
    stopped = before.sim.wall()
    assert [a["event"] for a in before.ops.got] == ["incident.opened"]
    before.close()

    after = Harness(tmp_path, lb, probe=balancer)
    after.sim.now = before.sim.now + 60
    restored = after.runner.detector.export("lb")
    assert restored is not None
    assert after.state("lb") is State.DOWN
    assert all(at <= stopped for at, _ in restored["window"])
    assert len(restored["window"]) == 6
    after.drive((lambda: after.sim.wall() > stopped + 600, lambda: None), limit=2000)
    after.store.flush()
    assert after.state("lb") is State.DOWN
    assert after.ops.got == []  # the incident is still open: nothing more to say
    (incident,) = after.store.incidents()
    assert incident.resolved is None
    after.close()
