"""What a browser check costs: checks per second, CPU and memory per check, beside bare
Playwright loading the same page and a plain HTTP check of it.

Run: python benchmarks/bench_browser.py [--quick] [--rounds 3] [--seconds 8]
     [--concurrency 2] [--write benchmarks/history/bench_browser.md]

Everything runs on loopback.  The page (a title, a paragraph and a script that writes a
line of text, 1 KB) is served by a child process (aiohttp), whose CPU is not counted.
The peers, measured side by side in one run, on one event loop and one Chromium
(Debian's ``/usr/bin/chromium``, launched with tether's flags: ``probe/_browser.py``):

- ``tether browser``: ``probe_async(url, ProbeOptions(browser=BrowserPage()))``, the
  check a ``browser:`` monitor makes without steps (a fresh context, the navigation to
  the load event, the milestones read from the page, the first contentful paint awaited).
- ``bare playwright``: ``new_context()``, ``new_page()``, ``goto(url, wait_until="load")``,
  ``close()``, on the same browser: the least a browser check can do.  tether's overhead
  is the difference.
- ``tether http``: ``probe_async(url)``, the walk an ``http://`` monitor makes, for scale.

Each peer runs ``--concurrency`` checks at once (the default ``browser_concurrency``,
2) for ``--seconds`` per block, after one untimed warm-up block each; the rounds
interleave the peers (A B C, C B A, ...).  A rate is the median over rounds.  CPU per
check: this process's CPU plus every Chromium process's (``utime + stime`` from
``/proc``, the browser and its renderers, the Playwright driver) over the block, over the
checks done.  Memory: the summed PSS (``/proc/PID/smaps_rollup``) of the Playwright driver
and every Chromium process at the end of the block, and this process's.  Where
``os.sched_setaffinity`` exists the benchmark and everything it starts but the page's
server are pinned to cores 0 and 1 (``taskset -c 0,1``'s effect).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = (
    "<!doctype html><html><head><title>bench</title></head><body><h1>Bench</h1>"
    "<p>" + "x" * 800 + "</p><div id=out></div><script>"
    "document.getElementById('out').textContent = 'rendered';</script></body></html>"
)
SERVER = f"""
import sys
from aiohttp import web
async def page(request):
    return web.Response(text={PAGE!r}, content_type="text/html")
app = web.Application()
app.router.add_get("/", page)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""
TICK = os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out


def _cpu_and_rss(pids: list[int]) -> tuple[float, int]:
    """Seconds of CPU and bytes of memory (PSS: a shared page split between the processes
    that share it, so a sum over processes counts it once) of ``pids`` (those still there)."""
    cpu, pss = 0.0, 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        cpu += (int(fields[11]) + int(fields[12])) / TICK
        pss += sum(int(line.split()[1]) * 1024 for line in rollup if line.startswith("Pss:"))
    return cpu, pss


async def _block(check: Callable[[], Awaitable[bool]], seconds: float, concurrency: int) -> int:
    done = 0
    end = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal done
        while time.perf_counter() < end:
            if await check():
                done += 1

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return done


