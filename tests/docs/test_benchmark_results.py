"""benchmarks/results.md leads with one table of current figures (issue 44 §8): every row a
figure with its target, its verdict, its peer and the command that measured it, linked to
its run under benchmarks/history/, and every run there listed."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks/results.md"
HISTORY = ROOT / "benchmarks/history"
VERDICT = r"met( \(.*\))?|\*\*MISSED\*\*( \(.*\))?|\*not measured\*"
COLUMNS = ("area", "figure", "measured", "target", "verdict", "peer", "command")


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def figures() -> list[list[str]]:
    """The rows of the table the file leads with (before its first ``##``)."""
    lead = RESULTS.read_text().split("\n## ", 1)[0]
    rows = [cells(line) for line in lead.splitlines() if line.startswith("| ")]
    assert rows, "no table before the first section"
    assert tuple(rows[0]) == COLUMNS
    return rows[1:]


def test_every_row_has_a_target_a_verdict_a_peer_and_a_command() -> None:
    """Seven cells a row; the verdict is met, MISSED or not measured; a figure measured
    names its command, linked to its run in history/, or says no script measures it."""
    rows = figures()
    assert len(rows) >= 40
    for row in rows:
        assert len(row) == len(COLUMNS), row
        area, figure, measured, target, verdict, peer, command = row
        assert all((area, figure, measured, target, peer, command)), row
        assert re.fullmatch(VERDICT, verdict), row
        if verdict != "*not measured*":
            linked = re.search(r"\]\(history/bench_\w+\.md(#[\w-]+)?\)", command)
            assert linked or command.startswith("*not measured by a script*"), row


def test_every_run_in_history_is_listed_and_has_its_script() -> None:
    """Each file under history/ is named in the index's History table, and is the run of a
    script of benchmarks/ by the same name; the index names no run that is not there."""
    text = RESULTS.read_text()
    history = text.split("\n## History\n", 1)[1]
    listed = set(re.findall(r"\]\(history/(bench_\w+\.md)\)", history))
    there = {p.name for p in HISTORY.glob("*.md")}
    assert listed == there
    for name in there:
        assert (ROOT / "benchmarks" / name.replace(".md", ".py")).exists(), name
    assert set(re.findall(r"\]\(history/(bench_\w+\.md)", text)) <= there


def test_a_run_written_to_the_index_goes_to_its_history_file(tmp_path: Path) -> None:
    """`--write benchmarks/results.md` (as older docs said) writes the run's part to
    history/SCRIPT.md beside it and leaves the index as it was."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from _report import INDEX_MARK, Section, write_part
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    index = tmp_path / "results.md"
    index.write_text(f"{INDEX_MARK} -->\n# Benchmark results\n")
    (tmp_path / "history").mkdir()
    argv0 = sys.argv[0]
    sys.argv[0] = "/somewhere/bench_example.py"
    try:
        write_part(str(index), "# Benchmark results: x", "cmd", [Section("1. A")], 1.0, "me")
    finally:
        sys.argv[0] = argv0
    assert index.read_text() == f"{INDEX_MARK} -->\n# Benchmark results\n"
    written = (tmp_path / "history/bench_example.md").read_text()
    assert written.startswith("# Benchmark results: x\n")
    assert "\n## 1. A\n" in written
