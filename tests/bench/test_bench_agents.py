"""The agents' benchmark (benchmarks/bench_agents.py) runs end to end in its quick mode:
a real ``tether monitor`` and agents posting real wire JSON, on loopback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.bench_runs import run_writing_its_part

pytestmark = pytest.mark.bench


def test_bench_agents_quick_measures_both_phases_and_writes_its_part(tmp_path: Path) -> None:
    """`bench_agents.py --quick --write F` exits 0, prints the paced and flat-out rows with
    their answer times and the server's CPU, the judged target, and replaces its part of
    F, keeping the others."""
    stdout, _ = run_writing_its_part(
        tmp_path,
        "bench_agents.py",
        ["--quick"],
        "agents (results a server takes from its agents)",
        ("1. Agents",),
        timeout=120,
    )
    assert re.search(r"^\| paced \(every 5 s\) +\| [\d,]+ +\| [\d,]+ +\| [\d.,]+ ", stdout, re.M)
    assert re.search(r"^\| flat out +\| [\d,]+ +\| [\d,]+ +\| [\d.,]+ ", stdout, re.M)
    assert "0 batches not answered 200" in stdout
