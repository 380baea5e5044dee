"""The benchmarks still run: their quick modes, end to end, on loopback."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.bench_runs import BENCHMARKS, check_sections, run_writing_its_part

pytestmark = pytest.mark.bench

SCRIPT = BENCHMARKS / "bench_retry.py"
HEADINGS = (
    "1. Overhead",
    "2. Amplification",
    "3. Availability",
    "4. Recovery",
    "5. Deadline",
    "6. @tether.retry",
)
MONITOR_HEADINGS = ("1. Scale", "2. Detection", "3. Storage")
PROBE_HEADINGS = ("1. /probe throughput",)
REPORT_HEADINGS = ("1. The hook alone", "2. Real calls")
BLACKBOX = Path("/usr/bin/prometheus-blackbox-exporter")
NGINX = Path("/usr/sbin/nginx")


def test_bench_retry_quick_prints_every_section() -> None:
    """`bench_retry.py --quick` exits 0 and prints each section with a table and its verdicts."""
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        capture_output=True,
        text=True,
        # A bound on a hang, not a speed target: its first section alone took 27 s of a
        # full run on the loaded machine, where 50 s cut it short.
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    check_sections(done.stdout, HEADINGS)


def test_bench_monitor_quick_prints_every_section_and_writes_its_part(tmp_path: Path) -> None:
    """`bench_monitor.py --quick --write F` exits 0, prints scale, detection and storage with
    a table and a judged target each, and replaces its part of F, keeping the others."""
    run_writing_its_part(
        tmp_path,
        "bench_monitor.py",
        ["--quick"],
        "the monitor",
        MONITOR_HEADINGS,
        timeout=55,
        kept="retries",
    )


@pytest.mark.skipif(
    not BLACKBOX.exists() and not os.environ.get("TETHER_REQUIRE_BLACKBOX"),
    reason="needs Debian's prometheus-blackbox-exporter (.ci/run installs it and requires "
    "this test)",
)
@pytest.mark.parametrize(("driver", "targets"), [("aiohttp", "python"), ("wrk", "nginx")])
def test_bench_probe_quick_measures_both_probers_and_writes_its_part(
    tmp_path: Path, driver: str, targets: str
) -> None:
    """`bench_probe.py --quick --no-install --driver D --targets T --write F` exits 0,
    prints tether's and blackbox_exporter's /probe rates in a table with the judged ratio,
    every probe counted good (a load generator that misread the answers, or targets that
    answered wrong, would count them failed), and replaces its part of F, keeping the
    others.  The C apparatus (wrk driving, nginx probed) runs together, so that both are
    covered in one run's time."""
    needed = {"wrk": shutil.which("wrk"), "nginx": NGINX if NGINX.exists() else None}
    for tool in (driver, targets):
        if tool in needed and needed[tool] is None:
            if os.environ.get("TETHER_REQUIRE_BLACKBOX"):
                pytest.fail(f"{tool} is missing (.ci/run installs it beside blackbox_exporter)")
            pytest.skip(f"needs {tool} (Debian: apt-get install wrk nginx-light)")
    stdout, written = run_writing_its_part(
        tmp_path,
        "bench_probe.py",
        ["--quick", "--no-install", "--driver", driver, "--targets", targets],
        "/probe",
        PROBE_HEADINGS,
        timeout=60,
    )
    assert re.search(r"^\| tether .*\|$", stdout, flags=re.M), stdout
    assert re.search(r"^\| blackbox_exporter .*\|$", stdout, flags=re.M), stdout
    verdict = r"^(- )?/probe: tether .* probes/s, .* x blackbox_exporter's .* \(target >= 2\.0\)"
    assert re.search(verdict, stdout, flags=re.M), stdout
    assert re.search(verdict.replace("(- )?", "- "), written, flags=re.M), written
    rows = re.findall(r"^\| (tether|blackbox_exporter)[^|]*\|(.*)\|$", stdout, flags=re.M)
    assert len(rows) == 2, stdout
    for _, cells in rows:
        rate, failed = cells.split("|")[0].strip(), cells.split("|")[-1].strip()
        assert int(rate.replace(",", "")) > 0, stdout
        assert failed == "0", stdout
    if driver == "wrk":
        assert "Load: wrk (`--driver wrk`" in stdout, stdout
        assert "Targets: nginx (`--targets nginx`" in stdout, stdout


