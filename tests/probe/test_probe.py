"""The probe engine as a unit: parse_target, ProbeOptions, the ProbeResult shape, TLS details."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tether.lab import Lab
from tether.probe import (
    PHASES,
    DnsDetails,
    Phase,
    ProbeOptions,
    ProbeResult,
    ProxyDetails,
    _tls,
    probe,
    probe_async,
)
from tether.probe._target import InvalidTarget, parse_target

# --- parse_target -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scheme", "host", "ascii_host", "port", "path", "hostport"),
    [
        ("http://example.test", "http", "example.test", "example.test", 80, "/", "example.test:80"),
        ("HTTPS://Example.TEST/a", "https", "example.test", "example.test", 443, "/a", None),
        ("https://bücher.test/", "https", "bücher.test", "xn--bcher-kva.test", 443, "/", None),
        ("http://[::1]:8080/x?y=1", "http", "::1", "::1", 8080, "/x?y=1", "[::1]:8080"),
        ("http://127.0.0.1:65535", "http", "127.0.0.1", "127.0.0.1", 65535, "/", None),
        ("db.test:5432", "tcp", "db.test", "db.test", 5432, "/", "db.test:5432"),
        ("[::1]:53", "tcp", "::1", "::1", 53, "/", "[::1]:53"),
        ("tls://mail.test:465", "tls", "mail.test", "mail.test", 465, "/", None),
        ("  http://padded.test/  ", "http", "padded.test", "padded.test", 80, "/", None),
    ],
)
def test_parse_target(
    text: str,
    scheme: str,
    host: str,
    ascii_host: str,
    port: int,
    path: str,
    hostport: str | None,
) -> None:
    """Scheme, host (and its IDNA form), default or given port, and path are read strictly."""
    t = parse_target(text)
    assert (t.scheme, t.host, t.ascii_host, t.port, t.path) == (
        scheme,
        host,
        ascii_host,
        port,
        path,
    )
    assert t.has_credentials is False
    if hostport is not None:
        assert t.hostport == hostport


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "the URL is empty"),
        ("   ", "the URL is empty"),
        ("http://", "the URL has no host"),
        ("http://:80/", "the URL has no host"),
        ("http://user:pw@/", "the URL has no host"),
        ("http://host:0/", "the port 0 is not a number from 1 to 65535"),
        ("http://host:65536/", "the port '65536' is not a number from 1 to 65535"),
        ("http://host:-1/", "the port '-1' is not a number from 1 to 65535"),
        ("http://host:http/", "the port 'http' is not a number from 1 to 65535"),
        ("tcp://host", "a tcp:// target needs a port"),
        ("tls://host", "a tls:// target needs a port"),
        ("ftp://host/", "unsupported scheme 'ftp'"),
        ("htp:/x", "unsupported scheme 'htp'"),
        ("http:/x", "the URL needs '//' after 'http:'"),
        ("host", "has no scheme"),
        ("::1:80", "an IPv6 address needs brackets"),
        ("http://[::1/", "the URL cannot be parsed"),
        ("http://[::zz]/", "the URL cannot be parsed"),
        ("http://a..b/", "the label '' must have 1 to 63 characters"),
        ("http://" + "a" * 64 + ".test/", "must have 1 to 63 characters"),
        ("http://-a.test/", "the label '-a' starts or ends with '-'"),
        ("http://a!b.test/", "the label 'a!b' has characters a name cannot have"),
        ("http://exa mple.test/", "whitespace or control characters"),
        ("http://a.test/\x00", "whitespace or control characters"),
    ],
)
def test_parse_target_rejects(text: str, problem: str) -> None:
    """Each malformed target is rejected with a message naming its exact problem."""
    with pytest.raises(InvalidTarget) as caught:
        parse_target(text)
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("http://user:s3cret@host.test/p", "http://user:***@host.test/p"),
        ("http://t0ken-s3cret@host.test/", "http://***@host.test/"),
        ("user:s3cret@host.test:22", "tcp://user:***@host.test:22"),
    ],
)
def test_credentials_are_flagged_and_redacted(text: str, shown: str) -> None:
    """A password (or a lone user name, often a token) is noted and never kept in the URL."""
    t = parse_target(text)
    assert t.has_credentials is True
    assert t.url == shown
    assert "s3cret" not in repr(t)


@pytest.mark.parametrize(
    "text", ["user:s3cret@host.test/x", "http:/user:s3cret@host.test/", "http://u:s3cret@h:0/"]
)
def test_an_invalid_target_with_credentials_is_redacted(text: str) -> None:
    """Even a target that does not parse never shows its password, in the target or the detail."""
    result = probe(text)
    assert result.failure is not None
    assert result.failure.kind.value == "url.invalid"
    assert "s3cret" not in json.dumps(result.to_dict())
    assert "s3cret" not in repr(result) + repr(result.failure)


# --- ProbeResult ------------------------------------------------------------------------------


def test_healthy_result_shape(lab: Lab) -> None:
    """A healthy result: ok, no failure, every phase in order, and strict JSON (no str fallback)."""
    result = probe(lab["tls_ok"].url, ProbeOptions(cacert=lab.ca_file, timeout=1, env={}))
    assert result.ok
    assert repr(result) == f"<ProbeResult {lab['tls_ok'].url} ok>"
    data = json.loads(json.dumps(result.to_dict()))
    assert list(data) == ["target", "ok", "failure", "phases", "warnings"]
    assert (data["target"], data["ok"], data["failure"], data["warnings"]) == (
        lab["tls_ok"].url,
        True,
        None,
        [],
    )
    assert [p["name"] for p in data["phases"]] == list(PHASES)
    assert [p.name for p in result.phases] == list(PHASES)
    for phase, raw in zip(result.phases, data["phases"], strict=True):
        assert list(raw)[:3] == ["name", "ok", "ms"]
        assert raw["ms"] == round(phase.ms, 3)
        assert "kind" not in raw
    assert result.phase("tls") is result.phases[4]
    assert result.phase("nope") is None


def test_failed_result_shape(lab: Lab) -> None:
    """A failure: the failure object's five fields, and the failed phase carries its kind."""
    result = probe(lab["refused"].url, ProbeOptions(timeout=1, env={}))
    assert not result.ok
    assert repr(result) == f"<ProbeResult {lab['refused'].url} connect.refused>"
    failed = result.phase("connect")
    assert failed is not None
    assert repr(failed).startswith("<Phase connect failed ")
    assert failed.failure is result.failure
    data = result.to_dict()
    assert data["failure"] == {
        "kind": "connect.refused",
        "layer": "connect",
        "detail": result.failure.detail if result.failure else None,
        "hint": result.failure.hint if result.failure else None,
        "retryable": True,
    }
    assert data["phases"][-1]["kind"] == "connect.refused"
    assert data["phases"][-1]["ok"] is False


