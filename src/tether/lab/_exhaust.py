"""Scenarios where the client runs out of what a connection needs, each in a child process.

The lab's other scenarios are servers that misbehave; these are clients that
cannot connect at all (``connect.resource_exhausted``), so the shortage is
made in a child process of its own and never in the process that runs the
matrix or the tests:

* ``fd_limit``: the child lowers its own ``RLIMIT_NOFILE`` and fills every
  file descriptor, then makes the request: ``socket()`` fails with EMFILE.
* ``pool_full``: the child's client has a pool of one connection, held by a
  response whose body is still arriving (the lab's ``slow_drip``); the next
  request waits for the pool's timeout (httpx ``PoolTimeout``, urllib3
  ``EmptyPoolError``, aiohttp's connect timeout spent in the pool's queue).
* ``port_range``: in a private network namespace of its own (``unshare -rn``)
  the child narrows ``net.ipv4.ip_local_port_range`` to two ports, holds two
  connections to a listener there, and connects again: EADDRNOTAVAIL.

ENFILE (the system's file table) and ENOBUFS (kernel socket memory) have no
scenario: making them means starving every process on the machine.  Run one
case by hand with ``python -m tether.lab._exhaust SCENARIO CLIENT URL``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tether._kinds import Kind
from tether.lab._cases import CONNECT_TIMEOUT, READ_TIMEOUT, TOTAL_TIMEOUT, Case, case_of

if TYPE_CHECKING:
    from tether.lab._lab import Scenario

__all__ = ["EXHAUSTED", "LOCAL", "NETNS", "PORT_RANGE_URL", "Exhaustion", "run_exhausted"]


@dataclass(frozen=True, slots=True)
class Exhaustion:
    """One way to run out, and the clients it applies to."""

    description: str
    clients: tuple[str, ...]
    base: str | None
    """The lab scenario whose URL the child requests; None for its own listener."""


_SOCKET_CLIENTS = ("requests", "urllib3", "httpx", "httpx_async", "aiohttp", "urllib", "socket")

EXHAUSTED: dict[str, Exhaustion] = {
    "fd_limit": Exhaustion(
        "the client process is at its open-file limit (RLIMIT_NOFILE): socket() gives EMFILE",
        _SOCKET_CLIENTS,
        "healthy",
    ),
    "pool_full": Exhaustion(
        "the client's pool of one connection is held by an unfinished response; the next "
        "request waits 0.2 s for it",
        ("urllib3", "httpx", "httpx_async", "aiohttp"),
        "slow_drip",
    ),
    "port_range": Exhaustion(
        "a namespace whose ephemeral port range (two ports) is all in use: EADDRNOTAVAIL",
        _SOCKET_CLIENTS,
        None,
    ),
}
LOCAL = ("fd_limit", "pool_full")
NETNS = ("port_range",)
PORT_RANGE_URL = "http://127.0.0.1:8080/"
"""The child's own listener in its own namespace: outside the narrowed range."""

POOL_TIMEOUT = 0.2
_FD_LIMIT = 128  # low, so filling the table is quick; the child needs about 20
_CHILD_TIMEOUT = 60.0  # a child imports its client library on a busy machine
_PORT_RANGE_SETUP = """set -e
ip link set lo up
echo "40000 40001" > /proc/sys/net/ipv4/ip_local_port_range
exec "$PYTHON" -m tether.lab._exhaust port_range "$CLIENT" "$URL"
"""


# --- the parent's side --------------------------------------------------------------------


def run_exhausted(scenario: Scenario, client: str) -> Case:
    """Run one (scenario, client) in a child process; the child classifies what it saw."""

    argv = [sys.executable, "-m", "tether.lab._exhaust", scenario.name, client, scenario.url]
    env = dict(os.environ)
    if scenario.name == "port_range":
        env.update(PYTHON=sys.executable, CLIENT=client, URL=scenario.url)
        argv = ["unshare", "-rn", "sh", "-c", _PORT_RANGE_SETUP]
    try:
        proc = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=_CHILD_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return _broken(scenario, client, "hang", None, f"still running after {_CHILD_TIMEOUT:g} s")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        why = proc.stderr.strip()[-300:] or f"exit {proc.returncode}, no case printed"
        return _broken(scenario, client, "raised", "the child process failed", why)
    return Case(**json.loads(lines[-1]))


def _broken(scenario: Scenario, client: str, outcome: str, raised: str | None, why: str) -> Case:
    """A case that failed to run: no kind, so it never agrees with the expected one."""

    kind = scenario.kind.value if scenario.kind else None
    return Case(scenario.name, client, outcome, raised, why, None, kind)


# --- the child's side: make the shortage, then the request ---------------------------------

Squeeze = Callable[[], contextlib.AbstractContextManager[None]]


@contextlib.contextmanager
def _no_fds_left() -> Iterator[None]:
    """Fill the descriptor table up to a lowered soft limit; give it all back after."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(_FD_LIMIT, soft), hard))
    held: list[int] = []
    try:
        with contextlib.suppress(OSError):  # EMFILE: the table is full
            while len(held) < 65536:
                held.append(os.open(os.devnull, os.O_RDONLY))
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@contextlib.contextmanager
def _no_ports_left(url: str) -> Iterator[None]:
    """Hold connections to ``url``'s listener until connect() says EADDRNOTAVAIL."""
    parts = urlsplit(url)
    address = (parts.hostname or "", parts.port or 80)
    held: list[socket.socket] = []
    try:
        while len(held) < 64:
            sock = socket.socket()
            try:
                sock.connect(address)
            except OSError as exc:
                sock.close()
                if exc.errno != errno.EADDRNOTAVAIL:
                    raise
                break
            held.append(sock)
        yield
    finally:
        for sock in held:
            sock.close()


