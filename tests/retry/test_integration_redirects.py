"""Credential headers stay on their origin through the integrations' redirects.

``tether.Session`` (requests), the httpx ``Transport`` and ``AsyncTransport``, and the
aiohttp ``session()`` and ``middleware()`` follow a redirect as their library does, and
drop every credential header (``Authorization``, ``Proxy-Authorization``, ``Cookie``,
``X-Api-Key``, ``X-Auth-Token``, any name that says it is a secret, and those a policy's
``sensitive_headers`` adds) once the chain leaves the first URL's scheme, host or port.
Real servers record what arrives: 127.0.0.1 and 127.0.0.2 are two hosts, a second port
on 127.0.0.1 another origin, and one port that speaks both http and https (it looks at
the first byte) makes a change of scheme alone.  The bare library is the yardstick for
what a redirect on the origin keeps.  This module is in the oldest-clients run (.ci/run).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import aiohttp
import httpx
import pytest
import requests
import trustme

import tether
from tether._sensitive import drop_sensitive, same_origin
from tether.integrations import aiohttp as tether_aiohttp
from tether.integrations.httpx import AsyncTransport, Transport

SECRET = "zz-redirect-secret-5d1e"
CREDENTIALS = {
    "Authorization": f"Bearer {SECRET}",
    "Proxy-Authorization": f"Basic {SECRET}",
    "Cookie": f"user={SECRET}",
    "X-Api-Key": SECRET,
    "X-Auth-Token": SECRET,
    "X-Vault-Token": SECRET,
}
SENT = {**CREDENTIALS, "X-Trace": "t-1"}
CLIENTS = ["requests", "httpx", "httpx-async", "aiohttp-session", "aiohttp-middleware"]


@dataclass
class Seen:
    scheme: str
    path: str
    headers: dict[str, str]


@dataclass
class Server:
    """A loopback server on ``host`` answering ``routes`` (path -> status, Location,
    Set-Cookie) over http and https on one port, recording every request."""

    host: str
    leaf: trustme.LeafCert
    routes: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    first: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    """Answers given once, before ``routes``: a path's first request gets its own."""

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.seen.append(Seen(scheme, self.path, headers))
                answer = server.first.pop(self.path, None) or server.routes.get(self.path)
                status, location, cookie = answer or (200, "", "")
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                if cookie:
                    self.send_header("Set-Cookie", cookie)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.leaf.configure_cert(context)

        class Both(ThreadingHTTPServer):
            daemon_threads = True

            def finish_request(self, request: Any, client_address: Any) -> None:
                # A TLS ClientHello starts with 0x16; anything else is plain HTTP.
                request.settimeout(5)
                if request.recv(1, socket.MSG_PEEK) != b"\x16":
                    Handler(request, client_address, self)
                    return
                with context.wrap_socket(request, server_side=True) as tls:
                    Handler(tls, client_address, self)

        self.httpd = Both((self.host, 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,))
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture(scope="module")
def leaf(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("127.0.0.1", "127.0.0.2")


@pytest.fixture
def servers(leaf: trustme.LeafCert) -> Iterator[tuple[Server, Server, Server]]:
    """The origin (127.0.0.1), another host (127.0.0.2), another port on the origin."""
    made = (Server("127.0.0.1", leaf), Server("127.0.0.2", leaf), Server("127.0.0.1", leaf))
    for s in made:
        s.start()
    try:
        yield made
    finally:
        for s in made:
            s.stop()


Fetch = Callable[[list[str], dict[str, str]], None]


@pytest.fixture
def fetcher(ca: trustme.CA, cafile: str) -> Callable[[str, tether.RetryPolicy | None], Fetch]:
    """``fetcher(client, policy)(urls, headers)``: GET each URL in turn, with ``headers``,
    following redirects, through one session of ``client`` (tether's unless ``policy``
    is None: then the bare library)."""
    context = ssl.create_default_context()
    ca.configure_trust(context)

    def make(client: str, policy: tether.RetryPolicy | None) -> Fetch:
        def sync(urls: list[str], headers: dict[str, str]) -> None:
            if client == "requests":
                with tether.Session(policy) if policy else requests.Session() as s:
                    for url in urls:  # verify= per request: REQUESTS_CA_BUNDLE beats s.verify
                        s.get(url, headers=headers, verify=cafile).raise_for_status()
                return
            transport = Transport(policy, verify=context) if policy else None
            with httpx.Client(transport=transport, verify=context) as c:
                for url in urls:
                    c.get(url, headers=headers, follow_redirects=True).raise_for_status()

        async def run(urls: list[str], headers: dict[str, str]) -> None:
            if client == "httpx-async":
                transport = AsyncTransport(policy, verify=context) if policy else None
                async with httpx.AsyncClient(transport=transport, verify=context) as c:
                    for url in urls:
                        r = await c.get(url, headers=headers, follow_redirects=True)
                        r.raise_for_status()
                return
            jar = aiohttp.CookieJar(unsafe=True)  # the jar refuses IP hosts' cookies otherwise
            s: Any
            if policy and client == "aiohttp-session":
                s = tether_aiohttp.session(policy, cookie_jar=jar)
            else:
                chain = [tether_aiohttp.middleware(policy)] if policy else []
                s = aiohttp.ClientSession(middlewares=chain, cookie_jar=jar)
            async with s:
                for url in urls:
                    async with s.get(url, headers=headers, ssl=context) as r:
                        r.raise_for_status()

        if client in ("requests", "httpx"):
            return sync
        return lambda urls, headers: asyncio.run(run(urls, headers))

    return make


POLICY = tether.RetryPolicy(attempts=1)


def _landed(server: Server, path: str = "/landing") -> Seen:
    (seen,) = [s for s in server.seen if s.path == path]
    return seen


@pytest.mark.parametrize("client", CLIENTS)
def test_another_host_gets_none_of_the_credentials(
    client: str, servers: tuple[Server, Server, Server], fetcher: Any
) -> None:
    """A 302 from 127.0.0.1 to 127.0.0.2: the first hop had every credential header, the
    second none of them, and the other headers still."""
    origin, other, _ = servers
    origin.routes = {"/away": (302, f"{other.url}/landing", "")}
    fetcher(client, POLICY)([f"{origin.url}/away"], SENT)
    first = _landed(origin, "/away")
    for name, value in CREDENTIALS.items():
        assert first.headers[name.lower()] == value
    there = _landed(other)
    assert there.headers["x-trace"] == "t-1"
    assert SECRET not in repr(there.headers)


@pytest.mark.parametrize("client", CLIENTS)
def test_another_port_gets_none_of_the_credentials(
    client: str, servers: tuple[Server, Server, Server], fetcher: Any
) -> None:
    """127.0.0.1:A redirecting to 127.0.0.1:B carries no credential to B."""
    origin, _, port = servers
    origin.routes = {"/away": (302, f"{port.url}/landing", "")}
    fetcher(client, POLICY)([f"{origin.url}/away"], SENT)
    there = _landed(port)
    assert there.headers["x-trace"] == "t-1"
    assert SECRET not in repr(there.headers)


@pytest.mark.parametrize("client", CLIENTS)
def test_another_scheme_gets_none_of_the_credentials(
    client: str, servers: tuple[Server, Server, Server], fetcher: Any
) -> None:
    """http://127.0.0.1:P to https://127.0.0.1:P (the scheme alone changes) is another
    origin: none of the credentials go over the new scheme."""
    origin, _, _ = servers
    secure = f"https://{origin.host}:{origin.port}"
    origin.routes = {"/up": (302, f"{secure}/landing", "")}
    fetcher(client, POLICY)([f"{origin.url}/up"], SENT)
    there = _landed(origin)
    assert there.scheme == "https"
    assert there.headers["x-trace"] == "t-1"
    assert SECRET not in repr(there.headers)


@pytest.mark.parametrize("client", CLIENTS)
def test_the_origin_keeps_what_the_bare_library_keeps(
    client: str, servers: tuple[Server, Server, Server], fetcher: Any
) -> None:
    """A redirect to another path of the origin sends the same credential headers through
    tether as through the bare library (X-Api-Key and Authorization among them): the
    rule drops nothing on the origin."""
    origin, _, _ = servers
    origin.routes = {"/here": (302, "/landing", "")}
    fetcher(client, None)([f"{origin.url}/here"], SENT)
    fetcher(client, POLICY)([f"{origin.url}/here"], SENT)
    bare, ours = [s.headers for s in origin.seen if s.path == "/landing"]
    names = {n.lower() for n in CREDENTIALS}
    kept = {k: v for k, v in ours.items() if k in names}
    assert kept == {k: v for k, v in bare.items() if k in names}
    assert kept["x-api-key"] == kept["x-auth-token"] == SECRET
    assert kept["authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize("client", CLIENTS)
def test_a_header_the_policy_names_stays_on_the_origin(
    client: str, servers: tuple[Server, Server, Server], fetcher: Any
) -> None:
    """``RetryPolicy(sensitive_headers={"X-Tenant"})``: X-Tenant follows a redirect on the
    origin and is dropped on one to another host."""
    origin, other, _ = servers
    origin.routes = {"/here": (302, "/landing", ""), "/away": (302, f"{other.url}/landing", "")}
    policy = POLICY.replace(sensitive_headers={"X-Tenant"})
    fetch = fetcher(client, policy)
    fetch([f"{origin.url}/here", f"{origin.url}/away"], {"X-Tenant": SECRET, "X-Trace": "t-1"})
    assert _landed(origin).headers["x-tenant"] == SECRET
    there = _landed(other)
    assert there.headers["x-trace"] == "t-1"
    assert "x-tenant" not in there.headers


@pytest.mark.parametrize("client", CLIENTS)
def test_a_chain_that_comes_back_does_not_get_them_back(
    client: str, servers: tuple[Server, Server, Server], fetcher: Any
) -> None:
    """127.0.0.1 -> 127.0.0.2 -> 127.0.0.1: once the chain has left the origin, the hop
    back to it (at a path the other host chose) carries no credential either."""
    origin, other, _ = servers
    origin.routes = {"/away": (302, f"{other.url}/back", "")}
    other.routes = {"/back": (302, f"{origin.url}/landing", "")}
    fetcher(client, POLICY)([f"{origin.url}/away"], SENT)
    assert SECRET not in repr(_landed(other, "/back").headers)
    back = _landed(origin)
    assert back.headers["x-trace"] == "t-1"
    assert SECRET not in repr(back.headers)


async def _no_sleep(_seconds: float) -> None:
    return None


@pytest.mark.parametrize("client", CLIENTS)
def test_a_chain_whose_first_hop_was_retried_keeps_the_rule(
    client: str, servers: tuple[Server, Server, Server], fetcher: Any
) -> None:
    """The first hop answers 503 once, and its retry the redirect to 127.0.0.2: the chain
    starts in the retry loop rather than on the first attempt's path (the httpx
    transports make a chain only once a hop is redirected), and the hop away still
    carries no credential."""
    origin, other, _ = servers
    origin.first = {"/away": (503, "", "")}
    origin.routes = {"/away": (302, f"{other.url}/landing", "")}
    policy = tether.RetryPolicy(
        attempts=2, sleep=lambda _s: None, async_sleep=_no_sleep, budget=None
    )
    fetcher(client, policy)([f"{origin.url}/away"], SENT)
    assert [s.path for s in origin.seen] == ["/away", "/away"]
    there = _landed(other)
    assert there.headers["x-trace"] == "t-1"
    assert SECRET not in repr(there.headers)


@pytest.mark.parametrize("client", CLIENTS)
def test_the_other_hosts_own_cookies_still_go_to_it(
    client: str, servers: tuple[Server, Server, Server], fetcher: Any
) -> None:
    """The session's cookie jar still sends 127.0.0.2 the cookie 127.0.0.2 set: only what
    the caller wrote in ``Cookie`` is dropped on the way there."""
    origin, other, _ = servers
    other.routes = {"/set": (200, "", "jar=from-other; Path=/")}
    origin.routes = {"/away": (302, f"{other.url}/landing", "")}
    fetcher(client, POLICY)([f"{other.url}/set", f"{origin.url}/away"], SENT)
    there = _landed(other)
    assert there.headers["cookie"] == "jar=from-other"
    assert SECRET not in repr(there.headers)


def test_extensions_copied_from_an_ended_chain_start_a_new_one(
    servers: tuple[Server, Server, Server], ca: trustme.CA
) -> None:
    """httpx: a request made with the extensions of the last hop of a chain (which
    carry the chain) is a chain of its own, so 127.0.0.2, which that chain had left
    127.0.0.1 for, still gets the credentials the new request is sent with."""
    origin, other, _ = servers
    origin.routes = {"/away": (302, f"{other.url}/landing", "")}
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with httpx.Client(transport=Transport(POLICY, verify=context), verify=context) as c:
        last = c.get(f"{origin.url}/away", headers=SENT, follow_redirects=True)
        assert "tether.redirect_chain" in last.request.extensions
        again = c.build_request(
            "GET", f"{other.url}/again", headers=SENT, extensions=last.request.extensions
        )
        c.send(again).raise_for_status()
    assert _landed(other, "/again").headers["x-api-key"] == SECRET


# --- the rule itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "then", "same"),
    [
        ("http://h/a", "http://h:80/b", True),  # the default port, written or not
        ("HTTPS://H/a", "https://h:443/", True),
        ("http://h/", "https://h/", False),  # the upgrade requests and httpx allow
        ("http://h:8080/", "http://h:8081/", False),
        ("http://h/", "http://g/", False),
        ("http://[::1]:8080/", "http://[::1]:8080/x", True),
        ("http://h:99999/", "http://h:99999/", False),  # no valid origin: never the same
    ],
)
def test_an_origin_is_scheme_host_and_port(first: str, then: str, same: bool) -> None:
    """Scheme, host and port, case folded and the default port filled in, decide."""
    assert same_origin(first, then) is same


def test_the_probe_and_the_integrations_drop_the_same_names() -> None:
    """One list: the names the probe leaves behind are the names the integrations drop,
    and a policy's own names come on top."""
    headers = {**SENT, "Idempotency-Key": "k", "X-Tenant": "t", "Accept": "*/*"}
    drop_sensitive(headers, frozenset({"x-tenant"}))
    assert headers == {"X-Trace": "t-1", "Accept": "*/*"}


def test_a_requests_own_middlewares_keep_the_rule(servers: tuple[Server, Server, Server]) -> None:
    """aiohttp's ``middlewares=`` on one request replaces the session's chain; through
    ``session()`` the rule still holds for that request."""
    origin, other, _ = servers
    origin.routes = {"/away": (302, f"{other.url}/landing", "")}

    async def main() -> None:
        async with (
            tether_aiohttp.session(POLICY) as s,
            s.get(f"{origin.url}/away", headers=SENT, middlewares=()) as r,
        ):
            assert r.status == 200

    asyncio.run(main())
    there = _landed(other)
    assert there.headers["x-trace"] == "t-1"
    assert SECRET not in repr(there.headers)
