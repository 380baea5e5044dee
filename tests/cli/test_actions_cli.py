"""`tether pause`, `resume`, `check`, `note`, `ack --server` and `maintenance` against a
real `tether monitor` process on loopback (one process, and `workers: 2`, where the
pause and the check must reach the worker process that probes the monitor), and their
one-line errors with stable exit codes: no server, an unknown monitor, a token refused.

The processes run on real time; each test polls with a bound (tests/helpers/processes.py)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.actions_harness import Served
from tests.helpers.ports import free_port
from tests.helpers.processes import wait_for
from tests.helpers.tether_processes import monitor, rows, status, tether
from tether.cli import main
from tether.lab import Lab
from tether.monitor.web._access import Principal


def results(db: Path, name: str) -> int:
    found = rows(db, f"SELECT count(*) FROM results WHERE monitor = '{name}'")
    return int(found[0][0]) if found else 0


class Running:
    def __init__(self, tmp: Path, lab: Lab, workers: int) -> None:
        self.port = free_port()
        self.db = tmp / "tether.db"
        self.config = tmp / "tether.yaml"
        self.config.write_text(
            f'storage: {{path: "{self.db}"}}\n'
            f'server: {{listen: "127.0.0.1:{self.port}"}}\n'
            f"workers: {workers}\n"
            "monitors:\n"
            f"  - {{name: web, url: '{lab['healthy'].url}', interval: 1s, timeout: 500ms}}\n"
            f"  - {{name: slow, url: '{lab['healthy'].url}', interval: 1h, timeout: 1s}}\n"
            f"  - {{name: down, url: '{lab['refused'].url}', interval: 1s, timeout: 500ms,\n"
            "      failure_threshold: 1}\n"
        )
        self.server = f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str) -> tuple[int, str, str]:
        return tether(*args, "--server", self.server)

    def states(self) -> dict[str, str]:
        try:
            found: dict[str, str] = status(self.port)["monitors"]
        except OSError:
            return {}
        return found


@pytest.fixture(params=[1, 2], ids=["one-process", "workers-2"])
def running(request: pytest.FixtureRequest, lab: Lab, tmp_path: Path) -> Iterator[Running]:
    r = Running(tmp_path, lab, request.param)
    with monitor(r.config, tmp_path / "monitor.log") as proc:
        wait_for(lambda: r.states().get("down") == "down", procs=[proc])
        yield r


def test_pause_check_and_resume_reach_whatever_probes(running: Running) -> None:
    """`tether check` answers a fresh result of a monitor probed hourly; `tether pause`
    stops its probing (no new result while another monitor gets three), even in a
    worker process; `tether resume` brings its checks back."""
    before = results(running.db, "slow")
    code, out, err = running.cli("check", "slow")
    assert (code, err) == (0, "")
    assert out.startswith("slow: ok in ")
    wait_for(lambda: results(running.db, "slow") == before + 1)
    code, out, _ = running.cli("pause", "web", "--reason", "racks")
    assert (code, out) == (0, "web paused\n")
    assert running.cli("pause", "web")[:2] == (0, "web paused already\n")
    assert running.states()["web"] == "paused"
    paused_at = results(running.db, "web")
    down = results(running.db, "down")
    wait_for(lambda: results(running.db, "down") >= down + 3)
    assert results(running.db, "web") <= paused_at + 1  # one may have been under way
    settled = results(running.db, "web")
    wait_for(lambda: results(running.db, "down") >= down + 5)
    assert results(running.db, "web") == settled
    assert running.cli("check", "web") == (
        2,
        "",
        "tether check: web is paused: resume it to check it\n",
    )
    assert running.cli("resume", "web")[:2] == (0, "web resumed\n")
    assert running.cli("resume", "nope") == (2, "", "tether resume: no monitor is called 'nope'\n")
    wait_for(lambda: results(running.db, "web") > settled)
    wait_for(lambda: running.states()["web"] == "up")


def test_incident_and_maintenance_commands(running: Running) -> None:
    """A failing check exits 1 with its kind; a note, an acknowledgement through the server
    and a maintenance window opened, listed and closed each say what they did, and the
    audit log has them all, from `local`."""
    code, out, _ = running.cli("check", "down")
    assert code == 1
    assert out.startswith("down: failed: connect.refused: ")
    (incident,) = [i for (i,) in rows(running.db, "SELECT id FROM incidents")]
    assert running.cli("note", str(incident), "looking")[:2] == (
        0,
        f"note added to incident {incident}\n",
    )
    assert running.cli("ack", str(incident))[:2] == (
        0,
        f"incident {incident} acknowledged: reminders and escalation stop\n",
    )
    code, out, _ = running.cli(
        "maintenance", "start", "--monitor", "down", "--for", "30m", "--reason", "db"
    )
    assert code == 0
    assert out.startswith("maintenance window 1 open until ")
    assert out.endswith(" for down\n")
    code, out, _ = running.cli("maintenance", "list")
    assert code == 0
    assert out.startswith("1  open  ")
    assert running.cli("maintenance", "end", "1")[:2] == (0, "maintenance window 1 closed\n")
    with urllib.request.urlopen(running.server + "/api/audit", timeout=10) as r:
        entries = json.loads(r.read())["entries"]
    assert [(e["action"], e["who"]) for e in entries] == [
        ("maintenance.close", "local"),
        ("maintenance.open", "local"),
        ("acknowledge", "local"),
        ("note", "local"),
        ("check", "local"),
    ]


def test_the_default_server_is_the_configurations(running: Running) -> None:
    """Without --server, the command reaches server.listen of --config FILE."""
    code, out, _ = tether("pause", "slow", "--config", str(running.config))
    assert (code, out) == (0, "slow paused\n")


# -- errors, in process: one line each, a stable exit code ----------------------------------


def test_no_server_there_is_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing listening at --server: one line naming the address, exit 3."""
    port = free_port()
    code = main(["pause", "web", "--server", f"127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert code == 3
    assert err.count("\n") == 1
    assert err.startswith(f"tether pause: cannot reach tether monitor at http://127.0.0.1:{port}: ")


class ReadOnly:
    """A real authority (the seam of _access.py) whose one caller holds a read token."""

    open = False

    def principal(self, request: Any) -> Principal | None:
        token = request.headers.get("Authorization", "")
        if token != "Bearer r3ad-only":
            return None
        return Principal("ci", frozenset({"read"}), "token")


@pytest.fixture
def read_only(lab: Lab, tmp_path: Path) -> Iterator[Served]:
    s = Served(tmp_path / "ro.db", lab, authority=ReadOnly())
    yield s
    s.close()


def test_refusals_are_one_line_with_their_codes(
    read_only: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No token: 401, exit 4, the hint names --token; a token without write: 403, exit 4,
    whatever it names (who asks is decided before anything of the request is read, an
    unknown monitor's name included); the token never appears in what is printed."""
    server = read_only.base
    assert main(["pause", "web", "--server", server]) == 4
    err = capsys.readouterr().err
    assert err == (
        "tether pause: log in, or send an API token: Authorization: Bearer TOKEN "
        "(--token, $TETHER_TOKEN)\n"
    )
    monkeypatch.setenv("TETHER_TOKEN", "r3ad-only")
    assert main(["pause", "web", "--server", server]) == 4
    out, err = capsys.readouterr()
    assert err == "tether pause: token:ci may not write: its scopes are ['read']\n"
    assert main(["resume", "nope", "--server", server, "--token", "r3ad-only"]) == 4
    out2, err2 = capsys.readouterr()
    assert err2 == "tether resume: token:ci may not write: its scopes are ['read']\n"
    assert "r3ad-only" not in out + err + out2 + err2
    assert "web" in read_only.runner.prober.names
