"""Running out for real, in child processes: the lab's exhaustion runner and the probe.

The matrix (``test_matrix.py``) drives every client through ``fd_limit``,
``pool_full`` and ``port_range``; this file checks the runner around those
cases (a child that fails is reported, never crashes the run; the test
runner's own limits are untouched) and the probe engine that ``tether
diagnose`` and the monitor share, in a private network namespace.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

import pytest

from tether import Kind
from tether.lab import Lab
from tether.lab._exhaust import EXHAUSTED, run_exhausted
from tether.lab._matrix import netns_available, scenarios_for


def test_fd_limit_runs_in_a_child_and_leaves_this_process_alone(lab: Lab) -> None:
    """A raw socket at its fd limit is classified in the child, and the test runner's
    own RLIMIT_NOFILE is the same afterwards."""
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    (scenario,) = scenarios_for(lab, ["fd_limit"])
    case = run_exhausted(scenario, "socket")
    assert (case.outcome, case.raised) == ("raised", "OSError"), case
    assert case.kind == case.expected == "connect.resource_exhausted"
    assert "Too many open files" in (case.message or "")
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == before


def test_a_child_that_fails_is_a_reported_case(lab: Lab) -> None:
    """A child that cannot run the case (here: a client the scenario does not take) gives
    a case that says why and disagrees with the expected kind, not an exception."""
    (scenario,) = scenarios_for(lab, ["pool_full"])
    assert "socket" not in EXHAUSTED["pool_full"].clients
    case = run_exhausted(scenario, "socket")
    assert (case.outcome, case.raised, case.kind) == ("raised", "the child process failed", None)
    assert not case.agrees
    assert "usage: python -m tether.lab._exhaust" in (case.message or "")


def test_the_child_refuses_bad_arguments_in_one_line() -> None:
    """Bad arguments: exit 2 and a usage line, no traceback."""
    done = subprocess.run(
        [sys.executable, "-m", "tether.lab._exhaust", "no_such", "requests", "http://x/"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "usage: python -m tether.lab._exhaust SCENARIO CLIENT URL"
    assert done.stdout == ""


_PROBE_CHILD = """
import json, socket
from tether.probe import probe

def kind(url):
    result = probe(url)
    return [str(result.failure.kind), result.failure.detail] if result.failure else None

out = {}
listener = socket.create_server(("127.0.0.1", 8080), backlog=64)
held = []
while len(held) < 64:
    sock = socket.socket()
    try:
        sock.connect(("127.0.0.1", 8080))
    except OSError:
        sock.close()
        break
    held.append(sock)
out["held"] = len(held)
out["ports_used_up"] = kind("http://127.0.0.1:8080/")
for sock in held:
    sock.close()
with open("/proc/sys/net/ipv6/conf/lo/disable_ipv6", "w") as f:
    f.write("1")
out["ipv6_literal"] = kind("http://[::1]:8080/")
out["ipv6_only_name"] = kind("http://v6only.test:8080/")
print(json.dumps(out))
"""

_PROBE_SETUP = """set -e
ip link set lo up
echo "40000 40001" > /proc/sys/net/ipv4/ip_local_port_range
mount --bind "$HOSTS" /etc/hosts
exec "$PYTHON" -c "$CHILD"
"""


@pytest.mark.netns
def test_the_probe_tells_used_up_ports_from_no_ipv6(tmp_path: object) -> None:
    """In a private namespace with two ephemeral ports, both held, the probe's own connect
    fails with EADDRNOTAVAIL: connect.resource_exhausted.  The same errno towards ::1 with
    IPv6 switched off (as a literal, and as a name whose only address is ::1) is
    connect.unreachable."""
    why_not = netns_available()
    if why_not is not None:
        if os.environ.get("TETHER_REQUIRE_NETNS"):
            pytest.fail(f"TETHER_REQUIRE_NETNS is set but no namespace can be made: {why_not}")
        pytest.skip(f"no private network namespace here: {why_not}")
    hosts = os.path.join(str(tmp_path), "hosts")
    with open(hosts, "w") as f:
        f.write("::1 v6only.test\n")
    done = subprocess.run(
        ["unshare", "-rmn", "sh", "-c", _PROBE_SETUP],
        env={**os.environ, "PYTHON": sys.executable, "CHILD": _PROBE_CHILD, "HOSTS": hosts},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["held"] == 2
    kind, detail = out["ports_used_up"]
    assert kind == Kind.CONNECT_RESOURCE_EXHAUSTED
    assert detail.endswith("no local port was free for another connection (EADDRNOTAVAIL)")
    for case in ("ipv6_literal", "ipv6_only_name"):
        kind, detail = out[case]
        assert kind == Kind.CONNECT_UNREACHABLE, (case, detail)
        assert "IPv6 address" in detail


_PROBE_FD_CHILD = """
import asyncio, json, sys
from tether.lab._exhaust import _no_fds_left
from tether.probe import probe_async

async def go(url):
    await probe_async(url)  # loads what the probe imports on first use
    for _ in range(5):  # let the loop finish closing that probe's socket
        await asyncio.sleep(0)
    with _no_fds_left():
        result = await probe_async(url)
    failure = result.failure
    print(json.dumps([str(failure.kind), failure.detail] if failure else None))

asyncio.run(go(sys.argv[1]))
"""


def test_the_probe_at_its_fd_limit(lab: Lab) -> None:
    """A monitor that leaks descriptors: the probe, run in a child at its fd limit, reports
    connect.resource_exhausted with EMFILE instead of crashing or saying unknown."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE_FD_CHILD, lab["healthy"].url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    kind, detail = json.loads(done.stdout.strip().splitlines()[-1])
    assert kind == Kind.CONNECT_RESOURCE_EXHAUSTED
    assert "(EMFILE)" in detail
