"""What ``import_prometheus`` carries over now that tether runs it (issue 44): the grpc
modules of blackbox_exporter's own example ``blackbox.yml`` against real grpcio health
servers, a job's ``file_sd_configs`` and ``http_sd_configs`` as ``discover:`` sources
(the file's targets made into monitors and checked against the lab), and the example's
HTTP/3 module against a real aioquic server.  Other discovery kinds are left out, saying
which tether reads."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.grpc_server import NOT_SERVING, SERVING, grpc_server
from tether.lab import Lab
from tether.monitor import ProbeRecord
from tether.monitor.config import MonitorConfig, parse_config
from tether.monitor.config._discovered import monitors_from
from tether.monitor.config._discovery import groups_from_json
from tether.monitor.importers import Imported, to_yaml
from tether.monitor.importers.prometheus._import import import_prometheus

RELABEL = [
    {"source_labels": ["__address__"], "target_label": "__param_target"},
    {"source_labels": ["__param_target"], "target_label": "instance"},
    {"target_label": "__address__", "replacement": "127.0.0.1:9115"},
]


def job(name: str, module: str, **more: Any) -> dict[str, Any]:
    """A scrape job of blackbox_exporter's README pattern."""
    return {
        "job_name": name,
        "metrics_path": "/probe",
        "params": {"module": [module]},
        **more,
        "relabel_configs": RELABEL,
    }


def imported(tmp_path: Path, jobs: list[dict[str, Any]], modules: str | None = None) -> Imported:
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({"scrape_configs": jobs}))
    blackbox = None
    if modules is not None:
        blackbox = str(tmp_path / "blackbox.yml")
        Path(blackbox).write_text(modules)
    return import_prometheus(str(tmp_path / "prometheus.yml"), blackbox)


def test_the_example_grpc_modules_are_grpc_monitors(
    tmp_path: Path, checked: Callable[..., dict[str, ProbeRecord]]
) -> None:
    """blackbox.yml's grpc_plain (service1, plaintext) is grpc://TARGET/service1 and its
    grpc (tls: true) grpcs://TARGET; against grpcio, SERVING passes and NOT_SERVING fails."""
    with grpc_server({"service1": SERVING}) as up, grpc_server({"service1": NOT_SERVING}) as down:
        targets = [f"127.0.0.1:{up.port}", f"127.0.0.1:{down.port}"]
        result = imported(
            tmp_path,
            [
                job("grpc_plain", "grpc_plain", static_configs=[{"targets": targets}]),
                job("grpc_tls", "grpc", static_configs=[{"targets": ["grpc.internal:8443"]}]),
            ],
        )
        monitors = {m["name"]: m for m in result.config["monitors"]}
        assert monitors[targets[0]]["url"] == f"grpc://{targets[0]}/service1"
        assert monitors["grpc.internal:8443"]["url"] == "grpcs://grpc.internal:8443"
        assert not [item for item in result.left_out if "grpc" in item.why.lower()]
        found = checked(parse_config(to_yaml(result)), *targets)
    assert found[targets[0]].ok, found[targets[0]].detail
    assert found[targets[1]].kind == "grpc.not_serving"


def discovered(config: MonitorConfig, groups_json: str, source: int = 0) -> MonitorConfig:
    """``config`` with the monitors its ``discover[source]`` makes of ``groups_json``."""
    made = monitors_from(config.discover[source], groups_from_json(groups_json, {}), config)
    assert made.problems == []
    return config.model_copy(update={"monitors": tuple(made.monitors.values())})


