"""A DNS server for the lab: answers, NXDOMAIN, NODATA, CNAME, SERVFAIL, REFUSED or silence.

It serves one zone, ``lab.test.`` (``.test`` is reserved for testing by
RFC 6761, so no real resolver would ever answer for it), over UDP and TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import struct
from typing import cast

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


def answer(wire: bytes) -> bytes | None:
    """The response to one query in wire format, or None to stay silent."""
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
    if name in _RCODES:
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


class _UDP(asyncio.DatagramProtocol):
    transport: asyncio.DatagramTransport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = answer(data)
        if reply is not None:
            self.transport.sendto(reply, addr)


async def _tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while True:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            reply = answer(await reader.readexactly(length))
            if reply is None:
                await reader.read()  # silent: hold the connection until the client leaves
                break
            writer.write(struct.pack("!H", len(reply)) + reply)
            await writer.drain()
    writer.close()


async def serve(host: str, port: int) -> tuple[asyncio.DatagramTransport, asyncio.Server, int]:
    """Start the UDP and TCP servers on the same port; return them and the port."""
    loop = asyncio.get_running_loop()
    # A free UDP port may be a TCP port in use (a client's, say): with port 0, draw again.
    for tries_left in reversed(range(20 if port == 0 else 1)):
        transport, _ = await loop.create_datagram_endpoint(_UDP, local_addr=(host, port))
        bound = transport.get_extra_info("sockname")[1]
        try:
            server = await asyncio.start_server(_tcp, host, bound)
        except OSError as exc:
            transport.close()
            if exc.errno != errno.EADDRINUSE or not tries_left:
                raise
            continue
        return transport, server, int(bound)
    raise AssertionError("unreachable: the last try returns or raises")
