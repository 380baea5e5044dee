"""``modules:``: blackbox_exporter's modules taken as a ``blackbox.yml`` writes them, what
``/probe?module=NAME`` does with each (real servers of the lab on loopback), and the same
scrape configuration run against Debian's blackbox_exporter and against tether, both
scraped by a real Prometheus, giving the same series names."""

from __future__ import annotations

import asyncio
import http.server
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from tests.helpers.ports import free_port
from tests.helpers.prometheus_server import needs_prometheus, prometheus, query
from tether.lab import Lab
from tether.monitor import Runner
from tether.monitor.checks._blackbox import family
from tether.monitor.config import ConfigError, parse_config
from tether.monitor.config._blackbox import DEFAULT_MODULES
from tether.monitor.config._checks import config_warnings
from tether.monitor.web._web import serve

MONITORS = 'monitors: [{name: a, url: "http://127.0.0.1:1/"}]\n'


def config_error(modules: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(MONITORS + "modules:\n" + modules)
    return str(caught.value)


# -- the configuration ------------------------------------------------------------------


def test_a_blackbox_yml_modules_section_is_taken_as_written() -> None:
    """The common options of http, tcp and dns modules, in blackbox.yml's spelling, land
    in the model with their meaning (no_follow_redirects, upper-cased record types)."""
    config = parse_config(
        MONITORS
        + """
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      valid_status_codes: [200, 404]
      valid_http_versions: ["HTTP/1.1"]
      method: HEAD
      headers: {X-Probe: tether}
      no_follow_redirects: true
      fail_if_not_ssl: true
      tls_config: {insecure_skip_verify: true}
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
  tcp_tls:
    prober: tcp
    tcp: {tls: true}
  dns_lab:
    prober: dns
    dns: {query_name: ok.lab.test, query_type: aaaa, valid_rcodes: [NOERROR, NXDOMAIN]}
"""
    )
    http = config.modules["http_2xx"]
    assert (http.prober, http.timeout) == ("http", 5.0)
    assert http.http.valid_status_codes == (200, 404)
    assert http.http.method == "HEAD"
    assert http.http.headers == {"X-Probe": "tether"}
    assert http.http.follows is False
    assert http.http.tls_config.insecure_skip_verify is True
    assert family(http.http.preferred_ip_protocol, http.http.ip_protocol_fallback) == 4
    assert config.modules["tcp_tls"].tcp.tls is True
    dns = config.modules["dns_lab"].dns
    assert dns is not None
    assert dns.query_type == "AAAA"
    assert dns.valid_rcodes == ("NOERROR", "NXDOMAIN")
    assert set(config.modules) == {"http_2xx", "tcp_tls", "dns_lab"}


def test_without_modules_the_example_blackbox_yml_modules_are_there() -> None:
    """No modules: section (or an empty one) gives http_2xx, http_post_2xx, tcp_connect,
    icmp, grpc and grpc_plain, as blackbox_exporter's example blackbox.yml has them."""
    for text in (MONITORS, MONITORS + "modules:\n"):
        config = parse_config(text)
        assert set(config.modules) == {
            "http_2xx",
            "http_post_2xx",
            "tcp_connect",
            "icmp",
            "grpc",
            "grpc_plain",
        }
    assert DEFAULT_MODULES["http_post_2xx"].http.method == "POST"
    assert DEFAULT_MODULES["grpc"].grpc.tls
    assert DEFAULT_MODULES["grpc_plain"].grpc.service == "service1"


def test_the_ip_protocol_options_map_to_one_family_only_without_fallback() -> None:
    """preferred_ip_protocol alone is a preference (both raced); without the fallback it
    is the only family."""
    assert family("ip6", True) == 0
    assert family("ip4", False) == 4
    assert family("ip6", False) == 6


@pytest.mark.parametrize(
    ("modules", "name", "reason"),
    [
        (
            "  http_2xx: {prober: http, http: {compression: gzip}}",
            "http_2xx",
            "tether does not honour blackbox_exporter's http.compression",
        ),
        (
            "  slow: {prober: http, http: {fail_if_body_matches_regexp: [x], body: y}}",
            "slow",
            "tether does not honour blackbox_exporter's http.fail_if_body_matches_regexp, "
            "http.body",
        ),
        (
            "  banner: {prober: tcp, tcp: {query_response: [{expect: SSH}]}}",
            "banner",
            "tether does not honour blackbox_exporter's tcp.query_response",
        ),
        (
            "  h: {prober: http, http: {tls_config: {server_name: x}}}",
            "h",
            "tether does not honour blackbox_exporter's http.tls_config.server_name",
        ),
        (
            "  ping: {prober: icmp, icmp: {ttl: 5}}",
            "ping",
            "tether does not honour blackbox_exporter's icmp.ttl",
        ),
        (
            "  g: {prober: grpc, grpc: {tls: true, tls_config: {server_name: x}}}",
            "g",
            "tether does not honour blackbox_exporter's grpc.tls_config.server_name",
        ),
    ],
)
def test_a_module_tether_cannot_honour_is_kept_unavailable_with_the_reason(
    modules: str, name: str, reason: str
) -> None:
    """A module needing an option tether does not honour, or a prober it does not run,
    does not stop the file loading: it is kept unavailable, saying why, and
    check-config's warnings name it."""
    config = parse_config(MONITORS + "modules:\n" + modules)
    assert config.modules[name].unavailable == reason
    assert f"modules.{name}: not available: {reason}; /probe?module={name} answers 400" in (
        "\n".join(config_warnings(config))
    )


@pytest.mark.parametrize(
    ("modules", "message"),
    [
        ("  x: {prober: smtp}", "modules.x: prober smtp is not one of http, tcp, dns, icmp"),
        ("  x: {prober: [http]}", "modules.x: prober: a list is not one of http, tcp, dns, icmp"),
        ("  x: {prober: {a: 1}}", "modules.x: prober: a mapping is not one of http, tcp"),
        ("  x: {timeout: 5s}", "modules.x: prober is required: http, tcp, dns, icmp"),
        ("  d: {prober: dns}", "modules.d: dns.query_name is required with prober: dns"),
        ("  h: {prober: http, http: {metod: GET}}", "modules.h.http.metod: unknown key"),
        (
            "  h: {prober: http, http: {valid_status_codes: [99]}}",
            "modules.h.http.valid_status_codes[0]: 99 is too small",
        ),
        (
            "  d: {prober: dns, dns: {query_name: a.test, valid_rcodes: [NOPE]}}",
            'modules.d.dns.valid_rcodes[0]: "NOPE" is not one of',
        ),
        ("  g: {prober: grpc, timeout: soon}", "modules.g.timeout:"),
        (
            "  g: {prober: grpc, grpc: {service: a/b}}",
            'modules.g.grpc.service: "a/b" is not a gRPC service name',
        ),
        ("  g: {prober: grpc, grpc: {tsl: true}}", "modules.g.grpc.tsl: unknown key"),
    ],
)
def test_a_typo_or_a_bad_value_is_one_error_naming_the_key_and_module(
    modules: str, message: str
) -> None:
    """A prober nobody knows, a typo and a bad value are each one error whose path
    names the module (an unavailable module's timeout is still read)."""
    error = config_error(modules)
    assert message in error
    assert len(error.splitlines()) == 1


DEBIAN_BLACKBOX_YML = """\
modules:
  http_2xx:
    prober: http
  http_post_2xx:
    prober: http
    http:
      method: POST
  tcp_connect:
    prober: tcp
  pop3s_banner:
    prober: tcp
    tcp:
      query_response:
      - expect: "^+OK"
      tls: true
      tls_config:
        insecure_skip_verify: false
  grpc:
    prober: grpc
    grpc:
      tls: true
      preferred_ip_protocol: "ip4"
  ssh_banner:
    prober: tcp
    tcp:
      query_response:
      - expect: "^SSH-2.0-"
      - send: "SSH-2.0-blackbox-ssh-check"
  irc_banner:
    prober: tcp
    tcp:
      query_response:
      - send: "NICK prober"
      - expect: "PING :([^ ]+)"
        send: "PONG ${1}"
  icmp:
    prober: icmp
  icmp_ttl5:
    prober: icmp
    timeout: 5s
    icmp:
      ttl: 5
"""
"""The modules of the example blackbox.yml that Debian's prometheus-blackbox-exporter
installs as /etc/prometheus/blackbox.yml (grpc_plain left out: it is grpc again)."""


def test_debians_example_blackbox_yml_loads_as_it_is(
    runner_for: Callable[..., Runner], lab: Lab
) -> None:
    """The package's own file, pasted under the monitors: the modules tether runs probe
    (http_2xx of the lab's healthy server succeeds), the others answer 400 saying why,
    and ``${1}`` (a regular expression's group) is no environment reference.  Where the
    package is installed, its file as it is on disk loads too."""
    config = parse_config(MONITORS + DEBIAN_BLACKBOX_YML)
    usable = {name for name, m in config.modules.items() if m.unavailable is None}
    assert usable == {"http_2xx", "http_post_2xx", "tcp_connect", "icmp", "grpc"}
    healthy = lab["healthy"].url
    (ok, banner, unknown) = ask(
        runner_for,
        MONITORS + DEBIAN_BLACKBOX_YML,
        ("http_2xx", healthy),
        ("ssh_banner", "127.0.0.1:22"),
        ("nope", healthy),
    )
    assert ok[0] == 200
    assert series(ok[1])["probe_success"] == "1.0"
    assert banner == (
        400,
        'probe: module "ssh_banner" is not available in tether: '
        "tether does not honour blackbox_exporter's tcp.query_response\n",
    )
    assert unknown == (
        400,
        'Unknown module "nope"; valid modules: grpc, http, http_2xx, http_post_2xx, icmp, tcp, '
        "tcp_connect, tls\n",
    )
    installed = Path("/etc/prometheus/blackbox.yml")
    if installed.exists():
        on_disk = parse_config(MONITORS + installed.read_text())
        assert usable <= {n for n, m in on_disk.modules.items() if m.unavailable is None}


# -- /probe?module=NAME -----------------------------------------------------------------


def ask(
    runner_for: Callable[..., Runner], config_text: str, *requests: tuple[str, str]
) -> list[tuple[int, str]]:
    """Start the monitor's server with ``config_text`` (a Runner from the ``runner_for``
    fixture) and GET /probe for each (module, target)."""
    runner = runner_for(parse_config(config_text))

    async def main() -> list[tuple[int, str]]:
        port = free_port()
        server = await serve(runner, "127.0.0.1", port)
        out = []
        try:
            async with aiohttp.ClientSession() as session:
                for module, target in requests:
                    url = f"http://127.0.0.1:{port}/probe"
                    params = {"target": target, "module": module}
                    async with session.get(url, params=params) as r:
                        out.append((r.status, await r.text()))
        finally:
            await server.cleanup()
        return out

    return asyncio.run(main())


def series(text: str) -> dict[str, str]:
    """Each sample line's name with labels, and its value."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = value
    return out


def names(text: str) -> set[str]:
    return {name.partition("{")[0] for name in series(text)}


def test_an_unknown_module_is_a_400_listing_the_valid_ones(
    runner_for: Callable[..., Runner],
) -> None:
    """As blackbox_exporter: 400 and ``Unknown module "x"``, here with the configured
    modules and tether's own names listed."""
    ((status, text),) = ask(
        runner_for, MONITORS + "modules:\n  web: {prober: http}\n", ("http_2xx", "127.0.0.1:1")
    )
    assert status == 400
    assert text == 'Unknown module "http_2xx"; valid modules: http, tcp, tls, web\n'


def test_valid_status_codes_pass_a_404_and_fail_a_200(
    runner_for: Callable[..., Runner], lab: Lab
) -> None:
    """A module's valid_status_codes decides: the lab's 404 passes where it lists 404, and
    its 200 fails (kind ``condition``); the default module fails the 404 with its kind."""
    config = (
        MONITORS + "modules:\n  not_found: {prober: http, http: {valid_status_codes: [404]}}\n"
        "  http_2xx: {prober: http}\n"
    )
    answers = ask(
        runner_for,
        config,
        ("not_found", lab["http_404"].url),
        ("not_found", lab["healthy"].url),
        ("http_2xx", lab["http_404"].url),
    )
    (s1, missing), (s2, healthy), (s3, default) = answers
    assert (s1, s2, s3) == (200, 200, 200)
    assert series(missing)["probe_success"] == "1.0"
    assert series(missing)["probe_http_status_code"] == "404.0"
    assert series(healthy)["probe_success"] == "0.0"
    assert 'probe_failure_info{kind="condition",layer="http"}' in series(healthy)
    assert 'probe_failure_info{kind="http.client_error",layer="http"}' in series(default)


def test_an_https_probe_reports_tls_and_http_version(
    runner_for: Callable[..., Runner], lab: Lab
) -> None:
    """Over TLS with the lab's CA: probe_http_ssl 1, probe_http_version 1.1, the
    certificate's expiry and the TLS version; fail_if_ssl fails the same probe."""
    ca = lab.ca_file
    config = (
        MONITORS + "modules:\n"
        f"  https: {{prober: http, http: {{tls_config: {{ca_file: '{ca}'}}}}}}\n"
        "  plain_only: {prober: http, http: {fail_if_ssl: true, "
        f"tls_config: {{ca_file: '{ca}'}}}}}}\n"
    )
    (_, ok), (_, refused) = ask(
        runner_for, config, ("https", lab["tls_ok"].url), ("plain_only", lab["tls_ok"].url)
    )
    got = series(ok)
    assert got["probe_success"] == "1.0"
    assert got["probe_http_ssl"] == "1.0"
    assert got["probe_http_version"] == "1.1"
    assert got["probe_ip_protocol"] == "4.0"
    assert float(got["probe_ssl_earliest_cert_expiry"]) > 1.7e9
    assert any(name.startswith('probe_tls_version_info{version="TLS 1.') for name in got)
    assert series(refused)["probe_success"] == "0.0"
    assert 'probe_failure_info{kind="condition",layer="tls"}' in series(refused)


def test_a_tcp_module_answers_no_http_series(runner_for: Callable[..., Runner], lab: Lab) -> None:
    """tcp_connect (a default module) and tether's own ``tcp``: success, duration, the IP
    protocol and no probe_http_* series; a refused port fails with connect.refused."""
    healthy = lab["healthy"].url.split("//")[1].rstrip("/")
    refused = lab["refused"].url.split("//")[1].split("/")[0]
    answers = ask(
        runner_for, MONITORS, ("tcp_connect", healthy), ("tcp", healthy), ("tcp_connect", refused)
    )
    for status, text in answers[:2]:
        assert status == 200
        assert series(text)["probe_success"] == "1.0"
        assert not {n for n in names(text) if n.startswith("probe_http_")}
        assert "probe_ip_protocol" in names(text)
    assert 'probe_failure_info{kind="connect.refused",layer="connect"}' in series(answers[2][1])


needs_raw_icmp = pytest.mark.skipif(
    os.geteuid() != 0 and not os.environ.get("TETHER_REQUIRE_NETNS"),
    reason="an ICMP echo from the test's process needs root here (a raw socket)",
)


@needs_raw_icmp
def test_an_icmp_module_answers_blackboxs_icmp_series(runner_for: Callable[..., Runner]) -> None:
    """The default icmp module and one preferring IPv4 alone: one echo to loopback, the
    icmp phases and hop limit, the IP protocol, no probe_http_*; a target with a port or a
    scheme is a 400."""
    config = (
        MONITORS + "modules:\n"
        "  icmp: {prober: icmp}\n"
        "  icmp_v4: {prober: icmp, icmp: {preferred_ip_protocol: ip4, "
        "ip_protocol_fallback: false, payload_size: 16}}\n"
    )
    answers = ask(
        runner_for,
        config,
        ("icmp", "::1"),
        ("icmp_v4", "127.0.0.1"),
        ("icmp", "127.0.0.1:80"),
        ("icmp", "http://127.0.0.1/"),
    )
    (s6, v6), (s4, v4) = answers[:2]
    assert (s6, s4) == (200, 200)
    for text, protocol in ((v6, "6.0"), (v4, "4.0")):
        got = series(text)
        assert got["probe_success"] == "1.0"
        assert got["probe_ip_protocol"] == protocol
        assert got["probe_icmp_reply_hop_limit"] == "64.0"
        assert 0 < float(got['probe_icmp_duration_seconds{phase="rtt"}']) < 1
        assert not {n for n in names(text) if n.startswith("probe_http_")}
    for status, text in answers[2:]:
        assert status == 400
        assert "an icmp module's target is a host or an address" in text


def test_a_dns_module_asks_the_target_server(runner_for: Callable[..., Runner], lab: Lab) -> None:
    """A dns module asks the target (the lab's DNS server) its query_name: NOERROR with an
    answer passes; NXDOMAIN fails unless valid_rcodes lists it; a name as target is a 400."""
    config = (
        MONITORS + "modules:\n"
        "  dns_ok: {prober: dns, dns: {query_name: ok.lab.test, query_type: A}}\n"
        "  dns_missing: {prober: dns, dns: {query_name: nope.lab.test, query_type: A}}\n"
        "  dns_nx: {prober: dns, dns: {query_name: nope.lab.test, valid_rcodes: [NXDOMAIN]}}\n"
    )
    answers = ask(
        runner_for,
        config,
        ("dns_ok", lab.resolver),
        ("dns_missing", lab.resolver),
        ("dns_nx", lab.resolver),
        ("dns_ok", "localhost:53"),
    )
    ok, missing, nx = (series(text) for _, text in answers[:3])
    assert ok["probe_success"] == "1.0"
    assert ok["probe_dns_answer_rrs"] == "1.0"
    assert not {n for n in names(answers[0][1]) if n.startswith("probe_http_")}
    assert missing["probe_success"] == "0.0"
    assert 'probe_failure_info{kind="condition",layer="dns"}' in missing
    assert nx["probe_success"] == "1.0"
    assert answers[3][0] == 400
    assert "DNS server's address" in answers[3][1]


# -- the same scrape configuration against blackbox_exporter and tether ------------------

EXPORTER = shutil.which("prometheus-blackbox-exporter")
needs_exporter = pytest.mark.skipif(
    EXPORTER is None and not os.environ.get("TETHER_REQUIRE_BLACKBOX"),
    reason="needs Debian's prometheus-blackbox-exporter (.ci/run installs it and requires this)",
)

DASHBOARD_SERIES = {
    "probe_success",
    "probe_duration_seconds",
    "probe_http_status_code",
    "probe_http_content_length",
    "probe_http_duration_seconds",
    "probe_ssl_earliest_cert_expiry",
    "probe_http_ssl",
    "probe_http_version",
    "probe_http_redirects",
    "probe_ip_protocol",
    "probe_dns_lookup_time_seconds",
    "probe_tls_version_info",
    "probe_dns_answer_rrs",
    "probe_icmp_duration_seconds",
    "probe_icmp_reply_hop_limit",
}
"""The series a Grafana dashboard for blackbox_exporter reads."""


@needs_prometheus
@needs_exporter
def test_one_scrape_config_gets_the_same_series_from_the_exporter_and_tether(
    tmp_path: Path, runner_for: Callable[..., Runner], lab: Lab
) -> None:
    """The same modules text in a blackbox.yml and in tether's modules:, the same /probe
    jobs (module params and relabelling as in blackbox_exporter's README) scraped by a real
    Prometheus: per module, tether has every dashboard series the exporter has, and neither
    has probe_http_* for tcp or dns."""
    modules = (
        "modules:\n"
        "  http_2xx:\n"
        "    prober: http\n"
        "    http: {preferred_ip_protocol: ip4, ip_protocol_fallback: false}\n"
        "  https_2xx:\n"
        "    prober: http\n"
        "    http:\n"
        "      preferred_ip_protocol: ip4\n"
        f"      tls_config: {{ca_file: '{lab.ca_file}'}}\n"
        "  tcp_connect:\n"
        "    prober: tcp\n"
        "    tcp: {preferred_ip_protocol: ip4}\n"
        "  dns_lab:\n"
        "    prober: dns\n"
        "    dns: {query_name: ok.lab.test, query_type: A, preferred_ip_protocol: ip4}\n"
        "  icmp_lo:\n"
        "    prober: icmp\n"
        "    icmp: {preferred_ip_protocol: ip4}\n"
    )
    (tmp_path / "blackbox.yml").write_text(modules)
    healthy = lab["healthy"].url
    targets = {
        "http_2xx": healthy,
        "https_2xx": lab["tls_ok"].url,
        "tcp_connect": healthy.split("//")[1].rstrip("/"),
        "dns_lab": lab.resolver,
        "icmp_lo": "127.0.0.1",
    }
    exporter_port, tether_port = free_port(), free_port()
    jobs = ""
    for side, port in (("exporter", exporter_port), ("tether", tether_port)):
        for module, target in targets.items():
            jobs += f"""
  - job_name: {side}_{module}
    metrics_path: /probe
    params: {{module: [{module}]}}
    static_configs: [{{targets: ["{target}"]}}]
    relabel_configs:
      - {{source_labels: [__address__], target_label: __param_target}}
      - {{source_labels: [__param_target], target_label: instance}}
      - {{target_label: __address__, replacement: "127.0.0.1:{port}"}}
"""
    assert EXPORTER is not None
    exporter = subprocess.Popen(
        [
            EXPORTER,
            f"--config.file={tmp_path / 'blackbox.yml'}",
            f"--web.listen-address=127.0.0.1:{exporter_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    runner = runner_for(parse_config(MONITORS + modules))

    async def main(base: str) -> dict[str, set[str]]:
        got: dict[str, set[str]] = {}
        server = await serve(runner, "127.0.0.1", tether_port)
        try:
            async with aiohttp.ClientSession() as session:
                loop = asyncio.get_running_loop()
                give_up = loop.time() + 60
                wanted = [f"{s}_{m}" for s in ("exporter", "tether") for m in targets]
                while len(got) < len(wanted) and loop.time() < give_up:
                    await asyncio.sleep(0.5)
                    for job in wanted:
                        try:
                            result = await query(session, base, f'{{job="{job}"}}')
                        except aiohttp.ClientError:
                            break  # Prometheus is not listening yet
                        found = {r["metric"]["__name__"] for r in result}
                        # A probe that failed (a timeout on a loaded machine) has no TLS
                        # series to compare: the next scrape's, once one succeeded.
                        if any(
                            r["metric"]["__name__"] == "probe_success" and r["value"][1] == "1"
                            for r in result
                        ):
                            got[job] = found
        finally:
            await server.cleanup()
        return got

    try:
        with prometheus(tmp_path, jobs) as base:
            got = asyncio.run(main(base))
    finally:
        exporter.terminate()
        exporter.wait(timeout=30)
    assert len(got) == 2 * len(targets), sorted(got)
    for module in targets:
        theirs = got[f"exporter_{module}"] & DASHBOARD_SERIES
        ours = got[f"tether_{module}"]
        assert theirs <= ours, (module, theirs - ours)
        assert "probe_failure_info" not in got[f"exporter_{module}"]
    assert {"probe_http_ssl", "probe_ssl_earliest_cert_expiry"} <= got["exporter_https_2xx"]
    assert {"probe_icmp_duration_seconds", "probe_icmp_reply_hop_limit"} <= got["tether_icmp_lo"]
    for module in ("tcp_connect", "dns_lab", "icmp_lo"):
        for side in ("exporter", "tether"):
            assert not {n for n in got[f"{side}_{module}"] if n.startswith("probe_http_")}


class _Redirects(http.server.BaseHTTPRequestHandler):
    """/a redirects to /b, /b to /c, which answers 200: two redirects."""

    def do_GET(self) -> None:
        hops = {"/a": "/b", "/b": "/c"}
        if self.path in hops:
            self.send_response(302)
            self.send_header("Location", hops[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def test_probe_http_redirects_counts_the_redirects_followed(
    runner_for: Callable[..., Runner],
) -> None:
    """A real server redirecting twice: http_2xx follows both (probe_http_redirects 2,
    status 200, success); a module with no_follow_redirects stops at the first 302 (0
    followed, and the 302 fails, as blackbox_exporter's would without it listed)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirects)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        target = f"http://127.0.0.1:{server.server_address[1]}/a"
        config = MONITORS + (
            "modules:\n  http_2xx: {prober: http}\n"
            "  stay: {prober: http, http: {no_follow_redirects: true}}\n"
        )
        followed, stayed = ask(runner_for, config, ("http_2xx", target), ("stay", target))
    finally:
        server.shutdown()
        server.server_close()
    assert followed[0] == stayed[0] == 200
    got = series(followed[1])
    assert (got["probe_http_redirects"], got["probe_http_status_code"]) == ("2.0", "200.0")
    assert got["probe_success"] == "1.0"
    got = series(stayed[1])
    assert (got["probe_http_redirects"], got["probe_http_status_code"]) == ("0.0", "302.0")
    assert got["probe_success"] == "0.0"
