"""A runner over the lab's targets on a wall clock the test moves, served by make_app,
with markup an attacker could plant in a monitor's name and a condition, and secrets in
a URL: for the dashboard's tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from tests.helpers.web_harness import REFRESH_MS, ServedRunner
from tether.lab import Lab
from tether.monitor.config import parse_config
from tether.monitor.store import SQLiteStore
from tether.probe import ProbeOptions, ProbeResult, probe_async

SECRETS = ("hunter2", "tok3n")
SCRIPT = "<script>window.__pwned=1</script>"
IMG = "<img src=x onerror=window.__pwned=2>"


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Served(ServedRunner):
    """A runner over the lab on a wall clock the test moves, served by make_app."""

    store: SQLiteStore  # a restart opens its file again

    def __init__(self, tmp: Path, lab: Lab) -> None:
        self.api_down = False
        healthy = lab["healthy"]
        self.api_url = f"{healthy.url}api"
        self.refused_url = lab["refused"].url
        monitors: list[dict[str, Any]] = [
            {
                "name": "web",
                "url": f"http://user:{SECRETS[0]}@127.0.0.1:{healthy.port}/?token={SECRETS[1]}",
            },
            {"name": "api", "url": self.api_url},
            {"name": "refused", "url": lab["refused"].url},
            {"name": "tls", "url": lab["tls_expired"].url, "tls": {"ca_file": lab.ca_file}},
            {"name": "cond", "url": healthy.url, "conditions": [f'[BODY] == "{IMG}"']},
            {"name": SCRIPT, "url": healthy.url},
            {"name": "old", "url": healthy.url, "paused": True},
            {"name": "new", "url": healthy.url},
        ]
        for m in monitors:
            m.update(interval="30s", timeout="2s", failure_threshold=1, success_threshold=1)
        super().__init__(
            parse_config(yaml.safe_dump({"monitors": monitors})),
            SQLiteStore(tmp / "dashboard.db"),
            refresh=REFRESH_MS / 1000,
            probe=self._probe,
        )

    async def _probe(self, target: str, options: ProbeOptions) -> ProbeResult:
        # api's target goes away and comes back at the test's word: a real refused port.
        if target == self.api_url and self.api_down:
            target = self.refused_url
        return await probe_async(target, options)
