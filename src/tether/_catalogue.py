"""The catalogue: what each failure kind means, why it happens, how to fix it.

This is the single source for ``Failure.hint``, ``tether explain KIND`` and the
generated ``docs/failures.md``.  Each entry also fixes the kind's layer and
whether, by default, a later retry of the same request could succeed
(``retryable``) and whether the server may already have acted on the request
(``request_sent``).  The classifier may refine the last two for one failure
(a 503 is retryable, a 501 is not), never the layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from tether._kinds import Kind, Layer


@dataclass(frozen=True, slots=True)
class Entry:
    """One kind's page in the catalogue."""

    kind: Kind
    layer: Layer
    title: str
    """A few words, used as a heading: "Connection refused"."""
    meaning: str
    """One or two sentences: what happened, in plain words."""
    causes: tuple[str, ...]
    """The common causes, most likely first."""
    fixes: tuple[str, ...]
    """Numbered steps to take, most useful first; each an imperative sentence.
    Commands to run are written in backticks."""
    hint: str
    """One sentence: the first thing to do.  Becomes ``Failure.hint``."""
    retryable: bool
    request_sent: bool


CATALOGUE: dict[Kind, Entry] = {}


def _add(entry: Entry) -> None:
    CATALOGUE[entry.kind] = entry


# --- url ---------------------------------------------------------------------

_add(
    Entry(
        kind=Kind.URL_INVALID,
        layer=Layer.URL,
        title="Invalid URL",
        meaning="The URL cannot be used as written, so no connection was attempted.",
        causes=(
            "A typo or a missing part: no scheme, no host, or a stray space or newline in the host",
            (
                "An unsupported scheme: anything other than `http://` or `https://`, such as "
                "`htp://` or a bare `example.com/path`"
            ),
            "A port that is not a number or is outside 1 to 65535",
            (
                "The URL was assembled from an empty or unset variable, giving `https:///path` or "
                "`http://None/`"
            ),
            (
                "Credentials, path or query containing `@`, `:`, `/`, `#` or spaces that are not "
                "percent-encoded"
            ),
        ),
        fixes=(
            (
                "Print the exact URL with `repr(url)` to reveal hidden spaces, newlines or quotes, "
                "and check its scheme, host and port."
            ),
            (
                "Parse it with `urllib.parse.urlsplit(url)` and check `.scheme`, `.hostname` and "
                "`.port` (reading `.port` raises `ValueError` for a bad port)."
            ),
            (
                "Build URLs from parts instead of concatenating strings, and fail early when a "
                "configuration variable is empty."
            ),
            (
                "Percent-encode user names, passwords, path segments and query values with "
                "`urllib.parse.quote()` or `urllib.parse.urlencode()`."
            ),
        ),
        hint=(
            "Print the URL with `repr()` and check its scheme, host and port for typos, stray "
            "whitespace or an empty variable."
        ),
        retryable=False,
        request_sent=False,
    )
)


# --- proxy -------------------------------------------------------------------

_add(
    Entry(
        kind=Kind.PROXY_UNREACHABLE,
        layer=Layer.PROXY,
        title="Proxy unreachable",
        meaning=(
            "The client could not connect to the proxy it is configured to use, so the request "
            "never left for its destination. The proxy's name did not resolve, or its address "
            "refused or ignored the connection."
        ),
        causes=(
            (
                "The proxy service is down or restarting, or listens on another port (3128 and "
                "8080 are common)"
            ),
            (
                "A stale or wrong proxy setting in the environment (`HTTP_PROXY`, `HTTPS_PROXY`, "
                "`ALL_PROXY` or their lower-case forms) or in the client's configuration"
            ),
            "The proxy's name only resolves or routes on the office network or VPN",
            (
                "A container or CI job inherited the host's proxy settings, such as "
                "`http://localhost:3128`, which mean something else inside it"
            ),
            "A firewall between the client and the proxy",
        ),
        fixes=(
            (
                "List the proxy settings the client sees with `env | grep -i proxy` and check the "
                "proxy's host and port."
            ),
            (
                "Test the proxy itself, with HOST and PORT taken from the proxy URL: "
                "`nc -vz HOST PORT`, then `curl -v -x http://HOST:PORT https://NAME/`."
            ),
            (
                "Resolve the proxy's name with `getent hosts HOST`; if it only exists on the "
                "office network, connect to the VPN first."
            ),
            (
                "If this destination should not go through a proxy, add it to `NO_PROXY` (for "
                "example `NO_PROXY=localhost,127.0.0.1,.internal`) or unset the proxy variables; "
                "`trust_env=False` makes requests and httpx ignore them."
            ),
            (
                "On the proxy host, check the service with `systemctl status` and its listening "
                "port with `ss -ltnp`."
            ),
        ),
        hint=(
            "Check the proxy settings with `env | grep -i proxy` and test the proxy with "
            "`nc -vz HOST PORT`."
        ),
        retryable=True,
        request_sent=False,
    )
)

_add(
    Entry(
        kind=Kind.PROXY_AUTH_REQUIRED,
        layer=Layer.PROXY,
        title="Proxy authentication required",
        meaning=(
            "The proxy answered 407 Proxy Authentication Required: it wants credentials that the "
            "request did not carry, or it rejected the ones it did."
        ),
        causes=(
            "No proxy credentials are configured",
            "A wrong, expired or locked user name or password (often after a password change)",
            (
                "Special characters in the user name or password are not percent-encoded in the "
                "proxy URL, so they are parsed wrongly"
            ),
            (
                "The proxy only accepts NTLM or Negotiate (Kerberos), while the client sends Basic "
                "credentials"
            ),
            (
                "The credentials are in `HTTP_PROXY` but the request uses `HTTPS_PROXY`, or the "
                "reverse"
            ),
        ),
        fixes=(
            (
                "Put the credentials in the proxy URL, `http://USER:PASSWORD@HOST:PORT`, "
                'percent-encoding them with `urllib.parse.quote(value, safe="")`.'
            ),
            (
                "Test them outside your code with `curl -v -x http://HOST:PORT -U USER "
                "https://NAME/`, and read the `Proxy-Authenticate` header of the 407 to see which "
                "schemes the proxy accepts."
            ),
            (
                "Check that the variable for the URL's scheme carries the credentials: "
                "`env | grep -i proxy`."
            ),
            (
                "If the proxy offers only NTLM or Negotiate, point the client at a local "
                "authenticating relay (such as cntlm or px), or ask for an account or allow-list "
                "entry that works with Basic."
            ),
            "Do not retry with the same credentials: repeated failures can lock the account.",
        ),
        hint=(
            "Give the proxy valid credentials in its URL (`http://USER:PASSWORD@HOST:PORT`, "
            "percent-encoded) and test them with `curl -v -x`."
        ),
        retryable=False,
        request_sent=False,
    )
)

_add(
    Entry(
        kind=Kind.PROXY_REJECTED,
        layer=Layer.PROXY,
        title="Proxy rejected the request",
        meaning=(
            "The proxy was reached but refused to forward the request or to open a tunnel to the "
            "destination, answering with an error status such as 403, 502 or 503."
        ),
        causes=(
            (
                "The proxy's policy blocks the destination's host, port or category (403); many "
                "proxies allow tunnels to port 443 only"
            ),
            (
                "The proxy could not reach the destination itself: its own DNS lookup or "
                "connection failed (502 or 504)"
            ),
            "The proxy is overloaded or restarting (503)",
            "An internal destination that should bypass the proxy is missing from `NO_PROXY`",
        ),
        fixes=(
            (
                "Read the proxy's status and error page with `curl -v -x http://HOST:PORT "
                "https://NAME/`: proxies usually name the rule or the upstream error."
            ),
            (
                "For a 403, ask the proxy's administrators to allow the destination's host and "
                "port, or send internal hosts around the proxy with `NO_PROXY`."
            ),
            (
                "For a 502 or 504, check that the destination resolves and answers from the "
                "proxy's network: the failure lies between the proxy and the destination."
            ),
            (
                "For a 503, retry with backoff, and check the proxy's health and logs "
                "(`journalctl -u` for its service) if it persists."
            ),
        ),
        hint=(
            "Run `curl -v -x http://HOST:PORT https://NAME/` and read the proxy's reply: 403 is a "
            "policy block, 502 or 504 an upstream failure."
        ),
        retryable=True,
        request_sent=False,
    )
)


# --- dns ---------------------------------------------------------------------

_add(
    Entry(
        kind=Kind.DNS_NOT_FOUND,
        layer=Layer.DNS,
        title="Host name not found",
        meaning=(
            "DNS says the name does not exist (NXDOMAIN), so there is no address to connect to."
        ),
        causes=(
            (
                "A typo in the host name, or the name of another environment (staging instead of "
                "production)"
            ),
            (
                "The name only exists in an internal or split-horizon zone that this machine's "
                "resolver does not see (off the VPN, or inside a container with another resolver)"
            ),
            "The record was deleted, or the domain expired or lost its delegation",
            (
                "A short name that needs a search domain this machine lacks (`search` in "
                "/etc/resolv.conf)"
            ),
            (
                "A record created moments ago, while the earlier NXDOMAIN is still cached "
                "(negative caching lasts up to the zone's SOA minimum TTL)"
            ),
        ),
        fixes=(
            (
                "Check the name for typos, then query it: `dig NAME` (look for `status: NXDOMAIN`) "
                "and `getent hosts NAME` for what the system resolver returns."
            ),
            (
                "Compare with a public resolver and the authoritative servers: `dig @1.1.1.1 NAME` "
                "and `dig +trace NAME`; if only your resolver says NXDOMAIN, the name is internal "
                "or your resolver is wrong."
            ),
            (
                "Check which resolvers and search domains this machine uses (`resolvectl status` "
                "or /etc/resolv.conf), and connect to the VPN if the name is internal."
            ),
            "Use the fully qualified name instead of a short name that depends on search domains.",
            (
                "If the record is new, wait out the negative-cache TTL or flush the local cache "
                "(`resolvectl flush-caches`)."
            ),
        ),
        hint=(
            "Check the host name for typos, then run `dig NAME` and `getent hosts NAME` to see "
            "whether it exists for this machine's resolver."
        ),
        retryable=False,
        request_sent=False,
    )
)

