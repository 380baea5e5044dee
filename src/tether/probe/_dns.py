"""The ``dns`` phase: the system resolver (getaddrinfo, so /etc/hosts counts), or one
DNS server asked directly with dnspython, telling NXDOMAIN, NODATA, SERVFAIL and
silence apart."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from tether._classify import classify, failure_for
from tether._failure import Failure
from tether._hostport import join_hostport
from tether._kinds import Kind
from tether._rcodes import rcode_kind, worst_rcode
from tether.probe._details import DnsDetails, DnsRecord

_SYSTEM = DnsDetails(DnsDetails.SYSTEM)


@dataclass(slots=True)
class Answers:
    addresses: list[tuple[int, str]] = field(default_factory=list)
    """(family, address) in the order to try them."""
    details: DnsDetails = _SYSTEM
    failure: Failure | None = None


async def system(host: str, port: int, family: int, timeout: float, url: str) -> Answers:
    loop = asyncio.get_running_loop()
    out = Answers()
    try:
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
    except TimeoutError:
        out.failure = failure_for(
            Kind.DNS_TIMEOUT,
            f"the system resolver did not answer for {host} within {timeout:g} s",
            url=url,
            host=host,
            port=port,
        )
        return out
    except OSError as exc:
        out.failure = classify(exc, url=url)
        return out
    seen: set[str] = set()
    for fam, _, _, _, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in seen:
            seen.add(address)
            out.addresses.append((fam, address))
    out.details = DnsDetails(
        DnsDetails.SYSTEM,
        tuple(DnsRecord("AAAA" if f == socket.AF_INET6 else "A", a) for f, a in out.addresses),
    )
    return out


async def direct(
    host: str, port: int, family: int, server: tuple[str, int], timeout: float, url: str
) -> Answers:
    """Ask ``server`` for A and AAAA at once; the first answer type to fail decides."""
    where, server_port = server
    resolver = join_hostport(where, server_port)
    out = Answers(details=DnsDetails(resolver))
    types: tuple[str, ...] = ("AAAA", "A")
    if family == socket.AF_INET:
        types = ("A",)
    elif family == socket.AF_INET6:
        types = ("AAAA",)
    replies = await asyncio.gather(*(_ask(host, t, server, timeout) for t in types))
    answers: list[DnsRecord] = []
    rcodes: dict[str, str] = {}
    for rdtype, reply, ms in replies:
        if isinstance(reply, BaseException):
            out.failure = _unanswered(reply, rdtype, resolver, host, port, timeout, url)
            return out
        rcodes[rdtype] = _read_reply(reply, rdtype, ms, out.addresses, answers)
    out.details = DnsDetails(resolver, tuple(answers), rcodes)
    out.failure = _verdict(rcodes, out.addresses, types, resolver, host, port, url)
    # RFC 8305 section 4: IPv6 first, then alternate families.
    out.addresses = interleave(out.addresses)
    return out


async def _ask(
    host: str, rdtype: str, server: tuple[str, int], timeout: float
) -> tuple[str, Any, float]:
    """The server's reply to one query for ``rdtype``, or the timeout or ``OSError`` it
    ended with; and the time it took, in ms."""
    import dns.exception
    import dns.message

    where, server_port = server
    query = dns.message.make_query(host, rdtype)
    started = time.perf_counter()
    try:
        response = await query_server(query, where, server_port, timeout)
    except dns.exception.Timeout as exc:
        return rdtype, exc, (time.perf_counter() - started) * 1000
    except OSError as exc:
        return rdtype, exc, (time.perf_counter() - started) * 1000
    return rdtype, response, (time.perf_counter() - started) * 1000


def _unanswered(
    error: BaseException,
    rdtype: str,
    resolver: str,
    host: str,
    port: int,
    timeout: float,
    url: str,
) -> Failure:
    """The failure of a query that got no reply: refused, another ``OSError``, silence."""
    if isinstance(error, ConnectionRefusedError):
        return failure_for(
            Kind.DNS_UNAVAILABLE,
            f"the DNS server at {resolver} refused the {rdtype} query "
            f"for {host}: nothing is listening on that port",
            url=url,
            host=host,
            port=port,
        )
    if isinstance(error, OSError):
        return classify(error, url=url)
    return failure_for(
        Kind.DNS_TIMEOUT,
        f"the DNS server {resolver} did not answer the {rdtype} "
        f"query for {host} within {timeout:g} s",
        url=url,
        host=host,
        port=port,
    )


def _read_reply(
    reply: Any,
    rdtype: str,
    ms: float,
    addresses: list[tuple[int, str]],
    answers: list[DnsRecord],
) -> str:
    """Add the reply's A and AAAA records to ``addresses`` and ``answers``; its rcode."""
    import dns.rcode
    import dns.rdatatype

    for rrset in reply.answer:
        if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            for item in rrset:
                fam = socket.AF_INET6 if rrset.rdtype == dns.rdatatype.AAAA else socket.AF_INET
                addresses.append((fam, item.address))
                answers.append(DnsRecord(rdtype, item.address, rrset.ttl, round(ms, 3)))
    return dns.rcode.to_text(reply.rcode())


def _verdict(
    rcodes: dict[str, str],
    addresses: list[tuple[int, str]],
    types: tuple[str, ...],
    resolver: str,
    host: str,
    port: int,
    url: str,
) -> Failure | None:
    """What the replies say together: NXDOMAIN, another failing rcode, no address (NODATA),
    or nothing wrong."""
    worst = worst_rcode(rcodes.values())
    if worst == "NXDOMAIN":
        return failure_for(
            Kind.DNS_NOT_FOUND,
            f"{resolver} says {host} does not exist (NXDOMAIN)",
            url=url,
            host=host,
            port=port,
        )
    if (kind := rcode_kind(worst)) is not None:
        return failure_for(
            kind,
            f"{resolver} could not resolve {host}: it answered {worst}",
            url=url,
            host=host,
            port=port,
        )
    if not addresses:
        wanted = " or ".join(types)
        return failure_for(
            Kind.DNS_NO_ADDRESS,
            f"{host} exists but has no {wanted} record at {resolver} (NODATA)",
            url=url,
            host=host,
            port=port,
        )
    return None


async def query_server(query: Any, where: str, port: int, timeout: float) -> Any:
    """The answer of the DNS server at ``where``:``port`` to ``query`` (a dnspython
    message): over UDP, then TCP if truncated.  Raises ``ConnectionRefusedError`` at once
    when nothing listens on that port, dnspython's ``Timeout`` when nothing answers.

    The UDP socket is connected: the kernel turns a closed port's ICMP "port unreachable"
    into ECONNREFUSED only on a connected socket.  dnspython's own is unconnected, and
    there the refusal is dropped and the query waits out its timeout."""
    import dns.asyncbackend
    import dns.asyncquery
    import dns.inet

    backend = dns.asyncbackend.get_default_backend()
    sock = await backend.make_socket(  # type: ignore[no-untyped-call]
        dns.inet.af_for_address(where), socket.SOCK_DGRAM, 0, None, (where, port)
    )
    async with sock:
        response, _ = await dns.asyncquery.udp_with_fallback(
            query, where, timeout=timeout, port=port, udp_sock=sock
        )
    return response


def interleave(addresses: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """IPv6 first, then alternate families (RFC 8305 section 4)."""
    v6 = [a for a in addresses if a[0] == socket.AF_INET6]
    v4 = [a for a in addresses if a[0] != socket.AF_INET6]
    out: list[tuple[int, str]] = []
    for i in range(max(len(v6), len(v4))):
        out.extend(x[i] for x in (v6, v4) if i < len(x))
    return out