SCRAPE_HEADINGS = ("1. /metrics at 1,000 to 240,000 monitors",)


@pytest.mark.skipif(
    not BLACKBOX.exists() and not os.environ.get("TETHER_REQUIRE_BLACKBOX"),
    reason="needs Debian's prometheus-blackbox-exporter (.ci/run installs it and requires "
    "this test)",
)
def test_bench_scrape_quick_measures_each_scrape_beside_blackbox_and_writes_its_part(
    tmp_path: Path,
) -> None:
    """`bench_scrape.py --quick --no-install --stalls 50 --write F` exits 0, prints the CPU
    of the default scrape, a shard and every monitor in one scrape in process, the real
    process's scrapes over HTTP (`tether monitor --config FILE`) steady and in a wave
    beside blackbox_exporter's /probe, the judged p99s and the monitor's stall log in each
    phase, and replaces its part of F, keeping the others."""
    stdout, written = run_writing_its_part(
        tmp_path,
        "bench_scrape.py",
        ["--quick", "--no-install", "--stalls", "50"],
        "what a scrape of /metrics costs as the fleet grows",
        SCRAPE_HEADINGS,
        timeout=180,
    )
    for scrape in ("the default scrape \\(the summary\\)", "one shard of 120", "every monitor"):
        assert re.search(rf"^\| 12,000 +\| wave +\| {scrape}", stdout, flags=re.M), stdout
    for phase in ("steady", "wave"):
        row = rf"^\| 300 at 2 s +\| {phase} +\| blackbox_exporter /probe, one target +\| [1-9]"
        assert re.search(row, stdout, flags=re.M), stdout
        verdict = rf"^- 300 monitors, {phase}: the worst p99 .* \(target < 1000 ms\): "
        assert re.search(verdict + "(met|MISSED)$", written, flags=re.M), written
        held = rf"^\| 300 at 2 s +\| {phase} +\| \d+ +\| "
        assert re.search(held, stdout, flags=re.M), stdout  # the stall log's row


SCALE_HEADINGS = ("1. Worker processes",)


def test_bench_scale_quick_prints_its_section_and_writes_its_part(tmp_path: Path) -> None:
    """`bench_scale.py --quick --write F` exits 0, prints its section with a table and the
    judged targets (monitors with two workers, the CPU per 1,000 checks), and replaces its
    part of F, keeping the others."""
    stdout, _ = run_writing_its_part(
        tmp_path, "bench_scale.py", ["--quick"], "worker processes", SCALE_HEADINGS, timeout=90
    )
    assert re.search(r"^workers: [\d,]+ monitors at .+ with workers: 2", stdout, flags=re.M)
    assert re.search(r"^workers: the monitor's own CPU.+ s per 1,000 checks", stdout, re.M)


DASHBOARD_HEADINGS = ("1. Overview",)


def test_bench_dashboard_quick_measures_the_overview_and_writes_its_part(tmp_path: Path) -> None:
    """`bench_dashboard.py --quick --write F` exits 0, prints the overview's server and
    Chromium times in a table with the judged render target, and replaces its part of F,
    keeping the others."""
    stdout, _ = run_writing_its_part(
        tmp_path,
        "bench_dashboard.py",
        ["--quick"],
        "the dashboard's overview",
        DASHBOARD_HEADINGS,
        timeout=90,
    )
    assert re.search(r"^\| tether +\| 300 ", stdout, flags=re.M), stdout
    verdict = r"^overview at 300 monitors: (loaded in [\d,]+ ms|not measured) in Chromium"
    assert re.search(verdict, stdout, flags=re.M), stdout


def test_bench_report_quick_measures_the_hook_and_real_calls_and_writes_its_part(
    tmp_path: Path,
) -> None:
    """`bench_report.py --quick --write F` exits 0, prints the hook's cost and real calls
    with and without reporting, each judged against 2 µs per call, and writes its part."""
    run_writing_its_part(
        tmp_path,
        "bench_report.py",
        ["--quick"],
        "reporting calls to a monitor",
        REPORT_HEADINGS,
        timeout=55,
        kept="retries",
    )


