"""The typed details of each phase write the JSON ``tether diagnose --json`` has always
written: the keys in their order, a key left out where the phase never learnt it, null
where the JSON has always said null (docs/diagnose.md, "The details of each phase")."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tether.lab import Lab
from tether.probe import (
    Attempt,
    Certificate,
    ConnectDetails,
    DnsDetails,
    DnsQueryDetails,
    DnsRecord,
    DnsSections,
    Hop,
    HttpDetails,
    IcmpDetails,
    NoDetails,
    Phase,
    ProbeOptions,
    ProxyDetails,
    Response,
    Skipped,
    SmtpDetails,
    SshDetails,
    TlsDetails,
    UrlDetails,
    WsClose,
    WsDetails,
    WsMessage,
    probe,
)

REACHED = [
    ("url", ["scheme", "host", "port"]),
    ("proxy", ["proxy", "source"]),
    ("dns", ["resolver", "literal", "answers"]),
    ("connect", ["address", "port", "attempts"]),
]
ANSWERED = ["method", "status", "size", "version", "expected_size", "ttfb_ms"]
HANDSHAKE = ["server_name", "verified", "version", "cipher", "alpn", "chain"]


@pytest.mark.parametrize(
    ("scenario", "options", "phases"),
    [
        ("healthy", {}, [*REACHED, ("http", ANSWERED)]),
        ("tls_ok", {}, [*REACHED, ("tls", HANDSHAKE), ("http", ANSWERED)]),
        ("tls_expired", {}, [*REACHED, ("tls", [*HANDSHAKE, "problems", "error"])]),
        ("http_503", {}, [*REACHED, ("http", [*ANSWERED, "retry_after"])]),
        ("redirect_loop", {}, [*REACHED, ("http", [*ANSWERED, "location", "redirects"])]),
        ("refused", {}, REACHED),
        (
            "proxy_auth",
            {"proxy": True},
            [REACHED[0], ("proxy", ["proxy", "source", "mode", "status"])],
        ),
        (
            "dns_nxdomain",
            {"resolver": True},
            [*REACHED[:2], ("dns", ["resolver", "rcode", "answers"])],
        ),
    ],
)
def test_a_real_probe_writes_each_phase_as_it_always_has(
    lab: Lab, scenario: str, options: dict[str, bool], phases: list[tuple[str, list[str]]]
) -> None:
    """A loopback probe of each kind: each phase's JSON keys, in order, as before."""
    s = lab[scenario]
    result = probe(
        s.url,
        ProbeOptions(
            timeout=1,
            env={},
            cacert=lab.ca_file,
            proxy=s.proxy if options.get("proxy") else None,
            resolver=s.resolver if options.get("resolver") else None,
        ),
    )
    assert [(p.name, list(p.details.to_json())) for p in result.phases] == phases
    for phase in result.to_dict()["phases"]:
        json.dumps(phase)  # nothing but JSON's own types


def test_a_dns_query_writes_its_reply(lab: Lab) -> None:
    """``dns://``: the server, the query, its rcode by type, the answers and the sections."""
    resolver = lab["dns_nxdomain"].resolver
    result = probe("dns://service.lab.test", ProbeOptions(timeout=1, resolver=resolver))
    url, dns = (p.details.to_json() for p in result.phases)
    assert url == {"scheme": "dns", "host": "service.lab.test"}
    assert list(dns) == ["resolver", "address", "record_type", "rcode", "answers", "sections"]
    assert list(dns["rcode"]) == ["A"]
    assert list(dns["sections"]) == ["answer", "authority", "additional"]


CERT = Certificate("CN=a", "CN=ca", ("a.test",), "2026-01-01T00:00:00+00:00", "2027-01-01", 9)
OK = Response(200, 5, "HTTP/1.1", 5, 1.5)


