"""``icmp://``: echo requests against the real kernel, which answers them on loopback.

Raw sockets as root in this namespace and in namespaces of the test's own (whose
``net.ipv4.ping_group_range`` keeps its default ``1 0``, so only raw works there); the
datagram ("ping") socket in a namespace whose range the test opens, run by a child that
has given up every capability (so no raw socket) and runs as group 65534; the one-line
error where neither is allowed; total loss (a route into ``lo`` for an address nobody
holds) and unreachable routes.  The waits between requests and for the replies go
through an injected sleep: no test waits on real time beyond the packets' own.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tether.diagnose import render_text
from tether.monitor.config._conditions import context_from_probe, parse_condition
from tether.probe import ProbeOptions, ProbeResult, probe_async
from tether.probe._icmp import checksum, echo_request
from tether.probe._target import InvalidTarget, echo_options, parse_target

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "raw ICMP sockets and named network namespaces (ip netns) need root"
    if shutil.which("ip") is None or shutil.which("setpriv") is None:
        return "ip (iproute2) and setpriv (util-linux) are needed"
    name = f"tether-icmp-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, check=False)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.decode().strip()}"
    subprocess.run(["ip", "netns", "del", name], check=False)
    return None


_WHY = _why_not()
needs_root = pytest.mark.skipif(
    _WHY is not None and not os.environ.get("TETHER_REQUIRE_NETNS"),
    reason=f"{_WHY} (CI sets TETHER_REQUIRE_NETNS=1 and requires these)",
)


class Naps:
    """An injected sleep: records each wait and returns at once (after letting the loop
    run, so replies already in the socket are read)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


def run(target: str, naps: Naps, **options: object) -> ProbeResult:
    return asyncio.run(probe_async(target, ProbeOptions(**options), sleep=naps))  # type: ignore[arg-type]


# -- the packet and the URL -------------------------------------------------------------


def test_the_checksum_is_rfc_1071s_and_a_packet_sums_to_zero() -> None:
    """RFC 1071's own example sums to 0xddf2 (so its checksum is 0x220d), an odd length is
    padded, and an echo request with its checksum sums to zero as a receiver checks it."""
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    assert checksum(b"\x01") == ~0x0100 & 0xFFFF
    packet = echo_request(2, 0x1234, 7, b"abc")
    assert packet[:2] == b"\x08\x00"
    assert packet[4:8] == b"\x12\x34\x00\x07"
    assert checksum(packet) == 0


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("icmp://127.0.0.1:80", "an icmp:// target has no port: write icmp://host"),
        ("icmp://127.0.0.1/x", "an icmp:// target has no path"),
        ("icmp://127.0.0.1?count=0", "count='0': give a number from 1 to 100"),
        ("icmp://127.0.0.1?count=x", "count='x': give a number from 1 to 100"),
        ("icmp://127.0.0.1?interval=1", "interval='1': give a duration from 10ms to 60s"),
        ("icmp://127.0.0.1?size=9", "unknown option 'size' in the icmp:// URL"),
    ],
)
def test_an_icmp_url_takes_count_and_interval_only(url: str, problem: str) -> None:
    """Each mistake in an icmp:// URL is one line saying what to write."""
    with pytest.raises(InvalidTarget, match="^" + problem.replace("?", r"\?")):
        parse_target(url)


def test_count_and_interval_are_read_with_defaults() -> None:
    """Three requests 200 ms apart unless the URL says otherwise."""
    default = echo_options(parse_target("icmp://[::1]"))
    assert (default.count, default.interval) == (3, 0.2)
    given = echo_options(parse_target("icmp://localhost?count=5&interval=1s"))
    assert (given.count, given.interval) == (5, 1.0)


def test_requests_that_cannot_all_be_sent_in_time_are_refused() -> None:
    """count x interval beyond the timeout is a url.invalid saying what to lower, and
    nothing is sent."""
    naps = Naps()
    result = run("icmp://127.0.0.1?count=30&interval=1s", naps, timeout=5.0)
    assert result.failure is not None
    assert result.failure.kind.value == "url.invalid"
    assert "30 echo requests 1 s apart take 29 s, more than the 5 s" in result.failure.detail
    assert naps.delays == []


# -- loopback in this namespace ---------------------------------------------------------


