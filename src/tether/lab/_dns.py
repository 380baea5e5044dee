"""A DNS server for the lab: answers, NXDOMAIN, NODATA, CNAME, SERVFAIL, REFUSED or silence.

It serves one zone, ``lab.test.`` (``.test`` is reserved for testing by
RFC 6761, so no real resolver would ever answer for it), over UDP and TCP; and, when
given, zones made by the caller (dnspython ``Zone`` objects, signed or not): a test's
signed zones for the ``dnssec`` checks.  Those are answered authoritatively from the
zone nearest the name (a DS from the parent's), with the RRSIGs when the query sets DO.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import struct
from collections.abc import Sequence
from typing import Any, cast

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

# name -> {rdtype: addresses}; a name listed with no records is NODATA.
_RECORDS: dict[str, dict[int, tuple[str, ...]]] = {
    "ok.lab.test.": {dns.rdatatype.A: ("127.0.0.1",), dns.rdatatype.AAAA: ("::1",)},
    "v4.lab.test.": {dns.rdatatype.A: ("127.0.0.1",)},
    "v6.lab.test.": {dns.rdatatype.AAAA: ("::1",)},
    "nodata.lab.test.": {},
}
_RCODES = {
    "servfail.lab.test.": dns.rcode.SERVFAIL,
    "refused.lab.test.": dns.rcode.REFUSED,
}
# name -> the name its CNAME points at (one that has no address records).
_CNAMES = {"dangling.lab.test.": "nodata.lab.test."}
SILENT = "silent.lab.test."


def answer(wire: bytes, zones: Sequence[Any] = ()) -> bytes | None:
    """The response to one query in wire format, or None to stay silent; ``zones``:
    dnspython zones served besides the lab's own."""
    try:
        query = dns.message.from_wire(wire)
    except Exception:  # a malformed query gets no answer, as from most servers
        return None
    if not query.question:
        return None
    question = query.question[0]
    name = question.name.to_text().lower()
    if name == SILENT:
        return None
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    if (zone := _zone_for(question.name, question.rdtype, zones)) is not None:
        _from_zone(zone, query, response)
    elif name in _RCODES:
        response.set_rcode(_RCODES[name])
    elif name in _CNAMES:
        response.answer.append(
            dns.rrset.from_text_list(
                question.name, 5, dns.rdataclass.IN, dns.rdatatype.CNAME, [_CNAMES[name]]
            )
        )
    elif name in _RECORDS:
        addresses = _RECORDS[name].get(question.rdtype, ())
        if addresses:
            response.answer.append(
                dns.rrset.from_text_list(
                    question.name, 5, dns.rdataclass.IN, question.rdtype, list(addresses)
                )
            )
    else:
        response.set_rcode(dns.rcode.NXDOMAIN)
    return response.to_wire()


def _zone_for(name: dns.name.Name, rdtype: int, zones: Sequence[Any]) -> Any:
    """The zone of ``zones`` nearest ``name`` (for a DS, nearest its parent: the DS is
    the parent's record); None when no zone holds it."""
    if rdtype == dns.rdatatype.DS and name != dns.name.root:
        name = name.parent()
    held = [z for z in zones if name.is_subdomain(z.origin)]
    return max(held, key=lambda z: len(z.origin), default=None)


def _from_zone(zone: Any, query: dns.message.Message, response: dns.message.Message) -> None:
    """Answer ``query`` from ``zone``: the records, with their RRSIGs when DO is set;
    NODATA or NXDOMAIN (no denial-of-existence records) otherwise."""
    question = query.question[0]
    node = zone.get_node(question.name)
    if node is None:
        response.set_rcode(dns.rcode.NXDOMAIN)
        return
    found = node.get_rdataset(dns.rdataclass.IN, question.rdtype)
    if found is None:
        return
    response.answer.append(dns.rrset.from_rdata_list(question.name, found.ttl, list(found)))
    sigs = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, question.rdtype)
    if sigs is not None and query.ednsflags & dns.flags.DO:
        response.answer.append(dns.rrset.from_rdata_list(question.name, sigs.ttl, list(sigs)))


class _UDP(asyncio.DatagramProtocol):
    transport: asyncio.DatagramTransport

    def __init__(self, zones: Sequence[Any] = ()) -> None:
        self.zones = zones

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = answer(data, self.zones)
        if reply is not None:
            self.transport.sendto(reply, addr)


async def _tcp(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, zones: Sequence[Any] = ()
) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while True:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            reply = answer(await reader.readexactly(length), zones)
            if reply is None:
                await reader.read()  # silent: hold the connection until the client leaves
                break
            writer.write(struct.pack("!H", len(reply)) + reply)
            await writer.drain()
    writer.close()


async def serve(
    host: str, port: int, zones: Sequence[Any] = ()
) -> tuple[asyncio.DatagramTransport, asyncio.Server, int]:
    """Start the UDP and TCP servers on the same port; return them and the port.
    ``zones``: dnspython zones served besides the lab's (see the module's docstring)."""
    loop = asyncio.get_running_loop()
    # A free UDP port may be a TCP port in use (a client's, say): with port 0, draw again.
    for tries_left in reversed(range(20 if port == 0 else 1)):
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _UDP(zones), local_addr=(host, port)
        )
        bound = transport.get_extra_info("sockname")[1]
        try:
            server = await asyncio.start_server(functools.partial(_tcp, zones=zones), host, bound)
        except OSError as exc:
            transport.close()
            if exc.errno != errno.EADDRINUSE or not tries_left:
                raise
            continue
        return transport, server, int(bound)
    raise AssertionError("unreachable: the last try returns or raises")
