"""The ``icmp`` phase of an ``icmp://`` probe: echo requests (RFC 792, RFC 4443), their
replies, and what they say about the path: how many came back and how fast.

Two kinds of socket, as ping itself uses them on Linux:

* ``datagram``: ``socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)`` (``IPPROTO_ICMPV6`` for
  IPv6), the "ping socket", open to a process whose group is in
  ``net.ipv4.ping_group_range`` (per network namespace; the default ``1 0`` allows no
  one).  The kernel writes the identifier (the socket's own "port") and delivers to the
  socket only the replies that carry it, so concurrent probes never see each other's.
* ``raw``: ``SOCK_RAW``, for root or a process with ``CAP_NET_RAW``.  Every ICMP packet
  the host receives comes to every raw socket, so a reply is ours only when its source is
  the address asked, its identifier is the one this probe chose (process-wide, one per
  probe) and its sequence one it sent; the payload's random token makes a stranger's
  packet with the same identifier count for nothing too.  The IPv4 checksum is computed
  here (RFC 1071, a few lines); the kernel computes ICMPv6's.

The datagram socket is tried first (no privilege to hold, the kernel matches), then the
raw one; with neither, :class:`IcmpNotPermitted` says which sysctl allows it.

Why not icmplib (or scapy): icmplib (github.com/ValentinBELYN/icmplib, ``sockets.py``)
makes the same two sockets (``privileged=`` chooses) and the same RFC 1071 checksum, but
its async receive waits on one request at a time (``wait_for(sock_recv)`` per reply,
matched by id and sequence only, not by source) and uses wall time, so a probe could not
send on an interval while collecting replies, nor run on the engine's injected sleep;
its privilege error does not name the sysctl.  What tether needs is ~150 lines over the
event loop's ``add_reader``: one socket per probe, sends spaced by ``sleep``, replies
drained as they come, no thread, no dependency.  scapy is far heavier and wants root.

Time: the sends are spaced by the ``sleep`` given (the engine's, injectable), and after
the last one the replies are awaited for what is left of the phase's ``budget``; round
trips are read from ``clock``.  Nothing here reads a clock of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import itertools
import os
import random
import socket
import struct
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

from tether._classify import failure_for
from tether._failure import Failure
from tether._kinds import Kind
from tether.probe._details import IcmpDetails

SOCKET_KINDS: Final = ("datagram", "raw")
PAYLOAD_SIZE: Final = 56
"""Bytes after the 8-byte ICMP header, as ping sends by default."""

_ECHO_REQUEST: Final[dict[int, int]] = {socket.AF_INET: 8, socket.AF_INET6: 128}
_ECHO_REPLY: Final[dict[int, int]] = {socket.AF_INET: 0, socket.AF_INET6: 129}
_UNREACHABLE: Final[dict[int, int]] = {socket.AF_INET: 3, socket.AF_INET6: 1}
_TIME_EXCEEDED: Final[dict[int, int]] = {socket.AF_INET: 11, socket.AF_INET6: 3}
_UNREACHABLE_ERRNOS: Final = frozenset(
    {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EINVAL, errno.EACCES, errno.EPERM}
)
"""What ``sendto`` answers for an ``unreachable`` / ``blackhole`` / ``prohibit`` route, no
route at all, or a local firewall that rejects; and what a datagram socket's ``recv``
raises for an ICMP destination-unreachable reply (``IP_RECVERR``)."""

_IP_RECVTTL: Final = getattr(socket, "IP_RECVTTL", 12)
_IPV6_RECVHOPLIMIT: Final = getattr(socket, "IPV6_RECVHOPLIMIT", 51)
_HOP_LIMIT_MESSAGES: Final = frozenset(
    {
        (socket.IPPROTO_IP, socket.IP_TTL),
        (socket.IPPROTO_IPV6, getattr(socket, "IPV6_HOPLIMIT", 52)),
    }
)
_IP_RECVERR: Final = 11
_IPV6_RECVERR: Final = 25

_identifiers = itertools.count(random.randrange(1 << 16))
"""The next raw-socket identifier: one per probe, so this process's probes never match
each other's replies."""


