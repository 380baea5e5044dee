"""``import_prometheus``: a ``prometheus.yml`` of the pattern blackbox_exporter's README
gives (its own example, the targets the lab's), with and without the ``blackbox.yml``
whose modules the jobs name; each imported monitor is checked once against the lab."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tether.lab import Lab
from tether.monitor import ProbeRecord
from tether.monitor.config import parse_config
from tether.monitor.importers import ImportFailed, to_yaml
from tether.monitor.importers.prometheus._import import import_prometheus


def prometheus_yml(lab: Lab) -> str:
    """blackbox_exporter's README scrape configuration, then a tcp job with file_sd_configs
    too, and one of modules from a blackbox.yml."""
    healthy, missing, refused = lab["healthy"], lab["http_404"], lab["refused"]
    relabel = """\
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:9115  # The blackbox exporter's real hostname:port.
"""
    return f"""\
global:
  scrape_interval: 15s
  scrape_timeout: 10s
rule_files: [alerts.yml]
scrape_configs:
  - job_name: 'blackbox'
    metrics_path: /probe
    params:
      module: [http_2xx]  # Look for a HTTP 200 response.
    static_configs:
      - targets:
        - {healthy.url}    # Target to probe with http.
        - {missing.url}
        - {refused.url}
        labels:
          team: web
{relabel}  - job_name: 'blackbox_exporter'  # collect blackbox exporter's operational metrics.
    static_configs:
      - targets: ['127.0.0.1:9115']
  - job_name: 'blackbox_tcp'
    scrape_interval: 1m
    metrics_path: /probe
    params:
      module: [tcp_connect]
    static_configs:
      - targets: ['{healthy.host}:{healthy.port}']
    file_sd_configs:
      - files: [targets/*.json]
{relabel}  - job_name: 'blackbox_custom'
    metrics_path: /probe
    params:
      module: [http_404]
    static_configs:
      - targets: ['{missing.url}']
{relabel}  - job_name: 'blackbox_dns'
    metrics_path: /probe
    params:
      module: [dns_lab]
    static_configs:
      - targets: ['{lab.resolver}']
{relabel}  - job_name: 'blackbox_banner'
    metrics_path: /probe
    params:
      module: [ssh_banner]
    static_configs:
      - targets: ['127.0.0.1:22']
{relabel}  - job_name: 'probe_without_relabelling'
    metrics_path: /probe
    params:
      module: [http_2xx]
    static_configs:
      - targets: ['{healthy.url}']
"""


BLACKBOX_YML = """\
modules:
  http_2xx:
    prober: http
  tcp_connect:
    prober: tcp
  http_404:
    prober: http
    timeout: 5s
    http:
      valid_status_codes: [404]
      method: GET
  dns_lab:
    prober: dns
    dns:
      query_name: ok.lab.test
      query_type: A
      valid_rcodes: [NOERROR]
  ssh_banner:
    prober: tcp
    tcp:
      query_response:
      - expect: "^SSH-2.0-"
"""


@pytest.fixture
def files(lab: Lab, tmp_path: Path) -> tuple[str, str]:
    (tmp_path / "prometheus.yml").write_text(prometheus_yml(lab))
    (tmp_path / "blackbox.yml").write_text(BLACKBOX_YML)
    return str(tmp_path / "prometheus.yml"), str(tmp_path / "blackbox.yml")


def by_name(config: Any) -> dict[str, Any]:
    return {m["name"]: m for m in config["monitors"]}


def test_each_target_is_a_monitor_with_the_jobs_settings(files: tuple[str, str], lab: Lab) -> None:
    """Without --modules: the example modules; each static target a monitor with the
    job's interval, the scrape timeout less half a second, its labels and job/instance."""
    result = import_prometheus(files[0])
    monitors = by_name(result.config)
    healthy = monitors[lab["healthy"].url]
    assert healthy["url"] == lab["healthy"].url
    assert healthy["conditions"] == ["[STATUS] >= 200", "[STATUS] < 300"]
    assert (healthy["interval"], healthy["timeout"]) == ("15s", "9s500ms")
    assert healthy["labels"] == {"team": "web", "job": "blackbox", "instance": lab["healthy"].url}
    tcp = monitors[f"{lab['healthy'].host}:{lab['healthy'].port}"]
    assert tcp["url"] == f"tcp://{lab['healthy'].host}:{lab['healthy'].port}"
    assert tcp["interval"] == "1m"
    why = {item.what: item.why for item in result.left_out}
    assert why["scrape_configs[1] (blackbox_exporter)"].startswith("not a blackbox_exporter job")
    # The job's file_sd targets are a discover: source of the same monitor (issue 44).
    (source,) = result.config["discover"]
    assert (source["name"], source["file_sd"]) == ("blackbox_tcp", {"files": ["targets/*.json"]})
    assert source["template"]["url"] == "tcp://{{address}}"
    assert (
        "module http_404 is not in blackbox_exporter's example modules"
        in why["scrape_configs[3] (blackbox_custom)"]
    )
    assert why["rule_files"] == "Prometheus's own: it stays with Prometheus"
    assert why["scrape_configs[6] (probe_without_relabelling)"] == (
        "its relabel_configs do not move __address__ to __param_target"
    )
    assert "modules" not in result.config


def test_the_monitors_find_what_the_module_means(
    files: tuple[str, str], lab: Lab, checked: Callable[..., dict[str, ProbeRecord]]
) -> None:
    """With blackbox.yml: http_2xx passes the healthy target and fails the 404 and the
    refused ones; the module listing 404 passes it; tcp_connect connects; the dns module
    asks the lab's resolver; the module tether cannot run is left out with its reason,
    and the modules tether runs are carried into modules:."""
    result = import_prometheus(*files)
    config = parse_config(to_yaml(result))
    assert set(config.modules) >= {"http_2xx", "tcp_connect", "http_404", "dns_lab"}
    # What is carried is what tether runs: the module it cannot is only said.
    assert set(result.config["modules"]) == {"http_2xx", "tcp_connect", "http_404", "dns_lab"}
    found = checked(config)
    # A target of two jobs is two monitors, named job/target.
    assert found[lab["healthy"].url].ok
    assert not found[f"blackbox/{lab['http_404'].url}"].ok
    assert found[lab["refused"].url].kind == "connect.refused"
    assert found[f"blackbox_custom/{lab['http_404'].url}"].ok
    assert found[f"{lab['healthy'].host}:{lab['healthy'].port}"].ok
    assert found[lab.resolver].ok, found[lab.resolver].detail
    why = {item.what: item.why for item in result.left_out}
    # The module tether cannot run as written still makes its target a monitor (a
    # connect), the option it does not honour named with the target (issue 73 item 13).
    assert why["scrape_configs[5] (blackbox_banner): 127.0.0.1:22: tcp.query_response"] == (
        "a tcp:// monitor connects and sends nothing: the monitor is carried as a connect"
    )
    assert by_name(result.config)["127.0.0.1:22"]["url"] == "tcp://127.0.0.1:22"
    monitors = by_name(result.config)
    assert monitors[f"blackbox_custom/{lab['http_404'].url}"]["timeout"] == "5s"
    assert monitors[lab.resolver]["dns"] == {"record_type": "A", "rcode": "NOERROR"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("scrape_configs: [\n", "prometheus.yml:2:1: is not valid YAML"),
        ("global: {}\n", "is not a Prometheus configuration"),
        (
            "scrape_configs:\n"
            "  - {job_name: node, static_configs: [{targets: ['127.0.0.1:9100']}]}\n",
            "has no scrape job of the blackbox_exporter pattern",
        ),
    ],
)
def test_a_file_without_blackbox_jobs_fails_in_one_line(
    tmp_path: Path, text: str, problem: str
) -> None:
    """Malformed YAML names the line; a file that is not Prometheus's, or has no job of
    the pattern, says so in one line naming the file."""
    path = tmp_path / "prometheus.yml"
    path.write_text(text)
    with pytest.raises(ImportFailed) as caught:
        import_prometheus(str(path))
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(str(path))