async def run(args: argparse.Namespace, url: str, server: int) -> dict[str, list[dict[str, float]]]:
    from tether.probe import BrowserPage, ProbeOptions, probe_async
    from tether.probe._browser import _pool, close_browsers

    browser_options = ProbeOptions(browser=BrowserPage(concurrency=args.concurrency))
    pool = _pool()
    browser = await pool.browser_for(None)

    async def tether_browser() -> bool:
        return (await probe_async(url, browser_options)).ok

    async def bare() -> bool:
        context = await browser.new_context()
        try:
            page = await context.new_page()
            response = await page.goto(url, wait_until="load", timeout=10_000)
            return response is not None and response.status == 200
        finally:
            await context.close()

    async def tether_http() -> bool:
        return (await probe_async(url)).ok

    peers = {"tether browser": tether_browser, "bare playwright": bare, "tether http": tether_http}
    figures: dict[str, list[dict[str, float]]] = {name: [] for name in peers}
    for check in peers.values():  # warm-up, untimed
        await _block(check, min(1.0, args.seconds), args.concurrency)
    order = list(peers)
    for r in range(args.rounds):
        for name in order if r % 2 == 0 else order[::-1]:
            tree = [p for p in _descendants(os.getpid()) if p != server]
            cpu0, _ = _cpu_and_rss(tree)
            own0 = time.process_time()
            started = time.perf_counter()
            done = await _block(peers[name], args.seconds, args.concurrency)
            elapsed = time.perf_counter() - started
            tree = [p for p in _descendants(os.getpid()) if p != server]
            cpu1, rss = _cpu_and_rss(tree)
            own = time.process_time() - own0
            _, own_rss = _cpu_and_rss([os.getpid()])
            figures[name].append(
                {
                    "rate": done / elapsed,
                    "cpu_ms": 1000 * (cpu1 - cpu0 + own) / max(done, 1),
                    "browser_mb": rss / 2**20,
                    "own_mb": own_rss / 2**20,
                }
            )
    await close_browsers()
    return figures


def table(figures: dict[str, list[dict[str, float]]]) -> list[str]:
    lines = [
        "| peer | checks/s (median, range) | CPU ms per check | Chromium + driver PSS | "
        "benchmark process PSS |",
        "|---|---|---|---|---|",
    ]
    for name, rows in figures.items():
        rates = [r["rate"] for r in rows]
        lines.append(
            f"| {name} | {statistics.median(rates):,.1f} ({min(rates):,.1f}-{max(rates):,.1f}) "
            f"| {statistics.median(r['cpu_ms'] for r in rows):,.1f} "
            f"| {max(r['browser_mb'] for r in rows):,.0f} MB "
            f"| {max(r['own_mb'] for r in rows):,.0f} MB |"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for a smoke test")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--write", type=Path, help="append the figures to this Markdown file")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds = 1, 2.0
    sys.path.insert(0, str(ROOT / "src"))
    with socket.socket() as s:  # a free port for the page's server
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    pinned = hasattr(os, "sched_setaffinity")
    if pinned:  # after the server started: it is not pinned, and its CPU is not counted
        os.sched_setaffinity(0, {0, 1} & os.sched_getaffinity(0))
    try:
        deadline = time.monotonic() + 15
        while True:  # a bounded wait for the page's server
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("the page's server did not start within 15 s")
            time.sleep(0.05)
        started = time.perf_counter()
        figures = asyncio.run(run(args, f"http://127.0.0.1:{port}/", server.pid))
    finally:
        server.terminate()
        server.wait(10)
    took = time.perf_counter() - started
    browser = statistics.median(r["rate"] for r in figures["tether browser"])
    bare = statistics.median(r["rate"] for r in figures["bare playwright"])
    cpu_t = statistics.median(r["cpu_ms"] for r in figures["tether browser"])
    cpu_b = statistics.median(r["cpu_ms"] for r in figures["bare playwright"])
    out = [
        "",
        "# Benchmark results: browser checks (headless Chromium)",
        "",
        f"Produced by `python benchmarks/bench_browser.py{' --quick' if args.quick else ''}` on "
        f"{dt.date.today()}, on this project's {os.cpu_count()}-core machine (load average "
        f"{os.getloadavg()[0]:.1f} as it ended), in {took:.0f} s; "
        f"{args.rounds} rounds of {args.seconds:g} s, {args.concurrency} checks at once; "
        f"{'pinned to cores 0-1' if pinned else 'not pinned'}.  Method: the script's docstring.",
        "",
        *table(figures),
        "",
        f"- tether's browser check: {browser / bare:.2f} x bare Playwright's rate, "
        f"{cpu_t / cpu_b:.2f} x its CPU per check (target: rate >= 0.8 x bare Playwright): "
        + ("met" if browser >= 0.8 * bare else "missed"),
    ]
    print("\n".join(out))
    if args.write:
        with args.write.open("a") as f:
            f.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
