"""HTTP/3 probes (``http_version`` 3 and auto) against real aioquic HTTP/3 servers on
loopback (tests/helpers/h3_server.py), with the lab's certificates (valid, expired, wrong
host, unknown CA, self-signed).  The HTTP/1.1 server that advertises HTTP/3 with
``Alt-Svc`` is the standard library's HTTPS server, with the same certificate.  No peer is
mocked: the one stand-in is the missing extra (aioquic made unimportable)."""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.h3_server import h3_server
from tether._kinds import Kind
from tether.lab._certs import LabCerts, make_certs
from tether.probe import HttpDetails, ProbeOptions, ProbeResult, TlsDetails, _h3, probe

SHORT = 0.4
"""The timeout for peers that never answer: the probe waits this long, no more."""


@pytest.fixture(scope="module")
def certs() -> Iterator[LabCerts]:
    made = make_certs()
    yield made
    shutil.rmtree(made.directory, ignore_errors=True)


@pytest.fixture(scope="module")
def h3(certs: LabCerts) -> Iterator[int]:
    with h3_server(certs.valid) as port:
        yield port


def h3_probe(url: str, certs: LabCerts, **options: object) -> ProbeResult:
    chosen: dict[str, object] = {
        "http_version": "3",
        "cacert": str(certs.ca_file),
        "proxy": "",
        "timeout": 2.0,
        **options,
    }
    return probe(url, ProbeOptions(**chosen))  # type: ignore[arg-type]


def names(result: ProbeResult) -> list[str]:
    return [p.name for p in result.phases]


def test_a_healthy_http3_server_is_walked_through_quic(h3: int, certs: LabCerts) -> None:
    """url, proxy, dns, quic (TLS 1.3, ALPN h3, the certificate), then http: 200."""
    result = h3_probe(f"https://localhost:{h3}/", certs, keep_body=10)
    assert result.failure is None, result.failure
    assert names(result) == ["url", "proxy", "dns", "quic", "http"]
    quic = result.phase("quic")
    assert quic is not None
    assert isinstance(quic.details, TlsDetails)
    assert quic.details.verified
    assert quic.details.alpn == "h3"
    assert quic.details.version == "TLSv1.3"
    leaf = quic.details.leaf
    assert leaf is not None
    assert "localhost" in leaf.sans
    assert leaf.days_left >= 395
    http = result.phase("http")
    assert http is not None
    assert isinstance(http.details, HttpDetails)
    assert http.details.response.status == 200
    assert http.details.response.version == "HTTP/3"
    assert http.details.response.ttfb_ms is not None
    assert result.headers["x-h3"] == "yes"
    assert result.body == b"ok"


def test_an_address_url_is_verified_against_the_certificates_ip_name(
    h3: int, certs: LabCerts
) -> None:
    """https://127.0.0.1:PORT/: no SNI, the address checked against the IP SAN."""
    result = h3_probe(f"https://127.0.0.1:{h3}/", certs)
    assert result.failure is None, result.failure
    quic = result.phase("quic")
    assert quic is not None
    assert isinstance(quic.details, TlsDetails)
    assert quic.details.server_name is None
    assert quic.details.verified


def test_a_503_over_http3_is_a_server_error_with_its_retry_after(h3: int, certs: LabCerts) -> None:
    """A 503 over HTTP/3 gets HTTP/1.1's kind, its Retry-After read."""
    result = h3_probe(f"https://localhost:{h3}/503", certs)
    assert result.failure is not None
    assert result.failure.kind is Kind.HTTP_SERVER_ERROR
    http = result.phase("http")
    assert http is not None
    assert isinstance(http.details, HttpDetails)
    assert http.details.response.retry_after == 7


def test_a_redirect_is_followed_over_http3(h3: int, certs: LabCerts) -> None:
    """A 302 is followed, the next hop over HTTP/3 too, and the chain listed."""
    result = h3_probe(f"https://localhost:{h3}/redirect", certs)
    assert result.failure is None
    http = result.phase("http")
    assert http is not None
    assert isinstance(http.details, HttpDetails)
    assert [h.response.status for h in http.details.redirects] == [302, 200]


def test_a_server_that_never_answers_the_request_is_a_read_timeout(
    h3: int, certs: LabCerts
) -> None:
    """A handshake done and no answer to the request: read.timeout after the timeout."""
    result = h3_probe(f"https://localhost:{h3}/slow", certs, timeout=SHORT)
    assert result.failure is not None
    assert result.failure.kind is Kind.READ_TIMEOUT
    assert "no answer over HTTP/3" in result.failure.detail
    quic = result.phase("quic")
    assert quic is not None
    assert quic.ok