def test_a_phase_is_a_value() -> None:
    """Phase is frozen; its dict puts name, ok and ms first and the details after."""
    phase = Phase("dns", True, 1.23456, DnsDetails(DnsDetails.SYSTEM))
    assert phase.to_dict() == {
        "name": "dns",
        "ok": True,
        "ms": 1.235,
        "resolver": "system (getaddrinfo)",
    }
    with pytest.raises(AttributeError):
        phase.ok = False  # type: ignore[misc]
    assert ProbeResult("t", (phase,), None).ok


# --- options ----------------------------------------------------------------------------------


def test_proxy_from_the_environment(lab: Lab) -> None:
    """HTTPS_PROXY (any case) is used for https://; NO_PROXY covering the host bypasses it."""
    url, proxy = lab["tls_ok"].url, lab["proxy_auth"].proxy or ""
    for env in ({"HTTPS_PROXY": proxy}, {"https_proxy": proxy}):
        result = probe(url, ProbeOptions(cacert=lab.ca_file, timeout=1, env=env))
        assert result.failure is not None
        assert result.failure.kind.value == "proxy.auth_required"
        assert result.phases[1].details.source == "HTTPS_PROXY"
    bypassed = probe(
        url,
        ProbeOptions(
            cacert=lab.ca_file, timeout=1, env={"HTTPS_PROXY": proxy, "NO_PROXY": "127.0.0.1"}
        ),
    )
    assert bypassed.ok
    assert bypassed.phases[1].details == ProxyDetails(None, "none", "NO_PROXY covers 127.0.0.1")
    assert bypassed.phases[1].details.to_json() == {
        "proxy": None,
        "source": "none",
        "bypass": "NO_PROXY covers 127.0.0.1",
    }


