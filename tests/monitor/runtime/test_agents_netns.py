"""`tether agent` for real: agents in network namespaces of the test's own, each of which
can reach the monitor's HTTPS port and nothing else of the monitor's network, reporting
to a real `tether monitor` behind a TLS-terminating proxy (as nginx stands in front of
one), with real certificates (trustme).

Topology (made here with `ip netns`, torn down after):

```
 branch-N ── veth 10.79.N.0/24 ──► hq: the proxy on 10.79.0.1:8443 → the monitor on its 127.0.0.1
    │                                   (and its webhook receiver, on hq's own loopback)
    └──── veth 10.81.N.0/24 ──► svc: the target 10.77.0.1:8080 (the quorum test)
```

A branch routes to 10.79.0.1/32 alone on the monitor's side; nothing else of hq listens on
that address.  The monitor's SQLite file is read from this process (a file: network
namespaces do not separate it).  Real processes on real time: each step polls with a bound.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.helpers.netns import ip, why_no_netns
from tests.helpers.processes import running, wait_for

SERVER = "10.79.0.1"
TARGET = "10.77.0.1"
PROXY = str(Path(__file__).parents[2] / "helpers" / "tls_proxy.py")
SRC = str(Path(__file__).parents[3] / "src")
BRANCH_TARGET = "10.80.0.1"
MONITOR_PORT, HOOK_PORT = 8800, 9000

_TARGET = r"""
import os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
flag = sys.argv[3]

class Target(BaseHTTPRequestHandler):
    def do_GET(self):
        code = 503 if os.path.exists(flag) else 200
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Target)
print("ready", flush=True)
server.serve_forever(0.05)
"""

_HOOK = r"""
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
out = open(sys.argv[2], "a", buffering=1)

