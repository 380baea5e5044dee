"""benchmarks/bench_grpc.py still runs: its quick mode, end to end, on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.bench_runs import BENCHMARKS

pytestmark = pytest.mark.bench
BLACKBOX = Path("/usr/bin/prometheus-blackbox-exporter")


@pytest.mark.skipif(
    not BLACKBOX.exists() and not os.environ.get("TETHER_REQUIRE_BLACKBOX"),
    reason="needs Debian's prometheus-blackbox-exporter (.ci/run installs it and requires "
    "this test)",
)
def test_bench_grpc_quick_measures_both_probers(tmp_path: Path) -> None:
    """`bench_grpc.py --quick --write F` exits 0, prints both probers' rates and the judged
    ratio, and writes its part of F."""
    pytest.importorskip("grpc")
    out = tmp_path / "results.md"
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_grpc.py"), "--quick", "--write", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| tether " in done.stdout
    assert "| blackbox_exporter" in done.stdout
    assert "grpc /probe: tether" in done.stdout
    assert "# Benchmark results: gRPC health checks" in out.read_text()
