"""``grpc://`` and ``grpcs://`` probes against real grpcio servers on loopback.

Each server is grpcio with grpcio-health-checking's health servicer (or none, or one
whose Check blocks until the test ends), plaintext or over TLS with a trustme
certificate; the HTTP/1.1 port is a real aiohttp server; the silent port a listener that
never answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.helpers.grpc_server import (
    NOT_SERVING,
    SERVICE_UNKNOWN,
    SERVING,
    grpc_server,
    http11_server,
    silent_server,
)
from tests.helpers.ports import free_port
from tests.helpers.tls_server import https_server
from tether.probe import GrpcDetails, InvalidTarget, ProbeOptions, ProbeResult, parse_target, probe

SHORT = 0.4
"""The timeout for a handler or a port that never answers."""


def _grpc(result: ProbeResult) -> GrpcDetails:
    phase = result.phase("grpc")
    assert phase is not None, result.phases
    assert isinstance(phase.details, GrpcDetails)
    return phase.details


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    statuses = {"": SERVING, "shop.v1.Cart": SERVING, "shop.v1.Pay": NOT_SERVING}
    statuses["shop.v1.Gone"] = SERVICE_UNKNOWN
    with grpc_server(statuses) as peer:
        yield peer.port


def test_serving_passes_with_every_phase_timed(server: int) -> None:
    """SERVING passes; the walk is url, proxy, dns, connect, grpc, each timed."""
    result = probe(f"grpc://127.0.0.1:{server}/shop.v1.Cart")
    assert result.ok, result.failure
    assert [p.name for p in result.phases] == ["url", "proxy", "dns", "connect", "grpc"]
    details = _grpc(result)
    assert (details.service, details.serving_status, details.code) == ("shop.v1.Cart", "SERVING", 0)
    assert details.http_status == 200
    assert result.to_dict()["phases"][-1]["serving_status"] == "SERVING"


def test_empty_path_asks_about_the_server(server: int) -> None:
    """No path: the server's overall health (service "")."""
    result = probe(f"grpc://127.0.0.1:{server}")
    assert result.ok, result.failure
    assert _grpc(result).service == ""


@pytest.mark.parametrize(
    ("service", "status"),
    [("shop.v1.Pay", "NOT_SERVING"), ("shop.v1.Gone", "SERVICE_UNKNOWN")],
)
def test_not_serving(server: int, service: str, status: str) -> None:
    """NOT_SERVING and SERVICE_UNKNOWN answers are grpc.not_serving, the status named."""
    result = probe(f"grpc://127.0.0.1:{server}/{service}")
    assert result.failure is not None
    assert result.failure.kind.value == "grpc.not_serving"
    assert result.failure.layer.value == "app"
    assert status in result.failure.detail
    assert _grpc(result).serving_status == status


def test_unknown_service_is_not_serving(server: int) -> None:
    """A service the health servicer has no status for (Check answers NOT_FOUND) is
    grpc.not_serving, SERVICE_UNKNOWN, the code kept."""
    result = probe(f"grpc://127.0.0.1:{server}/no.Such")
    assert result.failure is not None
    assert result.failure.kind.value == "grpc.not_serving"
    details = _grpc(result)
    assert (details.code, details.code_name, details.serving_status) == (
        5,
        "NOT_FOUND",
        "SERVICE_UNKNOWN",
    )


def test_no_health_service_is_unimplemented() -> None:
    """A server without the health servicer: grpc.status UNIMPLEMENTED (12), not retryable."""
    with grpc_server(health_service=False) as peer:
        result = probe(f"grpc://127.0.0.1:{peer.port}/")
    assert result.failure is not None
    assert result.failure.kind.value == "grpc.status"
    assert result.failure.detail.startswith(
        "UNIMPLEMENTED (12): the server has no grpc.health.v1.Health service"
    )
    assert not result.failure.retryable
    assert _grpc(result).code == 12