def test_the_body_is_read_up_to_max_body(h3: int, certs: LabCerts) -> None:
    """The body is read no further than max_body, with a warning."""
    result = h3_probe(f"https://localhost:{h3}/big", certs, max_body=1000)
    assert result.failure is None
    assert any("larger than 1000 bytes" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("chain", "kind", "said"),
    [
        ("expired", Kind.TLS_EXPIRED, "has expired"),
        ("wrong_host", Kind.TLS_HOSTNAME_MISMATCH, "it names wrong.lab.test"),
        ("unknown_ca", Kind.TLS_UNTRUSTED, "unable to get local issuer certificate"),
        ("self_signed", Kind.TLS_SELF_SIGNED, "self-signed"),
    ],
)
def test_certificate_problems_get_the_tls_walks_kinds(
    certs: LabCerts, chain: str, kind: Kind, said: str
) -> None:
    """Each certificate problem is named as the TCP walk names it, and the chain the
    server sent is shown although it was refused."""
    with h3_server(getattr(certs, chain)) as port:
        result = h3_probe(f"https://localhost:{port}/", certs)
    assert result.failure is not None
    assert result.failure.kind is kind, result.failure
    assert said in result.failure.detail
    quic = result.phase("quic")
    assert quic is not None
    assert not quic.ok
    assert isinstance(quic.details, TlsDetails)
    assert quic.details.chain
    assert not quic.details.verified
    assert names(result)[-1] == "quic"  # nothing was sent over it


def test_a_server_without_h3_in_its_alpn_closes_the_handshake(certs: LabCerts) -> None:
    """A QUIC server that speaks another protocol (``hq-interop``): its alert closes the
    connection, named tls.protocol with QUIC's code and reason."""
    with h3_server(certs.valid, alpn=["hq-interop"]) as port:
        result = h3_probe(f"https://localhost:{port}/", certs)
    assert result.failure is not None
    assert result.failure.kind is Kind.TLS_PROTOCOL, result.failure
    assert "TLS alert 120" in result.failure.detail


def test_the_deadline_in_the_quic_phase_names_the_silence(certs: LabCerts) -> None:
    """The probe's deadline, shorter than the phase's timeout, cuts the handshake: the
    silence is named (connect.timeout), as for a TCP connect."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mute:
        mute.bind(("127.0.0.1", 0))
        port = mute.getsockname()[1]
        result = h3_probe(f"https://127.0.0.1:{port}/", certs, timeout=5.0, deadline=SHORT)
    assert result.failure is not None
    assert result.failure.kind is Kind.CONNECT_TIMEOUT
    assert "quic phase" in result.failure.detail
    assert names(result)[-1] == "quic"


def test_credentials_in_the_url_are_sent_and_never_shown(h3: int, certs: LabCerts) -> None:
    """A URL's password appears in no result, detail or target."""
    result = h3_probe(f"https://probe:s3cret@localhost:{h3}/503", certs)
    assert result.failure is not None
    shown = repr(result.to_dict()) + result.failure.detail
    assert "s3cret" not in shown
    assert "s3cret" not in result.target


def test_the_system_store_alone_does_not_trust_the_lab_ca(h3: int, certs: LabCerts) -> None:
    """Without cacert the trust is the system's (as the TLS walk's), not certifi's."""
    result = h3_probe(f"https://localhost:{h3}/", certs, cacert=None)
    assert result.failure is not None
    assert result.failure.kind is Kind.TLS_UNTRUSTED


def test_insecure_goes_on_past_a_refused_certificate_and_still_reports_it(
    certs: LabCerts,
) -> None:
    """insecure makes the request over an unverified handshake; the verdict stays
    the certificate's."""
    with h3_server(certs.expired) as port:
        result = h3_probe(f"https://localhost:{port}/", certs, insecure=True)
    assert result.failure is not None
    assert result.failure.kind is Kind.TLS_EXPIRED
    assert names(result) == ["url", "proxy", "dns", "quic", "http"]
    assert any("--insecure" in w for w in result.warnings)
    http = result.phase("http")
    assert http is not None
    assert isinstance(http.details, HttpDetails)
    assert http.details.response.status == 200


def _closed_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_nothing_listening_on_the_udp_port_is_refused(certs: LabCerts) -> None:
    """The kernel answers the Initial with ICMP port unreachable: refused at once."""
    port = _closed_udp_port()
    result = h3_probe(f"https://127.0.0.1:{port}/", certs, timeout=5.0)
    assert result.failure is not None
    assert result.failure.kind is Kind.CONNECT_REFUSED
    assert "UDP port" in result.failure.detail
    quic = result.phase("quic")
    assert quic is not None
    assert quic.ms < 5000


