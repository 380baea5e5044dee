"""The DNSSEC benchmark (benchmarks/bench_dnssec.py) runs end to end in its quick mode."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.helpers.bench_runs import BENCHMARKS

pytestmark = pytest.mark.bench


def test_bench_dnssec_quick_measures_validated_and_unvalidated_checks() -> None:
    """`bench_dnssec.py --quick` exits 0 with a row per peer, no failed check, and its
    target judged."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_dnssec.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = dict(
        re.findall(r"^\| (validated|unvalidated|blackbox_exporter) \| (.+) \|$", done.stdout, re.M)
    )
    assert {"validated", "unvalidated"} <= set(rows)
    for row in rows.values():
        assert row.split(" | ")[1] == "0", row  # failed checks
    assert re.search(r"\(target >= 100/s\): (met|MISSED)$", done.stdout, re.M)
