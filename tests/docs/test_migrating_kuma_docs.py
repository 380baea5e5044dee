"""docs/migrating.md, "From Uptime Kuma": the console example runs as written against a
kuma.db built as the example describes it (tests/helpers/kuma_db.py), and the
``tether.yaml`` it writes is the one the page shows."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.helpers.docs_blocks import ROOT, blocks, run_console, steps
from tests.helpers.kuma_db import docs_kuma_db
from tests.helpers.tether_processes import SRC


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SRC, "NO_COLOR": "1", "COLUMNS": "200"}


def test_the_kuma_example_runs_as_written(tmp_path: Path) -> None:
    """Each command prints what the page shows (stderr's left-outs, the exit codes, the
    check-config line, the one line for a file that is not Kuma's), and tether.yaml is
    the page's YAML block to the character."""
    docs_kuma_db(tmp_path / "kuma.db")
    (block,) = [b for b in blocks("migrating.md", "console") if "tether import kuma" in b]
    for (command, printed), (_, shown) in zip(
        run_console(block, tmp_path, _env()), steps(block), strict=True
    ):
        assert printed == shown, command
    text = (ROOT / "docs" / "migrating.md").read_text()
    (written,) = re.findall(r"```yaml\n(# Imported by `tether import` from Uptime Kuma.*?)```",
                            text, re.S)  # fmt: skip
    assert (tmp_path / "tether.yaml").read_text() == written
