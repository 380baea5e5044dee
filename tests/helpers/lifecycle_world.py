"""The lifecycle matrix's world (tests/monitor/lifecycle/test_lifecycle_matrix.py): a real
deployment of `tether monitor` in one of its shapes, a `tether agent` reporting to it, an
HTTP target per row whose answers the test sets, two webhook receivers, and the lifecycle
events done to the deployment for real (signals to real processes).

Shapes: ``one`` (one process on SQLite), ``workers`` (one coordinator and two worker
processes on SQLite), ``pg2`` (two instances on one PostgreSQL schema; the first leads,
the agent reports to the second).  Events: ``sigterm`` (every instance stopped with
SIGTERM and started again), ``sighup`` (every instance reloads the same file),
``kill9`` (every instance killed with SIGKILL and started again) and, on ``pg2``,
``takeover`` (the leader killed with SIGKILL: the other takes its shards and the lead).

Everything is on real time: every wait polls a condition with a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from tests.helpers.alerts_receiver import Receiver
from tests.helpers.ports import free_port
from tests.helpers.processes import running
from tests.helpers.processes import wait_for as poll

SRC = str(Path(__file__).parents[2] / "src")
AGENT_TOKEN = "lifecycle-agent-token-for-branch-1"
API_TOKEN = "lifecycle-write-token-the-rows-ask-with"
"""What :meth:`World.api` sends: a row may configure users (the dashboard is then no
longer open on loopback)."""
Shape = Literal["one", "workers", "pg2"]
Event = Literal["sigterm", "sighup", "kill9", "takeover"]
Mode = Literal["ok", "503", "flap", "down"]

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""Asks the monitor with no proxy, whatever this process's environment says."""


