"""Running a benchmark's quick mode from a test: its sections checked, its part of a
results file written (tests/bench)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def bench_module(name: str) -> ModuleType:
    """``benchmarks/NAME.py`` imported as a module of its own (benchmarks/ is no package)."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_sections(stdout: str, headings: tuple[str, ...]) -> None:
    """Each heading in order, each section with a Markdown table and a judged target."""
    sections = re.split(r"^## ", stdout, flags=re.M)[1:]
    titles = [s.split("\n", 1)[0] for s in sections]
    assert len(titles) == len(headings), titles
    for title, heading in zip(titles, headings, strict=True):
        assert title.startswith(heading), titles
    for section in sections:
        assert re.search(r"^\| .+ \|$", section, flags=re.M), section[:200]
        assert re.search(r"\(target [<>]=? [^)]+\): (met|MISSED)$", section, flags=re.M)


def run_writing_its_part(
    tmp_path: Path,
    script: str,
    args: list[str],
    title: str,
    headings: tuple[str, ...],
    *,
    timeout: float,
    kept: str = "the monitor",
) -> tuple[str, str]:
    """Run ``script`` with ``args`` and ``--write F``, F holding a part ``kept`` and a
    stale part ``title``: it exits 0, prints ``headings`` (see :func:`check_sections`)
    and replaces its own part alone, each heading in it.  What it printed, and F."""
    results = tmp_path / "results.md"
    results.write_text(
        f"# Benchmark results: {kept}\n\nkept\n\n"
        f"# Benchmark results: {title}\n\nstale, to be replaced\n"
    )
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args, "--write", str(results)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    check_sections(done.stdout, headings)
    written = results.read_text()
    assert written.startswith(f"# Benchmark results: {kept}\n\nkept\n")
    assert "stale" not in written
    assert written.count(f"# Benchmark results: {title}\n") == 1
    for heading in headings:
        assert f"\n## {heading}" in written
    return done.stdout, written
