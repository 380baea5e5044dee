"""migrating.md's "From Gatus" and "From Prometheus and blackbox_exporter" run as written:
their source files (the yaml blocks whose first line names the file) are written, each
console block runs in ``sh`` and prints what it shows, and the ``tether.yaml`` shown is
the one the import wrote."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.docs_blocks import blocks, run_console, steps
from tests.helpers.tether_processes import SRC


def env() -> dict[str, str]:
    out = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "PYTHONPATH": SRC}
    for name in ("SLACK_WEBHOOK", "SMTP_PASSWORD"):
        out.pop(name, None)
    return out


def sources(tmp_path: Path) -> dict[str, str]:
    """Each yaml block that names its file on its first line (``# config.yaml...``),
    written there; the blocks by file name."""
    found = {}
    for block in blocks("migrating.md", "yaml"):
        first = block.splitlines()[0]
        for name in ("config.yaml", "prometheus.yml", "blackbox.yml"):
            if first.startswith(f"# {name}"):
                (tmp_path / name).write_text(block)
                found[name] = block
    return found


@pytest.mark.parametrize("tool", ["gatus", "prometheus"])
def test_the_import_examples_run_as_written(tmp_path: Path, tool: str) -> None:
    """The console block of each section prints what it shows (the left-out lines, then
    check-config's OK); the Gatus section's tether.yaml is the file written, and the
    Prometheus section's discover: part is in the file written."""
    assert set(sources(tmp_path)) == {"config.yaml", "prometheus.yml", "blackbox.yml"}
    (block,) = [b for b in blocks("migrating.md", "console") if f"tether import {tool} " in b]
    for (command, printed), (_, shown) in zip(
        run_console(block, tmp_path, env()), steps(block), strict=True
    ):
        assert printed == shown, command
    if tool == "gatus":
        (written,) = [
            b
            for b in blocks("migrating.md", "yaml")
            if b.startswith("# Imported by `tether import` from Gatus")
        ]
        assert (tmp_path / "tether.yaml").read_text() == written
    else:  # the part shown of the Prometheus import: the job's file_sd as a source
        (part,) = [b for b in blocks("migrating.md", "yaml") if b.startswith("discover:")]
        assert part in (tmp_path / "tether.yaml").read_text()
