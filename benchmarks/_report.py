"""What the benchmarks share: sections of results, Markdown tables, and writing one
benchmark's part of ``benchmarks/results.md`` while keeping every other part."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


def write_part(
    path: str, heading: str, command: str, sections: Sequence[Any], seconds: float, made_by: str
) -> None:
    """Replace (or add) the part under ``heading``; each section has ``heading``, ``notes``,
    ``tables`` (already rendered) and ``verdicts``."""
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
