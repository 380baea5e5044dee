"""A real Prometheus server on loopback (Debian's ``prometheus`` package), scraping every
second, and its query API polled with a bound: for the tests of /metrics and /probe."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.helpers.ports import free_port

PROMETHEUS = shutil.which("prometheus")
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None and not os.environ.get("TETHER_REQUIRE_PROMETHEUS"),
    reason="needs Debian's prometheus package (.ci/run installs it and requires this test)",
)
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None and not os.environ.get("TETHER_REQUIRE_PROMETHEUS"),
    reason="needs promtool, of Debian's prometheus package (.ci/run installs it)",
)


@contextmanager
def prometheus(
    tmp_path: Path, scrape_configs: str, rule_files: tuple[Path, ...] = ()
) -> Iterator[str]:
    """A real Prometheus scraping every second (and evaluating ``rule_files`` every
    second); its base URL."""
    assert PROMETHEUS is not None
    port = free_port()
    rules = f"rule_files: {json.dumps([str(f) for f in rule_files])}\n"
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
        + rules
        + "scrape_configs:\n"
        + scrape_configs
    )
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def query(session: aiohttp.ClientSession, base: str, promql: str) -> list[dict[str, Any]]:
    async with session.get(f"{base}/api/v1/query", params={"query": promql}) as r:
        data = await r.json()
    return list(data["data"]["result"]) if data.get("status") == "success" else []


async def found(base: str, wanted: dict[str, tuple[str, int]]) -> dict[str, list[dict[str, Any]]]:
    """Each query's result once it has the number of series given (polling a real
    Prometheus on its own 1 s scrape clock, for 30 s at most)."""
    out: dict[str, list[dict[str, Any]]] = {}
    async with aiohttp.ClientSession() as session:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + 30
        while len(out) < len(wanted) and loop.time() < give_up:
            await asyncio.sleep(0.25)
            for key, (promql, series) in wanted.items():
                if key in out:
                    continue
                try:
                    result = await query(session, base, promql)
                except aiohttp.ClientError:
                    break  # not listening yet
                if len(result) == series:
                    out[key] = result
    return out
