"""The lab's matrix cells: what a client did in a scenario, and tether's reading of it.

What the matrix (``_matrix``) and the exhaustion scenarios (``_exhaust``) share, below
both: the clients, their timeouts, a :class:`Case` and how one is made of what a client
did (:func:`case_of`), and where a library loses a fact tether needs (:data:`LIMITS`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tether._classify import classify, classify_status
from tether._kinds import Kind

if TYPE_CHECKING:
    from tether.lab._lab import Scenario

# Longer than the namespace resolver's 1 s timeout, so a silent resolver is
# reported as such and not as a connect timeout of clients that count DNS in it.
CONNECT_TIMEOUT = 2.5
READ_TIMEOUT = 1.5
TOTAL_TIMEOUT = 4.0

CLIENTS = (
    "requests",
    "urllib3",
    "httpx",
    "httpx_async",
    "aiohttp",
    "urllib",
    "socket",
    "dnspython",
)

IPV6_BLACKHOLE = "ipv6_blackhole"

# Where a library loses the fact tether needs, the kind it can honestly give.
LIMITS: dict[tuple[str, str], tuple[Kind | None, str | None]] = {}
for _client in ("requests", "urllib3", "httpx", "httpx_async", "urllib"):
    LIMITS["slow_drip", _client] = (
        None,
        "no total timeout: each byte resets the read timeout, so the call hangs",
    )
for _client in CLIENTS:
    LIMITS["dns_silent", _client] = (
        Kind.DNS_UNAVAILABLE,
        "getaddrinfo reports a silent resolver as EAI_AGAIN, like SERVFAIL",
    )
LIMITS["dns_silent", "dnspython"] = (Kind.DNS_TIMEOUT, None)  # only a direct query tells
LIMITS["dns_unreachable", "dnspython"] = (
    Kind.DNS_TIMEOUT,
    "dnspython does not connect its UDP socket, so the port unreachable never reaches it: "
    "it waits out its lifetime",
)
for _client in (c for c in CLIENTS if c != "dnspython"):
    LIMITS["dns_dangling_cname", _client] = (
        Kind.DNS_NOT_FOUND,
        "getaddrinfo reports a CNAME to a name without addresses as EAI_NONAME, like NXDOMAIN",
    )
for _client in ("requests", "httpx", "httpx_async", "aiohttp"):
    LIMITS["url_space", _client] = (
        Kind.DNS_NOT_FOUND,
        "the host with a space (percent-encoded by requests) goes to the resolver",
    )
for _client in ("httpx", "urllib"):
    LIMITS["url_bad_port", _client] = (
        Kind.CONNECT_REFUSED,
        "getaddrinfo truncates port 99999 to 16 bits (34463), where nothing listens",
    )
for _client in ("httpx", "httpx_async", "aiohttp", "urllib"):
    LIMITS["proxy_nxdomain", _client] = (
        Kind.DNS_NOT_FOUND,
        "the exception does not say the name that did not resolve was the proxy's",
    )
for _name in ("reset_after_head", "reset_mid_body"):
    LIMITS[_name, "aiohttp"] = (
        Kind.RESPONSE_TRUNCATED,
        "aiohttp reports a reset mid-body as an incomplete payload",
    )
for _client in ("httpx", "httpx_async", "urllib"):
    LIMITS["proxy_refused", _client] = (
        Kind.CONNECT_REFUSED,
        "the exception does not say the refusing peer was the proxy",
    )
for _client in ("httpx", "httpx_async", "aiohttp", "urllib"):
    LIMITS["proxy_blackhole", _client] = (
        Kind.CONNECT_TIMEOUT,
        "the timeout does not say the silent peer was the proxy",
    )
for _name in ("reset_on_reuse", "close_on_reuse"):
    LIMITS[_name, "aiohttp"] = (
        None,
        "aiohttp retries an idempotent request once when a reused connection fails",
    )
    LIMITS[_name, "urllib"] = (None, "urllib opens a new connection for each request")
for _client in ("requests", "urllib3", "urllib"):
    LIMITS["bad_header", _client] = (
        None,
        "http.client files a line without a colon as a parse defect, and goes on",
    )
_HTTP_CLIENT = ("requests", "urllib3", "urllib")  # the clients that parse with http.client
for _client in _HTTP_CLIENT:
    LIMITS["bad_chunk_footer", _client] = (
        None,
        "http.client discards the two bytes after a chunk without looking at them",
    )
    LIMITS["bad_length", _client] = (
        None,
        "http.client takes a negative Content-Length as absent and reads to the close",
    )
for _client in (*_HTTP_CLIENT, "httpx", "httpx_async"):
    LIMITS["length_and_chunked", _client] = (
        None,
        "chunked framing wins, as RFC 9112 lets a client do (it must then close)",
    )
for _client in ("httpx", "httpx_async", "aiohttp"):
    LIMITS["bad_version", _client] = (None, "the parser takes any HTTP/x.y version")
for _name in ("long_chunk_line", "long_trailer"):
    LIMITS[_name, "requests"] = (
        None,
        "urllib3's streaming chunk reader reads these lines with no length limit",
    )
LIMITS["long_chunk_line", "aiohttp"] = (
    None,
    "aiohttp's parser skips chunk extensions with no length limit",
)
LIMITS["tls_stall", "aiohttp"] = (
    Kind.CONNECT_TIMEOUT,
    "aiohttp times the TLS handshake as part of connecting",
)
for _client in ("requests", "urllib3", "httpx"):
    LIMITS["upload_early_close", _client] = (
        Kind.CONNECTION_CLOSED,
        "the client swallows the broken pipe and reports the missing response instead",
    )
LIMITS["upload_stall", "aiohttp"] = (
    Kind.DEADLINE_EXCEEDED,
    "aiohttp has no write timeout: only the total timeout ends the upload",
)
# Seconds each client spends on IPv6 before it tries IPv4 in ipv6_blackhole: the clients
# on socket.create_connection try each address in turn, for a whole connect timeout.
IPV6_FIRST = {
    "requests": CONNECT_TIMEOUT,
    "urllib3": CONNECT_TIMEOUT,
    "httpx": CONNECT_TIMEOUT,
    "urllib": READ_TIMEOUT,  # urllib has one timeout, for connecting too
    "socket": CONNECT_TIMEOUT,
}
for _client, _lost in IPV6_FIRST.items():
    LIMITS[IPV6_BLACKHOLE, _client] = (
        None,
        f"tries IPv6 for its whole connect timeout ({_lost:g} s), then IPv4: late, not failed",
    )
for _client in ("httpx_async", "aiohttp"):
    LIMITS[IPV6_BLACKHOLE, _client] = (
        None,
        "Happy Eyeballs: starts IPv4 0.25 s after IPv6, and IPv4 wins",
    )
LIMITS["conflicting_length", "urllib"] = (
    None,
    "http.client reads the first Content-Length and ignores the other",
)
LIMITS["bad_gzip", "urllib"] = (
    None,
    "urllib does not decode Content-Encoding: the body comes back as sent",
)
for _client in ("requests", "urllib3"):
    LIMITS["surplus_body", _client] = (
        None,
        "urllib3 does not reuse a pooled connection with unread bytes: it reconnects",
    )
LIMITS["surplus_body", "urllib"] = (
    None,
    "urllib opens a new connection for each request, so the surplus is never read",
)
for _client in ("httpx", "httpx_async"):
    LIMITS["too_many_headers", _client] = (
        None,
        "h11 bounds the size of a head (100 KiB in httpcore), not its number of fields",
    )
LIMITS["upload_stall", "socket"] = (
    Kind.READ_TIMEOUT,
    "a bare socket timeout does not say whether it was sending or receiving",
)


@dataclass(frozen=True, slots=True)
class Case:
    """One cell of the matrix: what a client did, and tether's reading of it."""

    scenario: str
    client: str
    outcome: str
    """``raised``, ``status`` (an HTTP status came back), ``ok`` or ``hang``."""
    raised: str | None
    """Top-level class, then ← and the root cause's class, as users see it."""
    message: str | None
    kind: str | None
    """What tether says: classify() of the exception, classify_status() of a status."""
    expected: str | None
    note: str | None = None
    elapsed: float | None = None
    """Seconds from the request to its outcome, for the scenarios about delay."""

    @property
    def agrees(self) -> bool:
        return self.kind == self.expected


