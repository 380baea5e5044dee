"""Which hosts a probe may reach: host name patterns and IP networks, checked against the
target and every redirect hop, on the addresses the probe is about to connect to (so a name
that resolves somewhere else on the second lookup gains nothing)."""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tether._text import hidden_character

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

LOOPBACK: tuple[Network, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)


MAX_PATTERN_LABEL = 63
MAX_PATTERN_LENGTH = 253
"""A host name has labels of 63 characters at most, 253 in all (RFC 1035): a longer
pattern matches nothing, so it is a mistake, and refused before it costs every hop."""


def _pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` (lower case, no final dot) matches no host name, or None.  Its
    only wildcards are ``*`` and ``?``: ``[`` would open an fnmatch character class,
    which the documentation never promised, and ``[[[[`` matches nothing at all."""
    example = "write api.example.com or *.example.com"
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"{len(pattern):,} characters, and a host name has {MAX_PATTERN_LENGTH} at most"
    hidden = hidden_character(pattern)
    if hidden is not None:
        return f"it contains {hidden}"
    bad = next((c for c in pattern if c.isascii() and not (c.isalnum() or c in "-_.*?")), None)
    if bad is not None:
        return f"{bad!r} cannot be in a host name; {example}"
    labels = pattern.split(".")
    if not pattern.strip(".*") and pattern != "*":
        return example
    if "" in labels:
        return f"it has an empty label (..); {example}"
    longest = max(labels, key=len)
    if len(longest) > MAX_PATTERN_LABEL:
        return f"a label has {len(longest)} characters, and a host name's have 63 at most"
    return None


_DECIDED_MAX = 4096
"""Addresses an allow-list remembers its answer for (a fleet's targets, a scrape's)."""


def _clipped(entry: str) -> str:
    return repr(entry if len(entry) <= 40 else entry[:39] + "…")


class TargetRefused(Exception):
    """The probe was asked to reach a host its allow-list leaves out; nothing was sent."""


@dataclass(frozen=True, slots=True)
class AllowedTargets:
    """Host patterns (``api.example.com``, ``*.internal.example``, ``*`` for any) and
    networks (``10.0.0.0/8``, ``192.0.2.7``).  A hop is allowed when its host matches a
    pattern, or when every address its name resolves to lies in one of the networks."""

    hosts: tuple[str, ...] = ()
    networks: tuple[Network, ...] = ()
    # Each hop is checked against the whole list, which by default holds every monitor's
    # host: exact names and single addresses are looked up in a set, and only patterns and
    # wider networks are tried one by one.
    _names: frozenset[str] = field(init=False, repr=False, compare=False)
    _patterns: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _addresses: frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address] = field(
        init=False, repr=False, compare=False
    )
    _wide: tuple[Network, ...] = field(init=False, repr=False, compare=False)
    _decided: dict[str, bool] = field(init=False, repr=False, compare=False)
    """Each address's answer once worked out (parsing it cost more than the rest of a
    check): a cache, bounded by :data:`_DECIDED_MAX`, of a value that never changes."""

    def __post_init__(self) -> None:
        wild = [h for h in self.hosts if any(c in h for c in "*?[")]
        single = {n for n in self.networks if n.prefixlen == n.max_prefixlen}
        object.__setattr__(self, "_names", frozenset(self.hosts).difference(wild))
        object.__setattr__(self, "_patterns", tuple(wild))
        object.__setattr__(self, "_addresses", frozenset(n.network_address for n in single))
        object.__setattr__(self, "_wide", tuple(n for n in self.networks if n not in single))
        object.__setattr__(self, "_decided", {})

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowedTargets:
        """From ``probe.allowed_targets``'s entries; ValueError names a bad one."""
        hosts: list[str] = []
        networks: list[Network] = []
        for entry in entries:
            text = entry.strip().lower()
            if not text:
                raise ValueError("an entry is empty: write a host name, *.domain or a network")
            try:
                networks.append(ipaddress.ip_network(text.strip("[]"), strict=False))
                continue
            except ValueError:
                if "://" not in text and ("/" in text or text.replace(".", "").isdigit()):
                    raise ValueError(
                        f"{entry!r} is not a network: write it as 127.0.0.0/8 or ::1/128"
                    ) from None
            problem = _pattern_problem(text.rstrip("."))
            if problem is not None:
                raise ValueError(f"{_clipped(entry)} is not a host name pattern: {problem}")
            hosts.append(text.rstrip("."))
        return cls(tuple(hosts), tuple(networks))

    def host_allowed(self, host: str) -> bool:
        name = host.lower().rstrip(".")
        if name in self._names:
            return True
        # No generator for a list of networks alone, as /probe's usually is.
        return bool(self._patterns) and any(fnmatch.fnmatchcase(name, p) for p in self._patterns)

    def address_allowed(self, address: str) -> bool:
        decided = self._decided.get(address)
        if decided is None:
            decided = self._address_allowed(address)
            if len(self._decided) >= _DECIDED_MAX:
                self._decided.clear()
            self._decided[address] = decided
        return decided

    def _address_allowed(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.split("%", maxsplit=1)[0])
        except ValueError:
            return False
        return ip in self._addresses or any(ip in network for network in self._wide)

    def check(self, host: str, addresses: Sequence[str]) -> None:
        """Raise :class:`TargetRefused` unless ``host``, resolved to ``addresses``, is allowed."""
        if self.host_allowed(host):
            return
        outside = [a for a in addresses if not self.address_allowed(a)]
        if addresses and not outside:
            return
        where = f" ({', '.join(outside)})" if outside and outside != [host] else ""
        raise TargetRefused(f"{host}{where} is not in probe.allowed_targets")