def test_all_proxy_is_named_as_such(lab: Lab) -> None:
    """A proxy found in ALL_PROXY is reported as coming from ALL_PROXY."""
    env = {"ALL_PROXY": lab["proxy_refused"].proxy or ""}
    result = probe(lab["healthy"].url, ProbeOptions(timeout=1, env=env))
    assert result.failure is not None
    assert result.failure.kind.value == "proxy.unreachable"
    assert result.phases[1].details.source == "ALL_PROXY"


def test_the_deadline_bounds_the_whole_probe(lab: Lab) -> None:
    """A 0.3 s deadline under 1 s phase timeouts ends the probe: a server that never
    answers is a read.timeout (a silence); one that answers, then drips, is the deadline."""
    started = time.perf_counter()
    silent = probe(lab["stall_headers"].url, ProbeOptions(timeout=1, deadline=0.3, env={}))
    dripping = probe(lab["slow_drip"].url, ProbeOptions(timeout=1, deadline=0.3, env={}))
    assert time.perf_counter() - started < 1.5
    assert silent.failure is not None
    assert silent.failure.kind.value == "read.timeout"
    assert "no answer in the http phase within the probe's 0.3 s deadline" in silent.failure.detail
    assert silent.phases[-1].name == "http"
    assert dripping.failure is not None
    assert dripping.failure.kind.value == "deadline.exceeded"
    assert "during the http phase" in dripping.failure.detail


