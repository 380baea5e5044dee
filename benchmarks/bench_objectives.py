"""Objectives: how soon a total outage pages, and what evaluating objectives costs.

Run: python benchmarks/bench_objectives.py [--quick] [--write benchmarks/results.md]

1. Detection on simulated time.  The running monitor's :class:`ObjectiveBook` (what the stage of
   ``runtime/_objective_stage.py`` feeds) over one monitor checked every INTERVAL seconds,
   a 99.9% objective over 30 days with the Workbook's rules: 30 days of passing checks,
   then every check fails; the rules are evaluated every 10 s (``EVALUATE_EVERY``) on
   the simulated clock.  The maths says 0.001 x 3,600 s x 14.4 = 51.8 s of failures; a
   check interval and an evaluation period are what the running monitor adds.  The
   same with no history (a new objective over monitors the store knows nothing of; a
   restart reads the history back: benchmarks/bench_objective_store.py).
2. Detection in a real run.  ``tether monitor`` as a process, on loopback, checking a
   real HTTP server every second, with a webhook channel to a real receiver; the server
   is shut down and the time to the ``objective.burning`` POST at the receiver is
   measured on the wall clock.  A month of history cannot be had in minutes, so the
   objective's one rule is the Workbook's page scaled down: 99% over 1 h, 14.4 over
   2 min with a 10 s short window, after 2.5 min of passing checks (the maths: 0.01 x
   120 s x 14.4 = 17.3 s).
3. Cost.  ``ObjectiveBook.evaluate`` with 10, 100 and 1,000 objectives over 1,000 and 20,000
   monitors (each objective over its share of them), after 30 days of history in every
   bucket: microseconds an objective an evaluation, and what 1,000 objectives cost every
   10 s as a share of one core.  ``ObjectiveBook.observe``: microseconds a check.  A 30-day
   ledger's memory (tracemalloc), and ``spenders`` (what ``/api/objectives`` adds).

No peer is run: Sloth and Pyrra generate Prometheus recording and alerting rules for the
same multi-window, multi-burn-rate alerts; their cost is Prometheus's, evaluating queries
over stored series, and not comparable to counting in process.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

from _report import Section, commit, met, table, write_part

from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor.config import parse_config
from tether.monitor.engine.objectives._book import ObjectiveBook
from tether.monitor.engine.objectives._budget import BudgetLedger, detection_time, from_config
from tether.monitor.runtime._objective_stage import EVALUATE_EVERY

DAY = 86400.0
EPOCH = 1_800_000_000.0


def _config(monitors: int, objectives: int, target: str = "99.9%") -> ObjectiveBook:
    lines = ["monitors:"]
    lines += [f"  - {{name: m{i}, url: 'http://127.0.0.1:9/{i}'}}" for i in range(monitors)]
    lines.append("objectives:")
    share = max(1, monitors // objectives)
    for j in range(objectives):
        names = ", ".join(f"m{i}" for i in range(j * share, min(monitors, (j + 1) * share)))
        lines.append(f"  - {{name: o{j}, monitors: [{names}], target: {target}, window: 30d}}")
    return ObjectiveBook(parse_config("\n".join(lines) + "\n"))


def _month(ledger: BudgetLedger, per_minute: int, end: float = EPOCH) -> None:
    for minute in range(int(30 * DAY / 60)):
        ledger.record(end - 30 * DAY + minute * 60, good=per_minute, total=per_minute)


def simulated(interval: float, history: bool, phase: float = 0.0) -> tuple[float, str]:
    """Seconds from the outage's start (just after the last passing check) to the first
    alert that fires, and its rule; the evaluations ``phase`` seconds after the checks'."""
    book = _config(1, 1)
    if history:
        _month(book.ledgers["o0"], round(60 / interval))
    at = EPOCH + interval  # the first failed check; the outage began just after EPOCH
    evaluation = EPOCH + phase
    while True:
        while evaluation < at:
            fired = [a for a in book.evaluate(evaluation) if a.event.type == "fired"]
            if fired:
                rule = fired[0].event.rule
                return evaluation - EPOCH, f"{rule.severity} {rule.burn:g}x"
            evaluation += EVALUATE_EVERY
        book.observe(ProbeRecord("m0", at, False, Kind("connect.refused"), 1.0))
        at += interval