class IcmpNotPermitted(Exception):
    """This process may open neither an ICMP datagram socket nor a raw one; the message
    is one line naming the sysctl (or the capability) that would allow it."""


def checksum(data: bytes) -> int:
    """RFC 1071: the ones' complement of the ones' complement sum of 16-bit words (an odd
    last byte padded with a zero)."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(family: int, ident: int, seq: int, payload: bytes) -> bytes:
    """An echo request; the IPv4 one with its checksum (the kernel sums ICMPv6's)."""
    kind = _ECHO_REQUEST[family]
    packet = struct.pack("!BBHHH", kind, 0, 0, ident, seq) + payload
    if family == socket.AF_INET6:
        return packet
    return packet[:2] + struct.pack("!H", checksum(packet)) + packet[4:]


def _ping_group_range() -> str:
    try:
        with open("/proc/sys/net/ipv4/ping_group_range") as f:
            return " ".join(f.read().split())
    except OSError:
        return "unknown"


def not_permitted_message() -> str:
    gid = os.getegid()
    return (
        f"cannot send ICMP echo requests: this process's group ({gid}) is outside "
        f"net.ipv4.ping_group_range ({_ping_group_range()}) and it may not open raw sockets "
        f'(not root, no CAP_NET_RAW); allow it with `sysctl -w net.ipv4.ping_group_range="{gid} '
        f'{gid}"` (or "0 2147483647" for every group), or run as root'
    )


def open_socket(family: int) -> tuple[socket.socket, str]:
    """A non-blocking ICMP socket for ``family`` and its kind (``datagram`` or ``raw``);
    raises :class:`IcmpNotPermitted` when neither may be opened."""
    proto = socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP
    problems: list[OSError] = []
    for kind, type_ in (("datagram", socket.SOCK_DGRAM), ("raw", socket.SOCK_RAW)):
        try:
            sock = socket.socket(family, type_, proto)
        except OSError as exc:
            problems.append(exc)
            continue
        sock.setblocking(False)
        try:
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVHOPLIMIT, 1)
                if kind == "datagram":
                    sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVERR, 1)
            else:
                sock.setsockopt(socket.IPPROTO_IP, _IP_RECVTTL, 1)
                if kind == "datagram":
                    sock.setsockopt(socket.IPPROTO_IP, _IP_RECVERR, 1)
        except OSError:
            pass  # no hop limit or error reports on this system: the echoes still work
        return sock, kind
    if all(isinstance(p, PermissionError) for p in problems):
        raise IcmpNotPermitted(not_permitted_message())
    raise IcmpNotPermitted(
        "cannot open an ICMP socket: " + "; ".join(p.strerror or str(p) for p in problems)
    )


@dataclass(slots=True)
class Echoes:
    """What the ``icmp`` phase found: its details, and the failure if nothing came back."""

    details: IcmpDetails
    failure: Failure | None = None


def _offender(family: int, ancillary: list[tuple[int, int, bytes]]) -> str | None:
    """Who sent the ICMP error a datagram socket queued (``struct sock_extended_err``
    then the offender's ``sockaddr``, linux/errqueue.h), as the raw path says it."""
    for level, _, data in ancillary:
        if level not in (socket.IPPROTO_IP, socket.IPPROTO_IPV6) or len(data) < 16:
            continue
        origin, kind, code = data[4], data[5], data[6]
        if origin not in (2, 3):  # SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6
            continue
        where = data[16:]
        if family == socket.AF_INET and len(where) >= 8:
            source = socket.inet_ntop(socket.AF_INET, where[4:8])
        elif family == socket.AF_INET6 and len(where) >= 24:
            source = socket.inet_ntop(socket.AF_INET6, where[8:24])
        else:
            continue
        what = "unreachable" if kind == _UNREACHABLE[family] else f"type {kind}"
        return f"{source} answered ICMP {what} (code {code})"
    return None


