"""An objective's burn-rate alerts from the running monitor, on simulated time
(tests/helpers/monitor_harness.py): real probes against the lab, a real store, the real
outbox and a real webhook receiver on loopback.

The objective is the docs' (docs/objectives.md): 99.9% over 30 days with the Workbook's
rules.  Its history before the run is 30 days of passing checks at the monitor's rate,
counted into its ledger as a roll-up (``Ledger.record``, as the engine takes counts): the
30-day window in simulated seconds, without a month of probes.  Then the lab's target
refuses, and the first page must come when the maths says: 0.1% x 1 h x 14.4 = 51.8 s of
failures, give or take one check and one evaluation."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers.alerts_receiver import Receiver
from tests.helpers.monitor_harness import Harness
from tests.helpers.simtime import EPOCH
from tether.lab import Lab
from tether.monitor.alerts._webhook import WebhookChannel
from tether.monitor.config import MonitorConfig, parse_config
from tether.monitor.engine.objectives._budget import detection_time
from tether.monitor.runtime._objective_stage import EVALUATE_EVERY
from tether.probe import ProbeOptions

INTERVAL = 5.0
DAY = 86400.0


class Switch:
    """Routes the monitor's probe to the lab's healthy target or to its refusing one."""

    def __init__(self, lab: Lab, now: Callable[[], float] = lambda: 0.0) -> None:
        """``now``: the simulated clock, read when a check is sent to the refusing
        target (``last_down``)."""
        self.up, self.down = lab["healthy"].url, lab["refused"].url
        self.failing = False
        self.now = now
        self.last_down: float | None = None

    def __call__(self, target: str, options: ProbeOptions) -> str:
        if self.failing:
            self.last_down = self.now()
            return self.down
        return self.up


def config(lab: Lab, receiver: Receiver) -> MonitorConfig:
    return parse_config(
        f"""
alerts:
  - {{name: pager, type: webhook, url: "{receiver.url}"}}
monitors:
  - {{name: api-eu, url: "{lab["healthy"].url}", interval: {INTERVAL:g}s, timeout: 1s}}
objectives:
  - {{name: checkout, monitors: [api-eu], target: 99.9%, window: 30d, alerts: [pager]}}
"""
    )


def clean_month(h: Harness, name: str) -> None:
    """30 days of passing checks before the run, one each INTERVAL, counted a minute at a
    time."""
    per_minute = round(60 / INTERVAL)
    ledger = h.runner.objectives.book.ledgers[name]
    for minute in range(int(30 * DAY / 60)):
        at = EPOCH - 30 * DAY + minute * 60
        ledger.record(at, good=per_minute, total=per_minute)


def got(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(body) for _, body in receiver.got]


def test_a_total_outage_pages_within_the_maths_bound_and_resolves(
    tmp_path: Path, lab: Lab, receiver: Receiver
) -> None:
    """After a clean month, a target that refuses every check pages (14.4x over 1h) after
    51.8 s of failures at the earliest and one check and one evaluation later at the
    latest; the text says the budget spent and left and who spent it; once the target is
    back, the page is resolved as soon as the 5-minute window cools down."""
    receiver.start()
    switch = Switch(lab)
    cfg = config(lab, receiver)
    h = Harness(
        tmp_path,
        cfg,
        probe=switch,
        channels={"pager": WebhookChannel("pager", receiver.url)},
    )
    switch.now = lambda: h.sim.now
    clean_month(h, "checkout")
    began: list[float] = []

    def fail() -> None:
        switch.failing = True
        began.append(h.sim.now)

    def paged() -> bool:
        return any(e == "objective.burning" for _, e, _ in h.delivered)

    def recover() -> None:
        switch.failing = False

    def resolved() -> bool:
        return any(e == "objective.resolved" for _, e, _ in h.delivered)

    h.drive(
        (lambda: h.sim.now >= 120, fail),
        (paged, recover),
        (resolved, list),
        limit=1200,
    )
    first_page = next(t for _, e, t in h.delivered if e == "objective.burning")
    waited = first_page - began[0]
    bound = detection_time(14.4, 3600, 0.999)  # 51.84 s
    assert bound - INTERVAL <= waited <= bound + INTERVAL + EVALUATE_EVERY + 1, waited
    page, *rest = got(receiver)
    assert page["event"] == "objective.burning"
    assert page["monitor"] == "checkout"
    assert page["labels"] == {"objective": "checkout", "severity": "page", "window": "1h"}
    assert page["kind"] == "connect.refused"
    text = page["text"]
    assert text.startswith("checkout: burning its error budget ")
    assert " over 1h (page): " in text
    assert "of the 30d budget spent in the last 1h" in text
    assert "most spent by api-eu (connect.refused, " in text
    assert "failed checks)" in text
    # Only the 1-hour rule fired: the 6-hour one needs 2 min 10 s of failures, and the
    # page ended once the last 5 minutes were clean again.
    (end,) = rest
    assert end["event"] == "objective.resolved"
    assert end["since"] == page["since"]
    assert end["text"].startswith("checkout: no longer burning its error budget 14.4x over 1h")
    ended = next(t for _, e, t in h.delivered if e == "objective.resolved")
    # The 5 minutes count from the last failed check, which may come a little before
    # the page is delivered (the target came back when the page landed).
    assert switch.last_down is not None
    assert switch.last_down <= first_page
    assert 300 <= ended - switch.last_down <= 300 + 2 * EVALUATE_EVERY + INTERVAL
    h.close()


def test_a_reload_keeps_the_counts_of_an_objective_that_did_not_change(
    tmp_path: Path, lab: Lab, receiver: Receiver
) -> None:
    """Reloaded, an objective defined as before keeps its counts (the same ledger); one
    whose target changed is read again from the store, and counts as many: nothing the
    store holds is lost to a reload (docs/objectives.md)."""
    two = """
  - {name: kept, monitors: [api-eu], target: 99%, window: 30d}
  - {name: changed, monitors: [api-eu], target: TARGET, window: 30d}
