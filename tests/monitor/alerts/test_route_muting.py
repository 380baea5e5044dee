"""Muted routes keep their alerts at delivery (docs/routing.md, "Time intervals"): the
outbox's :class:`MuteGate` matches the tree at the instant of delivery, and an alert
whose every route to its channel is muted is recorded as suppressed, with why, and never
sent later; on SQLite and PostgreSQL alike, through a real webhook to a real receiver on
loopback.  The instants are passed in, never read."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
from pathlib import Path

import psycopg

from tests.helpers.alert_payloads import opened
from tests.helpers.alerts_receiver import Receiver
from tests.helpers.monitor_harness import Harness
from tests.helpers.stores import open_target
from tether.monitor._records import QueuedAlert
from tether.monitor.alerts import MuteGate, Outbox, WebhookChannel, route_tree
from tether.monitor.config import MonitorConfig, parse_config
from tether.monitor.runtime._app import reload


def at(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


NIGHT = at("2026-11-25T23:30:00+00:00")
"""A Wednesday, inside ``nights``, outside ``business-hours``."""
MORNING = at("2026-11-26T10:00:00+00:00")
"""The Thursday after, inside ``business-hours``, outside ``nights``."""


def config(url: str) -> MonitorConfig:
    return parse_config(config_text(url))


def config_text(url: str) -> str:
    return f"""
alerts:
  - {{name: ops, type: webhook, url: "{url}"}}
  - {{name: pager, type: webhook, url: "{url}"}}
time_intervals:
  - name: nights
    time_intervals:
      - times:
          - {{start_time: "22:00", end_time: "24:00"}}
          - {{start_time: "00:00", end_time: "06:00"}}
  - name: business-hours
    time_intervals:
      - weekdays: ["monday:friday"]
        times: [{{start_time: "09:00", end_time: "17:00"}}]
routes:
  channels: [ops]
  routes:
    - matchers: {{team: db}}
      channels: [pager]
      mute_time_intervals: [nights]
    - matchers: {{team: web}}
      channels: [pager]
      active_time_intervals: [business-hours]
monitors:
  - {{name: orders, url: "http://127.0.0.1:1/", labels: {{team: db}}}}
  - {{name: www, url: "http://127.0.0.1:1/", labels: {{team: web}}}}
  - {{name: ledger, url: "http://127.0.0.1:1/", labels: {{team: db}}, alerts: [pager]}}
"""


def suppressed(target: str) -> dict[str, str | None]:
    """Each outbox row's dedup and why it was kept (None: not kept), read from the store's
    own tables."""
    query = "SELECT dedup, suppressed FROM outbox ORDER BY id"
    if target.startswith("postgresql://"):
        with psycopg.connect(target) as conn:
            return dict(conn.execute(query).fetchall())
    with sqlite3.connect(target) as conn:
        return dict(conn.execute(query).fetchall())


def sent(receiver: Receiver) -> list[str]:
    return [json.loads(body)["monitor"] for _, body in receiver.got]


def test_a_muted_route_keeps_its_alert_recorded_and_never_sends_it_later(target: str) -> None:
    """orders (team db) at night: its only route to pager is in ``nights``, so the alert is
    kept, recorded as suppressed with the route and the interval, and a delivery round in
    the morning does not send it; the same alert made in the morning goes."""
    receiver = Receiver()
    receiver.start()
    pager = WebhookChannel("pager", receiver.url)
    try:
        with open_target(target) as store:
            gate = MuteGate(route_tree(config(receiver.url)))
            outbox = Outbox(store, {"pager": pager}, gates=[gate])
            payload = opened(monitor="orders", labels={"team": "db"})
            store.enqueue_alert("pager", "night", payload, NIGHT)
            assert outbox.deliver_due(NIGHT + 1) == (1, 0)
            assert receiver.got == []
            assert outbox.deliver_due(MORNING) == (0, 0)
            assert receiver.got == []
            store.enqueue_alert("pager", "morning", payload, MORNING)
            assert outbox.deliver_due(MORNING + 1) == (1, 0)
            assert sent(receiver) == ["orders"]
            assert suppressed(target) == {
                "night": 'muted: route routes.routes[0] is in mute time interval "nights"',
                "morning": None,
            }
            outbox.close()
    finally:
        pager.close()
        receiver.stop()


def test_a_route_outside_its_active_intervals_keeps_its_alert(target: str) -> None:
    """www (team web) at night is outside ``business-hours``: kept, and the words say so;
    in the morning it goes."""
    receiver = Receiver()
    receiver.start()
    pager = WebhookChannel("pager", receiver.url)
    try:
        with open_target(target) as store:
            gate = MuteGate(route_tree(config(receiver.url)))
            outbox = Outbox(store, {"pager": pager}, gates=[gate])
            payload = opened(monitor="www", labels={"team": "web"})
            store.enqueue_alert("pager", "night", payload, NIGHT)
            store.enqueue_alert("pager", "morning", payload, MORNING)
            assert outbox.deliver_due(NIGHT + 1) == (1, 0)
            assert outbox.deliver_due(MORNING + 1) == (1, 0)
            assert sent(receiver) == ["www"]
            assert suppressed(target) == {
                "night": "muted: route routes.routes[1] is outside its active time intervals "
                "business-hours",
                "morning": None,
            }
            outbox.close()
    finally:
        pager.close()
        receiver.stop()


def test_an_alert_goes_when_one_route_to_its_channel_is_not_muted(target: str) -> None:
    """ledger lists ``alerts: [pager]`` beside its team's muted route: its own route is
    never muted, so its alert goes at night; an alert to ops (the root, never muted) goes
    too."""
    receiver = Receiver()
    receiver.start()
    pager, ops = WebhookChannel("pager", receiver.url), WebhookChannel("ops", receiver.url)
    try:
        with open_target(target) as store:
            gate = MuteGate(route_tree(config(receiver.url)))
            outbox = Outbox(store, {"pager": pager, "ops": ops}, gates=[gate])
            ledger = opened(monitor="ledger", labels={"team": "db"})
            store.enqueue_alert("pager", "a", ledger, NIGHT)
            store.enqueue_alert("ops", "b", opened(monitor="api"), NIGHT)
            assert outbox.deliver_due(NIGHT + 1) == (2, 0)
            assert sorted(sent(receiver)) == ["api", "ledger"]
            assert suppressed(target) == {"a": None, "b": None}
            outbox.close()
    finally:
        pager.close()
        ops.close()
        receiver.stop()


def test_a_reload_gives_the_gate_the_new_tree(tmp_path: Path) -> None:
    """SIGHUP's reload (runtime/_app.py) builds alert delivery anew from the file: the
    outbox's mute gate is a new one with the new routes and time intervals (the one before
    is left as it was, not patched), and an interval removed from a route no longer keeps
    its alerts."""
    text = config_text("http://127.0.0.1:9/hook")
    first = parse_config(text)
    h = Harness(tmp_path, first)
    before = h.runner.delivery.mute
    assert before in h.runner.outbox.gates
    queued = QueuedAlert(1, "pager", "a", opened(monitor="orders", labels={"team": "db"}), 0, 0, 0)
    assert before(queued, NIGHT) is not None
    path = tmp_path / "tether.yaml"
    path.write_text(text.replace("mute_time_intervals: [nights]", ""))
    asyncio.run(reload(h.runner, str(path)))
    gate = h.runner.delivery.mute
    assert gate is not before
    assert gate in h.runner.outbox.gates
    assert before not in h.runner.outbox.gates
    assert gate(queued, NIGHT) is None
    assert before(queued, NIGHT) is not None
    h.close()
