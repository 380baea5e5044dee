"""What each retrying client adds to a call, in instructions: bench_retry.py's section 1
and 6 counted by callgrind, which a loaded machine does not disturb.

Run: python benchmarks/bench_instructions.py [--clients NAME,...] [--calls N] [--only-calls]
     [--floor] [--layouts K] [--jobs J]

Each client runs in a fresh interpreter under ``valgrind --tool=callgrind``, once with
``N/10`` calls and once with ``N`` (``PYTHONHASHSEED=0``); instructions per call are the
difference over the difference of calls, so start-up and imports cancel out.  With
``--only-calls`` (requests and httpx) callgrind counts nothing but the calls, made after 50
warm ones inside ``functools.reduce`` (``--toggle-collect``): neither start-up, imports,
the first connection nor another thread (the cutoff's watchdog) is in the count, and two
runs agree to within 0.5% of a call (the added figures, a small difference of two large
ones, to within 10%).  The HTTP
clients call bench_retry.py's loopback server (a child process, not counted); the
decorators call a function that returns at once.  Added: a client's instructions per
call minus its bare client's.  The target (issue 46 §5): tether's added at most twice
the cheapest timeout-enforcing peer's of its group (for the decorators, the cheaper of
tenacity and stamina).  With ``--floor``, requests and httpx count ``_floor.py``'s clients
too: the least pure Python does to keep the default policy's promises on a healthy call,
a yardstick for whether the target is within its reach.  With ``--layouts K``, each client
is counted in K memory layouts (:func:`padded`) and the median taken: a layout alone
moves a call by a thousand or two instructions.  Needs valgrind; takes some
minutes (each run is some 50 times slower than without it).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import gc
import os
import shutil
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _callgrind import collected  # benchmarks/ is the script's own directory
from bench_retry import ADDED_FACTOR, Server  # benchmarks/ is the script's own directory

SRC = Path(__file__).resolve().parents[1] / "src"


def only_calls() -> bool:
    """Count only the calls themselves (``--only-calls``; the children inherit it)?"""
    return os.environ.get("TETHER_BENCH_ONLY_CALLS") == "1"


WARM = 50
"""Calls made before the counted ones with ``--only-calls``: connections, caches and the
first call's imports are then in place, and only the steady state is counted."""

GROUPS: dict[str, tuple[str, list[str], str]] = {
    # group (aiohttp16: 16 calls at once; retry: @tether.retry on a function):
    # (bare client, timeout-enforcing peers, tether's client)
    "requests": ("req-bare", ["req-timeout", "req-u3"], "req-tether"),
    "httpx": ("hx-bare", ["hx-timed"], "hx-tether"),
    "aiohttp": ("aio-bare", ["aio-mw"], "aio-tether"),
    "aiohttp16": ("aio-bare-16", ["aio-mw-16"], "aio-tether-16"),
    "retry": ("fn-bare", ["fn-tenacity", "fn-stamina"], "fn-tether"),
}
NAMES = {
    "req-timeout": "requests.Session, timeout=(5, 30)",
    "req-u3": "requests + urllib3 Retry(total=3) adapter",
    "req-tether": "tether.Session",
    "hx-timed": "httpx + a transport setting the timeout extension",
    "hx-tether": "httpx + tether Transport()",
    "aio-mw": "aiohttp + a middleware: asyncio.timeout, read()",
    "aio-tether": "tether.integrations.aiohttp.session()",
    "aio-mw-16": "aiohttp + a middleware: asyncio.timeout, read()",
    "aio-tether-16": "tether.integrations.aiohttp.session()",
    "fn-tenacity": "tenacity.retry (3 attempts)",
    "fn-stamina": "stamina.retry(on=OSError, attempts=3)",
    "fn-tether": "@tether.retry",
    "req-floor": "the floor: the default policy's promises, tightly (benchmarks/_floor.py)",
    "hx-floor": "the floor: the default policy's promises, tightly (benchmarks/_floor.py)",
}
FLOORS = {"requests": "req-floor", "httpx": "hx-floor"}
"""With ``--floor``: the least pure Python does to keep the default policy's promises on a
healthy call (``_floor.py``), counted beside the peers: a yardstick, not a peer."""


