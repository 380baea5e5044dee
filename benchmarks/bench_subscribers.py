"""How a status page's webhook deliveries hold up against receivers a stranger chose
(issue 72 §2): a tarpit, an endless answer, and many receivers of which some hang.

Run: python benchmarks/bench_subscribers.py [--quick] [--before LABEL=SRC ...]
     [--write benchmarks/history/bench_subscribers.md]

Everything runs on loopback.  This process serves the receivers: one asyncio server on
127.0.0.1, each receiver a path of its own (``/hook/N``), answering as its part says.  The
deliverer measured (``tether.monitor.alerts._subscribers.Deliverer``, the real one, on a
real SQLite store in a temporary directory, every webhook subscribed with its
confirmation queued, ``webhook_networks: [127.0.0.0/8]``) runs in a child process of its
own (``--child``), with this checkout's ``src`` first on its path, and then each
``--before LABEL=SRC``'s (an older tree: ``git archive COMMIT src | tar -x -C DIR``,
``SRC`` then ``DIR/src``), and calls
``deliver_due()`` once a second, as the monitor's loop does, until every delivery is
done or given up for now.  Times are ``time.monotonic()`` in both processes (one clock).

1. **A tarpit**: the first receiver answers one header byte every 2 s for 60 s; ten
   others answer 204 at once.  Figure: how late the last of the ten got the news, from
   the first ``deliver_due()``.  Target: at most 1 s (no receiver's news waits on
   another's).
2. **A 400 MiB answer**: one receiver answers 200 with a 400 MiB body.  Figure: the
   deliverer's peak RSS (``ru_maxrss``) less its RSS before the first delivery.  Target:
   at most 16 MiB more.
3. **1,000 receivers, 100 of which hang** (every tenth reads the request and never
   answers): the time until the 900 others all got the news, beside the peer: the same
   1,000 with none hanging (what the deliveries and the store's writes cost).  Target:
   the hanging ones add at most 20 s (the whole-delivery deadline, 15 s, and some: with
   more receivers hanging than workers, one deadline is the least they can add).

``--quick`` makes each part small (a 6 s tarpit, 40 MiB, 100 receivers of which 10
hang): a smoke test, too small to mean anything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Section, commit, met, table, write_part

HEADING = "# Benchmark results: status page webhook deliveries"
SRC = str(Path(__file__).resolve().parent.parent / "src")
"""The tether measured: this checkout's, whatever is installed."""
MiB = 1024 * 1024
LATE_TARGET = 1.0
RSS_TARGET = 16.0
HANG_TARGET = 20.0
"""Seconds the 100 hanging receivers may add to the 900 others' news."""


# -- the receivers (this process) ---------------------------------------------------------


@dataclass
class Receivers:
    """What each path does: ``tarpit`` (seconds of dripping), ``big`` (bytes answered),
    ``hang`` (paths that never answer); any other answers 204.  ``got`` is when each path's
    request had arrived whole (``time.monotonic()``)."""

    tarpit: dict[str, float] = field(default_factory=dict)
    big: dict[str, int] = field(default_factory=dict)
    hang: set[str] = field(default_factory=set)
    got: dict[str, float] = field(default_factory=dict)


async def _answer(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, plan: Receivers
) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        length = next(
            (int(h.split(":", 1)[1]) for h in lines if h.lower().startswith("content-length:")),
            0,
        )
        await reader.readexactly(length)
        plan.got.setdefault(path, time.monotonic())
        if path in plan.hang:
            await reader.read()  # until the deliverer gives up and closes
        elif path in plan.tarpit:
            ends = time.monotonic() + plan.tarpit[path]
            for byte in b"HTTP/1.1 204 No Content\r\n":
                if time.monotonic() >= ends:
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(2.0)
            writer.write(b"\r\n")
        elif path in plan.big:
            size = plan.big[path]
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
            chunk = b"x" * MiB
            sent = 0
            while sent < size:
                writer.write(chunk[: size - sent])
                sent += min(len(chunk), size - sent)
                await writer.drain()
        else:
            writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass  # the deliverer cut it off: what a bounded delivery does
    finally:
        with contextlib.suppress(RuntimeError):  # the loop already closing
            writer.close()


