"""An objective's counts and firing rules live in the store (issue 44 §2), on simulated
time (tests/helpers/monitor_harness.py): real probes against the lab, a real SQLite store
shared by a run and the run that restarts on it, the real outbox and channels.

Each test reproduces what issue 44 measured on main: a restart that counted an objective
from nothing (and paged at once), a restart that paged a firing rule again, a reload
that dropped a firing rule without a word, a discovered target whose coming and going
zeroed the objective and left its alert firing in Alertmanager for ever."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from tests.helpers.alerts_receiver import Receiver
from tests.helpers.monitor_harness import Harness
from tests.helpers.simtime import EPOCH
from tether._kinds import Kind
from tether.lab import Lab
from tether.monitor._records import ProbeRecord
from tether.monitor.alerts._alertmanager import AlertmanagerChannel
from tether.monitor.alerts._webhook import WebhookChannel
from tether.monitor.checks._prober import Check
from tether.monitor.config import MonitorConfig, parse_config
from tether.monitor.runtime._objective_stage import STATE_KEY
from tether.monitor.store import SQLiteStore
from tether.probe import ProbeOptions

MINUTE = 60.0


class Switch:
    """Routes the probes of the monitors named in ``failing`` to the lab's refusing
    target, the others to its healthy one."""

    def __init__(self, lab: Lab) -> None:
        self.up, self.down = lab["healthy"].url, lab["refused"].url
        self.failing: set[str] = set()
        self.urls: dict[str, str] = {}

    def __call__(self, target: str, options: ProbeOptions) -> str:
        name = self.urls.get(target)
        return self.down if name in self.failing else self.up


def history(path: Path, monitor: str, minutes: int, *, failed: int = 0) -> int:
    """``minutes`` checks of ``monitor`` a minute apart before the run's start, the first
    ``failed`` of them failed: what a store holds after a day of monitoring."""
    with SQLiteStore(path) as store:
        for i in range(minutes):
            bad = i < failed
            at = EPOCH - (minutes - i) * MINUTE
            store.record(ProbeRecord(monitor, at, not bad, Kind.CONNECT_REFUSED if bad else None))
    return minutes


def events(h: Harness) -> list[str]:
    return [e for _, e, _ in h.delivered]


def bodies(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(b) for _, b in receiver.got]


def _config(receiver: Receiver, monitors: str, objective: str) -> MonitorConfig:
    return parse_config(
        f"""
alerts:
  - {{name: pager, type: webhook, url: "{receiver.url}"}}
monitors:
{monitors}
objectives:
{objective}
"""
    )


def test_a_restart_counts_what_the_store_holds_and_pages_no_one_for_it(
    tmp_path: Path, lab: Lab, receiver: Receiver
) -> None:
    """A day of passing checks in the store, then the monitor starts and its first check
    fails: the objective counts the day and the new checks (not 0 good of 1), so one
    failure in 1,441 checks of a 99% objective pages nobody.  On main it counted from the
    restart and paged the 1-hour, 6-hour and 3-day rules at once."""
    receiver.start()
    held = history(tmp_path / "t.db", "api", 24 * 60)
    switch = Switch(lab)
    cfg = _config(
        receiver,
        f'  - {{name: api, url: "{lab["healthy"].url}", interval: 60s, timeout: 1s}}',
        "  - {name: checkout, monitors: [api], target: 99%, window: 30d, alerts: [pager]}",
    )
    switch.urls = {lab["healthy"].url: "api"}
    switch.failing = {"api"}
    h = Harness(
        tmp_path, cfg, probe=switch, channels={"pager": WebhookChannel("pager", receiver.url)}
    )
    h.drive(
        (lambda: len(h.store.results("api", EPOCH)) >= 1, switch.failing.clear),
        (lambda: h.sim.now >= 3 * MINUTE, list),
        limit=600,
    )
    stage = h.runner.objectives
    status = stage.book.status("checkout", h.sim.wall())
    taken = len(h.store.results("api", EPOCH))
    assert status.counts.total == held + taken
    assert status.counts.good == held + taken - 1
    assert not stage.waiting
    assert "objective.burning" not in events(h)
    h.close()


def page_only(receiver: Receiver, lab: Lab, rules: str = "") -> MonitorConfig:
    """One monitor every 5 s, one 99.9% objective with one rule, the Workbook's page."""
    rules = rules or "[{severity: page, burn: 14.4, long: 1h, short: 5m}]"
    return _config(
        receiver,
        f'  - {{name: api, url: "{lab["healthy"].url}", interval: 5s, timeout: 1s}}',
        f"  - {{name: checkout, monitors: [api], target: 99.9%, window: 30d, alerts: [pager],"
        f"\n     burn_rates: {rules}}}",
    )


