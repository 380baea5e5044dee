"""DNSSEC-signed zones, keyed and signed here, for the lab's ``dnssec_*`` scenarios (and
the tests of the ``dns://`` check's validation, which sign their own tree with it).

A tree is one signed zone at the top (its key is the trust anchor) and children below it,
each broken in one way (:data:`FAULTS`).  Every zone holds ``@`` and ``www`` A records
(127.0.0.1, 127.0.0.2) and ``nodata``, a name with a TXT record only (an A query for it
is answered NODATA).  Signatures hold from a day before ``now`` to ``days`` after it;
an ``expired`` child's from 60 to 30 days before ``now``, a ``not_yet_valid`` child's
from a day after ``now``.  The lab signs at its start with the real clock, so a real
monitor sees its expired signatures as expired.

The lab's tree (:func:`lab_tree`) is ``dnssec.lab.test.``; ``outside.lab.test.``, a zone
signed with a key of its own, is outside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

DAY: Final = 86400
FAULTS: Final = ("ok", "bogus", "expired", "not_yet_valid", "nods", "rollover", "unsigned")
"""How a child is made: ``ok`` (signed, its DS in the parent), ``bogus`` (its A changed
after signing), ``expired`` and ``not_yet_valid`` (signatures outside their window),
``nods`` (signed, no DS in the parent), ``rollover`` (signed with a new key while the
parent's DS still names the old one), ``unsigned`` (no signatures, no DS)."""

LAB_TOP: Final = "dnssec.lab.test."
LAB_OUTSIDE: Final = "outside.lab.test."
LAB_CHILDREN: Final = {
    "ok": "ok",
    "bogus": "bogus",
    "expired": "expired",
    "early": "not_yet_valid",
    "nods": "nods",
    "rollover": "rollover",
    "unsigned": "unsigned",
}
"""The lab tree's children: label under :data:`LAB_TOP` -> fault."""


@dataclass(frozen=True, slots=True)
class SignedTree:
    """Zones (dnspython ``Zone`` objects, the top first, then the children in the order
    given) and the trust anchor that proves them."""

    zones: tuple[Any, ...]
    anchor_ds: str
    """``TOP DS ...``: the trust anchor, as a DS record."""
    anchor_dnskey: str
    """``TOP DNSKEY ...``: the same anchor, as the key itself."""
    other_ds: str
    """A DS of the top zone for a key it does not publish: a wrong trust anchor."""


def _key() -> tuple[Any, Any]:
    import dns.dnssec
    import dns.dnssectypes
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    dnskey = dns.dnssec.make_dnskey(
        private.public_key(), dns.dnssectypes.Algorithm.ECDSAP256SHA256, flags=257
    )
    return private, dnskey


def _zone(origin: str, records: str = "") -> Any:
    import dns.zone

    text = (
        f"@ 300 IN SOA ns.{origin} host.{origin} 1 3600 600 86400 300\n"
        f"@ 300 IN NS ns.{origin}\n@ 300 IN A 127.0.0.1\nwww 300 IN A 127.0.0.2\n"
        'nodata 300 IN TXT "no address records"\n'
    )
    return dns.zone.from_text(text + records, origin, relativize=False)


def _sign(zone: Any, key: tuple[Any, Any], start: float, end: float) -> None:
    import dns.dnssec

    dns.dnssec.sign_zone(zone, keys=[key], inception=int(start), expiration=int(end))


def ds_text(owner: str, dnskey: Any) -> str:
    """``OWNER DS ...`` of ``dnskey`` (SHA-256 digest)."""
    import dns.dnssec

    return f"{owner} DS {dns.dnssec.make_ds(owner, dnskey, 'SHA256').to_text()}"


def signed_zone(origin: str, now: float, *, days: int = 30) -> tuple[Any, str]:
    """One zone at ``origin`` signed with a key of its own, valid around ``now``; its DS."""
    key = _key()
    zone = _zone(origin)
    _sign(zone, key, now - DAY, now + days * DAY)
    return zone, ds_text(origin, key[1])


def signed_tree(top: str, children: Mapping[str, str], now: float, *, days: int = 30) -> SignedTree:
    """The tree of the module's docstring: ``top`` signed, and each child (label ->
    one of :data:`FAULTS`) below it, freshly keyed and signed for ``now``."""
    import dns.dnssec
    import dns.name
    import dns.rdataset

    valid = (now - DAY, now + days * DAY)
    windows = {
        "expired": (now - 60 * DAY, now - 30 * DAY),
        "not_yet_valid": (now + DAY, now + 31 * DAY),
    }
    zones: list[Any] = []
    delegations = ""
    for label, fault in children.items():
        if fault not in FAULTS:
            raise ValueError(f"{label}: {fault!r} is not one of {', '.join(FAULTS)}")
        origin = f"{label}.{top}"
        zone = _zone(origin)
        delegations += f"{label} 300 IN NS ns.{origin}\n"
        zones.append(zone)
        if fault == "unsigned":
            continue
        key = _key()
        _sign(zone, key, *windows.get(fault, valid))
        if fault == "nods":
            continue
        # A rollover gone wrong: the parent still names the old key, now unpublished.
        named = _key()[1] if fault == "rollover" else key[1]
        ds = dns.dnssec.make_ds(origin, named, "SHA256")
        delegations += f"{label} 300 IN DS {ds.to_text()}\n"
        if fault == "bogus":
            with zone.writer() as txn:  # changed after signing: the old RRSIG stays
                txn.replace(
                    dns.name.from_text(origin), dns.rdataset.from_text("IN", "A", 300, "127.0.0.9")
                )
    parent = _zone(top, delegations)
    key = _key()
    _sign(parent, key, *valid)
    return SignedTree(
        (parent, *zones),
        ds_text(top, key[1]),
        f"{top} DNSKEY {key[1].to_text()}",
        ds_text(top, _key()[1]),
    )


def lab_tree(now: float) -> tuple[SignedTree, tuple[Any, ...]]:
    """The lab's tree (signed for a year from ``now``), and every zone the lab serves
    for it: the tree's and :data:`LAB_OUTSIDE`."""
    tree = signed_tree(LAB_TOP, LAB_CHILDREN, now, days=365)
    outside, _ = signed_zone(LAB_OUTSIDE, now, days=365)
    return tree, (*tree.zones, outside)


def _name(label: str) -> str:
    return f"{label}.{LAB_TOP}".rstrip(".")


SCENARIO_NAMES: Final = {
    "dnssec_ok": _name("ok"),
    "dnssec_bogus": _name("bogus"),
    "dnssec_rollover": _name("rollover"),
    "dnssec_wrong_anchor": _name("ok"),
    "dnssec_expired": _name("expired"),
    "dnssec_not_yet_valid": _name("early"),
    "dnssec_insecure": _name("nods"),
    "dnssec_unsigned": _name("unsigned"),
    "dnssec_nodata": _name("nodata.ok"),
    "dnssec_outside": LAB_OUTSIDE.rstrip("."),
}
"""The name each ``dnssec_*`` scenario's ``dns://`` URL asks for (its A record)."""
WRONG_ANCHOR: Final = frozenset({"dnssec_wrong_anchor"})
"""Scenarios whose trust anchor is :attr:`SignedTree.other_ds`, not the lab's."""
