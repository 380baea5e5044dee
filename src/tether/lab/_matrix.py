"""The failure matrix: every lab scenario through every client, classified.

For each (scenario, client) the real request is made against the lab, and
what the client raised is recorded beside what :func:`tether.classify` makes
of it.  The tests assert the kinds; ``docs/matrix.md`` is written from the
same run.  Client libraries are imported only when their column runs.

DNS scenarios must go through the system resolver, which only speaks to port
53 of the servers in ``/etc/resolv.conf``: they run in a private network
namespace (``unshare``) whose resolv.conf names the lab's DNS server, see
:func:`run_in_netns`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tether._hostport import split_hostport
from tether._kinds import Kind
from tether.lab._cases import (
    CLIENTS,
    CONNECT_TIMEOUT,
    IPV6_BLACKHOLE,
    READ_TIMEOUT,
    TOTAL_TIMEOUT,
    Case,
    case_of,
)
from tether.lab._exhaust import EXHAUSTED, LOCAL, NETNS, PORT_RANGE_URL, run_exhausted
from tether.lab._lab import (
    BROWSER_SCENARIOS,
    DNSSEC_SCENARIOS,
    GRPC_SCENARIOS,
    SPECS,
    Lab,
    Scenario,
    full_backlog,
)

HANG_AFTER = 6.0  # a client still busy after this long is reported as hanging
UPLOAD = b"x" * (8 * 1024 * 1024)

DNS_SCENARIOS = frozenset(
    {
        "dns_nxdomain",
        "dns_nodata",
        "dns_dangling_cname",
        "dns_servfail",
        "dns_refused",
        "dns_silent",
    }
)

# Scenarios that only exist inside a namespace: routes the namespace adds, and
# malformed URLs (some clients send what they make of the host to the resolver,
# which there is the lab's).  name -> (url, kind, description, proxy).
NETNS_ROUTES: dict[str, tuple[str, Kind, str, str | None]] = {
    "host_unreachable": (
        "http://127.9.9.1:80/",
        Kind.CONNECT_UNREACHABLE,
        "a route of type unreachable (EHOSTUNREACH)",
        None,
    ),
    "net_unreachable": (
        "http://127.9.7.1:80/",
        Kind.CONNECT_UNREACHABLE,
        "a route of type throw (ENETUNREACH)",
        None,
    ),
    "prohibit_route": (
        "http://127.9.8.1:80/",
        Kind.CONNECT_UNREACHABLE,
        "a route of type prohibit (EACCES), as a VPN kill switch sets",
        None,
    ),
    "blackhole_route": (
        "http://127.9.6.1:80/",
        Kind.CONNECT_UNREACHABLE,
        "a route of type blackhole (EINVAL)",
        None,
    ),
}
# A namespace of its own whose resolv.conf names the address of systemd-resolved's stub,
# where nothing listens there: a container that copied the host's resolv.conf, a local
# stub that is not running.  Every query meets an ICMP port unreachable.
DEAD_RESOLVER = "127.0.0.53"
DEAD_RESOLVER_SCENARIOS: dict[str, tuple[str, Kind, str, str | None]] = {
    "dns_unreachable": (
        "http://ok.lab.test/",
        Kind.DNS_UNAVAILABLE,
        f"resolv.conf names {DEAD_RESOLVER}, where no resolver listens (port unreachable)",
        None,
    ),
}
# ok.lab.test has A 127.0.0.1 and AAAA ::1; in the namespace, the healthy server's port on
# ::1 drops SYNs (a full accept queue), as a broken IPv6 path does.  A delay, not a failure:
# clients that try IPv6 first arrive a whole connect timeout late, those that race the
# two (Happy Eyeballs, RFC 8305) a quarter of a second late.
NETNS_ONLY: dict[str, tuple[str, Kind | None, str, str | None]] = {
    **NETNS_ROUTES,
    **DEAD_RESOLVER_SCENARIOS,
    IPV6_BLACKHOLE: (
        "http://ok.lab.test:PORT/",  # the lab's healthy port, known when the lab starts
        None,
        "a dual-stack name whose IPv6 address drops SYNs; its IPv4 address answers",
        None,
    ),
    "url_space": ("http://bad host/", Kind.URL_INVALID, "a space in the host", None),
    "url_bad_scheme": ("htp://127.0.0.1/", Kind.URL_INVALID, "a misspelt scheme", None),
    "url_bad_port": ("http://127.0.0.1:99999/", Kind.URL_INVALID, "a port above 65535", None),
    "url_no_host": ("http:///path", Kind.URL_INVALID, "an empty host", None),
    "url_unencoded": (
        "http://user:p#ss@127.0.0.1/",
        Kind.URL_INVALID,
        "a password with a # that is not percent-encoded",
        None,
    ),
    "proxy_nxdomain": (
        "http://127.0.0.1:80/",
        Kind.PROXY_UNREACHABLE,
        "the proxy's name does not resolve",
        "http://proxy.nx.lab.test:3128",
    ),
    # Runs in a namespace of its own, made inside this one (tether.lab._exhaust).
    **{
        name: (PORT_RANGE_URL, Kind.CONNECT_RESOURCE_EXHAUSTED, EXHAUSTED[name].description, None)
        for name in NETNS
    },
}
NETNS_SCENARIOS = (*(n for n, *_ in SPECS if n in DNS_SCENARIOS), *NETNS_ONLY)
# Scenarios left out of the matrix: they change with time, or are healthy variants
# (the latencies, the one-in-ten stall and the loaded server answer 200).
SKIPPED = frozenset(
    {
        "flapping",
        "latency",
        "stall_one_in_ten",
        "load_latency",
        *GRPC_SCENARIOS,
        *BROWSER_SCENARIOS,
        *DNSSEC_SCENARIOS,
    }
)
"""Not cells of the matrix: scenarios about time, the grpc:// ones (a gRPC health
check's, which HTTP/1.1 clients cannot make), the page_* ones (every HTTP client
gets their page with a 200: their faults are in the page's scripts, which only a
browser check runs) and the dnssec_* ones (a dns:// check's validation, which no HTTP
client does: tests/lab/test_lab_dnssec.py probes them)."""
# The raw socket client speaks no HTTP: it sees only what breaks the connection.
SOCKET_SCENARIOS = frozenset(
    {
        "healthy",
        "tls_ok",
        "refused",
        "blackhole",
        "reset_on_accept",
        "reset_mid_body",
        "stall_headers",
        "tls_expired",
        "tls_not_yet_valid",
        "tls_self_signed",
        "tls_unknown_ca",
        "tls_wrong_host",
        "tls_to_plain",
        "tls_version",
        "tls_stall",
        "tls_no_cipher",
        "tls_client_cert",
        "tls_eof",
        "tls_no_intermediate",
        "tls_expired_intermediate",
        "tls_weak_key",
        "tls_expired_root",
        "upload_early_close",
        "upload_stall",
        *DNS_SCENARIOS,
        *DEAD_RESOLVER_SCENARIOS,
        IPV6_BLACKHOLE,
        *NETNS_ROUTES,
    }
)


def applies(scenario: Scenario, client: str, *, netns: bool = False) -> bool:
    """Whether the pair makes sense, and is safe where it runs.

    Outside a namespace a lab name (``nx.lab.test``) must never reach the
    system resolver, which would forward it to the machine's configured DNS
    server: there, only the dnspython client asks the lab's resolver directly.
    """
    if scenario.name in SKIPPED:
        return False
    if scenario.name in EXHAUSTED:
        return client in EXHAUSTED[scenario.name].clients
    if scenario.name in DNS_SCENARIOS and (client == "dnspython") == netns:
        return False
    if client == "socket":
        return scenario.name in SOCKET_SCENARIOS and scenario.proxy is None
    if client == "dnspython":  # asks the lab's resolver directly: no namespace needed
        return scenario.name in DNS_SCENARIOS or scenario.name in DEAD_RESOLVER_SCENARIOS
    return True


# --- the clients ------------------------------------------------------------------------
# Each makes the scenario's request the way a careful user would (timeouts set,
# the lab CA trusted, environment proxies ignored) and returns the HTTP status.


def _body(s: Scenario) -> bytes | None:
    return UPLOAD if s.method == "POST" else None


def _ca_file(s: Scenario, lab: Lab) -> str:
    """The CA the client trusts: the lab's, or the scenario's own (an expired root)."""
    return s.ca_file or lab.ca_file


def _context(s: Scenario, lab: Lab) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=_ca_file(s, lab))


def _requests(s: Scenario, lab: Lab) -> int:
    import requests

    with requests.Session() as session:
        session.trust_env = False
        proxies = {"http": s.proxy, "https": s.proxy} if s.proxy else None
        r = session.request(
            s.method,
            s.url,
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            verify=_ca_file(s, lab),
            proxies=proxies,
            data=_body(s),
        )
        r.raise_for_status()
        return r.status_code


def _urllib3(s: Scenario, lab: Lab) -> int:
    import urllib3

    retries = urllib3.Retry(total=10, connect=0, read=0, status=0, other=0, redirect=10)
    pool = (
        urllib3.ProxyManager(s.proxy, ca_certs=_ca_file(s, lab))
        if s.proxy
        else urllib3.PoolManager(ca_certs=_ca_file(s, lab))
    )
    with pool:
        r = pool.request(
            s.method,
            s.url,
            body=_body(s),
            retries=retries,
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT),
        )
        return int(r.status)


def _httpx(s: Scenario, lab: Lab) -> int:
    import httpx

    timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
    with httpx.Client(
        verify=_context(s, lab),
        proxy=s.proxy,
        timeout=timeout,
        follow_redirects=True,
        trust_env=False,
    ) as client:
        r = client.request(s.method, s.url, content=_body(s))
        r.raise_for_status()
        return r.status_code


def _httpx_async(s: Scenario, lab: Lab) -> int:
    import httpx

    async def go() -> int:
        timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
        async with httpx.AsyncClient(
            verify=_context(s, lab),
            proxy=s.proxy,
            timeout=timeout,
            follow_redirects=True,
            trust_env=False,
        ) as client:
            r = await client.request(s.method, s.url, content=_body(s))
            r.raise_for_status()
            return r.status_code

    return asyncio.run(go())


def _aiohttp(s: Scenario, lab: Lab) -> int:
    import aiohttp

    async def go() -> int:
        timeout = aiohttp.ClientTimeout(
            total=TOTAL_TIMEOUT, sock_connect=CONNECT_TIMEOUT, sock_read=READ_TIMEOUT
        )
        async with (
            aiohttp.ClientSession(timeout=timeout, trust_env=False) as session,
            session.request(
                s.method,
                s.url,
                ssl=_context(s, lab),
                proxy=s.proxy,
                data=_body(s),
                raise_for_status=True,
            ) as r,
        ):
            await r.read()
            return r.status

    return asyncio.run(go())


def _urllib(s: Scenario, lab: Lab) -> int:
    import urllib.request

    proxies = {"http": s.proxy, "https": s.proxy} if s.proxy else {}
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler(proxies),
        urllib.request.HTTPSHandler(context=_context(s, lab)),
    )
    request = urllib.request.Request(s.url, data=_body(s), method=s.method)
    with opener.open(request, timeout=READ_TIMEOUT) as r:
        r.read()
        return int(r.status)


def _socket(s: Scenario, lab: Lab) -> int:
    """A raw socket (and ssl) client: connect, send, read until the peer closes."""
    parts = urlsplit(s.url)
    host, port = parts.hostname or "", parts.port or 80
    sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
    try:
        sock.settimeout(READ_TIMEOUT)
        if parts.scheme == "https":
            sock = _context(s, lab).wrap_socket(sock, server_hostname=host)
        body = _body(s) or b""
        head = (
            f"{s.method} {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(head.encode() + body)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/") else 0
    finally:
        sock.close()


def _dnspython(s: Scenario, lab: Lab) -> int:
    """Resolve the URL's name at the scenario's or the lab's DNS server (never the system's)."""
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    host, port = split_hostport(s.resolver or lab.resolver)
    resolver.nameservers = [host]
    resolver.port = port
    resolver.lifetime = READ_TIMEOUT
    name = urlsplit(s.url).hostname or ""
    if name.replace(".", "").isdigit():  # an address needs no resolving
        return 0
    resolver.resolve(name, "A")
    return 0


_FETCH: dict[str, Callable[[Scenario, Lab], int]] = {
    "requests": _requests,
    "urllib3": _urllib3,
    "httpx": _httpx,
    "httpx_async": _httpx_async,
    "aiohttp": _aiohttp,
    "urllib": _urllib,
    "socket": _socket,
    "dnspython": _dnspython,
}


def available(client: str) -> bool:
    """Whether the client's library is installed."""
    module = {"httpx_async": "httpx", "dnspython": "dns.resolver"}.get(client, client)
    try:
        __import__(module)
    except ImportError:
        return False
    return True