def section_simulated() -> Section:
    bound = detection_time(14.4, 3600, 0.999)
    rows = []
    verdicts = []
    for interval in (1.0, 5.0, 30.0, 60.0):
        # The evaluations' phase against the checks: the worst and the best of ten.
        runs = [simulated(interval, True, EVALUATE_EVERY * k / 10) for k in range(10)]
        took = [t for t, _ in runs]
        rule = runs[0][1]
        rows.append((f"{interval:g} s", rule, f"{min(took):.1f} s", f"{max(took):.1f} s"))
        ok = rule == "page 14.4x" and max(took) <= bound + interval + EVALUATE_EVERY
        verdicts.append(
            f"checks every {interval:g} s: paged {min(took):.0f} to {max(took):.0f} s after "
            f"the outage began (the maths: {bound:.1f} s, plus at most one interval and "
            f"one evaluation period, {EVALUATE_EVERY:g} s): {met(ok)}"
        )
    fresh = [simulated(i, False) for i in (1.0, 30.0)]
    notes = [
        "A 99.9% objective over 30 days with the default rules, one monitor, 30 days of "
        "passing checks before the outage (counted into its ledger a minute at a time), "
        f"evaluated every {EVALUATE_EVERY:g} s of the simulated clock.  The outage begins "
        "just after the last passing check; a check stands for the interval before it, "
        "so at long intervals a single failed check is 1.44% of an hour's checks and "
        "pages at once.",
        "",
        "A new objective over monitors the store knows nothing of has no history: the first "
        "failed check burns at 1,000 over every window, and the first alert comes at the "
        f"next evaluation ({fresh[0][0]:.0f} s at 1 s checks, {fresh[0][1]}; "
        f"{fresh[1][0]:.0f} s at 30 s checks, {fresh[1][1]}).  A restart reads the history "
        "back from the store (benchmarks/bench_objective_store.py).",
    ]
    return Section(
        "Detection on simulated time: 99.9% over 30 days, a total outage",
        tables=[
            table(
                "Time from the start of the outage to the first alert",
                ("checks every", "first alert", "paged after, at best", "at worst"),
                rows,
            )
        ],
        verdicts=verdicts,
        notes=notes,
    )


