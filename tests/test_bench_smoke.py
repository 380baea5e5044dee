"""The benchmarks still run: their quick modes, end to end, on loopback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPT = BENCHMARKS / "bench_retry.py"
HEADINGS = ("1. Overhead", "2. Amplification", "3. Availability", "4. Recovery", "5. Deadline")
MONITOR_HEADINGS = ("1. Scale", "2. Detection", "3. Storage")
PROBE_HEADINGS = ("1. /probe throughput",)
BLACKBOX = Path("/usr/bin/prometheus-blackbox-exporter")


def _check_sections(stdout: str, headings: tuple[str, ...]) -> None:
    """Each heading in order, each section with a Markdown table and a judged target."""
    sections = re.split(r"^## ", stdout, flags=re.M)[1:]
    titles = [s.split("\n", 1)[0] for s in sections]
    assert len(titles) == len(headings), titles
    for title, heading in zip(titles, headings, strict=True):
        assert title.startswith(heading), titles
    for section in sections:
        assert re.search(r"^\| .+ \|$", section, flags=re.M), section[:200]
        assert re.search(r"\(target [<>]=? [^)]+\): (met|MISSED)$", section, flags=re.M)


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
    _check_sections(done.stdout, HEADINGS)


def test_bench_monitor_quick_prints_every_section_and_writes_its_part(tmp_path: Path) -> None:
    """`bench_monitor.py --quick --write F` exits 0, prints scale, detection and storage with
    a table and a judged target each, and replaces its part of F, keeping the others."""
    results = tmp_path / "results.md"
    results.write_text(
        "# Benchmark results: retries\n\nkept\n\n"
        "# Benchmark results: the monitor\n\nstale, to be replaced\n"
    )
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_monitor.py"), "--quick", "--write", str(results)],
        capture_output=True,
        text=True,
        timeout=55,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    _check_sections(done.stdout, MONITOR_HEADINGS)
    written = results.read_text()
    assert written.startswith("# Benchmark results: retries\n\nkept\n")
    assert "stale" not in written
    assert written.count("# Benchmark results: the monitor\n") == 1
    for heading in MONITOR_HEADINGS:
        assert f"\n## {heading}" in written


@pytest.mark.skipif(
    not BLACKBOX.exists() and not os.environ.get("TETHER_REQUIRE_BLACKBOX"),
    reason="needs Debian's prometheus-blackbox-exporter (.ci/run installs it and requires "
    "this test)",
)
def test_bench_probe_quick_measures_both_probers_and_writes_its_part(tmp_path: Path) -> None:
    """`bench_probe.py --quick --no-install --write F` exits 0, prints tether's and
    blackbox_exporter's /probe rates in a table with the judged ratio, and replaces its
    part of F, keeping the others."""
    results = tmp_path / "results.md"
    results.write_text(
        "# Benchmark results: the monitor\n\nkept\n\n"
        "# Benchmark results: /probe\n\nstale, to be replaced\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "bench_probe.py"),
            "--quick",
            "--no-install",
            "--write",
            str(results),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    _check_sections(done.stdout, PROBE_HEADINGS)
    assert re.search(r"^\| tether .*\|$", done.stdout, flags=re.M), done.stdout
    assert re.search(r"^\| blackbox_exporter .*\|$", done.stdout, flags=re.M), done.stdout
    verdict = r"^(- )?/probe: tether .* probes/s, .* x blackbox_exporter's .* \(target >= 1\.0\)"
    assert re.search(verdict, done.stdout, flags=re.M), done.stdout
    written = results.read_text()
    assert written.startswith("# Benchmark results: the monitor\n\nkept\n")
    assert "stale" not in written
    assert written.count("# Benchmark results: /probe\n") == 1
    assert "\n## 1. /probe throughput" in written
    assert re.search(verdict.replace("(- )?", "- "), written, flags=re.M), written


SCALE_HEADINGS = ("1. Worker processes",)


def test_bench_scale_quick_prints_its_section_and_writes_its_part(tmp_path: Path) -> None:
    """`bench_scale.py --quick --write F` exits 0, prints its section with a table and the
    judged targets (monitors with two workers, the CPU per 1,000 checks), and replaces its
    part of F, keeping the others."""
    results = tmp_path / "results.md"
    results.write_text(
        "# Benchmark results: the monitor\n\nkept\n\n"
        "# Benchmark results: worker processes\n\nstale, to be replaced\n"
    )
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_scale.py"), "--quick", "--write", str(results)],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    _check_sections(done.stdout, SCALE_HEADINGS)
    assert re.search(r"^workers: [\d,]+ monitors at .+ with workers: 2", done.stdout, flags=re.M)
    assert re.search(r"^workers: the monitor's own CPU.+ s per 1,000 checks", done.stdout, re.M)
    written = results.read_text()
    assert written.startswith("# Benchmark results: the monitor\n\nkept\n")
    assert "stale" not in written
    assert written.count("# Benchmark results: worker processes\n") == 1
    assert f"\n## {SCALE_HEADINGS[0]}" in written