# --- running ---------------------------------------------------------------------------


def trigger(scenario: Scenario, client: str, lab: Lab) -> tuple[int | None, BaseException | None]:
    """Make the request; return (status, None), (None, exception), or (None, None) on a hang."""
    result: list[tuple[int | None, BaseException | None]] = []

    def run() -> None:
        try:
            result.append((_FETCH[client](scenario, lab), None))
        except BaseException as exc:  # the whole point is to catch what clients raise
            result.append((None, exc))

    worker = threading.Thread(target=run, name=f"matrix-{client}", daemon=True)
    worker.start()
    worker.join(HANG_AFTER)
    return result[0] if result else (None, None)


def run_case(scenario: Scenario, client: str, lab: Lab) -> tuple[Case, BaseException | None]:
    if scenario.name in EXHAUSTED:  # made in a child process, which reports the case
        return run_exhausted(scenario, client), None
    started = time.monotonic()
    status, exc = trigger(scenario, client, lab)
    elapsed = round(time.monotonic() - started, 3)
    return case_of(scenario, client, status, exc, elapsed=elapsed), exc


def scenarios_for(lab: Lab, names: Iterable[str]) -> list[Scenario]:
    out = []
    for name in names:
        if name in NETNS_ONLY:
            url, kind, description, proxy = NETNS_ONLY[name]
            url = url.replace("PORT", str(lab["healthy"].port))
            resolver = f"{DEAD_RESOLVER}:53" if name in DEAD_RESOLVER_SCENARIOS else None
            out.append(
                Scenario(
                    name=name,
                    url=url,
                    kind=kind,
                    description=description,
                    proxy=proxy,
                    resolver=resolver,
                )
            )
        elif name in LOCAL:  # a client short of something, asking a lab server
            exhaustion = EXHAUSTED[name]
            base = lab[exhaustion.base or "healthy"].url
            kind = Kind.CONNECT_RESOURCE_EXHAUSTED
            out.append(Scenario(name=name, url=base, kind=kind, description=exhaustion.description))
        else:
            out.append(lab[name])
    return out


