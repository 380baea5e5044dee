"""The ``dns://NAME`` probe: one query of one record type to one DNS server (the
``resolver`` option, or the system's first), judged by its rcode and, when given, the
answers expected.  Its result has the url and dns phases, so that everything after it
reads it as any probe's.

The monitor's ``dns://`` checks and blackbox_exporter's ``dns`` prober (``/probe``) both
ask through it: the same query, timings and failure kinds.
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any

from tether._classify import failure_for
from tether._failure import Failure
from tether._hostport import DNS_PORT, join_hostport, split_hostport
from tether._kinds import Kind
from tether._rcodes import rcode_kind
from tether.probe import _schemes
from tether.probe._details import DnsQueryDetails, DnsRecord, DnsSections, UrlDetails
from tether.probe._dns import query_server
from tether.probe._dnssec import TrustAnchor, parse_trust_anchor, validate
from tether.probe._options import DnsQuery, ProbeOptions
from tether.probe._result import Phase, ProbeResult


async def probe_dns(target: str, options: ProbeOptions) -> ProbeResult:
    """Ask ``options.resolver`` (``HOST[:PORT]``; the system's first DNS server when None)
    the query ``options.dns`` describes for the name ``target`` names (``dns://NAME``),
    within ``options.timeout``."""
    import dns.asyncresolver
    import dns.exception
    import dns.flags
    import dns.message
    import dns.rcode

    query = options.dns or DnsQuery()
    name = target.split("://", 1)[1]
    rdtype = query.record_type
    url_phase = Phase("url", True, 0.0, UrlDetails("dns", name))
    if options.resolver:
        where, port = split_hostport(options.resolver.strip(), default_port=DNS_PORT)
        resolver = join_hostport(where, port)
    else:
        system = dns.asyncresolver.get_default_resolver()
        where, port, resolver = str(system.nameservers[0]), system.port, "system"
    details = DnsQueryDetails(resolver, where, rdtype)
    message = dns.message.make_query(name, rdtype)
    if not query.recursion_desired:
        message.flags &= ~dns.flags.RD
    if query.dnssec:
        message.use_edns(0, dns.flags.DO, 1232)
    failure: Failure | None = None
    timeout = options.timeout
    started = time.perf_counter()
    try:
        response = await query_server(message, where, port, timeout)
    except dns.exception.Timeout:
        failure = failure_for(
            Kind.DNS_TIMEOUT, f"{resolver} did not answer for {name} within {timeout:g} s"
        )
    except ConnectionRefusedError:
        failure = failure_for(
            Kind.DNS_UNAVAILABLE,
            f"the DNS server at {resolver} refused the {rdtype} query for {name}: "
            "nothing is listening on that port",
        )
    except OSError as exc:
        failure = failure_for(Kind.DNS_UNAVAILABLE, f"{resolver} cannot be asked: {exc}")
    ms = (time.perf_counter() - started) * 1000
    if failure is None:
        rcode = dns.rcode.to_text(response.rcode())
        answers = sorted(
            item.to_text().rstrip(".")
            for rrset in response.answer
            if not (query.dnssec and rrset.rdtype == _RRSIG)
            for item in rrset
        )
        details = DnsQueryDetails(
            resolver,
            where,
            rdtype,
            rcode,
            tuple(DnsRecord(rdtype, a) for a in answers),
            DnsSections(
                sum(len(r) for r in response.answer),
                sum(len(r) for r in response.authority),
                sum(len(r) for r in response.additional),
            ),
        )
        wanted = sorted(a.rstrip(".") for a in query.answers)
        if query.rcode is not None and rcode != query.rcode:
            # An answer where none was wanted is not "no such name" either.
            kind = rcode_kind(rcode) or Kind.DNS_UNAVAILABLE
            failure = failure_for(
                kind, f"{resolver} answered {rcode} for {name} {rdtype}, not {query.rcode}"
            )
        elif wanted and answers != wanted:
            failure = failure_for(
                Kind.DNS_NO_ADDRESS if not answers else Kind.DNS_UNAVAILABLE,
                f"{name} {rdtype} is {', '.join(answers) or 'empty'}, not {', '.join(wanted)}",
            )
    dns_phase = Phase("dns", failure is None, ms, details, failure)
    if failure is not None or not query.dnssec:
        return ProbeResult(target, (url_phase, dns_phase), failure)
    dnssec_phase = await _dnssec_phase(response, name, query, where, port, resolver, timeout)
    return ProbeResult(target, (url_phase, dns_phase, dnssec_phase), dnssec_phase.failure)


_RRSIG = 46


@functools.lru_cache(maxsize=64)
def _anchor(texts: tuple[str, ...]) -> TrustAnchor:
    return parse_trust_anchor(texts)


class _NoAnswer(Exception):
    def __init__(self, detail: str, kind: Kind = Kind.DNS_UNAVAILABLE) -> None:
        super().__init__(detail)
        self.kind = kind


async def _dnssec_phase(
    response: Any, name: str, query: DnsQuery, where: str, port: int, resolver: str, timeout: float
) -> Phase:
    """The ``dnssec`` phase: the answer's chain of trust from the anchor, each DS and
    DNSKEY asked of the same server (:mod:`._dnssec`)."""
    import dns.exception
    import dns.flags
    import dns.message
    import dns.rcode

    from tether.probe._details import DnssecDetails

    started = time.perf_counter()
    failure: Failure | None
    if lacking := _schemes.feature_lacking("dnssec"):
        failure = failure_for(Kind.URL_INVALID, lacking)
        return Phase("dnssec", False, 0.0, DnssecDetails("?"), failure)
    try:
        anchor = _anchor(query.trust_anchor)
    except ValueError as exc:
        failure = failure_for(Kind.URL_INVALID, f"dns.trust_anchor: {exc}")
        return Phase("dnssec", False, 0.0, DnssecDetails("?"), failure)

    async def ask(owner: str, rdtype: str) -> Any:
        message = dns.message.make_query(owner, rdtype, want_dnssec=True, payload=1232)
        try:
            reply = await query_server(message, where, port, timeout)
        except dns.exception.Timeout as exc:
            silent = f"{resolver} did not answer {owner} {rdtype} within {timeout:g} s"
            raise _NoAnswer(silent, Kind.DNS_TIMEOUT) from exc
        except OSError as exc:
            raise _NoAnswer(f"{resolver} gave no answer for {owner} {rdtype}: {exc}") from exc
        if reply.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            rcode = dns.rcode.to_text(reply.rcode())
            raise _NoAnswer(f"{resolver} answered {rcode} for {owner} {rdtype}")
        return reply

    now = (query.clock or time.time)()
    try:
        # Every DS and DNSKEY of the chain within the one timeout the query had.
        async with asyncio.timeout(timeout):
            details, failure = await validate(response, name, anchor, ask, now, resolver)
    except _NoAnswer as exc:
        details = DnssecDetails(anchor.zone)
        failure = failure_for(exc.kind, f"validating {name}: {exc}")
    except TimeoutError:
        details = DnssecDetails(anchor.zone)
        failure = failure_for(
            Kind.DNS_TIMEOUT,
            f"validating {name}: {resolver} did not give the chain's DS and DNSKEY records "
            f"within {timeout:g} s",
        )
    ms = (time.perf_counter() - started) * 1000
    return Phase("dnssec", failure is None, ms, details, failure)
