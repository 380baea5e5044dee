"""Named network namespaces (`ip netns`) for the tests that build a topology of their own:
why they cannot be made here, if they cannot, and `ip` run for a step of the build."""

from __future__ import annotations

import os
import shutil
import subprocess


def why_no_netns() -> str | None:
    if os.geteuid() != 0:
        return "named network namespaces (ip netns) need root"
    if shutil.which("ip") is None:
        return "ip (iproute2) is not installed"
    probe = subprocess.run(
        ["ip", "netns", "add", f"tether-probe-{os.getpid()}"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        return f"ip netns add failed: {probe.stderr.decode().strip()}"
    subprocess.run(["ip", "netns", "del", f"tether-probe-{os.getpid()}"], check=False)
    return None


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)
