"""`bench_retention.py` still runs: its quick mode, end to end, on real SQLite stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.bench_runs import run_writing_its_part

pytestmark = pytest.mark.bench


def test_bench_retention_quick_prints_both_sections_and_writes_its_part(tmp_path: Path) -> None:
    """`bench_retention.py --quick --write F` exits 0, prints the sample and the year with a
    table and a judged target each, and replaces its part of F, keeping the others."""
    stdout, _ = run_writing_its_part(
        tmp_path,
        "bench_retention.py",
        ["--quick"],
        "retention, a busy year's store",
        ("1. The sample in real stores", "2. A year, projected"),
        timeout=120,
    )
    assert "Uptime Kuma" in stdout