def expected_kind(scenario: Scenario, client: str) -> tuple[Kind | None, str | None]:
    if (scenario.name, client) in LIMITS:
        return LIMITS[scenario.name, client]
    return scenario.kind, None


def case_of(
    scenario: Scenario,
    client: str,
    status: int | None,
    exc: BaseException | None,
    *,
    elapsed: float | None = None,
) -> Case:
    """The matrix cell for what the client did: raised ``exc``, answered ``status``, or
    neither (it hung)."""
    expected, note = expected_kind(scenario, client)
    kind: Kind | None
    if exc is not None:
        kind = classify(exc, url=scenario.url).kind
        raised, message = describe(exc)
        outcome = "raised"
    elif status is None:
        kind, raised, message, outcome = None, None, None, "hang"
    else:
        failure = classify_status(status, url=scenario.url)
        kind = failure.kind if failure else None
        raised, message, outcome = None, f"HTTP {status}", "status" if failure else "ok"
    return Case(
        scenario.name,
        client,
        outcome,
        raised,
        message,
        kind.value if kind else None,
        expected.value if expected else None,
        note,
        elapsed,
    )


def describe(exc: BaseException) -> tuple[str, str]:
    """``Top ← Root`` class names and the first line of the top message, ports masked."""
    chain = [exc]
    node: BaseException | None = exc
    while node is not None and len(chain) < 8:
        inner = (
            getattr(node, "reason", None)
            if isinstance(getattr(node, "reason", None), BaseException)
            else None
        )
        inner = inner or getattr(node, "os_error", None) or getattr(node, "certificate_error", None)
        if inner is None:
            inner = next((a for a in node.args if isinstance(a, BaseException)), None)
        node = inner or node.__cause__ or (None if node.__suppress_context__ else node.__context__)
        if node is not None and node not in chain:
            chain.append(node)
        else:
            break
    names = [type(chain[0]).__name__]
    if len(chain) > 1:
        root = chain[-1]
        code = getattr(root, "verify_code", None) or getattr(root, "errno", None)
        names.append(type(root).__name__ + (f"[{code}]" if code is not None else ""))
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return " ← ".join(names), mask(text)[:140]


def mask(text: str) -> str:
    """Mask what changes between runs: ephemeral ports, object addresses."""
    text = re.sub(r"0x[0-9a-f]{6,}", "0x…", text)
    text = re.sub(r"(?<=[:=' ])\d{4,5}\b", "PORT", text)
    return re.sub(r"(?<=port=)\d+", "PORT", text)