def client(which: str, n: int, url: str) -> None:
    """Make ``n`` calls with the client named ``which`` (run under callgrind).  With
    ``--only-calls``: the requests and httpx clients first make WARM calls, then the
    ``n`` calls inside ``functools.reduce``, which callgrind alone counts (``--toggle-collect``)."""
    import asyncio

    kept = padded()  # noqa: F841 -- held for the run: it is the layout
    if only_calls() and which.startswith(("req-", "hx-")):
        if which.startswith("req-"):
            get = requests_client(which, url)
        else:
            get = functools.partial(httpx_client(which).get, url)
        for _ in range(WARM):
            get()
        gc.collect()
        # Counted: the calls made inside functools.reduce, a C function nothing on these
        # paths calls (exec, which imports run modules with, would count imports too).
        functools.reduce(lambda _, __: get(), range(n), None)
        return

    if which.startswith("fn-"):
        run_decorated(which, n)
    elif which.startswith("req-"):
        get = requests_client(which, url)
        for _ in range(n):
            get()
    elif which.startswith("hx-"):
        c = httpx_client(which)
        for _ in range(n):
            c.get(url)
    else:
        asyncio.run(aiohttp_calls(which, n, url))


def run_decorated(which: str, n: int) -> None:
    def work() -> int:
        return 1

    f: object = work
    if which == "fn-tenacity":
        import tenacity

        f = tenacity.retry(
            stop=tenacity.stop_after_attempt(3),
            wait=tenacity.wait_random_exponential(multiplier=0.1, max=5),
            retry=tenacity.retry_if_exception_type(OSError),
            reraise=True,
        )(work)
    elif which == "fn-stamina":
        import stamina

        f = stamina.retry(on=OSError, attempts=3)(work)
    elif which == "fn-tether":
        import tether

        f = tether.retry(work)
    for _ in range(n):
        f()  # type: ignore[operator]


def requests_client(which: str, url: str) -> Callable[[], object]:
    import requests

    timeout = (5.0, 30.0)
    if which == "req-tether":
        import tether

        s = tether.Session()
        return lambda: s.get(url)
    if which == "req-floor":
        from _floor import FloorSession

        s = FloorSession()
        return lambda: s.get(url)
    s = requests.Session()
    if which == "req-u3":
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        retry = Retry(total=3, backoff_factor=0.1, status_forcelist=(429, 502, 503, 504))
        s.mount("http://", HTTPAdapter(max_retries=retry))
    if which == "req-bare":
        return lambda: s.get(url)
    return lambda: s.get(url, timeout=timeout)