def test_hanging_handler_is_deadline_exceeded() -> None:
    """A Check that outlives the timeout: the server ends it at the grpc-timeout the
    probe sent, DEADLINE_EXCEEDED (4), retryable."""
    with grpc_server(hanging=True) as peer:
        result = probe(f"grpc://127.0.0.1:{peer.port}/", ProbeOptions(timeout=SHORT))
    assert result.failure is not None
    assert result.failure.kind.value == "grpc.status", result.failure.detail
    assert result.failure.detail.startswith("DEADLINE_EXCEEDED (4)")
    assert result.failure.retryable


def test_silent_port_is_read_timeout() -> None:
    """A port that never answers the preface: read.timeout in the grpc phase."""
    with silent_server() as port:
        result = probe(f"grpc://127.0.0.1:{port}/", ProbeOptions(timeout=SHORT))
    assert result.failure is not None
    assert result.failure.kind.value == "read.timeout"
    assert result.phases[-1].name == "grpc"


def test_http11_server_is_named() -> None:
    """An HTTP/1.1 server on the port: response.malformed saying so."""
    with http11_server() as port:
        result = probe(f"grpc://127.0.0.1:{port}/")
    assert result.failure is not None
    assert result.failure.kind.value == "response.malformed"
    assert "not HTTP/2 (is this a gRPC port?)" in result.failure.detail
    assert "400 Bad Request" in result.failure.detail


def test_refused_port() -> None:
    """Nothing listening: connect.refused, as for any scheme."""
    result = probe(f"grpc://127.0.0.1:{free_port()}/", ProbeOptions(timeout=SHORT))
    assert result.failure is not None
    assert result.failure.kind.value == "connect.refused"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    authority = trustme.CA()
    path = tmp_path_factory.mktemp("grpc-ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return authority, path


def test_tls_verified_with_h2(ca: tuple[trustme.CA, Path]) -> None:
    """grpcs:// with the CA trusted: the tls phase, ALPN h2, SERVING."""
    authority, path = ca
    with grpc_server({"": SERVING}, tls=authority.issue_cert("127.0.0.1")) as peer:
        result = probe(f"grpcs://127.0.0.1:{peer.port}/", ProbeOptions(cacert=str(path)))
    assert result.ok, result.failure
    assert [p.name for p in result.phases][-2:] == ["tls", "grpc"]
    assert _grpc(result).alpn == "h2"


def test_tls_untrusted(ca: tuple[trustme.CA, Path]) -> None:
    """grpcs:// with a certificate no trusted CA signed: tls.untrusted, no call made."""
    authority, _ = ca
    with grpc_server({"": SERVING}, tls=authority.issue_cert("127.0.0.1")) as peer:
        result = probe(f"grpcs://127.0.0.1:{peer.port}/")
    assert result.failure is not None
    assert result.failure.kind.value == "tls.untrusted"
    assert result.phase("grpc") is None


def test_tls_without_h2_is_tls_protocol(ca: tuple[trustme.CA, Path]) -> None:
    """grpcs:// to an HTTPS server that agrees no HTTP/2 in ALPN: tls.protocol, said."""
    authority, path = ca
    with https_server(authority.issue_cert("127.0.0.1")) as port:
        result = probe(f"grpcs://127.0.0.1:{port}/", ProbeOptions(cacert=str(path)))
    assert result.failure is not None
    assert result.failure.kind.value == "tls.protocol"
    assert "did not agree on HTTP/2" in result.failure.detail


def test_plaintext_to_tls_port(ca: tuple[trustme.CA, Path]) -> None:
    """grpc:// to a TLS port: it closes on the preface, a failure in the grpc phase."""
    authority, _ = ca
    with grpc_server({"": SERVING}, tls=authority.issue_cert("127.0.0.1")) as peer:
        result = probe(f"grpc://127.0.0.1:{peer.port}/", ProbeOptions(timeout=SHORT))
    assert result.failure is not None
    assert result.failure.kind.value in ("connection.closed", "response.malformed")
    assert result.phases[-1].name == "grpc"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("grpc://127.0.0.1/x", "needs a port"),
        ("grpc://127.0.0.1:1/a/b", "not a gRPC service name"),
        ("grpc://127.0.0.1:1/a?x=1", "takes no query"),
    ],
)
def test_bad_targets(url: str, says: str) -> None:
    """A target without a port, with a path of two segments or a query is refused."""
    with pytest.raises(InvalidTarget, match=says):
        parse_target(url)
