"""How long `tether diagnose` takes on a healthy HTTPS URL, and how long `tether` takes to start.

Run: python benchmarks/bench_diagnose.py [--rounds N] [--write benchmarks/history/bench_diagnose.md]

1. Diagnose: the wall time of the command ``tether diagnose URL --cacert CA``
   (plain text, as when piped; and coloured, as on a terminal, by setting
   ``FORCE_COLOR=1``) and of ``tether diagnose URL --cacert CA --json``
   on the lab's healthy HTTPS server (tls_ok, loopback, a certificate from the
   lab CA), beside the named peer, a Python one-liner doing one
   ``requests.get(URL, verify=CA)``: ``python3 -c "import requests; ..."``.
   Each is a fresh process, so each pays its interpreter start-up and imports,
   as a user at a shell does.  The three take turns in interleaved rounds, each
   round in a fresh random order, after one unmeasured warm-up each; the ratio
   is the median tether time over the median one-liner time.  Target: at most
   1.5 times the one-liner (output goes to /dev/null in every case).
2. Start-up: ``tether --version`` beside ``python3 -c pass``, interleaved the
   same way.  Target: under 150 ms, which means the CLI imports lazily.

Where the time goes is measured too, as the median wall time of
``python3 -c "import X"`` for the modules on the diagnose path, and the cost of
``ssl.create_default_context()`` (loading the system's CA store, which tether
does because ``--cacert`` adds trust rather than replacing it).

The console script is run directly (``bin/tether`` beside the interpreter), not
through a shim such as pyenv's, whose own start-up is not tether's.  The lab
runs in this process, on a thread; every command measured is a child process.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tether import __version__
from tether.lab import Lab

DIAGNOSE_TARGET = 1.5
STARTUP_TARGET_MS = 150.0
HEADING = "# Benchmark results: tether diagnose and start-up"
COLOURED = "FORCE_COLOR=1 tether diagnose URL --cacert CA"


def _command(name: str) -> list[str]:
    script = Path(sys.executable).parent / name
    return [str(script)] if script.exists() else [sys.executable, "-m", "tether.cli"]


def _env() -> dict[str, str]:
    """The caller's environment without proxies (both sides get the same)."""
    return {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}


def _wall(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{cmd} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return elapsed * 1000


def interleaved(
    commands: dict[str, list[str]], rounds: int, extra_env: dict[str, dict[str, str]] | None = None
) -> dict[str, list[float]]:
    """Milliseconds per run of each command: one warm-up each, then shuffled rounds."""
    envs = {name: _env() | (extra_env or {}).get(name, {}) for name in commands}
    for name, cmd in commands.items():
        _wall(cmd, envs[name])
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):
        order = list(commands)
        random.shuffle(order)
        for name in order:
            times[name].append(_wall(commands[name], envs[name]))
    return times


