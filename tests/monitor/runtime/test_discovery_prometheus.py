"""tether and Debian's ``prometheus`` read the same ``file_sd`` files (one JSON, one
YAML) and see the same targets and labels: Prometheus's ``/api/v1/targets`` against
what tether's discovery made.  The targets are loopback ports of a server that
answers, so Prometheus's scrapes stay on this machine."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.helpers.processes import wait_for
from tests.helpers.prometheus_server import needs_prometheus, prometheus
from tether.monitor.config import parse_config
from tether.monitor.runtime._discovery import Discovery


class _Metrics(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"up_here 1\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def answering() -> Iterator[list[int]]:
    """Three loopback ports that answer a scrape."""
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Metrics) for _ in range(3)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    try:
        yield [s.server_address[1] for s in servers]
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


def active(base: str, wanted: int) -> list[dict[str, Any]] | None:
    try:
        with urllib.request.urlopen(f"{base}/api/v1/targets", timeout=5) as r:
            data = json.loads(r.read())
    except (urllib.error.URLError, ConnectionError):
        return None  # not listening yet
    targets: list[dict[str, Any]] = data["data"]["activeTargets"]
    return targets if len(targets) == wanted else None


@needs_prometheus
def test_tether_and_prometheus_see_the_same_targets(tmp_path: Path) -> None:
    """Every target Prometheus discovers is a monitor of tether's, with the group's
    labels as Prometheus keeps them: ``__meta_filepath`` and the ``__meta_*`` labels
    among its discovered labels, the others among its target labels."""
    sd = tmp_path / "sd"
    sd.mkdir()
    with answering() as ports:
        a, b, c = (f"127.0.0.1:{p}" for p in ports)
        (sd / "web.json").write_text(
            json.dumps(
                [
                    {"targets": [a, b], "labels": {"team": "pay", "__meta_rack": "r1"}},
                    {"targets": [c], "labels": {"team": "db", "env": "prod"}},
                ]
            )
        )
        (sd / "more.yml").write_text(f"- targets: ['{a}']\n  labels: {{team: edge, port: 80}}\n")
        files = f"['{sd}/*.json', '{sd}/*.yml']"
        scrape = (
            f"  - job_name: sd\n    file_sd_configs: [{{files: {files}, refresh_interval: 1s}}]\n"
        )
        config = parse_config(
            "discover:\n  - name: sd\n"
            f"    file_sd: {{files: {files}}}\n"
            "    template:\n"
            "      name: '{{labels.__meta_filepath}}-{{labels.team}}-{{address}}'\n"
            "      url: 'http://{{address}}/metrics'\n"
        )
        d = Discovery(config, str(tmp_path))
        assert asyncio.run(d.step())
        tethers = {
            (
                m.url.removeprefix("http://").removesuffix("/metrics"),
                tuple(sorted(m.labels.items())),
            )
            for m in d.merged().monitors
        }
        metas = {
            (m.url.removeprefix("http://").removesuffix("/metrics"), m.name.rsplit("-", 2)[0])
            for m in d.merged().monitors
        }
        with prometheus(tmp_path, scrape) as base:
            seen = wait_for(lambda: active(base, 4), limit=60)
        keep = {"__meta_filepath", "__meta_rack"}
        theirs = {
            (
                t["discoveredLabels"]["__address__"],
                tuple(
                    sorted((k, v) for k, v in t["labels"].items() if k not in ("job", "instance"))
                ),
            )
            for t in seen
        }
        their_metas = {
            (t["discoveredLabels"]["__address__"], t["discoveredLabels"]["__meta_filepath"])
            for t in seen
        }
        assert tethers == theirs
        assert metas == their_metas
        racks = {
            t["discoveredLabels"]["__address__"]: t["discoveredLabels"].get("__meta_rack")
            for t in seen
            if keep & t["discoveredLabels"].keys() == keep
        }
        assert racks == {a: "r1", b: "r1"}
        assert len(d.merged().monitors) == 4