_add(
    Entry(
        kind=Kind.DNS_NO_ADDRESS,
        layer=Layer.DNS,
        title="No address for host name",
        meaning=(
            "The name exists in DNS but has no address record of the kind requested (an A record "
            "for IPv4 or an AAAA record for IPv6), so there is nothing to connect to."
        ),
        causes=(
            (
                "The name only has other records (MX, TXT, SRV), such as a bare domain used for "
                "mail but not for the web"
            ),
            "Only an AAAA (IPv6) record exists and the client asks for IPv4 only, or the reverse",
            "The A or AAAA record was removed, or not yet created, while other records remain",
            "A CNAME points at a name that has no address records",
        ),
        fixes=(
            (
                "Query each record type: `dig NAME A`, `dig NAME AAAA` and `dig NAME CNAME`; "
                "`status: NOERROR` with an empty answer section confirms it."
            ),
            (
                "Check whether the client restricts the address family (for example "
                "`socket.AF_INET`, or a forced IPv4 setting) while the name only has AAAA records, "
                "or the reverse."
            ),
            (
                "Check that you use the right name: `www.NAME` or a service-specific name often "
                "has the address that the bare name lacks."
            ),
            "Ask the zone's owner to add the missing A or AAAA record.",
        ),
        hint=(
            "Run `dig NAME A` and `dig NAME AAAA`: the name exists but has no address of the "
            "family the client asked for."
        ),
        retryable=False,
        request_sent=False,
    )
)

_add(
    Entry(
        kind=Kind.DNS_UNAVAILABLE,
        layer=Layer.DNS,
        title="DNS temporarily unavailable",
        meaning=(
            "The lookup failed temporarily: the resolver answered with an error (SERVFAIL or "
            "REFUSED) or could not be reached, so it is not known whether the name exists."
        ),
        causes=(
            (
                "The resolver could not get an answer from the name's authoritative servers "
                "(SERVFAIL), because they are down, lame or misconfigured"
            ),
            "DNSSEC validation failed for the zone, which also shows as SERVFAIL",
            (
                "The resolver refuses queries from this client (REFUSED): the client is not on its "
                "allow-list, or it is not a recursive resolver at all"
            ),
            (
                "The configured resolver cannot be reached: a wrong address in /etc/resolv.conf, "
                "no network, a VPN that went down, or a local stub (systemd-resolved, dnsmasq) "
                "that is not running"
            ),
            (
                "A container or network namespace whose resolv.conf names an address that only "
                "works on the host"
            ),
        ),
        fixes=(
            (
                "See which resolvers are configured (`resolvectl status` or /etc/resolv.conf) and "
                "query each directly with `dig @HOST NAME`: the header shows `status: SERVFAIL` or "
                "`REFUSED`, or the query times out."
            ),
            (
                "Compare with another resolver, `dig @1.1.1.1 NAME`: if it answers, your resolver "
                "is at fault; if it fails too, the name's own DNS is broken (`dig +trace NAME`)."
            ),
            (
                "For SERVFAIL, run `dig +cd NAME` (checking disabled): if that answers, the zone's "
                "DNSSEC signatures are broken."
            ),
            (
                "If the resolver is a local stub, check it with `systemctl status "
                "systemd-resolved` and `journalctl -u systemd-resolved`."
            ),
            "Retry with backoff: SERVFAIL and an unreachable resolver are often transient.",
        ),
        hint=(
            "Query the configured resolver with `dig NAME` to see SERVFAIL, REFUSED or no answer, "
            "then compare with `dig @1.1.1.1 NAME`."
        ),
        retryable=True,
        request_sent=False,
    )
)

_add(
    Entry(
        kind=Kind.DNS_TIMEOUT,
        layer=Layer.DNS,
        title="DNS lookup timed out",
        meaning=(
            "The resolver did not answer the lookup in time, so the name could not be resolved and "
            "nothing was sent to the destination."
        ),
        causes=(
            (
                "The configured resolver is down or its address is wrong, and queries to it vanish "
                "without a reply"
            ),
            "A firewall drops DNS traffic (UDP or TCP port 53) to the resolver",
            (
                "Packet loss, an overloaded resolver, or a resolver itself waiting on slow "
                "authoritative servers"
            ),
            (
                "A dead first `nameserver` in /etc/resolv.conf: every lookup waits for it before "
                "trying the next one"
            ),
            (
                "A lookup budget shorter than the resolver library's retries (glibc waits "
                "`options timeout:5 attempts:2` per server by default)"
            ),
        ),
        fixes=(
            (
                "Query each `nameserver` from /etc/resolv.conf directly and time it: "
                "`dig @HOST NAME +tries=1 +time=2`."
            ),
            (
                "Check the path to the resolver: `ip route get ADDR` for its address, and "
                "`dig +tcp @HOST NAME` to test TCP as well as UDP."
            ),
            (
                "Remove or replace dead nameservers, put a reliable one first, and consider "
                "`options timeout:2 attempts:2 rotate` in /etc/resolv.conf."
            ),
            (
                "If a local stub resolver is used (127.0.0.53 or dnsmasq), check it with "
                "`systemctl status` and `journalctl -u` for its service."
            ),
            (
                "Retry after a short delay: a single lost UDP packet is enough to make one lookup "
                "time out."
            ),
        ),
        hint=(
            "Query each nameserver from /etc/resolv.conf with `dig @HOST NAME` to find the one "
            "that does not answer."
        ),
        retryable=True,
        request_sent=False,
    )
)


_add(
    Entry(
        kind=Kind.DNS_DNSSEC_BOGUS,
        layer=Layer.DNS,
        title="DNSSEC signature does not verify",
        meaning=(
            "The answer came, but its chain of trust is broken: a signature does not verify, or "
            "a zone's keys do not match the DS record (or trust anchor) above them."
        ),
        causes=(
            (
                "A record changed after the zone was signed, or a secondary serves data "
                "that does not match its signatures"
            ),
            (
                "A key rollover went wrong: the zone is signed with a new key while the parent "
                "still publishes the old key's DS"
            ),
            "A wrong trust anchor configured for the check, or a signature by a key the zone "
            "does not publish",
        ),
        fixes=(
            (
                "See the chain as a validator sees it: `delv @SERVER NAME TYPE +vtrace` or "
                "`dig +dnssec +multi NAME DNSKEY` and compare key tags with the parent's DS."
            ),
            "Re-sign the zone (`dnssec-signzone`, or let the signer re-sign) and reload it.",
            (
                "During a rollover, publish the new DS at the registrar before retiring the "
                "old key, and wait out the DS TTL."
            ),
            "Check the monitor's `dns.trust_anchor` against the zone's current key.",
        ),
        hint="Run `delv @SERVER NAME +vtrace` to see which signature or DS fails.",
        retryable=False,
        request_sent=False,
    )
)

_add(
    Entry(
        kind=Kind.DNS_DNSSEC_EXPIRED,
        layer=Layer.DNS,
        title="DNSSEC signature expired",
        meaning=(
            "A signature on the way from the trust anchor to the answer would verify, but it is "
            "outside its validity window: expired, or not valid yet."
        ),
        causes=(
            (
                "The zone is no longer re-signed: the signer stopped, or a zone file is "
                "served as it was signed weeks ago"
            ),
            "A signature validity period shorter than the time between re-signings",
            "A wrong clock, on the signer (inception in the future) or on this machine",
        ),
        fixes=(
            (
                "Look at the RRSIG's dates: `dig +dnssec NAME TYPE` shows expiration and "
                "inception (YYYYMMDDHHMMSS)."
            ),
            "Re-sign the zone now, then fix whatever should re-sign it on schedule.",
            "Check the clocks of the signer and this machine (`timedatectl`).",
        ),
        hint="Re-sign the zone and check that its signer runs on schedule.",
        retryable=False,
        request_sent=False,
    )
)

_add(
    Entry(
        kind=Kind.DNS_DNSSEC_INSECURE,
        layer=Layer.DNS,
        title="DNSSEC chain of trust missing",
        meaning=(
            "The check requires a validated answer, and there is nothing to validate: the "
            "answer is unsigned, or a signed zone has no DS in its parent, so no chain leads "
            "from the trust anchor to it."
        ),
        causes=(
            "The zone is not signed, or its signatures were dropped on the way (a server "
            "that strips RRSIGs)",
            ("The zone is signed but its DS was never published at the registrar (or was removed)"),
            (
                "The answer has no records (NXDOMAIN or NODATA): denial-of-existence proofs "
                "are not validated"
            ),
            "The zone is outside the configured trust anchor's zone",
        ),
        fixes=(
            "Sign the zone, and check with `dig +dnssec NAME TYPE` that answers carry RRSIGs.",
            (
                "Publish the zone's DS at the registrar (`dnssec-dsfromkey` prints it) and "
                "check it with `dig DS NAME @PARENT-SERVER`."
            ),
            "Set `dns.trust_anchor` to a zone above the name, or the root's default.",
        ),
        hint="Check with `dig DS NAME` that the parent publishes the zone's DS.",
        retryable=False,
        request_sent=False,
    )
)


# --- connect -----------------------------------------------------------------

_add(
    Entry(
        kind=Kind.CONNECT_REFUSED,
        layer=Layer.CONNECT,
        title="Connection refused",
        meaning=(
            "The host answered the connection attempt with a refusal (a TCP reset): it is "
            "reachable, but nothing accepts connections on that port."
        ),
        causes=(
            "Nothing is listening on that port: the service is down, still starting, or crashed",
            "The port is wrong",
            "The service listens on another interface only (127.0.0.1 vs 0.0.0.0, or IPv4 vs IPv6)",
            "A container's or VM's port is not published or forwarded to the host",
            "A firewall rejects (REJECT with tcp-reset) instead of dropping",
        ),
        fixes=(
            (
                "Check that the service listens on the port: run `ss -ltnp` on the server and look "
                "for `0.0.0.0:PORT` or `[::]:PORT`, not only `127.0.0.1:PORT`."
            ),
            (
                "Test from the client with `nc -vz HOST PORT`, and compare the port with the one "
                "in the URL."
            ),
            (
                "Check the service's state and logs: `systemctl status` and `journalctl -u` for "
                "the service, or `docker ps` and `docker logs` for a container."
            ),
            (
                "If it listens on loopback or one address family only, bind it to `0.0.0.0` or "
                "`::` (or connect to the address it uses); for a container, publish the port with "
                "`docker run -p PORT:PORT`."
            ),
            "Look for a REJECT rule on that port: `nft list ruleset` or `iptables -S`.",
            "If the service is restarting, retry with backoff.",
        ),
        hint=(
            "Check that the service is running and listening on that port: `ss -ltnp` on the "
            "server, `nc -vz HOST PORT` from the client."
        ),
        retryable=True,
        request_sent=False,
    )
)