def import_costs(rounds: int) -> list[tuple[str, float]]:
    """Median wall ms of `python3 -c CODE`, minus that of `python3 -c pass`."""
    codes = [
        "pass",
        "import tether",
        "import tether.cli",
        "import tether.diagnose",
        "import rich.console",
        "import cryptography.x509",
        "import requests",
        "import ssl; ssl.create_default_context()",
        "import ssl",
    ]
    times = interleaved({c: [sys.executable, "-c", c] for c in codes}, rounds)
    base = statistics.median(times["pass"])
    return [(c, statistics.median(times[c]) - base) for c in codes if c != "pass"]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def run(rounds: int) -> tuple[list[str], list[str]]:
    """Markdown lines of the results, and the verdict lines."""
    tether = _command("tether")
    with Lab() as lab:
        url, ca = lab["tls_ok"].url, lab.ca_file
        one_liner = f"import requests; requests.get({url!r}, verify={ca!r})"
        diagnose = interleaved(
            {
                "tether diagnose URL --cacert CA": [*tether, "diagnose", url, "--cacert", ca],
                COLOURED: [*tether, "diagnose", url, "--cacert", ca],
                "tether diagnose URL --cacert CA --json": [
                    *tether,
                    "diagnose",
                    url,
                    "--cacert",
                    ca,
                    "--json",
                ],
                "python3 -c 'import requests; requests.get(URL, verify=CA)'": [
                    sys.executable,
                    "-c",
                    one_liner,
                ],
            },
            rounds,
            {COLOURED: {"FORCE_COLOR": "1"}},
        )
    startup = interleaved(
        {
            "tether --version": [*tether, "--version"],
            "python3 -c pass": [sys.executable, "-c", "pass"],
        },
        rounds * 2,
    )
    costs = import_costs(rounds)

    peer = statistics.median(diagnose["python3 -c 'import requests; requests.get(URL, verify=CA)'"])
    lines = [
        "## 1. `tether diagnose` on a healthy loopback HTTPS URL",
        "",
        f"{rounds} interleaved rounds after a warm-up; wall time of a fresh process each.",
        "",
        _row(["command", "median ms", "min ms", "max ms", "ratio to the one-liner"]),
        _row(["---"] * 5),
    ]
    verdicts = []
    for name, ms in diagnose.items():
        median = statistics.median(ms)
        ratio = median / peer
        lines.append(
            _row(
                [
                    f"`{name}`",
                    f"{median:.0f}",
                    f"{min(ms):.0f}",
                    f"{max(ms):.0f}",
                    "1 (peer)" if name.startswith("python3") else f"{ratio:.2f}",
                ]
            )
        )
        if not name.startswith("python3"):
            met = "met" if ratio <= DIAGNOSE_TARGET else "MISSED"
            verdicts.append(
                f"`{name}`: {ratio:.2f} times the requests one-liner "
                f"(target <= {DIAGNOSE_TARGET:g}): {met}"
            )
    lines += [
        "",
        "## 2. Start-up",
        "",
        f"{rounds * 2} interleaved rounds after a warm-up.",
        "",
        _row(["command", "median ms", "min ms", "max ms"]),
        _row(["---"] * 4),
    ]
    for name, ms in startup.items():
        lines.append(_row([f"`{name}`", *(f"{f(ms):.0f}" for f in (statistics.median, min, max))]))
    version_ms = statistics.median(startup["tether --version"])
    met = "met" if version_ms < STARTUP_TARGET_MS else "MISSED"
    verdicts.append(
        f"`tether --version`: {version_ms:.0f} ms (target < {STARTUP_TARGET_MS:g} ms): {met}"
    )
    lines += [
        "",
        "## 3. Where the time goes",
        "",
        "Median wall time of `python3 -c CODE` minus that of `python3 -c pass` "
        f"({rounds} interleaved rounds); each includes what it imports in turn.",
        "",
        _row(["code", "added ms"]),
        _row(["---"] * 2),
    ]
    lines += [_row([f"`{code}`", f"{ms:.0f}"]) for code, ms in costs]
    return lines, verdicts


def write(path: str, lines: list[str], verdicts: list[str], rounds: int) -> None:
    """Replace (or add) this benchmark's part of ``path``, keeping every other part."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        text = ""
    text = re.sub(rf"\n*{re.escape(HEADING)}\n.*?(?=\n# |\Z)", "", text, flags=re.S).rstrip()
    out = [
        HEADING,
        "",
        f"Produced by `python benchmarks/bench_diagnose.py --rounds {rounds} --write {path}` on "
        f"{time.strftime('%Y-%m-%d')}, on this project's {os.cpu_count()}-core machine; "
        f"Python {sys.version.split()[0]}, tether {__version__}.  The method is in the "
        "script's docstring.",
        "",
        *lines,
        "",
        *(f"- {v}" for v in verdicts),
    ]
    Path(path).write_text((text + "\n\n" if text else "") + "\n".join(out) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds (default 10)")
    parser.add_argument("--write", metavar="FILE", help="replace this benchmark's part of FILE")
    args = parser.parse_args()
    lines, verdicts = run(args.rounds)
    print("\n".join([*lines, "", *(f"- {v}" for v in verdicts)]))
    if args.write:
        write(args.write, lines, verdicts, args.rounds)
    return 0 if all(v.endswith(": met") for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