def test_a_rule_firing_across_a_restart_pages_once_and_resolves_once(
    tmp_path: Path, lab: Lab, receiver: Receiver
) -> None:
    """A run pages as its target refuses, and stops; the next run on the same store,
    the target still refusing, keeps the rule firing since the same moment and pages no
    one again; once the target is back the rule ends and is resolved once, with the
    first page's ``since``.  On main the restarted run paged a second time."""
    receiver.start()
    history(tmp_path / "t.db", "api", 24 * 60)
    switch = Switch(lab)
    switch.urls = {lab["healthy"].url: "api"}
    cfg = page_only(receiver, lab)
    channels = {"pager": WebhookChannel("pager", receiver.url)}
    first = Harness(tmp_path, cfg, probe=switch, channels=channels)
    switch.failing = {"api"}
    first.drive((lambda: "objective.burning" in events(first), list), limit=600)
    fired = first.runner.objectives.book.ledgers["checkout"].firing
    assert len(fired) == 1
    ended = first.sim.now
    first.close()
    second = Harness(tmp_path, cfg, probe=switch, channels=channels, start=ended + 30)
    assert second.runner.objectives.book.ledgers["checkout"].firing == fired
    second.drive(
        (lambda: second.sim.now >= ended + 120, switch.failing.clear),
        (lambda: "objective.resolved" in events(second), list),
        (lambda: second.sim.now >= ended + 1200, list),
        limit=ended + 1300,
    )
    said = [(b["event"], dt.datetime.fromisoformat(b["since"])) for b in bodies(receiver)]
    since = dt.datetime.fromtimestamp(next(iter(fired.values())), dt.UTC)
    assert said == [("objective.burning", since), ("objective.resolved", since)]
    second.close()


def test_an_alert_a_crash_lost_is_queued_at_the_next_start(
    tmp_path: Path, lab: Lab, receiver: Receiver
) -> None:
    """The firing rules are written before their alert: a ``kill -9`` between the two
    commits leaves a rule firing and no alert.  The next start queues the alerts kept
    with the rules again: the lost one goes out once, one already queued not twice."""
    receiver.start()
    history(tmp_path / "t.db", "api", 24 * 60)  # a budget's worth of checks
    cfg = page_only(receiver, lab)
    switch = Switch(lab)
    switch.urls = {lab["healthy"].url: "api"}
    switch.failing = {"api"}
    first = Harness(
        tmp_path, cfg, probe=switch, channels={"pager": WebhookChannel("pager", receiver.url)}
    )
    first.drive((lambda: "objective.burning" in events(first), list), limit=600)
    saved = first.store.load_state([STATE_KEY])[STATE_KEY]
    assert [t["payload"]["event"] for t in saved["told"]] == ["objective.burning"]
    ended = first.sim.now
    first.close()
    # The crash: the alert's row never committed.
    import sqlite3

    with sqlite3.connect(tmp_path / "t.db") as conn:
        conn.execute("DELETE FROM outbox")
    receiver.got.clear()
    channels = {"pager": WebhookChannel("pager", receiver.url)}
    second = Harness(tmp_path, cfg, probe=switch, channels=channels, start=ended + 5)
    second.drive((lambda: second.sim.now >= ended + 60, list), limit=ended + 120)
    assert [b["event"] for b in bodies(receiver)] == ["objective.burning"]
    second.close()
    third = Harness(tmp_path, cfg, probe=switch, channels=channels, start=ended + 70)
    third.drive((lambda: third.sim.now >= ended + 100, list), limit=ended + 160)
    assert [b["event"] for b in bodies(receiver)] == ["objective.burning"]  # not again
    third.close()