_add(
    Entry(
        kind=Kind.CONNECT_TIMEOUT,
        layer=Layer.CONNECT,
        title="Connection timed out",
        meaning=(
            "The TCP connection was not established within the connect timeout: the host neither "
            "accepted nor refused it."
        ),
        causes=(
            (
                "A firewall or cloud security group silently drops the connection attempt (DROP "
                "rather than REJECT)"
            ),
            "The host is down, or the address is wrong or no longer in use (a stale DNS record)",
            (
                "The server is overloaded and its accept backlog is full, so the kernel drops new "
                "connection attempts"
            ),
            (
                "The name has an IPv6 address but IPv6 does not work here, and the client spends "
                "its whole timeout on it before trying IPv4"
            ),
            "Packet loss or a routing or NAT problem on the path",
            "A connect timeout too short for a distant or congested network",
        ),
        fixes=(
            (
                "Test the port from the same machine with `nc -vz -w 5 HOST PORT`, then from "
                "another network to tell a local firewall from a remote one."
            ),
            (
                "Check firewalls, security groups and network ACLs on both sides for that port: a "
                "DROP rule looks exactly like this."
            ),
            (
                "Check which addresses the name has and how they are routed: `getent ahosts NAME` "
                "and `ip route get ADDR`; compare `curl -4 -v` with `curl -6 -v` to spot broken "
                "IPv6."
            ),
            (
                "On the server, check load and the listen queue: for a listening socket, `ss -ltn` "
                "shows the queued connections (Recv-Q) against the backlog (Send-Q)."
            ),
            (
                "Retry with backoff, and keep the connect timeout at a few seconds rather than a "
                "fraction of one."
            ),
        ),
        hint=(
            "Run `nc -vz -w 5 HOST PORT`; if it hangs too, look for a firewall that drops packets "
            "or a host that is down."
        ),
        retryable=True,
        request_sent=False,
    )
)

_add(
    Entry(
        kind=Kind.CONNECT_UNREACHABLE,
        layer=Layer.CONNECT,
        title="Host or network unreachable",
        meaning=(
            "The connection could not be attempted: there is no route to the host or its network, "
            "or a router or firewall on the path reported it unreachable."
        ),
        causes=(
            (
                "No route to the destination: no default route, a network interface or VPN that is "
                "down, or an address that is only reachable from another network"
            ),
            "The host is offline and the router on its subnet reports it unreachable",
            (
                "A firewall rejects the connection with an ICMP host-unreachable, "
                "network-unreachable or administratively-prohibited message"
            ),
            "An IPv6 address is used on a machine without IPv6 connectivity",
            (
                "A local `unreachable`, `prohibit` or `blackhole` route, as set by policy routing "
                "or a VPN kill switch"
            ),
        ),
        fixes=(
            (
                "Ask the kernel how it would route there: `ip route get ADDR`; an error here means "
                "this machine has no route."
            ),
            (
                "Check the interfaces and routes with `ip addr` and `ip route`, and bring up the "
                "network or VPN that serves that address."
            ),
            (
                "Trace the path with `tracepath ADDR` (or `traceroute ADDR`) to see which hop "
                "reports the error."
            ),
            (
                "If the address is IPv6 and IPv6 does not work here, use IPv4 (`curl -4 -v`) or "
                "fix the IPv6 setup."
            ),
            (
                "Check local and remote firewall rules for a REJECT with an ICMP unreachable or "
                "prohibited message."
            ),
        ),
        hint=(
            "Run `ip route get ADDR` for the destination address to see whether this machine has a "
            "route to it."
        ),
        retryable=True,
        request_sent=False,
    )
)

_add(
    Entry(
        kind=Kind.CONNECT_RESOURCE_EXHAUSTED,
        layer=Layer.CONNECT,
        title="Out of resources for a new connection",
        meaning=(
            "This machine, or the client itself, ran out of something a new connection needs: a "
            "file descriptor, a local port, socket buffers, or a free connection in the client's "
            "pool. The request was not sent: the server was never involved."
        ),
        causes=(
            (
                'The process reached its open-file limit (EMFILE, "Too many open files"): a low '
                "`ulimit -n`, or sockets, responses or files that are opened and never closed"
            ),
            (
                "The client's own connection pool is full and no connection came free in time "
                "(httpx `PoolTimeout`, urllib3 `EmptyPoolError`): more concurrent requests than "
                "the pool's size, or responses that are never read or closed"
            ),
            (
                'No free local port (EADDRNOTAVAIL, "Cannot assign requested address"): many '
                "short-lived connections to one server, each leaving its port in TIME_WAIT, used "
                "up the ephemeral port range"
            ),
            "The system-wide file table is full (ENFILE): some process on the machine leaks files",
            (
                "The kernel ran out of socket buffer memory (ENOBUFS), under heavy load or with "
                "too many connections open"
            ),
        ),
        fixes=(
            (
                "Compare the process's open files with its limit: `ulimit -n` (or the `Max open "
                "files` line of `/proc/PID/limits`) against `ls /proc/PID/fd | wc -l`; "
                "`cat /proc/sys/fs/file-nr` shows the system's table."
            ),
            (
                "Count connections by state with `ss -s` and `ss -tan state time-wait | wc -l`, "
                "and see the port range with `sysctl net.ipv4.ip_local_port_range`: thousands in "
                "TIME-WAIT to one server means local ports ran out."
            ),
            (
                "Reuse connections instead of opening one per request: one `requests.Session`, "
                "`httpx.Client` or `aiohttp.ClientSession` for many calls, and close responses "
                "and sessions (`with ...:`) so their sockets are freed."
            ),
            (
                "Size the client's pool for its concurrency, or bound the concurrency to the "
                "pool: requests/urllib3 `pool_maxsize` and `pool_block`, httpx "
                "`Limits(max_connections=...)` with `Timeout(pool=...)`, aiohttp "
                "`TCPConnector(limit=...)`."
            ),
            (
                "Raise a limit only for a real need, not to hide a leak: `ulimit -n` or systemd's "
                "`LimitNOFILE=`, a wider `net.ipv4.ip_local_port_range`."
            ),
            (
                "Retry after a backoff: resources come back as connections close, and nothing "
                "was sent, so a retry is safe for any method."
            ),
        ),
        hint=(
            "Compare `ulimit -n` with `ls /proc/PID/fd | wc -l`, and run `ss -s` to count "
            "connections by state: a leak of sockets or a pool too small for the concurrency is "
            "the usual cause."
        ),
        retryable=True,
        request_sent=False,
    )
)


# --- tls ---------------------------------------------------------------------

_add(
    Entry(
        kind=Kind.TLS_EXPIRED,
        layer=Layer.TLS,
        title="Certificate expired or not yet valid",
        meaning=(
            "A certificate presented by the server is outside its validity period: it has expired, "
            "or it is not valid yet. Either the certificate really is out of date or this "
            "machine's clock is wrong."
        ),
        causes=(
            (
                "The server's certificate expired and was not renewed, or it was renewed but the "
                "server was never reloaded to use it"
            ),
            (
                "This machine's clock is wrong: far behind, a new certificate looks not yet valid; "
                "far ahead, a valid one looks expired (common on VMs and containers restored from "
                "snapshots, and on devices without NTP)"
            ),
            (
                "An intermediate certificate served in the chain has expired, although the "
                "server's own certificate has not"
            ),
            (
                "An outdated CA bundle on the client that lacks a newer root, so the only chain it "
                "can build runs through an expired one"
            ),
            (
                "One server behind a load balancer, or one virtual host, still serves an old "
                "certificate"
            ),
        ),
        fixes=(
            (
                "Check this machine's clock first with `timedatectl` (and `date -u`), and turn on "
                "time synchronization with `timedatectl set-ntp true` if it is off."
            ),
            (
                "Look at the dates the server actually sends: `openssl s_client -connect HOST:PORT "
                "-servername NAME </dev/null | openssl x509 -noout -dates`."
            ),
            (
                "Check every certificate in the served chain with "
                "`openssl s_client -showcerts -connect HOST:PORT -servername NAME`; an expired "
                "intermediate must be replaced on the server."
            ),
            (
                "On the server, renew the certificate and reload the service that serves it (for "
                "example `certbot renew`, then `systemctl reload nginx`), on every node behind the "
                "load balancer."
            ),
            (
                "Update the client's CA bundles (`pip install -U certifi` and the operating "
                "system's `ca-certificates` package)."
            ),
            (
                "Do not switch certificate verification off: that hides the problem and lets "
                "anyone on the path impersonate the server."
            ),
        ),
        hint=(
            "Check this machine's clock with `timedatectl`, then the certificate's dates with "
            "`openssl s_client -connect HOST:PORT -servername NAME </dev/null | openssl x509 "
            "-noout -dates`."
        ),  # for a certificate not yet valid: the clock first; see EXPIRED_HINT
        retryable=False,
        request_sent=False,
    )
)

_add(
    Entry(
        kind=Kind.TLS_HOSTNAME_MISMATCH,
        layer=Layer.TLS,
        title="Certificate name mismatch",
        meaning=(
            "The server presented a certificate that is not valid for the host name or IP address "
            "in the URL, so its identity could not be confirmed."
        ),
        causes=(
            (
                "The URL uses a name the certificate does not list in its Subject Alternative "
                "Names, such as the bare domain instead of `www.`, an internal alias or a CNAME "
                "target"
            ),
            "The URL uses an IP address while the certificate lists only names, or the reverse",
            (
                "Several sites share the address and the server sent its default certificate, "
                "because no virtual host matches the name the client sent (SNI)"
            ),
            (
                "A wildcard covers one label only: `*.example.com` matches `api.example.com` but "
                "not `example.com` or `a.b.example.com`"
            ),
            (
                "The name resolves to the wrong server: a stale record, an `/etc/hosts` entry, or "
                "an intercepting proxy or captive portal"
            ),
        ),
        fixes=(
            (
                "List the names in the served certificate: `openssl s_client -connect HOST:PORT "
                "-servername NAME </dev/null | openssl x509 -noout -subject -ext subjectAltName`."
            ),
            (
                "Use a host name that the certificate lists, or have the certificate reissued with "
                "the name you use as a Subject Alternative Name (the Common Name alone is not "
                "checked)."
            ),
            (
                "Check where the name resolves with `getent hosts NAME` and look for an "
                "`/etc/hosts` entry, to make sure you reach the intended server."
            ),
            "On the server, configure a certificate for this name in the matching virtual host.",
            (
                "To reach a specific address, keep the name in the URL and pin the address instead "
                "(`curl --resolve NAME:PORT:ADDR`); do not switch hostname checking off."
            ),
        ),
        hint=(
            "Run `openssl s_client -connect HOST:PORT -servername NAME </dev/null | openssl x509 "
            "-noout -ext subjectAltName` and use a name the certificate lists."
        ),
        retryable=False,
        request_sent=False,
    )
)

