"""``inhibit_rules:`` end to end: a real runner on simulated time probes real loopback
lab servers (a monitor is broken by sending its probes to the lab's 503 server), with a
real store, a real outbox and a real webhook receiver.  The gateway of site a down holds
the pages of site a's backends, not site b's; a held backend that comes back while the
gateway is down was never paged and says nothing; one still down when the gateway
comes back is paged then.  (The channel groups every second, so that the joins and
leaves grouping puts in ``incident.updated`` are told within a tick, as the pages of
their own they were.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.helpers.alerts_receiver import Receiver
from tests.helpers.monitor_harness import Harness
from tether.lab import Lab
from tether.monitor._state import State
from tether.monitor.alerts import WebhookChannel
from tether.monitor.config import parse_config
from tether.probe import ProbeOptions

SITES = {"gw-a": ("gateway", "a"), "be-a1": ("backend", "a"), "be-a2": ("backend", "a")}
SITES |= {"gw-b": ("gateway", "b"), "be-b1": ("backend", "b")}


def _config(healthy: str, receiver: str) -> str:
    lines = [
        f"  - {{name: {name}, url: '{healthy}?m={name}', interval: 30s, timeout: 1s, "
        f"alerts: [ops], labels: {{role: {role}, site: {site}}}}}"
        for name, (role, site) in SITES.items()
    ]
    return (
        f"alerts:\n  - {{name: ops, type: webhook, url: '{receiver}'}}\n"
        "inhibit_rules:\n"
        "  - source_matchers: {role: gateway}\n"
        "    target_matchers: {role: backend}\n"
        "    equal: [site]\n"
        "routes: {channels: [ops], group_wait: 1s, group_interval: 1s}\n"
        "monitors:\n" + "\n".join(lines) + "\n"
    )


def _told(receiver: Receiver) -> list[list[tuple[str, str]]]:
    """What each alert the receiver got told of: ("down", name) and ("up", name), from an
    opening, a grouped update's news, a resolution's kept news and its own monitor."""
    out = []
    for _, body in receiver.got:
        alert: dict[str, Any] = json.loads(body)
        text, said = alert["text"], []
        for part in re.findall(r"(?:more monitors? down|monitors? back up): ([^;(]+)", text):
            way = "down" if " down: " in text.split(part)[0][-20:] else "up"
            said += [(way, n) for n in re.split(r", | and ", part.strip())]
        if alert["event"] == "incident.opened":
            said.insert(0, ("down", alert["monitor"]))
        elif alert["event"] == "incident.resolved":
            said.append(("up", alert["monitor"]))
        out.append(said)
    return out


def _pages(receiver: Receiver) -> list[tuple[str, str, tuple[str, ...]]]:
    """What the receiver got: (event, monitor, monitors named) of each alert."""
    out = []
    for _, body in receiver.got:
        alert: dict[str, Any] = json.loads(body)
        out.append((alert["event"], alert["monitor"], tuple(alert.get("monitors") or ())))
    return out


def test_a_gateway_down_holds_its_site_s_backends_until_it_is_back(
    tmp_path: Path, lab: Lab, receiver: Receiver
) -> None:
    """gw-a down, then be-a1, be-a2 and be-b1 down: gw-a and be-b1 are paged, site a's
    backends are held.  be-a1 comes back while gw-a is down: nothing is sent for it.
    gw-a comes back while be-a2 is still down: be-a2's page goes out then.  Every
    recovery of a monitor that was paged goes out."""
    receiver.start()
    healthy, bad = lab["healthy"].url, lab["http_503"].url
    broken: set[str] = set()

    def route(target: str, options: ProbeOptions) -> str:
        name = target.rsplit("?m=", 1)[-1]
        return bad if name in broken else target

    channel = WebhookChannel("ops", receiver.url)
    h = Harness(tmp_path, parse_config(_config(healthy, receiver.url)), route, {"ops": channel})

    def down(*names: str) -> bool:
        return all(h.runner.quorum.state(n) is State.DOWN for n in names)

    def up(*names: str) -> bool:
        return all(h.runner.quorum.state(n) is State.UP for n in names)

    marks: dict[str, int] = {}
    times: dict[str, float] = {}

    def mark(name: str, *breaking: str, fixing: tuple[str, ...] = ()) -> None:
        # A state change's incident and alerts are committed promptly, not waited for:
        # what is delivered before this mark is what was queued before it.
        h.store.flush()
        h.runner.outbox.deliver_due(h.sim.wall() + 1e6)
        marks[name] = len(receiver.got)
        times[name] = h.sim.wall()
        broken.update(breaking)
        broken.difference_update(fixing)

    def paged(name: str) -> bool:
        return ("down", name) in [t for said in _told(receiver) for t in said]

    h.drive(
        (lambda: up(*SITES), lambda: mark("start", "gw-a")),
        (lambda: down("gw-a"), lambda: mark("gw-a down", "be-a1", "be-a2", "be-b1")),
        (lambda: down("be-a1", "be-a2", "be-b1"), lambda: mark("all down", fixing=("be-a1",))),
        (lambda: up("be-a1"), lambda: mark("be-a1 up", fixing=("gw-a",))),
        # The hold is asked again at the engine's next tick (every second): be-a2's page
        # goes out then, and it is still down.
        (lambda: up("gw-a") and paged("be-a2"), lambda: mark("released")),
        (lambda: True, lambda: mark("fixing", fixing=("be-a2", "be-b1"))),
        (lambda: up(*SITES), lambda: mark("end")),
        limit=3000,
    )
    h.store.flush()
    channel.close()
    told = _told(receiver)

    def between(start: str, end: str) -> list[tuple[str, str]]:
        return sorted(t for said in told[marks[start] : marks[end]] for t in said)

    # Site b's backend is told at once (in the grouped update a second later); site a's
    # wait on their gateway.
    assert between("start", "gw-a down") == [("down", "gw-a")]
    # be-a1 back while gw-a is down: it was never paged, so nothing is said.
    assert between("gw-a down", "be-a1 up") == [("down", "be-b1")]
    # gw-a back, be-a2 still down: be-a2's page goes out within seconds.
    assert between("be-a1 up", "released") == [("down", "be-a2"), ("up", "gw-a")]
    assert times["released"] - h.runner.since["gw-a"] <= 3.0
    # Each recovery of a monitor that was paged goes out; the last one resolves.
    assert sorted(t for said in told[marks["released"] :] for t in said) == [
        ("up", "be-a2"),
        ("up", "be-b1"),
    ]
    assert _pages(receiver)[-1][0] == "incident.resolved"
    assert all(name not in ("be-a1", "gw-b") for said in told for _, name in said)
    (incident,) = h.store.incidents()
    held = sorted(e.detail for e in incident.timeline if e.event == "alert held")
    assert held == [
        "be-a1: inhibited by gw-a (down): inhibit_rules[0]",
        "be-a2: inhibited by gw-a (down): inhibit_rules[0]",
    ]
    h.close()
