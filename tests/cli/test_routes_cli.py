"""``tether routes test``: the channels an alert would reach and each route on the way,
muted ones with their reason; a bad argument or file is one line and the exit code the
other commands give."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tether.cli import main

CONFIG = {
    "alerts": [
        {"name": n, "type": "webhook", "url": "http://127.0.0.1:9/"} for n in ("ops", "db", "sms")
    ],
    "time_intervals": [
        {
            "name": "office",
            "time_intervals": [
                {
                    "weekdays": ["monday:friday"],
                    "times": [{"start_time": "09:00", "end_time": "18:00"}],
                    "location": "Europe/Paris",
                }
            ],
        }
    ],
    "routes": {
        "channels": ["ops"],
        "routes": [
            {
                "matchers": ['team="db"'],
                "channels": ["db"],
                "continue": True,
                "active_time_intervals": ["office"],
            },
            {"matchers": ['event="monitor.down"', 'tier="1"'], "channels": ["sms"]},
        ],
    },
    "monitors": [
        {"name": "api", "url": "http://127.0.0.1:9/"},
        {"name": "quiet", "url": "http://127.0.0.1:9/", "alerts": ["ops"]},
    ],
}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "tether.yaml"
    path.write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    return path


def run(config: Path, *words: str) -> int:
    return main(["routes", "test", "--config", str(config), *words])


def test_the_channels_reached_then_each_route(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Labels as one comma list or one -l each: inside office hours the db route sends,
    and its continue lets the tier-1 route send too."""
    words = ["--event", "monitor.down", "--at", "2026-11-25T10:00:00+01:00"]
    assert run(config, "--labels", "team=db,tier=1", *words) == 0
    first = capsys.readouterr()
    assert first == ("db, sms\n  routes.routes[0]: db\n  routes.routes[1]: sms\n", "")
    assert run(config, "-l", "team=db", "-l", "tier=1", *words) == 0
    assert capsys.readouterr() == first


def test_a_muted_route_says_why_and_sends_nothing(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a Saturday the db route is outside its active interval: reached, muted, named."""
    assert run(config, "-l", "team=db", "--event", "monitor.up", "--at", "2026-11-28T10:00Z") == 0
    assert capsys.readouterr().out == (
        "(no channel)\n  routes.routes[0]: db, muted: outside office\n"
    )


def test_no_specific_route_reaches_the_root_and_a_monitors_own_list(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing else matches: the root's channels, and the monitor's `alerts:` route."""
    assert (
        run(config, "--monitor", "quiet", "--event", "incident.opened", "--kind", "connect.refused")
        == 0
    )
    assert capsys.readouterr().out == "ops\n  routes: ops\n  monitors[1].alerts: ops\n"


@pytest.mark.parametrize(
    ("words", "said"),
    [
        (
            ["-l", "team", "--event", "monitor.down"],
            "'team' is not a label: write NAME=VALUE, as team=db",
        ),
        (["-l", "team-x=1", "--event", "monitor.down"], '"team-x" is not a label name'),
        (
            ["-l", "monitor=api", "--event", "monitor.down"],
            "monitor is set by --monitor, not as a label",
        ),
        (
            ["--event", "monitor.dwn"],
            "--event 'monitor.dwn' is not an event, did you mean monitor.down?",
        ),
        (
            ["--event", "monitor.down", "--kind", "connect.refuse"],
            "--kind 'connect.refuse' is not a failure kind, did you mean connect.refused?",
        ),
        (["--event", "monitor.down", "--monitor", "nope"], "--monitor 'nope': no such monitor in"),
        (
            ["--event", "monitor.down", "--at", "tomorrow"],
            "--at 'tomorrow' is not a time: write 2026-11-25T10:00:00+01:00",
        ),
        (
            ["--event", "monitor.down", "--at", "2026-11-25T10:00"],
            "--at '2026-11-25T10:00' has no offset: add one, as +01:00 or Z",
        ),
    ],
)
def test_a_bad_argument_is_one_line_and_exit_2(
    config: Path, capsys: pytest.CaptureFixture[str], words: list[str], said: str
) -> None:
    """Each bad argument: nothing on stdout, one line on stderr saying why, exit 2."""
    assert run(config, *words) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"tether routes test: {said}")
    assert err.count("\n") == 1


def test_a_bad_configuration_exits_as_check_config_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown channel in the tree: the located line, exit 1; a missing file: exit 2."""
    bad = {**CONFIG, "routes": {"channels": ["opz"]}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad, sort_keys=False))
    assert run(path, "--event", "monitor.down") == 1
    out, err = capsys.readouterr()
    assert (out, err.count("\n")) == ("", 1)
    assert err.endswith('routes.channels[0]: no alert channel named "opz", did you mean ops?\n')
    assert run(tmp_path / "absent.yaml", "--event", "monitor.down") == 2
    assert "cannot read" in capsys.readouterr().err


def test_it_runs_as_a_user_types_it(config: Path) -> None:
    """`python -m tether.cli routes test ...` in a process of its own, no traceback."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tether.cli",
            "routes",
            "test",
            "--config",
            str(config),
            "-l",
            "tier=1",
            "--event",
            "monitor.down",
            "--at",
            "2026-11-25T10:00:00+01:00",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "sms\n  routes.routes[1]: sms\n", "")
