"""Zones signed in the test, keys made here, for the ``dnssec`` checks: the lab's signer
(``tether.lab._signed``), served by the lab's DNS server (``tether.lab._dns.serve(...,
zones=...)``).

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
from threading import Thread
from typing import Any

from tether.lab import _dns
from tether.lab._signed import DAY, SignedTree, signed_tree, signed_zone

NOW = 1_800_000_000.0
"""The time the tests validate at (2027-01-15)."""
Signed = SignedTree

__all__ = ["DAY", "NOW", "Signed", "make_zones", "serving", "silent_apex"]


def make_zones() -> Signed:
    """The zones of the module's docstring, freshly keyed and signed."""
    children = {"good": "ok", "bogus": "bogus", "expired": "expired", "nods": "nods"}
    return signed_tree("test.", {**children, "plain": "unsigned"}, NOW)


@contextmanager
def serving(zones: tuple[Any, ...]) -> Iterator[str]:
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


def silent_apex() -> tuple[Any, str]:
    """A signed zone at ``silent.lab.test.``, the lab's name that is never answered: its
    records are (``www.silent.lab.test.``), its DNSKEY query is not.  With its DS."""
    return signed_zone("silent.lab.test.", NOW)
