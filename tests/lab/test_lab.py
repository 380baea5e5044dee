"""The fault lab itself: starts, serves on loopback only, stops without leaks."""

from __future__ import annotations

import ipaddress
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

import dns.rcode
import dns.resolver
import pytest

from tether.lab import SPECS, Lab


def test_every_scenario_has_a_loopback_url(lab: Lab) -> None:
    """Each scenario from SPECS is served, on loopback (DNS names only via the lab resolver)."""
    assert [s.name for s in lab] == [name for name, *_ in SPECS]
    for scenario in lab:
        host = urlsplit(scenario.url).hostname or ""
        if scenario.resolver:
            assert host.endswith(".lab.test")
        else:
            assert ipaddress.ip_address(host).is_loopback


def test_stop_releases_ports_and_threads() -> None:
    """After stop() the ports refuse and the lab's thread is gone."""
    before = {t.name for t in threading.enumerate()}
    with Lab() as lab:
        port = lab["healthy"].port
        import urllib.request

        with urllib.request.urlopen(lab["healthy"].url, timeout=2) as r:
            assert r.status == 200
    assert "tether-lab" not in {t.name for t in threading.enumerate()} - before
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def _resolver(lab: Lab) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=False)
    host, _, port = lab.resolver.rpartition(":")
    resolver.nameservers, resolver.port, resolver.lifetime = [host], int(port), 2.0
    return resolver


def test_dns_server_answers_the_lab_zone(lab: Lab) -> None:
    """ok.lab.test has A and AAAA loopback records; SERVFAIL comes back as an rcode."""
    resolver = _resolver(lab)
    assert [r.address for r in resolver.resolve("ok.lab.test", "A")] == ["127.0.0.1"]
    assert [r.address for r in resolver.resolve("ok.lab.test", "AAAA")] == ["::1"]
    query = dns.message.make_query("servfail.lab.test", "A")
    host, _, port = lab.resolver.rpartition(":")
    assert dns.query.udp(query, host, port=int(port), timeout=2).rcode() == dns.rcode.SERVFAIL


def test_dns_server_over_tcp(lab: Lab) -> None:
    """The lab's DNS server also answers over TCP, like any real one."""
    query = dns.message.make_query("v4.lab.test", "A")
    host, _, port = lab.resolver.rpartition(":")
    response = dns.query.tcp(query, host, port=int(port), timeout=2)
    assert response.answer[0][0].address == "127.0.0.1"


def test_flapping_follows_the_injected_clock() -> None:
    """The flapping server is up in even periods and down in odd ones of its clock."""
    import urllib.error
    import urllib.request

    now = [0.0]
    with Lab(flap_period=10, clock=lambda: now[0]) as lab:
        url = lab["flapping"].url
        with urllib.request.urlopen(url, timeout=2) as up:
            assert up.status == 200
        now[0] = 15.0
        with pytest.raises(urllib.error.HTTPError) as down:
            urllib.request.urlopen(url, timeout=2)
        assert down.value.code == 503
        down.value.close()
        now[0] = 21.0
        with urllib.request.urlopen(url, timeout=2) as again:
            assert again.status == 200


def test_latency_is_configurable_per_request(lab: Lab) -> None:
    """?ms= sets the delay of the latency scenario (0 answers at once)."""
    import urllib.request

    with urllib.request.urlopen(lab["latency"].url + "?ms=0", timeout=2) as r:
        assert r.status == 200


def test_every_scenario_is_in_the_docs() -> None:
    """docs/lab.md's scenario table names every scenario the lab serves."""
    table = (Path(__file__).parents[2] / "docs" / "lab.md").read_text().split("## Scenarios")[1]
    names = {
        name.strip()
        for line in table.split("\n## ")[0].splitlines()
        if line.startswith("| ")
        for name in line.split("|")[1].split(",")
    }
    assert {name for name, *_ in SPECS} - names == set()
