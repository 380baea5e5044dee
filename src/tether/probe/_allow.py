"""Which hosts a probe may reach: host name patterns and IP networks, checked against the
target and every redirect hop, on the addresses the probe is about to connect to (so a name
that resolves somewhere else on the second lookup gains nothing)."""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

LOOPBACK: tuple[Network, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)


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

    def __post_init__(self) -> None:
        wild = [h for h in self.hosts if any(c in h for c in "*?[")]
        single = {n for n in self.networks if n.prefixlen == n.max_prefixlen}
        object.__setattr__(self, "_names", frozenset(self.hosts).difference(wild))
        object.__setattr__(self, "_patterns", tuple(wild))
        object.__setattr__(self, "_addresses", frozenset(n.network_address for n in single))
        object.__setattr__(self, "_wide", tuple(n for n in self.networks if n not in single))

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
                        f"{entry!r} is not a network: write it as 10.0.0.0/8 or fd00::/8"
                    ) from None
            if any(c in text for c in ":@/ ") or not text.replace("*", "x").strip("."):
                raise ValueError(
                    f"{entry!r} is not a host name pattern: write api.example.com or *.example.com"
                )
            hosts.append(text.rstrip("."))
        return cls(tuple(hosts), tuple(networks))

    def host_allowed(self, host: str) -> bool:
        name = host.lower().rstrip(".")
        return name in self._names or any(fnmatch.fnmatchcase(name, p) for p in self._patterns)

    def address_allowed(self, address: str) -> bool:
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
