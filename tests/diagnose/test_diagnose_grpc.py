"""``tether diagnose grpc://...`` against real grpcio servers on loopback: the phases,
the health answer and the verdict, in text and JSON."""

from __future__ import annotations

import json

import pytest

from tests.helpers.grpc_server import NOT_SERVING, SERVING, grpc_server
from tether.cli import main


def test_text_names_the_answer(capsys: pytest.CaptureFixture[str]) -> None:
    """A SERVING server exits 0 with its grpc phase; a NOT_SERVING service exits 1 with
    the kind, the status and the fixes."""
    with grpc_server({"": SERVING, "my.Service": NOT_SERVING}) as peer:
        ok = main(["diagnose", f"grpc://127.0.0.1:{peer.port}"])
        healthy = capsys.readouterr().out
        bad = main(["diagnose", f"grpc://127.0.0.1:{peer.port}/my.Service"])
        failed = capsys.readouterr().out
    assert ok == 0
    assert "the server: SERVING" in healthy
    assert "not used for a gRPC check" in healthy
    assert bad == 1
    assert "my.Service: NOT_SERVING" in failed
    assert "grpc.not_serving (gRPC service not serving, app layer)" in failed


def test_json_has_the_grpc_phase(capsys: pytest.CaptureFixture[str]) -> None:
    """--json: the phases url to grpc, the grpc phase's code and status, the failure's
    kind and layer."""
    with grpc_server(health_service=False) as peer:
        code = main(["diagnose", "--json", f"grpc://127.0.0.1:{peer.port}/my.Service"])
    (result,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1
    assert [p["name"] for p in result["phases"]] == ["url", "proxy", "dns", "connect", "grpc"]
    grpc = result["phases"][-1]
    assert (grpc["service"], grpc["code"], grpc["code_name"]) == ("my.Service", 12, "UNIMPLEMENTED")
    assert (result["failure"]["kind"], result["failure"]["layer"]) == ("grpc.status", "app")
