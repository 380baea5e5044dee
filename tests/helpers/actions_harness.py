"""A real Runner over the lab, its prober running and make_app serving it on 127.0.0.1:0,
on a wall clock the test moves (tests/helpers/web_harness.py; the write API's tests:
tests/monitor/web/test_actions.py, tests/monitor/web/test_openapi.py,
tests/monitor/web/test_actions_chromium.py).

Every monitor's interval is an hour and its first run is put at the end of it, so nothing
is probed unless a test or an action says so.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from tests.helpers.web_harness import ServedRunner
from tether.lab import Lab
from tether.monitor._records import ProbeRecord
from tether.monitor.config import parse_config
from tether.monitor.store import SQLiteStore


def config_for(lab: Lab, extra: dict[str, Any] | None = None) -> Any:
    """The five monitors below, with ``extra``'s top-level keys (users, tokens, server,
    status_pages) beside them."""
    healthy = lab["healthy"]
    monitors: list[dict[str, Any]] = [
        {"name": "web", "url": healthy.url},
        {"name": "api/v1", "url": f"{healthy.url}api"},
        {"name": "down", "url": lab["refused"].url, "alerts": ["ops"], "remind_every": "5m"},
        {"name": "other", "url": lab["refused"].url, "alerts": ["ops"]},
        {"name": "old", "url": healthy.url, "paused": True},
    ]
    for m in monitors:
        m.update(interval="1h", timeout="2s", failure_threshold=1, success_threshold=1)
    alerts = [{"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9/hook"}]
    return parse_config(yaml.safe_dump({"alerts": alerts, "monitors": monitors, **(extra or {})}))


class Served(ServedRunner):
    """A runner over the lab on a wall clock the test moves, its prober running, served
    by make_app; ``db`` is kept across instances (a restart is a new Served on it);
    ``extra`` adds keys to the configuration (see :func:`config_for`)."""

    def __init__(
        self, db: Path, lab: Lab, authority: Any = None, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(
            config_for(lab, extra), SQLiteStore(db), authority=authority, rand=lambda: 0.999
        )
        self.stop = self.call(self._event())
        self.probing = asyncio.run_coroutine_threadsafe(
            self.runner.fleet.run(self.stop, self.runner.take_check), self.loop
        )

    @staticmethod
    async def _event() -> asyncio.Event:
        return asyncio.Event()

    def send(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers=headers or {}
        )
        if data is not None and "Content-Type" not in (headers or {}):
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=20) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def post(self, path: str, body: object = None, **kw: Any) -> tuple[int, Any]:
        return self.send("POST", path, body, **kw)

    def state(self, name: str) -> str:
        states: dict[str, str] = self.json("/api/status")["monitors"]
        return states[name]

    def next_check(self, name: str) -> concurrent.futures.Future[ProbeRecord]:
        """The next check of ``name`` the runner takes, as a future this thread can wait
        on: registered now, on the server's loop, so a check that follows at once (a
        resume, "check now") is not missed, and nothing polls."""

        async def register() -> asyncio.Future[ProbeRecord]:
            return self.runner.next_record(name)

        waiting = self.call(register())

        async def taken() -> ProbeRecord:
            return await waiting

        return asyncio.run_coroutine_threadsafe(taken(), self.loop)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.probing.result(timeout=20)
        super().close()