"""
    base = f"""
alerts:
  - {{name: pager, type: webhook, url: "{receiver.url}"}}
monitors:
  - {{name: api-eu, url: "{lab["healthy"].url}", interval: {INTERVAL:g}s, timeout: 1s}}
objectives:"""
    h = Harness(tmp_path, parse_config(base + two.replace("TARGET", "99%")), probe=Switch(lab))
    h.drive((lambda: h.sim.now >= 30, list), limit=60)
    book = h.runner.objectives.book
    counted = book.status("kept", h.sim.wall()).counts.total
    assert counted >= 5
    assert book.status("changed", h.sim.wall()).counts.total == counted
    kept = book.ledgers["kept"]
    h.runner.reload(parse_config(base + two.replace("TARGET", "99.5%")))
    objectives = h.runner.objectives
    assert objectives.book.ledgers["kept"] is kept
    assert objectives.waiting == {"changed"}  # not evaluated until it is read
    objectives.read_now()
    assert objectives.waiting == set()
    book = objectives.book
    assert book.status("kept", h.sim.wall()).counts.total == counted
    assert book.status("changed", h.sim.wall()).counts.total == counted
    h.close()


def test_a_new_objective_pages_no_one_for_one_failed_check(
    tmp_path: Path, lab: Lab, receiver: Receiver
) -> None:
    """Issue 73, item 1, as the running monitor lives it: a new 99.9% objective (no
    history), one check refused after 30 s, the next one passing.  Before, three
    ``objective.burning`` alerts went out, two of them pages ("250x over 1h"); now none,
    and the API says where the budget would be that there are too few checks."""
    receiver.start()
    switch = Switch(lab)
    h = Harness(
        tmp_path,
        config(lab, receiver),
        probe=switch,
        channels={"pager": WebhookChannel("pager", receiver.url)},
    )
    switch.now = lambda: h.sim.now

    def fail() -> None:
        switch.failing = True

    def back() -> None:
        switch.failing = False

    h.drive(
        (lambda: h.sim.now >= 30, fail),
        (lambda: switch.last_down is not None, back),
        (lambda: h.sim.now >= 120, list),
        limit=200,
    )
    assert [e for _, e, _ in h.delivered] == []
    assert receiver.got == []
    status = h.runner.objectives.book.status("checkout", h.sim.wall())
    assert status.little_data
    assert status.counts.bad == 1
    assert status.needed == 1000
    h.close()