def _requests(url: str, squeeze: Squeeze) -> int:
    import requests

    with requests.Session() as session:
        session.trust_env = False
        with squeeze():
            return session.get(url, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)).status_code


def _urllib3(url: str, squeeze: Squeeze) -> int:
    import urllib3

    with urllib3.PoolManager() as pool:
        timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
        with squeeze():
            return int(pool.request("GET", url, retries=False, timeout=timeout).status)


def _httpx(url: str, squeeze: Squeeze) -> int:
    import httpx

    timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
    with httpx.Client(timeout=timeout, trust_env=False) as client, squeeze():
        return client.get(url).status_code


def _httpx_async(url: str, squeeze: Squeeze) -> int:
    import httpx

    async def go() -> int:
        timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            with squeeze():
                return (await client.get(url)).status_code

    return asyncio.run(go())


def _aiohttp(url: str, squeeze: Squeeze) -> int:
    import aiohttp

    async def go() -> int:
        timeout = aiohttp.ClientTimeout(
            total=TOTAL_TIMEOUT, sock_connect=CONNECT_TIMEOUT, sock_read=READ_TIMEOUT
        )
        async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:
            with squeeze():
                async with session.get(url) as r:
                    await r.read()
                    return r.status

    return asyncio.run(go())


def _urllib(url: str, squeeze: Squeeze) -> int:
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with squeeze(), opener.open(url, timeout=READ_TIMEOUT) as r:
        r.read()
        return int(r.status)


def _socket(url: str, squeeze: Squeeze) -> int:

    parts = urlsplit(url)
    with squeeze(), socket.create_connection((parts.hostname, parts.port), CONNECT_TIMEOUT):
        return 0


_SHORT: dict[str, Callable[[str, Squeeze], int]] = {
    "requests": _requests,
    "urllib3": _urllib3,
    "httpx": _httpx,
    "httpx_async": _httpx_async,
    "aiohttp": _aiohttp,
    "urllib": _urllib,
    "socket": _socket,
}


# A pool of one, taken by a response whose body never ends (slow_drip), then a second request.


def _pool_urllib3(url: str) -> int:
    import urllib3

    parts = urlsplit(url)
    with urllib3.HTTPConnectionPool(
        parts.hostname or "", parts.port, maxsize=1, block=True, timeout=2.5, retries=False
    ) as pool:
        held = pool.urlopen("GET", parts.path, preload_content=False)
        try:
            # typed as int, but it goes to Queue.get, which takes seconds as a float
            second = pool.urlopen("GET", parts.path, pool_timeout=POOL_TIMEOUT)  # type: ignore[arg-type]
            return int(second.status)
        finally:
            held.close()  # its body never ends: no draining it


def _pool_httpx(url: str) -> int:
    import httpx

    limits = httpx.Limits(max_connections=1)
    timeout = httpx.Timeout(2.5, pool=POOL_TIMEOUT)
    with (
        httpx.Client(limits=limits, timeout=timeout, trust_env=False) as client,
        client.stream("GET", url),
    ):
        return client.get(url).status_code


def _pool_httpx_async(url: str) -> int:
    import httpx

    async def go() -> int:
        limits = httpx.Limits(max_connections=1)
        timeout = httpx.Timeout(2.5, pool=POOL_TIMEOUT)
        async with (
            httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False) as client,
            client.stream("GET", url),
        ):
            return (await client.get(url)).status_code

    return asyncio.run(go())


def _pool_aiohttp(url: str) -> int:
    import aiohttp

    async def go() -> int:
        connector = aiohttp.TCPConnector(limit=1)
        # aiohttp's connect timeout covers the wait for a pooled connection: the first
        # request gets a roomy one, the second the short wait this scenario is about.
        first = aiohttp.ClientTimeout(total=4.0, connect=2.5)
        timeout = aiohttp.ClientTimeout(total=4.0, connect=POOL_TIMEOUT)
        async with (
            aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False) as s,
            s.get(url, timeout=first),
            s.get(url) as second,
        ):
            return second.status

    return asyncio.run(go())


_POOL: dict[str, Callable[[str], int]] = {
    "urllib3": _pool_urllib3,
    "httpx": _pool_httpx,
    "httpx_async": _pool_httpx_async,
    "aiohttp": _pool_aiohttp,
}


def trigger(name: str, client: str, url: str) -> tuple[int | None, BaseException | None]:
    """Make the shortage and the request in this process: (status, None) or (None, error)."""
    try:
        if name == "pool_full":
            return _POOL[client](url), None
        fetch = _SHORT[client]
        if name == "fd_limit":
            # A first request with nothing squeezed loads every module the request path
            # imports on first use: importing needs descriptors too.
            fetch(url, contextlib.nullcontext)
            return fetch(url, _no_fds_left), None
        return fetch(url, lambda: _no_ports_left(url)), None
    except Exception as exc:  # what the client raised is the result
        return None, exc


def main(argv: list[str]) -> int:
    import warnings

    from tether.lab._lab import Scenario

    if len(argv) != 3 or argv[0] not in EXHAUSTED or argv[1] not in EXHAUSTED[argv[0]].clients:
        print("usage: python -m tether.lab._exhaust SCENARIO CLIENT URL", file=sys.stderr)
        return 2
    name, client, url = argv
    listener = None
    if name == "port_range":  # inside the namespace: the listener the held connections use
        parts = urlsplit(url)
        listener = socket.create_server((parts.hostname or "", parts.port or 80), backlog=64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # the clients' leaks, not ours
        status, exc = trigger(name, client, url)
    if listener is not None:
        listener.close()
    scenario = Scenario(name, url, Kind.CONNECT_RESOURCE_EXHAUSTED, EXHAUSTED[name].description)
    print(json.dumps(asdict(case_of(scenario, client, status, exc))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
