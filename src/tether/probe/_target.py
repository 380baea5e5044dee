"""The ``url`` phase: what is being probed, parsed strictly, with the exact problem if not."""

from __future__ import annotations

import functools
import ipaddress
import re
import weakref
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qsl, urlsplit

from tether._hostport import ascii_host as ascii_host_of
from tether._hostport import default_port, join_hostport
from tether._redact import _cut, redact_url
from tether.probe import _schemes
from tether.probe._dboptions import DB_SCHEMES, database_url_problem

SCHEMES = _schemes.scheme_names(walked=True)
"""The schemes :func:`parse_target` takes (``dns://`` is a probe of its own)."""
_SCHEME_LIST = ", ".join(SCHEMES[:-1]) + f" or {SCHEMES[-1]}"


# ``user:password@`` or ``token@`` anywhere, for text that is not a parsable URL.  Possessive:
# the user name is read once, so a long run without '@' costs one pass, not one per character.
_LOOSE_USERINFO = re.compile(r"(?P<lead>^|[/\s'\"])(?P<user>[^\s/@:'\"]*+)(?P<sep>:?)[^\s/@'\"]*+@")


def redact_target(text: str) -> str:
    """:func:`redact_url`, and for what does not parse as a URL (``user:pw@host/x``,
    ``http:/user:pw@host``) any user information masked as text."""
    head, mark = _cut(text)
    return (
        _LOOSE_USERINFO.sub(
            lambda m: f"{m['lead']}{m['user']}:***@" if m["sep"] else f"{m['lead']}***@",
            redact_url(head),
        )
        + mark
    )


class InvalidTarget(ValueError):
    """The target cannot be probed; the message says exactly why."""


@dataclass(frozen=True, slots=True, weakref_slot=True)
class Target:
    scheme: str
    """``http``, ``https``, ``tcp`` (connect only), ``tls`` (connect and handshake),
    ``ssh`` (the identification line), ``smtp`` (greeting, EHLO, STARTTLS), ``smtps``,
    ``ws`` / ``wss`` (the WebSocket upgrade), ``grpc`` / ``grpcs`` (gRPC's health check)
    or ``icmp`` (echo requests; its port is 0)."""
    host: str
    """As given (Unicode for an IDN), without brackets."""
    ascii_host: str
    """The IDNA form, what DNS and TLS see."""
    port: int
    path: str
    """Path and query for the request line (``/`` at least)."""
    url: str
    """The full target, redacted."""
    has_credentials: bool

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.ascii_host)
        except ValueError:
            return False
        return True

    @property
    def hostport(self) -> str:
        return join_hostport(self.ascii_host, self.port)


_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f]")
"""``\\s`` is what ``str.isspace`` calls whitespace (Unicode's), one C loop over the text."""


def parse_target(text: str) -> Target:
    """``http(s)://host[:port]/path``, ``tcp://host:port``, ``tls://host:port`` or ``host:port``.

    Cached (a :class:`Target` is a value): a monitor probes the same URL every interval,
    and parsing it, IDNA and address checks included, was a tenth of the probe engine's
    own time per check.  A target someone keeps (:func:`keep_target`: a prober, for each
    of its monitors) is found as long as it is kept; any other in a cache of the 65,536
    used last.  An invalid target raises every time (exceptions are not cached)."""
    kept = _KEPT.get(text)
    return kept if kept is not None else _parse_recent(text)


def keep_target(text: str) -> Target:
    """:func:`parse_target`, and the target found again by it for as long as the caller
    holds the result (a prober's plan of a monitor holds its URL's).

    A fleet's URLs outnumber the cache of recent ones (a worker of 120,000 monitors of
    a URL each), and a cache read in a cycle larger than itself misses every time: every
    check parsed its URL again (13 us, issue 46 section 2)."""
    found = parse_target(text)
    _KEPT[text] = found
    return found