def test_a_reload_that_removes_a_firing_rule_resolves_it(
    tmp_path: Path, lab: Lab, receiver: Receiver
) -> None:
    """A rule fires; a reload keeps it firing (no second page), then one that replaces
    the rule resolves it, once, to the channel it paged; one that removes the objective
    resolves what it had firing.  On main the reload dropped the rule without a word."""
    receiver.start()
    history(tmp_path / "t.db", "api", 24 * 60)
    switch = Switch(lab)
    switch.urls = {lab["healthy"].url: "api"}
    switch.failing = {"api"}
    cfg = page_only(receiver, lab)
    h = Harness(
        tmp_path, cfg, probe=switch, channels={"pager": WebhookChannel("pager", receiver.url)}
    )
    # A rule of its own that these failures do not reach: it does not fire in its turn.
    other = page_only(receiver, lab, "[{severity: page, burn: 100, long: 1h, short: 5m}]")
    reloaded: list[float] = []

    def same() -> None:
        h.runner.reload(cfg)
        reloaded.append(h.sim.now)

    def replaced() -> None:
        switch.failing.clear()
        h.runner.reload(other)

    h.drive(
        (lambda: "objective.burning" in events(h), same),
        (lambda: h.sim.now >= reloaded[0] + 30, replaced),  # three evaluations: no page
        (lambda: "objective.resolved" in events(h), list),
        limit=900,
    )
    said = bodies(receiver)
    assert [b["event"] for b in said] == ["objective.burning", "objective.resolved"]
    assert said[1]["text"].endswith("the rule is no longer in the configuration")
    assert said[1]["labels"] == said[0]["labels"]
    assert said[1]["since"] == said[0]["since"]
    h.close()


def test_a_discovered_target_that_comes_and_goes_moves_its_own_share_alone(
    tmp_path: Path, lab: Lab
) -> None:
    """An objective over the file's ``api`` and a discovered ``pod`` (a monitor set that a
    reload changes, as discovery does).  ``pod`` appears with its stored history: the
    objective adds it and keeps ``api``'s counts.  ``pod`` refuses, the page fires and
    Alertmanager is told; ``pod`` expires: its share leaves, ``api``'s stays, the rule
    ends and is resolved, and the Alertmanager channel no longer keeps the alert firing.
    On main each change zeroed the objective, dropped the firing rule, and the channel
    sent the burning alert again every minute for as long as tether ran."""
    held = history(tmp_path / "t.db", "pod", 60)
    switch = Switch(lab)
    healthy = lab["healthy"].url
    switch.urls = {healthy: "api", healthy + "?pod": "pod"}
    receiver = Receiver()
    receiver.start()
    manager = AlertmanagerChannel("am", f"http://127.0.0.1:{receiver.port}")
    api = f'  - {{name: api, url: "{healthy}", interval: 5s, timeout: 1s, labels: {{svc: shop}}}}'
    pod = (
        f'  - {{name: pod, url: "{healthy}?pod", interval: 5s, timeout: 1s, labels: {{svc: shop}}}}'
    )
    objective = (
        "  - {name: shop, match: {svc: shop}, target: 99%, window: 30d, alerts: [am],\n"
        "     burn_rates: [{severity: page, burn: 14.4, long: 1h, short: 5m}]}"
    )

    def config(*monitors: str) -> MonitorConfig:
        return parse_config(
            f"alerts:\n  - {{name: am, type: alertmanager, url: 'http://127.0.0.1:{receiver.port}'}}\n"
            f"monitors:\n" + "\n".join(monitors) + f"\nobjectives:\n{objective}\n"
        )

    h = Harness(tmp_path, config(api), probe=switch, channels={"am": manager})
    stage = h.runner.objectives
    seen: dict[str, int] = {}

    def appear() -> None:
        seen["api"] = stage.book.status("shop", h.sim.wall()).counts.total
        h.runner.reload(config(api, pod))
        switch.failing = {"pod"}

    def expire() -> None:
        seen["before"] = stage.book.status("shop", h.sim.wall()).counts.total
        h.runner.reload(config(api))

    def read() -> None:
        seen["added"] = stage.book.status("shop", h.sim.wall()).counts.total

    def burning() -> None:
        seen["firing"] = len(manager.firing)
        expire()

    h.drive(
        (lambda: h.sim.now >= 60, appear),
        (lambda: h.sim.now >= 70, read),  # its share read from the store by then
        (lambda: "objective.burning" in events(h), burning),
        (lambda: "objective.resolved" in events(h), list),
        limit=1200,
    )
    assert seen["api"] >= 12
    # pod came with its hour of history; api's counts stayed.
    assert seen["added"] >= seen["api"] + held
    assert seen["firing"] == 1  # Alertmanager was told it fires
    status = stage.book.status("shop", h.sim.wall())
    api_checks = len(h.store.results("api", 0.0, limit=10_000))
    assert status.counts.total == api_checks  # pod's share left with it
    assert status.counts.good == api_checks
    assert events(h) == ["objective.burning", "objective.resolved"]
    assert manager.firing == ()  # resolved: not sent again
    h.close()
    receiver.stop()


