"""`tether push` against a real `tether monitor` process on loopback, in one process and
with `workers: 2` (the coordinator takes the push a worker forwards)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.ports import free_port
from tests.helpers.processes import wait_for
from tests.helpers.tether_processes import monitor, status, tether

TOKEN = "cli-push-token-0123456789abcdef"


@pytest.fixture(params=[1, 2], ids=["one-process", "workers-2"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    config = tmp_path / "tether.yaml"
    config.write_text(
        f'storage: {{path: "{tmp_path / "tether.db"}"}}\n'
        f'server: {{listen: "127.0.0.1:{port}"}}\n'
        f"workers: {request.param}\n"
        "monitors:\n"
        f"  - {{name: backup, type: push, token: {TOKEN}, interval: 1h, grace: 1m}}\n"
    )
    log = tmp_path / "monitor.log"
    with monitor(config, log) as proc:
        wait_for(lambda: _states(port).get("backup"), procs=[proc])
        yield f"http://127.0.0.1:{port}", log


def _states(port: int) -> dict[str, str]:
    try:
        found: dict[str, str] = status(port)["monitors"]
    except OSError:
        return {}
    return found


def test_push_up_then_down_then_an_unknown_token(server: tuple[str, Path]) -> None:
    """`tether push URL` marks it up, `--status down` down, with exit 0; an unknown
    token is one line and exit 2; the token is in no log line."""
    base, log = server
    port = int(base.rsplit(":", 1)[1])
    assert tether("push", f"{base}/api/push/{TOKEN}", "--duration-ms", "12") == (0, "", "")
    wait_for(lambda: _states(port).get("backup") == "up")
    code, out, err = tether("push", TOKEN, "--server", base, "--status", "down", "--msg", "boom")
    assert (code, out, err) == (0, "", "")
    wait_for(lambda: _states(port).get("backup") == "down")
    code, _, err = tether("push", "not-a-token-at-all-x", "--server", base)
    assert code == 2
    assert err == "tether push: no push monitor has this token\n"
    assert TOKEN not in log.read_text()
