"""Alerts that never go silent, end to end: real lab targets, a real store and outbox, real
webhook receivers on loopback, simulated time.

- a monitor that joins an open incident is told in the incident's grouped update;
- a dead channel beside a live one: the live one gets every alert, the dead one's failures
  are counted in /metrics and logged with their kind;
- uptime is the share of time up, whatever the confirmation re-probes did.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tests.helpers.alerts_receiver import Receiver
from tests.helpers.monitor_harness import Harness
from tests.helpers.simtime import EPOCH
from tether.lab import Lab
from tether.monitor._state import State
from tether.monitor.alerts import WebhookChannel
from tether.monitor.config import parse_config
from tether.monitor.reports._uptime import uptime, uptimes
from tether.probe import ProbeOptions
from tether.testing import Override


def closed_port() -> int:
    """A loopback port nothing listens on (bound, never listening, then closed)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def events(receiver: Receiver) -> list[tuple[str, str]]:
    return [(p["event"], p["monitor"]) for p in (json.loads(b) for _, b in receiver.got)]


def test_a_monitor_joining_an_open_incident_is_told_in_a_grouped_update(
    tmp_path: Path, lab: Lab, receiver: Receiver, fast_retries: Override
) -> None:
    """Two monitors of one failing host: one incident, and the receiver hears each go down
    (the second joining the first's incident) and each come back, the last one resolving.
    (Before grouping, the second's down and the first's up were alerts of their own: now
    the join is the incident's grouped update, and the first's return, still kept when the
    incident resolves, is in the resolution.)"""
    receiver.start()
    broken = {"alpha": True, "bravo": True}

    def route(target: str, options: ProbeOptions) -> str:
        name = "alpha" if target.endswith("/alpha") else "bravo"
        return lab["http_503"].url if broken[name] else lab["healthy"].url

    base = lab["http_503"].url.rstrip("/")
    config = parse_config(
        f"""
alerts: [{{name: ops, type: webhook, url: "{receiver.url}"}}]
defaults: {{interval: 30s, timeout: 1s, alerts: [ops]}}
monitors:
  - {{name: alpha, url: "{base}/alpha"}}
  - {{name: bravo, url: "{base}/bravo"}}
"""
    )
    ops = WebhookChannel("ops", receiver.url)
    h = Harness(tmp_path, config, probe=route, channels={"ops": ops})

    def fix(name: str) -> None:
        broken[name] = False

    h.drive(
        (lambda: len(receiver.got) >= 2, lambda: fix("alpha")),
        (lambda: h.state("alpha") is State.UP, lambda: fix("bravo")),
        (lambda: len(receiver.got) >= 3, list),
        limit=600,
    )
    ops.close()
    got = events(receiver)
    assert got[1:] == [("incident.updated", got[1][1]), ("incident.resolved", "bravo")]
    first, second = got[0][1], got[1][1]
    assert got[0] == ("incident.opened", first)
    assert {first, second} == {"alpha", "bravo"}
    (incident,) = h.store.incidents()
    joined = json.loads(receiver.got[1][1])
    assert joined["incident"] == incident.id
    assert joined["text"].startswith(f"incident #{incident.id} (")
    assert f"1 more monitor down: {second} (2 in all" in joined["text"]
    resolved = json.loads(receiver.got[2][1])
    assert resolved["text"].endswith("; not told before: 1 monitor back up: alpha")
    assert resolved["resolves"] == "http.server_error"
    assert incident.resolved is not None
    h.close()


