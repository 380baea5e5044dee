"""The lifecycle matrix's row "the discovered set" (issue 44 sections 1 and 4), on real
``tether monitor`` processes: the set an ``http_sd`` source made survives a SIGTERM and
start, a SIGHUP reload of the same file, a ``kill -9`` and start (one process, and
``workers: 2``), and on PostgreSQL a takeover: with the source refusing by then, the
discovered monitors are still run, probed, shown by ``/api/status`` and ``tether
status``, and stored; none is removed, the source is said failing once.

Written as a row the matrix can take (:data:`ROW`): a configuration fragment, how to
bring the feature into its state, what must hold after any event; the events are this
file's own until the matrix folds it in.  Real time, polled with bounds.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cluster_processes import Target
from tests.helpers.ports import free_port
from tests.helpers.postgres_server import PostgresServer
from tests.helpers.processes import running, wait_for
from tests.helpers.tether_processes import SRC, tether

LIMIT = 30.0
"""Seconds any one step may take on a busy machine (a start, a first check)."""


class Inventory:
    """An ``http_sd`` source on loopback: answers its targets while up; down, its port
    refuses."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self.port = free_port()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sd"

    def up(self) -> None:
        inventory = self

        class Answer(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps([{"targets": inventory.targets, "labels": {"team": "pay"}}])
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", self.port), Answer)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@dataclass
class World:
    """What a row's steps act on and read: the file, the processes' logs, the
    ``/api/status`` of each instance, and the row's own things (here: the source)."""

    folder: Path
    config: Path
    ports: list[int]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    own: dict[str, Any] = field(default_factory=dict)

    def status(self, port: int | None = None) -> dict[str, Any]:
        import urllib.request

        url = f"http://127.0.0.1:{port or self.ports[0]}/api/status"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                doc: dict[str, Any] = json.loads(r.read())
        except OSError:
            return {}
        return doc

    def logs(self) -> str:
        return "".join(p.read_text() for p in sorted(self.folder.glob("*.log")))


@dataclass(frozen=True)
class Row:
    """A row of the lifecycle matrix: ``fragment`` of the configuration (the monitors
    and sections the feature needs), ``bring`` it into its state, ``check`` it is in
    that state after an event."""

    name: str
    fragment: Callable[[World], str]
    bring: Callable[[World], None]
    check: Callable[[World], None]


# -- the row ------------------------------------------------------------------------------


def _fragment(world: World) -> str:
    inventory = Inventory()
    inventory.up()
    targets = [Target("127.0.0.1"), Target("127.0.0.1")]
    inventory.targets = [t.url.split("/")[2] for t in targets]
    world.own.update(inventory=inventory, targets=targets)
    world.own["names"] = [f"inventory/{t}" for t in inventory.targets]
    return (
        "defaults: {interval: 2s, timeout: 1s}\n"
        "discover:\n"
        "  - name: inventory\n"
        f"    http_sd: {{url: '{inventory.url}', refresh_interval: 2s}}\n"
        "    template: {url: 'http://{{address}}/health'}\n"
    )


def _bring(world: World) -> None:
    """Every discovered monitor up and the set stored; then the source refuses, so that
    what follows can only come from the store."""
    names = world.own["names"]
    wait_for(lambda: all(_state(world, n) == "up" for n in names), LIMIT, world.procs)
    wait_for(lambda: _stored(world) == sorted(names), LIMIT, world.procs)
    world.own["inventory"].down()
    wait_for(lambda: "discovery source inventory failing" in world.logs(), LIMIT, world.procs)


def _check(world: World) -> None:
    """The discovered monitors are run (a check of each after the event), shown up by
    ``/api/status`` and by ``tether status``, still stored; none was removed."""
    names = world.own["names"]
    since = world.own["event_at"]
    wait_for(lambda: all(_state(world, n) == "up" for n in names), LIMIT, world.procs)
    wait_for(lambda: _checked_since(world, names, since), LIMIT, world.procs)
    code, out, err = tether("status", "--config", str(world.config), "--json")
    assert code == 0, err
    listed = json.loads(out)["monitors"]
    assert all(listed.get(n) == "up" for n in names), listed
    assert _stored(world) == sorted(names)
    assert not any(f"removed {n}" in world.logs() for n in names)


ROW = Row("the discovered set", _fragment, _bring, _check)


def _state(world: World, name: str) -> str | None:
    found: str | None = world.status().get("monitors", {}).get(name)
    return found


def _sql(world: World, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    dsn = world.own.get("dsn")
    if dsn is None:
        import sqlite3

        db = world.folder / "tether.db"
        if not db.exists():
            return []
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return conn.execute(query.replace("%s", "?"), params).fetchall()
        except sqlite3.OperationalError:
            return []
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(dsn) as conn:
        try:
            return list(conn.execute(query, params).fetchall())
        except psycopg.errors.UndefinedTable:
            return []


def _stored(world: World) -> list[str]:
    return sorted(r[0] for r in _sql(world, "SELECT name FROM tether_discovered"))


def _checked_since(world: World, names: list[str], since: float) -> bool:
    rows = _sql(world, "SELECT DISTINCT monitor FROM results WHERE ts > %s", (since,))
    return set(names) <= {r[0] for r in rows}


# -- the events ---------------------------------------------------------------------------


def _write(world: World, storage: str, workers: int, row: Row) -> None:
    fragment = row.fragment(world)
    world.config.write_text(
        f"storage: {storage}\n"
        f"workers: {workers}\n"
        f"server: {{listen: '127.0.0.1:{world.ports[0]}'}}\n" + fragment
    )


@contextmanager
def _monitor(
    world: World, log: str, config: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    import os
    import sys

    path = str(config or world.config)
    args = [sys.executable, "-m", "tether.cli", "monitor", "--config", path]
    env = {**os.environ, "PYTHONPATH": SRC}
    with running(args, world.folder / f"{log}.log", env=env) as proc:
        world.procs.append(proc)
        try:
            yield proc
        finally:
            if proc in world.procs:
                world.procs.remove(proc)


def _restart(world: World, how: signal.Signals) -> None:
    """Stop the monitor with ``how``, start it again; the row checks once it runs."""
    with _monitor(world, "first") as proc:
        ROW.bring(world)
        proc.send_signal(how)
        proc.wait(timeout=LIMIT)
    world.own["event_at"] = time.time()
    with _monitor(world, "second"):
        ROW.check(world)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, tmp_path / "tether.yaml", [free_port()])
    try:
        yield w
    finally:
        if "inventory" in w.own:
            w.own["inventory"].down()
        for target in w.own.get("targets", []):
            target.down()


@pytest.mark.timeout(180)
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill9"])
def test_the_discovered_set_survives_a_restart(
    world: World, workers: int, how: signal.Signals
) -> None:
    """Stopped (SIGTERM, or kill -9) and started again while its source refuses: the
    discovered monitors are run from the store's set, up, listed by ``tether status``."""
    _write(world, f"{{path: '{world.folder / 'tether.db'}'}}", workers, ROW)
    _restart(world, how)
    assert world.logs().count("discovery source inventory failing") == 2  # once a run


@pytest.mark.timeout(180)
@pytest.mark.parametrize("workers", [1, 2])
def test_the_discovered_set_survives_a_sighup_reload(world: World, workers: int) -> None:
    """A SIGHUP reload of the same file while its source refuses keeps every discovered
    monitor, run and up."""
    _write(world, f"{{path: '{world.folder / 'tether.db'}'}}", workers, ROW)
    with _monitor(world, "only") as proc:
        ROW.bring(world)
        world.own["event_at"] = time.time()
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reloaded" in world.logs(), LIMIT, world.procs)
        ROW.check(world)


@pytest.mark.timeout(240)
def test_the_discovered_set_survives_a_takeover(
    world: World, postgres_server: PostgresServer
) -> None:
    """Two instances on one PostgreSQL database: the leader read the source and wrote
    the set, the other follows it; the leader killed (-9) while the source refuses, the
    survivor takes the lead and every shard and runs the same discovered monitors."""
    dsn = postgres_server.dsn(postgres_server.new_schema())
    world.own["dsn"] = dsn
    world.ports.append(free_port())
    _write(world, f'{{postgres: "{dsn}"}}', 1, ROW)
    second = world.folder / "second.yaml"
    second.write_text(
        world.config.read_text().replace(
            f"127.0.0.1:{world.ports[0]}", f"127.0.0.1:{world.ports[1]}"
        )
    )
    with ExitStack() as stack:
        first = stack.enter_context(_monitor(world, "i1"))
        other = stack.enter_context(_monitor(world, "i2", second))
        ROW.bring(world)
        dead = first if _leads(world, first.pid) else other
        survivor, port = (other, world.ports[1]) if dead is first else (first, world.ports[0])
        dead.send_signal(signal.SIGKILL)
        dead.wait(timeout=10)
        world.procs.remove(dead)
        world.own["event_at"] = time.time()
        world.ports = [port]
        wait_for(lambda: _leads(world, survivor.pid), LIMIT, world.procs)
        ROW.check(world)


def _leads(world: World, pid: int) -> bool:
    """Whether the instance of process ``pid`` holds the cluster's lead."""
    rows = _sql(world, "SELECT owner FROM tether_leases WHERE shard = -1")
    return bool(rows) and rows[0][0] is not None and int(rows[0][0].split(":")[1]) == pid
