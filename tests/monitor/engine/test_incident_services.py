"""An incident is one failing service, not one host (issue 24, section 1).

On one host, ``old-api`` (one port) and ``www`` (another) went down with the same kind:
they were one incident, and ``www`` showed ``old-api``'s headline and port.  What fails is
keyed at the layer that failed: ``host:port`` for a connection, TLS or an HTTP answer, a
name for DNS, the proxy's ``host:port`` for a proxy.  The runner's tests run on simulated
time (tests/helpers/monitor_harness.py) against real refused ports on loopback: sockets bound
and never listening, held by the test, so that nothing else takes the port.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.monitor_harness import Harness
from tether._failure import Failure
from tether._kinds import Kind, Layer
from tether.monitor._state import State
from tether.monitor.checks._prober import service_of, where_failed
from tether.monitor.config import parse_config
from tether.monitor.engine._correlate import correlate, host_part
from tether.monitor.engine._detect import Observation


@pytest.fixture
def refused() -> Iterator[list[int]]:
    """Two loopback ports that refuse connections, for as long as the test runs."""
    held = [socket.socket() for _ in range(2)]
    for s in held:
        s.bind(("127.0.0.1", 0))
    yield [s.getsockname()[1] for s in held]
    for s in held:
        s.close()


def test_two_services_on_one_host_are_two_incidents(tmp_path: Path, refused: list[int]) -> None:
    """old-api and www refuse on two ports of 127.0.0.1: two incidents, each naming its
    own port; www-health, another path of www's port, joins www's."""
    old, www = refused
    config = parse_config(
        "alerts:\n  - {name: ops, type: webhook, url: http://127.0.0.1:9/}\n"
        "monitors:\n"
        f"  - {{name: old-api, url: 'http://127.0.0.1:{old}/', alerts: [ops]}}\n"
        f"  - {{name: www, url: 'http://127.0.0.1:{www}/', alerts: [ops]}}\n"
        f"  - {{name: www-health, url: 'http://127.0.0.1:{www}/health', alerts: [ops]}}\n"
    )
    h = Harness(tmp_path, config)
    names = ("old-api", "www", "www-health")
    h.drive((lambda: all(h.state(n) is State.DOWN for n in names), list), limit=600)
    incidents = {i.key: i for i in h.runner.engine.open_incidents()}
    assert set(incidents) == {
        f"host:127.0.0.1:{old}:connect.refused",
        f"host:127.0.0.1:{www}:connect.refused",
    }
    assert incidents[f"host:127.0.0.1:{old}:connect.refused"].monitors == ("old-api",)
    assert sorted(incidents[f"host:127.0.0.1:{www}:connect.refused"].monitors) == [
        "www",
        "www-health",
    ]
    opened = [p for p in h.ops.got if p["event"] == "incident.opened"]
    assert len(opened) == 2
    h.close()


def test_where_a_failure_is_keyed_is_the_layer_that_failed() -> None:
    """The service of a URL (the scheme's port when none is given), a name for DNS, the
    proxy's host:port for a proxy, the host alone for ICMP; not the address a failure
    carried."""
    assert service_of("https://api.lab.test/x") == "api.lab.test:443"
    assert service_of("http://[::1]:8080/") == "[::1]:8080"
    assert service_of("icmp://127.0.0.1") == "127.0.0.1"
    assert where_failed("http://api.lab.test:8080/", None, Kind.DNS_NOT_FOUND) == "api.lab.test"
    assert where_failed("http://api.lab.test:8080/", None, None) == "api.lab.test:8080"
    resolved = Failure(
        Kind.CONNECT_REFUSED, Layer.CONNECT, True, False, "refused", "", "127.0.0.7", 8080
    )
    assert where_failed("http://api.lab.test:8080/", resolved, resolved.kind) == (
        "api.lab.test:8080"
    )
    proxy = Failure(
        Kind.PROXY_UNREACHABLE, Layer.PROXY, True, False, "refused", "", "proxy.lab.test", 3128
    )
    assert where_failed("http://api.lab.test/", proxy, proxy.kind) == "proxy.lab.test:3128"


def test_the_key_keeps_services_apart_and_a_name_together() -> None:
    """Pure: two ports of one host are two groups; two paths of one port one group; a name
    that does not resolve is one group whatever the ports; an address a failure carried
    does not split the monitor's configured host."""
    hosts = {"a": "db.lan", "b": "db.lan", "c": "db.lan", "d": "db.lan"}
    failing = [
        Observation("a", False, 0.0, kind=Kind.HTTP_SERVER_ERROR, host="db.lan:8080"),
        Observation("b", False, 0.0, kind=Kind.HTTP_SERVER_ERROR, host="db.lan:8080"),
        Observation("c", False, 0.0, kind=Kind.HTTP_SERVER_ERROR, host="db.lan:9090"),
        Observation("d", False, 0.0, kind=Kind.HTTP_SERVER_ERROR, host="127.0.0.7:9090"),
    ]
    groups = {g.key: g.monitors for g in correlate(failing, hosts)}
    assert groups == {
        "host:db.lan:8080:http.server_error": ("a", "b"),
        "host:db.lan:9090:http.server_error": ("c",),
        "host:db.lan:http.server_error": ("d",),
    }
    named = [Observation(m, False, 0.0, kind=Kind.DNS_NOT_FOUND, host="db.lan") for m in ("a", "b")]
    assert [g.key for g in correlate(named, hosts)] == ["host:db.lan:dns.not_found"]


@pytest.mark.parametrize(
    ("where", "host"),
    [
        ("db.lan:5432", "db.lan"),
        ("db.lan", "db.lan"),
        ("[::1]:80", "::1"),
        ("::1", "::1"),
        ("127.0.0.1:8080", "127.0.0.1"),
    ],
)
def test_host_part(where: str, host: str) -> None:
    assert host_part(where) == host
