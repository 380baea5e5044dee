"""Zones signed in the test, keys made here, for the ``dnssec`` checks: served by the
lab's DNS server (``tether.lab._dns.serve(..., zones=...)``).

The chain: the test's own ``test.`` key is the trust anchor; below it

- ``good.test.``: signed, its DS in ``test.``: valid;
- ``bogus.test.``: signed, its DS in ``test.``, its ``A`` changed after signing;
- ``expired.test.``: signed, its DS in ``test.``, every signature expired at :data:`NOW`;
- ``nods.test.``: signed, no DS in ``test.`` (missing DS);
- ``plain.test.``: not signed, no DS (an unsigned zone).

Signatures hold from a day before :data:`NOW` to 30 days after it (``expired.test.``'s:
60 to 30 days before), so the tests check them at :data:`NOW` through the probe's
injected clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from threading import Thread
from typing import Any

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.DNSKEY
import dns.zone
from cryptography.hazmat.primitives.asymmetric import ec

from tether.lab import _dns

NOW = 1_800_000_000.0
"""The time the tests validate at (2027-01-15)."""
DAY = 86400
ALGORITHM = dns.dnssec.Algorithm.ECDSAP256SHA256


@dataclass(frozen=True)
class Signed:
    zones: tuple[dns.zone.Zone, ...]
    anchor_ds: str
    """``test. DS ...``: the trust anchor, as DS."""
    anchor_dnskey: str
    """``test. DNSKEY ...``: the same anchor, as DNSKEY."""
    other_ds: str
    """A DS of ``test.`` for a key the zone does not publish."""


def _key() -> tuple[Any, dns.rdtypes.ANY.DNSKEY.DNSKEY]:
    private = ec.generate_private_key(ec.SECP256R1())
    dnskey = dns.dnssec.make_dnskey(private.public_key(), ALGORITHM, flags=257)
    return private, dnskey


def _zone(origin: str, records: str) -> dns.zone.Zone:
    text = f"@ 300 IN SOA ns.{origin} host.{origin} 1 3600 600 86400 300\n@ 300 IN NS ns.{origin}\n"
    return dns.zone.from_text(text + records, origin, relativize=False)


def _sign(zone: dns.zone.Zone, key: tuple[Any, Any], start: float, end: float) -> None:
    dns.dnssec.sign_zone(zone, keys=[key], inception=int(start), expiration=int(end))


def _ds(owner: str, dnskey: Any) -> str:
    return f"{owner} DS {dns.dnssec.make_ds(owner, dnskey, 'SHA256').to_text()}"


def make_zones() -> Signed:
    """The zones of the module's docstring, freshly keyed and signed."""
    keys = {name: _key() for name in ("test.", "good.", "bogus.", "expired.", "nods.", "x.")}
    valid = (NOW - DAY, NOW + 30 * DAY)
    children: list[dns.zone.Zone] = []
    delegations = ""
    for label in ("good", "bogus", "expired", "nods", "plain"):
        origin = f"{label}.test."
        zone = _zone(origin, "@ 300 IN A 127.0.0.1\nwww 300 IN A 127.0.0.2\n")
        delegations += f"{label} 300 IN NS ns.{origin}\n"
        if label != "plain":
            key = keys[f"{label}."]
            window = (NOW - 60 * DAY, NOW - 30 * DAY) if label == "expired" else valid
            _sign(zone, key, *window)
            if label != "nods":
                ds = dns.dnssec.make_ds(origin, key[1], "SHA256")
                delegations += f"{label} 300 IN DS {ds.to_text()}\n"
        children.append(zone)
    bogus = children[1]
    with bogus.writer() as txn:  # changed after signing: the old RRSIG stays
        txn.replace(
            dns.name.from_text("bogus.test."),
            dns.rdataset.from_text("IN", "A", 300, "127.0.0.9"),
        )
    parent = _zone("test.", delegations)
    _sign(parent, keys["test."], *valid)
    anchor = keys["test."][1]
    return Signed(
        (parent, *children),
        _ds("test.", anchor),
        f"test. DNSKEY {anchor.to_text()}",
        _ds("test.", keys["x."][1]),
    )


@contextmanager
def serving(zones: tuple[dns.zone.Zone, ...]) -> Iterator[str]:
    """The lab's DNS server on loopback, serving ``zones``, in a thread: its ``HOST:PORT``."""
    loop = asyncio.new_event_loop()
    started = loop.run_until_complete(_dns.serve("127.0.0.1", 0, zones))
    transport, server, port = started
    thread = Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        transport.close()
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()


def silent_apex() -> tuple[dns.zone.Zone, str]:
    """A signed zone at ``silent.lab.test.``, the lab's name that is never answered: its
    records are (``www.silent.lab.test.``), its DNSKEY query is not.  With its DS."""
    key = _key()
    zone = _zone("silent.lab.test.", "www 300 IN A 127.0.0.1\n")
    _sign(zone, key, NOW - DAY, NOW + 30 * DAY)
    return zone, _ds("silent.lab.test.", key[1])