SLOW_HEADINGS = ("1. Serving beside slow clients",)


def test_bench_slow_clients_quick_measures_each_endpoint_and_writes_its_part(
    tmp_path: Path,
) -> None:
    """`bench_slow_clients.py --quick --write F` exits 0, prints p50/p99 of /status,
    /metrics and /probe alone and with slow connections held, each judged, and replaces
    its part of F, keeping the others."""
    stdout, written = run_writing_its_part(
        tmp_path, "bench_slow_clients.py", ["--quick"], "slow clients", SLOW_HEADINGS, timeout=120
    )
    for endpoint in ("/status/public", "/metrics", "/probe"):
        assert re.search(rf"^\| workers: 1 +\| {endpoint} .*\|$", stdout, flags=re.M), stdout
    verdict = r"^- workers: 1, /metrics: p50 .* ms with 100 slow connections, .* \(target <= 2\)"
    assert re.search(verdict, written, flags=re.M), written


MASS_HEADINGS = ("2. Every monitor changing state at once, after issue 23's fixes",)


def test_bench_mass_quick_runs_each_phase_in_both_shapes_and_writes_its_part(
    tmp_path: Path,
) -> None:
    """`bench_mass.py --quick --write F` exits 0, runs the real monitor through a cold
    start, a mass outage and a mass recovery in one process and with workers: 2, prints a
    row per phase (every monitor changed, alerts received) and the judged targets, and
    replaces its part of F, keeping the others."""
    stdout, written = run_writing_its_part(
        tmp_path,
        "bench_mass.py",
        ["--quick"],
        "mass transitions in the real monitor process",
        MASS_HEADINGS,
        timeout=120,
    )
    for shape in ("one process", "workers: 2"):
        for phase in ("cold start", "mass outage", "mass recovery"):
            row = rf"^\| {shape}, 40 at 2 s +\| {phase} +\| [\d.]+ "
            assert re.search(row, stdout, flags=re.M), (shape, phase, stdout)
        outage = re.search(
            rf"^\| {shape}, 40 at 2 s +\| mass outage .*\| (\d+) \((\d+)\) +\|", stdout, re.M
        )
        assert outage is not None, stdout
        assert int(outage.group(2)) > 0, stdout  # the outage queued alerts
        verdict = rf"^- {shape}, 40 at 2 s: SIGTERM to exit [\d.]+ s \(target <= 30 s\): "
        verdict += "(met|MISSED)$"
        assert re.search(verdict, written, flags=re.M), written


@pytest.mark.timeout(330)  # it makes a virtual environment and builds tether into it
def test_bench_import_measures_import_tether_and_writes_its_part(tmp_path: Path) -> None:
    """`bench_import.py --rounds 2 --write F` exits 0, prints its section with a table and
    the judged ratio to `import requests` in a new virtual environment it makes (offline:
    tether built and installed from this checkout), finds no HTTP library loaded, and
    replaces its part of F, keeping the others."""
    out, _ = run_writing_its_part(
        tmp_path,
        "bench_import.py",
        ["--rounds", "2", "--offline"],  # no package index: tether alone is installed
        "import time",
        ("1. import tether beside import requests",),
        timeout=300,
        kept="retries",
    )
    assert "HTTP libraries loaded by import tether: none (target == none): met" in out


def test_bench_store_writes_measures_the_four_variants_on_real_stores() -> None:
    """`bench_store_writes.py` on a small fleet exits 0 and prints the CPU a result of each
    variant, results alone first, and the ratio of every roll-up to results alone."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_store_writes.py"), "--monitors", "2000"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = re.findall(r"^  (.+?) +([\d.]+) µs of CPU a result$", done.stdout, re.M)
    assert [label for label, _ in found] == [
        "results alone",
        "the minute's roll-up",
        "every roll-up, batch by batch",
        "every roll-up, folded",
    ]
    assert all(float(us) > 0 for _, us in found)
    assert re.search(r"folded / batch by batch: [\d.]+ x", done.stdout)
