"""benchmarks/bench_clients_retry.py still runs: its quick mode, end to end, on loopback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.bench_runs import BENCHMARKS

pytestmark = pytest.mark.bench


@pytest.mark.timeout(250)  # five seams beside their peers, each on a real server
def test_bench_clients_retry_quick_measures_each_seam_beside_its_peer(tmp_path: Path) -> None:
    """`bench_clients_retry.py --quick --write F` exits 0, prints tether's seams beside
    redis-py's, gRPC's, SQLAlchemy's and botocore's own (attempts in an outage, recovery,
    cost), gRPC hedging's latencies, and writes its part."""
    out = tmp_path / "results.md"
    done = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "bench_clients_retry.py"),
            "--quick",
            "--write",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| tether " in done.stdout
    assert "| redis " in done.stdout
    assert "attempts in a full outage: tether 4, redis-py 4" in done.stdout
    assert "| grpc " in done.stdout
    assert "| pre_ping " in done.stdout
    assert "| standard " in done.stdout
    assert "| adaptive " in done.stdout
    assert "requests in a full outage: tether 4, standard 4, adaptive 4" in done.stdout
    assert "| tether, Hedge(delay=0.02) " in done.stdout
    assert "# Benchmark results: the clients' retry seams" in out.read_text()
