"""A real Runner over the lab with public status pages, served by make_app on 127.0.0.1:0
on a wall clock the test moves (tests/helpers/web_harness.py).

Monitors, by their internal names:

- ``checkout-internal``: its URL carries a password, a token and an internal path, and
  points at the lab's refused port: down, ``connect.refused``.  Public as "Checkout".
- ``billing-db``: the same refused port, so the same incident; on no page.
- ``api-internal``: healthy, with a history written into the store beforehand (up from
  ten days ago, down for one hour three days ago).  Public as "API".
- ``S&P <500>``: healthy, on the page under its own name (markup to escape).
- ``admin-secret-panel``: healthy, on no page.

Pages: ``public`` (opts in to nothing), ``open`` (``show_kinds``, ``show_urls`` and
``show_latency``), and ``other`` (``admin``-free, ``billing``-free: only the API).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.helpers.web_harness import EPOCH, ServedRunner
from tether.lab import Lab
from tether.monitor._state import State
from tether.monitor.config import MonitorConfig, parse_config
from tether.monitor.store import SQLiteStore

DAY = 86400.0
ROUNDS = 3
SECRETS = ("hunter2", "tok3n")
CHECKED = ("checkout-internal", "billing-db", "api-internal", "S&P <500>", "admin-secret-panel")
HIDDEN_NAMES = ("checkout-internal", "api-internal", "billing-db", "admin-secret-panel")
NOTE = "We are rolling back the payment provider's upgrade."
ANNOUNCEMENT = "Card payments may be slow while we migrate."


def config_data(lab: Lab) -> dict[str, Any]:
    refused = lab["refused"]
    healthy = lab["healthy"]
    monitors: list[dict[str, Any]] = [
        {
            "name": "checkout-internal",
            "url": f"http://ops:{SECRETS[0]}@127.0.0.1:{refused.port}/internal/checkout"
            f"?token={SECRETS[1]}",
        },
        {"name": "billing-db", "url": refused.url},
        {"name": "api-internal", "url": f"{healthy.url}api"},
        {"name": "S&P <500>", "url": healthy.url},
        {"name": "admin-secret-panel", "url": f"{healthy.url}admin"},
    ]
    for m in monitors:
        m.update(interval="30s", timeout="2s", failure_threshold=1, success_threshold=1)
    pages = [
        {
            "slug": "public",
            "title": "Example Shop status",
            "description": "How the shop is doing.",
            "groups": [
                {
                    "name": "Shop",
                    "monitors": [
                        {"monitor": "checkout-internal", "name": "Checkout"},
                        {"monitor": "api-internal", "name": "API"},
                    ],
                },
                {"name": "Markets", "monitors": ["S&P <500>"]},
            ],
            "announcements": [
                {"text": ANNOUNCEMENT, "level": "warning"},
                {"text": "Long over.", "end": "2020-01-01T00:00:00Z"},
            ],
            "notes": [
                {"monitor": "checkout-internal", "start": "2027-01-15T07:00:00Z", "text": NOTE}
            ],
        },
        {
            "slug": "open",
            "title": "Open",
            "groups": [
                {"name": "All", "monitors": [{"monitor": "checkout-internal", "name": "Checkout"}]}
            ],
            "show_kinds": True,
            "show_urls": True,
            "show_latency": True,
        },
        {
            "slug": "other",
            "title": "API only",
            "groups": [{"name": "API", "monitors": [{"monitor": "api-internal", "name": "API"}]}],
        },
    ]
    return {"monitors": monitors, "status_pages": pages}


class Public(ServedRunner):
    """The runner, its store, and the server, on a clock the test moves."""

    def __init__(self, tmp: Path, lab: Lab) -> None:
        self.lab = lab
        self.data = config_data(lab)
        store = SQLiteStore(tmp / "status.db")
        # api-internal's history: known from ten days ago, down for an hour three days ago.
        store.record_state("api-internal", EPOCH - 10 * DAY, State.UP)
        store.record_state("api-internal", EPOCH - 3 * DAY, State.DOWN)
        store.record_state("api-internal", EPOCH - 3 * DAY + 3600, State.UP)
        store.flush()
        super().__init__(parse_config(yaml.safe_dump(self.data)), store)

    def reload(self, config: MonitorConfig) -> None:
        self.on_loop(self.runner.reload, config)


def started(tmp: Path, lab: Lab) -> Public:
    """Three rounds of checks a minute apart, then the clock a minute past the last."""
    s = Public(tmp, lab)
    for _ in range(ROUNDS):
        s.check(*CHECKED)
        s.now += 60
    return s