class Target:
    """An HTTP target on ``host`` answering as :attr:`mode` says: ``ok`` (200), ``503``,
    ``flap`` (200 and 503 in turn, request by request) or ``down`` (its port refuses)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, free_port()
        self.mode: Mode = "ok"
        self._served = 0
        self._server: ThreadingHTTPServer | None = None
        self._start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def set(self, mode: Mode) -> None:
        if mode == "down":
            self._stop()
        elif self._server is None:
            self._start()
        self.mode = mode

    def _answer(self) -> int:
        if self.mode == "flap":
            self._served += 1
            return 200 if self._served % 2 else 503
        return 503 if self.mode == "503" else 200

    def _start(self) -> None:
        answer = self._answer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(answer())
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True

        self._server = Server((self.host, self.port), Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def _stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def close(self) -> None:
        self._stop()


@dataclass
class Page:
    """One alert a receiver took (each key once: a delivery is at least once, and a
    receiver drops a key it has seen, as docs/monitor.md asks)."""

    channel: str
    doc: dict[str, Any]

    @property
    def event(self) -> str:
        return str(self.doc["event"])

    @property
    def monitor(self) -> str:
        return str(self.doc["monitor"])

    @property
    def at(self) -> float:
        """When the monitor made it (its ``at``, Unix seconds)."""
        return datetime.fromisoformat(str(self.doc["at"]).replace("Z", "+00:00")).timestamp()


@dataclass
class Instance:
    """One `tether monitor` process of the deployment, on a port of its own."""

    name: str
    config: Path
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    stack: ExitStack = field(default_factory=ExitStack)

    def start(self, env: dict[str, str]) -> None:
        args = [sys.executable, "-m", "tether.cli", "monitor", "--config", str(self.config)]
        args += ["--location", "local"]
        self.stack = ExitStack()
        self.proc = self.stack.enter_context(running(args, self.log, env=env))

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float = 30) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout=timeout)
        self.stack.close()
        self.proc = None
        return code

    def tail(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-30:])


class World:
    """One deployment of ``shape`` with the monitors the rows give, its agent, targets and
    receivers; what the rows read and do through it."""

    def __init__(self, shape: Shape, tmp: Path, stack: ExitStack, dsn: str | None) -> None:
        self.shape, self.tmp, self.stack, self.dsn = shape, tmp, stack, dsn
        self.db = tmp / "tether.db"
        self.ops, self.oncall = Receiver(), Receiver()
        for r in (self.ops, self.oncall):
            r.start()
            stack.callback(r.stop)
        self.targets: list[Target] = []
        self.dead_proxy = free_port()
        """Where the agent's HTTP proxy would be: nothing listens (branch-1's way out is cut
        for every target but those on 127.0.0.3, which it reaches directly)."""
        count = 2 if shape == "pg2" else 1
        self.instances = [
            Instance(f"i{n}", tmp / f"i{n}.yaml", free_port(), tmp / f"i{n}.log")
            for n in range(1, count + 1)
        ]
        self.agent_log = tmp / "agent.log"
        self.agent: subprocess.Popen[bytes] | None = None
        self.env = {**os.environ, "PYTHONPATH": SRC}
        for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            self.env.pop(name, None)
            self.env.pop(name.upper(), None)
        self.event_at = 0.0
        """When the event began (wall clock)."""
        self.back_at = 0.0
        """When the deployment was back after it (wall clock)."""
        self.started_at = time.time()
        stack.callback(self._close)

    # -- the deployment ----------------------------------------------------------------

    def target(self, host: str = "127.0.0.1") -> Target:
        t = Target(host)
        self.targets.append(t)
        return t

    def write_config(self, monitors: Sequence[str], sections: Sequence[str] = ()) -> None:
        """Each instance's file: the deployment's settings, ``sections`` (top-level YAML,
        each whole) and ``monitors`` (one line each)."""
        from tether.monitor.config._passwords import hash_token

        storage = f'{{postgres: "{self.dsn}"}}' if self.dsn else f'{{path: "{self.db}"}}'
        workers = 2 if self.shape == "workers" else 1
        for inst in self.instances:
            inst.config.write_text(
                f"storage: {storage}\n"
                f"workers: {workers}\n"
                f'server: {{listen: "127.0.0.1:{inst.port}"}}\n'
                "cluster: {lease: 4s}\n"
                "locations: [local, branch-1]\n"
                "agents: {batch_every: 1s}\n"
                f'tokens: [{{name: b1, hash: "{hash_token(AGENT_TOKEN)}", scope: agent, '
                "location: branch-1},\n"
                f'         {{name: rows, hash: "{hash_token(API_TOKEN)}", scope: write}}]\n'
                "alerts:\n"
                f'  - {{name: ops, type: webhook, url: "{self.ops.url}"}}\n'
                f'  - {{name: oncall, type: webhook, url: "{self.oncall.url}"}}\n'
                "defaults: {interval: 1s, timeout: 800ms, locations: [local], alerts: [ops]}\n"
                + "".join(sections)
                + "monitors:\n"
                + "".join(f"  - {m}\n" for m in monitors)
            )

    def start(self) -> None:
        """Every instance (the first leading before the second starts), then the agent."""
        for n, inst in enumerate(self.instances):
            inst.start(self.env)
            self.wait(lambda i=inst: self._answers(i), 60)
            if self.shape == "pg2" and n == 0:
                self.wait(lambda i=inst: self.leader() == i.proc.pid if i.proc else False, 60)
        if self.agent is None:
            self._start_agent()

    def _start_agent(self) -> None:
        token = self.tmp / "agent.token"
        token.write_text(AGENT_TOKEN + "\n")
        server = self.instances[-1]  # pg2: the one a takeover keeps
        proxy = f"http://127.0.0.1:{self.dead_proxy}"
        env = {**self.env, "http_proxy": proxy, "no_proxy": "127.0.0.3"}
        args = [
            sys.executable, "-m", "tether.cli", "agent",
            "--server", f"http://127.0.0.1:{server.port}",
            "--location", "branch-1",
            "--token-file", str(token),
            "--spool", str(self.tmp / "spool.db"),
        ]  # fmt: skip
        self.agent = self.stack.enter_context(running(args, self.agent_log, env=env))

    def _answers(self, inst: Instance) -> bool:
        try:
            self.api("/api/status", inst)
        except (OSError, ValueError):
            return False
        return True

    def do(self, event: Event) -> None:
        """The lifecycle event, for real; returns once the deployment is back."""
        self.event_at = time.time()
        if event == "sighup":
            sizes = [inst.log.stat().st_size for inst in self.instances]
            for inst in self.instances:
                inst.signal(signal.SIGHUP)
            for inst, size in zip(self.instances, sizes, strict=True):
                self.wait(lambda i=inst, s=size: "reloaded" in i.log.read_text()[s:], 30)
        elif event == "takeover":
            assert self.shape == "pg2", "a takeover needs two instances"
            first, second = self.instances
            first.signal(signal.SIGKILL)
            first.wait_exit()
            assert second.proc is not None
            pid = second.proc.pid
            self.wait(lambda: self.leader() == pid and self.holders() == {pid}, 60)
        else:
            sig = signal.SIGTERM if event == "sigterm" else signal.SIGKILL
            for inst in self.instances:
                inst.signal(sig)
            for inst in self.instances:
                code = inst.wait_exit()
                want = 0 if sig is signal.SIGTERM else -signal.SIGKILL
                assert code == want, f"{inst.name} exited {code}:\n{inst.tail()}"
            self.start()
        self.back_at = time.time()

    def _close(self) -> None:
        for inst in self.instances:
            inst.stack.close()
        for t in self.targets:
            t.close()

    # -- what the rows read --------------------------------------------------------------

    def alive(self) -> list[subprocess.Popen[bytes]]:
        procs = [inst.proc for inst in self.instances if inst.proc is not None]
        return procs + ([self.agent] if self.agent is not None else [])

    def wait(self, what: Callable[[], Any], limit: float = 60) -> Any:
        """``what()`` once truthy within ``limit`` seconds; fails at once if a process of
        the deployment exits, with the tails of their logs."""
        try:
            return poll(what, limit, self.alive())
        except AssertionError as exc:
            tails = "\n".join(f"--- {i.name}\n{i.tail()}" for i in self.instances)
            raise AssertionError(f"{exc}\n{tails}") from None

    def api(self, path: str, inst: Instance | None = None, body: Any = None) -> Any:
        """``path`` of the monitor (the last instance: the one a takeover keeps); POST
        with ``body``."""
        inst = inst or self.instances[-1]
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        request = urllib.request.Request(
            f"http://127.0.0.1:{inst.port}{path}",
            data=data,
            headers={"Content-Type": "application/json", **headers} if data else headers,
            method="GET" if data is None else "POST",
        )
        with _DIRECT.open(request, timeout=10) as answer:
            return json.loads(answer.read())

    def state(self, monitor: str) -> str | None:
        """``monitor``'s state for the whole cluster, as ``/api/status`` says it."""
        try:
            found = self.api("/api/status").get("monitors", {}).get(monitor)
        except (OSError, ValueError):
            return None
        return None if found is None else str(found)

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        """Rows of ``query`` on the deployment's store (SQLite or PostgreSQL; write it in
        the SQL both speak)."""
        if self.dsn is not None:
            import psycopg

            with psycopg.connect(self.dsn) as conn:
                try:
                    return list(conn.execute(query).fetchall())  # type: ignore[arg-type]
                except psycopg.errors.UndefinedTable:
                    return []
        if not self.db.exists():
            return []
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            return list(conn.execute(query).fetchall())
        except sqlite3.OperationalError:  # not migrated yet
            return []
        finally:
            conn.close()

    def results(self, monitor: str, after: float = 0.0, *, failed: bool = False) -> int:
        """How many results of ``monitor`` are stored from ``after`` on."""
        more = " AND NOT ok" if failed else ""
        rows = self.sql(
            f"SELECT count(*) FROM results WHERE monitor = '{monitor}' AND ts >= {after}{more}"
        )
        return int(rows[0][0]) if rows else 0

    def open_incidents(self, monitor: str) -> list[dict[str, Any]]:
        """The open incidents ``monitor`` is in (from the store, as every instance reads
        it), each as ``/api/incidents/ID`` gives it."""
        rows = self.sql(
            "SELECT DISTINCT i.id FROM incidents i JOIN incident_members m ON m.incident = i.id "
            f"WHERE i.resolved IS NULL AND m.monitor = '{monitor}' ORDER BY i.id"
        )
        out = []
        for (incident,) in rows:
            try:
                out.append(self.api(f"/api/incidents/{incident}"))
            except urllib.error.HTTPError:
                continue
        return out

    def pages(self, monitor: str | None = None, event: str | None = None) -> list[Page]:
        """What the receivers took (each key once), oldest first."""
        seen: set[str] = set()
        out = []
        for name, receiver in (("ops", self.ops), ("oncall", self.oncall)):
            for _, body in list(receiver.got):
                doc = json.loads(body)
                key = f"{name}:{doc.get('key')}"
                if key in seen:
                    continue
                seen.add(key)
                page = Page(name, doc)
                if monitor is not None and page.monitor != monitor:
                    continue
                if event is not None and page.event != event:
                    continue
                out.append(page)
        return sorted(out, key=lambda p: p.at)

    # -- a cluster's leases ------------------------------------------------------------

    def leader(self) -> int | None:
        """The pid of the instance holding the leader's lease."""
        rows = self.sql("SELECT owner FROM tether_leases WHERE shard = -1 AND owner IS NOT NULL")
        return int(str(rows[0][0]).split(":")[1]) if rows else None

    def holders(self) -> set[int]:
        """The pids of the instances holding shards."""
        rows = self.sql(
            "SELECT DISTINCT owner FROM tether_leases WHERE shard >= 0 AND owner IS NOT NULL"
        )
        return {int(str(owner).split(":")[1]) for (owner,) in rows}


def spread(
    *steps: tuple[Callable[[], bool], Callable[[], object]],
) -> Iterator[tuple[Callable[[], bool], Callable[[], object]]]:
    """Steps of a row, in order: each action runs once its condition holds."""
    yield from steps
