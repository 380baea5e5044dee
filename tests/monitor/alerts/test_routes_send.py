"""The route tree decides where a running monitor's alerts go (docs/routing.md): real lab
targets, a real store and outbox, a real webhook receiver per channel on loopback,
simulated time.

- a route on a label sends to its channel, and ``continue`` to the next sibling's too;
- a child route on ``event`` takes that event alone (the resolution) from its parent;
- a monitor's ``alerts:`` list is a route beside the tree: both are told.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.alerts_receiver import Receiver
from tests.helpers.monitor_harness import Harness
from tether.lab import Lab
from tether.monitor.alerts import WebhookChannel
from tether.monitor.config import parse_config
from tether.probe import ProbeOptions
from tether.testing import Override

CHANNELS = ("ops", "db", "db-pager", "closing", "own")


@pytest.fixture
def receivers() -> Iterator[dict[str, Receiver]]:
    """A started webhook receiver per channel."""
    out = {name: Receiver() for name in CHANNELS}
    for r in out.values():
        r.start()
    yield out
    for r in out.values():
        r.stop()


def heard(receiver: Receiver) -> list[tuple[str, str]]:
    return [(p["event"], p["monitor"]) for p in (json.loads(b) for _, b in receiver.got)]


def test_the_tree_picks_each_alerts_channels_by_its_labels_and_event(
    tmp_path: Path, lab: Lab, receivers: dict[str, Receiver], fast_retries: Override
) -> None:
    """orders (team db) goes down and comes back: its opening page goes to db and, by
    ``continue``, to db-pager; its resolution goes to closing (the child route on the
    event) and db-pager.  www (no team, ``alerts: [own]``) is told on ops (the root) and on
    own.  No channel hears anything else."""
    broken = {"orders": True, "www": True}

    def route(target: str, options: ProbeOptions) -> str:
        name = "orders" if target.endswith("/orders") else "www"
        if not broken[name]:
            return lab["healthy"].url
        return lab["refused"].url if name == "orders" else lab["http_503"].url

    hooks = "\n".join(
        f'  - {{name: {n}, type: webhook, url: "{r.url}"}}' for n, r in receivers.items()
    )
    config = parse_config(
        f"""
alerts:
{hooks}
defaults: {{interval: 30s, timeout: 1s}}
routes:
  channels: [ops]
  routes:
    - matchers: {{team: db}}
      channels: [db]
      continue: true
      routes:
        - matchers: ['event="incident.resolved"']
          channels: [closing]
    - matchers: {{team: db}}
      channels: [db-pager]
monitors:
  - {{name: orders, url: "http://127.0.0.1:1/orders", labels: {{team: db}}}}
  - {{name: www, url: "http://127.0.0.1:2/www", alerts: [own]}}
"""
    )
    channels = {n: WebhookChannel(n, r.url) for n, r in receivers.items()}
    h = Harness(tmp_path, config, probe=route, channels=dict(channels))

    def fix() -> None:
        broken.update(orders=False, www=False)

    def told(n: int) -> bool:
        return sum(len(r.got) for r in receivers.values()) >= n

    h.drive((lambda: told(4), fix), (lambda: told(8), list), limit=600)
    for c in channels.values():
        c.close()
    assert heard(receivers["db"]) == [("incident.opened", "orders")]
    assert heard(receivers["db-pager"]) == [
        ("incident.opened", "orders"),
        ("incident.resolved", "orders"),
    ]
    assert heard(receivers["closing"]) == [("incident.resolved", "orders")]
    assert heard(receivers["ops"]) == [("incident.opened", "www"), ("incident.resolved", "www")]
    assert heard(receivers["own"]) == [("incident.opened", "www"), ("incident.resolved", "www")]
    h.close()
