"""Which lab scenario reproduces each common cause the catalogue lists.

A cause without a scenario is untested, so every cause in
:data:`tether._catalogue.CATALOGUE` has an entry here, in the catalogue's
order: the scenarios that make a client see what that cause makes it see, or
why no scenario on one machine can.  Many causes are configuration mistakes
(a stale proxy setting, a typo in a name): their scenario is the fault they
lead to on the wire, which is all a client can observe.

``tests/classify/test_causes.py`` holds the two lists together: a new cause, a
reworded one, or a scenario that goes away fails it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tether._kinds import Kind


@dataclass(frozen=True, slots=True)
class Cause:
    """One catalogue cause and how the lab reproduces it."""

    starts: str
    """The cause's first words, as the catalogue writes them."""
    scenarios: tuple[str, ...] = ()
    """Lab (or namespace) scenarios that produce what this cause produces."""
    why_not: str | None = None
    """Why no scenario on one machine can reproduce it; None when one does."""


def _is(starts: str, *scenarios: str) -> Cause:
    return Cause(starts, scenarios)


def _no(starts: str, why: str) -> Cause:
    return Cause(starts, why_not=why)


_STATUS = "http_404"  # the status server answers any /CODE; http_404 is its matrix row
_POLICY = (
    "a decision of tether's own policy, not a fault on the wire: tested with an injected clock"
)
_PUSH = (
    "a push monitor's verdict on a push that never came, not a fault on the wire: tested on "
    "simulated time against the real push API"
)
_GRPC = (
    "a gRPC server's answer, which the matrix's HTTP/1.1 clients cannot ask for: the lab's "
    "grpc_* scenarios make it for a grpc:// probe, and tests/probe/test_probe_grpc.py against "
    "a real grpcio server"
)
_DB = (
    "a database's or a cache's own answer, which no HTTP client asks for: tested against "
    "Debian's real PostgreSQL, MariaDB and Redis started by the tests "
    "(tests/probe/test_probe_postgres.py, _mysql.py, _redis.py)"
)
_SERVICES = (
    "a broker's, an SSH, mail or gRPC server's or a database's own answer, which no HTTP "
    "client asks for: tested against real servers and the services' fault servers on "
    "loopback (tests/classify/test_clients.py)"
)
_NO_NETEM = (
    "needs a path that drops large packets or delays them; tc netem is not in this kernel, "
    "and a loopback MTU black hole cannot be made without it"
)