_add(
    Entry(
        kind=Kind.TLS_SELF_SIGNED,
        layer=Layer.TLS,
        title="Self-signed certificate",
        meaning=(
            "The server presented a self-signed certificate, one signed by itself rather than by a "
            "certificate authority, which this client does not trust, so its identity could not be "
            "verified."
        ),
        causes=(
            "A development, test or internal server using a certificate it generated itself",
            "An appliance's factory certificate (router, NAS, printer, management interface)",
            (
                "A server that falls back to a default certificate (such as Debian's "
                "`ssl-cert-snakeoil`) because the right one is not configured for this name"
            ),
            (
                "A certificate meant to be trusted that is in the system store or the browser but "
                "not in the client's CA bundle (requests and httpx use `certifi`, not the system "
                "store)"
            ),
        ),
        fixes=(
            (
                "Inspect the chain with `openssl s_client -connect HOST:PORT -servername NAME "
                "-showcerts </dev/null` and see whose certificate is self-signed (issuer equals "
                "subject)."
            ),
            (
                "For a public service, install a certificate from a public CA (for example Let's "
                "Encrypt) on the server."
            ),
            (
                "For an internal service you trust, obtain its CA certificate over a trusted "
                'channel and give it to the client: `verify="/path/ca.pem"` or '
                "`REQUESTS_CA_BUNDLE` in requests, `SSL_CERT_FILE` for httpx and OpenSSL-based "
                'clients, or an `ssl.create_default_context(cafile="/path/ca.pem")` context.'
            ),
            (
                "If the certificate is already in the system store (added with "
                "`update-ca-certificates`), use the `truststore` package so that the client uses "
                "that store instead of `certifi`."
            ),
            (
                "Do not switch certificate verification off: that hides the problem and lets "
                "anyone on the path impersonate the server."
            ),
        ),
        hint=(
            "Install a certificate from a trusted CA on the server, or add the server's CA to the "
            'client with `REQUESTS_CA_BUNDLE`, `SSL_CERT_FILE` or `verify="/path/ca.pem"`.'
        ),
        retryable=False,
        request_sent=False,
    )
)

_add(
    Entry(
        kind=Kind.TLS_UNTRUSTED,
        layer=Layer.TLS,
        title="Certificate not trusted",
        meaning=(
            "The server's certificate could not be linked to a certificate authority that this "
            "client trusts: its issuer is unknown here, or the server did not send the "
            "intermediate certificates needed to reach a trusted root."
        ),
        causes=(
            (
                "The server sends only its own certificate without the intermediate certificate; "
                "browsers often hide this by fetching or caching intermediates, Python and curl do "
                "not"
            ),
            (
                "The certificate is issued by a private or corporate CA that is not in the "
                "client's CA bundle"
            ),
            (
                "A TLS-inspecting proxy, firewall or antivirus re-signs traffic with its own root, "
                "which is in the system store but not in the client's bundle (requests and httpx "
                "use `certifi`)"
            ),
            "An outdated CA bundle (`certifi` or `ca-certificates`) that lacks a newer root",
            (
                "`REQUESTS_CA_BUNDLE`, `SSL_CERT_FILE` or `verify=` point at a file containing "
                "only a private CA, which replaces the public roots instead of adding to them"
            ),
        ),
        fixes=(
            (
                "See what the server sends: `openssl s_client -connect HOST:PORT -servername NAME "
                "-showcerts </dev/null`; a single certificate and `verify "
                "error:num=20` or `num=21` mean the intermediate is missing."
            ),
            (
                "Fix a missing intermediate on the server: it must send the full chain, its own "
                "certificate followed by the intermediates (for nginx, `ssl_certificate` pointing "
                "at `fullchain.pem`, not `cert.pem`)."
            ),
            (
                'For a private CA, add its root to the client\'s trust: `verify="/path/ca.pem"` or '
                "`REQUESTS_CA_BUNDLE` in requests, `SSL_CERT_FILE` for httpx and OpenSSL-based "
                'clients, or an `ssl.create_default_context(cafile="/path/ca.pem")` context; '
                "include the public roots in that file if other hosts must still verify."
            ),
            (
                "To use the system store, where corporate roots are usually installed, add the CA "
                "with `update-ca-certificates` and use the `truststore` package."
            ),
            (
                "Update the client's bundles: `pip install -U certifi` and the operating system's "
                "`ca-certificates` package."
            ),
            (
                "Do not switch certificate verification off: that hides the problem and lets "
                "anyone on the path impersonate the server."
            ),
        ),
        hint=(
            "Check that the server sends its full chain (`openssl s_client -connect HOST:PORT "
            "-servername NAME -showcerts`); for a private CA, add it with `REQUESTS_CA_BUNDLE`, "
            '`SSL_CERT_FILE` or `verify="/path/ca.pem"`.'
        ),
        retryable=False,
        request_sent=False,
    )
)

_add(
    Entry(
        kind=Kind.TLS_PROTOCOL,
        layer=Layer.TLS,
        title="TLS handshake failed",
        meaning=(
            "The TLS handshake failed because the two sides could not agree on how to talk: no "
            "common protocol version or cipher, or the other side does not speak TLS on that port."
        ),
        causes=(
            (
                "TLS was sent to a port that serves plain HTTP (an `https://` URL with port 80 or "
                '8080), which OpenSSL reports as "wrong version number" (OpenSSL 3.2 and later may '
                'say "record layer failure" or "packet length too long")'
            ),
            (
                "An old server that only supports TLS 1.0 or 1.1 or weak algorithms, which current "
                'OpenSSL refuses ("protocol version", "unsupported protocol", "legacy sigalg '
                'disallowed")'
            ),
            (
                "An old certificate with a key or signature too weak for the client's security "
                'level, such as 1024-bit RSA or SHA-1 ("EE certificate key too weak", "ca md too '
                'weak")'
            ),
            (
                "No common cipher suite or signature algorithm, often after hardening on one side "
                "(system crypto policies or a raised OpenSSL security level)"
            ),
            (
                "The server requires a client certificate (mutual TLS) and none was sent, or it "
                "was rejected"
            ),
            (
                "A proxy, firewall or load balancer that interferes with the handshake or cuts it "
                "off (an unexpected EOF)"
            ),
        ),
        fixes=(
            (
                "Check what the port speaks: `curl -v http://HOST:PORT/` answering in plain HTTP "
                "means the URL should use `http://` or the TLS port; "
                "`openssl s_client -connect HOST:PORT -servername NAME` shows the handshake."
            ),
            (
                "Probe the versions: add `-tls1_2` or `-tls1_3` to the `openssl s_client` command; "
                "if the server only completes older handshakes, it must be upgraded."
            ),
            (
                "Upgrade or reconfigure the server to offer TLS 1.2 or 1.3 with current ciphers; "
                "`nmap --script ssl-enum-ciphers -p PORT HOST` lists what it offers."
            ),
            (
                'If OpenSSL says "key too weak" or "md too weak", the certificate itself must be '
                "reissued: `openssl s_client -connect HOST:PORT -servername NAME </dev/null | "
                "openssl x509 -noout -text` shows `Public-Key: (1024 bit)` or "
                "`sha1WithRSAEncryption`; reissue it with an RSA key of 2048 bits or more (or "
                "ECDSA) signed with SHA-256."
            ),
            (
                "If the server asks for a client certificate (`openssl s_client` prints "
                '"Acceptable client certificate CA names"), pass one: '
                '`cert=("client.pem", "client.key")` in requests, or `load_cert_chain()` on the '
                "SSL context."
            ),
            (
                "Do not weaken the client (a lower minimum version or security level) except as a "
                "documented exception for a legacy host you control, and never switch certificate "
                "verification off."
            ),
        ),
        hint=(
            "Run `openssl s_client -connect HOST:PORT -servername NAME` to see whether the port "
            "speaks TLS and which protocol version it accepts."
        ),
        retryable=False,
        request_sent=False,
    )
)

_add(
    Entry(
        kind=Kind.TLS_TIMEOUT,
        layer=Layer.TLS,
        title="TLS handshake timed out",
        meaning=(
            "The TCP connection was established, but the TLS handshake did not finish within the "
            "timeout."
        ),
        causes=(
            (
                "The port speaks plain HTTP or another protocol and waits silently for a request, "
                "never answering the TLS greeting"
            ),
            (
                "The server or a TLS-terminating load balancer is overloaded: handshakes cost CPU, "
                "and a full worker pool leaves them waiting"
            ),
            (
                "A path MTU problem: large packets such as the server's certificate chain are "
                "dropped while the small TCP handshake gets through"
            ),
            (
                "A firewall or proxy that inspects TLS stalls or blocks the handshake for this "
                "destination"
            ),
            (
                "A timeout too short for a slow or distant link: the handshake needs more round "
                "trips after the connection is up"
            ),
        ),
        fixes=(
            (
                "Time the handshake by hand: `curl -v -o /dev/null -w '%{time_connect} "
                "%{time_appconnect}' https://NAME:PORT/`, or `openssl s_client -connect HOST:PORT "
                "-servername NAME`."
            ),
            (
                "Check that the port speaks TLS: if `curl -v http://HOST:PORT/` gets an HTTP "
                "answer, use `http://` or the TLS port."
            ),
            (
                "Look for an MTU black hole: `tracepath HOST` shows the path MTU; if a lower "
                "interface MTU or MSS clamping fixes it, fix the ICMP filtering on the path."
            ),
            (
                "Check the CPU load, connection counts and worker limits of the server or load "
                "balancer that terminates TLS."
            ),
            "Retry with backoff, and allow for the handshake's extra round trips in the timeout.",
        ),
        hint=(
            "Run `openssl s_client -connect HOST:PORT -servername NAME` to see whether the "
            "handshake stalls, and check that the port really speaks TLS."
        ),
        retryable=True,
        request_sent=False,
    )
)


# --- request -----------------------------------------------------------------

_add(
    Entry(
        kind=Kind.CONNECTION_RESET,
        layer=Layer.REQUEST,
        title="Connection reset",
        meaning=(
            "The server, or something between, abruptly reset the connection (a TCP reset) while "
            "the request was being sent or the response awaited. The server may already have "
            "received and acted on the request."
        ),
        causes=(
            (
                "The server process crashed, was restarted, or had its worker killed while "
                "handling the request"
            ),
            (
                "A pooled connection had been idle too long and was already dropped by the server, "
                "a load balancer or a NAT gateway"
            ),
            "A firewall, intrusion detection system or proxy killed the connection",
            (
                "The server rejected the request early (too large, bad protocol) and closed with "
                "unread data, which makes the kernel send a reset"
            ),
            "Plain HTTP was sent to a TLS port, or the port runs another protocol",
        ),
        fixes=(
            (
                "Retry only idempotent requests (GET, PUT, DELETE, or any request carrying an "
                "idempotency key): the server may have acted on the first one."
            ),
            (
                "Check the server's and the load balancer's logs at that moment (`journalctl -u` "
                "for the service) for crashes, restarts or rejected requests."
            ),
            (
                "If resets hit reused connections after idle periods, make the client's pool idle "
                "timeout shorter than the keep-alive timeouts of the server and load balancer."
            ),
            "Reproduce with `curl -v` to see how far the exchange gets before the reset.",
            (
                "Check for limits that end connections: request size limits, idle timeouts in "
                "proxies and firewalls, a full connection-tracking table (`conntrack -S`)."
            ),
        ),
        hint=(
            "Check the server's logs at that moment for a crash or a rejected request, and retry "
            "only if the request is idempotent."
        ),
        retryable=True,
        request_sent=True,
    )
)