@needs_root
@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]"])
def test_loopback_answers_every_request(host: str) -> None:
    """The kernel answers all three: no loss, ordered round trips, the hop limit, the
    waits between requests through the injected sleep and no wait after the last."""
    naps = Naps()
    result = run(f"icmp://{host}", naps, timeout=5.0)
    assert result.ok, result.failure
    icmp = result.phase("icmp")
    assert icmp is not None
    d = icmp.details.to_json()
    assert (d["sent"], d["received"], d["loss_percent"]) == (3, 3, 0.0)
    assert 0 < d["rtt_min_ms"] <= d["rtt_avg_ms"] <= d["rtt_max_ms"] < 1000
    assert len(d["rtts_ms"]) == 3
    assert None not in d["rtts_ms"]
    assert d["address"] == host.strip("[]")
    assert d["socket"] in ("datagram", "raw")
    assert d["hop_limit"] == 64
    assert naps.delays[:2] == [0.2, 0.2]
    assert [p.name for p in result.phases] == ["url", "dns", "icmp"]


@needs_root
def test_concurrent_probes_keep_their_own_replies() -> None:
    """Eight probes at once to four loopback addresses (raw sockets all see every reply):
    each counts exactly its own requests' replies, from its own address."""
    naps = Naps()
    hosts = [f"127.0.0.{n % 4 + 1}" for n in range(8)]

    async def main() -> list[ProbeResult]:
        options = ProbeOptions(timeout=5.0)
        return list(
            await asyncio.gather(
                *(
                    probe_async(f"icmp://{h}?count=4&interval=10ms", options, sleep=naps)
                    for h in hosts
                )
            )
        )

    for host, result in zip(hosts, asyncio.run(main()), strict=True):
        icmp = result.phase("icmp")
        assert icmp is not None
        assert icmp.details.address == host
        assert (icmp.details.sent, icmp.details.received) == (4, 4)


@needs_root
def test_conditions_read_the_loss_and_the_average_round_trip() -> None:
    """[PACKET_LOSS] is a percentage and [RTT] the average round trip, shown resolved."""
    result = run("icmp://127.0.0.1?count=2&interval=10ms", Naps(), timeout=5.0)
    ctx = context_from_probe(result)
    loss = parse_condition("[PACKET_LOSS] < 20%").evaluate(ctx)
    assert loss.success
    assert str(loss.resolved) == "[PACKET_LOSS] (0%) < 20%"
    assert parse_condition("[RTT] < 1s").evaluate(ctx).success
    assert not parse_condition("[RTT] < 0ms").evaluate(ctx).success
    assert parse_condition("[PHASE].icmp < 10s").evaluate(ctx).success


@needs_root
def test_diagnose_renders_the_icmp_phase(tmp_path: Path) -> None:
    """The text report names the replies, the loss, the round trips and the socket; the
    JSON has the phase's details under the phase."""
    result = run("icmp://127.0.0.1?count=2&interval=10ms", Naps(), timeout=5.0)
    out = tmp_path / "out.txt"
    with out.open("w") as f:
        render_text([result], f)
    text = out.read_text()
    assert "127.0.0.1: 2 of 2 replies, 0% loss, rtt min/avg/max" in text
    assert "socket)" in text
    phases = result.to_dict()["phases"]
    assert phases[-1]["name"] == "icmp"
    assert {"sent", "received", "loss_percent", "rtt_avg_ms", "socket"} <= phases[-1].keys()


# -- namespaces of the test's own -------------------------------------------------------

_CHILD = r"""
import asyncio, json, os, sys
from tether.probe import ProbeOptions, probe_async, IcmpNotPermitted
delays = []
async def nap(s):
    delays.append(s)
    # A router's answer crosses two namespaces: that test waits on the real clock, and
    # shows that the answer ends the wait long before the timeout.
    await asyncio.sleep(s if os.environ.get("REAL_SLEEP") else 0)
async def main():
    out = []
    for url in sys.argv[1:]:
        try:
            r = await probe_async(url, ProbeOptions(timeout=2.0), sleep=nap)
        except IcmpNotPermitted as exc:
            out.append({"error": str(exc)})
            continue
        d = r.to_dict()
        out.append({"failure": d["failure"], "icmp": d["phases"][-1], "delays": list(delays)})
        delays.clear()
    print(json.dumps(out))
asyncio.run(main())
"""

_UNPRIVILEGED = [
    "setpriv",
    "--regid=65534",
    "--clear-groups",
    "--bounding-set=-all",
    "--inh-caps=-all",
]
"""A child with no capability at all (no CAP_NET_RAW: no raw socket) in group 65534.  Its
user stays 0 so that it can still read the interpreter under /root; what ICMP checks is
the capability (raw) and the group (ping_group_range), never the user."""


def set_sysctl(ns: str, key: str, value: str) -> None:
    """Write a sysctl of namespace ``ns`` through /proc (no procps needed): the net.*
    ones are the namespace's own."""
    path = "/proc/sys/" + key.replace(".", "/")
    subprocess.run(
        ["ip", "netns", "exec", ns, "sh", "-c", f'printf "%s" "$1" > {path}', "sh", value],
        check=True,
        capture_output=True,
    )


