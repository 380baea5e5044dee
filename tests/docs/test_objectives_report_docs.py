"""docs/objectives.md's "Monthly report" says what ``tether report`` does: its console
block runs as written against the page's example configuration, its CSV excerpt is what
the command prints for the month the text describes (written to a real store through
its API), and its table of columns is the CSV's header."""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
from pathlib import Path

import yaml

from tests.helpers.docs_blocks import ROOT, blocks, run_console, steps
from tether._kinds import Kind
from tether.cli import main
from tether.monitor._records import Incident, ProbeRecord
from tether.monitor.reports._monthly import CSV_HEADER
from tether.monitor.store import SQLiteStore

DOC = (ROOT / "docs/objectives.md").read_text()
(EXAMPLE,) = blocks("objectives.md", "yaml")
REPORT = DOC.split("## Monthly report", 1)[1]
OCTOBER = dt.datetime(2026, 10, 1, tzinfo=dt.UTC).timestamp()
EVERY = 62.0  # 43,200 checks of each monitor fill October's 31 days


def _config(tmp: Path) -> Path:
    data = yaml.safe_load(EXAMPLE)
    data["storage"] = {"path": str(tmp / "tether.db")}
    path = tmp / "tether.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_console_block_runs_as_written(tmp_path: Path) -> None:
    """Each command of the block prints what the block shows (the two reports nothing,
    their files written)."""
    _config(tmp_path)
    (block,) = [b for b in blocks("objectives.md", "console") if "tether report" in b]
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tether = bindir / "tether"
    tether.write_text(f'#!/bin/sh\nexec {sys.executable} -m tether.cli "$@"\n')
    tether.chmod(0o755)
    # This checkout's tether, whatever the directory the block runs in.
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT / "src")}
    for (command, shown), (_, expected) in zip(
        run_console(block, tmp_path, env), steps(block), strict=True
    ):
        assert shown == expected, command
    assert "<h2>Objectives</h2>" in (tmp_path / "october.html").read_text()
    header = (tmp_path / "october.csv").read_text().splitlines()[0]
    assert tuple(header.split(",")) == CSV_HEADER


def test_the_csv_excerpt_is_what_the_report_prints(tmp_path: Path, capsys: object) -> None:
    """October as the text tells it: 86,400 checks of checkout, 40 of them refused in
    incident #12; the excerpt's lines are the CSV's first lines, as printed."""
    config = _config(tmp_path)
    failed = dt.datetime(2026, 10, 7, 14, 2, tzinfo=dt.UTC).timestamp()
    with SQLiteStore(str(tmp_path / "tether.db")) as store:
        for i in range(43_200):
            at = OCTOBER + i * EVERY
            bad = failed <= at < failed + 40 * EVERY
            kind = Kind.CONNECT_REFUSED if bad else None
            store.record(ProbeRecord("checkout-eu", at, not bad, kind))
            store.record(ProbeRecord("checkout-us", at, True))
        store.flush()
        for _ in range(11):
            store.new_incident_id()
        n = store.new_incident_id()
        assert n == 12
        store.open_incident(
            Incident(
                n,
                "connect:checkout-eu",
                Kind.CONNECT_REFUSED,
                "connection refused",
                "",
                failed,
                failed + 1200,
                ("checkout-eu",),
            )
        )
    code = main(["report", "--month", "2026-10", "--config", str(config), "--format", "csv"])
    assert code == 0
    printed = capsys.readouterr().out.splitlines()  # type: ignore[attr-defined]
    (excerpt,) = blocks("objectives.md", "csv")
    lines = excerpt.splitlines()
    assert printed[: len(lines)] == lines


def test_the_column_table_is_the_csv_header() -> None:
    """The table under "Monthly report" names every column of the header, in order."""
    table = re.findall(r"^\| `(\w+)` \|", REPORT, re.M)
    assert tuple(table) == CSV_HEADER