_add(
    Entry(
        kind=Kind.CONNECTION_CLOSED,
        layer=Layer.REQUEST,
        title="Connection closed without response",
        meaning=(
            "The server closed the connection without sending any response (an empty reply). It "
            "may or may not have processed the request."
        ),
        causes=(
            (
                "A keep-alive race: the client reused a pooled connection just as the server "
                "closed it for being idle"
            ),
            "The server crashed, timed out or was restarted while handling the request",
            (
                "A proxy or load balancer closed the connection: its own timeout, no healthy "
                "backend, or a request it would not pass on"
            ),
            (
                "The wrong protocol on the port: plain HTTP to a TLS port, or HTTP to a service "
                "that speaks something else"
            ),
            (
                "The server refused the request (headers too large, bad framing) by closing "
                "instead of answering with an error status"
            ),
        ),
        fixes=(
            (
                "Retry an idempotent request once on a new connection: keep-alive races go away on "
                "retry."
            ),
            (
                "Make the client's keep-alive idle timeout shorter than the server's (such as "
                "nginx `keepalive_timeout`) and the load balancer's idle timeout."
            ),
            (
                'Reproduce with `curl -v`: "Empty reply from server" confirms it; compare '
                "`http://` with `https://` to rule out a protocol mismatch."
            ),
            (
                "Check the server's and proxy's logs (`journalctl -u` for the service) for "
                "crashes, worker timeouts or restarts at that moment."
            ),
        ),
        hint=(
            "Retry an idempotent request on a new connection, and if it keeps happening check the "
            "server's logs for crashes or timeouts."
        ),
        retryable=True,
        request_sent=True,
    )
)

_add(
    Entry(
        kind=Kind.CONNECTION_BROKEN_PIPE,
        layer=Layer.REQUEST,
        title="Broken pipe",
        meaning=(
            "The client was still sending the request when the server closed the connection, so "
            "the rest could not be written. The server may have received part or all of it."
        ),
        causes=(
            (
                "The server rejected the request before reading the whole body (too large, "
                "authentication required, wrong endpoint) and closed the connection"
            ),
            "A server or proxy timeout during a slow or large upload",
            "The client wrote to a pooled connection that the server had already closed",
            "The server process crashed or restarted during the upload",
        ),
        fixes=(
            (
                "Look for an early rejection: `curl -v --data-binary @FILE https://NAME/PATH` "
                "shows whether the server answers 413 or 401 before the body is sent."
            ),
            (
                "Check the upload size limits of the server and any proxy (such as nginx "
                "`client_max_body_size`) and their body read timeouts."
            ),
            "Check the server's and proxy's logs at that moment.",
            (
                "Where the client supports it, send `Expect: 100-continue` with large uploads so "
                "the server can refuse before the body is sent."
            ),
            (
                "Retry only idempotent requests, on a new connection; for very large bodies use "
                "chunked or resumable uploads."
            ),
        ),
        hint=(
            "Check with `curl -v` whether the server rejects the upload early (size limit, "
            "authentication), and look at its logs for that moment."
        ),
        retryable=True,
        request_sent=True,
    )
)

_add(
    Entry(
        kind=Kind.CONNECTION_ABORTED,
        layer=Layer.REQUEST,
        title="Connection aborted",
        meaning=(
            "The established connection was aborted on the client's side, by its network stack or "
            "by software on the client machine, rather than closed by the server. The request may "
            "have reached the server."
        ),
        causes=(
            (
                "Local security software (antivirus, endpoint protection, a host firewall or VPN "
                "client) cut the connection; common on Windows (WSAECONNABORTED, 10053)"
            ),
            (
                "The network stack gave up after data went unacknowledged too long, for example "
                "after a Wi-Fi drop, a VPN reconnect or the machine sleeping"
            ),
            (
                "The local interface or address went away (switching networks, a DHCP change, a "
                "VPN tunnel restarting)"
            ),
            "The application closed the socket itself, from another thread or a cancelled task",
        ),
        fixes=(
            (
                "Retry idempotent requests on a new connection: an abort after a network change "
                "usually clears."
            ),
            (
                "Check the logs of local security software and the VPN client, and repeat the "
                "request with `curl -v` from the same machine."
            ),
            (
                "Check whether the network changed at that moment: `journalctl -u NetworkManager` "
                "on Linux, the event log on Windows."
            ),
            (
                "If it happens under load, look for code that closes or cancels shared sessions or "
                "sockets while requests are in flight."
            ),
        ),
        hint=(
            "Retry an idempotent request, and check the client machine for security software, VPN "
            "or network changes at that moment."
        ),
        retryable=True,
        request_sent=True,
    )
)

_add(
    Entry(
        kind=Kind.WRITE_TIMEOUT,
        layer=Layer.REQUEST,
        title="Write timed out",
        meaning=(
            "The connection was up, but the server stopped taking the request: sending it "
            "(usually a large body) made no progress for longer than the timeout, so it was "
            "never all sent. The server has not answered; it may have acted on what it read."
        ),
        causes=(
            (
                "The server or a proxy decided to reject the upload (too large, not authorised) "
                "and stopped reading it, without answering or closing the connection"
            ),
            (
                "The server is stuck or overloaded: every worker busy, so nobody reads the "
                "requests that have arrived"
            ),
            "A proxy that buffers uploads is out of space or waiting on a slow backend",
            (
                "Packets are lost on the way to the server, for example an MTU black hole that "
                "drops the large packets of the upload"
            ),
        ),
        fixes=(
            (
                "See how far an upload gets: `curl -v --data-binary @FILE https://NAME/PATH` shows "
                "whether the server answers early (413, 401) or stops taking data."
            ),
            (
                "Check the server's and proxy's logs and load at that moment, and their upload "
                "limits and body timeouts (such as nginx `client_max_body_size` and "
                "`client_body_timeout`)."
            ),
            (
                "Where the client supports it, send `Expect: 100-continue` with large uploads so "
                "the server can refuse before the body is sent."
            ),
            (
                "Raise the write timeout only for a slow link (httpx: `write=`; requests and "
                "urllib3 time each send with the connect timeout), and keep a total deadline on "
                "the call."
            ),
            (
                "Retry only idempotent requests, on a new connection; for very large bodies use "
                "chunked or resumable uploads."
            ),
        ),
        hint=(
            "Check whether the server is overloaded or silently refuses the upload (size limit, "
            "authentication): `curl -v` with the same body shows how far it gets."
        ),
        retryable=True,
        request_sent=True,
    )
)

_add(
    Entry(
        kind=Kind.UNKNOWN,
        layer=Layer.REQUEST,
        title="Unclassified failure",
        meaning=(
            "tether could not classify this failure as any known kind. The original exception is "
            "kept in `Failure.cause`."
        ),
        causes=(
            (
                "An exception type or error code tether does not know yet, for example from a new "
                "library version or an unusual platform"
            ),
            (
                "A failure outside the network path, such as a bug in a hook, adapter or custom "
                "transport"
            ),
            (
                "An error wrapped in a way that hides its root cause (re-raised without `from`, or "
                "turned into a string)"
            ),
        ),
        fixes=(
            (
                "Inspect the original exception and its chain: "
                "`traceback.print_exception(failure.cause)`."
            ),
            "Reproduce the request with `curl -v` to see which step fails.",
            (
                "Report it to tether with the exception's type and message, the HTTP library and "
                "its version, the Python version and the platform, so that a kind can be added."
            ),
            "Until then, treat the request as possibly sent: retry only if it is idempotent.",
        ),
        hint=(
            "Inspect `Failure.cause` for the original exception and report it to tether so that it "
            "can be classified."
        ),
        retryable=False,
        request_sent=True,
    )
)


# --- response ----------------------------------------------------------------

_add(
    Entry(
        kind=Kind.READ_TIMEOUT,
        layer=Layer.RESPONSE,
        title="Read timed out",
        meaning=(
            "The connection was up and the request sent, but the server sent nothing for longer "
            "than the read timeout. It may still be working on the request."
        ),
        causes=(
            (
                "The server is slow to produce the response: a long query, a lock, a full worker "
                "pool, or a slow upstream service"
            ),
            "The server or a proxy is stuck and will never answer",
            (
                "The read timeout is shorter than this endpoint's normal response time (reports, "
                "exports, processing a large upload)"
            ),
            (
                "Packets are lost on the path, for example an MTU black hole that drops the large "
                "packets of the response"
            ),
            "A long-polling or streaming endpoint that is legitimately silent between events",
        ),
        fixes=(
            (
                "Measure how long the endpoint takes: `curl -v -o /dev/null -w "
                "'%{time_starttransfer}' https://NAME/PATH`."
            ),
            "Check the server's and proxy's logs, slow-query logs and load at that moment.",
            (
                "Raise the read timeout for this endpoint only if its response time is legitimate, "
                "and keep a total deadline on the call."
            ),
            (
                "Retry only idempotent requests, with backoff: the server may have completed the "
                "first attempt."
            ),
            (
                "For long jobs, use an asynchronous API (submit the job, then poll for the result) "
                "instead of one long request."
            ),
        ),
        hint=(
            "Check whether the server is slow or stuck at that moment, and raise the read timeout "
            "only if the response time is legitimate."
        ),
        retryable=True,
        request_sent=True,
    )
)

_add(
    Entry(
        kind=Kind.RESPONSE_TRUNCATED,
        layer=Layer.RESPONSE,
        title="Response truncated",
        meaning=(
            "The response ended before all of its body arrived: the connection closed before the "
            "length announced in Content-Length was reached, or a chunked response stopped without "
            "its final chunk."
        ),
        causes=(
            (
                "The server crashed, was restarted or had its worker killed in the middle of "
                "sending the response"
            ),
            "A proxy or load balancer hit its timeout and closed the connection mid-response",
            (
                "The server sent a Content-Length larger than the body it wrote (for example, "
                "computed before compression)"
            ),
            (
                "The connection was cut during a long download: a reset, a network drop, or a "
                "firewall's idle timeout"
            ),
            (
                "The server hit an error after the headers were sent and could only stop (a "
                "streaming response that raised)"
            ),
        ),
        fixes=(
            (
                'Reproduce with `curl -v -o /dev/null https://NAME/PATH`: "transfer closed with N '
                'bytes remaining to read" confirms it.'
            ),
            (
                "Check the server's and proxy's logs at that moment for crashes, worker timeouts "
                "or errors raised while streaming."
            ),
            (
                "Compare the proxy's and load balancer's timeouts (such as nginx "
                "`proxy_read_timeout`) with how long the response takes to send."
            ),
            (
                "Retry idempotent requests; for large downloads, resume with a `Range` request "
                "from the bytes already received."
            ),
        ),
        hint=(
            "Check the server's and proxy's logs for a crash or timeout while this response was "
            "being sent, then retry if the request is idempotent."
        ),
        retryable=True,
        request_sent=True,
    )
)