def test_a_cancel_from_outside_goes_on_out_of_the_probe() -> None:
    """The deadline's cancel is the probe's own: a caller's timeout, or a cancel of the
    caller's task, is not taken for it and leaves the probe as it came in, with the task's
    count of cancels as before (as under ``asyncio.timeout``).  Each comes once a server
    of the test's own, which never answers, has the probe's connection.  The probe's own
    deadline after it ends the probe with a result and takes its cancel back."""
    options = ProbeOptions(timeout=30, deadline=30, env={})

    async def run() -> tuple[int, int, str, int]:
        loop = asyncio.get_running_loop()
        connected = asyncio.Event()
        held: list[asyncio.BaseTransport] = []

        class Silent(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                held.append(transport)
                connected.set()

        server = await loop.create_server(Silent, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        expiring: list[asyncio.Future[None]] = []

        async def expire(caller: asyncio.Timeout) -> None:
            await connected.wait()
            caller.reschedule(loop.time())

        async def under_a_timeout() -> None:
            async with asyncio.timeout(None) as caller:
                expiring.append(asyncio.ensure_future(expire(caller)))
                await probe_async(url, options)

        task = asyncio.current_task()
        assert task is not None
        try:
            with pytest.raises(TimeoutError):
                await under_a_timeout()
            await expiring[0]
            after_timeout = task.cancelling()
            connected.clear()
            inner = asyncio.ensure_future(probe_async(url, options))
            await connected.wait()
            inner.cancel()
            with pytest.raises(asyncio.CancelledError):
                await inner
            # The probe's own deadline (a silence of 50 ms) is a result, its cancel
            # taken back: the caller's task is left with none.
            own = await probe_async(url, ProbeOptions(timeout=30, deadline=0.05, env={}))
            assert own.failure is not None
            return after_timeout, inner.cancelling(), own.failure.kind.value, task.cancelling()
        finally:
            for transport in held:
                transport.close()
            server.close()
            await server.wait_closed()

    assert asyncio.run(run()) == (0, 1, "read.timeout", 0)


def test_a_deadline_in_a_silent_phase_names_that_phase(lab: Lab) -> None:
    """Running out of time while the connect, TLS or DNS phase waits for its first answer
    reports that phase's timeout kind, not the deadline."""
    options = ProbeOptions(timeout=5, deadline=0.3, env={}, cacert=lab.ca_file)
    found = {
        name: probe(lab[name].url, dataclasses.replace(options, resolver=lab[name].resolver))
        for name in ("blackhole", "tls_stall", "dns_silent")
    }
    kinds = {name: r.failure.kind.value if r.failure else None for name, r in found.items()}
    assert kinds == {
        "blackhole": "connect.timeout",
        "tls_stall": "tls.timeout",
        "dns_silent": "dns.timeout",
    }


def test_probe_async_runs_inside_a_loop(lab: Lab) -> None:
    """probe_async probes several targets at once in the caller's event loop."""

    async def both() -> list[ProbeResult]:
        options = ProbeOptions(timeout=1, env={})
        return list(
            await asyncio.gather(
                probe_async(lab["healthy"].url, options), probe_async(lab["http_404"].url, options)
            )
        )

    healthy, missing = asyncio.run(both())
    assert healthy.ok
    assert missing.failure is not None
    assert missing.failure.kind.value == "http.client_error"


# --- certificate details without cryptography -------------------------------------------------


def _odd_certificate(tmp_path: Path) -> Path:
    """A self-signed certificate whose names need RFC 4514 escaping, with an IPv6 SAN."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, '#Acme, "Inc" + <x>; \\ '),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "ops"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "dev"),
            x509.NameAttribute(NameOID.COMMON_NAME, " süß.test "),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    sans = [
        x509.DNSName("a.test"),
        x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
        x509.DNSName("b.test"),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=3))
        .not_valid_after(now + dt.timedelta(days=3, hours=5))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "odd.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_certificate_details_match_cryptography(lab: Lab, tmp_path: Path) -> None:
    """OpenSSL's decoding (used on the fast path) describes a certificate as cryptography does."""
    # ssl._ssl._test_decode_cert gives, from a file, the dict a live connection's
    # certificate gives (private: used here only, to feed the function).
    assert lab.certs is not None
    paths = [getattr(lab.certs, f) for f in ("ca_file", "valid", "expired", "self_signed")]
    paths += [lab.certs.not_yet_valid, lab.certs.wrong_host, _odd_certificate(tmp_path)]
    now = dt.datetime.now(dt.UTC)
    for path in paths:
        pem = path.read_bytes()
        cert = x509.load_pem_x509_certificate(pem[pem.index(b"-----BEGIN CERTIFICATE") :])
        der = cert.public_bytes(serialization.Encoding.DER)
        info = ssl._ssl._test_decode_cert(str(path))  # type: ignore[attr-defined]
        assert _tls.certificate_from_info(info, now) == _tls.certificate(der, now), path.name


# --- a failure after a redirect ---------------------------------------------------------------


@pytest.fixture
def redirector(lab: Lab) -> Iterator[str]:
    """A loopback server whose / redirects to the lab's refused port and /bad to 'htp:/x'."""
    refused = lab["refused"].url

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", refused if self.path == "/" else "htp:/x")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize(
    ("path", "kind"), [("/", "connect.refused"), ("/bad", "url.invalid")], ids=["refused", "bad"]
)
def test_a_failed_redirect_hop_fails_the_http_phase(redirector: str, path: str, kind: str) -> None:
    """When the redirect's target fails, the http phase that followed it carries the failure."""
    result = probe(redirector + path, ProbeOptions(timeout=1, env={}))
    assert result.failure is not None
    assert result.failure.kind.value == kind
    last = result.phases[-1]
    assert (last.name, last.ok, last.failure) == ("http", False, result.failure)
    assert last.details.response.status == 302
    assert all(p.ok for p in result.phases[:-1])


def test_a_certificate_expiring_within_14_days_gives_a_warning(tmp_path: Path) -> None:
    """A valid certificate with 5 days left passes, with a warning naming the days left."""
    import trustme

    ca = trustme.CA()
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=5, hours=12)
    leaf = ca.issue_cert("127.0.0.1", not_after=soon)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        result = probe(f"https://127.0.0.1:{port}/", ProbeOptions(cacert=str(ca_file), timeout=2))
    finally:
        server.shutdown()
        server.server_close()
    assert result.ok, result.failure
    tls = result.phase("tls")
    assert tls is not None
    assert tls.details.chain[0].days_left == 5
    assert any("expires in 5 days" in w for w in result.warnings), result.warnings


