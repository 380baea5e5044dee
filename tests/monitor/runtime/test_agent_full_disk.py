"""A full disk under a real `tether agent`'s spool (issue 45 §8): the agent keeps running,
says so once, loses no check its spool had kept, and says once that it can write again
with how many checks it had to drop, which the server is told.

The disk is filled by a file-size limit on the agent process (``prlimit``, RLIMIT_FSIZE of
one byte: no write can extend any file; Python ignores SIGXFSZ, so a write fails with
EFBIG), set once the spool holds checks and lifted later.  The server is the stand-in on
loopback (tests/helpers/agent_stub.py), which refuses every request (503) once the agent
has its assignment and until the disk has room, so the checks stay in the spool.
Before: the first check that could not be written raised in the prober's sink and the
agent stopped.  Real processes on real time; each wait polls with a bound."""

from __future__ import annotations

import resource
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.helpers.agent_stub import TOKEN, AgentStub
from tests.helpers.processes import wait_for
from tests.helpers.tether_processes import SRC


class Target(BaseHTTPRequestHandler):
    """Answers 200 and counts the checks it was asked."""

    asked = 0

    def do_GET(self) -> None:
        Target.asked += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def target() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def held(spool: Path) -> set[tuple[str, float]]:
    """The checks the spool file holds, as (monitor, ts)."""
    import json

    try:
        conn = sqlite3.connect(spool, timeout=5)
        try:
            rows = conn.execute("SELECT body FROM checks").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return set()
    bodies = [json.loads(body) for (body,) in rows]
    return {(b["monitor"], b["ts"]) for b in bodies}


def test_a_full_disk_keeps_the_agent_running_and_loses_no_kept_check(
    tmp_path: Path, target: str
) -> None:
    """With its spool's disk full the agent runs on (probing, dropping and counting what
    it cannot keep), says so once; once the disk has room it says so once with the count,
    sends every check the spool held before, and the server is told of the dropped."""
    monitor = {"name": "web", "url": target, "interval": "1s", "timeout": "2s"}
    stub = AgentStub([monitor], batch_every=1.0)
    (tmp_path / "token").write_text(TOKEN)
    spool = tmp_path / "agent.spool"
    lines: list[str] = []
    with stub.running():
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "tether.cli", "agent",
                "--server", stub.url,
                "--location", stub.location,
                "--token-file", str(tmp_path / "token"),
                "--spool", str(spool),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,  # a pipe: no file-size limit applies to it
            text=True,
            env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        assert proc.stderr is not None
        reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
        reader.start()
        try:
            wait_for(lambda: Target.asked, 30, [proc])  # it has its assignment
            stub.mode = "503"  # batches refused from now on: the checks stay in the spool
            wait_for(lambda: len(held(spool)) >= 3, 30, [proc])
            resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))
            kept = held(spool)
            asked = Target.asked
            wait_for(lambda: any("cannot be written" in line for line in lines), 30, [proc])
            wait_for(lambda: Target.asked >= asked + 3, 30, [proc])  # it probes on
            assert proc.poll() is None
            assert sum("cannot be written" in line for line in lines) == 1, lines
            resource.prlimit(
                proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
            )
            stub.mode = "ok"
            taken = lambda: {(c.record.monitor, c.record.ts) for c in stub.checks()}  # noqa: E731
            wait_for(lambda: kept <= taken(), 30, [proc])
            wait_for(lambda: any(b.dropped for b in stub.taken.values()), 30, [proc])
            wait_for(lambda: any("can be written again" in line for line in lines), 30, [proc])
        finally:
            proc.terminate()
            proc.wait(30)
            reader.join(5)
            proc.stderr.close()
    assert sum("cannot be written" in line for line in lines) == 1, lines
    (again,) = [line for line in lines if "can be written again" in line]
    dropped = sum(b.dropped for b in stub.taken.values())
    assert f"{dropped:,} checks made meanwhile were dropped" in again
    assert not any("Traceback" in line for line in lines), lines
