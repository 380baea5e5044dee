"""The docs' shell examples run as written (issue 24, section 4), beside the write API's
(tests/docs/test_docs_api_examples.py) and the Python ones (tests/docs/test_docs.py).

Each block is read from its file.  A ``console`` block's commands run in one ``sh``, in
order (so ``echo $?`` is the previous command's code), each with its output and errors
together, as a terminal shows them; what they print must be what the block shows, its
numbers free where the docs' are a moment's (a port, a token).  An ``sh`` block's lines
must run and exit with a documented code.  Only loopback is reached: the monitor the
examples ask is served on 127.0.0.1 (tests/helpers/actions_harness.py), and ``localhost:8800``
and ``127.0.0.1:8800`` are pointed at it.

Not run here, and why: ``tether monitor`` and ``tether lab`` without ``--list`` run
until stopped (the demo and the lab tests run them); ``systemctl`` (deployment.md) needs
a systemd; ``pip install`` lines are CI's own set-up; diagnose.md's console blocks name
servers of their own ports (diagnose's tests run each scheme against the lab); and
security.md's prompts need a terminal (tests/cli/test_credentials_cli.py runs both commands
as a person would).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.actions_harness import Served
from tests.helpers.docs_blocks import blocks, run_console, steps
from tether.lab import Lab

CONFIG_WITH_TWO_MISTAKES = """\
alerts:
  - {name: ops, type: webhook, url: "http://127.0.0.1:9/"}
monitors:
  - name: a
    url: http://127.0.0.1:9/a
  - name: b
    url: http://127.0.0.1:9/b
  - name: c
    url: http://127.0.0.1:9/c
  - name: d
    url: http://127.0.0.1:9/d
    timeout: 1s
    failure_threshold: 2
    interval: "5"
  - name: e
    url: http://127.0.0.1:9/e
    timeout: 1s
    failure_threshold: 2
    success_threshold: 1
    alerts:
    - opz
"""
"""The file monitor-config.md's first examples check: line 14 has the interval of
monitors[3], line 21 the channel of monitors[4]."""


def env() -> dict[str, str]:
    out = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        out.pop(name, None)
    return out


def test_check_config_examples_run_as_written(tmp_path: Path) -> None:
    """monitor-config.md: both mistakes of the file at once, exit 1; and the same with
    --json (issue 24: the channel's mistake was reported only once the interval was
    mended, though the docs promise every mistake at once)."""
    (tmp_path / "tether.yaml").write_text(CONFIG_WITH_TWO_MISTAKES)
    text, as_json = blocks("monitor-config.md", "console")[:2]
    for block in (text, as_json):
        for (command, printed), (_, shown) in zip(
            run_console(block, tmp_path, env()), steps(block), strict=True
        ):
            assert printed == shown, command


def test_explain_examples_run_as_written(tmp_path: Path) -> None:
    """classify.md: each `tether explain` line exits 0 and prints; the typo prints the
    line the docs show and exits 2."""
    (listing,) = blocks("classify.md", "sh")
    for line in listing.splitlines():
        command = line.split("#")[0].strip()
        done = subprocess.run(
            ["sh", "-c", command],
            env=env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, (command, done.stderr)
        assert done.stdout.strip(), command
    (typo,) = blocks("classify.md", "console")
    for (command, printed), (_, shown) in zip(
        run_console(typo, tmp_path, env()), steps(typo), strict=True
    ):
        assert printed == shown, command


@pytest.mark.skipif(
    shutil.which("jq") is None and not os.environ.get("CI"), reason="jq is not installed"
)
def test_the_read_commands_run_as_written(tmp_path: Path) -> None:
    """monitor.md's first block, but `tether monitor` (it runs until stopped): against a
    store with api's checks, a state change and an open incident, each command exits as
    documented (status 1: an incident is open) and prints; `[--open]` is run both ways;
    the jq line prints the open incident's detail."""
    from tether._kinds import Kind
    from tether.monitor import Incident, ProbeRecord
    from tether.monitor._state import State
    from tether.monitor.store import SQLiteStore

    (tmp_path / "tether.yaml").write_text(
        f"storage: {{path: {tmp_path / 'tether.db'}}}\n"
        "monitors:\n  - {name: api, url: 'http://127.0.0.1:9/'}\n"
    )
    with SQLiteStore(tmp_path / "tether.db") as store:
        import time

        now = time.time()
        store.record(ProbeRecord("api", now - 60, True, latency_ms=4.0))
        store.record(ProbeRecord("api", now - 30, False, Kind.CONNECT_REFUSED, 0.3, "refused"))
        store.record_state("api", now - 30, State.DOWN)
        store.open_incident(
            Incident(
                store.new_incident_id(),
                "host:127.0.0.1:9:connect.refused",
                Kind.CONNECT_REFUSED,
                "127.0.0.1:9 refused the connection",
                "start it",
                now - 30,
                monitors=("api",),
            )
        )
    (block, *_) = blocks("monitor.md", "sh")
    codes = {"check-config": 0, "status": 1, "history": 0, "incidents": 0}
    ran = 0
    for line in block.splitlines():
        command = re.sub(r"  +# .*$", "", line).strip()
        if command.startswith("tether monitor "):
            continue
        for variant in ([command.replace("[--open]", "--open"), command.replace("[--open] ", "")]
                        if "[--open]" in command else [command]):  # fmt: skip
            done = subprocess.run(
                ["sh", "-c", variant],
                cwd=tmp_path,
                env=env(),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            ran += 1
            if "| jq" in variant:
                assert done.returncode == 0, (variant, done.stderr)
                assert done.stdout.strip() == '"127.0.0.1:9 refused the connection"'
                continue
            word = variant.split()[1]
            assert done.returncode == codes[word], (variant, done.stdout, done.stderr)
            assert done.stdout.strip(), variant
    assert ran == 7


@pytest.fixture
def served(lab: Lab, tmp_path: Path) -> Iterator[Served]:
    s = Served(tmp_path / "docs.db", lab)
    yield s
    s.close()


@pytest.mark.skipif(
    shutil.which("curl") is None and not os.environ.get("CI"), reason="curl is not installed"
)
def test_a_probe_with_a_bad_scrape_timeout_is_refused_as_written(
    served: Served, tmp_path: Path
) -> None:
    """monitor.md's /probe example: a scrape timeout that is not a number is refused in
    one line before anything is probed (its target, a loopback port, is never reached)."""
    block = next(b for b in blocks("monitor.md", "console") if "/probe?target=" in b)
    for (command, printed), (_, shown) in zip(
        run_console(block, tmp_path, env(), served.port), steps(block), strict=True
    ):
        assert printed == shown, command


def test_lab_list_runs_as_written(tmp_path: Path) -> None:
    """lab.md: `tether lab --list --port 18000` prints each scenario at its port, the
    offsets without --port, and starts nothing (no port is bound: 18000 stays free)."""
    (block,) = blocks("lab.md", "sh")
    lines = [re.sub(r"  +# .*$", "", line).strip() for line in block.splitlines()]
    (listing,) = [line for line in lines if "--list" in line]
    assert listing == "tether lab --list --port 18000"
    done = subprocess.run(
        ["sh", "-c", listing], env=env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"\b18000\b", done.stdout), done.stdout
    bare = subprocess.run(
        ["sh", "-c", "tether lab --list"],
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bare.returncode == 0, bare.stderr
    assert bare.stdout != done.stdout