def test_a_udp_port_that_swallows_the_initial_is_a_connect_timeout(certs: LabCerts) -> None:
    """A socket that reads and never answers: what a firewall dropping UDP looks like."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mute:
        mute.bind(("127.0.0.1", 0))
        port = mute.getsockname()[1]
        result = h3_probe(f"https://127.0.0.1:{port}/", certs, timeout=SHORT)
    assert result.failure is not None
    assert result.failure.kind is Kind.CONNECT_TIMEOUT
    assert "firewall drops UDP" in result.failure.detail


def test_a_proxy_cannot_carry_http3(h3: int, certs: LabCerts) -> None:
    """Never sent past the proxy: the check fails at the proxy phase, saying why."""
    result = h3_probe(f"https://localhost:{h3}/", certs, proxy="http://u:pw9@127.0.0.1:9")
    assert result.failure is not None
    assert result.failure.kind is Kind.URL_INVALID
    assert "UDP, which an HTTP proxy cannot carry" in result.failure.detail
    assert names(result) == ["url", "proxy"]
    assert "pw9" not in repr(result.to_dict())


def test_a_missing_extra_is_one_line_naming_it(
    h3: int, certs: LabCerts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aioquic made unimportable (the one stand-in: the extra's absence)."""
    from tether import _extras

    real = _extras._importable
    monkeypatch.setattr(_extras, "_importable", lambda m: m != "aioquic" and real(m))
    result = h3_probe(f"https://localhost:{h3}/", certs)
    assert result.failure is not None
    assert result.failure.kind is Kind.URL_INVALID
    assert "tether[http3]" in result.failure.detail
    assert "\n" not in result.failure.detail


class _AltSvcHandler(BaseHTTPRequestHandler):
    offer = ""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.send_header("Alt-Svc", self.offer)
        self.end_headers()
        self.wfile.write(b"hi")

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def https_offering(certs: LabCerts, offer: str) -> Iterator[int]:
    """An HTTPS (HTTP/1.1) server on 127.0.0.1 whose answers carry ``Alt-Svc: offer``."""
    handler = type("Offering", (_AltSvcHandler,), {"offer": offer})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = certs.server_context(certs.valid)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_auto_follows_alt_svc_to_http3(h3: int, certs: LabCerts) -> None:
    """auto: the HTTP/1.1 answer's Alt-Svc leads to quic and h3 phases on that UDP port."""
    with https_offering(certs, f'h3=":{h3}"; ma=86400') as port:
        result = h3_probe(f"https://localhost:{port}/", certs, http_version="auto")
    assert result.failure is None, result.failure
    assert names(result) == ["url", "proxy", "dns", "connect", "tls", "http", "quic", "h3"]
    h3_phase = result.phase("h3")
    assert h3_phase is not None
    assert h3_phase.ok
    assert isinstance(h3_phase.details, HttpDetails)
    assert h3_phase.details.response.version == "HTTP/3"
    assert result.warnings == ()


def test_auto_warns_when_the_offered_http3_fails_and_the_check_stays_up(
    certs: LabCerts,
) -> None:
    """auto: an offered HTTP/3 that is refused is a failed quic phase and a warning;
    the check passes."""
    dead = _closed_udp_port()
    with https_offering(certs, f'h3=":{dead}"') as port:
        result = h3_probe(f"https://localhost:{port}/", certs, http_version="auto")
    assert result.failure is None
    quic = result.phase("quic")
    assert quic is not None
    assert not quic.ok
    assert quic.failure is not None
    assert quic.failure.kind is Kind.CONNECT_REFUSED
    assert any("connect.refused" in w and "HTTP/1.1" in w for w in result.warnings)


def test_auto_without_an_offer_is_http11_alone(certs: LabCerts) -> None:
    """auto: an answer that offers no h3 is an HTTP/1.1 check and nothing more."""
    with https_offering(certs, "clear") as port:
        result = h3_probe(f"https://localhost:{port}/", certs, http_version="auto")
    assert result.failure is None
    assert names(result) == ["url", "proxy", "dns", "connect", "tls", "http"]