_add(
    Entry(
        kind=Kind.RESPONSE_MALFORMED,
        layer=Layer.RESPONSE,
        title="Malformed response",
        meaning=(
            "The server sent something that is not a valid HTTP response, such as a garbage status "
            "line, broken headers, or invalid chunked or compressed data."
        ),
        causes=(
            (
                "The port runs another protocol (SSH, SMTP, a database, or TLS reached with "
                "`http://`), whose greeting is read as a status line"
            ),
            (
                "A buggy server, framework or proxy writes invalid headers (bad characters or line "
                "endings, or conflicting Content-Length values)"
            ),
            (
                "The body's encoding does not match its headers: invalid gzip or deflate data, or "
                "broken chunk framing"
            ),
            (
                "Leftover bytes from an earlier response on a reused connection, from a server "
                "that sent more than its Content-Length"
            ),
            "An intercepting middlebox or captive portal injects its own content",
            (
                "Framing a strict parser refuses: a negative or non-numeric Content-Length, both "
                "Content-Length and `Transfer-Encoding: chunked` (the shape of request "
                "smuggling), or a status line with a version other than HTTP/1.x"
            ),
        ),
        fixes=(
            (
                "Look at the raw reply: `curl -v --raw --http0.9 http://HOST:PORT/`, or "
                "`nc HOST PORT` and type a request by hand."
            ),
            (
                "Check that the URL's scheme and port point at the HTTP service, not at SSH, a "
                "database, or a TLS port reached with `http://`."
            ),
            (
                "If the headers are invalid, fix the server or proxy that writes them: the client "
                "is right to refuse them."
            ),
            (
                "For decoding errors, repeat the request with `Accept-Encoding: identity` to see "
                "whether the compressed body is the broken part."
            ),
        ),
        hint=(
            "Look at the raw reply with `curl -v --raw --http0.9 http://HOST:PORT/` and check that "
            "the URL points at an HTTP service."
        ),
        retryable=False,
        request_sent=True,
    )
)

_add(
    Entry(
        kind=Kind.RESPONSE_TOO_LARGE,
        layer=Layer.RESPONSE,
        title="Response too large",
        meaning=(
            "The response was bigger than the client allows (its body size limit, or its limits on "
            "the number and length of headers), so reading stopped."
        ),
        causes=(
            (
                "The endpoint returns more data than expected: no filter or pagination, or a full "
                "export"
            ),
            "The size limit is set too low for this endpoint",
            (
                "The server sent too many or too long headers, such as huge cookies, or an "
                "oversized status, chunk-size or trailer line (`http.client` allows 100 headers "
                "and 65,536 bytes a line, httpcore 100 KiB for a whole head, aiohttp 128 "
                "headers and 8,190 bytes a line)"
            ),
            "A wrong URL that points at an endless stream, or a server that never stops sending",
            (
                "Compressed data that expands to far more than its transfer size (a decompression "
                "bomb)"
            ),
        ),
        fixes=(
            "Check the announced size first: `curl -sI https://NAME/PATH` shows `Content-Length`.",
            (
                "Ask for less: use pagination, filters, `Range` requests, or a dedicated download "
                "endpoint."
            ),
            (
                "Raise the limit only for endpoints that legitimately return large bodies, and "
                "stream those to disk instead of memory."
            ),
            (
                "If the headers are too large, fix the server (for example, stop it from setting "
                "oversized cookies)."
            ),
        ),
        hint=(
            "Check `Content-Length` with `curl -sI https://NAME/PATH`, and ask for less data or "
            "raise the size limit for this endpoint only."
        ),
        retryable=False,
        request_sent=True,
    )
)


# --- http --------------------------------------------------------------------

_add(
    Entry(
        kind=Kind.HTTP_REDIRECT_LOOP,
        layer=Layer.HTTP,
        title="Too many redirects",
        meaning=(
            "The server kept answering with redirects and the client gave up after its maximum "
            "number of them, usually because the redirects form a loop."
        ),
        causes=(
            (
                "HTTP and HTTPS redirect to each other: a TLS-terminating proxy speaks plain HTTP "
                "to the backend, which redirects to `https://` again because it ignores "
                "`X-Forwarded-Proto`"
            ),
            (
                "The bare domain and `www`, or a path with and without a trailing slash, redirect "
                "to each other"
            ),
            (
                "A login redirect that loops because the session cookie is not kept or not sent (a "
                "client without a cookie jar, or a `Secure` cookie over `http://`)"
            ),
            (
                "Conflicting redirect rules in several layers: CDN, load balancer, web server and "
                "application"
            ),
            "A legitimate but long chain of redirects beyond the client's limit (rare)",
        ),
        fixes=(
            (
                "Follow the chain by hand and find where it repeats: "
                "`curl -sIL --max-redirs 10 https://NAME/PATH | grep -iE '^(HTTP|location)'`."
            ),
            (
                "Behind a TLS-terminating proxy, make the backend trust `X-Forwarded-Proto` so "
                "that it stops redirecting HTTPS requests to HTTPS."
            ),
            (
                "If the loop goes through a login, use a client session that keeps cookies "
                "(`requests.Session`, `httpx.Client`)."
            ),
            (
                "Point the client at the final URL, and align the redirect rules of the CDN, load "
                "balancer and server."
            ),
        ),
        hint="Follow the redirects with `curl -sIL https://NAME/PATH` to see which URLs repeat.",
        retryable=False,
        request_sent=True,
    )
)

_add(
    Entry(
        kind=Kind.HTTP_RATE_LIMITED,
        layer=Layer.HTTP,
        title="Rate limited",
        meaning=(
            "The server answered 429 Too Many Requests: this client sent more requests than its "
            "rate limit or quota allows."
        ),
        causes=(
            (
                "Too many requests in a short time, from this process or from others sharing the "
                "same key, account or IP address"
            ),
            "Retries without backoff, or many workers retrying in step, multiplying the load",
            "A daily or monthly quota for the API key is used up",
            "A shared outgoing IP address (NAT, proxy, CI runner) whose limit others are using up",
        ),
        fixes=(
            (
                "Honor `Retry-After` (seconds or an HTTP date): wait that long before retrying; "
                "tether puts it in `Failure.retry_after`."
            ),
            (
                "Without `Retry-After`, back off exponentially with jitter, and cap the number of "
                "concurrent requests."
            ),
            (
                "Read the rate-limit headers the API sends (such as `RateLimit-Remaining` or "
                "`X-RateLimit-Reset`) and slow down before reaching the limit."
            ),
            (
                "Send fewer requests: cache responses and batch work; ask the provider for a "
                "higher quota if your usage is legitimate."
            ),
            (
                "Set an upper bound on how long you will wait: a large `Retry-After` can block a "
                "caller for hours."
            ),
        ),
        hint=(
            "Wait as long as `Retry-After` says (`Failure.retry_after`) before retrying, and lower "
            "the request rate."
        ),
        retryable=True,
        request_sent=True,
    )
)

_add(
    Entry(
        kind=Kind.HTTP_CLIENT_ERROR,
        layer=Layer.HTTP,
        title="Client error response",
        meaning=(
            "The server answered with a 4xx status: it received the request and refused it because "
            "of something in the request itself."
        ),
        causes=(
            "Missing, expired or wrong credentials (401), or not allowed to do this (403)",
            "A wrong URL, path, method or API version (404, 405, 410)",
            (
                "An invalid body or parameters (400, 409, 415, 422), usually explained in the "
                "response body"
            ),
            "A request or its headers too large (413, 431)",
            (
                "A web application firewall or CDN rule blocking the client (a 403 with the "
                "vendor's error page)"
            ),
        ),
        fixes=(
            (
                "Read the status and the response body, which usually say what is wrong; repeat "
                "the request with `curl -v` and the same method, headers and body."
            ),
            (
                "For 401 or 403, check the credentials, the token's expiry and its scopes; refresh "
                "the token and retry once."
            ),
            (
                "For 404 or 405, check the URL, the path and the HTTP method against the API "
                "documentation."
            ),
            (
                "For 400, 409, 415 or 422, fix the body, the `Content-Type` or the parameters: the "
                "same request will fail the same way."
            ),
        ),
        hint=(
            "Read the status code and the response body, which usually explain what in the request "
            "was refused."
        ),
        retryable=False,
        request_sent=True,
    )
)

_add(
    Entry(
        kind=Kind.HTTP_SERVER_ERROR,
        layer=Layer.HTTP,
        title="Server error response",
        meaning=(
            "The server, or a gateway in front of it, answered with a 5xx status: it received the "
            "request but failed to handle it."
        ),
        causes=(
            "An unhandled error or bug in the application (500)",
            (
                "A gateway or load balancer got no valid response from the backend, which is down, "
                "crashed or returned garbage (502)"
            ),
            (
                "The service is overloaded, in maintenance or being deployed (503, often with "
                "`Retry-After`)"
            ),
            "The backend took longer than the gateway's timeout (504)",
            (
                "A method or feature the server does not implement (501) or an unsupported HTTP "
                "version (505), which a retry will not fix"
            ),
        ),
        fixes=(
            (
                "Retry idempotent requests with exponential backoff and jitter, honoring "
                "`Retry-After` on a 503."
            ),
            (
                "Check the server's and gateway's logs at that moment (`journalctl -u` for the "
                "service, application error logs), using any request ID from the response headers."
            ),
            (
                "For 502 and 504, check the backend behind the gateway (`systemctl status`, its "
                "health checks) and the gateway's upstream timeout."
            ),
            (
                "If it persists, report it to the service's owners with the time, URL, status and "
                "request ID."
            ),
        ),
        hint=(
            "Retry idempotent requests with backoff, honoring `Retry-After`, and check the "
            "server's logs if the error persists."
        ),
        retryable=True,
        request_sent=True,
    )
)


# --- app: a page in a browser -------------------------------------------------