def httpx_client(which: str) -> Any:
    import httpx

    if which == "hx-tether":
        from tether.integrations.httpx import Transport

        return httpx.Client(transport=Transport())
    if which == "hx-floor":
        from _floor import FloorTransport

        return httpx.Client(transport=FloorTransport())
    if which == "hx-bare":
        return httpx.Client()
    timeout = {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 5.0}

    class Timed(httpx.BaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.HTTPTransport()

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            request.extensions = {**request.extensions, "timeout": timeout}
            return self.inner.handle_request(request)

    return httpx.Client(transport=Timed())


async def aiohttp_calls(which: str, n: int, url: str) -> None:
    import asyncio

    import aiohttp

    concurrency = 16 if which.endswith("-16") else 1
    kind = which.removesuffix("-16")
    s: object
    if kind == "aio-tether":
        from tether.integrations.aiohttp import session

        s = session()
    elif kind == "aio-mw":

        async def bounded(request: object, handler: object) -> object:
            async with asyncio.timeout(60.0):
                r = await handler(request)  # type: ignore[operator]
                await r.read()
                return r

        s = aiohttp.ClientSession(middlewares=[bounded])  # type: ignore[list-item]
    else:
        s = aiohttp.ClientSession()

    async def one() -> None:
        async with s.get(url) as r:  # type: ignore[attr-defined]
            await r.read()

    for _ in range(n // concurrency):
        await asyncio.gather(*(one() for _ in range(concurrency)))
    await s.close()  # type: ignore[attr-defined]


def instructions(which: str, n: int, url: str, layout: int = 0) -> int:
    """Instructions callgrind collected for a fresh interpreter making ``n`` calls, in
    the memory layout numbered ``layout`` (:func:`padded`)."""
    env = {"PYTHONPATH": str(SRC), "PYTHONHASHSEED": str(layout), LAYOUT: str(layout)}
    only = "functools_reduce" if only_calls() and which.startswith(("req-", "hx-")) else None
    return collected(__file__, ["--client", which, str(n), url], env, only)


def per_call(which: str, n: int, url: str, layout: int = 0) -> float:
    small = max(n // 10, 16)
    long, short = instructions(which, n, url, layout), instructions(which, small, url, layout)
    return (long - short) / (n - small)


LAYOUT = "TETHER_BENCH_LAYOUT"


def padded() -> list[bytes]:
    """Objects of mixed sizes kept for the whole run, more of them the higher the layout
    number in the environment (none for layout 0): with the hash seed, which the layout
    number also sets, they move where everything after them lands in memory.

    Why: one interpreter's count moves by a thousand or two instructions a call with
    the allocator's layout alone (the path the code is run from, an environment
    variable's length), which is most of what a pass-through peer adds (issue 46 §5,
    bench_instructions.md round 9).  ``--layouts K`` counts each client in K layouts and
    takes the median, so no one layout's luck decides a ratio."""
    layout = int(os.environ.get(LAYOUT, "0"))
    return [b"x" * ((layout * 131 + k * 17) % 512) for k in range(layout * 16)]


def counted(
    clients: list[str], n: int, url: str, layouts: int, jobs: int
) -> dict[str, list[float]]:
    """Each client's instructions a call in each layout, ``jobs`` callgrind runs at once
    (each count is the run's own: callgrind is not disturbed by the others)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
        futures = {
            (which, layout): pool.submit(per_call, which, n, url, layout)
            for layout in range(layouts)
            for which in clients
        }
        return {
            which: [futures[which, layout].result() for layout in range(layouts)]
            for which in clients
        }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", help="groups to run, comma-separated (default: all)")
    parser.add_argument("--calls", type=int, default=400, help="HTTP calls in the long run")
    parser.add_argument(
        "--only-calls",
        action="store_true",
        help="requests and httpx: count only the calls, after warm ones (toggle-collect)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="requests and httpx: count the floor too (_floor.py), beside the peers",
    )
    parser.add_argument(
        "--layouts",
        type=int,
        default=1,
        help="count each client in this many memory layouts and take the median (default 1)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="callgrind runs at once")
    parser.add_argument("--client", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only_calls:
        os.environ["TETHER_BENCH_ONLY_CALLS"] = "1"
    if args.client:
        which, n, url = args.client
        client(which, int(n), url)
        return 0
    if shutil.which("valgrind") is None:
        print("needs valgrind (apt-get install valgrind)")
        return 2
    chosen = args.clients.split(",") if args.clients else list(GROUPS)
    print(f"load average: {os.getloadavg()[0]:.2f} (callgrind counts are not disturbed by it)")
    server = Server()
    try:
        for group in chosen:
            bare, peers, ours = GROUPS[group]
            n = args.calls * 50 if group == "retry" else args.calls
            floor = FLOORS.get(group) if args.floor else None
            clients = [bare, *peers, ours, *([floor] if floor else [])]
            counts = counted(clients, n, server.url, args.layouts, args.jobs)
            base = statistics.median(counts[bare])
            print(f"\n{group}: bare {base:,.0f} instructions a call", end="")
            print(f" (median of {args.layouts} layouts)" if args.layouts > 1 else "")
            added = {}
            for which in clients[1:]:
                added[which] = statistics.median(counts[which]) - base
                each = [c - b for c, b in zip(counts[which], counts[bare], strict=True)]
                spread = f" (layouts {min(each):+,.0f} to {max(each):+,.0f})"
                spread = spread if len(each) > 1 else ""
                print(f"  {NAMES[which]}: {added[which]:+,.0f}{spread}")
            cheapest = min(peers, key=lambda p: added[p])
            peer = max(added[cheapest], 1.0)
            ratio = added[ours] / peer
            if floor:
                print(
                    f"  the floor: {added[floor] / peer:.2f} x {NAMES[cheapest]}; "
                    f"{NAMES[ours]} {added[ours] / max(added[floor], 1.0):.2f} x the floor"
                )
            verdict = "met" if ratio <= ADDED_FACTOR else "MISSED"
            print(
                f"  added instructions, {group}: {NAMES[ours]} {ratio:.2f} x "
                f"{NAMES[cheapest]} (target <= {ADDED_FACTOR:g} x): {verdict}"
            )
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
