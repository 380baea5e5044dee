"""Real processes on real time, for the tests that run `tether monitor` and its peers as
processes: start one and always stop it, and poll for a condition with a bound instead of
sleeping a fixed time."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def wait_for(
    what: Callable[[], Any],
    limit: float = 20,
    procs: Sequence[subprocess.Popen[Any]] = (),
    *,
    killed: Sequence[subprocess.Popen[Any]] = (),
) -> Any:
    """``what()`` once it is truthy, polled every 0.05 s for at most ``limit`` seconds;
    fails at once if one of ``procs`` exits (those in ``killed`` may: the test killed them)."""
    deadline = time.monotonic() + limit
    while True:
        found = what()
        if found:
            return found
        assert time.monotonic() < deadline, "gave up waiting"
        for proc in procs:
            if proc not in killed:
                assert proc.poll() is None, f"a process exited: {proc.args!r}"[:300]
        time.sleep(0.05)  # polling real processes on real time


@contextmanager
def running(
    args: Sequence[str],
    log: Path,
    *,
    env: dict[str, str] | None = None,
    piped: bool = False,
    text: bool = False,
) -> Iterator[subprocess.Popen[Any]]:
    """``args`` running, its stderr appended to ``log`` (stdout piped with ``piped``, else
    dropped); on the way out SIGTERM, then SIGKILL if it has not exited in 30 s."""
    with log.open("ab") as err:
        proc = subprocess.Popen(
            list(args),
            stdout=subprocess.PIPE if piped else subprocess.DEVNULL,
            stderr=err,
            env=env,
            text=text,
        )
    try:
        yield proc
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
