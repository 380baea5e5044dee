"""The network guard: nothing a test runs may leave loopback or ask the machine's resolver.

It wraps ``socket.socket.connect``, ``connect_ex`` and ``sendto`` (which every client
library goes through, asyncio included) and ``socket.getaddrinfo``,
``gethostbyname(_ex)`` and ``gethostbyaddr`` (the machine's configured resolver).  A
connection to an address outside 127.0.0.0/8 and ::1, or a lookup of any name but
localhost, is reported and refused with :class:`NetworkGuardError`.

One module for two homes: tests/conftest.py installs it in the suite's processes, and
this folder's ``sitecustomize`` in every Python process a test starts (imported there
as the top-level ``tether_netguard``).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class NetworkGuardError(OSError):
    """A test tried to reach beyond loopback."""


def is_loopback(host: Any) -> bool:
    if not isinstance(host, str):
        return False
    host = host.strip("[]").split("%")[0]
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def install(report: Callable[[str], None]) -> None:
    """Guard this process's sockets; ``report`` hears of each violation before it is
    refused (so a test fails even when the code under test swallows the error)."""

    def refuse(message: str) -> None:
        report(message)
        raise NetworkGuardError(message)

    def check(address: Any, what: str) -> None:
        if isinstance(address, tuple) and address and not is_loopback(address[0]):
            refuse(f"network guard: {what} to {address[0]!r} is not loopback")

    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_sendto = socket.socket.sendto
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            check(address, "connect")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            check(address, "connect")
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            check(args[-1], "sendto")
        return real_sendto(self, data, *args)  # type: ignore[arg-type]

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if host is not None and not is_loopback(name):
            refuse(f"network guard: resolving {host!r} would ask the machine's DNS resolver")
        return real_getaddrinfo(host, *args, **kwargs)

    def resolver_guard(real: Any) -> Any:
        """gethostbyname, gethostbyname_ex and gethostbyaddr (which getfqdn and smtplib's
        EHLO name use) ask the machine's resolver too."""

        def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
            if not is_loopback(host):
                refuse(f"network guard: {real.__name__}({host!r}) would ask the machine's resolver")
            return real(host, *args, **kwargs)

        return guarded

    for name in ("gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
        setattr(socket, name, resolver_guard(getattr(socket, name)))
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = sendto  # type: ignore[method-assign, assignment]
    socket.getaddrinfo = getaddrinfo