def run_matrix(
    lab: Lab,
    names: Iterable[str] | None = None,
    clients: Iterable[str] = CLIENTS,
    *,
    workers: int = 12,
) -> list[Case]:
    """Run every applicable (scenario, client) pair, ``workers`` at a time.

    The pairs are independent (each client makes its own connections), and
    most of the time goes on waiting for timeouts, so they run concurrently.
    """
    every = [*lab.scenarios, *LOCAL]
    chosen = [n for n in (names or every) if n not in NETNS_SCENARIOS or n in DNS_SCENARIOS]
    return _run_all(lab, scenarios_for(lab, chosen), list(clients), workers, netns=False)


def _run_all(
    lab: Lab, scenarios: list[Scenario], clients: list[str], workers: int, *, netns: bool
) -> list[Case]:
    pairs = [
        (s, c) for s in scenarios for c in clients if applies(s, c, netns=netns) and available(c)
    ]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="matrix") as pool:
        return list(pool.map(lambda pair: run_case(pair[0], pair[1], lab)[0], pairs))


# --- inside a network namespace ------------------------------------------------------------


def netns_available() -> str | None:
    """None when a private network namespace can be made here, else why not."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare or ip (iproute2) is not installed"
    probe = subprocess.run(["unshare", "-rmn", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        return f"unshare -rmn failed: {probe.stderr.decode().strip()}"
    return None


_SETUP = """set -e
ip link set lo up
ip route add unreachable 127.9.9.0/24 table local
ip route add throw 127.9.7.0/24 table local
ip route add prohibit 127.9.8.0/24 table local
ip route add blackhole 127.9.6.0/24 table local
mount --bind "$RESOLV" /etc/resolv.conf
exec "$PYTHON" -m tether.lab._matrix --child "$CLIENTS" "$SCENARIOS"
"""
_LAB_RESOLV = "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"
# glibc's own timeouts (5 s, twice): a refused query fails at once, and one that went
# unanswered would outlast HANG_AFTER, so the two cannot pass for each other.
_DEAD_RESOLV = f"nameserver {DEAD_RESOLVER}\n"


def run_in_netns(clients: Iterable[str] = CLIENTS, timeout: float = 300) -> list[Case]:
    """Run the namespace-only scenarios in fresh ``unshare -rmn`` namespaces.

    Inside, the lab's DNS server listens on 127.0.0.1:53 and resolv.conf names
    it, so ``getaddrinfo`` (and every client above it) asks the lab and nothing
    else: the namespace has no route anywhere but loopback.  The scenarios of
    :data:`DEAD_RESOLVER_SCENARIOS` run in a second namespace, whose resolv.conf
    names :data:`DEAD_RESOLVER` instead.
    """
    clients = list(clients)
    live = [n for n in NETNS_SCENARIOS if n not in DEAD_RESOLVER_SCENARIOS]
    return [
        *_netns_run(_LAB_RESOLV, live, clients, timeout),
        *_netns_run(_DEAD_RESOLV, list(DEAD_RESOLVER_SCENARIOS), clients, timeout),
    ]


def _netns_run(
    resolv_conf: str, names: list[str], clients: list[str], timeout: float
) -> list[Case]:
    with tempfile.TemporaryDirectory(prefix="tether-netns-") as tmp:
        resolv = Path(tmp) / "resolv.conf"
        resolv.write_text(resolv_conf)
        env = {
            **os.environ,
            "RESOLV": str(resolv),
            "PYTHON": sys.executable,
            "CLIENTS": ",".join(clients),
            "SCENARIOS": ",".join(names),
        }
        proc = subprocess.run(
            ["unshare", "-rmn", "sh", "-c", _SETUP],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"the namespace run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return [Case(**json.loads(line)) for line in proc.stdout.splitlines() if line.startswith("{")]


# getaddrinfo keeps the low 16 bits of url_bad_port's port.  In the namespace, a socket
# bound there (never listening) holds that port before the lab starts, so no lab server
# takes it as an ephemeral port and a connection to it is refused, as the table says.
_TRUNCATED_PORT = 99999 & 0xFFFF


DRIP_INTERVAL = 0.25
"""slow_drip's interval in the matrix: well inside the read timeout, on a loaded machine too."""