def test_file_sd_targets_are_a_discover_source(
    tmp_path: Path, lab: Lab, checked: Callable[..., dict[str, ProbeRecord]]
) -> None:
    """A job's file_sd_configs is a file_sd source of the job's monitor: the files and
    refresh interval as written, the interval, timeout and job label the static targets
    get; the file's targets, made into monitors by tether's discovery, probe as the
    module says (tcp_connect: an open port passes, a refused one fails)."""
    result = imported(
        tmp_path,
        [
            job(
                "blackbox_tcp",
                "tcp_connect",
                scrape_interval="30s",
                file_sd_configs=[{"files": ["targets/*.json"], "refresh_interval": "2m"}],
            )
        ],
    )
    assert "monitors" not in result.config
    (source,) = result.config["discover"]
    assert source == {
        "name": "blackbox_tcp",
        "file_sd": {"files": ["targets/*.json"], "refresh_interval": "2m"},
        "template": {
            "url": "tcp://{{address}}",
            "interval": "30s",
            "timeout": "9s500ms",
            "labels": {"job": "blackbox_tcp", "instance": "{{address}}"},
        },
    }
    assert any("relative to this file's folder" in note for note in result.notes)
    assert not [item for item in result.left_out if "file_sd" in item.what]
    config = parse_config(to_yaml(result))
    healthy, refused = lab["healthy"], lab["refused"]
    groups = json.dumps(
        [
            {
                "targets": [f"{healthy.host}:{healthy.port}", f"{refused.host}:{refused.port}"],
                "labels": {"team": "web"},
            }
        ]
    )
    found = checked(discovered(config, groups))
    up = found[f"blackbox_tcp/{healthy.host}:{healthy.port}"]
    down = found[f"blackbox_tcp/{refused.host}:{refused.port}"]
    assert up.ok, up.detail
    assert down.kind == "connect.refused"


def test_an_http_modules_discovered_targets_are_host_ports_under_http(
    tmp_path: Path, lab: Lab, checked: Callable[..., dict[str, ProbeRecord]]
) -> None:
    """An http module's discovered targets are HOST:PORT after http://, as the exporter
    reads a target without a scheme (the header says so); the status conditions apply."""
    result = imported(
        tmp_path,
        [job("web", "http_2xx", file_sd_configs=[{"files": ["/etc/prometheus/web.yml"]}])],
    )
    (source,) = result.config["discover"]
    assert source["template"]["url"] == "http://{{address}}"
    assert any("read as HOST:PORT after http://" in note for note in result.notes)
    assert not any("relative to this file's folder" in note for note in result.notes)
    healthy, refused = lab["healthy"], lab["refused"]
    groups = json.dumps(
        [{"targets": [f"{healthy.host}:{healthy.port}", f"{refused.host}:{refused.port}"]}]
    )
    found = checked(discovered(parse_config(to_yaml(result)), groups))
    assert found[f"web/{healthy.host}:{healthy.port}"].ok
    assert found[f"web/{refused.host}:{refused.port}"].kind == "connect.refused"


def test_http_sd_is_a_discover_source_and_other_kinds_are_said(tmp_path: Path) -> None:
    """http_sd_configs keeps its URL, refresh interval, authorization and CA file (its
    credentials said in the header); what tether's http_sd has not, and Kubernetes or
    Consul discovery, are left out naming what tether reads."""
    result = imported(
        tmp_path,
        [
            job(
                "api",
                "http_2xx",
                static_configs=[{"targets": ["http://127.0.0.1:9/health"]}],
                http_sd_configs=[
                    {
                        "url": "https://sd.internal/targets",
                        "refresh_interval": "1m",
                        "authorization": {"credentials": "sd-Secret-1"},
                        "tls_config": {"ca_file": "/etc/ca.pem", "cert_file": "/etc/c.pem"},
                        "proxy_url": "http://127.0.0.1:3128",
                    }
                ],
                kubernetes_sd_configs=[{"role": "service"}],
            )
        ],
    )
    (source,) = result.config["discover"]
    assert source["http_sd"] == {
        "url": "https://sd.internal/targets",
        "refresh_interval": "1m",
        "authorization": {"type": "Bearer", "credentials": "sd-Secret-1"},
        "tls": {"ca_file": "/etc/ca.pem"},
    }
    why = {item.what: item.why for item in result.left_out}
    assert why["scrape_configs[0] (api): kubernetes_sd_configs"].startswith(
        "tether discovers targets from file_sd and http_sd only"
    )
    assert "cert_file" in why["scrape_configs[0] (api): http_sd_configs[0]: tls_config"]
    assert "proxy" in why["scrape_configs[0] (api): http_sd_configs[0]: proxy_url"]
    assert not any("sd-Secret-1" in item.why for item in result.left_out)
    assert any("credentials are written" in note for note in result.notes)
    assert len(parse_config(to_yaml(result)).discover) == 1


