"""HTTP/3 checks per second: tether's (``http_version: 3``) beside tether's HTTP/1.1 check
of the same server's TCP twin and a bare aioquic client, in one run.

Run: python benchmarks/bench_http3.py [--quick] [--rounds 5] [--seconds 3]
     [--concurrency 8] [--write benchmarks/history/bench_http3.md]

Everything runs on loopback.  The server is one child process (pinned with ``taskset``
to every core but the first, where taskset and a second core exist) serving, from one
event loop and one certificate (trustme, a CA the clients are given):

- HTTP/3 on a UDP port: aioquic's asyncio ``serve()`` with an H3 handler answering every
  request ``200`` with ``ok`` (as aioquic's ``examples/http3_server.py`` does);
- its TCP twin: an asyncio TLS server (ALPN ``http/1.1``) answering every request
  ``200`` with ``ok`` and ``Connection: close``.

The client is this process (pinned to the first core): C concurrent loops
(``--concurrency``) for ``--seconds``, each making one whole check after another, every
check on a new connection (as a monitor's are), of one peer at a time:

- ``tether h3``: ``probe_async(URL, ProbeOptions(http_version="3", cacert=CA))``, the
  monitor's probe: URL, proxy, DNS (``localhost``, the system resolver), the QUIC
  handshake, the request, the certificate described;
- ``tether h1``: the same probe of the TCP twin over HTTP/1.1 (TCP, TLS 1.3, the
  request);
- ``aioquic bare``: aioquic's own client pattern (``examples/http3_client.py``: a
  ``QuicConnectionProtocol`` with an ``H3Connection``, verifying with the CA, to
  127.0.0.1), one GET read to its end, then closed as tether closes (CONNECTION_CLOSE,
  the socket closed, no wait for QUIC's closing period, which ``aioquic.asyncio.connect``
  waits for on exit: about a second of idle per check); no DNS, no system trust store,
  no certificate description: the floor of what an HTTP/3 check costs with this stack.

A check counts when it ends with status 200 inside the window.  The rounds interleave
the peers (A B C, C B A, ...), after one untimed warm-up block each; each peer's rate is
the median over rounds, with the range.  Targets: tether's HTTP/3 check at least 0.7 x
the bare aioquic client (the rest is tether's own walk: DNS, certificate details,
phases); beside HTTP/1.1, the figure is reported, not judged (QUIC's handshake is done in
Python by aioquic, TLS over TCP in C by OpenSSL).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

_SERVER = r"""
import asyncio, ssl, sys
from aioquic.asyncio import QuicConnectionProtocol, serve
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ProtocolNegotiated

cert, key = sys.argv[1], sys.argv[2]

class H3(QuicConnectionProtocol):
    h3 = None
    def quic_event_received(self, event):
        if isinstance(event, ProtocolNegotiated):
            self.h3 = H3Connection(self._quic)
        if self.h3 is None:
            return
        for h in self.h3.handle_event(event):
            if isinstance(h, HeadersReceived):
                self.h3.send_headers(h.stream_id, [(b":status", b"200"), (b"content-length", b"2")])
                self.h3.send_data(h.stream_id, b"ok", end_stream=True)
                self.transmit()

async def tcp(reader, writer):
    try:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
    except Exception:
        pass
    writer.close()

async def main():
    config = QuicConfiguration(is_client=False, alpn_protocols=H3_ALPN)
    config.load_cert_chain(cert, key)
    quic = await serve("127.0.0.1", 0, configuration=config, create_protocol=H3)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    server = await asyncio.start_server(tcp, "127.0.0.1", 0, ssl=ctx, backlog=512)
    udp = quic._transport.get_extra_info("sockname")[1]
    print(udp, server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def _pins() -> tuple[list[str], set[int] | None]:
    """``taskset`` for the server (every core but the first) and the client's core."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cores) < 2 or shutil.which("taskset") is None:
        return [], None
    return ["taskset", "-c", ",".join(map(str, cores[1:]))], {cores[0]}


SERVER_PIN, CLIENT_CORES = _pins()
Check = Callable[[], Awaitable[bool]]
FAILED = [0]
"""Checks that did not end with 200, over the whole run (reported)."""


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    import trustme

    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    ca.cert_pem.write_to_path(str(paths[0]))
    leaf.cert_chain_pems[0].write_to_path(str(paths[1]))
    for extra in leaf.cert_chain_pems[1:]:
        extra.write_to_path(str(paths[1]), append=True)
    leaf.private_key_pem.write_to_path(str(paths[2]))
    return paths


def _tether(url: str, ca: Path, version: str) -> Check:
    from tether.probe import ProbeOptions, probe_async

    options = ProbeOptions(http_version=version, cacert=str(ca), proxy="", timeout=5.0)

    async def check() -> bool:
        result = await probe_async(url, options)
        return result.failure is None

    return check


def _bare(port: int, ca: Path) -> Check:
    """aioquic's own client pattern (examples/http3_client.py, reduced to one GET)."""
    from aioquic.asyncio import QuicConnectionProtocol
    from aioquic.h3.connection import H3_ALPN, H3Connection
    from aioquic.h3.events import DataReceived, HeadersReceived
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection

    class Client(QuicConnectionProtocol):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            self.h3 = H3Connection(self._quic)
            self.done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            self.status = 0

        def quic_event_received(self, event: object) -> None:
            for h in self.h3.handle_event(event):  # type: ignore[arg-type]
                if isinstance(h, HeadersReceived):
                    self.status = int(dict(h.headers)[b":status"])
                ended = isinstance(h, HeadersReceived | DataReceived) and h.stream_ended
                if ended and not self.done.done():
                    self.done.set_result(self.status)

    async def check() -> bool:
        config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN)
        config.load_verify_locations(str(ca))
        config.server_name = "localhost"
        loop = asyncio.get_running_loop()
        transport, client = await loop.create_datagram_endpoint(
            lambda: Client(QuicConnection(configuration=config)), local_addr=("127.0.0.1", 0)
        )
        try:
            client.connect(("127.0.0.1", port))
            await asyncio.wait_for(client.wait_connected(), 5.0)
            stream = client._quic.get_next_available_stream_id()
            client.h3.send_headers(
                stream,
                [
                    (b":method", b"GET"),
                    (b":scheme", b"https"),
                    (b":authority", b"localhost"),
                    (b":path", b"/"),
                ],
                end_stream=True,
            )
            client.transmit()
            status = await asyncio.wait_for(client.done, 5.0)
        finally:
            # As tether does: CONNECTION_CLOSE sent, the socket closed, no wait for the
            # closing period (connect()'s exit waits ~1 s for it, which is not work).
            client.close()
            transport.close()
        return status == 200

    return check


