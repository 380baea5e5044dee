"""A multi-step monitor in a real `tether monitor` process against a real HTTP API on
loopback (aiohttp in a thread of the test): its checks are stored with every step's
phases, `tether check` runs it, Chromium draws each step's phases in the chart, and the
token the API hands out (a marker) is in none of the store's files, the dashboard's
pages, the API's answers or the monitor's log."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.ports import free_port
from tests.helpers.steps_api import TOKEN, Api, flow, serving_in_thread
from tests.helpers.tether_processes import monitor, rows, tether, wait_for
from tests.helpers.web_harness import Tab


def _get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        text: str = r.read().decode()
    return text


def _results(db: Path, name: str) -> int:
    found = rows(db, f"SELECT count(*) FROM results WHERE monitor = '{name}'")
    return int(found[0][0]) if found else 0


@dataclass
class Running:
    api: Api
    port: int
    db: Path
    log: Path

    @property
    def server(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """The API, and a monitor of two steps monitors on it: ``api`` passes; ``api-bad``
    fails its first step on a condition that shows the body holding the token."""
    tmp = tmp_path_factory.mktemp("steps")
    api = Api()
    with serving_in_thread(api) as api_port:
        good = flow(api_port).replace("interval: 30s", "interval: 1s").replace("10s", "900ms")
        bad = good.replace("name: api\n", "name: api-bad\n").replace(
            '"[BODY].user == probe"]', '"[BODY] == nope"]'
        )
        port = free_port()
        db = tmp / "tether.db"
        config = tmp / "tether.yaml"
        config.write_text(
            f'storage: {{path: "{db}"}}\n'
            f'server: {{listen: "127.0.0.1:{port}"}}\n'
            "workers: 1\n"
            "monitors:\n" + good + bad
        )
        log = tmp / "monitor.log"
        with monitor(config, log) as proc:
            wait_for(lambda: _results(db, "api") >= 2 and _results(db, "api-bad") >= 2, proc)
            yield Running(api, port, db, log)


def test_a_steps_monitor_runs_stores_its_phases_and_never_shows_the_token(
    running: Running,
) -> None:
    port, db = running.port, running.db
    code, out, err = tether("check", "api", "--server", running.server)
    assert (code, err) == (0, "")
    assert out.startswith("api: ok in ")
    code, bad, err = tether("check", "api-bad", "--server", running.server)
    assert code == 1
    assert 'step 1 "login": condition not met: [BODY] (' in bad
    series = json.loads(_get(port, "/api/series/api?range=1h"))
    assert {"login.connect", "create.ttfb", "delete.transfer"} <= series["phases"].keys()
    names = list(series["phases"])
    assert names.index("login.dns") < names.index("login.ttfb") < names.index("create.dns")
    pages = [
        _get(port, path)
        for path in (
            "/api/status",
            "/api/monitors/api",
            "/api/monitors/api-bad",
            "/api/series/api-bad?range=1h",
            "/api/incidents",
            "/monitors/api",
            "/monitors/api-bad",
            "/",
        )
    ]
    assert "***" in pages[2]  # the failing condition's body, masked
    assert 'step 1 \\"login\\"' in pages[2]
    stored = [rows(db, "SELECT * FROM results"), rows(db, "SELECT * FROM incidents")]
    files = [p.read_bytes() for p in db.parent.iterdir() if p.name.startswith("tether.db")]
    api = running.api
    assert len(api.seen) >= 2 * 4 + 2 + 4 + 1  # two checks each, then tether check of each
    used = [s for s in api.seen if s["headers"].get("Authorization") == f"Bearer {TOKEN}"]
    assert used  # the token was taken and sent
    for text in [out, bad, *pages, running.log.read_text(), json.dumps(stored, default=str)]:
        assert TOKEN not in text
        assert TOKEN[:8] not in text
    for data in files:
        assert TOKEN.encode() not in data


def test_chromium_stacks_each_steps_phases_in_the_chart(browser: Any, running: Running) -> None:
    """The chart's legend lists the steps' phases in the order they ran, each drawn in its
    phase's colour (login.dns as dns), and the page shows no token."""
    with Tab(browser, running.server, clock=None) as tab:
        page = tab.open("/monitors/api")
        page.wait_for_selector("#chart .u-legend .u-label")
        legend = page.locator("#chart .u-legend .u-label").all_text_contents()
        steps = ("login", "create", "read", "delete")
        phases = ("dns", "connect", "ttfb", "transfer")
        assert legend[1:17] == [f"{s}.{p}" for s in steps for p in phases]
        colours = page.evaluate(
            "[...document.querySelectorAll('#chart .u-legend .u-marker')]"
            ".map(m => getComputedStyle(m).borderColor)"
        )
        assert colours[1] == colours[5] == colours[9]  # login.dns, create.dns, read.dns
        assert colours[1] != colours[2]  # dns, connect
        assert colours[1] != "rgb(136, 136, 136)"  # not the colour of an unknown phase
        assert TOKEN not in page.content()
        tab.assert_clean()
