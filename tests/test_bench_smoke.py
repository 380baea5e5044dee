"""The retry benchmark still runs: its quick mode, end to end, on loopback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_retry.py"
HEADINGS = ("1. Overhead", "2. Amplification", "3. Availability", "4. Recovery", "5. Deadline")


def test_bench_retry_quick_prints_every_section() -> None:
    """`bench_retry.py --quick` exits 0 and prints each section with a table and its verdicts."""
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    sections = re.split(r"^## ", done.stdout, flags=re.M)[1:]
    titles = [s.split("\n", 1)[0] for s in sections]
    assert len(titles) == len(HEADINGS), titles
    for title, heading in zip(titles, HEADINGS, strict=True):
        assert title.startswith(heading), titles
    for section in sections:
        assert re.search(r"^\| .+ \|$", section, flags=re.M), section[:200]
        assert re.search(r"\(target [<>]=? [^)]+\): (met|MISSED)$", section, flags=re.M)
