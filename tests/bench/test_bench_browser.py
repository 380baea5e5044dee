"""benchmarks/bench_browser.py still runs: its quick mode, end to end, on loopback, with
Debian's Chromium (skips without it or playwright; fails instead when
TETHER_REQUIRE_CHROMIUM=1)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers.bench_runs import BENCHMARKS
from tests.helpers.web_harness import chromium_or_skip

pytestmark = pytest.mark.bench


def test_bench_browser_quick_measures_the_three_peers() -> None:
    """`bench_browser.py --quick` exits 0 with a row per peer and a judged target."""
    chromium_or_skip()
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_browser.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=55,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for peer in ("| tether browser |", "| bare playwright |", "| tether http |"):
        assert peer in done.stdout
    assert done.stdout.rstrip().endswith(("met", "missed"))
