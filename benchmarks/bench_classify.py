"""How much classify() costs, and how much `import tether` costs.

Run: python benchmarks/bench_classify.py [--write benchmarks/history/bench_classify.md]

classify() is timed on the real exceptions of the failure matrix (every lab
scenario through every installed client, on loopback), median per exception
over many calls.  Peers, timed in the same run on the same exceptions:
``str(exc)`` (what an ``except`` that prints does) and
``traceback.format_exception(exc)`` (what ``logger.exception`` does).
Import time is tether's own self time under ``-X importtime``, beside
``import requests`` and ``import httpx`` measured the same way.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import statistics
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Callable

from _report import Section, table, write_part

from tether import classify
from tether.lab import Lab
from tether.lab._matrix import applies, available, scenarios_for, trigger

TARGET_US = 20.0
IMPORT_TARGET_MS = 50.0


def collect() -> list[BaseException]:
    found = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        with Lab() as lab:
            names = [n for n in lab.scenarios if n not in ("slow_drip", "flapping", "latency")]
            for scenario in scenarios_for(lab, names):
                for client in (
                    "requests",
                    "urllib3",
                    "httpx",
                    "aiohttp",
                    "urllib",
                    "socket",
                    "dnspython",
                ):
                    if applies(scenario, client) and available(client):
                        _, exc = trigger(scenario, client, lab)
                        if exc is not None:
                            found.append(exc)
    return found


def median_us(
    fn: Callable[[BaseException], object], excs: list[BaseException], reps: int
) -> tuple[float, float]:
    """Median and worst, over exceptions, of the per-call median in microseconds."""
    per_exc = []
    for exc in excs:
        samples = []
        for _ in range(7):
            start = time.perf_counter_ns()
            for _ in range(reps):
                fn(exc)
            samples.append((time.perf_counter_ns() - start) / reps / 1000)
        per_exc.append(statistics.median(samples))
    return statistics.median(per_exc), max(per_exc)


def import_ms(module: str) -> tuple[float, float]:
    """Best of 5 fresh ``-X importtime`` runs: the module's package's own self time,
    and the module's cumulative time (its dependencies included), in ms."""
    top = module.split(".", maxsplit=1)[0]
    best_self = best_cumulative = float("inf")
    # An installed package has its bytecode compiled; a checkout run with
    # PYTHONDONTWRITEBYTECODE would count compiling the source instead: write it once.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-c", f"import {module}"], env=env, check=True)
    for _ in range(5):
        err = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stderr
        own = 0
        for line in err.splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)$", line)
            if not m:
                continue
            if m[4].split(".")[0] == top:
                own += int(m[1])
            if m[4] == module and len(m[3]) == 1:
                best_cumulative = min(best_cumulative, int(m[2]) / 1000)
        best_self = min(best_self, own / 1000)
    return best_self, best_cumulative


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", help="also write the results as Markdown to this file")
    args = parser.parse_args()

    started = time.perf_counter()
    excs = collect()
    gc.collect()
    reps = 200
    rows = []
    c_med, c_max = median_us(classify, excs, reps)
    s_med, _ = median_us(str, excs, reps)
    t_med, _ = median_us(traceback.format_exception, excs, 20)
    rows.append(
        ("classify(exc), median over exceptions", f"{c_med:.1f} µs", f"worst {c_max:.1f} µs")
    )
    rows.append(("str(exc)", f"{s_med:.2f} µs", f"classify = {c_med / s_med:.1f}× str"))
    rows.append(
        (
            "traceback.format_exception(exc)",
            f"{t_med:.1f} µs",
            f"classify = {c_med / t_med:.2f}× format_exception",
        )
    )
    tether_self, tether_cum = import_ms("tether")
    rows.append(
        (
            "import tether: tether's own self time",
            f"{tether_self:.1f} ms",
            f"cumulative with stdlib deps {tether_cum:.1f} ms",
        )
    )
    for peer in ("requests", "httpx"):
        _, cum = import_ms(peer)
        rows.append(
            (
                f"import {peer} (cumulative)",
                f"{cum:.1f} ms",
                f"tether = {tether_cum / cum:.2f}× {peer}",
            )
        )

    verdict = (
        f"classify median {c_med:.1f} µs, worst {c_max:.1f} µs (target < {TARGET_US:g} µs "
        f"median): {'met' if c_med < TARGET_US else 'MISSED'}; import self time "
        f"{tether_self:.1f} ms (target < {IMPORT_TARGET_MS:g} ms): "
        f"{'met' if tether_self < IMPORT_TARGET_MS else 'MISSED'}"
    )
    width = max(len(r[0]) for r in rows)
    print(f"{len(excs)} real exceptions from the lab matrix; Python {sys.version.split()[0]}")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>10}  {note}")
    print(verdict)
    if args.write:
        section = Section(
            "classify() and import time",
            tables=[table("Measures", ("measure", "value", "ratio / note"), rows)],
            verdicts=[verdict],
            notes=[f"{len(excs)} real exceptions from the lab matrix."],
        )
        write_part(
            args.write,
            "# Benchmark results: classify() and import time",
            f"python benchmarks/bench_classify.py --write {args.write}",
            [section],
            time.perf_counter() - started,
            f"Python {sys.version.split()[0]}",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