def matrix_lab(*, dns_port: int = 0) -> Lab:
    """The lab the matrix runs against, in the namespace or not: its drip at ``DRIP_INTERVAL``.

    At the lab's default 1 s, a loaded machine delayed a byte past the 1.5 s read
    timeout now and then, and a call the table says hangs failed with ``read.timeout``.
    """
    return Lab(dns_port=dns_port, drip_interval=DRIP_INTERVAL)


def _child(clients: list[str], names: list[str]) -> None:
    with contextlib.ExitStack() as reserved:
        if "url_bad_port" in names:
            sock = reserved.enter_context(socket.socket())
            sock.bind(("127.0.0.1", _TRUNCATED_PORT))
        _child_run(clients, names)


def _child_run(clients: list[str], names: list[str]) -> None:
    with matrix_lab(dns_port=53) as lab, contextlib.ExitStack() as held:
        if IPV6_BLACKHOLE in names:
            for sock in full_backlog("::1", lab["healthy"].port):
                held.enter_context(sock)
        for case in _run_all(lab, scenarios_for(lab, names), clients, 12, netns=True):
            print(json.dumps(asdict(case)), flush=True)


def main(argv: list[str]) -> Any:
    if argv[:1] == ["--child"]:
        _child(argv[1].split(","), argv[2].split(","))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