_add(
    Entry(
        kind=Kind.BROWSER_STEP_FAILED,
        layer=Layer.APP,
        title="Browser step failed",
        meaning=(
            "The page loaded in a headless browser, but one of the monitor's declared steps "
            "could not be done in time: the element to click or fill was not found, or the "
            "text or element waited for never appeared."
        ),
        causes=(
            "The page's script failed or took longer than the monitor's timeout to render",
            "A deployment changed the page: the selector or the text no longer matches",
            "An API the page calls failed, so the part that needs its data was never drawn",
            "The element is there but hidden or covered, so it cannot be clicked or filled",
        ),
        fixes=(
            (
                "Open the monitor's page on the dashboard: its screenshot of the last failure "
                "shows what the browser saw."
            ),
            (
                "Load the page in a browser with its developer tools open and check the selector "
                "(`document.querySelector('...')` in the console) and the page's failed requests."
            ),
            "Update the step's selector or text if the page changed on purpose.",
            "Raise the monitor's `timeout` if the page is legitimately slow to render.",
        ),
        hint=(
            "Look at the screenshot of the last failure on the monitor's page, then check that "
            "the step's selector or text still matches the page."
        ),
        retryable=True,
        request_sent=True,
    )
)

_add(
    Entry(
        kind=Kind.BROWSER_PAGE_ERROR,
        layer=Layer.APP,
        title="Page script error",
        meaning=(
            "The page loaded in a headless browser, but its scripts raised an uncaught error "
            "or logged an error to the console, and the monitor fails on console errors."
        ),
        causes=(
            "A bug in the page's JavaScript, often just deployed",
            "A script or API the page depends on failed to load (a 404, a refused request)",
            "A browser feature the script expects is missing in headless Chromium",
        ),
        fixes=(
            "Read the errors in the check's detail: each names its message and source.",
            "Open the page with the browser's developer tools and read its console.",
            (
                "If the errors are expected noise, set `browser.fail_on_console_errors: false`: "
                "uncaught exceptions are then still recorded but do not fail the check."
            ),
        ),
        hint="Read the console errors in the check's detail and fix the page's script.",
        retryable=True,
        request_sent=True,
    )
)


# --- app: gRPC ----------------------------------------------------------------

_add(
    Entry(
        kind=Kind.GRPC_NOT_SERVING,
        layer=Layer.APP,
        title="gRPC service not serving",
        meaning=(
            "The gRPC server answered the standard health check (`grpc.health.v1.Health/Check`), "
            "and its answer for the service was not `SERVING`: `NOT_SERVING`, `SERVICE_UNKNOWN` "
            "(or the call's `NOT_FOUND`, the protocol's way to say it) or `UNKNOWN`."
        ),
        causes=(
            (
                "The service set its own status to `NOT_SERVING`: it is starting, draining for a "
                "shutdown, or a dependency it checks (a database, a queue) is down"
            ),
            (
                "The service name asked about is not the one the server registered with its health "
                "servicer (a typo, a missing package prefix such as `pkg.v1.`)"
            ),
            (
                "The server never set a status for the service, so it is unknown to the health "
                "servicer"
            ),
        ),
        fixes=(
            (
                "Check the service's logs for why it reports itself unhealthy, and the "
                "dependencies its health status follows."
            ),
            (
                "Compare the monitored service name with what the server registers: "
                '`health.set("pkg.v1.Service", SERVING)` in grpcio, `SetServingStatus` in '
                "Go."
            ),
            (
                "Ask about the server as a whole with an empty service name "
                "(`grpc://host:port/`) to tell a service's status from the server's."
            ),
        ),
        hint=(
            "Check why the service reports itself unhealthy, and that the service name "
            "matches what the server registers."
        ),
        retryable=True,
        request_sent=True,
    )
)

_add(
    Entry(
        kind=Kind.GRPC_STATUS,
        layer=Layer.APP,
        title="gRPC call failed",
        meaning=(
            "The gRPC server ended the health check call with a status other than `OK`; the "
            "detail names the code, as in `UNIMPLEMENTED (12)` or `UNAVAILABLE (14)`."
        ),
        causes=(
            ("`UNIMPLEMENTED (12)`: the server has no `grpc.health.v1.Health` service registered"),
            (
                "`DEADLINE_EXCEEDED (4)`: the health handler took longer than the check's timeout "
                "(sent as `grpc-timeout`)"
            ),
            (
                "`UNAVAILABLE (14)`: the server or a proxy in front of it (Envoy, a load balancer) "
                "has no healthy backend, or is shutting down"
            ),
            (
                "`UNAUTHENTICATED (16)` or `PERMISSION_DENIED (7)`: the server wants credentials "
                "the health check does not send"
            ),
            "`INTERNAL (13)` or `UNKNOWN (2)`: the health handler raised an error",
        ),
        fixes=(
            (
                "For `UNIMPLEMENTED`, register the health servicer: in grpcio "
                "`health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), "
                "server)`, in Go `healthpb.RegisterHealthServer`."
            ),
            (
                "For `DEADLINE_EXCEEDED`, find what the health handler waits on, or raise the "
                "check's `timeout`."
            ),
            (
                "For `UNAVAILABLE`, check the backends behind the proxy and the server's logs; it "
                "is worth retrying."
            ),
            (
                "For an authentication code, exempt the health service from authentication, as "
                "health checkers (Kubernetes, load balancers) expect."
            ),
        ),
        hint=(
            "Read the gRPC code in the detail: register the health servicer for "
            "UNIMPLEMENTED, check the server's logs otherwise."
        ),
        retryable=False,
        request_sent=True,
    )
)


# --- app: databases and caches ------------------------------------------------

_add(
    Entry(
        kind=Kind.DB_AUTH_FAILED,
        layer=Layer.APP,
        title="Database authentication failed",
        meaning=(
            "The database or cache server was reached and answered, but refused the user name "
            "or password the check gave it."
        ),
        causes=(
            "A wrong or rotated password, or one that was never set for this user",
            "The user does not exist, or may not log in from this address (`pg_hba.conf`, a "
            "MySQL account's host part, a Redis ACL user that is off)",
            "No credentials given to a server that requires them (Redis `NOAUTH`)",
            "The URL's password holds a character that must be percent-encoded (`@`, `:`, `/`)",
        ),
        fixes=(
            "Try the same credentials by hand: `psql 'postgresql://USER@HOST/DB'`, "
            "`mariadb -h HOST -u USER -p`, `redis-cli -h HOST --user USER --askpass PING`.",
            "Check the server's log for the refusal's reason (PostgreSQL says which "
            "`pg_hba.conf` line matched; MariaDB logs `Access denied for user`).",
            "Percent-encode special characters in the URL's password (`@` as `%40`).",
            "Give the check a user of its own with the fewest rights it needs (a read-only "
            "role, a Redis ACL user allowed `PING` and the configured command).",
        ),
        hint="Check the user and password in the check's URL against the server's accounts.",
        retryable=False,
        request_sent=False,
    )
)

_add(
    Entry(
        kind=Kind.DB_UNKNOWN_DATABASE,
        layer=Layer.APP,
        title="Unknown database",
        meaning=(
            "The server accepted the connection but has no database by the name (or, for "
            "Redis, the number) the check asked for."
        ),
        causes=(
            "A typo in the URL's path (`/app` for `/app_prod`)",
            "The database was dropped, renamed or not yet created on this server",
            "The check reaches another server than intended (a replica or a test instance)",
            "A Redis database number at or over the server's `databases` setting",
        ),
        fixes=(
            "List the databases: `psql -l`, `SHOW DATABASES;`, or `CONFIG GET databases` "
            "for Redis.",
            "Correct the URL's path, or create the database.",
            "Check that the host and port name the server you mean.",
        ),
        hint="Check the database name in the URL's path against the server's databases.",
        retryable=False,
        request_sent=False,
    )
)

_add(
    Entry(
        kind=Kind.DB_READ_ONLY,
        layer=Layer.APP,
        title="Database is read-only",
        meaning=(
            "The check expected a primary that takes writes (`role: primary`) but found a "
            "server in recovery, a replica, or one whose transactions are read-only."
        ),
        causes=(
            "A failover moved the primary elsewhere and this address now names a replica",
            "The URL names a replica, or a load balancer sent the check to one",
            "The server was made read-only on purpose (`default_transaction_read_only`, "
            "MariaDB's `read_only`) for maintenance or a full disk",
        ),
        fixes=(
            "Ask the server its role: `SELECT pg_is_in_recovery();`, `SELECT @@read_only;`, "
            "or `redis-cli ROLE`.",
            "Point the check (and the application) at the current primary, or the DNS name "
            "or proxy that follows failovers.",
            "If the server was made read-only on purpose, set it back when the work is done "
            "(`SET GLOBAL read_only = 0`).",
            "Use `role: replica` or `role: any` for a check that should accept a replica.",
        ),
        hint="Find the current primary: this server answers as a read-only one.",
        retryable=False,
        request_sent=False,
    )
)

_add(
    Entry(
        kind=Kind.DB_TOO_MANY_CONNECTIONS,
        layer=Layer.APP,
        title="Too many database connections",
        meaning=(
            "The server refused a new connection because it already has as many clients as it "
            "allows (`max_connections`, Redis `maxclients`)."
        ),
        causes=(
            "An application leaks connections or opens one per request without a pool",
            "Pools across many instances together exceed the server's limit",
            "Long-running or stuck queries holding connections",
            "A limit set too low for the number of clients",
        ),
        fixes=(
            "See who holds the connections: `SELECT usename, client_addr, state, count(*) "
            "FROM pg_stat_activity GROUP BY 1, 2, 3;`, `SHOW PROCESSLIST;`, or "
            "`redis-cli CLIENT LIST`.",
            "Put a pooler in front (PgBouncer, ProxySQL) or shrink each application's pool.",
            "End idle or stuck sessions, then raise `max_connections` / `maxclients` if the "
            "server has the memory for them.",
        ),
        hint="Find which clients hold the server's connections, then pool or free them.",
        retryable=True,
        request_sent=False,
    )
)

_add(
    Entry(
        kind=Kind.DB_QUERY_FAILED,
        layer=Layer.APP,
        title="Database query failed",
        meaning=(
            "The check logged in, but the query or command it runs returned an error (its "
            "SQLSTATE or error code is in the detail)."
        ),
        causes=(
            "A syntax error, or a table or column that does not exist on this server",
            "The check's user lacks the right to read what the query reads",
            "The query ran longer than the check's timeout (`statement_timeout`, "
            "`max_execution_time`) or was cancelled",
            "The query writes, and runs in a read-only transaction (tether's checks do)",
            "A Redis command refused by an ACL, or one of the wrong type for its key, or one "
            "the server flags as writing or administering, which tether does not send",
        ),
        fixes=(
            "Run the check's query by hand as the check's user and read the error.",
            "Grant the check's user read access to what the query reads.",
            "Keep the check's query cheap (`SELECT 1`, an indexed lookup); raise the "
            "monitor's `timeout` only for a query that must take longer.",
        ),
        hint="Run the check's query by hand as its user: the error names what is wrong.",
        retryable=False,
        request_sent=True,
    )
)

