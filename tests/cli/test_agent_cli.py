"""``tether agent`` as a process against the stand-in server (tests/helpers/agent_stub.py):
it reports what it probes and stops cleanly on SIGTERM; its spool outlives SIGTERM and
``kill -9``; a refused token and bad arguments are one line and exit 2; the token never
appears in what it writes.  Real time: each wait polls with a bound."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from tests.helpers import processes
from tests.helpers.agent_stub import TOKEN, AgentStub
from tests.helpers.tether_processes import SRC, rows, tether
from tether.lab import Lab


def _monitors(lab: Lab) -> list[dict[str, str]]:
    return [
        {"name": "healthy", "url": lab["healthy"].url, "interval": "1s", "timeout": "2s"},
        {"name": "refused", "url": lab["refused"].url, "interval": "1s", "timeout": "2s"},
    ]


def _args(stub: AgentStub, tmp_path: Path) -> list[str]:
    token = tmp_path / "agent.token"
    token.write_text(TOKEN + "\n")
    return [
        sys.executable, "-m", "tether.cli", "agent", "--server", stub.url,
        "--location", "branch-1", "--token-file", str(token),
        "--spool", str(tmp_path / "agent.spool"),
    ]  # fmt: skip


ENV = {**os.environ, "PYTHONPATH": SRC}


def test_the_agent_reports_its_checks_and_stops_on_sigterm(lab: Lab, tmp_path: Path) -> None:
    """Both lab targets' checks reach the server with their kinds; SIGTERM exits 0; the
    log says what it probes and never holds the token."""
    log = tmp_path / "agent.log"
    with (
        AgentStub(_monitors(lab)).running() as stub,
        processes.running(_args(stub, tmp_path), log, env=ENV) as proc,
    ):
        processes.wait_for(
            lambda: {c.record.monitor for c in stub.checks()} >= {"healthy", "refused"},
            30,
            [proc],
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    kinds = {c.record.monitor: c.record.kind for c in stub.checks() if not c.record.ok}
    assert set(kinds.values()) == {"connect.refused"}
    assert "refused" in kinds
    text = log.read_text()
    assert "2 monitors to probe" in text
    assert "Traceback" not in text
    assert TOKEN not in text


def test_the_spool_outlives_sigterm_and_kill_9(lab: Lab, tmp_path: Path) -> None:
    """Once the server answers 503 the checks wait in the spool file; after SIGTERM (exit
    0) they are still there; a second run, started while the server is still down, probes
    the assignment the spool kept, and its checks outlive kill -9; the log says the outage
    without the token."""
    log = tmp_path / "agent.log"
    spool = tmp_path / "agent.spool"

    def held() -> int:
        found = rows(spool, "SELECT count(*) FROM checks")
        return int(found[0][0]) if found else 0

    with AgentStub(_monitors(lab)).running() as stub:
        with processes.running(_args(stub, tmp_path), log, env=ENV) as proc:
            processes.wait_for(stub.checks, 30, [proc])
            stub.mode = "503"
            # A batch sent before the switch may still be taken: wait for one refused, after
            # which nothing leaves the spool, and two checks in it.
            processes.wait_for(lambda: stub.refused_posts > 0 and held() >= 2, 30, [proc])
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
        after_term = held()
        assert after_term >= 2
        with processes.running(_args(stub, tmp_path), log, env=ENV) as proc:
            processes.wait_for(lambda: held() >= after_term + 2, 30, [proc])
            proc.kill()
            proc.wait(30)
        assert held() >= after_term + 2
    text = log.read_text()
    assert "cannot send checks to the server: the server answered 503" in text
    assert TOKEN not in text
    assert "Traceback" not in text


def test_a_refused_token_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """A token the server refuses, with --give-up-after 0s: exit 2 at the first refusal,
    one line saying so, the token not in it."""
    wrong = "not-the-token-9d8e7f6a5b"
    with AgentStub([]).running() as stub:
        code, out, err = tether(
            "agent", "--server", stub.url, "--location", "branch-1",
            "--spool", str(tmp_path / "s.spool"), "--give-up-after", "0s",
            env={"TETHER_AGENT_TOKEN": wrong},
        )  # fmt: skip
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        "tether agent: the server refused this agent's token (401): it must be a token of "
        "scope agent for location branch-1"
    ]
    assert wrong not in err


def test_a_token_refused_for_give_up_after_is_taken_for_revoked(tmp_path: Path) -> None:
    """A token refused all along: the agent tries again, says so once, and after
    --give-up-after (2 s here) exits 2 with one line saying it is revoked or wrong."""
    wrong = "not-the-token-9d8e7f6a5b"
    with AgentStub([]).running() as stub:
        code, out, err = tether(
            "agent", "--server", stub.url, "--location", "branch-1",
            "--spool", str(tmp_path / "s.spool"), "--give-up-after", "2s",
            env={"TETHER_AGENT_TOKEN": wrong},
        )  # fmt: skip
    assert (code, out) == (2, "")
    lines = err.splitlines()
    assert sum("trying again for 2s in case it is passing" in line for line in lines) == 1
    assert lines[-1].startswith(
        "tether agent: the server has refused this agent's token (401) for "
    )
    assert (
        "it is revoked or wrong; it must be a token of scope agent for location branch-1"
        in (lines[-1])
    )
    assert stub.polls >= 2
    assert wrong not in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (["--server", "http://monitor.invalid"], {"TETHER_AGENT_TOKEN": "t"}, "http:// only"),
        (["--server", "ftp://127.0.0.1"], {"TETHER_AGENT_TOKEN": "t"}, "not a URL"),
        (["--server", "http://127.0.0.1:1"], {"TETHER_AGENT_TOKEN": ""}, "no token: give"),
        (["--server", "http://127.0.0.1:1", "--token-file", "/nonexistent/t"], {}, "cannot be"),
        (
            ["--server", "http://127.0.0.1:1", "--spool-limit", "0"],
            {"TETHER_AGENT_TOKEN": "t"},
            "--spool-limit 0: give at least 1",
        ),
        (
            ["--server", "http://127.0.0.1:1", "--give-up-after", "2"],
            {"TETHER_AGENT_TOKEN": "t"},
            '--give-up-after: "2" is not a duration, write 2s',
        ),
        (
            ["--server", "https://127.0.0.1:1", "--cafile", "/nonexistent/ca.pem"],
            {"TETHER_AGENT_TOKEN": "t"},
            "--cafile /nonexistent/ca.pem: not a CA certificate file",
        ),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    tmp_path: Path, args: list[str], env: dict[str, str], said: str
) -> None:
    """Each bad argument: exit 2, one line naming it, no traceback."""
    spool = ["--spool", str(tmp_path / "s.spool")]
    code, out, err = tether("agent", "--location", "branch-1", *spool, *args, env=env)
    assert code == 2
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("tether agent: ")
    assert said in line


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--scope", "agent"], "an agent token names the location it reports for: --location"),
        (["--location", "branch-1"], "only an agent token (--scope agent) names one"),
        (["--scope", "write", "--location", "x"], "not a write token"),
    ],
)
def test_new_token_binds_an_agent_token_to_a_location_and_only_it(
    args: list[str], said: str
) -> None:
    """An agent token without --location, or --location on another scope: one line, exit 2,
    and no token printed."""
    code, out, err = tether("new-token", "branch-1-agent", *args)
    assert code == 2
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("tether new-token: ")
    assert said in line