@contextmanager
def namespace(ping_group_range: str | None = None) -> Iterator[str]:
    """A network namespace with lo up, a route into lo for 10.99.0.0/24 (nobody holds
    those addresses: echoes vanish), an unreachable route and a blackhole route."""
    name = f"tether-icmp-{os.getpid()}"
    try:
        for args in (
            ["netns", "add", name],
            ["-n", name, "link", "set", "lo", "up"],
            ["-n", name, "route", "add", "10.99.0.0/24", "dev", "lo"],
            ["-n", name, "route", "add", "unreachable", "10.98.0.1"],
            ["-n", name, "route", "add", "blackhole", "10.98.0.2"],
        ):
            subprocess.run(["ip", *args], check=True, capture_output=True)
        if ping_group_range is not None:
            set_sysctl(name, "net.ipv4.ping_group_range", ping_group_range)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def in_namespace(
    name: str, *urls: str, unprivileged: bool = False, real_sleep: bool = False
) -> list[dict[str, object]]:
    command = ["ip", "netns", "exec", name, *(_UNPRIVILEGED if unprivileged else [])]
    done = subprocess.run(
        [*command, sys.executable, "-c", _CHILD, *urls],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC, **({"REAL_SLEEP": "1"} if real_sleep else {})},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out: list[dict[str, object]] = json.loads(done.stdout)
    return out


@needs_root
@pytest.mark.netns
def test_root_uses_a_raw_socket_where_the_ping_range_allows_no_group() -> None:
    """In a fresh namespace (ping_group_range "1 0") root gets its replies over raw
    sockets, IPv4 and IPv6."""
    with namespace() as ns:
        v4, v6 = in_namespace(
            ns, "icmp://127.0.0.1?count=2&interval=10ms", "icmp://[::1]?count=2&interval=10ms"
        )
    for got in (v4, v6):
        icmp = got["icmp"]
        assert isinstance(icmp, dict)
        assert (icmp["socket"], icmp["received"], got["failure"]) == ("raw", 2, None)
        assert got["delays"] == [0.01]


@needs_root
@pytest.mark.netns
def test_an_allowed_group_without_privilege_uses_a_datagram_socket() -> None:
    """With the group in ping_group_range and no capability, the ping socket answers,
    IPv4 and IPv6 (the one sysctl covers both)."""
    with namespace("0 2147483647") as ns:
        v4, v6 = in_namespace(
            ns,
            "icmp://127.0.0.1?count=2&interval=10ms",
            "icmp://[::1]?count=2&interval=10ms",
            unprivileged=True,
        )
    for got in (v4, v6):
        icmp = got["icmp"]
        assert isinstance(icmp, dict)
        assert (icmp["socket"], icmp["received"], icmp["loss_percent"]) == ("datagram", 2, 0.0)
        assert icmp["hop_limit"] == 64


@needs_root
@pytest.mark.netns
def test_neither_socket_allowed_is_one_line_naming_the_sysctl() -> None:
    """Outside the range and without CAP_NET_RAW: IcmpNotPermitted's one line names the
    sysctl, its value and the fix; ``tether diagnose`` prints it and exits 2."""
    with namespace() as ns:
        (got,) = in_namespace(ns, "icmp://127.0.0.1", unprivileged=True)
        cli = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                ns,
                *_UNPRIVILEGED,
                sys.executable,
                "-m",
                "tether.cli",
                "diagnose",
                "icmp://127.0.0.1",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": SRC},
            timeout=60,
            check=False,
        )
    error = str(got["error"])
    assert "net.ipv4.ping_group_range (1 0)" in error
    assert 'sysctl -w net.ipv4.ping_group_range="65534 65534"' in error
    assert "CAP_NET_RAW" in error
    assert "\n" not in error
    assert cli.returncode == 2
    assert cli.stderr == f"tether diagnose: {error}\n"


