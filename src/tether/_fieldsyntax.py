"""What an HTTP request may carry, as the probe writes it: one home for the checks that
the monitor's configuration and ``tether diagnose -H`` make before anything is sent."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from tether._hostport import InvalidHostPort, ascii_host, join_hostport, split_hostport

__all__ = ["FRAMING", "TOKEN", "framing_problem", "host_problem", "value_problem"]

TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""A method or a header name (RFC 9110's token)."""


def value_problem(value: str) -> str | None:
    """Why ``value`` cannot be a header's value, in words that follow "it", or None: a line
    break would start a field of its own, and the probe writes headers in ASCII."""
    if "\r" in value or "\n" in value or "\0" in value:
        return "contains a line break"
    if not value.isascii():
        return "is not ASCII (encode it, as in RFC 8187's UTF-8''...)"
    return None


FRAMING: Final[Mapping[str, str]] = MappingProxyType(
    {
        # RFC 9112 section 6 (message framing) and RFC 9110 section 7.6 (connection-specific
        # fields): the probe writes these itself, one request per connection; one written by a
        # user contradicts it (a Content-Length not the body's made every request unsendable,
        # and a Transfer-Encoding went out beside the probe's Content-Length).
        "connection": "tether closes the connection after one request and says so itself "
        "(Connection: close)",
        "content-length": "tether writes the length of the body itself",
        "keep-alive": "tether keeps no connection open after its one request",
        "proxy-connection": "tether keeps no connection open after its one request (and "
        "talks to a proxy itself)",
        "te": "tether takes no transfer coding but chunked, which needs no TE",
        "trailer": "tether sends no trailer fields",
        "transfer-encoding": "tether sends a body whole, with its Content-Length (RFC 9112 "
        "forbids both at once)",
        "upgrade": "a ws:// or wss:// check switches protocols, and sends Upgrade itself",
    }
)
"""The headers that frame a request or manage its connection, by lower-case name, and
why a user may not write them: the configuration and ``tether diagnose -H`` refuse them."""


def framing_problem(name: str) -> str | None:
    """Why a user may not write the header ``name`` (one of :data:`FRAMING`), naming it;
    None for any other header."""
    why = FRAMING.get(name.lower())
    return None if why is None else f"{name} is not a header to write: {why}"


def host_problem(value: str, *, host: str, port: int, default: int | None) -> str | None:
    """Why ``Host: value`` cannot go with a URL of ``host`` (its IDNA form) and ``port``,
    in words that follow the value; None when it names them (``default``: the scheme's
    port, which the value may leave out).  Such a Host is harmless: the probe sends the
    URL's host as Host anyway, and each redirect hop's own."""
    try:
        given, given_port = split_hostport(value.strip(), default_port=default)
        same = given_port == port and _same_host(given, host)
    except (InvalidHostPort, ValueError):  # UnicodeError is a ValueError
        same = False
    if same:
        return None
    return (
        f"names another host than the URL ({join_hostport(host, port)}): tether sends the "
        "URL's host as Host, and each redirect's its own; write the host in the URL"
    )


def _same_host(given: str, host: str) -> bool:
    try:
        return ipaddress.ip_address(given) == ipaddress.ip_address(host)
    except ValueError:
        return ascii_host(given).rstrip(".") == host.lower().rstrip(".")
