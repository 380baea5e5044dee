"""The network guard in a Python process a test started (tests/conftest.py puts this
folder first on the child's ``PYTHONPATH``): a violation is written to the file
``TETHER_NETWORK_GUARD_LOG`` names, which the suite reads after each test, and refused.

Not in a child that runs in a network namespace of its own (``unshare``, ``ip netns
exec``): there, the addresses beyond loopback are hosts the test made itself."""

from __future__ import annotations

import os
import sys


def _guard() -> None:
    log = os.environ.get("TETHER_NETWORK_GUARD_LOG")
    if not log:
        return
    try:
        here = os.stat("/proc/self/ns/net").st_ino
        if str(here) != os.environ.get("TETHER_NETWORK_GUARD_NETNS"):
            return
    except OSError:
        pass  # no /proc: one namespace

    import tether_netguard

    def report(message: str) -> None:
        command = " ".join(sys.argv)[:200]
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"{message} (in pid {os.getpid()}: {command})\n")

    tether_netguard.install(report)


_guard()
