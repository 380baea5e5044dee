"""The docs' labels examples, as written: monitor-config.md's table of label rules gives
the errors it shows, and monitor.md's "Filtering by labels" commands print what they show
against a monitor served on loopback with the monitors its YAML lists."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.helpers.config_text import URL, dump, errors_of
from tests.helpers.docs_blocks import ROOT, steps
from tests.helpers.web_harness import ServedRunner
from tether.monitor.config import parse_config
from tether.monitor.store import SQLiteStore

NO_PROXY = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
"""The environment, without a proxy: curl goes straight to loopback."""


def section(doc: str, heading: str) -> str:
    text = (ROOT / "docs" / doc).read_text()
    return text.split(f"{heading}\n", 1)[1].split("\n#", 1)[0]


def test_the_label_rules_table_gives_the_errors_it_shows() -> None:
    """Each row's failing example gives its error; each passing one loads."""
    rows = [
        line for line in section("monitor-config.md", "## Labels").splitlines()
        if line.startswith("| ") and "→" in line
    ]  # fmt: skip
    assert len(rows) == 5
    for row in rows:
        _, passes, fails = (cell.strip() for cell in row.strip("|").split(" | "))
        good = yaml.safe_load(passes.strip("`"))
        if good["labels"] != {"note": "..."}:
            assert parse_config(dump({"name": "api", "url": URL, **good})).monitors[0].labels
        given, error = re.fullmatch(r"(.*) → `(.*)`", fails).groups()  # type: ignore[union-attr]
        if given == "65 labels":
            bad = {"labels": {f"l{i}": "x" for i in range(65)}}
        else:
            bad = yaml.safe_load(given.strip("`"))
        assert errors_of(dump({"name": "api", "url": URL, **bad})) == [error], row


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedRunner]:
    text = section("monitor.md", "### Filtering by labels")
    (config,) = re.findall(r"```yaml\n(.*?)```", text, re.S)
    s = ServedRunner(parse_config(config), SQLiteStore(tmp_path / "labels.db"))
    yield s
    s.close()


@pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("jq") is None, reason="needs curl and jq"
)
def test_the_filter_commands_print_what_they_show(served: ServedRunner, tmp_path: Path) -> None:
    """Each ``curl`` of the section prints the lines the block shows."""
    text = section("monitor.md", "### Filtering by labels")
    (block,) = re.findall(r"```console\n(.*?)```", text, re.S)
    commands = steps(block)
    assert len(commands) == 4
    for command, shown in commands:
        live = command.replace("127.0.0.1:8800", f"127.0.0.1:{served.port}")
        done = subprocess.run(
            ["sh", "-c", live],
            cwd=tmp_path,
            env=NO_PROXY,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert (done.returncode, done.stdout.splitlines()) == (0, shown), command
