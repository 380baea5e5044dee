"""The monitor's /metrics and /probe, scraped by a real Prometheus server on loopback.

Prometheus (Debian's ``prometheus`` package) runs as a real process on real
time with a 1 s scrape interval, so the test polls its query API with a bound.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tether.lab import Lab
from tether.monitor import Runner
from tether.monitor._web import serve
from tether.monitor.alerts import Outbox
from tether.monitor.config import parse_config
from tether.monitor.store import SQLiteStore

PROMETHEUS = shutil.which("prometheus")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def query(session: aiohttp.ClientSession, base: str, promql: str) -> list[dict[str, Any]]:
    async with session.get(f"{base}/api/v1/query", params={"query": promql}) as r:
        data = await r.json()
    return list(data["data"]["result"]) if data.get("status") == "success" else []


@pytest.mark.skipif(
    PROMETHEUS is None and not os.environ.get("TETHER_REQUIRE_PROMETHEUS"),
    reason="needs Debian's prometheus package (.ci/run installs it and requires this test)",
)
def test_prometheus_scrapes_metrics_and_probe_with_the_failure_kind(
    tmp_path: Path, lab: Lab
) -> None:
    """A real Prometheus scrapes /metrics (per-monitor success, phases, failures by kind)
    and uses /probe as a blackbox_exporter, getting the kind as a label."""
    assert PROMETHEUS is not None
    config = parse_config(
        f"""
monitors:
  - {{name: web, url: "{lab["healthy"].url}", interval: 30s, timeout: 2s}}
  - {{name: api, url: "{lab["refused"].url}", interval: 30s, timeout: 2s}}
"""
    )
    port, prom_port = free_port(), free_port()
    (tmp_path / "prometheus.yml").write_text(
        f"""
global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: tether
    static_configs: [{{targets: ["127.0.0.1:{port}"]}}]
  - job_name: blackbox
    metrics_path: /probe
    params: {{module: [http]}}
    static_configs: [{{targets: ["{lab["refused"].url}"]}}]
    relabel_configs:
      - {{source_labels: [__address__], target_label: __param_target}}
      - {{target_label: __address__, replacement: "127.0.0.1:{port}"}}
"""
    )

    async def main() -> dict[str, list[dict[str, Any]]]:
        with SQLiteStore(tmp_path / "t.db") as store:
            runner = Runner(config, store, Outbox(store, {}))
            await runner.check("web", runner.mono())
            await runner.check("api", runner.mono())
            server = await serve(runner, "127.0.0.1", port)
            prom = await asyncio.create_subprocess_exec(
                PROMETHEUS,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            base = f"http://127.0.0.1:{prom_port}"
            wanted = {
                "success": 'tether_probe_success{monitor="web"}',
                "failures": 'tether_probe_failures_total{monitor="api"}',
                "phase": 'tether_probe_phase_seconds{monitor="web",phase="connect"}',
                "blackbox": 'probe_failure_info{job="blackbox"}',
                "blackbox_success": 'probe_success{job="blackbox"}',
            }
            found: dict[str, list[dict[str, Any]]] = {}
            try:
                async with aiohttp.ClientSession() as session:
                    loop = asyncio.get_running_loop()
                    give_up = loop.time() + 30
                    while len(found) < len(wanted) and loop.time() < give_up:
                        # Polling a real Prometheus on its own 1 s scrape clock.
                        await asyncio.sleep(0.25)
                        for key, promql in wanted.items():
                            if key not in found:
                                try:
                                    result = await query(session, base, promql)
                                except aiohttp.ClientError:
                                    break  # not listening yet
                                if result:
                                    found[key] = result
            finally:
                prom.terminate()
                await prom.wait()
                await server.cleanup()
            return found

    found = asyncio.run(main())
    assert set(found) == {"success", "failures", "phase", "blackbox", "blackbox_success"}, found
    assert found["success"][0]["value"][1] == "1"
    (failures,) = found["failures"]
    assert failures["metric"]["kind"] == "connect.refused"
    assert float(failures["value"][1]) == 1.0
    assert found["blackbox"][0]["metric"]["kind"] == "connect.refused"
    assert found["blackbox_success"][0]["value"][1] == "0"


def _series(metrics: Any, monitor: str) -> list[str]:
    """The sample lines of ``monitor`` in a scrape."""
    text = metrics.render().decode()
    return [line for line in text.splitlines() if f'monitor="{monitor}"' in line]


def test_forget_drops_every_series_and_a_returning_monitor_gets_them_again() -> None:
    """A check writes a monitor's figures, exported at each scrape; forgetting the monitor
    drops all of its series (phases, failure kinds, expiry, up, even when its state came
    before its first check), and a monitor of that name that comes back starts afresh."""
    from tether import Kind
    from tether.monitor._metrics import MonitorMetrics
    from tether.monitor._records import ProbeRecord

    metrics = MonitorMetrics(wall=lambda: 0.0)
    timings = {"resolve": 0.001, "connect": 0.002, "processing": 0.003, "transfer": 0.0}
    failed = ProbeRecord("api", 1.0, False, Kind.CONNECTION_RESET, 5.0, "reset", {}, ())
    passed = ProbeRecord("api", 2.0, True, None, 4.0, None, {}, ())
    metrics.state("api", False)
    metrics.observe(failed, timings, 30)
    metrics.observe(passed, timings, 30)
    metrics.observe(ProbeRecord("web", 2.0, True, None, 4.0, None, {}, ()), timings, None)
    before = _series(metrics, "api")
    assert any(line.startswith("tether_probe_failures_total") for line in before)
    assert any(line.startswith("tether_certificate_expiry_seconds") for line in before)
    assert any(line.startswith("tether_monitor_up") for line in before)
    assert 'tether_probe_success{monitor="api"} 1.0' in before

    metrics.forget("api")
    assert _series(metrics, "api") == []
    assert _series(metrics, "web") != []

    metrics.observe(failed, {}, None)
    assert 'tether_probe_success{monitor="api"} 0.0' in _series(metrics, "api")
    assert 'tether_probe_failures_total{kind="connection.reset",monitor="api"} 1.0' in (
        _series(metrics, "api")
    )