class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        out.write(json.dumps(json.loads(body)) + "\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Hook)
print("ready", flush=True)
server.serve_forever(0.05)
"""

_ASK = r"""
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
    sys.stdout.write(r.read().decode())
"""


def _needs_netns() -> None:
    why_not = why_no_netns()
    if why_not is not None:
        if os.environ.get("TETHER_REQUIRE_NETNS"):
            pytest.fail(f"TETHER_REQUIRE_NETNS is set but {why_not}")
        pytest.skip(why_not)


@contextmanager
def topology(branches: int, *, svc: bool) -> Iterator[dict[str, str]]:
    """``hq``, ``branch-1``..``branch-N`` and, with ``svc``, the target's namespace."""
    tag = f"a{os.getpid() % 100000}"
    roles = ["hq", *(f"branch-{n}" for n in range(1, branches + 1))] + (["svc"] if svc else [])
    names = {role: f"tether-{tag}-{role}" for role in roles}
    try:
        for name in names.values():
            ip("netns", "add", name)
            ip("-n", name, "link", "set", "lo", "up")
        hq = names["hq"]
        ip("-n", hq, "addr", "add", f"{SERVER}/32", "dev", "lo")
        if svc:
            ip("-n", names["svc"], "addr", "add", f"{TARGET}/32", "dev", "lo")
        for n in range(1, branches + 1):
            ns = names[f"branch-{n}"]
            near, far = f"v{tag}{n}h", f"v{tag}{n}H"
            ip("link", "add", near, "netns", ns, "type", "veth", "peer", "name", far, "netns", hq)
            ip("-n", ns, "addr", "add", f"10.79.{n}.2/24", "dev", near)
            ip("-n", hq, "addr", "add", f"10.79.{n}.1/24", "dev", far)
            ip("-n", ns, "link", "set", near, "up")
            ip("-n", hq, "link", "set", far, "up")
            ip("-n", ns, "route", "add", f"{SERVER}/32", "via", f"10.79.{n}.1")
            if svc:
                near, far = f"v{tag}{n}s", f"v{tag}{n}S"
                ip(
                    "link", "add", near, "netns", ns, "type", "veth",
                    "peer", "name", far, "netns", names["svc"],
                )  # fmt: skip
                ip("-n", ns, "addr", "add", f"10.81.{n}.2/24", "dev", near)
                ip("-n", names["svc"], "addr", "add", f"10.81.{n}.1/24", "dev", far)
                ip("-n", ns, "link", "set", near, "up")
                ip("-n", names["svc"], "link", "set", far, "up")
                ip("-n", ns, "route", "add", f"{TARGET}/32", "via", f"10.81.{n}.1")
        if svc:  # hq probes the target too (its own location), over a veth of its own
            near, far = f"v{tag}0s", f"v{tag}0S"
            ip(
                "link", "add", near, "netns", hq, "type", "veth",
                "peer", "name", far, "netns", names["svc"],
            )  # fmt: skip
            ip("-n", hq, "addr", "add", "10.81.0.2/24", "dev", near)
            ip("-n", names["svc"], "addr", "add", "10.81.0.1/24", "dev", far)
            ip("-n", hq, "link", "set", near, "up")
            ip("-n", names["svc"], "link", "set", far, "up")
            ip("-n", hq, "route", "add", f"{TARGET}/32", "via", "10.81.0.1")
        yield names
    finally:
        for name in names.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


class World:
    """The processes of one test, started in their namespaces, and what they wrote."""

    def __init__(self, tmp: Path, names: dict[str, str], stack: ExitStack) -> None:
        self.tmp, self.names, self.stack = tmp, names, stack
        self.db = tmp / "tether.db"
        self.hooks = tmp / "hooks.jsonl"
        self.hooks.touch()
        self.procs: dict[str, subprocess.Popen[Any]] = {}
        ca = trustme.CA()
        leaf = ca.issue_cert(SERVER)
        self.cafile = tmp / "ca.pem"
        ca.cert_pem.write_to_path(str(self.cafile))
        self.cert, self.key = tmp / "server.pem", tmp / "server.key"
        leaf.cert_chain_pems[0].write_to_path(str(self.cert))
        leaf.private_key_pem.write_to_path(str(self.key))
        self.env = {**os.environ, "PYTHONPATH": SRC}

    def start(self, role: str, ns: str, args: list[str], *, ready: bool = False) -> None:
        proc = self.stack.enter_context(
            running(
                ["ip", "netns", "exec", self.names[ns], *args],
                self.tmp / f"{role}.log",
                env=self.env,
                piped=ready,
            )
        )
        if ready:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == b"ready", self.log(role)
        self.procs[role] = proc

    def log(self, role: str) -> str:
        path = self.tmp / f"{role}.log"
        return "\n".join(path.read_text().splitlines()[-40:]) if path.exists() else ""

    def monitor(self, config: Path) -> None:
        self.start(
            "monitor",
            "hq",
            [
                sys.executable,
                "-m",
                "tether.cli",
                "monitor",
                "--config",
                str(config),
                "--location",
                "hq",
            ],
        )

    def agent(self, n: int) -> None:
        token_file = self.tmp / f"agent-{n}.token"
        token_file.write_text(token(n) + "\n")
        self.start(
            f"agent-{n}",
            f"branch-{n}",
            [
                sys.executable, "-m", "tether.cli", "agent",
                "--server", f"https://{SERVER}:8443",
                "--location", f"branch-{n}",
                "--token-file", str(token_file),
                "--cafile", str(self.cafile),
                "--spool", str(self.tmp / f"spool-{n}.db"),
            ],
        )  # fmt: skip

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if not self.db.exists():
            return []
        try:
            with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5) as conn:
                return list(conn.execute(sql).fetchall())
        except sqlite3.OperationalError:  # not migrated yet
            return []

    def states(self, monitor: str) -> dict[str, str]:
        """What each live location sees of ``monitor``, from its page's JSON (a single
        instance keeps the locations' states in memory, not in the store)."""
        doc = self.ask(f"/api/monitors/{monitor}", MONITOR_PORT) or {}
        return {w["location"]: w["state"] for w in doc.get("locations", []) if w["live"]}

    def state(self, monitor: str) -> str | None:
        """The monitor's state for the whole monitor (``/api/status``)."""
        status = self.ask("/api/status", MONITOR_PORT) or {}
        return status.get("monitors", {}).get(monitor)

    def alerts(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.hooks.read_text().splitlines()]

    def ask(self, path: str, port: int) -> Any:
        """GET ``path`` of the monitor, from inside hq (its loopback)."""
        done = subprocess.run(
            ["ip", "netns", "exec", self.names["hq"], sys.executable, "-c", _ASK,
             f"http://127.0.0.1:{port}{path}"],
            capture_output=True, check=False, timeout=20,
        )  # fmt: skip
        return json.loads(done.stdout) if done.returncode == 0 else None

    def wait(self, what: Any, limit: float = 60) -> Any:
        alive = [p for p in self.procs.values() if p.poll() is None]
        try:
            return wait_for(what, limit, alive)
        except AssertionError as exc:
            tails = "\n".join(f"--- {role}\n{self.log(role)}" for role in self.procs)
            raise AssertionError(f"{exc}\n{tails}") from None

    def serve_hq(self) -> None:
        """The webhook receiver and the TLS proxy in front of the monitor, in hq."""
        self.start(
            "hook", "hq", [sys.executable, "-c", _HOOK, str(HOOK_PORT), str(self.hooks)], ready=True
        )
        self.start(
            "proxy",
            "hq",
            [sys.executable, PROXY, str(self.cert), str(self.key), SERVER, "8443",
             "127.0.0.1", str(MONITOR_PORT)],
            ready=True,
        )  # fmt: skip

    def spooled(self, n: int) -> int:
        """Checks agent ``n``'s spool holds (the server has not taken them yet)."""
        path = self.tmp / f"spool-{n}.db"
        if not path.exists():
            return 0
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
                return int(conn.execute("SELECT count(*) FROM checks").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def token(n: int) -> str:
    return f"agent-token-for-branch-{n}-of-the-netns-test"


def config_text(db: Path, branches: int, monitors: str) -> str:
    from tether.monitor.config._passwords import hash_token

    tokens = ", ".join(
        f'{{name: b{n}, hash: "{hash_token(token(n))}", scope: agent, location: branch-{n}}}'
        for n in range(1, branches + 1)
    )
    locations = ", ".join(["hq", *(f"branch-{n}" for n in range(1, branches + 1))])
    return (
        f'storage: {{path: "{db}"}}\n'
        "workers: 1\n"
        f'server: {{listen: "127.0.0.1:{MONITOR_PORT}"}}\n'
        f"locations: [{locations}]\n"
        "agents: {lease: 6s, batch_every: 1s}\n"
        f"tokens: [{tokens}]\n"
        f'alerts: [{{name: ops, type: webhook, url: "http://127.0.0.1:{HOOK_PORT}/hook"}}]\n'
        f"monitors:\n{monitors}"
    )


OUTAGE = 30
"""Checks the agent spools while its server is stopped: half a minute at one a second, long
enough for its retries to reach their cap (four `batch_every`) and stay there."""


@pytest.mark.netns
@pytest.mark.timeout(300)
def test_an_agent_reports_through_an_outage_of_its_server_and_dies_visibly(tmp_path: Path) -> None:
    """An agent in a namespace that reaches only the monitor's HTTPS port probes a target
    of its own network: up, then down with one alert.  The monitor is stopped for half
    a minute of checks (the agent spools them) and started again: every spooled check is
    stored, placed in the outage, and no second alert is sent.  The target recovers: one
    resolved alert.  The agent is killed with SIGKILL: after its lease the location is not
    live, and the monitor is not down."""
    _needs_netns()
    config = tmp_path / "tether.yaml"
    config.write_text(
        config_text(
            tmp_path / "tether.db",
            1,
            f'  - {{name: intranet, url: "http://{BRANCH_TARGET}:8080/", locations: [branch-1],\n'
            "      interval: 1s, timeout: 500ms, failure_threshold: 1, alerts: [ops]}\n",
        )
    )
    flag = tmp_path / "failing"
    with topology(1, svc=False) as names, ExitStack() as stack:
        ip("-n", names["branch-1"], "addr", "add", f"{BRANCH_TARGET}/32", "dev", "lo")
        world = World(tmp_path, names, stack)
        world.start(
            "target",
            "branch-1",
            [sys.executable, "-c", _TARGET, BRANCH_TARGET, "8080", str(flag)],
            ready=True,
        )
        world.serve_hq()
        world.monitor(config)
        world.agent(1)
        world.wait(lambda: world.state("intranet") == "up", 90)

        flag.touch()
        world.wait(world.alerts, 30)
        assert [a["event"] for a in world.alerts()] == ["incident.opened"]

        # The monitor stops; the agent goes on probing, and spools.
        monitor = world.procs.pop("monitor")
        monitor.send_signal(signal.SIGTERM)
        monitor.wait(timeout=30)
        stopped = time.time()
        world.wait(lambda: world.spooled(1) >= OUTAGE, OUTAGE + 60)
        world.monitor(config)
        restarted = time.time()
        # Every spooled check arrives, placed in the outage (the agent's clock is ours).
        world.wait(lambda: world.spooled(1) == 0, 60)
        in_outage = world.rows(
            "SELECT count(*) FROM results WHERE monitor = 'intranet' "
            f"AND ts > {stopped + 1} AND ts < {restarted - 1}"
        )[0][0]
        assert in_outage >= OUTAGE - 5, in_outage
        # Nothing alerted twice: a few more batches through the restarted monitor first.
        seen = world.rows("SELECT count(*) FROM results")[0][0]
        world.wait(lambda: world.rows("SELECT count(*) FROM results")[0][0] >= seen + 3, 30)
        assert [a["event"] for a in world.alerts()] == ["incident.opened"]

        flag.unlink()
        world.wait(lambda: len(world.alerts()) == 2, 30)
        assert [a["event"] for a in world.alerts()] == ["incident.opened", "incident.resolved"]

        # SIGKILL: nothing said; the lease runs out and the location is not live.
        agent = world.procs.pop("agent-1")
        agent.kill()
        agent.wait(timeout=30)
        listed = world.wait(
            lambda: (
                (found := world.ask("/api/agents", MONITOR_PORT))
                and not found["agents"][0]["live"]
                and found
            ),
            30,
        )
        assert listed["agents"][0]["location"] == "branch-1"
        assert world.state("intranet") not in ("down", None)
        assert len(world.alerts()) == 2


@pytest.mark.netns
@pytest.mark.timeout(300)
def test_two_agents_and_the_monitor_in_a_quorum_one_agent_cut_is_partial(tmp_path: Path) -> None:
    """The monitor's own location and two agents' probe one target, quorum by majority.
    One agent's path to the target is cut: its location is down, a partial incident
    names it, and no alert is sent; the other two stay up."""
    _needs_netns()
    config = tmp_path / "tether.yaml"
    config.write_text(
        config_text(
            tmp_path / "tether.db",
            2,
            f'  - {{name: api, url: "http://{TARGET}:8080/", interval: 1s, timeout: 500ms,\n'
            "      failure_threshold: 1, alerts: [ops]}\n",
        )
    )
    with topology(2, svc=True) as names, ExitStack() as stack:
        world = World(tmp_path, names, stack)
        world.start(
            "target",
            "svc",
            [sys.executable, "-c", _TARGET, TARGET, "8080", str(tmp_path / "never")],
            ready=True,
        )
        world.serve_hq()
        world.monitor(config)
        world.agent(1)
        world.agent(2)
        everyone = {"hq": "up", "branch-1": "up", "branch-2": "up"}
        world.wait(lambda: world.states("api") == everyone, 90)

        ip("-n", names["branch-2"], "route", "replace", "unreachable", f"{TARGET}/32")
        world.wait(lambda: world.states("api").get("branch-2") == "down", 30)
        partial = world.wait(
            lambda: world.rows(
                "SELECT detail FROM incidents WHERE key = 'partial:api' AND resolved IS NULL"
            ),
            30,
        )
        assert "branch-2" in partial[0][0]
        seen = world.rows("SELECT count(*) FROM results")[0][0]
        world.wait(lambda: world.rows("SELECT count(*) FROM results")[0][0] >= seen + 9, 30)
        assert world.states("api") == {**everyone, "branch-2": "down"}
        assert world.rows("SELECT count(*) FROM outbox") == [(0,)]
        assert world.alerts() == []
