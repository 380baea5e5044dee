"""Gatus's gRPC endpoints, as its README's "Monitoring an endpoint using gRPC" writes
them, imported as tether's ``grpc://`` monitors and checked against real grpcio health
servers on loopback (tests/helpers/grpc_server.py): what Gatus found, tether finds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers.grpc_server import NOT_SERVING, SERVING, grpc_server
from tether.monitor import ProbeRecord
from tether.monitor.config import parse_config
from tether.monitor.importers import to_yaml
from tether.monitor.importers.gatus._import import import_gatus

README = """\
endpoints:
  - name: my-grpc
    url: grpc://127.0.0.1:{serving}
    interval: 30s
    conditions:
      - "[CONNECTED] == true"
      - "[BODY].status == SERVING"  # BODY is read only when referenced
    client:
      timeout: 5s
  - name: my-grpcs
    url: grpcs://127.0.0.1:8443
    conditions:
      - "[CONNECTED] == true"
      - "[BODY].status == SERVING"
    client:
      timeout: 5s
      insecure: false          # set true to skip cert verification (not recommended)
      tls:
        certificate-file: /path/to/cert.pem      # optional mTLS client cert
        private-key-file: /path/to/key.pem       # optional mTLS client key
  - name: drained
    url: grpc://127.0.0.1:{drained}/
    conditions:
      - "[BODY].status == SERVING"
  - name: no-health
    url: grpc://127.0.0.1:{bare}
    conditions:
      - "[CONNECTED] == true"
  - name: body-whole
    url: grpc://127.0.0.1:{serving}
    conditions:
      - "[BODY] == pat(*SERVING*)"
"""


def _imported(tmp_path: Path, **ports: int) -> Any:
    path = tmp_path / "config.yaml"
    path.write_text(README.format(**ports))
    return import_gatus(str(path))


def test_grpc_endpoints_are_grpc_monitors(tmp_path: Path) -> None:
    """Each gRPC endpoint is a monitor of its URL (the server as a whole, as Gatus asks):
    `[BODY].status` is `[GRPC_STATUS]`, `[CONNECTED]` (Gatus: the call was answered)
    `has([GRPC_STATUS])`, the client timeout kept; the mTLS client
    certificate and a [BODY] tether's check has not are said, not dropped."""
    result = _imported(tmp_path, serving=50051, drained=50052, bare=50053)
    monitors = {m["name"]: m for m in result.config["monitors"]}
    assert monitors["my-grpc"]["url"] == "grpc://127.0.0.1:50051"
    assert monitors["my-grpc"]["conditions"] == ["has([GRPC_STATUS])", "[GRPC_STATUS] == SERVING"]
    assert monitors["my-grpc"]["timeout"] == "5s"
    assert monitors["my-grpcs"]["url"] == "grpcs://127.0.0.1:8443"
    assert monitors["drained"]["url"] == "grpc://127.0.0.1:50052"
    why = {item.what: item.why for item in result.left_out}
    assert "client certificate" in why["endpoints[1] (my-grpcs): client.tls"]
    assert (
        "[GRPC_STATUS]"
        in why["endpoints[4] (body-whole): conditions[0] '[BODY] == pat(*SERVING*)'"]
    )
    assert not any("gRPC's health protocol" in item.why for item in result.left_out)
    parse_config(to_yaml(result))


def test_the_imported_monitors_find_what_gatus_found(
    tmp_path: Path, checked: Callable[..., dict[str, ProbeRecord]]
) -> None:
    """A SERVING server passes, a NOT_SERVING one fails, and so does one without the
    health service, whose port still connects (Gatus's [CONNECTED] is false there):
    against real grpcio servers."""
    with (
        grpc_server({"": SERVING}) as serving,
        grpc_server({"": NOT_SERVING}) as drained,
        grpc_server(health_service=False) as bare,
    ):
        result = _imported(tmp_path, serving=serving.port, drained=drained.port, bare=bare.port)
        config = parse_config(to_yaml(result))
        found = checked(config, "my-grpc", "drained", "no-health")
    assert found["my-grpc"].ok, found["my-grpc"].detail
    assert not found["drained"].ok
    assert found["drained"].kind == "grpc.not_serving"
    assert not found["no-health"].ok
    assert found["no-health"].conditions == ("has([GRPC_STATUS]) (false)",)
