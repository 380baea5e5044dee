"""Writing one benchmark's part of ``benchmarks/results.md``, keeping every other part."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
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