def test_diagnose_http3_prints_the_quic_phase(
    h3: int, certs: LabCerts, capsys: pytest.CaptureFixture[str]
) -> None:
    """tether diagnose --http3 prints the quic phase; --http3=auto walks HTTP/1.1 first."""
    from tether.cli import main

    url = f"https://localhost:{h3}/"
    code = main(["diagnose", "--http3", "--cacert", str(certs.ca_file), "--proxy", "", url])
    out = capsys.readouterr().out
    assert code == 0
    assert "  quic     ok" in out
    assert "TLSv1.3, h3" in out
    code = main(["diagnose", "--http3=auto", "--json", "--proxy", "", url])
    assert code == 1  # nothing answers HTTP/1.1 on that TCP port
    assert '"kind": "connect.refused"' in capsys.readouterr().out


def test_diagnose_refuses_an_unknown_http3_mode(capsys: pytest.CaptureFixture[str]) -> None:
    """--http3=2 is a usage error (exit 2) naming the option."""
    from tether.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["diagnose", "--http3=2", "https://localhost:1/"])
    assert exited.value.code == 2
    assert "--http3" in capsys.readouterr().err


def test_http3_on_an_http_url_is_a_warning(certs: LabCerts) -> None:
    """HTTP/3 asked of an http:// URL: the probe says it did not use it."""
    port = _closed_udp_port()
    result = h3_probe(f"http://127.0.0.1:{port}/", certs)
    assert any("HTTP/3 needs https://" in w for w in result.warnings)


@given(st.integers(1, 65535), st.sampled_from(["", "; ma=3600", ', h3-29=":1"']))
def test_alt_svc_names_the_h3_port_on_this_host(port: int, tail: str) -> None:
    """Any port offered as h3=":PORT", alone or among others, is found."""
    assert _h3.alt_svc_port(f'h3=":{port}"{tail}') == port
    assert _h3.alt_svc_port(f'h2=":{port}", h3=":{port}"') == port


@given(st.text(max_size=60))
def test_alt_svc_never_raises_and_follows_no_other_host(text: str) -> None:
    """Any header text parses without raising; an h3 on another host is not followed."""
    found = _h3.alt_svc_port(text)
    assert found is None or 0 < found < 65536
    assert _h3.alt_svc_port(f'h3="elsewhere.test:443"{text[:0]}') is None


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Host", "Connection", "X-A", "Accept", "Keep-Alive", "Upgrade"]),
            st.text("abc", max_size=5),
        ),
        max_size=6,
    )
)
def test_request_fields_have_the_pseudo_headers_first_and_no_connection_fields(
    headers: list[tuple[str, str]],
) -> None:
    """Whatever the caller's headers, the pseudo-headers come first and no
    connection field is sent."""
    fields = _h3.request_fields("GET", "a.test", "/p", headers, None)
    assert [n for n, _ in fields[:4]] == [b":method", b":scheme", b":authority", b":path"]
    rest = [n for n, _ in fields[4:]]
    assert all(n == n.lower() and not n.startswith(b":") for n in rest)
    assert not {b"host", b"connection", b"keep-alive", b"upgrade"} & set(rest)
    given_accepts = sum(n.lower() == "accept" for n, _ in headers)
    assert rest.count(b"accept") == max(1, given_accepts)  # the caller's, or tether's one


def test_the_ca_file_is_read_as_given(certs: LabCerts, h3: int, tmp_path: Path) -> None:
    """A cacert that cannot be read is said, as a certificate trust problem."""
    result = h3_probe(f"https://localhost:{h3}/", certs, cacert=str(tmp_path / "none.pem"))
    assert result.failure is not None
    assert result.failure.kind is Kind.TLS_UNTRUSTED
    assert result.failure.detail.endswith("none.pem: no such file")


@pytest.mark.parametrize("refused", [False, True], ids=["healthy", "refused"])
def test_http3_on_the_monitors_event_loop(h3: int, certs: LabCerts, refused: bool) -> None:
    """The monitor runs its probes on uvloop where it builds (monitor/runtime/_loop.py),
    whose datagram transport refuses an address with each datagram on a connected socket
    (asyncio's accepts it): every HTTP/3 check of a running monitor failed "during the
    handshake" until the probe sent without one.  The same probes on that loop."""
    uvloop = pytest.importorskip("uvloop")
    from tether.probe import probe_async

    port = _closed_udp_port() if refused else h3
    options = ProbeOptions(http_version="3", cacert=str(certs.ca_file), proxy="", timeout=2.0)
    result = uvloop.run(probe_async(f"https://127.0.0.1:{port}/", options))
    if refused:
        assert result.failure is not None
        assert result.failure.kind is Kind.CONNECT_REFUSED
    else:
        assert result.ok, result.failure
        assert names(result)[-2:] == ["quic", "http"]