class _Target(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


REAL_CONFIG = """
storage: {{path: "{db}"}}
server: {{listen: "127.0.0.1:{port}"}}
alerts:
  - {{name: pager, type: webhook, url: "http://127.0.0.1:{hook}/hook"}}
monitors:
  - {{name: api, url: "http://127.0.0.1:{target}/", interval: 1s, timeout: 500ms}}
objectives:
  - name: api
    monitors: [api]
    target: 99%
    window: 1h
    alerts: [pager]
    burn_rates: [{{severity: page, burn: 14.4, long: 2m, short: 10s}}]
"""


def section_real(up_for: float) -> Section:
    got: list[tuple[float, dict[str, object]]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((time.monotonic(), json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    target = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Target)
    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    for server in (target, hook):
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    home = Path(tempfile.mkdtemp(prefix="bench-objectives-"))
    (home / "tether.yaml").write_text(
        REAL_CONFIG.format(
            db=home / "t.db",
            port=_free_port(),
            hook=hook.server_address[1],
            target=target.server_address[1],
        )
    )
    src = str(Path(__file__).resolve().parent.parent / "src")
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tether.cli", "monitor", "--config", "tether.yaml"],
        cwd=home,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(home / "tether.log").open("wb"),
    )
    try:
        time.sleep(up_for)  # real time: the monitor's history of passing checks
        down = time.monotonic()
        target.shutdown()
        target.server_close()  # the port refuses from now on
        deadline = down + 120
        while time.monotonic() < deadline and not any(
            b.get("event") == "objective.burning" for _, b in got
        ):
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        hook.shutdown()
    pages = [t for t, b in got if b.get("event") == "objective.burning"]
    bound = detection_time(14.4, 120, 0.99)
    notes = [
        f"`tether monitor` checking a real HTTP server on loopback every second for "
        f"{up_for:g} s, then the server shut down (its port refuses); the rule 14.4x over "
        f"2 min and 10 s of a 99% objective (the maths: {bound:.1f} s of failures).",
    ]
    if not pages:
        return Section(
            "Detection in a real run", notes=notes, verdicts=["no page within 120 s: MISSED"]
        )
    took = pages[0] - down
    text = next(b for _, b in got if b.get("event") == "objective.burning")["text"]
    notes += ["", f"The page said: `{text}`"]
    ok = took <= bound + 1 + EVALUATE_EVERY + 2
    return Section(
        "Detection in a real run",
        notes=notes,
        verdicts=[
            f"the page reached the receiver {took:.1f} s after the target went down (the "
            f"maths {bound:.1f} s, plus at most a 1 s interval, one {EVALUATE_EVERY:g} s "
            f"evaluation period and 2 s of delivery): {met(ok)}"
        ],
    )


def _best(fn: object, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - began)
    return min(times)


def section_cost(quick: bool) -> Section:
    rows = []
    verdicts = []
    at = EPOCH
    shapes = [(1000, 10), (1000, 100), (1000, 1000), (20000, 10), (20000, 100), (20000, 1000)]
    if quick:
        shapes = [(1000, 10), (1000, 100)]
    per_objective_1000 = 0.0
    for monitors, objectives in shapes:
        book = _config(monitors, objectives)
        for ledger in book.ledgers.values():
            _month(ledger, 12)
        records = [
            ProbeRecord(f"m{i % monitors}", at + i * 0.001, i % 50 != 0, None, 10.0)
            for i in range(20000)
        ]
        began = time.perf_counter()
        for r in records:
            book.observe(r)
        observe_us = (time.perf_counter() - began) / len(records) * 1e6
        evaluate_s = _best(lambda b=book: b.evaluate(at + 30), 3)
        spenders_s = _best(lambda b=book: [b.spenders(n, at + 30) for n in b.ledgers], 3)
        per = evaluate_s / objectives * 1e6
        if objectives == 1000:
            per_objective_1000 = max(per_objective_1000, per)
        rows.append(
            (
                f"{monitors:,}",
                f"{objectives:,}",
                f"{per:.0f}",
                f"{evaluate_s * 1000:.1f}",
                f"{evaluate_s / EVALUATE_EVERY * 100:.2f}%",
                f"{observe_us:.1f}",
                f"{spenders_s / objectives * 1e6:.0f}",
            )
        )
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    ledger = BudgetLedger(from_config(_config(1, 1).objectives["o0"]))
    _month(ledger, 12)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    size = sum(s.size_diff for s in after.compare_to(before, "filename"))
    load = per_objective_1000 * 1000 / 1e6 / EVALUATE_EVERY
    verdicts.append(
        f"1,000 objectives evaluated every {EVALUATE_EVERY:g} s: "
        f"{load * 100:.1f}% of one core (target <= 5%): {met(load <= 0.05)}"
    )
    verdicts.append(
        f"a 30-day ledger with the default rules: {ledger.buckets} buckets, "
        f"{size / 1024:.0f} KiB (1,000 objectives: {size * 1000 / 2**20:.0f} MiB)"
    )
    return Section(
        "Cost: evaluating objectives, counting checks",
        tables=[
            table(
                "Per evaluation (30 days of history in every bucket) and per check",
                (
                    "monitors",
                    "objectives",
                    "µs/objective",
                    "ms/evaluation",
                    "of a core every 10 s",
                    "µs/check observed",
                    "µs/objective spenders",
                ),
                rows,
            )
        ],
        verdicts=verdicts,
        notes=[
            "Each objective over its share of the monitors (one objective a monitor); "
            "evaluation times are the best of three.  Spenders are what `/api/objectives` "
            "adds an objective, not the evaluation.  An evaluation's cost is per objective, "
            "whatever the number of monitors (its counts are buckets, not checks)."
        ],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer shapes, a shorter real run")
    parser.add_argument("--write", metavar="FILE", help="write the results into FILE")
    args = parser.parse_args()
    began = time.monotonic()
    sections = []
    for make in (
        section_simulated,
        lambda: section_real(45.0 if args.quick else 150.0),
        lambda: section_cost(args.quick),
    ):
        started = time.monotonic()
        section = make()
        section.seconds = time.monotonic() - started
        section.show()
        sections.append(section)
    if args.write:
        write_part(
            args.write,
            "# Benchmark results: objectives",
            "python benchmarks/bench_objectives.py --write benchmarks/results.md",
            sections,
            time.monotonic() - began,
            f"Python {sys.version.split()[0]}, tether (commit {commit()})",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