def matrix_markdown(cases: list[Case]) -> str:
    """The matrix as Markdown: the content of ``docs/matrix.md``."""
    import importlib.metadata as md

    def version(dist: str) -> str:
        try:
            return f"{dist} {md.version(dist)}"
        except md.PackageNotFoundError:
            return f"{dist} (not installed)"

    clients = sorted({c.client for c in cases}, key=CLIENTS.index)
    order = [name for name, *_ in __import__("tether.lab._lab", fromlist=["SPECS"]).SPECS]
    order += [*LOCAL, *NETNS_ONLY]
    agree = sum(c.agrees for c in cases)
    out = [
        "# The failure matrix",
        "",
        "<!-- Generated by `tether lab --matrix --markdown`. Do not edit: a test compares it "
        "with a fresh run. -->",
        "",
        "Every fault-lab scenario, triggered for real on loopback through each client library, "
        "beside what `tether.classify` makes of it. DNS and unreachable-route scenarios ran in a "
        "private network namespace whose resolver is the lab's (`dnspython` asks the lab's "
        "resolver directly, outside the namespace); dns_unreachable ran in a second namespace, "
        "whose resolv.conf names an address where no resolver listens. ipv6_blackhole (also in "
        "the namespace) is a delay, not a failure: its notes say how late each client is. "
        "fd_limit, pool_full and port_range run "
        "each client in a child process short of file descriptors, pooled connections or "
        "local ports (port_range in a namespace of its own).",
        "",
        f"Clients: {', '.join(clients)}. Versions: "
        + ", ".join(
            version(d) for d in ("requests", "urllib3", "httpx", "httpcore", "aiohttp", "dnspython")
        )
        + f", Python {sys.version.split()[0]}. Timeouts: connect {CONNECT_TIMEOUT:g} s, "
        f"read {READ_TIMEOUT:g} s, aiohttp total {TOTAL_TIMEOUT:g} s; slow_drip sends a byte "
        f"every {DRIP_INTERVAL:g} s.",
        "",
        f"**{len(cases)} cases, {agree} classified as expected.** Where a library throws away "
        "the fact tether needs, the expected kind is the best that can honestly be said, and "
        "the note says what was lost.",
        "",
        "| scenario | client | what the client raised | its message | tether says | note |",
        "|---|---|---|---|---|---|",
    ]
    ranked = sorted(
        cases,
        key=lambda c: (
            order.index(c.scenario) if c.scenario in order else 99,
            CLIENTS.index(c.client),
        ),
    )
    for c in ranked:
        raised = c.raised or {
            "hang": f"(still running after {HANG_AFTER:g} s)",
            "ok": "(nothing)",
            "status": "(nothing)",
        }.get(c.outcome, "")
        said = f"`{c.kind}`" if c.kind else "ok"
        if not c.agrees:
            said += f" (expected `{c.expected}`)"
        message = (c.message or "").replace("|", "\\|")
        out.append(
            f"| {c.scenario} | {c.client} | {raised} | {message} | {said} | {c.note or ''} |"
        )
    return "\n".join(out) + "\n"


def planned(*, netns: bool) -> list[tuple[str, str]]:
    """The (scenario, client) pairs a run makes, known before any lab starts."""
    names = (
        NETNS_SCENARIOS
        if netns
        else [n for n, *_ in SPECS if n not in NETNS_SCENARIOS or n in DNS_SCENARIOS] + [*LOCAL]
    )
    pairs = []
    for name in names:
        stub = Scenario(
            name=name,
            url="",
            kind=None,
            description="",
            proxy="stub" if name.startswith("proxy_") else None,
        )
        pairs += [(name, c) for c in CLIENTS if applies(stub, c, netns=netns)]
    return pairs
