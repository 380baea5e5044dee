"""The ``alertmanager`` channel's docs: monitor-config.md's example loads and each row of its
table fails as it says; monitor.md's ``alertmanager.yml`` is one Alertmanager's own
``amtool`` accepts and routes as the text says."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.config_text import dump, errors_of
from tether.monitor.config import AlertmanagerChannelConfig, parse_config

DOCS = Path(__file__).parents[2] / "docs"
AMTOOL = shutil.which("amtool")


def _section(doc: str, heading: str) -> str:
    return doc.split(heading, 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]


def _config_section() -> str:
    return _section((DOCS / "monitor-config.md").read_text(), "### Alertmanager\n")


def test_the_channel_example_loads() -> None:
    """monitor-config.md's two channels load as written."""
    (snippet,) = re.findall(r"```yaml\n(.*?)```", _config_section(), re.S)
    text = snippet + "monitors:\n  - {name: api, url: 'http://127.0.0.1:8080/'}\n"
    config = parse_config(text, env={"ALERTMANAGER_PASSWORD": "x"})
    first, second = config.alerts
    assert isinstance(first, AlertmanagerChannelConfig)
    assert isinstance(second, AlertmanagerChannelConfig)
    assert second.username == "tether"
    assert second.dashboard_url is not None
    assert second.dashboard_url.startswith("https://")  # kept as written, never contacted


ROWS = re.findall(r"^\| `(\w+)` .*`(\{[^`]*\})` → `([^`]+)` \|$", _config_section(), re.M)


def test_every_row_has_a_failing_example() -> None:
    """Each key of the table shows how it fails (so the test below checks every row)."""
    keys = re.findall(r"^\| `(\w+)` \|", _config_section(), re.M)
    assert [key for key, _, _ in ROWS] == keys


@pytest.mark.parametrize(("key", "change", "error"), ROWS, ids=[r[0] for r in ROWS])
def test_each_row_fails_as_the_table_says(key: str, change: str, error: str) -> None:
    """The table's failing example, put into the first channel, gives its error."""
    extra: dict[str, Any] = yaml.safe_load(change)
    channel = {"name": "am", "type": "alertmanager", "url": "http://127.0.0.1:9093", **extra}
    assert errors_of(dump(alerts=[channel])) == [error]


def _routing() -> str:
    doc = (DOCS / "monitor.md").read_text()
    (snippet,) = re.findall(r"```yaml\n(route:.*?)```", doc, re.S)
    return str(snippet)


@pytest.fixture
def amtool() -> str:
    if AMTOOL is None:
        if os.environ.get("TETHER_REQUIRE_ALERTMANAGER"):
            pytest.fail("amtool is missing: .ci/run installs prometheus-alertmanager")
        pytest.skip("needs Debian's prometheus-alertmanager package (amtool)")
    return AMTOOL


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=TetherMonitorDown", "team=payments", "monitor=api"], "payments-pager"),
        (["alertname=TetherMonitorDegraded", "severity=warning", "monitor=api"], "chat"),
        (["alertname=TetherMonitorDown", "severity=critical", "monitor=web"], "ops"),
    ],
)
def test_the_routing_example_routes_as_the_text_says(
    amtool: str, tmp_path: Path, labels: list[str], receiver: str
) -> None:
    """monitor.md's alertmanager.yml passes ``amtool check-config``, and ``amtool config
    routes test`` sends the payments team's outage to its pager, a latency warning to
    chat and anything else to ops."""
    path = tmp_path / "alertmanager.yml"
    path.write_text(_routing())
    checked = subprocess.run(
        [amtool, "check-config", str(path)], check=False, capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    routed = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={path}", *labels],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert routed.stdout.strip() == receiver, routed.stdout + routed.stderr