@needs_root
@pytest.mark.netns
def test_total_loss_is_a_timeout_and_a_refused_route_is_unreachable() -> None:
    """No reply at all: connect.timeout with 100% loss after waiting the rest of the
    timeout (through the sleep); an unreachable or blackhole route: connect.unreachable
    at once, saying which route."""
    with namespace() as ns:
        lost, unreachable, blackhole = in_namespace(
            ns,
            "icmp://10.99.0.5?count=2&interval=10ms",
            "icmp://10.98.0.1",
            "icmp://10.98.0.2",
        )
    failure, icmp = lost["failure"], lost["icmp"]
    assert isinstance(failure, dict)
    assert isinstance(icmp, dict)
    assert failure["kind"] == "connect.timeout"
    assert failure["detail"] == "no echo reply from 10.99.0.5 to 2 requests within 2 s"
    assert (icmp["sent"], icmp["received"], icmp["loss_percent"]) == (2, 0, 100.0)
    assert lost["delays"] == [0.01, 2.0 - 0.01]
    for got, route in ((unreachable, "an unreachable route"), (blackhole, "a blackhole route")):
        failure = got["failure"]
        assert isinstance(failure, dict)
        assert failure["kind"] == "connect.unreachable"
        assert route in failure["detail"]
        assert got["delays"] == []


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        (
            ", method: POST",
            "monitors[0].method: only http:// and https:// monitors send a request; "
            "this is icmp://",
        ),
        (
            ", tls: {min_days_left: 3}",
            "monitors[0].tls: only https://, wss://, tls://, smtp://, smtps://, grpcs:// and "
            "database monitors have a certificate; this is icmp://",
        ),
        (
            ", timeout: 1s",
            "monitors[0].url: 10 echo requests 200ms apart take 1s800ms, not less than the "
            "timeout of 1s: lower count= or interval=, or raise timeout",
        ),
    ],
)
def test_an_icmp_monitor_refuses_what_it_cannot_use(extra: str, error: str) -> None:
    """HTTP's and TLS's options on an icmp:// monitor, and requests that cannot all be
    sent within its timeout, are each one error naming the key."""
    from tether.monitor.config import ConfigError, parse_config

    text = f'monitors: [{{name: a, url: "icmp://127.0.0.1?count=10&interval=200ms"{extra}}}]'
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert str(caught.value) == error


@needs_root
def test_an_icmp_monitor_judges_its_conditions() -> None:
    """A monitor's check of icmp://127.0.0.1 passes [PACKET_LOSS] and [RTT] conditions
    with their values resolved, and fails one the round trips cannot meet."""
    from functools import partial

    from tether.monitor.checks._prober import Check, Prober
    from tether.monitor.config import parse_config

    config = parse_config(
        "monitors:\n"
        "  - {name: up, url: 'icmp://127.0.0.1?count=2&interval=10ms',"
        " conditions: ['[PACKET_LOSS] <= 0%', '[RTT] < 1s']}\n"
        "  - {name: strict, url: 'icmp://127.0.0.1?count=2&interval=10ms',"
        " conditions: ['[RTT] < 0ms']}\n"
    )
    prober = Prober(probe=partial(probe_async, sleep=Naps()))
    prober.assign(config.monitors)

    async def main() -> list[Check]:
        return [await prober.check(name, prober.mono()) for name in ("up", "strict")]

    up, strict = asyncio.run(main())
    assert up.record.ok, up.record.detail
    assert up.record.conditions[0] == "[PACKET_LOSS] (0%) <= 0%"
    assert "icmp" in up.record.phases
    assert not strict.record.ok
    assert strict.record.detail.startswith("condition not met: [RTT] (")


@contextmanager
def behind_a_router(ping_group_range: str | None) -> Iterator[str]:
    """A client namespace whose default route goes over a veth to a router namespace
    that forwards, with an ``unreachable`` route for 10.91.0.0/24: the router answers
    ICMP host unreachable (code 1) for those addresses."""
    client, router = f"tether-icmpc-{os.getpid()}", f"tether-icmpr-{os.getpid()}"
    near, far = f"vi{os.getpid()}a", f"vi{os.getpid()}b"
    try:
        for args in (
            ["netns", "add", client],
            ["netns", "add", router],
            ["-n", client, "link", "set", "lo", "up"],
            [
                "link",
                "add",
                near,
                "netns",
                client,
                "type",
                "veth",
                "peer",
                "name",
                far,
                "netns",
                router,
            ],
            ["-n", client, "addr", "add", "10.90.0.2/24", "dev", near],
            ["-n", router, "addr", "add", "10.90.0.1/24", "dev", far],
            ["-n", client, "link", "set", near, "up"],
            ["-n", router, "link", "set", far, "up"],
            ["-n", client, "route", "add", "default", "via", "10.90.0.1"],
            ["-n", router, "route", "add", "unreachable", "10.91.0.0/24"],
        ):
            subprocess.run(["ip", *args], check=True, capture_output=True)
        settings = [("net.ipv4.ip_forward", "1", router)]
        if ping_group_range is not None:
            settings.append(("net.ipv4.ping_group_range", ping_group_range, client))
        for key, value, ns in settings:
            set_sysctl(ns, key, value)
        yield client
    finally:
        for ns in (client, router):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