@pytest.mark.parametrize(
    ("details", "written"),
    [
        (NoDetails(), {}),
        (Skipped("the proxy resolves"), {"skipped": "the proxy resolves"}),
        (
            UrlDetails("https", "bücher.test", 443, "xn--bcher-kva.test", credentials=True),
            {
                "scheme": "https",
                "host": "bücher.test",
                "port": 443,
                "idna": "xn--bcher-kva.test",
                "credentials": "present (redacted)",
            },
        ),
        (UrlDetails("icmp", "a.test"), {"scheme": "icmp", "host": "a.test"}),
        (
            ProxyDetails(None, "none", "NO_PROXY covers a.test"),
            {"proxy": None, "source": "none", "bypass": "NO_PROXY covers a.test"},
        ),
        (
            ProxyDetails("http://p:1", "--proxy", mode="CONNECT"),
            {"proxy": "http://p:1", "source": "--proxy", "mode": "CONNECT", "status": None},
        ),
        (
            ProxyDetails("http://p:1", "--proxy", mode="forwarding"),
            {"proxy": "http://p:1", "source": "--proxy", "mode": "forwarding"},
        ),
        (DnsDetails(DnsDetails.SYSTEM), {"resolver": "system (getaddrinfo)"}),
        (DnsDetails("127.0.0.53:53"), {"resolver": "127.0.0.53:53", "rcode": None}),
        (
            DnsDetails("127.0.0.53:53", (DnsRecord("A", "127.0.0.2", 60, 1.25),), {"A": "NOERROR"}),
            {
                "resolver": "127.0.0.53:53",
                "rcode": {"A": "NOERROR"},
                "answers": [{"type": "A", "address": "127.0.0.2", "ttl": 60, "ms": 1.25}],
            },
        ),
        (
            DnsQueryDetails("system", "127.0.0.53", "MX"),
            {"resolver": "system", "address": "127.0.0.53", "record_type": "MX"},
        ),
        (
            DnsQueryDetails(
                "system",
                "127.0.0.53",
                "A",
                "NOERROR",
                (DnsRecord("A", "1.2.3.4"),),
                DnsSections(1, 0, 2),
            ),
            {
                "resolver": "system",
                "address": "127.0.0.53",
                "record_type": "A",
                "rcode": {"A": "NOERROR"},
                "answers": [{"type": "A", "address": "1.2.3.4"}],
                "sections": {"answer": 1, "authority": 0, "additional": 2},
            },
        ),
        (
            ConnectDetails(
                "::1",
                80,
                (
                    Attempt("::1", "IPv6", "connected", 0.5, ended_in_race=True),
                    Attempt("127.0.0.1", "IPv4", "not needed", 0.7),
                ),
            ),
            {
                "address": "::1",
                "port": 80,
                "attempts": [
                    {"address": "::1", "family": "IPv6", "ms": 0.5, "outcome": "connected"},
                    {"address": "127.0.0.1", "family": "IPv4", "outcome": "not needed", "ms": 0.7},
                ],
            },
        ),
        (
            TlsDetails(None, False, error="EOF"),
            {"server_name": None, "verified": False, "error": "EOF"},
        ),
        (
            TlsDetails("a.test", False, "TLSv1.3", None, None, (CERT,), ("expired",), "expired"),
            {
                "server_name": "a.test",
                "verified": False,
                "version": "TLSv1.3",
                "cipher": None,
                "alpn": None,
                "chain": [
                    {
                        "subject": "CN=a",
                        "issuer": "CN=ca",
                        "sans": ["a.test"],
                        "not_before": "2026-01-01T00:00:00+00:00",
                        "not_after": "2027-01-01",
                        "days_left": 9,
                    }
                ],
                "problems": ["expired"],
                "error": "expired",
            },
        ),
        (HttpDetails("GET", Response(None, 0)), {"method": "GET", "status": None, "size": 0}),
        (
            HttpDetails(
                "GET",
                Response(503, 0, retry_after=None, retry_after_sent=True, location="/x"),
                (Hop("http://a/", OK, 2.0), Hop("http://b/", OK, 3.0)),
            ),
            {
                "method": "GET",
                "status": 503,
                "size": 0,
                "retry_after": None,
                "location": "/x",
                "redirects": [
                    {
                        "url": "http://a/",
                        "status": 200,
                        "size": 5,
                        "version": "HTTP/1.1",
                        "expected_size": 5,
                        "ttfb_ms": 1.5,
                        "ms": 2.0,
                    },
                    {
                        "url": "http://b/",
                        "status": 200,
                        "size": 5,
                        "version": "HTTP/1.1",
                        "expected_size": 5,
                        "ttfb_ms": 1.5,
                        "ms": 3.0,
                    },
                ],
            },
        ),
        (SshDetails(received=("HTTP/1.1 400",)), {"received": ["HTTP/1.1 400"]}),
        (
            SshDetails("1.5", "Old", "", "SSH-1.5-Old", 2, ("hello", "SSH-1.5-Old")),
            {
                "protocol": "1.5",
                "software": "Old",
                "comments": "",
                "banner": "SSH-1.5-Old",
                "preamble_lines": 2,
                "received": ["hello", "SSH-1.5-Old"],
            },
        ),
        (SmtpDetails(554, "no"), {"greeting": 554, "banner": "no"}),
        (
            SmtpDetails(220, "hi", ("PIPELINING",), "not offered"),
            {
                "greeting": 220,
                "banner": "hi",
                "extensions": ["PIPELINING"],
                "starttls": "not offered",
            },
        ),
        (IcmpDetails(0), {"sent": 0}),
        (
            IcmpDetails(
                2, "127.0.0.2", "raw", 0, 100.0, rtts_ms=(None, None), unreachable="x", error="y"
            ),
            {
                "address": "127.0.0.2",
                "socket": "raw",
                "sent": 2,
                "received": 0,
                "loss_percent": 100.0,
                "rtt_min_ms": None,
                "rtt_avg_ms": None,
                "rtt_max_ms": None,
                "rtts_ms": [None, None],
                "unreachable": "x",
                "error": "y",
            },
        ),
        (WsDetails(404, upgrade_ms=1.0), {"status": 404, "upgrade_ms": 1.0}),
        (WsDetails(101, "mismatch"), {"status": 101, "accept": "mismatch"}),
        (
            WsDetails(101, "ok", None, 1.0, WsMessage("text", 4), WsClose(1011, "oops")),
            {
                "status": 101,
                "accept": "ok",
                "subprotocol": None,
                "upgrade_ms": 1.0,
                "sent": {"type": "text", "bytes": 4},
                "close": {"code": 1011, "reason": "oops"},
            },
        ),
        (
            WsDetails(101, "ok", "chat", 1.0, reply=WsMessage("text", 4, "pong"), reply_ms=2.0),
            {
                "status": 101,
                "accept": "ok",
                "subprotocol": "chat",
                "upgrade_ms": 1.0,
                "reply": {"type": "text", "bytes": 4, "text": "pong"},
                "reply_ms": 2.0,
            },
        ),
    ],
)
def test_each_record_writes_its_keys_in_their_order(details: Any, written: dict[str, Any]) -> None:
    """Every branch of every record: the same dict, the same order, as the probe wrote."""
    assert json.dumps(details.to_json()) == json.dumps(written)
    phase = Phase("x", True, 1.0, details)
    assert list(phase.to_dict()) == ["name", "ok", "ms", *written]
