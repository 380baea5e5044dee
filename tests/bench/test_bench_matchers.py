"""`bench_matchers.py` still runs: its quick mode, end to end, on RE2 and a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.bench_runs import run_writing_its_part

pytestmark = pytest.mark.bench


def test_bench_matchers_quick_prints_every_section_and_writes_its_part(tmp_path: Path) -> None:
    """`bench_matchers.py --quick --write F` exits 0, prints one decision, one alert and the
    filter with a table and a judged target each, and replaces its part of F."""
    stdout, _ = run_writing_its_part(
        tmp_path,
        "bench_matchers.py",
        ["--quick"],
        "label matchers (bench_matchers.py)",
        ("1. One decision", "2. One alert", "3. `?match=`"),
        timeout=120,
    )
    assert "the issue's, 16 characters" in stdout
