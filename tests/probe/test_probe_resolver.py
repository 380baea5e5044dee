"""``--resolver`` pointed at a closed port: the refusal is reported at once, not after the
timeout as if the server were silent."""

from __future__ import annotations

import asyncio
import socket

import pytest

from tether.cli import main
from tether.probe import ProbeOptions, probe


def _closed_udp_port(host: str) -> int:
    """A UDP port on ``host`` that nothing listens on (bound, then released)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind((host, 0))
            return int(s.getsockname()[1])
    except OSError:
        pytest.skip(f"no {host} loopback here")


@pytest.mark.timeout(10)  # a regression waits out the 30 s timeout: this fails it
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_a_closed_resolver_port_is_refused_at_once(host: str) -> None:
    """The kernel's ECONNREFUSED (ICMP port unreachable) is dns.unavailable naming the
    server, well before a 30 s timeout; never dns.timeout."""
    port = _closed_udp_port(host)
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    result = probe(
        "http://service.lab.test/", ProbeOptions(resolver=shown, timeout=30, deadline=40, env={})
    )
    assert result.failure is not None
    assert result.failure.kind.value == "dns.unavailable"
    assert f"the DNS server at {shown} refused" in result.failure.detail
    assert [p.name for p in result.phases][-1] == "dns"
    dns = result.phase("dns")
    assert dns is not None
    assert (dns.ok, dns.details.resolver) == (False, shown)


@pytest.mark.timeout(10)
def test_the_cli_says_the_resolver_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """`tether diagnose --resolver` on a closed port: exit 1 and a verdict naming the refusal."""
    port = _closed_udp_port("127.0.0.1")
    code = main(
        [
            "diagnose",
            "http://service.lab.test/",
            "--resolver",
            f"127.0.0.1:{port}",
            "--timeout",
            "30",
        ]
    )
    out, err = capsys.readouterr()
    assert (code, err) == (1, "")
    verdict = "dns.unavailable (DNS temporarily unavailable, dns layer): "
    assert f"{verdict}the DNS server at 127.0.0.1:{port} refused" in out


@pytest.mark.timeout(10)
def test_a_dns_monitor_of_a_closed_resolver_port_is_refused_at_once() -> None:
    """A dns:// monitor's resolver on a closed port: dns.unavailable at once, not its 30 s
    timeout."""
    from tether.monitor.checks._judge import probe_options
    from tether.monitor.config import parse_config
    from tether.probe import probe_async

    port = _closed_udp_port("127.0.0.1")
    cfg = parse_config(
        f"""
monitors:
  - {{name: closed, url: "dns://service.lab.test", resolver: "127.0.0.1:{port}", timeout: 30s}}
"""
    )
    (monitor,) = cfg.monitors
    result = asyncio.run(probe_async(monitor.url, probe_options(monitor)))
    assert result.failure is not None
    assert result.failure.kind.value == "dns.unavailable"
    assert f"the DNS server at 127.0.0.1:{port} refused the A query" in result.failure.detail