def test_a_dead_channel_never_delays_a_live_one(
    tmp_path: Path,
    lab: Lab,
    receiver: Receiver,
    fast_retries: Override,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """alerts: [dead, live], with dead a webhook to a closed port: live gets the down and
    the up alert as they happen; dead's failures are counted by kind in /metrics, queued
    with their age, and each is one log line naming the channel and the kind."""
    receiver.start()
    broken = {"now": True}

    def route(target: str, options: ProbeOptions) -> str:
        return lab["refused"].url if broken["now"] else lab["healthy"].url

    dead_url = f"http://127.0.0.1:{closed_port()}/hook"
    config = parse_config(
        f"""
alerts:
  - {{name: dead, type: webhook, url: "{dead_url}"}}
  - {{name: live, type: webhook, url: "{receiver.url}"}}
monitors:
  - {{name: api, url: "http://127.0.0.1:1/", interval: 30s, timeout: 1s, alerts: [dead, live]}}
"""
    )
    dead, live = WebhookChannel("dead", dead_url), WebhookChannel("live", receiver.url)
    h = Harness(tmp_path, config, probe=route, channels={"dead": dead, "live": live})

    def fix() -> None:
        broken["now"] = False

    caplog.set_level(logging.WARNING, logger="tether.monitor")
    h.drive(
        (lambda: len(receiver.got) >= 1, fix),
        (lambda: len(receiver.got) >= 2, list),
        limit=600,
    )
    dead.close()
    live.close()
    assert events(receiver) == [("incident.opened", "api"), ("incident.resolved", "api")]
    # The live channel heard of the outage at the outbox's next poll (every 0.5 s here),
    # while the dead one failed and waited for its retries.
    (incident,) = h.store.incidents()
    (live_at,) = [at for c, e, at in h.delivered if c == "live" and e == "incident.opened"]
    assert live_at - (incident.opened - EPOCH) <= 1.0, (live_at, incident.opened - EPOCH)
    metrics = h.metrics()
    assert 'tether_alerts_sent_total{channel="live"} 2.0' in metrics
    assert 'tether_alert_delivery_failures_total{channel="dead",kind="connect.refused"}' in metrics
    assert 'tether_alerts_queued{channel="dead"} 2.0' in metrics
    assert 'tether_alerts_queued{channel="live"} 0.0' in metrics
    failed = [r for r in caplog.records if getattr(r, "event", None) == "alert.failed"]
    assert failed
    assert all(r.__dict__["channel"] == "dead" for r in failed)
    kinds = [r.__dict__["kind"] for r in failed]
    # Refused, until the webhook's own breaker opens and says so without sending.
    assert kinds[0] == "connect.refused"
    assert set(kinds) <= {"connect.refused", "circuit.open"}, kinds
    assert "alert to dead failed: incident.opened api" in failed[0].getMessage()
    (status_dead, status_live) = h.runner.outbox.status()
    assert status_dead.failing
    assert status_dead.queued == 2
    assert status_dead.last_error is not None
    assert status_dead.last_error.startswith(("connect.refused: ", "circuit.open: "))
    assert not status_live.failing
    assert status_live.sent == 2
    h.close()


def test_uptime_is_time_up_not_a_count_of_checks(
    tmp_path: Path, lab: Lab, fast_retries: Override
) -> None:
    """An outage confirmed by re-probes and lasting about 10 minutes in an hour: uptime is
    close to 50 of 60 minutes, where counting checks (re-probes included) says far less."""
    broken = {"now": False}

    def route(target: str, options: ProbeOptions) -> str:
        return lab["refused"].url if broken["now"] else lab["healthy"].url

    config = parse_config(
        """
monitors:
  - {name: api, url: "http://127.0.0.1:1/", interval: 60s, timeout: 1s}
"""
    )
    h = Harness(tmp_path, config, probe=route)
    start: dict[str, float] = {}

    def breaks() -> None:
        start["t"] = h.sim.wall()
        broken["now"] = True

    h.drive(
        (lambda: h.sim.now >= 1200, breaks),
        (lambda: h.sim.now >= 1800, lambda: broken.update(now=False)),
        (lambda: h.sim.now >= 3600 and h.state("api") is State.UP, list),
        limit=4000,
    )
    h.store.flush()
    now = h.sim.wall()
    changes = h.store.state_changes("api", now - 86400)
    states = [s for _, s in changes]
    assert State.DOWN in states
    share = uptimes(h.store, "api", now)["24h"]
    assert share is not None
    down_for = next(at for at, s in changes if s is State.UP and at > start["t"]) - next(
        at for at, s in changes if s is State.DOWN
    )
    known = now - changes[0][0] if changes[0][1] is not State.UNKNOWN else now - changes[1][0]
    assert share == pytest.approx(1 - down_for / known, abs=1e-6)
    assert 540 <= down_for <= 700  # about the 10 minutes it was broken
    results = h.store.results("api", limit=10_000)
    by_count = sum(r.ok for r in results) / len(results)
    assert by_count < share - 0.02  # the re-probes weigh on a count, not on time
    assert uptime(changes, now - 86400, now) == share
    h.close()


def test_reminders_escalation_and_ack_reach_real_receivers(
    tmp_path: Path, lab: Lab, fast_retries: Override
) -> None:
    """A monitor that stays down with remind_every 5m and escalate after 10m: ops hears
    the opening and reminders, the pager its escalation and reminders from then on; after
    `tether ack` (the store's acknowledgement) no more reminders reach anyone."""
    from tether.monitor import acknowledge

    ops_rx, pager_rx = Receiver(), Receiver()
    ops_rx.start()
    pager_rx.start()
    config = parse_config(
        f"""
alerts:
  - {{name: ops, type: webhook, url: "{ops_rx.url}"}}
  - {{name: pager, type: webhook, url: "{pager_rx.url}"}}
monitors:
  - name: api
    url: "{lab["refused"].url}"
    interval: 60s
    timeout: 1s
    alerts: [ops]
    remind_every: 5m
    escalate: [{{after: 10m, alerts: [pager]}}]
"""
    )
    ops, pager = WebhookChannel("ops", ops_rx.url), WebhookChannel("pager", pager_rx.url)
    h = Harness(tmp_path, config, channels={"ops": ops, "pager": pager})
    acked: dict[str, float] = {}

    def ack() -> None:
        (incident,) = h.store.incidents(open_only=True)
        assert acknowledge(h.store, incident.id, "alice", h.sim.wall())
        acked["at"] = h.sim.now

    try:
        h.drive(
            # Reminders fall due 5, 10 and 15 min after the incident opens (within its
            # first two minutes, as the confirmations go): the acknowledgement comes
            # after the third and before the fourth.
            (lambda: h.sim.now >= 18 * 60, ack),
            (lambda: h.sim.now >= 40 * 60, list),
            limit=3000,
        )
    finally:
        ops.close()
        pager.close()
        ops_rx.stop()
        pager_rx.stop()
    to_ops = [e for e, _ in events(ops_rx)]
    to_pager = [e for e, _ in events(pager_rx)]
    assert to_ops == ["incident.opened"] + ["incident.reminder"] * 3  # 5, 10, 15 min in
    # 10 min in, then 15: the reminder due with the escalation is not sent there too.
    assert to_pager == ["incident.escalated", "incident.reminder"]
    last = max(at for _, _, at in h.delivered)
    assert last < acked["at"]  # nothing after the acknowledgement, 24 more minutes down
    (incident,) = h.store.incidents()
    assert incident.acknowledged is not None
    assert [e.event for e in incident.timeline].count("reminder") == 3
    h.close()


def test_an_outbox_whose_store_fails_logs_and_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A store that cannot be read (closed, its file overwritten with garbage) makes the
    outbox log one error for the whole stretch, never raise: the monitor is not stopped."""
    import asyncio

    from tether.monitor import Outbox
    from tether.monitor.store import SQLiteStore

    path = tmp_path / "t.db"
    store = SQLiteStore(path)
    store.close()
    for leftover in tmp_path.glob("t.db-*"):
        leftover.unlink()
    path.write_bytes(b"not a database at all " * 512)
    outbox = Outbox(store, {})
    rounds: list[float] = []

    async def main() -> None:
        stop = asyncio.Event()

        async def sleep(seconds: float) -> None:
            rounds.append(seconds)
            if len(rounds) == 3:
                stop.set()
            await asyncio.sleep(0)

        await outbox.run(stop, lambda: 0.0, sleep, every=1.0)

    caplog.set_level(logging.ERROR, logger="tether.monitor")
    asyncio.run(main())
    failed = [r for r in caplog.records if getattr(r, "event", None) == "outbox.failed"]
    assert len(rounds) == 3
    assert len(failed) == 1
    assert "the store is closed" in failed[0].getMessage()
