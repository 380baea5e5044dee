"""docs/monitor-config.md's "Browser checks": its example loads as it says, and the
check-config lines it shows are what ``tether check-config`` prints for such a file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.docs_blocks import ROOT
from tether.cli import main
from tether.monitor.config import parse_config

CONFIG = """monitors:
  - name: a
    url: http://127.0.0.1:8080/
    browser: {}
    headers: {X-Team: a}
  - name: b
    url: http://127.0.0.1:8080/
    browser:
      concurrency: 4
"""


def _section() -> str:
    text = (ROOT / "docs" / "monitor-config.md").read_text()
    start = text.index("### Browser checks\n")
    end = min(text.find(mark, start + 1) % len(text) for mark in ("\n## ", "\n### "))
    return text[start:end]


def test_the_example_loads_with_its_steps() -> None:
    """The YAML block is a valid file whose monitor has the four steps it lists."""
    (block,) = re.findall(r"```yaml\n(.*?)```", _section(), re.S)
    (m,) = parse_config(block).monitors
    assert m.browser is not None
    assert [s.action for s in m.browser.steps] == ["fill", "click", "wait_for_text", "wait_for"]
    assert m.browser.concurrency == 2


def test_the_check_config_lines_are_what_it_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each line of the text block, as check-config prints it for a file so written."""
    (block,) = re.findall(r"```text\n(.*?)```", _section(), re.S)
    (tmp_path / "tether.yaml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    assert main(["check-config", "tether.yaml"]) == 1
    printed = capsys.readouterr().err.splitlines()
    assert block.splitlines() == printed