_KEPT: weakref.WeakValueDictionary[str, Target] = weakref.WeakValueDictionary()
"""The targets held by someone (:func:`keep_target`), by the text they were parsed from."""


@functools.lru_cache(maxsize=1 << 16)
def _parse_recent(text: str) -> Target:
    raw = text.strip()
    if not raw:
        raise InvalidTarget("the URL is empty")
    if _SPACE_OR_CONTROL.search(raw):
        raise InvalidTarget("the URL contains whitespace or control characters")
    if "://" not in raw:
        scheme, _, rest = raw.partition(":")
        if rest.startswith("/") and scheme.isalpha():  # 'http:/x', 'htp:/x'
            if scheme.lower() not in SCHEMES:
                raise InvalidTarget(f"unsupported scheme {scheme!r}: use {_SCHEME_LIST}")
            raise InvalidTarget(f"the URL needs '//' after '{scheme}:', as in {scheme}://host/")
        hostport = raw.rpartition("@")[2]
        if hostport.count(":") > 1 and not hostport.startswith("["):
            raise InvalidTarget(
                "an IPv6 address needs brackets and a port for a TCP check, as in [::1]:80"
            )
        if "/" in raw or ":" not in raw:
            raise InvalidTarget(
                f"{redact_target(raw)!r} has no scheme: write http://, https://, or host:port for "
                "a TCP check"
            )
        raw = f"tcp://{raw}"
    try:
        parts = urlsplit(raw)
    except ValueError as exc:
        raise InvalidTarget(f"the URL cannot be parsed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise InvalidTarget(f"unsupported scheme {parts.scheme!r}: use {_SCHEME_LIST}")
    host = _host(parts)
    port = 0 if scheme == "icmp" else _port(parts, scheme)
    if scheme == "icmp":
        _check_icmp(parts)
    try:
        ascii_host = ascii_host_of(host)
    except UnicodeError as exc:
        shown = host if len(host) <= 60 else host[:59] + "…"
        raise InvalidTarget(f"the host {shown!r} is not a valid domain name: {exc}") from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if scheme in ("ssh", "smtp", "smtps"):
        _check_options(scheme, parts)
    elif scheme in ("grpc", "grpcs"):
        _check_service(scheme, parts)
    elif scheme in DB_SCHEMES and (problem := database_url_problem(scheme, parts)):
        raise InvalidTarget(problem)
    return Target(
        scheme=scheme,
        host=host,
        ascii_host=ascii_host,
        port=port,
        path=path,
        url=redact_url(raw),
        has_credentials=parts.username is not None or parts.password is not None,
    )


def grpc_service(t: Target) -> str:
    """The service a ``grpc://`` target asks about: its path without the slash (empty:
    the server as a whole)."""
    return t.path.lstrip("/")


def _check_service(scheme: str, parts: SplitResult) -> None:
    """A ``grpc(s)://`` target's path is one service name (``/pkg.v1.Service``), and it
    takes no query: a typo would otherwise ask about another service."""
    if parts.query or parts.fragment:
        raise InvalidTarget(
            f"a {scheme}:// target takes no query: write {scheme}://host:port/SERVICE"
        )
    service = parts.path[1:]
    if "/" in service or "%" in service:
        raise InvalidTarget(
            f"{service!r} is not a gRPC service name: write {scheme}://host:port/pkg.Service "
            "(or nothing after the port for the server as a whole)"
        )


STARTTLS_MODES = ("auto", "required", "off")
"""``smtp://host?starttls=``: upgrade when offered (the default), insist on it, or not."""


def starttls_mode(t: Target) -> str:
    """The ``starttls=`` of an ``smtp://`` target (validated by :func:`parse_target`)."""
    _, _, query = t.path.partition("?")
    return dict(parse_qsl(query)).get("starttls", "auto").lower()


def _check_options(scheme: str, parts: SplitResult) -> None:
    """An ``ssh://`` or ``smtp(s)://`` target has no path, and only ``smtp://`` takes a
    query (``starttls=``): anything else is a typo that would be silently ignored."""
    if parts.path not in ("", "/"):
        raise InvalidTarget(f"a {scheme}:// target has no path: write {scheme}://host[:port]")
    options = parse_qsl(parts.query, keep_blank_values=True)
    for name, value in options:
        if scheme != "smtp" or name != "starttls":
            allowed = "only smtp:// takes ?starttls=" if scheme != "smtp" else "only starttls="
            raise InvalidTarget(f"unknown option {name!r} in the {scheme}:// URL: {allowed}")
        if value.lower() not in STARTTLS_MODES:
            raise InvalidTarget(f"starttls={value!r}: use {', '.join(STARTTLS_MODES)}")


@dataclass(frozen=True, slots=True)
class EchoOptions:
    """``icmp://host?count=N&interval=D``: how many echo requests, how far apart."""

    count: int = 3
    interval: float = 0.2
    """Seconds; ping's shortest for a user who is not root."""


MAX_ECHOES = 100


def echo_options(t: Target) -> EchoOptions:
    """The ``count=`` and ``interval=`` of an ``icmp://`` target (validated by
    :func:`parse_target`)."""
    _, _, query = t.path.partition("?")
    given = dict(parse_qsl(query))
    out = EchoOptions()
    if "count" in given:
        out = EchoOptions(int(given["count"]), out.interval)
    if "interval" in given:
        out = EchoOptions(out.count, _interval(given["interval"]))
    return out


def _interval(text: str) -> float:
    from tether._durations import duration_ms

    ms = duration_ms(text)
    if ms is None or not 10 <= ms <= 60_000:
        raise InvalidTarget(
            f"interval={text!r}: give a duration from 10ms to 60s, as in interval=200ms"
        )
    return ms / 1000


def _check_icmp(parts: SplitResult) -> None:
    """An ``icmp://`` target has no port and no path; it takes ``count=`` (1 to 100) and
    ``interval=`` (10ms to 60s) and nothing else."""
    try:
        given_port = parts.port
    except ValueError:
        given_port = -1
    if given_port is not None or parts.netloc.endswith(":"):
        raise InvalidTarget("an icmp:// target has no port: write icmp://host")
    if parts.path not in ("", "/"):
        raise InvalidTarget("an icmp:// target has no path: write icmp://host[?count=N]")
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "count":
            if not value.isdigit() or not 1 <= int(value) <= MAX_ECHOES:
                raise InvalidTarget(f"count={value!r}: give a number from 1 to {MAX_ECHOES}")
        elif name == "interval":
            _interval(value)
        else:
            raise InvalidTarget(
                f"unknown option {name!r} in the icmp:// URL: only count= and interval="
            )


def _host(parts: SplitResult) -> str:
    netloc = parts.netloc.rpartition("@")[2]
    if not netloc:
        raise InvalidTarget("the URL has no host")
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise InvalidTarget("the IPv6 address is missing its closing ']'")
        literal = netloc[1:end]
        try:
            ipaddress.IPv6Address(literal.split("%")[0])
        except ValueError:
            raise InvalidTarget(f"{literal!r} is not a valid IPv6 address") from None
        return literal
    host = parts.hostname or ""
    if not host:
        raise InvalidTarget("the URL has no host")
    return host


def _port(parts: SplitResult, scheme: str) -> int:
    try:
        port = parts.port
    except ValueError:
        given = parts.netloc.rpartition("@")[2].rpartition(":")[2]
        raise InvalidTarget(f"the port {given!r} is not a number from 1 to 65535") from None
    if port is None:
        implied = default_port(scheme)
        if implied is None:
            raise InvalidTarget(f"a {scheme}:// target needs a port, as in {scheme}://host:port")
        return implied
    if port == 0:
        raise InvalidTarget("the port 0 is not a number from 1 to 65535")
    return port
