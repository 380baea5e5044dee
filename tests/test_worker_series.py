"""With `workers: N`, each worker process keeps the per-check series (``/metrics``) of the
checks it makes and writes them out itself when the coordinator asks at a scrape: the
coordinator takes every check but writes none of their series (at 120,000 monitors that
cost it 0.3 to 1.3 s of its interpreter lock a scrape, in the middle of a mass outage).

Real worker processes probing the lab on loopback, on real time: each wait polls with a
bound (the processes and their sockets are what is under test).  The scrape as a whole
is held to prometheus_client's text in tests/test_metrics_text.py, the worker's parts
included.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families

from tether.lab import Lab
from tether.monitor.checks._prober import Check
from tether.monitor.cluster._view import ClusterView
from tether.monitor.config import parse_config
from tether.monitor.runtime._workers import WorkerFleet, worker_of
from tether.monitor.web._metrics import CheckParts, MonitorMetrics
from tether.probe import AllowedTargets

NAMES = ("healthy", "refused", "http_503", "reset_on_accept")
BOUND = 30.0
"""Seconds any wait below may take before the test fails."""


async def _until(done: Callable[[], bool]) -> None:
    async with asyncio.timeout(BOUND):
        while not done():
            await asyncio.sleep(0.02)


def _samples(parts: list[CheckParts | None]) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample of the per-check families in a scrape of ``parts`` alone."""
    metrics = MonitorMetrics()
    text = metrics.render(ClusterView("c", "local", True, ("local",)), {}, None, parts)
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


def test_each_worker_writes_the_series_of_its_own_checks(lab: Lab) -> None:
    """Two workers: every monitor's series come from the worker that probes it, once;
    each failure counter holds every failed check the coordinator was handed before the
    scrape and no more than it was handed in all; a worker that does not answer is left
    out of that scrape (None), not waited for past the bound asked."""
    lines = "\n".join(
        f"  - {{name: {n}, url: '{lab[n].url}', interval: 1s, timeout: 500ms}}" for n in NAMES
    )
    config = parse_config("monitors:\n" + lines + "\n")

    async def main() -> tuple[list[CheckParts | None], Counter[str], Counter[str], list[bool]]:
        fleet = WorkerFleet(2, allowed=lambda: AllowedTargets((), ()))
        fleet.assign(config.monitors)
        taken: Counter[str] = Counter()
        failed: Counter[str] = Counter()

        def sink(check: Check) -> None:
            taken[check.record.monitor] += 1
            if not check.record.ok:
                failed[check.record.monitor] += 1

        stop = asyncio.Event()
        running = asyncio.ensure_future(fleet.run(stop, sink))
        try:
            await _until(lambda: all(taken[n] >= 2 for n in NAMES))
            before = Counter(failed)
            parts = await fleet.check_parts("local")
            # A worker stopped (SIGSTOP) answers nothing: the other's series are served.
            stopped = fleet._workers[1]
            assert stopped is not None
            os.kill(stopped.process.pid, signal.SIGSTOP)
            try:
                missing = await fleet.check_parts("local", wait=0.3)
            finally:
                os.kill(stopped.process.pid, signal.SIGCONT)
            # Answered again once it runs; the answer it wrote too late is not kept.
            again = await fleet.check_parts("local")
            directory = fleet._series_dir
            assert directory is not None
            assert os.stat(directory).st_mode & 0o777 == 0o700
            await _until(lambda: os.listdir(directory) == [])
        finally:
            stop.set()
            await running
        assert not os.path.exists(directory)  # removed with the workers
        return parts, before, failed, [p is None for p in (*missing, *again)]

    parts, before, after, absent = asyncio.run(main())
    assert absent == [False, True, False, False]
    samples = _samples(parts)
    success = Counter(labels["monitor"] for labels, _ in samples["tether_probe_success"])
    assert success == Counter(NAMES)  # each once, from one worker
    for index, part in enumerate(parts):
        assert part is not None
        mine = {n for n in NAMES if worker_of(n, 2) == index}
        written = {n for n in NAMES if f'monitor="{n}"'.encode() in part.lines[0]}
        assert written == mine
    totals = Counter[str]()
    for labels, value in samples["tether_probe_failures_total"]:
        assert labels["location"] == "local"
        totals[labels["monitor"]] += int(value)
    assert set(totals) == set(NAMES) - {"healthy"}
    for name in totals:
        assert before[name] <= totals[name] <= after[name], name


def test_a_scrape_counts_a_worker_that_did_not_answer() -> None:
    """A worker left out (None) is one render error, logged, and the rest is served."""
    metrics = MonitorMetrics()
    cluster = ClusterView("c", "local", True, ("local",))
    empty = CheckParts((b"",) * 5, b"", (0,) * 5)
    ok = metrics.render(cluster, {}, None, [empty])
    assert b"tether_metrics_render_errors_total 0.0\n" in ok
    one = metrics.render(cluster, {}, None, [empty, None])
    assert b"tether_metrics_render_errors_total 1.0\n" in one
    assert b"# TYPE tether_probe_success gauge\n" in one
