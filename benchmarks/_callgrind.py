"""Instructions counted by callgrind, which a loaded machine does not disturb: one home for
bench_instructions.py's and bench_checkcost.py's counts."""

from __future__ import annotations

import os
import subprocess
import sys


def collected(
    script: str, args: list[str], env: dict[str, str] | None = None, only: str | None = None
) -> int:
    """The instructions callgrind collected for a fresh interpreter running ``script`` with
    ``args`` (``PYTHONHASHSEED=0``, so a run is repeatable, and ``env`` on top); with
    ``only``, a C function's name, only those made inside that function (on any thread
    that enters it), as ``--toggle-collect`` counts them."""
    toggle = [] if only is None else ["--collect-atstart=no", f"--toggle-collect={only}"]
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            *toggle,
            sys.executable,
            os.path.abspath(script),
            *args,
        ],
        env={**os.environ, "PYTHONHASHSEED": "0", **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    for line in done.stderr.splitlines():
        if "Collected" in line:
            return int(line.split()[-1])
    raise RuntimeError(f"callgrind said no count for {args}:\n{done.stderr[-3000:]}")
