"""The restart benchmark (benchmarks/bench_restart.py) runs end to end in its quick mode:
a state change's save, a check and a restart, each against its peer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.bench_runs import run_writing_its_part

pytestmark = pytest.mark.bench


def test_bench_restart_quick_measures_each_cost_and_writes_its_part(tmp_path: Path) -> None:
    """`bench_restart.py --quick --write F` exits 0, prints its three sections with their
    tables and judged targets, and replaces its part of F, keeping the others."""
    stdout, _ = run_writing_its_part(
        tmp_path,
        "bench_restart.py",
        ["--quick"],
        "restarts (issue 44 §1)",
        ("A state change", "A check", "A restart"),
        timeout=120,
    )
    assert "SIGTERM (saved at exit)" in stdout
    assert "kill -9 (5 checks since)" in stdout