def _header(data: bytes) -> tuple[int, int, int, int, int]:
    """Type, code, checksum, identifier and sequence of an ICMP message."""
    kind, code, check, ident, seq = struct.unpack("!BBHHH", data[:8])
    return int(kind), int(code), int(check), int(ident), int(seq)


@dataclass(slots=True)
class _Exchange:
    family: int
    address: str
    kind: str
    ident: int
    token: bytes
    sent_at: dict[int, float] = field(default_factory=dict)
    rtts: dict[int, float] = field(default_factory=dict)
    hop_limit: int | None = None
    unreachable: str | None = None
    errored: set[int] = field(default_factory=set)
    """Requests an ICMP error answered: nothing more will come back for them."""

    def settled(self, count: int) -> bool:
        """Every request answered, by a reply or an error."""
        return len(self.rtts.keys() | self.errored) >= count

    def read(self, data: bytes, source: str, ancillary: list[tuple[int, int, bytes]]) -> int | None:
        """The sequence number ``data`` answers, or None when it is not ours; an
        unreachable or time-exceeded report about one of ours is noted."""
        v4_raw = self.family == socket.AF_INET and self.kind == "raw"
        hops = None
        if v4_raw:
            if len(data) < 20:
                return None
            hops = data[8]
            data = data[(data[0] & 0x0F) * 4 :]
        if len(data) < 8:
            return None
        kind, code, _, ident, seq = _header(data)
        if kind in (_UNREACHABLE[self.family], _TIME_EXCEEDED[self.family]):
            inner = data[8:]
            if self.family == socket.AF_INET:
                inner = inner[(inner[0] & 0x0F) * 4 :] if inner else b""
            else:
                inner = inner[40:]
            if len(inner) < 8:
                return None
            _, _, _, ident, seq = _header(inner)
            if (self.kind == "raw" and ident != self.ident) or seq not in self.sent_at:
                return None
            what = "unreachable" if kind == _UNREACHABLE[self.family] else "time exceeded"
            self.unreachable = f"{source} answered ICMP {what} (code {code})"
            self.errored.add(seq)
            return None
        if kind != _ECHO_REPLY[self.family] or seq not in self.sent_at:
            return None
        if self.kind == "raw" and (ident != self.ident or source != self.address):
            return None
        if data[8 : 8 + len(self.token)] != self.token:
            return None
        for level, type_, value in ancillary:
            if (level, type_) in _HOP_LIMIT_MESSAGES and len(value) >= 4:
                hops = int.from_bytes(value[:4], sys.byteorder)
        self.hop_limit = hops if hops is not None else self.hop_limit
        return seq


