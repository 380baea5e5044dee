"""How to probe: the options every probe takes, and what a ``dns://`` probe asks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tether.probe import _icmp
from tether.probe._allow import AllowedTargets
from tether.probe._dboptions import DatabaseQuery


@dataclass(frozen=True, slots=True)
class DnsQuery:
    """What a ``dns://`` probe asks, and what its answer must be."""

    record_type: str = "A"
    rcode: str | None = "NOERROR"
    """The rcode the answer must have; None: any (the caller judges it)."""
    answers: tuple[str, ...] = ()
    """The records the answer must hold, all of them and no other (empty: any)."""
    recursion_desired: bool = True


@dataclass(frozen=True, slots=True)
class ProbeOptions:
    """How to probe.  Every phase has its own ``timeout``; the whole probe a ``deadline``."""

    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    resolver: str | None = None
    """``HOST[:PORT]`` of a DNS server to ask directly, instead of the system resolver."""
    cacert: str | None = None
    insecure: bool = False
    """Go on past a failed certificate verification (still reported)."""
    proxy: str | None = None
    """A proxy URL; None means the environment's (``HTTP(S)_PROXY``, ``NO_PROXY``)."""
    timeout: float = 5.0
    deadline: float = 20.0
    family: int = 0
    """0 for both, 4 or 6 for one address family."""
    max_body: int = 1 << 20
    follow_redirects: bool = True
    max_redirects: int = 10
    keep_body: int = 0
    """Keep this many bytes of the body in ``ProbeResult.body`` (for monitor conditions)."""
    body: bytes | None = None
    """A request body, sent with its ``Content-Length``; a 303 (or a 301/302 after a POST)
    turns the next hop into a GET without it, as browsers do; 307 and 308 keep it on the
    same origin, and are not followed to another (the body stays with its origin)."""
    env: Mapping[str, str] | None = None
    """The environment to read proxies from (default: ``os.environ``)."""
    allowed: AllowedTargets | None = None
    """The hosts and networks the probe may reach, every redirect hop included (None: any);
    a hop outside them raises :class:`TargetRefused` before anything is sent to it."""
    icmp_payload_size: int = _icmp.PAYLOAD_SIZE
    """Bytes after an echo request's ICMP header (8 at least: the probe's own token)."""
    dns: DnsQuery | None = None
    """What a ``dns://NAME`` probe asks ``resolver`` and what its answer must be (None: an
    ``A`` query answered ``NOERROR``)."""
    database: DatabaseQuery | None = None
    """What a database or cache check runs once logged in, and the role it expects (None:
    ``SELECT 1`` or ``PING``, any role)."""
