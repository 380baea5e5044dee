"""Redirects and credentials in the probe engine (diagnose and the monitor share it).

Credential headers (``Authorization``, ``Cookie``, ``X-Api-Key``, any header whose name
says token/key/secret...) and a URL's own ``user:password@`` go to the first URL's origin
only; a body goes to another origin never; only http:// and https:// redirects are
followed.  "Another host" is mostly a real second server on 127.0.0.2 (127.0.0.1 and
127.0.0.2 are different hosts to the engine, as two machines would be); the last test
makes a network namespace of its own with two addresses, 10.77.0.1 and 10.77.0.2, and
redirects between them on the same port.
"""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tether.probe import ProbeOptions, probe
from tether.probe._engine import _keeps_credentials

SECRET = "zz-marker-8c1f"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    """A loopback HTTP server on ``host`` answering ``routes`` (path -> status, Location)
    and recording every request it gets."""

    host: str
    routes: dict[str, tuple[int, str]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.seen.append(Seen(self.command, self.path, headers, body))
                status, location = server.routes.get(self.path, (200, ""))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_HEAD = handle_one

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer((self.host, 0), Handler)
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


@pytest.fixture
def servers() -> Iterator[tuple[Server, Server, Server]]:
    """The origin (127.0.0.1), another host (127.0.0.2), and another port on the origin."""
    made = (Server("127.0.0.1"), Server("127.0.0.2"), Server("127.0.0.1"))
    for s in made:
        s.start()
    try:
        yield made
    finally:
        for s in made:
            s.stop()


CREDENTIALS = (
    ("Authorization", f"Bearer {SECRET}"),
    ("X-Api-Key", SECRET),
    ("Cookie", f"session={SECRET}"),
    ("X-Vault-Token", SECRET),
)


def _options(**kwargs: object) -> ProbeOptions:
    return ProbeOptions(timeout=2, deadline=10, env={}, **kwargs)  # type: ignore[arg-type]


def test_credential_headers_stay_on_the_origin(servers: tuple[Server, Server, Server]) -> None:
    """A 302 to another path of the origin keeps the credential headers; one to another
    host drops them all and keeps the rest."""
    origin, other, _ = servers
    origin.routes = {"/here": (302, "/landing"), "/away": (302, f"{other.url}/landing")}
    headers = (*CREDENTIALS, ("X-Trace", "t-1"))
    assert probe(f"{origin.url}/here", _options(headers=headers)).ok
    assert probe(f"{origin.url}/away", _options(headers=headers)).ok
    first, landing, away = origin.seen
    assert landing.path == "/landing"
    for name, value in CREDENTIALS:
        assert first.headers[name.lower()] == value
        assert landing.headers[name.lower()] == value  # same origin: kept
        assert away.headers[name.lower()] == value
    (there,) = other.seen
    assert there.path == "/landing"
    assert there.headers["x-trace"] == "t-1"
    assert SECRET not in repr(there.headers)


def test_another_port_on_the_same_host_is_another_origin(
    servers: tuple[Server, Server, Server],
) -> None:
    """127.0.0.1:A redirecting to 127.0.0.1:B does not carry the credentials to B."""
    origin, _, port = servers
    origin.routes = {"/": (302, f"{port.url}/x")}
    assert probe(origin.url, _options(headers=CREDENTIALS)).ok
    (there,) = port.seen
    assert SECRET not in repr(there.headers)


def test_credentials_in_the_url_are_sent_as_basic_auth(
    servers: tuple[Server, Server, Server],
) -> None:
    """``user:password@`` becomes ``Authorization: Basic``, for the origin only; the
    result shows neither."""
    origin, other, _ = servers
    origin.routes = {"/": (302, f"{other.url}/landing")}
    url = f"http://alice:{SECRET}@127.0.0.1:{origin.port}/"
    result = probe(url, _options())
    assert result.ok
    expected = "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()
    assert origin.seen[0].headers["authorization"] == expected
    assert "authorization" not in other.seen[0].headers
    assert SECRET not in repr(result.to_dict())
    assert any("basic auth" in w for w in result.warnings)


def test_url_credentials_go_on_after_a_relative_redirect_on_the_origin(
    servers: tuple[Server, Server, Server],
) -> None:
    """A relative Location on the origin gets the URL's own credentials again, not the
    redacted ``alice:***`` the report shows."""
    origin, _, _ = servers
    origin.routes = {"/": (302, "/landing")}
    assert probe(f"http://alice:{SECRET}@127.0.0.1:{origin.port}/", _options()).ok
    expected = "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()
    assert [(s.path, s.headers["authorization"]) for s in origin.seen] == [
        ("/", expected),
        ("/landing", expected),
    ]


def test_an_authorization_header_wins_over_url_credentials(
    servers: tuple[Server, Server, Server],
) -> None:
    """A given Authorization header is sent as given, not replaced by the URL's."""
    origin, _, _ = servers
    url = f"http://alice:{SECRET}@127.0.0.1:{origin.port}/"
    assert probe(url, _options(headers=(("Authorization", "Bearer given"),))).ok
    assert origin.seen[0].headers["authorization"] == "Bearer given"


def test_a_body_never_goes_to_another_origin(servers: tuple[Server, Server, Server]) -> None:
    """A 302 after a POST to another host becomes a GET without the body; a 307 to another
    host is not followed (with a warning), while a 307 on the origin repeats the POST."""
    origin, other, _ = servers
    origin.routes = {
        "/found": (302, f"{other.url}/got"),
        "/temporary": (307, f"{other.url}/posted"),
        "/same": (307, "/again"),
    }
    options = _options(method="POST", body=SECRET.encode())
    assert probe(f"{origin.url}/found", options).ok
    temporary = probe(f"{origin.url}/temporary", options)
    assert probe(f"{origin.url}/same", options).ok
    assert [(s.method, s.path, s.body) for s in other.seen] == [("GET", "/got", b"")]
    assert any("another origin" in w for w in temporary.warnings)
    assert [(s.method, s.path, s.body) for s in origin.seen][-1] == (
        "POST",
        "/again",
        SECRET.encode(),
    )


@pytest.mark.parametrize("scheme", ["tcp", "tls"])
def test_a_redirect_to_a_socket_scheme_is_a_failure_and_connects_nowhere(
    servers: tuple[Server, Server, Server], scheme: str
) -> None:
    """A Location of tcp://HOST:PORT is not followed (that would make /probe a port
    scanner and call a bare connect healthy): url.invalid, and the port hears nothing."""
    origin, _, _ = servers
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        origin.routes = {"/": (302, f"{scheme}://127.0.0.1:{port}")}
        result = probe(origin.url, _options())
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert result.failure is not None
    assert result.failure.kind.value == "url.invalid"
    assert "follows redirects to http:// and https:// only" in result.failure.detail
    http = result.phase("http")
    assert http is not None
    assert not http.ok


def test_a_redirect_location_is_redacted(servers: tuple[Server, Server, Server]) -> None:
    """The Location shown in the http phase loses its credentials and secret values."""
    origin, other, _ = servers
    location = f"http://bob:{SECRET}@127.0.0.2:{other.port}/cb?accessToken={SECRET}#jwt={SECRET}"
    origin.routes = {"/": (302, location)}
    result = probe(origin.url, _options())
    assert result.ok
    assert SECRET not in repr(result.to_dict())
    assert "127.0.0.2" in repr(result.to_dict())


@pytest.mark.parametrize(
    ("origin", "here", "kept"),
    [
        (("http", "h", 80), ("http", "h", 80), True),
        (("http", "h", 80), ("https", "h", 443), False),  # an upgrade is another origin too
        (("https", "h", 443), ("http", "h", 80), False),  # a downgrade
        (("http", "h", 8080), ("https", "h", 443), False),
        (("http", "h", 80), ("http", "h", 8080), False),
        (("http", "h", 80), ("http", "g", 80), False),
    ],
)
def test_credentials_stay_on_the_first_origin(
    origin: tuple[str, str, int], here: tuple[str, str, int], kept: bool
) -> None:
    """Only the same scheme, host and port keeps them: an upgrade to https is another origin."""
    assert _keeps_credentials(origin, here) is kept


# --- two real hosts, in a network namespace of the test's own --------------------------------

_NETNS_SETUP = """set -e
ip link set lo up
ip addr add 10.77.0.1/32 dev lo
ip addr add 10.77.0.2/32 dev lo
exec "$PYTHON" -c "$CHILD"
"""

_NETNS_CHILD = r"""
import json, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from tether.probe import AllowedTargets, ProbeOptions, TargetRefused, probe

seen = {"10.77.0.1": [], "10.77.0.2": []}

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        host = self.server.server_address[0]
        headers = {k.lower(): v for k, v in self.headers.items()}
        seen[host].append({"path": self.path, "headers": headers})
        if host == "10.77.0.1":
            self.send_response(302)
            self.send_header("Location", "http://10.77.0.2:8080/landing")
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

servers = [ThreadingHTTPServer((h, 8080), Handler) for h in seen]
for s in servers:
    threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True).start()
headers = (("Authorization", "Bearer MARK"), ("X-Api-Key", "MARK"), ("Cookie", "s=MARK"))
options = ProbeOptions(timeout=2, deadline=10, env={}, headers=headers)
result = probe("http://alice:MARK@10.77.0.1:8080/start", options)
refused = ""
try:
    probe("http://10.77.0.1:8080/again", ProbeOptions(
        timeout=2, deadline=10, env={}, allowed=AllowedTargets.parse(["10.77.0.1/32"])))
except TargetRefused as exc:
    refused = str(exc)
print(json.dumps({"ok": result.ok, "seen": seen, "refused": refused}))
"""


@pytest.mark.netns
def test_credentials_stay_behind_on_a_redirect_between_two_real_hosts() -> None:
    """Inside a network namespace with two addresses, 10.77.0.1:8080 redirects to
    10.77.0.2:8080 (same port, another host): the first gets the credentials, the second
    none of them; with an allow-list of 10.77.0.1 the hop to 10.77.0.2 is refused and
    never made."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    from tether.lab._matrix import netns_available

    why_not = netns_available()
    if why_not is not None:
        if os.environ.get("TETHER_REQUIRE_NETNS"):
            pytest.fail(f"TETHER_REQUIRE_NETNS is set but no namespace can be made: {why_not}")
        pytest.skip(f"no private network namespace here: {why_not}")
    assert shutil.which("unshare") is not None
    done = subprocess.run(
        ["unshare", "-rmn", "sh", "-c", _NETNS_SETUP],
        env={**os.environ, "PYTHON": sys.executable, "CHILD": _NETNS_CHILD},
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["ok"]
    first, second = out["seen"]["10.77.0.1"], out["seen"]["10.77.0.2"]
    assert first[0]["headers"]["authorization"] == "Bearer MARK"
    assert first[0]["headers"]["cookie"] == "s=MARK"
    assert [h["path"] for h in second] == ["/landing"]
    assert "MARK" not in json.dumps(second)
    assert out["refused"] == "10.77.0.2 is not in probe.allowed_targets"
    assert [h["path"] for h in first] == ["/start", "/again"]