class Served:
    """The receivers on 127.0.0.1, served from a thread of their own."""

    def __init__(self, plan: Receivers) -> None:
        self.plan = plan
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result()
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def _start(self) -> asyncio.Server:
        return await asyncio.start_server(
            lambda r, w: _answer(r, w, self.plan), "127.0.0.1", 0, backlog=4096
        )

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            # A receiver still dripping or hanging (the deliverer gave up on it) ends here.
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()


# -- the deliverer (a child process) ------------------------------------------------------

CONFIG = """
monitors:
  - {name: api, url: "http://127.0.0.1:9/", interval: 1h}
status_pages:
  - slug: public
    title: Bench status
    groups: [{name: Shop, monitors: [{monitor: api, name: API}]}]
    subscribe:
      url: https://status.bench.test
      webhook: true
      webhook_networks: [127.0.0.0/8]
"""


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _child(urls_file: str, limit: float) -> None:
    """Subscribe the URLs of ``urls_file`` and deliver until nothing is due (or
    ``limit`` seconds); print what was measured as one JSON line."""
    from tether.monitor.alerts._subscribers import Deliverer, confirmation
    from tether.monitor.config import parse_config
    from tether.monitor.store import SQLiteStore
    from tether.monitor.store._subscribers import Subscriber

    urls = Path(urls_file).read_text().split()
    config = parse_config(CONFIG)
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "subs.db")
        now = time.time()
        for n, url in enumerate(urls):
            store.subscribe(
                Subscriber(0, "public", "webhook", url, f"t{n}", "s", now, None),
                confirmation("public", "Bench status"),
                now,
            )
        deliverer = Deliverer(store, lambda: config, "bench", time.time)
        before = _rss_kib()
        started = time.monotonic()
        while time.monotonic() - started < limit:
            round_began = time.monotonic()
            deliverer.deliver_due()
            # What is due now: a delivery that failed waits for its retry (10 s on).
            if not store.claim_deliveries("peek", time.time(), 0.0, 1):
                break
            time.sleep(max(0.0, 1.0 - (time.monotonic() - round_began)))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(
            json.dumps(
                {
                    "started": started,
                    "ended": time.monotonic(),
                    "rss_before_kib": before,
                    "rss_peak_kib": peak,
                }
            ),
            flush=True,
        )
        store.close()


