"""``HOST:PORT``: the one home of reading and writing it, IPv6 brackets included, and of
the ports a scheme implies.

Read strictly, as a file or an option gives it: ``127.0.0.1:8800``, ``[::1]:8800``, or the
host alone where a port is implied (a DNS server's 53).  An IPv6 address with a port is
always in brackets: ``::1:53`` could be the address ``::1:53`` or ``::1`` port 53, so it is
refused rather than guessed.  Written with brackets around an IPv6 address, so what is
written reads back.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = [
    "DEFAULT_PORTS",
    "DNS_PORT",
    "MAX_NAME_LENGTH",
    "InvalidHostPort",
    "ascii_host",
    "bracketed",
    "default_port",
    "is_loopback",
    "join_hostport",
    "split_hostport",
]

DNS_PORT: Final = 53
DEFAULT_PORTS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "http": 80,
        "https": 443,
        "ws": 80,
        "wss": 443,
        "dns": DNS_PORT,
        "ssh": 22,
        "smtp": 25,
        "smtps": 465,
        "postgresql": 5432,
        "postgres": 5432,
        "mysql": 3306,
        "mariadb": 3306,
        "redis": 6379,
        "rediss": 6379,
    }
)
"""The port a URL's scheme implies when it gives none."""


def default_port(scheme: str) -> int | None:
    """The port ``scheme`` implies (any case), or None (``tcp``, ``tls``: no default)."""
    return DEFAULT_PORTS.get(scheme.lower())


class InvalidHostPort(ValueError):
    """Not a ``HOST:PORT``.  ``problem`` goes on from the value, so each caller shows the
    value its own way: ``"8800" has no host: ...``, ``--resolver 'x': the port ...``."""

    def __init__(self, value: str, problem: str) -> None:
        super().__init__(f"{value!r}{problem}")
        self.value = value
        self.problem = problem


def split_hostport(
    text: str, *, default_port: int | None = None, allow_zero: bool = False
) -> tuple[str, int]:
    """``(host, port)`` of ``HOST:PORT`` or ``[V6]:PORT``, the host without brackets; the
    port may be left out when there is a ``default_port``.  Port 0 ("any free port") only
    with ``allow_zero``.  Raises :class:`InvalidHostPort` saying what to write."""
    if text.isdigit():
        raise InvalidHostPort(text, f" has no host: write HOST:PORT, as in 127.0.0.1:{text}")
    host, port = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise InvalidHostPort(text, " has something after ']' that is not :PORT")
        port = rest[1:]
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    elif ":" in text:
        raise InvalidHostPort(text, ": an IPv6 address needs brackets, as in [::1]:8800")
    if not host:
        raise InvalidHostPort(text, " has no host, as in 127.0.0.1:8800")
    try:
        if text.startswith("["):
            ipaddress.IPv6Address(host.split("%", maxsplit=1)[0])
        else:
            ascii_host(host)
    except ValueError as exc:  # UnicodeError is one
        problem = f"{host!r} is not an IPv6 address" if text.startswith("[") else str(exc)
        raise InvalidHostPort(text, f": {problem}") from None
    if not port:
        if default_port is None:
            raise InvalidHostPort(text, " has no port: write HOST:PORT, as in 127.0.0.1:8800")
        return host, default_port
    lowest = 0 if allow_zero else 1
    if not (port.isascii() and port.isdigit()) or not lowest <= int(port) <= 65535:
        raise InvalidHostPort(text, f": the port must be a number from {lowest} to 65535")
    return host, int(port)


MAX_NAME_LENGTH: Final = 253
"""The longest domain name DNS carries, in characters, without the final dot (RFC 1035)."""


def ascii_host(host: str) -> str:
    """``host`` as DNS and sockets take it: an IP address as written; a name checked and
    in lower case, or in IDNA when it is not ASCII.  A name has labels of 1 to 63
    letters, digits, ``-`` (not first or last) or ``_``, 253 characters in all, and a
    last label that is not a number: ``999.1.1.1`` is a mistyped address, not a name.
    Raises :class:`UnicodeError` saying which rule is broken."""
    try:
        ipaddress.ip_address(host.split("%", maxsplit=1)[0])
    except ValueError:
        pass
    else:
        return host
    if host.isascii():
        labels = host.rstrip(".").split(".")
        for label in labels:
            if not label or len(label) > 63:
                raise UnicodeError(f"the label {_clip(label)!r} must have 1 to 63 characters")
            if label.startswith("-") or label.endswith("-"):
                raise UnicodeError(f"the label {_clip(label)!r} starts or ends with '-'")
            if not all(c.isalnum() or c in "-_" for c in label):
                raise UnicodeError(f"the label {_clip(label)!r} has characters a name cannot have")
        if labels[-1].isdigit():
            raise UnicodeError(f"{host!r} is not an IP address, and a name cannot end in a number")
        written = host.lower()
    else:
        written = host.encode("idna").decode("ascii")
    if len(written.rstrip(".")) > MAX_NAME_LENGTH:
        raise UnicodeError(
            f"the name has {len(written.rstrip('.'))} characters; the most is {MAX_NAME_LENGTH}"
        )
    return written


def _clip(text: str) -> str:
    return text if len(text) <= 40 else text[:39] + "…"


def bracketed(host: str) -> str:
    """``[::1]`` for an IPv6 address, any other host as it is: how a URL writes it."""
    return f"[{host}]" if ":" in host else host


def join_hostport(host: str, port: int | None) -> str:
    """``host:port``, an IPv6 host in brackets; the host alone when ``port`` is None."""
    return bracketed(host) if port is None else f"{bracketed(host)}:{port}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address, or ``localhost``) is only reachable from this
    machine: ``127.0.0.0/8``, ``::1``, ``::ffff:127.x.y.z``.  A name other than
    ``localhost`` may resolve anywhere, so it is not; nor is ``0.0.0.0`` (every address)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback
