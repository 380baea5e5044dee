"""What the benchmarks share: sections of results, Markdown tables, and writing one
benchmark's part of a results file (``benchmarks/history/SCRIPT.md``) while keeping every
other part."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INDEX_MARK = "<!-- the index of current figures"
"""How ``benchmarks/results.md`` begins: the table of current figures, written by hand from
the runs, whose parts live in ``history/`` (a run written there goes to its own file)."""


def write_part(
    path: str, heading: str, command: str, sections: Sequence[Any], seconds: float, made_by: str
) -> None:
    """Replace (or add) the part under ``heading``; each section has ``heading``, ``notes``,
    ``tables`` (already rendered) and ``verdicts``.  Given ``benchmarks/results.md`` (the
    index), the part goes to this script's file under ``benchmarks/history/``."""
    path = part_file(path)
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    text = re.sub(rf"\n*{re.escape(heading)}\n.*?(?=\n# |\Z)", "", text, flags=re.S).rstrip()
    out = [
        heading,
        "",
        f"Produced by `{command}` on {time.strftime('%Y-%m-%d')}, on this project's "
        f"{os.cpu_count()}-core machine, in {seconds:.0f} s; {made_by}.  The method of each "
        "measure is in the script's docstring.",
    ]
    for s in sections:
        out += ["", f"## {s.heading}", ""]
        out += s.notes
        for t in s.tables:
            out += ["", f"### {t}"]
        out += [""] + [f"- {v}" for v in s.verdicts]
    with open(path, "w") as f:
        f.write((text + "\n\n" if text else "") + "\n".join(out) + "\n")


def part_file(path: str) -> str:
    """Where a part written to ``path`` goes: ``path`` itself, unless it is the index of
    current figures, whose runs each go to ``history/SCRIPT.md`` beside it (said on
    stderr: the figures are copied into the index's table by hand)."""
    try:
        with open(path) as f:
            head = f.read(4096)
    except FileNotFoundError:
        return path
    if INDEX_MARK not in head:
        return path
    target = Path(path).parent / "history" / f"{Path(sys.argv[0]).stem}.md"
    print(
        f"{path} is the index of current figures: this run's part goes to {target}; "
        "copy its figures into the index's table",
        file=sys.stderr,
    )
    return str(target)


def table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A Markdown table, readable as it is in a terminal."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([title, "", line(header), rule, *map(line, rows)])


def met(ok: bool) -> str:
    return "met" if ok else "MISSED"


@dataclass
class Section:
    heading: str
    tables: list[str] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def show(self) -> None:
        print(f"\n## {self.heading}\n")
        for note in self.notes:
            print(note)
        for t in self.tables:
            print(f"\n{t}")
        print()
        for v in self.verdicts:
            print(v)
        print(f"({self.seconds:.1f} s)", flush=True)


def commit() -> str:
    """The short hash of the commit the benchmarks run from, or ``unknown``."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=os.path.dirname(os.path.abspath(__file__)),
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
