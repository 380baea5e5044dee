"""The probe engine: URL → proxy → DNS → TCP → TLS → HTTP (or ICMP echo), each phase timed.

``tether diagnose`` renders it; the monitor schedules it.  One engine, so both
name a failure the same way.
"""

from tether.probe._allow import LOOPBACK, AllowedTargets, TargetRefused
from tether.probe._dboptions import DatabaseQuery
from tether.probe._details import (
    Attempt,
    BrowserDetails,
    Certificate,
    ConnectDetails,
    DatabaseDetails,
    DnsDetails,
    DnsQueryDetails,
    DnsRecord,
    DnssecDetails,
    DnsSections,
    GrpcDetails,
    Hop,
    HttpDetails,
    IcmpDetails,
    NoDetails,
    PhaseDetails,
    ProxyDetails,
    RdapDetails,
    Response,
    Skipped,
    SmtpDetails,
    SshDetails,
    TlsDetails,
    UrlDetails,
    WsClose,
    WsDetails,
    WsMessage,
)
from tether.probe._dnssec import ROOT_ANCHOR, TrustAnchor, parse_trust_anchor
from tether.probe._engine import probe, probe_async
from tether.probe._icmp import IcmpNotPermitted
from tether.probe._options import BrowserPage, BrowserStep, DnsQuery, ProbeOptions
from tether.probe._result import PHASES, Phase, ProbeResult
from tether.probe._target import InvalidTarget, echo_options, parse_target, redact_target
from tether.probe._walk_reach import proxy_environment

__all__ = [
    "LOOPBACK",
    "PHASES",
    "ROOT_ANCHOR",
    "AllowedTargets",
    "Attempt",
    "BrowserDetails",
    "BrowserPage",
    "BrowserStep",
    "Certificate",
    "ConnectDetails",
    "DatabaseDetails",
    "DatabaseQuery",
    "DnsDetails",
    "DnsQuery",
    "DnsQueryDetails",
    "DnsRecord",
    "DnsSections",
    "DnssecDetails",
    "GrpcDetails",
    "Hop",
    "HttpDetails",
    "IcmpDetails",
    "IcmpNotPermitted",
    "InvalidTarget",
    "NoDetails",
    "Phase",
    "PhaseDetails",
    "ProbeOptions",
    "ProbeResult",
    "ProxyDetails",
    "RdapDetails",
    "Response",
    "Skipped",
    "SmtpDetails",
    "SshDetails",
    "TargetRefused",
    "TlsDetails",
    "TrustAnchor",
    "UrlDetails",
    "WsClose",
    "WsDetails",
    "WsMessage",
    "echo_options",
    "parse_target",
    "parse_trust_anchor",
    "probe",
    "probe_async",
    "proxy_environment",
    "redact_target",
]