def test_a_check_of_a_monitor_that_joined_before_its_read_begins_counts_once(
    tmp_path: Path, lab: Lab
) -> None:
    """Two monitors join an objective by two reloads (as discovery adds targets), and each
    is checked before the store is read for it: the read has those checks, so the live
    count keeps them aside, and the objective counts exactly what the store holds.  On
    main a check between the reload and the read's start counted twice (once live, once
    read), and stayed when its monitor left."""
    # Each check ended a moment before it was taken (as a probe's does), so before the
    # read's moment too.
    held = history(tmp_path / "t.db", "pod", 30) + history(tmp_path / "t.db", "pod2", 30)
    url = lab["healthy"].url
    line = "  - {{name: {0}, url: '{1}?{0}', interval: 5s, timeout: 1s, labels: {{svc: shop}}}}"
    objective = "objectives:\n  - {name: shop, match: {svc: shop}, target: 99%, window: 30d}\n"

    def config(*names: str) -> MonitorConfig:
        return parse_config(
            "monitors:\n" + "\n".join(line.format(n, url) for n in names) + "\n" + objective
        )

    h = Harness(tmp_path, config("api"), probe=Switch(lab))
    h.drive((lambda: h.sim.now >= 30, list), limit=60)
    stage = h.runner.objectives
    stage.read_now()
    h.runner.reload(config("api", "pod"))
    h.runner.take_check(Check(ProbeRecord("pod", h.sim.wall() - 0.5, True, None, 3.0), None))
    h.runner.reload(config("api", "pod", "pod2"))
    h.runner.take_check(
        Check(ProbeRecord("pod2", h.sim.wall() - 0.5, False, Kind.CONNECT_REFUSED), None)
    )
    h.runner.take_check(Check(ProbeRecord("pod", h.sim.wall() - 0.5, True, None, 3.0), None))
    stage.read_now()
    h.runner.take_check(Check(ProbeRecord("pod2", h.sim.wall() + 1, True, None, 3.0), None))
    h.store.flush()
    stored = {m: h.store.results(m, 0.0, limit=10_000) for m in ("api", "pod", "pod2")}
    assert sum(map(len, stored.values())) == held + len(stored["api"]) + 4
    counts = stage.book.status("shop", h.sim.wall() + 1).counts
    assert counts.total == sum(map(len, stored.values()))
    assert counts.good == counts.total - 1
    h.close()
