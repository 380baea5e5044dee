"""What ``import tether`` costs beside ``import requests``, and that it loads no HTTP library.

Run: python benchmarks/bench_import.py [--rounds N] [--venv DIR] [--offline]
     [--write benchmarks/history/bench_import.md]

Method (issue 46 §6): a fresh virtual environment made as the README makes it
(``python3 -m venv DIR``, then ``DIR/bin/python -m pip install '.[monitor,lab]'`` from
this checkout, a built install rather than the source tree; ``requests``, the peer,
installed beside it), unless ``--venv`` names one this script made before.  Each measure
is a fresh interpreter of that environment, ``DIR/bin/python -c CODE``, run from an empty
directory, from spawn to exit, in interleaved rounds: each round runs ``pass``,
``import tether`` and ``import requests`` once each, in a fresh random order, so that a
busy spell of the machine falls on all three alike.  Each module's cost is the best of
its rounds minus the best of the bare interpreter's (``python -c pass`` in the same
environment: start-up, ``site`` and exit), so what is left is the import and nothing
else; the same is taken of the children's CPU time (user + system, from
``getrusage``), which a loaded machine disturbs far less.  Bytecode is written once
before the rounds, as an installed package has it.  ``--offline`` (the smoke test's,
where no package index may be reached) makes an environment that sees this interpreter's
packages and installs tether alone into it, from this checkout.

The targets: ``import tether`` at most 0.5 of ``import requests`` (issue 27 §2,
issue 46 §6), with none of ``requests``, ``urllib3``, ``httpx``, ``httpcore``,
``aiohttp``, ``h11`` or ``anyio`` loaded by it.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import site
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _report import Section, met, table, write_part  # benchmarks/ is the script's own directory

TARGET = 0.5
HTTP_LIBRARIES = ("requests", "urllib3", "httpx", "httpcore", "aiohttp", "h11", "anyio")
CODES = {"bare": "pass", "tether": "import tether", "requests": "import requests"}
REPO = Path(__file__).resolve().parents[1]
README_EXTRAS = "monitor,lab"
"""What the README's first command installs: ``pip install '.[monitor,lab]'``."""
MARK = ".tether-bench-import"
"""A file in an environment this script made, so ``--venv`` reuses only such a one."""


def make_venv(path: Path, offline: bool = False) -> None:
    """A virtual environment at ``path``, as the README makes one, with ``requests``.

    ``offline``: with no package index (the test suite's network guard): an environment
    that sees this interpreter's packages, into which pip builds and installs tether
    alone, from this checkout.  The figures of record come from the README's way."""
    venv = [sys.executable, "-m", "venv", *(["--system-site-packages"] if offline else [])]
    subprocess.run([*venv, str(path)], check=True)
    if offline and sys.prefix != sys.base_prefix:
        # Run from a virtual environment, --system-site-packages sees the base
        # interpreter's packages, not this environment's: hatchling (the build backend,
        # which pip must find with no index) and the extras are here, so the new
        # environment is pointed at this one's site-packages too (plain paths: this
        # environment's own .pth files, an editable tether's among them, are not run).
        inner = next((path / "lib").glob("python*/site-packages"))
        (inner / "_tether_bench_outer.pth").write_text(
            "".join(f"{d}\n" for d in site.getsitepackages())
        )
    python = str(path / "bin" / "python")
    spec = f"{REPO}[{README_EXTRAS}]"
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if offline:
        pip += ["--no-index", "--no-deps", "--no-build-isolation", str(REPO)]
    else:
        pip += [spec, "requests"]
    done = subprocess.run(pip, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"pip install {spec} failed:\n{done.stderr[-3000:]}")
    (path / MARK).write_text(spec + "\n")