async def _block(check: Check, seconds: float, concurrency: int) -> int:
    done = 0
    end = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal done
        while time.perf_counter() < end:
            try:
                ok = await check()
            except (OSError, TimeoutError):
                ok = False
            if ok and time.perf_counter() <= end:
                done += 1
            elif not ok:
                FAILED[0] += 1

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--write", metavar="FILE")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds = 2, 0.5
    if CLIENT_CORES is not None:
        os.sched_setaffinity(0, CLIENT_CORES)
    with tempfile.TemporaryDirectory(prefix="bench-h3-") as tmp:
        ca, cert, key = _certificates(Path(tmp))
        server = subprocess.Popen(
            [*SERVER_PIN, sys.executable, "-c", _SERVER, str(cert), str(key)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            udp, tcp = map(int, server.stdout.readline().split())
            peers = {
                "tether h3": _tether(f"https://localhost:{udp}/", ca, "3"),
                "tether h1": _tether(f"https://localhost:{tcp}/", ca, "1.1"),
                "aioquic bare": _bare(udp, ca),
            }
            rates = asyncio.run(_measure(peers, args.rounds, args.seconds, args.concurrency))
        finally:
            server.terminate()
            server.wait(10)
    text = _report(rates, args)
    print(text)
    if args.write:
        with open(args.write, "a") as f:
            f.write("\n" + text)
    return 0


async def _measure(
    peers: dict[str, Check], rounds: int, seconds: float, concurrency: int
) -> dict[str, list[float]]:
    for check in peers.values():  # warm-up: imports, contexts, caches
        await _block(check, min(seconds, 0.5), concurrency)
    names = list(peers)
    rates: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            rates[name].append(await _block(peers[name], seconds, concurrency) / seconds)
    return rates


def _report(rates: dict[str, list[float]], args: argparse.Namespace) -> str:
    med = {n: statistics.median(v) for n, v in rates.items()}
    lines = [
        "# Benchmark results: HTTP/3 checks (issue 29)",
        "",
        f"Produced by `python benchmarks/bench_http3.py{' --quick' if args.quick else ''}` "
        f"on {time.strftime('%Y-%m-%d')}, Python {sys.version.split()[0]}; "
        f"{args.rounds} rounds of {args.seconds:g} s, {args.concurrency} concurrent checks; "
        + (
            "server and client pinned to their own cores (taskset)"
            if SERVER_PIN
            else "not pinned (no taskset or one core)"
        )
        + f".  Load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores as it ended "
        "(a load above the benchmark's own is other work on the machine); the ratios within "
        "a round mean more than the rates.",
        "",
        "| peer | checks/s (median) | range |",
        "|---|---|---|",
    ]
    for name, values in rates.items():
        lines.append(f"| {name} | {med[name]:,.0f} | {min(values):,.0f} to {max(values):,.0f} |")
    ratio = med["tether h3"] / med["aioquic bare"] if med["aioquic bare"] else 0.0
    versus = med["tether h3"] / med["tether h1"] if med["tether h1"] else 0.0
    lines += [
        "",
        f"- tether's HTTP/3 check: {ratio:.2f} x the bare aioquic client (target >= 0.7): "
        + ("met" if ratio >= 0.7 else "missed"),
        f"- tether's HTTP/3 check: {versus:.2f} x tether's HTTP/1.1 check of the TCP twin "
        "(reported, not judged)",
        f"- checks that did not end with 200 (any peer, whole run): {FAILED[0]}",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
