"""Which hosts a probe may reach: host name patterns and IP networks, checked against the
target and every redirect hop, on the addresses the probe is about to connect to (so a name
that resolves somewhere else on the second lookup gains nothing)."""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.hosts)

    def address_allowed(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.split("%", maxsplit=1)[0])
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def check(self, host: str, addresses: Sequence[str]) -> None:
        """Raise :class:`TargetRefused` unless ``host``, resolved to ``addresses``, is allowed."""
        if self.host_allowed(host):
            return
        outside = [a for a in addresses if not self.address_allowed(a)]
        if addresses and not outside:
            return
        where = f" ({', '.join(outside)})" if outside and outside != [host] else ""
        raise TargetRefused(f"{host}{where} is not in probe.allowed_targets")