async def echo(
    address: str,
    family: int,
    *,
    count: int,
    interval: float,
    budget: float,
    payload_size: int = PAYLOAD_SIZE,
    sleep: Callable[[float], Awaitable[object]],
    clock: Callable[[], float],
    url: str,
) -> Echoes:
    """Send ``count`` echo requests to ``address`` every ``interval`` seconds and collect
    the replies until ``budget`` seconds (counted from the first send, by ``sleep``) have
    passed or every request has its reply or an ICMP error.  Raises :class:`IcmpNotPermitted`."""
    sock, kind = open_socket(family)
    ex = _Exchange(
        family,
        address,
        kind,
        next(_identifiers) & 0xFFFF,
        random.randbytes(8),
    )
    payload = (ex.token + b"tether" * (payload_size // 6 + 1))[: max(payload_size, 8)]
    loop = asyncio.get_running_loop()
    woken = asyncio.Event()
    loop.add_reader(sock.fileno(), woken.set)
    sleeper: asyncio.Future[object] | None = None

    def drain() -> None:
        while True:
            try:
                data, ancillary, _, source = sock.recvmsg(65535, 256)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                # A datagram socket reports an ICMP error for its destination this way
                # (IP_RECVERR); the queued report is read off so it does not pile up.
                if exc.errno in _UNREACHABLE_ERRNOS or exc.errno == errno.ECONNREFUSED:
                    ex.unreachable = f"{address}: {exc.strerror}"
                    with contextlib.suppress(OSError):
                        sent, queued, _, _ = sock.recvmsg(65535, 512, socket.MSG_ERRQUEUE)
                        ex.unreachable = _offender(family, queued) or ex.unreachable
                        if len(sent) >= 8:  # the request the error is about, as sent
                            ex.errored.add(_header(sent)[4])
                    continue
                return
            seq = ex.read(data, str(source[0]).split("%")[0], ancillary)
            if seq is not None and seq not in ex.rtts:
                ex.rtts[seq] = (clock() - ex.sent_at[seq]) * 1000

    try:
        if kind == "datagram":
            try:
                sock.connect((address, 0))
            except OSError as exc:
                return _send_failed(ex, exc, count, url)
        for seq in range(count):
            if seq:
                await sleep(interval)
            packet = echo_request(family, ex.ident, seq, payload)
            ex.sent_at[seq] = clock()
            try:
                sock.sendto(packet, (address, 0))
            except BlockingIOError:
                pass  # the send buffer is full: that request is lost, as on a wire
            except OSError as exc:
                del ex.sent_at[seq]
                return _send_failed(ex, exc, count, url)
            drain()
        rest = budget - interval * (count - 1)
        if not ex.settled(count) and rest > 0:
            sleeper = asyncio.ensure_future(sleep(rest))
            while not ex.settled(count) and not sleeper.done():
                waiter = asyncio.ensure_future(woken.wait())
                await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                woken.clear()
                drain()
    finally:
        if sleeper is not None:
            sleeper.cancel()
        loop.remove_reader(sock.fileno())
        sock.close()
    return _outcome(ex, count, budget, url)


_SEND_ERRORS: Final = {
    errno.EHOSTUNREACH: "an unreachable route covers it",
    errno.ENETUNREACH: "there is no route to its network",
    errno.EINVAL: "a blackhole route covers it",
    errno.EACCES: "a prohibit route covers it",
    errno.EPERM: "a firewall on this machine refuses",
}


def _send_failed(ex: _Exchange, exc: OSError, count: int, url: str) -> Echoes:
    reason = exc.strerror or str(exc)
    details = dataclasses.replace(_details(ex, count), error=reason)
    why = _SEND_ERRORS.get(exc.errno or 0, reason)
    return Echoes(
        details,
        failure_for(
            Kind.CONNECT_UNREACHABLE,
            f"this machine cannot send to {ex.address}: {why} ({reason}); "
            f"see `ip route get {ex.address}`",
            url=url,
            host=ex.address,
        ),
    )


def _details(ex: _Exchange, count: int) -> IcmpDetails:
    rtts = [ex.rtts[s] for s in sorted(ex.rtts)]
    return IcmpDetails(
        len(ex.sent_at),
        ex.address,
        ex.kind,
        len(rtts),
        round(100 * (1 - len(rtts) / count), 3) if count else 0.0,
        round(min(rtts), 3) if rtts else None,
        round(sum(rtts) / len(rtts), 3) if rtts else None,
        round(max(rtts), 3) if rtts else None,
        tuple(round(ex.rtts[s], 3) if s in ex.rtts else None for s in range(count)),
        ex.hop_limit,
        ex.unreachable,
    )


def _outcome(ex: _Exchange, count: int, budget: float, url: str) -> Echoes:
    details = _details(ex, count)
    if ex.rtts:
        return Echoes(details)  # some loss is not a failure: conditions decide
    if ex.unreachable is not None:
        return Echoes(
            details,
            failure_for(
                Kind.CONNECT_UNREACHABLE,
                f"{ex.address} is unreachable: {ex.unreachable}",
                url=url,
                host=ex.address,
            ),
        )
    return Echoes(
        details,
        failure_for(
            Kind.CONNECT_TIMEOUT,
            f"no echo reply from {ex.address} to {count} request{'s' if count != 1 else ''} "
            f"within {budget:g} s",
            url=url,
            host=ex.address,
        ),
    )
