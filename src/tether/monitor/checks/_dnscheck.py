"""A ``dns://NAME`` monitor: one query of the configured record type, judged by its
rcode and, when given, the answers expected.  Returns a ``ProbeResult`` (url and dns
phases) so the rest of the pipeline treats it like any probe."""

from __future__ import annotations

import time
from typing import Any

from tether._classify import failure_for
from tether._failure import Failure
from tether._hostport import join_hostport
from tether._kinds import Kind
from tether._rcodes import rcode_kind
from tether.monitor.config import Monitor
from tether.probe import Phase, ProbeResult


async def check_dns(m: Monitor) -> ProbeResult:
    import dns.asyncresolver
    import dns.exception
    import dns.message
    import dns.rcode

    from tether.probe._dns import query_server
    from tether.probe._engine import _server

    name = m.url.split("://", 1)[1]
    options = m.dns
    rdtype = options.record_type if options else "A"
    url_phase = Phase("url", True, 0.0, {"scheme": "dns", "host": name})
    started = time.perf_counter()
    if m.resolver:
        where, port = _server(m.resolver)
        resolver = join_hostport(where, port)
    else:
        system = dns.asyncresolver.get_default_resolver()
        where, port, resolver = str(system.nameservers[0]), system.port, "system"
    details: dict[str, Any] = {"resolver": resolver, "record_type": rdtype}
    failure: Failure | None = None
    try:
        response = await query_server(
            dns.message.make_query(name, rdtype), str(where), port, m.timeout
        )
    except dns.exception.Timeout:
        failure = failure_for(
            Kind.DNS_TIMEOUT, f"{resolver} did not answer for {name} within {m.timeout:g} s"
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
        answers = sorted(item.to_text().rstrip(".") for rrset in response.answer for item in rrset)
        details.update(
            {"rcode": {rdtype: rcode}, "answers": [{"type": rdtype, "address": a} for a in answers]}
        )
        wanted_rcode = options.rcode if options else "NOERROR"
        wanted = sorted(a.rstrip(".") for a in options.answers) if options else []
        if rcode != wanted_rcode:
            # An answer where none was wanted is not "no such name" either.
            kind = rcode_kind(rcode) or Kind.DNS_UNAVAILABLE
            failure = failure_for(
                kind, f"{resolver} answered {rcode} for {name} {rdtype}, not {wanted_rcode}"
            )
        elif wanted and answers != wanted:
            failure = failure_for(
                Kind.DNS_NO_ADDRESS if not answers else Kind.DNS_UNAVAILABLE,
                f"{name} {rdtype} is {', '.join(answers) or 'empty'}, not {', '.join(wanted)}",
            )
    dns_phase = Phase("dns", failure is None, ms, details, failure)
    return ProbeResult(m.url, (url_phase, dns_phase), failure)
