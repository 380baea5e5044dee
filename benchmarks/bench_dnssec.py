"""How many DNSSEC-validated ``dns://`` checks tether makes a second, beside unvalidated
ones and blackbox_exporter's ``dns`` module (which does not validate), against the same
loopback server.

Run: python benchmarks/bench_dnssec.py [--quick] [--rounds 3] [--seconds 3] [--concurrency 16]

Everything runs on loopback.  The server: the lab's DNS server (``tether.lab._dns``) in a
child process, serving the zones ``tests/helpers/signed_zones.py`` signs (``test.`` the
anchor, ``good.test.`` below it, ECDSA P-256), pinned to the second core where
``taskset`` exists.  The peers, each pinned to the first core:

- tether, validated: a child process running C concurrent loops of
  ``probe_async("dns://good.test", ...)`` with ``dns: {dnssec: true, trust_anchor: test.'s
  DS}``: each check asks the A query, then test.'s DNSKEY, good.test.'s DS and DNSKEY
  (three more queries), and verifies four signatures (nothing is cached between checks);
- tether, unvalidated: the same loops without ``dnssec`` (one query per check);
- blackbox_exporter (Debian's ``/usr/bin/prometheus-blackbox-exporter``, ``GOMAXPROCS=1``)
  with one module ``prober: dns, query_name: good.test, query_type: A``, asked
  ``/probe?module=dns_good&target=127.0.0.1:PORT`` by C concurrent aiohttp loops in this
  process (not pinned): it pays an HTTP request per probe that tether's loops do not,
  and sets no DO bit.  Skipped, and said, when the binary is missing.

And ``[DOMAIN_EXPIRATION]`` checks (a ``tcp://`` monitor of the RDAP server's own port,
through the monitor's ``Prober``): ``rdap-cached`` with the answer kept (the usual case:
one lookup per 6 h), ``rdap-uncached`` with the prober's clock moved 7 h per check, so
every check asks the RDAP server (an aiohttp app in the server's child process) again.

Each peer runs ``--seconds`` per round after a short warm-up; rounds interleave the peers,
and each figure is the median over rounds with the range.  CPU per 1,000 checks is the
prober process's ``utime + stime`` over the window.  Target: 100 validated checks a
second on one core (3,000 DNSSEC monitors on a 30 s interval).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXPORTER = "/usr/bin/prometheus-blackbox-exporter"
TARGET = 100
"""Validated checks a second on one core: 3,000 dnssec monitors on a 30 s interval."""


def _pin(core: int) -> list[str]:
    if shutil.which("taskset") is None or not hasattr(os, "sched_getaffinity"):
        return []
    cores = sorted(os.sched_getaffinity(0))
    return ["taskset", "-c", str(cores[min(core, len(cores) - 1)])]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    return env


def serve() -> None:
    """The child serving the signed zones: prints its port and anchor, runs until stdin
    closes."""
    sys.path.insert(0, str(ROOT))
    from aiohttp import web

    from tests.helpers.rdap_server import registration
    from tests.helpers.signed_zones import make_zones
    from tether.lab import _dns

    signed = make_zones()
    answer = registration("far.test", time.time() + 365 * 86400)

    async def domain(request: web.Request) -> web.Response:
        return web.json_response(answer, content_type="application/rdap+json")

    async def run() -> None:
        transport, server, port = await _dns.serve("127.0.0.1", 0, signed.zones)
        app = web.Application()
        app.router.add_get("/rdap/domain/{name}", domain)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        rdap = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(json.dumps({"port": port, "anchor": signed.anchor_ds, "rdap": rdap}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        transport.close()
        server.close()
        await runner.cleanup()

    asyncio.run(run())


def _rdap_check(mode: str, rdap_port: int) -> Any:
    """One ``[DOMAIN_EXPIRATION]`` check of a prober whose cache keeps answers for 6 h
    (``rdap-cached``) or whose clock moves 7 h per check (``rdap-uncached``): a callable
    returning whether the check passed."""
    from tether.monitor.checks._prober import Prober
    from tether.monitor.config import parse_config

    source = Path(tempfile.mkdtemp()) / "dns.json"
    url = f"http://127.0.0.1:{rdap_port}/rdap/"
    source.write_text(json.dumps({"services": [[["test"], [url]]]}))
    text = (
        f"monitors:\n  - {{name: m, url: 'tcp://127.0.0.1:{rdap_port}', "
        f"rdap: {{domain: far.test, bootstrap: '{source}'}}, "
        "conditions: ['[DOMAIN_EXPIRATION] > 720h']}\n"
    )
    ticks = [0.0]

    def mono() -> float:
        ticks[0] += 7 * 3600 if mode == "rdap-uncached" else 0.001
        return ticks[0]

    prober = Prober(mono=mono)
    prober.assign(parse_config(text).monitors)

    async def check() -> bool:
        return bool((await prober.check("m", mono())).record.ok)

    return check


def drive(mode: str, seconds: float, concurrency: int, port: int, anchor: str) -> None:
    """The child measuring tether's checks: prints checks, failures and CPU seconds."""
    sys.path.insert(0, str(ROOT))
    from tests.helpers.signed_zones import NOW
    from tether.probe import DnsQuery, ProbeOptions, probe_async

    query = DnsQuery("A", dnssec=mode == "validated", trust_anchor=(anchor,), clock=lambda: NOW)
    options = ProbeOptions(timeout=2, resolver=f"127.0.0.1:{port}", dns=query)
    counts = {"ok": 0, "failed": 0}
    rdap = _rdap_check(mode, int(anchor)) if mode.startswith("rdap") else None

    async def loop(until: float, counted: bool) -> None:
        while time.perf_counter() < until:
            if rdap is not None:
                ok = await rdap()
            else:
                ok = (await probe_async("dns://good.test", options)).failure is None
            if counted and time.perf_counter() <= until:
                counts["ok" if ok else "failed"] += 1

    async def run() -> float:
        warm = time.perf_counter() + min(0.5, seconds / 4)
        await asyncio.gather(*(loop(warm, False) for _ in range(concurrency)))
        cpu = time.process_time()
        until = time.perf_counter() + seconds
        await asyncio.gather(*(loop(until, True) for _ in range(concurrency)))
        return time.process_time() - cpu

    cpu = asyncio.run(run())
    print(json.dumps({**counts, "cpu": cpu}), flush=True)


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _exporter_block(url: str, seconds: float, concurrency: int, pid: int) -> dict[str, Any]:
    import aiohttp

    counts = {"ok": 0, "failed": 0}

    async def loop(session: aiohttp.ClientSession, until: float, counted: bool) -> None:
        while time.perf_counter() < until:
            async with session.get(url) as answer:
                body = await answer.text()
            if counted and time.perf_counter() <= until:
                counts["ok" if "probe_success 1" in body else "failed"] += 1

    async with aiohttp.ClientSession() as session:
        warm = time.perf_counter() + min(0.5, seconds / 4)
        await asyncio.gather(*(loop(session, warm, False) for _ in range(concurrency)))
        cpu = _proc_cpu(pid)
        until = time.perf_counter() + seconds
        await asyncio.gather(*(loop(session, until, True) for _ in range(concurrency)))
        return {**counts, "cpu": _proc_cpu(pid) - cpu}