@needs_root
@pytest.mark.netns
@pytest.mark.parametrize(
    ("ping_group_range", "socket_kind"), [(None, "raw"), ("0 2147483647", "datagram")]
)
def test_an_icmp_unreachable_from_a_router_is_connect_unreachable(
    ping_group_range: str | None, socket_kind: str
) -> None:
    """A router's ICMP host unreachable ends the wait at once (the probe does not sit out
    its timeout) and names the router, over a raw socket (read from the packet) and a
    ping socket (read from its error queue) alike."""
    with behind_a_router(ping_group_range) as ns:
        (got,) = in_namespace(
            ns, "icmp://10.91.0.5?count=1", unprivileged=socket_kind == "datagram", real_sleep=True
        )
    failure, icmp = got["failure"], got["icmp"]
    assert isinstance(failure, dict)
    assert isinstance(icmp, dict)
    assert icmp["socket"] == socket_kind
    assert failure["kind"] == "connect.unreachable"
    assert failure["detail"] == (
        "10.91.0.5 is unreachable: 10.90.0.1 answered ICMP unreachable (code 1)"
    )
    assert icmp["ms"] < 1000  # the 2 s timeout was not waited out


_MONITOR_CHILD = r"""
import asyncio, json
from tether.monitor.checks._prober import Prober
from tether.monitor.config import parse_config
config = parse_config("monitors: [{name: ping, url: 'icmp://127.0.0.1'}]")
prober = Prober()
prober.assign(config.monitors)
check = asyncio.run(prober.check("ping", prober.mono()))
r = check.record
print(json.dumps({"ok": r.ok, "kind": r.kind.value if r.kind else None, "detail": r.detail}))
"""


@needs_root
@pytest.mark.netns
def test_a_monitor_that_may_not_send_icmp_fails_its_check_saying_how_to_allow_it() -> None:
    """Where neither socket may be opened, the monitor's check is a failed one whose
    detail is the one line naming the sysctl, and the log says it without a traceback."""
    with namespace() as ns:
        done = subprocess.run(
            ["ip", "netns", "exec", ns, *_UNPRIVILEGED, sys.executable, "-c", _MONITOR_CHILD],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": SRC},
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["ok"] is False
    assert got["kind"] == "unknown"
    assert got["detail"].startswith("cannot send ICMP echo requests: this process's group")
    assert "net.ipv4.ping_group_range" in got["detail"]
    assert "Traceback" not in done.stderr


def test_an_icmp_checks_latency_is_its_round_trip_not_its_series() -> None:
    """Issue 24: an ICMP monitor's latency was the whole echo series (about 401 ms for
    127.0.0.1 at the defaults), not the round trip (0.3 ms).  Judged on the phase the
    probe makes (a pure function): the latency and the stored icmp phase are the average
    round trip, and a passing check says ping's summary, loss included."""
    from tether.monitor.checks._judge import judge
    from tether.monitor.config import parse_config
    from tether.probe import IcmpDetails, Phase, ProbeResult

    (m,) = parse_config("monitors: [{name: ping, url: 'icmp://127.0.0.1'}]").monitors
    details = IcmpDetails(4, "127.0.0.1", "datagram", 3, 25.0, 0.21, 0.3, 0.41)
    result = ProbeResult("icmp://127.0.0.1", (Phase("icmp", True, 401.2, details),), None)
    record = judge(m, [], result, now=0.0)
    assert record.ok
    assert record.latency_ms == 0.3
    assert record.phases == {"icmp": 0.3}
    assert record.detail == "3/4 replies, 25% loss, round trip min/avg/max 0.21/0.3/0.41 ms"


def test_a_real_icmp_check_reports_the_round_trip() -> None:
    """The same through the real prober and probe to 127.0.0.1: the latency is the
    round trip the probe measured, which is under the series' own time."""
    from functools import partial

    from tether.monitor.checks._prober import Prober
    from tether.monitor.config import parse_config

    config = parse_config("monitors: [{name: ping, url: 'icmp://127.0.0.1?count=3&interval=10ms'}]")
    prober = Prober(probe=partial(probe_async, sleep=Naps()))
    prober.assign(config.monitors)
    check = asyncio.run(prober.check("ping", prober.mono()))
    assert check.record.ok, check.record.detail
    assert check.record.detail is not None
    assert check.record.detail.startswith("3/3 replies, 0% loss, round trip min/avg/max ")
    avg = float(check.record.detail.rsplit(" ", 2)[1].split("/")[1])
    assert check.record.latency_ms == avg
