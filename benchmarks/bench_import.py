"""What ``import tether`` costs beside ``import requests``, and that it loads no HTTP library.

Run: python benchmarks/bench_import.py [--rounds N] [--write benchmarks/history/bench_import.md]

Method: each measure is the wall time of a fresh interpreter, ``python -c CODE``, from
spawn to exit, taken in interleaved rounds (each round runs ``pass``, ``import tether``
and ``import requests`` once each, in a fresh random order, so that a busy spell of the
machine falls on all three alike).  Each module's cost is the best of its rounds minus
the best of the bare interpreter's (``python -c pass``: start-up, ``site`` and exit),
so what is left is the import and nothing else.  Bytecode is written once before the
rounds, as an installed package has it.  The interpreter is this one, with the source
tree this script belongs to first on ``sys.path``.

The target (issue 27 §2): ``import tether`` at most 0.5 of ``import requests``, with
none of ``requests``, ``urllib3``, ``httpx``, ``httpcore``, ``aiohttp``, ``h11`` or
``anyio`` loaded by it.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from _report import Section, met, table, write_part  # benchmarks/ is the script's own directory

TARGET = 0.5
HTTP_LIBRARIES = ("requests", "urllib3", "httpx", "httpcore", "aiohttp", "h11", "anyio")
CODES = {"bare": "pass", "tether": "import tether", "requests": "import requests"}
SRC = Path(__file__).resolve().parents[1] / "src"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return env


def _wall(code: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    return time.perf_counter() - start


def loaded_http_libraries(env: dict[str, str]) -> list[str]:
    """The HTTP libraries in ``sys.modules`` after ``import tether``, in a fresh interpreter."""
    code = f"import sys, tether\nprint(' '.join(m for m in {HTTP_LIBRARIES!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    )
    return out.stdout.split()


def measure(rounds: int, seed: int = 1) -> dict[str, list[float]]:
    """Seconds of each code's interpreter, one per round."""
    env = _env()
    for code in CODES.values():  # bytecode written, caches warm
        _wall(code, env)
    rng = random.Random(seed)
    times: dict[str, list[float]] = {name: [] for name in CODES}
    for _ in range(rounds):
        names = list(CODES)
        rng.shuffle(names)
        for name in names:
            times[name].append(_wall(CODES[name], env))
    return times


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15, help="fresh interpreters of each")
    parser.add_argument("--write", help="also write the results as Markdown into this file")
    args = parser.parse_args()
    started = time.perf_counter()
    times = measure(args.rounds)
    bare = min(times["bare"])
    tether_ms = (min(times["tether"]) - bare) * 1e3
    requests_ms = (min(times["requests"]) - bare) * 1e3
    ratio = tether_ms / requests_ms
    loaded = loaded_http_libraries(_env())
    rows = [
        ("python -c pass (start-up, subtracted)", f"{bare * 1e3:.1f}", ""),
        ("import tether", f"{tether_ms:.1f}", f"{ratio:.2f}"),
        ("import requests", f"{requests_ms:.1f}", "1 (peer)"),
    ]
    verdicts = [
        f"import tether: {ratio:.2f} of import requests (target <= {TARGET}): "
        f"{met(ratio <= TARGET)}",
        f"HTTP libraries loaded by import tether: {', '.join(loaded) or 'none'} "
        f"(target == none): {met(not loaded)}",
    ]
    section = Section("1. import tether beside import requests")
    section.notes.append(
        f"Best of {args.rounds} fresh interpreters each, in interleaved rounds, minus the best "
        "of `python -c pass`."
    )
    section.tables.append(table("Import time", ("code", "ms", "ratio to requests"), rows))
    section.verdicts += verdicts
    section.show()
    if args.write:
        write_part(
            args.write,
            "# Benchmark results: import time",
            f"python benchmarks/bench_import.py --write {args.write}",
            [section],
            time.perf_counter() - started,
            f"Python {sys.version.split()[0]}",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
