"""benchmarks/bench_objective_store.py still runs: its quick mode (1,000 monitors over 7
days), end to end, on a store of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.bench_runs import BENCHMARKS

pytestmark = pytest.mark.bench


def test_bench_objective_store_quick_reads_back_what_it_wrote(tmp_path: Path) -> None:
    """`bench_objective_store.py --quick --write F` exits 0, reads back exactly the checks
    it wrote, and writes its part of F."""
    out = tmp_path / "results.md"
    done = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "bench_objective_store.py"),
            "--quick",
            "--store",
            str(tmp_path / "t.db"),
            "--write",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "the counts read back are the checks written: met" in done.stdout
    assert "one evaluation of an objective over 1,000 monitors" in done.stdout
    assert "# Benchmark results: objectives read from the store" in out.read_text()