def deliver(urls: list[str], src: str, limit: float) -> dict[str, float]:
    """Run the deliverer of ``src`` over ``urls`` in a child process; what it measured."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(urls))
        name = f.name
    try:
        env = {**os.environ, "PYTHONPATH": src}
        out = subprocess.run(
            [sys.executable, __file__, "--child", name, "--limit", str(limit)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        os.unlink(name)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"the deliverer failed: {out.stderr[-2000:]}")
    result: dict[str, float] = json.loads(lines[-1])
    return result


# -- the parts ----------------------------------------------------------------------------


@dataclass
class Figures:
    late_s: float
    rss_mib: float
    healthy_s: float
    """The 900 of 1,000 that answer, with 100 hanging beside them."""
    alone_s: float
    """The same 900, with the 100 answering too (the peer: what the store's writes and
    the deliveries themselves cost)."""
    notes: list[str]


def measure(src: str, quick: bool) -> Figures:
    notes: list[str] = []
    # 1. A tarpit first, ten healthy receivers after it.
    plan = Receivers(tarpit={"/hook/tarpit": 6.0 if quick else 60.0})
    served = Served(plan)
    try:
        base = f"http://127.0.0.1:{served.port}"
        healthy = [f"/hook/ok{n}" for n in range(10)]
        ran = deliver([f"{base}/hook/tarpit", *(base + p for p in healthy)], src, 30 + 60)
        late = max(plan.got[p] for p in healthy) - ran["started"]
        notes.append(
            f"tarpit: the ten others' news {late:.2f} s after the first round began; "
            f"the deliverer done with the tarpit after {ran['ended'] - ran['started']:.1f} s"
        )
    finally:
        served.close()
    # 2. A 400 MiB answer.
    size = (40 if quick else 400) * MiB
    plan = Receivers(big={"/hook/big": size})
    served = Served(plan)
    try:
        ran = deliver([f"http://127.0.0.1:{served.port}/hook/big"], src, 120)
        grown = max(0.0, (ran["rss_peak_kib"] - ran["rss_before_kib"]) / 1024)
        notes.append(
            f"{size // MiB} MiB answer: RSS {ran['rss_before_kib'] / 1024:.0f} MiB before, "
            f"peak {ran['rss_peak_kib'] / 1024:.0f} MiB"
        )
    finally:
        served.close()
    # 3. Many receivers, every tenth hanging; and the peer: as many, none hanging.
    count = 100 if quick else 1000
    times: list[float] = []
    for hanging in (False, True):
        plan = Receivers(hang={f"/hook/{n}" for n in range(0, count, 10)} if hanging else set())
        served = Served(plan)
        try:
            base = f"http://127.0.0.1:{served.port}"
            ran = deliver([f"{base}/hook/{n}" for n in range(count)], src, 1200)
            others = [f"/hook/{n}" for n in range(count) if n % 10]
            missing = [p for p in others if p not in plan.got]
            took = float("inf") if missing else max(plan.got[p] for p in others) - ran["started"]
            times.append(took)
            notes.append(
                f"{count} receivers, {count // 10 if hanging else 'none'} hanging: the "
                f"{len(others)} others all had the news {took:.1f} s after the first round "
                "began" + (f" ({len(missing)} never did)" if missing else "")
            )
        finally:
            served.close()
    return Figures(late, grown, times[1], times[0], notes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small parts, for a smoke test")
    parser.add_argument("--write", metavar="FILE", help="also write the results into FILE")
    parser.add_argument(
        "--before",
        metavar="LABEL=SRC",
        action="append",
        default=[],
        help="also measure the tether in SRC, named LABEL (again for more)",
    )
    parser.add_argument("--child", metavar="URLS", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=float, default=600.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.limit)
        return 0
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    started = time.perf_counter()
    shapes = [("this checkout", SRC)] + [
        (label, src) for label, _, src in (b.partition("=") for b in args.before)
    ]
    rows, verdicts, notes = [], [], []
    for name, src in shapes:
        got = measure(src, args.quick)
        notes += [f"- {name}: {n}." for n in got.notes]
        rows.append(
            (
                name,
                f"{got.late_s:.2f}",
                f"{got.rss_mib:.1f}",
                f"{got.alone_s:.1f}",
                f"{got.healthy_s:.1f}",
            )
        )
        if name == "this checkout":
            verdicts += [
                f"tarpit: the others' news {got.late_s:.2f} s late "
                f"(target <= {LATE_TARGET:g} s): {met(got.late_s <= LATE_TARGET)}",
                f"400 MiB answer: peak RSS +{got.rss_mib:.1f} MiB "
                f"(target <= {RSS_TARGET:g} MiB): {met(got.rss_mib <= RSS_TARGET)}",
                f"1,000 receivers, 100 hanging: the 900 others done in {got.healthy_s:.1f} s, "
                f"{got.healthy_s - got.alone_s:.1f} s more than with none hanging "
                f"(target <= {HANG_TARGET:g} s more: one deadline, 15 s, and some): "
                f"{met(got.healthy_s - got.alone_s <= HANG_TARGET)}",
            ]
    made_by = f"tether at {commit()}"
    section = Section(
        "1. Webhook deliveries against a tarpit, a 400 MiB answer and hanging receivers",
        notes=[
            f"{'--quick; ' if args.quick else ''}{made_by}"
            + "".join(f"; {b.replace('=', ': the tree at ', 1)}" for b in args.before)
            + ".",
            "",
            *notes,
        ],
        tables=[
            table(
                "Figures",
                (
                    "tether",
                    "tarpit: others late (s)",
                    "400 MiB answer: RSS growth (MiB)",
                    "1,000, none hanging: 900 done (s)",
                    "1,000, 100 hanging: the 900 done (s)",
                ),
                rows,
            )
        ],
        verdicts=verdicts,
    )
    section.seconds = time.perf_counter() - started
    section.show()
    if args.write:
        command = "python " + " ".join(["benchmarks/bench_subscribers.py", *sys.argv[1:]])
        write_part(args.write, HEADING, command, [section], section.seconds, made_by)
    return 0


if __name__ == "__main__":
    sys.exit(main())