def test_an_icmp_modules_discovered_targets_are_said(tmp_path: Path) -> None:
    """Discovered targets are HOST:PORT, an icmp:// check takes a host: the job's
    file_sd is left out with that reason, its static targets carried."""
    result = imported(
        tmp_path,
        [
            job(
                "ping",
                "icmp",
                static_configs=[{"targets": ["127.0.0.1"]}],
                file_sd_configs=[{"files": ["hosts.json"]}],
            )
        ],
    )
    assert [m["url"] for m in result.config["monitors"]] == ["icmp://127.0.0.1"]
    assert "discover" not in result.config
    why = {item.what: item.why for item in result.left_out}
    assert "icmp:// check takes a host" in why["scrape_configs[0] (ping): file_sd_configs"]


HTTP3_MODULES = """\
modules:
  http_3xx:
    prober: http
    http:
      preferred_ip_protocol: "ip4"
      enable_http3: true
      enable_http2: false
      valid_http_versions: ["HTTP/3.0"]
      tls_config:
        ca_file: {ca}
"""


def test_the_example_http3_module_is_an_http3_monitor(
    tmp_path: Path, checked: Callable[..., dict[str, ProbeRecord]]
) -> None:
    """blackbox.yml's HTTP/3 module (enable_http3, valid_http_versions [HTTP/3.0]) makes
    https:// monitors with http_version 3, and is carried into modules:; against a real
    aioquic server the monitor passes over HTTP/3."""
    h3 = pytest.importorskip("tests.helpers.h3_server")
    from tether.lab._certs import make_certs

    certs = make_certs()
    with h3.h3_server(certs.valid) as port:
        result = imported(
            tmp_path,
            [job("h3", "http_3xx", static_configs=[{"targets": [f"http://localhost:{port}/"]}])],
            HTTP3_MODULES.format(ca=certs.ca_file),
        )
        (monitor,) = result.config["monitors"]
        assert (monitor["url"], monitor["http_version"]) == (f"https://localhost:{port}/", "3")
        assert set(result.config["modules"]) == {"http_3xx"}
        assert result.left_out == ()
        config = parse_config(to_yaml(result))
        found = checked(config)
    (record,) = found.values()
    assert record.ok, record.detail
    assert "quic" in record.phases


class _Bodies(BaseHTTPRequestHandler):
    """Answers 200 with ``healthy`` on /ok and ``broken`` elsewhere, and an X-Build header."""

    def do_GET(self) -> None:
        body = b"status: healthy" if self.path.startswith("/ok") else b"status: broken"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Build", "release-7")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


BODY_MODULES = """
modules:
  http_2xx:
    prober: http
    http:
      valid_status_codes: [200]
      fail_if_body_not_matches_regexp: ['status: "?healthy']
      fail_if_header_not_matches: [{header: X-Build, regexp: '^release-\\d+$'}]
      compression: gzip
"""


def test_one_option_tether_does_not_honour_keeps_the_jobs_targets(
    tmp_path: Path, checked: Callable[..., dict[str, ProbeRecord]]
) -> None:
    """Issue 73 item 13: Prometheus's standard blackbox job of three targets whose
    http_2xx has fail_if_body_not_matches_regexp made no monitor at all.  Each target is
    a monitor now; the body's and the header's regular expressions are its conditions
    (quotes and backslashes kept), and what no monitor says (compression) is named target
    by target.  Against a real server, the healthy body passes and the broken one fails
    on its condition, as blackbox_exporter would fail them."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Bodies)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        targets = [f"{base}/ok", f"{base}/down", f"{base}/ok?again"]
        result = imported(
            tmp_path,
            [job("blackbox", "http_2xx", static_configs=[{"targets": targets}])],
            BODY_MODULES,
        )
        monitors = result.config["monitors"]
        assert [m["name"] for m in monitors] == targets
        for monitor in monitors:
            assert monitor["conditions"] == [
                "[STATUS] in (200)",
                '[BODY] == re("status: \\"?healthy")',
                '[HEADER].X-Build == re("^release-\\\\d+$")',
            ]
        left = [(item.what, item.why) for item in result.left_out]
        assert [what for what, _ in left] == [
            f"scrape_configs[0] (blackbox): {t}: http.compression" for t in targets
        ], left
        assert all("no such option" in why for _, why in left), left
        assert "modules" not in result.config  # /probe?module=http_2xx would run it without
        config = parse_config(to_yaml(result))
        found = checked(config)
        assert found[targets[0]].ok, found[targets[0]].detail
        assert found[targets[2]].ok, found[targets[2]].detail
        down = found[targets[1]]
        assert not down.ok
        assert "[BODY]" in down.detail, down.detail
    finally:
        server.shutdown()
        server.server_close()