def _start_exporter(tmp: Path, dns_port: int) -> tuple[subprocess.Popen[bytes], str] | None:
    if not os.access(EXPORTER, os.X_OK):
        print(f"bench_dnssec: {EXPORTER} is missing: blackbox_exporter skipped", file=sys.stderr)
        return None
    config = tmp / "blackbox.yml"
    config.write_text(
        "modules:\n  dns_good:\n    prober: dns\n    timeout: 5s\n    dns:\n"
        "      query_name: good.test\n      query_type: A\n"
        "      preferred_ip_protocol: ip4\n      ip_protocol_fallback: false\n"
    )
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [*_pin(0), EXPORTER, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**_env(), "GOMAXPROCS": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    import urllib.request

    deadline = time.monotonic() + 10
    while True:  # bounded: fails when the exporter does not come up within 10 s
        try:
            urllib.request.urlopen(f"{base}/-/healthy", timeout=1).read()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise SystemExit("bench_dnssec: blackbox_exporter did not start") from None
            time.sleep(0.1)
    return proc, f"{base}/probe?module=dns_good&target=127.0.0.1:{dns_port}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--drive", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return 0
    if args.drive:
        mode, seconds, port, anchor = args.drive
        drive(mode, float(seconds), args.concurrency, int(port), anchor)
        return 0
    rounds, seconds = (1, 1.0) if args.quick else (args.rounds, args.seconds)
    me = str(Path(__file__).resolve())
    server = subprocess.Popen(
        [*_pin(1), sys.executable, me, "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=_env(),
    )
    assert server.stdout is not None
    assert server.stdin is not None
    started = json.loads(server.stdout.readline())
    port, anchor = started["port"], started["anchor"]
    figures: dict[str, list[dict[str, Any]]] = {"validated": [], "unvalidated": []}
    figures |= {"rdap-cached": [], "rdap-uncached": []}
    with tempfile.TemporaryDirectory() as tmp:
        exporter = _start_exporter(Path(tmp), port)
        if exporter is not None:
            figures["blackbox_exporter"] = []
        try:
            for i in range(rounds):
                order = list(figures) if i % 2 == 0 else list(reversed(figures))
                for peer in order:
                    if peer == "blackbox_exporter":
                        assert exporter is not None
                        got = asyncio.run(
                            _exporter_block(exporter[1], seconds, args.concurrency, exporter[0].pid)
                        )
                    else:
                        cmd = [*_pin(0), sys.executable, me, "--concurrency", str(args.concurrency)]
                        # an rdap peer is given the RDAP server's port for the anchor
                        key = str(started["rdap"]) if peer.startswith("rdap") else anchor
                        cmd += ["--drive", peer, str(seconds), str(port), key]
                        out = subprocess.run(
                            cmd, capture_output=True, text=True, env=_env(), check=True
                        )
                        got = json.loads(out.stdout.strip().splitlines()[-1])
                    got["rate"] = got["ok"] / seconds
                    figures[peer].append(got)
        finally:
            if exporter is not None:
                exporter[0].terminate()
                exporter[0].wait(10)
            server.stdin.close()
            server.wait(10)
    print(f"rounds {rounds} x {seconds:g} s, concurrency {args.concurrency}")
    print("| peer | checks/s (median, range) | failed | CPU ms per 1,000 checks |")
    print("|---|---|---|---|")
    for peer, runs in figures.items():
        rates = [r["rate"] for r in runs]
        failed = sum(r["failed"] for r in runs)
        ok = sum(r["ok"] for r in runs) or 1
        cpu = sum(r["cpu"] for r in runs) / ok * 1e6
        span = f"{min(rates):,.0f}-{max(rates):,.0f}"
        print(f"| {peer} | {statistics.median(rates):,.0f} ({span}) | {failed} | {cpu:,.0f} |")
    validated = statistics.median(r["rate"] for r in figures["validated"])
    verdict = "met" if validated >= TARGET else "MISSED"
    print(
        f"- validated dns:// checks on one core: {validated:,.0f}/s "
        f"(target >= {TARGET}/s): {verdict}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
