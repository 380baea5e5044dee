"""What label matchers cost at their bounds, on RE2, beside Python's ``re`` on the same
expressions (issue 45 §1).

Run: PYTHONPATH=src python benchmarks/bench_matchers.py [--quick] [--write benchmarks/results.md]

1. One decision.  The issue's expression (``\\w{0,16}`` eleven times, then ``x``) against
   a monitor's name of 16 to 40 characters, on RE2 (tether's engine) and on ``re`` (the
   engine before, the peer; stopped once one decision passes 2 s: it doubles every few
   characters); then the costliest expressions the API takes (programs near 2,000
   instructions, a repetition of a repetition) against the longest value a label may
   hold (1,024 characters, one byte and four bytes a character): the worst time of one
   decision, against the documented "a few milliseconds".
2. One alert against the most silences that may be in force (SILENCES_MAX, each with a
   regular expression and an equality, the alert's labels as the outbox matches them):
   the time of the gate's decision, and of its reading the silences again each second
   from SQLite once their matchers were compiled (the parse is kept), beside the first
   read that compiles them.
3. ``?match=`` over 10,000 monitors, the costliest expression the filter takes, read as
   the overview reads it (its RE2 given 1 MiB, ``SCAN_MEMORY_MAX``): the filter's time for
   one request.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _report import Section, met, table, write_part

from tether.monitor._records import AuditEntry
from tether.monitor.config.labels._labels import VALUE_MAX, matches
from tether.monitor.config.labels._regex import ENGINE, PROGRAM_MAX, compile_label_regex
from tether.monitor.engine._silences import SILENCES_MAX, silencing
from tether.monitor.store import SQLiteStore
from tether.monitor.store._silences import _parsed
from tether.monitor.web.documents._overview import _matchers as filter_matchers

ISSUE = "\\w{0,16}" * 11 + "x"
WORST = [
    "(?:.{0,16}){0,15}x",
    "(?:\\w{0,16}){0,30}x",
    "(?:[^x]{0,16}){0,13}x",
    "(?:[a-z]{0,16}){0,30}x",
]
"""Expressions near PROGRAM_MAX whose every position keeps many of RE2's threads alive."""
VALUES = {"1,024 x 'a'": "a" * VALUE_MAX, "1,024 x U+1F600": "\U0001f600" * VALUE_MAX}
RE_GIVES_UP_S = 2.0


def _best(f: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        f()
        times.append(time.perf_counter() - started)
    return min(times)


def one_decision(quick: bool) -> Section:
    s = Section("1. One decision")
    rows = []
    compiled = compile_label_regex(ISSUE)
    old = re.compile(f"(?:{ISSUE})\\Z", re.DOTALL)
    gave_up = False
    for n in (16, 18, 20, 24, 40):
        name = "a" * n
        now = _best(lambda name=name: compiled.fullmatch(name), 20)
        if gave_up:
            before = f"> {RE_GIVES_UP_S:g} s (not run)"
        else:
            took = _best(lambda name=name: old.match(name), 1)
            gave_up = took > RE_GIVES_UP_S or quick
            before = f"{took * 1000:,.1f} ms"
        rows.append((f"the issue's, {n} characters", f"{now * 1e6:.1f} µs", before))
    worst = 0.0
    for pattern in WORST:
        regex = compile_label_regex(pattern)
        for label, value in VALUES.items():
            took = _best(lambda regex=regex, value=value: regex.fullmatch(value), 3)
            worst = max(worst, took)
            rows.append(
                (f"`{pattern}` ({regex.cost} instructions), {label}", f"{took * 1000:.2f} ms", "-")
            )
    s.tables.append(table("Time of one decision", ("expression, value", "RE2", "re"), rows))
    s.verdicts.append(
        f"the worst decision the API allows: {worst * 1000:.1f} ms "
        f"(target <= 20 ms): {met(worst <= 0.020)}"
    )
    return s


def one_alert(quick: bool) -> Section:
    s = Section("2. One alert against every silence in force")
    count = 100 if quick else SILENCES_MAX
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "silences.db")
        who = AuditEntry(0.0, "bench", "token", "silence.add", "silence", {})
        for i in range(count):
            matchers = [f'service=~"svc-{i}-(?:api|db|web)-[0-9]+"', f'team="t{i}"']
            store.add_silence(matchers, 0.0, 1e10, "bench", who)
        store.close()
        fresh = SQLiteStore(Path(tmp) / "silences.db")
        _parsed.cache_clear()  # as a process that starts with them in its store
        first = _best(lambda: fresh.silences_in_force(1.0), 1)
        again = _best(lambda: fresh.silences_in_force(1.0), 3)
        silences = fresh.silences_in_force(1.0)
        fresh.close()
    labels = {"service": "svc-1-api-7", "team": "none", "monitor": "api", "event": "monitor.down"}
    decision = _best(lambda: silencing(silences, labels, 2.0), 5)
    rows = [
        (f"{count} silences, first read (parsed, compiled)", f"{first * 1000:,.0f} ms"),
        (f"{count} silences, read again each second", f"{again * 1000:,.0f} ms"),
        ("one alert decided against them all", f"{decision * 1000:,.1f} ms"),
    ]
    s.notes.append(
        "Before the bound (main at 95ce982, Python's re, by hand): 100,000 silences in force "
        "were read again in 18.8 s each second an alert was due, and one alert took 0.44 s "
        "against them; the API took every one."
    )
    s.tables.append(table("SQLite, this machine", ("what", "time"), rows))
    s.verdicts.append(
        f"one alert against {count} silences: {decision * 1000:.1f} ms (target <= 100 ms): "
        f"{met(decision <= 0.1)}"
    )
    return s


def one_filter(quick: bool) -> Section:
    s = Section("3. `?match=` over 10,000 monitors")
    n = 1000 if quick else 10_000
    labels = [
        {"monitor": f"svc-{i:05d}-api", "team": "payments", "note": "a" * 64} for i in range(n)
    ]
    rows = []
    worst = 0.0
    for text in ['monitor=~"svc-.*-api"', 'note=~"' + WORST[0] + '"', 'monitor=~"' + ISSUE + '"']:
        wanted = filter_matchers(text.replace("\\", "\\\\"))
        took = _best(lambda wanted=wanted: [m for m in labels if matches(wanted, m)], 3)
        worst = max(worst, took)
        rows.append((f"`{text}`", f"{took * 1000:,.0f} ms"))
    s.tables.append(table(f"The filter alone, {n:,} monitors", ("match", "time"), rows))
    s.verdicts.append(
        f"the worst filter over {n:,} monitors: {worst * 1000:.0f} ms (target <= 1,000 ms): "
        f"{met(worst <= 1.0)}"
    )
    return s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--write", metavar="FILE")
    args = parser.parse_args()
    assert ENGINE == "re2", "install google-re2 (pip install 'tether[monitor]')"
    assert all(compile_label_regex(p).cost <= PROGRAM_MAX for p in WORST)
    started = time.perf_counter()
    sections = []
    for make in (one_decision, one_alert, one_filter):
        t = time.perf_counter()
        section = make(args.quick)
        section.seconds = time.perf_counter() - t
        section.show()
        sections.append(section)
    if args.write:
        command = "python benchmarks/bench_matchers.py" + (" --quick" if args.quick else "")
        write_part(
            args.write,
            "# Benchmark results: label matchers (bench_matchers.py)",
            command,
            sections,
            time.perf_counter() - started,
            f"{os.cpu_count()} cores, RE2 (google-re2)",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
