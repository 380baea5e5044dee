"""docs/monitor.md's "What Prometheus scrapes as the fleet grows": its prometheus.yml is
one Prometheus takes, its shards are the ones it names, and its table of what a
Prometheus scrapes at each size follows the default limit (a real Prometheus scrapes the
same configuration in tests/monitor/web/test_monitor_metrics.py)."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers.docs_blocks import blocks
from tether.monitor.config import Server

DOC = Path(__file__).parents[2] / "docs" / "monitor.md"
PROMTOOL = shutil.which("promtool")
LIMIT: int = Server.model_fields["metrics_monitor_limit"].default


def _section() -> str:
    text = DOC.read_text()
    return text.split("### What Prometheus scrapes as the fleet grows", 1)[1].split("\n### ", 1)[0]


def _scrapes() -> str:
    (block,) = [b for b in blocks("monitor.md", "yaml") if "tether-monitors" in b]
    return block


def test_the_documented_prometheus_yml_passes_promtool(tmp_path: Path) -> None:
    """`promtool check config` takes the section's scrape configuration as written."""
    if PROMTOOL is None:
        if os.environ.get("TETHER_REQUIRE_PROMETHEUS"):
            pytest.fail("promtool is missing: .ci/run installs prometheus")
        pytest.skip("needs Debian's prometheus package (promtool)")
    path = tmp_path / "prometheus.yml"
    path.write_text(_scrapes())
    checked = subprocess.run(
        [PROMTOOL, "check", "config", str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_shards_job_scrapes_each_shard_once_and_says_it_as_a_label() -> None:
    """The shards job sets `shards` to N for every target and `shard` to 0 .. N-1, once
    each, on one address, and copies it to a `shard` label (Prometheus tells the targets
    apart by it); the summary job takes no parameter."""
    jobs = {j["job_name"]: j for j in yaml.safe_load(_scrapes())["scrape_configs"]}
    assert set(jobs) == {"tether", "tether-monitors"}
    assert "params" not in jobs["tether"]
    shards = jobs["tether-monitors"]
    (count,) = shards["params"]["shards"]
    targets = [t for group in shards["static_configs"] for t in group["targets"]]
    indices = [g["labels"]["__param_shard"] for g in shards["static_configs"]]
    assert sorted(indices, key=int) == [str(i) for i in range(int(count))]
    assert len(set(targets)) == 1
    assert len(targets) == int(count)
    assert shards["relabel_configs"] == [
        {"source_labels": ["__param_shard"], "target_label": "shard"}
    ]
    assert f"in {count} shards" in _scrapes()


def test_the_table_says_what_a_prometheus_scrapes_at_each_size_beside_blackbox() -> None:
    """A row for 1,000, 30,000 and 240,000 monitors, each with the targets the text's
    rule gives (the default scrape alone up to the limit, else the summary and
    ceil(monitors / limit) shards), and blackbox_exporter's one target a monitor."""
    assert f"({LIMIT:,} by default)" in _section()
    rows = re.findall(r"^\| ([\d,]+) \| (.*) \|$", _section(), re.M)
    assert [m for m, _ in rows] == ["1,000", "30,000", "240,000"]
    for monitors, rest in rows:
        n = int(monitors.replace(",", ""))
        cells = [c.strip() for c in rest.split(" | ")]
        if n <= LIMIT:
            assert cells[0].startswith("1 target: every series"), cells
        else:
            assert cells[0].startswith(f"1 + {math.ceil(n / LIMIT)} targets"), cells
        assert cells[-1].startswith(f"{monitors} targets"), cells