def test_keep_body_keeps_the_start_of_the_body_and_the_headers(lab: Lab) -> None:
    """With keep_body the result carries the body's first bytes and the response headers;
    without it, no body (and to_dict never shows either)."""
    kept = probe(lab["healthy"].url, ProbeOptions(keep_body=2, timeout=2))
    assert kept.body == b"ok"
    assert "content-length" in kept.headers
    assert "body" not in json.dumps(kept.to_dict())
    plain = probe(lab["healthy"].url, ProbeOptions(timeout=2))
    assert plain.body is None


class _Recording:
    """A loopback HTTP server that records each request's method, path and body, and
    redirects /see-other with 303 and /temporary with 307 to /done."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        seen = self.seen = []  # type: list[tuple[str, str, bytes]]

        class Handler(BaseHTTPRequestHandler):
            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                seen.append((self.command, self.path, self.rfile.read(length)))
                codes = {"/see-other": 303, "/temporary": 307}
                self.send_response(codes.get(self.path, 200))
                if self.path in codes:
                    self.send_header("Location", "/done")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = handle_one

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_request_body_is_sent_and_redirects_treat_it_as_browsers_do() -> None:
    """POST with a body sends it with its length; a 303 turns the next hop into a GET
    without the body, a 307 repeats the POST with it."""
    server = _Recording()
    try:
        options = ProbeOptions(method="POST", body=b'{"ping": 1}', timeout=2, env={})
        see_other = probe(f"{server.url}/see-other", options)
        temporary = probe(f"{server.url}/temporary", options)
    finally:
        server.close()
    assert see_other.failure is None
    assert temporary.failure is None
    assert server.seen == [
        ("POST", "/see-other", b'{"ping": 1}'),
        ("GET", "/done", b""),
        ("POST", "/temporary", b'{"ping": 1}'),
        ("POST", "/done", b'{"ping": 1}'),
    ]
    http = see_other.phase("http")
    assert http is not None
    assert http.details.method == "GET"  # the last hop's


def test_a_body_the_server_stops_reading_is_a_write_timeout(lab: Lab) -> None:
    """A monitor's 8 MB POST to a server that stops reading it fails the http phase with
    write.timeout once nothing moved for the phase timeout, saying how much was left
    unsent; before, only the probe's deadline ended it, as a read.timeout."""
    body = b"x" * (8 * 1024 * 1024)
    options = ProbeOptions(method="POST", body=body, timeout=0.5, deadline=5, env={})
    started = time.perf_counter()
    result = probe(lab["upload_stall"].url, options)
    assert time.perf_counter() - started < 4  # ended by the 0.5 s phase, not the 5 s deadline
    assert result.failure is not None
    assert (result.failure.kind.value, result.failure.layer.value) == ("write.timeout", "request")
    assert result.phases[-1].name == "http"
    assert not result.phases[-1].ok
    detail = result.failure.detail
    assert detail.startswith(
        "the server stopped reading the request: after 0.5 s without progress, "
    )
    unsent = int(detail.split("progress, ")[1].split(" bytes")[0])
    assert 0 < unsent < len(body)
    assert detail.endswith(f"bytes of it were still unsent (its body is {len(body)} bytes)")


@pytest.mark.parametrize("filler", [0, 15_000], ids=["short", "15-KB"])
def test_an_illegal_header_line_is_quoted_redacted_and_short(filler: int) -> None:
    """A server's illegal header line (up to h11's 16 KB) is quoted in the failure's
    detail redacted and cut to a few hundred characters: that detail goes into every
    record, page and alert of the check, each of which redacted it again."""
    import socket

    line = b"Bad" + b"X" * filler + b" see http://u:hunter2@h.test/?accessToken=tok123"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\n" + line + b"\r\nContent-Length: 0\r\n\r\n")

        server = threading.Thread(target=answer)
        server.start()
        result = probe(f"http://127.0.0.1:{listener.getsockname()[1]}/", ProbeOptions(timeout=2))
        server.join(5)
    assert result.failure is not None
    assert result.failure.kind.value == "response.malformed"
    detail = result.failure.detail
    assert "illegal header line" in detail
    assert "hunter2" not in detail
    assert "tok123" not in detail
    assert len(detail) < 400
    if not filler:
        assert "http://u:***@h.test/?accessToken=***" in detail