def _env() -> dict[str, str]:
    """The environment of a user's shell: nothing of this checkout on the path."""
    drop = {"PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONHOME", "VIRTUAL_ENV"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _run(python: str, code: str, env: dict[str, str], cwd: str) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh interpreter running ``code``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([python, "-c", code], env=env, cwd=cwd, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def loaded_http_libraries(python: str, env: dict[str, str], cwd: str) -> list[str]:
    """The HTTP libraries in ``sys.modules`` after ``import tether``, in a fresh interpreter."""
    code = f"import sys, tether\nprint(' '.join(m for m in {HTTP_LIBRARIES!r} if m in sys.modules))"
    out = subprocess.run(
        [python, "-c", code], env=env, cwd=cwd, check=True, capture_output=True, text=True
    )
    return out.stdout.split()


def loaded_modules(python: str, env: dict[str, str], cwd: str) -> list[str]:
    """The modules ``import tether`` adds to ``sys.modules``, in a fresh interpreter."""
    code = "import sys\nb = set(sys.modules)\nimport tether\nprint(*sorted(set(sys.modules) - b))"
    out = subprocess.run(
        [python, "-c", code], env=env, cwd=cwd, check=True, capture_output=True, text=True
    )
    return out.stdout.split()


def measure(
    python: str, rounds: int, cwd: str, seed: int = 1
) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds of each code's interpreter, one per round."""
    env = _env()
    for code in CODES.values():  # bytecode written, caches warm
        _run(python, code, env, cwd)
    rng = random.Random(seed)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in CODES}
    for _ in range(rounds):
        names = list(CODES)
        rng.shuffle(names)
        for name in names:
            times[name].append(_run(python, CODES[name], env, cwd))
    return times


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15, help="fresh interpreters of each")
    parser.add_argument(
        "--venv", help="reuse the environment this script made there before (made if missing)"
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="no package index: a new environment seeing this interpreter's packages, "
        "with tether alone installed into it (for the smoke test)",
    )
    parser.add_argument("--write", help="also write the results as Markdown into this file")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tether-bench-import-") as tmp:
        venv = Path(args.venv) if args.venv else Path(tmp) / "venv"
        made = not (venv / MARK).exists()
        if made:
            print(f"making {venv} as the README does: pip install '.[{README_EXTRAS}]' requests")
            make_venv(venv, args.offline)
        python = str(venv / "bin" / "python")
        empty = Path(tmp) / "cwd"
        empty.mkdir()
        load = os.getloadavg()[0]
        times = measure(python, args.rounds, str(empty))
        loaded = loaded_http_libraries(python, _env(), str(empty))
        modules = loaded_modules(python, _env(), str(empty))
    best = {name: (min(w for w, _ in ts), min(c for _, c in ts)) for name, ts in times.items()}
    bare_wall, bare_cpu = best["bare"]
    tether_ms, requests_ms = ((best[n][0] - bare_wall) * 1e3 for n in ("tether", "requests"))
    tether_cpu, requests_cpu = ((best[n][1] - bare_cpu) * 1e3 for n in ("tether", "requests"))
    # Under load the best of a few rounds can put tether's below the bare interpreter's:
    # its import is then lost in the noise, and counted as nothing rather than less.
    noise = tether_ms < 0
    tether_ms = max(tether_ms, 0.0)
    ratio = tether_ms / requests_ms
    cpu_ratio = tether_cpu / requests_cpu if requests_cpu > 0 else float("nan")
    rows = [
        (
            "python -c pass (start-up, subtracted)",
            f"{bare_wall * 1e3:.1f}",
            "",
            f"{bare_cpu * 1e3:.1f}",
            "",
        ),
        (
            "import tether",
            f"{tether_ms:.1f}",
            f"{ratio:.2f}",
            f"{tether_cpu:.1f}",
            f"{cpu_ratio:.2f}",
        ),
        ("import requests", f"{requests_ms:.1f}", "1 (peer)", f"{requests_cpu:.1f}", "1 (peer)"),
    ]
    verdicts = [
        f"import tether: {ratio:.2f} of import requests (target <= {TARGET}): "
        f"{met(ratio <= TARGET)}",
        f"import tether, CPU time: {cpu_ratio:.2f} of import requests (target <= {TARGET}): "
        f"{met(cpu_ratio <= TARGET)}",
        f"HTTP libraries loaded by import tether: {', '.join(loaded) or 'none'} "
        f"(target == none): {met(not loaded)}",
    ]
    section = Section("1. import tether beside import requests")
    section.notes.append(
        (
            "In a new virtual environment seeing this interpreter's packages, tether alone "
            "installed into it (--offline: not the README's way"
            if args.offline
            else "In a fresh virtual environment made as the README makes it (`python3 -m "
            f"venv`, `pip install '.[{README_EXTRAS}]'`, and `requests` beside it"
        )
        + f"{'' if made else ', made by an earlier run'}); best of {args.rounds} fresh "
        "interpreters each, in interleaved rounds, minus the best of `python -c pass` in the "
        f"same environment; wall time and the children's CPU time.  Load average at the "
        f"start: {load:.2f}."
    )
    if noise:
        section.notes.append(
            "`import tether` came out below the bare interpreter's best on the wall clock "
            "(the machine's noise): counted as 0."
        )
    section.notes.append(f"`import tether` loads {len(modules)} modules: {', '.join(modules)}.")
    section.tables.append(
        table(
            "Import time",
            ("code", "ms", "ratio to requests", "CPU ms", "CPU ratio to requests"),
            rows,
        )
    )
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