COVERAGE: dict[Kind, tuple[Cause, ...]] = {
    Kind.URL_INVALID: (
        _is("A typo or a missing part", "url_space", "url_no_host"),
        _is("An unsupported scheme", "url_bad_scheme"),
        _is("A port that is not a number", "url_bad_port", "url_unencoded"),
        _is("The URL was assembled", "url_no_host"),
        _is("Credentials, path or query", "url_unencoded"),
    ),
    Kind.PROXY_UNREACHABLE: (
        _is("The proxy service is down", "proxy_refused"),
        _is("A stale or wrong proxy setting", "proxy_refused"),
        _is("The proxy's name only resolves", "proxy_nxdomain"),
        _is("A container or CI job inherited", "proxy_refused"),
        _is("A firewall between the client and the proxy", "proxy_blackhole"),
    ),
    Kind.PROXY_AUTH_REQUIRED: (
        _is("No proxy credentials", "proxy_auth"),
        _is("A wrong, expired or locked", "proxy_auth"),
        _is("Special characters in the user name", "proxy_auth"),
        _is("The proxy only accepts NTLM", "proxy_auth"),
        _is("The credentials are in `HTTP_PROXY`", "proxy_auth"),
    ),
    Kind.PROXY_REJECTED: (
        _is("The proxy's policy blocks", "proxy_forbidden"),
        _is("The proxy could not reach the destination", "proxy_bad_gateway"),
        _is("The proxy is overloaded", "proxy_bad_gateway"),
        _is("An internal destination", "proxy_forbidden"),
    ),
    Kind.DNS_NOT_FOUND: (
        _is("A typo in the host name", "dns_nxdomain"),
        _is("The name only exists in an internal", "dns_nxdomain"),
        _is("The record was deleted", "dns_nxdomain"),
        _is("A short name that needs a search domain", "dns_nxdomain"),
        _is("A record created moments ago", "dns_nxdomain"),
    ),
    Kind.DNS_NO_ADDRESS: (
        _is("The name only has other records", "dns_nodata"),
        _is("Only an AAAA (IPv6) record exists", "dns_nodata"),
        _is("The A or AAAA record was removed", "dns_nodata"),
        _is("A CNAME points at a name", "dns_dangling_cname"),
    ),
    Kind.DNS_UNAVAILABLE: (
        _is("The resolver could not get an answer", "dns_servfail"),
        _is("DNSSEC validation failed", "dns_servfail"),
        _is("The resolver refuses queries", "dns_refused"),
        # A local stub that is not running: resolv.conf names 127.0.0.53, nothing listens.
        _is("The configured resolver cannot be reached", "dns_unreachable"),
        _is("A container or network namespace", "dns_unreachable"),
    ),
    Kind.DNS_TIMEOUT: (
        _is("The configured resolver is down", "dns_silent"),
        _is("A firewall drops DNS traffic", "dns_silent"),
        _is("Packet loss, an overloaded resolver", "dns_silent"),
        _is("A dead first `nameserver`", "dns_silent"),
        _is("A lookup budget shorter", "dns_silent"),
    ),
    Kind.DNS_DNSSEC_BOGUS: (
        _is("A record changed after", "dnssec_bogus"),
        _is("A key rollover went wrong", "dnssec_rollover"),
        _is("A wrong trust anchor", "dnssec_wrong_anchor"),
    ),
    Kind.DNS_DNSSEC_EXPIRED: (
        _is("The zone is no longer re-signed", "dnssec_expired"),
        _is("A signature validity period", "dnssec_expired"),
        # What a check whose clock is behind (or a signer's ahead) sees: not yet valid.
        _is("A wrong clock", "dnssec_not_yet_valid", "dnssec_expired"),
    ),
    Kind.DNS_DNSSEC_INSECURE: (
        _is("The zone is not signed", "dnssec_unsigned"),
        _is("The zone is signed but its DS", "dnssec_insecure"),
        _is("The answer has no records", "dnssec_nodata"),
        _is("The zone is outside", "dnssec_outside"),
    ),
    Kind.CONNECT_REFUSED: (
        _is("Nothing is listening on that port", "refused"),
        _is("The port is wrong", "refused"),
        _is("The service listens on another interface", "refused"),
        _is("A container's or VM's port", "refused"),
        # A REJECT with tcp-reset answers the SYN with a RST, as a closed port does.
        _is("A firewall rejects", "refused"),
    ),
    Kind.CONNECT_TIMEOUT: (
        _is("A firewall or cloud security group", "blackhole"),
        _is("The host is down", "blackhole"),
        _is("The server is overloaded and its accept backlog", "blackhole"),
        # A delay, not a failure: every client here goes on to IPv4 after the IPv6
        # attempt (its whole connect timeout, or 0.25 s with Happy Eyeballs); the
        # matrix measures the delay (tests/classify/test_matrix.py).
        _is("The name has an IPv6 address", "ipv6_blackhole"),
        _is("Packet loss or a routing or NAT problem", "blackhole"),
        _is("A connect timeout too short", "blackhole"),
    ),
    Kind.CONNECT_UNREACHABLE: (
        _is("No route to the destination", "net_unreachable"),
        _is("The host is offline", "host_unreachable"),
        _is(
            "A firewall rejects the connection with an ICMP", "host_unreachable", "net_unreachable"
        ),
        _is("An IPv6 address is used", "net_unreachable"),
        _is(
            "A local `unreachable`, `prohibit` or `blackhole` route",
            "host_unreachable",
            "prohibit_route",
            "blackhole_route",
        ),
    ),
    Kind.CONNECT_RESOURCE_EXHAUSTED: (
        _is("The process reached its open-file limit", "fd_limit"),
        _is("The client's own connection pool is full", "pool_full"),
        _is("No free local port", "port_range"),
        _no(
            "The system-wide file table is full",
            "filling the system's file table (fs.file-max) would starve every process on the "
            "machine, the test runner's included: a pure test builds the ENFILE error",
        ),
        _no(
            "The kernel ran out of socket buffer memory",
            "the kernel counts socket memory (net.ipv4.tcp_mem) for the whole machine, not "
            "per namespace: exhausting it would starve every process; a pure test builds "
            "the ENOBUFS error",
        ),
    ),
    Kind.TLS_EXPIRED: (
        _is("The server's certificate expired", "tls_expired"),
        _is("This machine's clock is wrong", "tls_expired", "tls_not_yet_valid"),
        _is("An intermediate certificate served", "tls_expired_intermediate"),
        _is("An outdated CA bundle", "tls_expired_root"),
        _is("One server behind a load balancer", "tls_expired"),
    ),
    Kind.TLS_HOSTNAME_MISMATCH: (
        _is("The URL uses a name the certificate does not list", "tls_wrong_host"),
        _is("The URL uses an IP address", "tls_wrong_host"),
        _is("Several sites share the address", "tls_wrong_host"),
        _is("A wildcard covers one label only", "tls_wrong_host"),
        _is("The name resolves to the wrong server", "tls_wrong_host"),
    ),
    Kind.TLS_SELF_SIGNED: (
        _is("A development, test or internal server", "tls_self_signed"),
        _is("An appliance's factory certificate", "tls_self_signed"),
        _is("A server that falls back to a default certificate", "tls_self_signed"),
        _is("A certificate meant to be trusted", "tls_self_signed"),
    ),
    Kind.TLS_UNTRUSTED: (
        _is("The server sends only its own certificate", "tls_no_intermediate"),
        _is("The certificate is issued by a private", "tls_unknown_ca"),
        _is("A TLS-inspecting proxy", "tls_unknown_ca"),
        _is("An outdated CA bundle", "tls_unknown_ca"),
        _is("`REQUESTS_CA_BUNDLE`, `SSL_CERT_FILE`", "tls_unknown_ca"),
    ),
    Kind.TLS_PROTOCOL: (
        _is("TLS was sent to a port that serves plain HTTP", "tls_to_plain"),
        _is("An old server that only supports TLS 1.0", "tls_version"),
        _is("An old certificate with a key or signature too weak", "tls_weak_key"),
        _is("No common cipher suite", "tls_no_cipher"),
        _is("The server requires a client certificate", "tls_client_cert"),
        _is("A proxy, firewall or load balancer that interferes", "tls_eof"),
    ),
    Kind.TLS_TIMEOUT: (
        _is("The port speaks plain HTTP or another protocol", "tls_stall"),
        _is("The server or a TLS-terminating load balancer", "tls_stall"),
        _no("A path MTU problem", _NO_NETEM),
        _is("A firewall or proxy that inspects TLS", "tls_stall"),
        _is("A timeout too short", "tls_stall"),
    ),
    Kind.CONNECTION_RESET: (
        _is(
            "The server process crashed",
            "reset_on_accept",
            "reset_mid_head",
            "reset_after_head",
            "reset_mid_body",
        ),
        _is("A pooled connection had been idle", "reset_on_reuse"),
        _is("A firewall, intrusion detection system", "reset_mid_body"),
        _is("The server rejected the request early", "reset_on_accept"),
        # A TLS server that closes with the plain request unread sends a RST, which is
        # reset_on_accept on the wire; the lab's own TLS port closes cleanly (plain_to_tls).
        _is("Plain HTTP was sent to a TLS port", "reset_on_accept"),
    ),
    Kind.CONNECTION_CLOSED: (
        _is("A keep-alive race", "close_on_reuse"),
        _is("The server crashed, timed out", "close_no_response"),
        _is("A proxy or load balancer closed", "close_no_response"),
        _is("The wrong protocol on the port", "plain_to_tls"),
        _is("The server refused the request", "close_no_response"),
    ),
    Kind.CONNECTION_BROKEN_PIPE: (
        _is("The server rejected the request before reading", "upload_early_close"),
        _is("A server or proxy timeout", "upload_early_close"),
        _no(
            "The client wrote to a pooled connection",
            "a race: the clients check a pooled connection before reuse, and the "
            "window between that check and the write is microseconds wide",
        ),
        _is("The server process crashed or restarted during", "upload_early_close"),
    ),
    Kind.CONNECTION_ABORTED: (
        _no("Local security software", "Windows only (WSAECONNABORTED)"),
        _no(
            "The network stack gave up",
            "Linux reports a connection it gave up on as ETIMEDOUT, not ECONNABORTED, "
            "and only after minutes of retransmissions (tcp_retries2)",
        ),
        _no(
            "The local interface or address went away",
            "Linux keeps the socket and its sends time out: no ECONNABORTED",
        ),
        _no("The application closed the socket", "the client's own act, not a server's"),
    ),
    Kind.WRITE_TIMEOUT: (
        _is("The server or a proxy decided to reject the upload", "upload_stall"),
        _is("The server is stuck or overloaded", "upload_stall"),
        _is("A proxy that buffers uploads", "upload_stall"),
        _no("Packets are lost on the way", _NO_NETEM),
    ),
    Kind.UNKNOWN: (
        _no("An exception type or error code tether does not know", "not a fault on the wire"),
        _no("A failure outside the network path", "not a fault on the wire"),
        _no("An error wrapped in a way", "not a fault on the wire"),
    ),
    Kind.READ_TIMEOUT: (
        _is("The server is slow to produce the response", "stall_headers"),
        _is("The server or a proxy is stuck", "stall_headers"),
        _is("The read timeout is shorter", "stall_headers"),
        _no("Packets are lost on the path", _NO_NETEM),
        _is("A long-polling or streaming endpoint", "stall_headers"),
    ),
    Kind.RESPONSE_TRUNCATED: (
        _is("The server crashed, was restarted", "truncated_body", "cut_chunked"),
        _is("A proxy or load balancer hit its timeout", "truncated_body"),
        _is("The server sent a Content-Length larger", "truncated_body"),
        _is("The connection was cut during a long download", "reset_mid_body"),
        _is("The server hit an error after the headers", "cut_chunked"),
    ),
    Kind.RESPONSE_MALFORMED: (
        _is("The port runs another protocol", "garbage"),
        _is(
            "A buggy server, framework or proxy writes invalid headers",
            "bad_header",
            "conflicting_length",
        ),
        _is(
            "The body's encoding does not match",
            "bad_gzip",
            "bad_chunk_size",
            "bad_chunk_footer",
        ),
        _is("Leftover bytes from an earlier response", "surplus_body"),
        _is("An intercepting middlebox", "garbage"),
        _is("Framing a strict parser refuses", "bad_length", "length_and_chunked", "bad_version"),
    ),
    Kind.RESPONSE_TOO_LARGE: (
        _no(
            "The endpoint returns more data than expected",
            "no client library here limits a body's size: only a caller's own limit can, "
            "and the lab would have to stream gigabytes to show their absence",
        ),
        _no("The size limit is set too low", "the caller's own limit, not a fault"),
        _is(
            "The server sent too many or too long headers",
            "too_many_headers",
            "long_header",
            "long_status_line",
            "long_chunk_line",
            "long_trailer",
        ),
        _is("A wrong URL that points at an endless stream", "slow_drip"),
        _no(
            "Compressed data that expands",
            "no client library here limits decompressed size: a bomb would only fill memory",
        ),
    ),
    Kind.HTTP_REDIRECT_LOOP: (
        _is("HTTP and HTTPS redirect to each other", "redirect_scheme_loop"),
        _is("The bare domain and `www`", "redirect_loop"),
        _is("A login redirect that loops", "redirect_loop"),
        _is("Conflicting redirect rules", "redirect_loop"),
        # Clients count hops: a long chain and a loop look the same to them.
        _is("A legitimate but long chain", "redirect_loop"),
    ),
    Kind.HTTP_RATE_LIMITED: (
        _is("Too many requests in a short time", "http_429"),
        _is("Retries without backoff", "http_429"),
        _is("A daily or monthly quota", "http_429"),
        _is("A shared outgoing IP address", "http_429"),
    ),
    Kind.HTTP_CLIENT_ERROR: (
        _is("Missing, expired or wrong credentials", _STATUS),
        _is("A wrong URL, path, method", _STATUS),
        _is("An invalid body or parameters", _STATUS),
        _is("A request or its headers too large", _STATUS),
        _is("A web application firewall", _STATUS),
    ),
    Kind.HTTP_SERVER_ERROR: (
        _is("An unhandled error or bug", "http_503"),
        _is("A gateway or load balancer got no valid response", "http_503"),
        _is("The service is overloaded", "http_503", "flapping"),
        _is("The backend took longer", "http_503"),
        _is("A method or feature the server does not implement", "http_503"),
    ),
    # The page_* scenarios are a browser check's (tests/lab/test_lab_browser.py): an HTTP
    # client gets each page with a 200.
    Kind.BROWSER_STEP_FAILED: (
        _is("The page's script failed or took longer", "page_never_renders"),
        # What a browser sees of a selector that no longer matches: it never appears.
        _is("A deployment changed the page", "page_never_renders"),
        _is("An API the page calls failed", "page_never_renders"),
        _is("The element is there but hidden", "page_never_renders"),
    ),
    Kind.BROWSER_PAGE_ERROR: (
        _is("A bug in the page's JavaScript", "page_script_error"),
        _is("A script or API the page depends on", "page_script_error"),
        # A missing feature is an uncaught TypeError or ReferenceError, as here.
        _is("A browser feature the script expects", "page_script_error"),
    ),
    Kind.GRPC_NOT_SERVING: (
        _is("The service set its own status", "grpc_not_serving"),
        _no("The service name asked about", _GRPC),
        _no("The server never set a status", _GRPC),
    ),
    Kind.GRPC_STATUS: (
        _is("`UNIMPLEMENTED (12)`", "grpc_unimplemented"),
        _no("`DEADLINE_EXCEEDED (4)`", _GRPC),
        _no("`UNAVAILABLE (14)`", _GRPC),
        _no("`UNAUTHENTICATED (16)`", _GRPC),
        _no("`INTERNAL (13)`", _GRPC),
    ),
    Kind.DB_AUTH_FAILED: (
        _no("A wrong or rotated password,", _DB),
        _no("The user does not exist,", _DB),
        _no("No credentials given to a", _DB),
        _no("The URL's password holds a", _DB),
    ),
    Kind.DB_UNKNOWN_DATABASE: (
        _no("A typo in the URL's", _DB),
        _no("The database was dropped, renamed", _DB),
        _no("The check reaches another server", _DB),
        _no("A Redis database number at", _DB),
    ),
    Kind.DB_READ_ONLY: (
        _no("A failover moved the primary", _DB),
        _no("The URL names a replica,", _DB),
        _no("The server was made read-only", _DB),
    ),
    Kind.DB_TOO_MANY_CONNECTIONS: (
        _no("An application leaks connections or", _DB),
        _no("Pools across many instances together", _DB),
        _no("Long-running or stuck queries holding", _DB),
        _no("A limit set too low", _DB),
    ),
    Kind.DB_QUERY_FAILED: (
        _no("A syntax error, or a", _DB),
        _no("The check's user lacks the", _DB),
        _no("The query ran longer than", _DB),
        _no("The query writes, and runs", _DB),
        _no("A Redis command refused by", _DB),
    ),
    Kind.AUTH_FAILED: (
        _no("A wrong, expired or rotated", _SERVICES),
        _no("The user exists but may", _SERVICES),
        _no("No credentials given to a", _SERVICES),
        _no("A password with a character", _SERVICES),
    ),
    Kind.SERVER_UNAVAILABLE: (
        _no("A restart or a failover", _SERVICES),
        _no("A broker or mail server", _SERVICES),
        _no("A gRPC server draining, overloaded,", _SERVICES),
    ),
    Kind.DEADLINE_EXCEEDED: (
        _is("The server sends the response very slowly", "slow_drip"),
        _no("Retries and the waits between them", _POLICY),
        _no("Each step was slow but within its own timeout", _POLICY),
        _is("The response is larger, or the bandwidth lower", "slow_drip"),
        _is("The deadline is too short", "slow_drip"),
    ),
    Kind.CIRCUIT_OPEN: (
        _no("The host failed repeatedly", _POLICY),
        _no("An outage or a deployment", _POLICY),
        _no("A local problem", _POLICY),
        _no("A threshold or cool-down", _POLICY),
    ),
    Kind.BULKHEAD_FULL: (
        _no("The endpoint answers more slowly", _POLICY),
        _no("More calls than usual", _POLICY),
        _no("An adaptive limit fell", _POLICY),
        _no("A limit, queue or queue timeout", _POLICY),
    ),
    Kind.THROTTLE_REJECTED: (
        _no("The endpoint is overloaded", _POLICY),
        _no("The endpoint is down or unreachable", _POLICY),
        _no("A throttle window or K factor", _POLICY),
    ),
    Kind.HEARTBEAT_MISSED: (
        _no("The job did not run", _PUSH),
        _no("The job ran and failed", _PUSH),
        _no("The job's push did not reach tether", _PUSH),
        _no("The job runs later or longer", _PUSH),
    ),
}


def todo() -> list[tuple[Kind, str, str]]:
    """Causes a lab scenario could reproduce but none does yet: (kind, cause, what to build)."""
    return [
        (kind, cause.starts, cause.why_not)
        for kind, causes in COVERAGE.items()
        for cause in causes
        if cause.why_not is not None and cause.why_not.startswith("to do")
    ]


BEGIN = "<!-- BEGIN causes table: generated by tether.lab._causes.causes_markdown() -->"
END = "<!-- END causes table -->"


def causes_markdown() -> str:
    """The cause-to-scenario table of ``docs/lab.md``, between BEGIN and END."""
    from tether._catalogue import CATALOGUE

    out = [BEGIN, "", "| kind | cause | scenarios |", "|---|---|---|"]
    for kind, entry in CATALOGUE.items():
        for text, cause in zip(entry.causes, COVERAGE[kind], strict=True):
            short = text.split(": ")[0].replace("|", "\\|")
            where = ", ".join(cause.scenarios) if cause.scenarios else f"none: {cause.why_not}"
            out.append(f"| `{kind}` | {short} | {where} |")
    return "\n".join([*out, "", END])
