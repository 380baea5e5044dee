"""`tether` and `tether monitor` as processes a test starts, on real time: a command's
exit code and output, a monitor running until the test is done with it, what it stored
(read from its SQLite file) and what its status API says."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from tests.helpers import processes

SRC = str(Path(__file__).parents[2] / "src")


def tether(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``tether ARGS`` as a process: its exit code, stdout and stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "tether.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": SRC, **(env or {})},
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def wait_for(what: Callable[[], Any], proc: subprocess.Popen[str] | None, limit: float = 20) -> Any:
    """``what()`` once truthy, within ``limit`` s; fails at once if the monitor exits."""
    return processes.wait_for(what, limit, [proc] if proc is not None else [])


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # tables not created yet
        return []
    finally:
        conn.close()


def monitor(
    config: Path, log: Path, env: dict[str, str] | None = None
) -> AbstractContextManager[subprocess.Popen[str]]:
    """`tether monitor --config CONFIG` running, its stderr in ``log``."""
    args = [sys.executable, "-m", "tether.cli", "monitor", "--config", str(config)]
    return processes.running(args, log, env=env, text=True)


def status(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5) as r:
        data: dict[str, Any] = json.loads(r.read())
    return data
