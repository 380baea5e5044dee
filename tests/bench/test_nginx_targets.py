"""benchmarks/_targets.py's nginx targets, switched as ``bench_mass.py --targets nginx``
switches them: a real nginx on loopback, taken down and brought back by a reload."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers.bench_runs import bench_module

pytestmark = pytest.mark.bench

NGINX = Path("/usr/sbin/nginx")


def targets_module() -> ModuleType:
    return bench_module("_targets")


def listening(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except ConnectionRefusedError:
        return False


@pytest.mark.skipif(not NGINX.exists(), reason="needs nginx (Debian: apt-get install nginx-light)")
def test_a_reload_takes_every_address_down_and_brings_each_back(tmp_path: Path) -> None:
    """Down: every address refuses, and the times returned are when each was seen so,
    after the call began; the parking address answers instead.  Up: each answers
    ``200 ok`` again, on the same port."""
    hosts = ["127.0.66.1", "127.0.66.2", "127.0.66.3"]
    targets = targets_module().NginxTargets(hosts, str(tmp_path), workers=1, parking="127.0.67.1")
    try:
        addresses = list(targets.addresses)
        assert all(listening(a) for a in addresses)
        began = time.time()
        seen = targets.switch_all("down")
        assert len(seen) == len(addresses)
        assert all(began <= t <= time.time() for t in seen)
        assert not any(listening(a) for a in addresses)
        assert listening(f"127.0.67.1:{addresses[0].rsplit(':', 1)[1]}")
        targets.switch_all("up")
        assert targets.addresses == addresses
        for address in addresses:
            with urllib.request.urlopen(f"http://{address}/health/m000001", timeout=5) as got:
                assert (got.status, got.read()) == (200, b"ok\n")
    finally:
        targets.close()


@pytest.mark.skipif(not NGINX.exists(), reason="needs nginx (Debian: apt-get install nginx-light)")
def test_without_parking_the_addresses_cannot_go_down(tmp_path: Path) -> None:
    """No parking address, no configuration to reload onto (an ``http`` block with no
    ``listen`` would take port 80): refused, before nginx is signalled."""
    targets = targets_module().NginxTargets(["127.0.66.4"], str(tmp_path), workers=1)
    try:
        with pytest.raises(ValueError, match="parking="):
            targets.switch_all("down")
        assert listening(targets.addresses[0])
    finally:
        targets.close()


def test_the_cpu_of_children_waited_for_counts_with_children() -> None:
    """``proc_cpu(children=True)`` adds what ended children used (the workers a reload
    replaced, in the master's figure): a child that spent about 0.3 s of CPU and was
    waited for adds that to this process's figure with children, not to the one without."""
    proc_cpu = targets_module().proc_cpu
    own0 = proc_cpu("/proc/self/stat")
    with0 = proc_cpu("/proc/self/stat", children=True)
    busy = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    subprocess.run([sys.executable, "-c", busy], check=True)
    added = proc_cpu("/proc/self/stat", children=True) - with0
    own = proc_cpu("/proc/self/stat") - own0
    assert added - own >= 0.25, (added, own)