_add(
    Entry(
        kind=Kind.AUTH_FAILED,
        layer=Layer.APP,
        title="Login refused",
        meaning=(
            "A server that is not a database (a message broker, an SSH or mail server, a cloud "
            "API) was reached and answered, but refused the credentials the client gave it."
        ),
        causes=(
            "A wrong, expired or rotated password, key or token",
            "The user exists but may not log in here: a RabbitMQ user without rights to the "
            "virtual host, an SSH key not in `authorized_keys`, a mail account that is locked",
            "No credentials given to a server that requires them",
            "A password with a character that must be percent-encoded in the URL (`@`, `:`, `/`)",
        ),
        fixes=(
            "Try the same credentials by hand: `ssh -v USER@HOST`, `rabbitmqctl "
            "authenticate_user USER PASSWORD`, `openssl s_client -starttls smtp -connect "
            "HOST:587` and `AUTH`.",
            "Read the server's log for the reason it gives (RabbitMQ names the user and the "
            "virtual host; sshd says which keys it tried).",
            "Percent-encode special characters in the URL's password (`@` as `%40`).",
        ),
        hint="Check the user and the password, key or token against the server's accounts.",
        retryable=False,
        request_sent=False,
    )
)

_add(
    Entry(
        kind=Kind.SERVER_UNAVAILABLE,
        layer=Layer.APP,
        title="Server cannot serve for now",
        meaning=(
            "The server was reached and answered, but said it cannot serve now: it is "
            "starting up, shutting down, loading its data or in recovery, or (gRPC's "
            "UNAVAILABLE, a mail server's 421) out of service for a while."
        ),
        causes=(
            "A restart or a failover under way: PostgreSQL's `the database system is starting "
            "up` or `terminating connection due to administrator command`, Redis's `LOADING`",
            "A broker or mail server closing its connections for maintenance (AMQP's "
            "`CONNECTION_FORCED`, SMTP's `421`)",
            "A gRPC server draining, overloaded, or behind a proxy with no healthy backend",
        ),
        fixes=(
            "Retry with backoff: this answer is the server's way of asking for it.",
            "If it lasts, read the server's log: a restart that does not finish, a replica "
            "that cannot catch up, a data set too large to load quickly.",
            "During planned restarts, drain clients first, or point them at a replica or "
            "another instance.",
        ),
        hint="Retry with backoff; if it lasts, read the server's log for why it does not serve.",
        retryable=True,
        request_sent=False,
    )
)


# --- policy ------------------------------------------------------------------

_add(
    Entry(
        kind=Kind.DEADLINE_EXCEEDED,
        layer=Layer.POLICY,
        title="Deadline exceeded",
        meaning=(
            "The whole call ran out of its total time budget before it finished, even if no single "
            "connect or read step timed out on its own."
        ),
        causes=(
            (
                "The server sends the response very slowly, a few bytes at a time: every read "
                "arrives within the read timeout, so only a total deadline can stop it"
            ),
            (
                "Retries and the waits between them, including a long `Retry-After`, used up the "
                "budget"
            ),
            (
                "Each step was slow but within its own timeout, and the DNS lookup, connect, TLS "
                "handshake and first byte added up"
            ),
            "The response is larger, or the bandwidth lower, than the budget allows for",
            "The deadline is too short for this endpoint",
        ),
        fixes=(
            (
                "Find where the time goes: `curl -o /dev/null -w '%{time_namelookup} "
                "%{time_connect} %{time_appconnect} %{time_starttransfer} %{time_total}' "
                "https://NAME/PATH`."
            ),
            (
                "If the body trickles in, fix the server or the proxy in front of it (overload, "
                "throttling, buffering); per-read timeouts cannot catch this."
            ),
            (
                "Raise the deadline only if the endpoint is legitimately that slow, and leave room "
                "in it for retries and their waits."
            ),
            (
                "Ask for less data (pagination, filters, compression), or stream large responses "
                "with a deadline sized for them."
            ),
        ),
        hint=(
            "Find where the time went with `curl -w` timings, and raise the deadline only if the "
            "endpoint is legitimately that slow."
        ),
        retryable=False,
        request_sent=True,
    )
)

_add(
    Entry(
        kind=Kind.CIRCUIT_OPEN,
        layer=Layer.POLICY,
        title="Circuit open",
        meaning=(
            "tether did not send the request: its circuit breaker for this host is open because "
            "recent calls to it kept failing, so calls fail fast until the cool-down ends."
        ),
        causes=(
            (
                "The host failed repeatedly in a short time (timeouts, refusals, 5xx responses), "
                "crossing the breaker's failure threshold"
            ),
            "An outage or a deployment of the remote service",
            "A local problem (DNS, proxy, firewall) that makes every call to that host fail",
            "A threshold or cool-down set too tight for this host's normal error rate",
        ),
        fixes=(
            (
                "Look at the failures that opened the breaker: their kinds and causes tell what is "
                "really wrong."
            ),
            (
                "Wait for the cool-down: the breaker then lets a trial call through, and closes "
                "again if it succeeds."
            ),
            "Check the host directly with `curl -v https://NAME/` to see whether it has recovered.",
            (
                "Tune the failure threshold and cool-down if the breaker opens on occasional, "
                "normal errors."
            ),
        ),
        hint=(
            "Look at the earlier failures for this host, which opened the breaker; tether lets a "
            "trial call through after the cool-down."
        ),
        retryable=False,
        request_sent=False,
    )
)


_add(
    Entry(
        kind=Kind.BULKHEAD_FULL,
        layer=Layer.POLICY,
        title="Concurrency limit reached",
        meaning=(
            "tether did not send the request: the limit on calls in flight to this endpoint "
            "(its bulkhead, fixed or adaptive) was reached, and the queue of callers waiting "
            "for a slot was full or this caller waited longer than the queue allows."
        ),
        causes=(
            (
                "The endpoint answers more slowly than usual, so calls hold their slots "
                "longer and the limit fills"
            ),
            "More calls than usual are made to this endpoint at the same time",
            "An adaptive limit fell because the endpoint's latency rose under load",
            "A limit, queue or queue timeout set too small for this endpoint's normal load",
        ),
        fixes=(
            (
                "Look at the endpoint's latency: if it rose, the limit is doing its job "
                "(shedding load before the endpoint falls over); find why it is slow."
            ),
            (
                "Read the limit, the calls in flight and the queue with "
                "`guard.limit(endpoint)` or the failure's detail."
            ),
            "Spread or reduce the calls made at once (a smaller worker pool, a batch).",
            "Raise `Bulkhead(limit=..., queue=..., queue_timeout=...)` if the load is normal.",
        ),
        hint=(
            "Too many calls to this endpoint were in flight at once: look at its latency "
            "first, then at the bulkhead's limit and queue."
        ),
        retryable=False,
        request_sent=False,
    )
)

_add(
    Entry(
        kind=Kind.THROTTLE_REJECTED,
        layer=Layer.POLICY,
        title="Throttled by the client",
        meaning=(
            "tether did not send the request: this endpoint has lately refused most "
            "requests (429, 503, refusals, timeouts), so client-side throttling dropped this "
            "one here, with a probability that falls as the endpoint accepts more again."
        ),
        causes=(
            "The endpoint is overloaded and has been answering 429 or 503",
            "The endpoint is down or unreachable, so few recent requests were accepted",
            "A throttle window or K factor set too tight for this endpoint's error rate",
        ),
        fixes=(
            (
                "Look at the endpoint's recent failures: their kinds say why it stopped "
                "accepting requests."
            ),
            (
                "Wait: as the endpoint accepts requests again, the rejection probability "
                "falls to zero by itself."
            ),
            "Raise `Throttle(k=...)` to let more requests through to an endpoint that rejects "
            "many as a matter of course.",
        ),
        hint=(
            "The endpoint has been refusing most requests; look at those failures first. "
            "Throttling eases off by itself as it recovers."
        ),
        retryable=False,
        request_sent=False,
    )
)


_add(
    Entry(
        kind=Kind.HEARTBEAT_MISSED,
        layer=Layer.POLICY,
        title="No heartbeat",
        meaning=(
            "A push monitor expected a push from the job it watches (a cron job, a backup, a "
            "worker) and none came within its interval and grace. Nothing was probed: the job "
            "did not report."
        ),
        causes=(
            (
                "The job did not run: its scheduler (cron, a systemd timer, a CI schedule) is "
                "stopped or was changed, or the machine it runs on is down"
            ),
            "The job ran and failed before it pushed, or it pushes only when it succeeds",
            (
                "The job's push did not reach tether: a wrong push URL or token, a firewall or a "
                "proxy in the way"
            ),
            "The job runs later or longer than the monitor's interval and grace allow",
        ),
        fixes=(
            (
                "Check that the job ran: `systemctl list-timers`, `crontab -l` and the "
                "scheduler's log on the machine that runs it."
            ),
            "Read the job's own log and exit code for the last run.",
            (
                "Push by hand from that machine with the same URL (`curl -fsS "
                "https://TETHER/api/push/TOKEN`) to see whether it reaches tether."
            ),
            "Raise the monitor's `grace` if the job is legitimately later or longer than it.",
        ),
        hint=(
            "Check that the job that should push ran and reached the push URL: its scheduler "
            "(`systemctl list-timers`, `crontab -l`), its log and its last exit code."
        ),
        retryable=False,
        request_sent=False,
    )
)

EXPIRED_HINT: Final = (
    "Renew the certificate on the server and reload the service that serves it; the dates "
    "it sends: `openssl s_client -connect HOST:PORT -servername NAME </dev/null | openssl "
    "x509 -noout -dates`. Suspect this machine's clock (`timedatectl`) only if other "
    "certificates look expired too."
)
"""``tls.expired``'s hint when the certificate *has expired* (OpenSSL's "certificate has
expired"): the dates, not the clock, are the likely cause.  The catalogue's own hint, the
clock first, is for one that is not yet valid."""


def hint_for(kind: Kind, detail: str | None = None) -> str:
    """The first thing to do about a failure of ``kind`` that says ``detail``: the
    catalogue's hint, but :data:`EXPIRED_HINT` for a certificate that has expired (not
    one that is not yet valid, where the clock comes first)."""
    if kind is Kind.TLS_EXPIRED and detail:
        # An incident's detail leads with the kind's title ("certificate expired or not
        # yet valid on HOST: ..."): only what follows says which.
        said = detail.lower().replace(CATALOGUE[kind].title.lower(), "")
        if "expired" in said and "not yet valid" not in said and "not valid yet" not in said:
            return EXPIRED_HINT
    return CATALOGUE[kind].hint
