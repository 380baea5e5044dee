"""``tether check-config``: exit codes and output, and that the CLI imports the
configuration lazily."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.config_text import URL, dump
from tests.helpers.hostile_configs import HOSTILE, chain
from tether.cli import main


def write(tmp_path: Path, text: str, name: str = "tether.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_check_config_valid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A valid file exits 0 with a one-line summary on stdout."""
    path = write(
        tmp_path,
        dump(
            {"name": "a", "url": URL},
            {"name": "b", "url": "tcp://127.0.0.1:5432"},
            {"name": "c", "url": "dns://lab.test"},
            alerts=[{"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9000/hook"}],
        ),
    )
    assert main(["check-config", str(path)]) == 0
    assert capsys.readouterr() == (f"{path}: 3 monitors, 1 alert channel, OK\n", "")


def test_check_config_counts_windows_and_plurals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The summary says 1 monitor, 0 alert channels, and counts maintenance windows."""
    window = {"name": "w", "schedule": "0 2 * * sun", "duration": "1h"}
    path = write(tmp_path, dump(maintenance=[window]))
    assert main(["check-config", str(path)]) == 0
    assert capsys.readouterr().out == (
        f"{path}: 1 monitor, 0 alert channels, 1 maintenance window, OK\n"
    )


def test_check_config_defaults_to_tether_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without FILE, check-config reads ./tether.yaml."""
    write(tmp_path, dump())
    monkeypatch.chdir(tmp_path)
    assert main(["check-config"]) == 0
    assert capsys.readouterr().out == "tether.yaml: 1 monitor, 0 alert channels, OK\n"


def test_check_config_invalid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid file exits 1 with each located error on its own stderr line."""
    path = write(
        tmp_path,
        f"monitors:\n  - name: api\n    url: {URL}\n    interval: '5'\n    colour: red\n",
    )
    assert main(["check-config", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f'{path}:4:5: monitors[0].interval: "5" is not a duration, write 5s',
        f"{path}:5:5: monitors[0].colour: unknown key; expected one of: name, type, url, "
        "token, cron, grace, timezone, app, endpoint, consecutive, failure_ratio, window, "
        "min_calls, method, headers, body, follow_redirects, max_redirects, http_version, "
        "interval, timeout, conditions, failure_threshold, success_threshold, alert_when, "
        "alerts, depends_on, resolver, dns, rdap, tls, browser, query, role, latency_margin, "
        "remind_every, escalate, locations, quorum, partial_alerts, labels, paused, steps",
    ]


def test_check_config_yaml_syntax_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Tab indentation exits 1 with FILE:LINE:COL and no traceback."""
    path = write(tmp_path, "monitors:\n\t- name: a\n")
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert err == f"{path}:2:1: a tab character: YAML is indented with spaces, not tabs\n"


def test_check_config_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing file or a directory exits 2 with one line saying why."""
    missing = tmp_path / "nope.yaml"
    assert main(["check-config", str(missing)]) == 2
    assert capsys.readouterr().err == (
        f"tether check-config: cannot read {missing}: No such file or directory\n"
    )
    assert main(["check-config", str(tmp_path)]) == 2
    assert (
        capsys.readouterr().err == f"tether check-config: cannot read {tmp_path}: Is a directory\n"
    )


def test_check_config_non_utf8_is_invalid_not_unreadable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that reads but is not UTF-8 exits 1, like any other invalid content."""
    path = tmp_path / "tether.yaml"
    path.write_bytes(b"\xff\xfe")
    assert main(["check-config", str(path)]) == 1
    assert capsys.readouterr().err == f"{path}:1: not UTF-8 text (byte 0xff)\n"


def test_cli_import_stays_light() -> None:
    """Importing tether.cli loads neither pydantic nor yaml: check-config imports them lazily."""
    code = "import sys, tether.cli; print(sorted({'pydantic', 'yaml'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.strip() == "[]"


CLI_HOSTILE = [
    "alias bomb",
    "flow lists 100,000 deep",
    "block lists 1,000 deep",
    "a depends_on cycle of 1,000",
    "a 400-digit timeout",
    "a file of 25,000,001 characters",
    "a stray ] in a condition",
    "a lone surrogate as an interval",
    "a 400-digit interval",
    "a 5,000-digit threshold",
    "an allowed target of [[[[[[[[[[",
    "an allowed target of 200,000 characters",
    "a right-to-left override in a monitor's name",
    "a webhook host with a label of 300 characters",
]


@pytest.mark.parametrize("name", CLI_HOSTILE)
def test_check_config_on_a_hostile_file_is_one_line(tmp_path: Path, name: str) -> None:
    """`tether check-config` on a file built to hang, crash or exhaust the loader exits 1
    with one located line on stderr and no traceback, in its own process (a crash in
    libyaml would take the test run with it)."""
    text, message = HOSTILE[name]
    path = write(tmp_path, text)
    # The timeout is a safety net for a hang, not a measurement.
    result = subprocess.run(
        [sys.executable, "-m", "tether.cli", "check-config", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (1, ""), result.stderr[-2000:]
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines[:5]
    assert lines[0].startswith(f"{path}:")
    assert message in lines[0]


def test_check_config_reads_a_chain_of_1000_dependencies(tmp_path: Path) -> None:
    """A valid chain of 1,000 monitors, each depending on the next, is OK."""
    path = write(tmp_path, chain(1_000, cycle=False))
    result = subprocess.run(
        [sys.executable, "-m", "tether.cli", "check-config", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"{path}: 1000 monitors, 0 alert channels, OK\n"


def test_check_config_takes_config_like_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--config FILE` works as the positional FILE does; both naming the same file is fine."""
    path = write(tmp_path, dump())
    assert main(["check-config", "--config", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: 1 monitor, 0 alert channels, OK\n"
    assert main(["check-config", str(path), "--config", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: 1 monitor, 0 alert channels, OK\n"


def test_check_config_with_two_different_files_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """FILE and --config naming different files: one line, exit 2, nothing read."""
    a, b = write(tmp_path, dump(), "a.yaml"), write(tmp_path, "monitors: [", "b.yaml")
    assert main(["check-config", str(a), "--config", str(b)]) == 2
    assert capsys.readouterr() == (
        "",
        f"tether check-config: FILE {a} and --config {b} name different files; give one of them\n",
    )


def test_check_config_without_any_file_points_to_an_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No FILE, no --config and no ./tether.yaml: one line naming tether demo --keep and
    docs/monitor.md, exit 2."""
    monkeypatch.chdir(tmp_path)
    assert main(["check-config"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("tether check-config: no --config FILE given and no tether.yaml here")
    assert "`tether demo --keep DIR`" in err
    assert "docs/monitor.md" in err


def test_check_config_json_on_a_valid_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json prints the verdict and the counts as one JSON object, exit 0."""
    window = {"name": "w", "schedule": "0 2 * * sun", "duration": "1h"}
    path = write(
        tmp_path,
        dump(
            {"name": "a", "url": URL},
            {"name": "b", "url": "tcp://127.0.0.1:5432"},
            alerts=[{"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9000/hook"}],
            maintenance=[window],
        ),
    )
    assert main(["check-config", "--json", "--config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert json.loads(out) == {
        "file": str(path),
        "valid": True,
        "monitors": 2,
        "alert_channels": 1,
        "maintenance_windows": 1,
        "discovery_sources": 0,
        "errors": [],
        "warnings": [],
    }


def test_check_config_json_on_an_invalid_file_masks_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid file with --json: exit 1, each located problem in `errors`, a secret in a
    rejected value masked as in the text."""
    path = write(
        tmp_path,
        f"monitors:\n  - name: api\n    url: {URL}\n    interval: '5'\n"
        "alerts:\n  - {name: ops, type: webhook, url: 'ftp://u:hunter2@127.0.0.1:9/'}\n",
    )
    assert main(["check-config", str(path)]) == 1
    text_errors = capsys.readouterr().err.splitlines()
    assert main(["check-config", str(path), "--json"]) == 1
    out, err = capsys.readouterr()
    assert err == ""
    doc = json.loads(out)
    assert (doc["file"], doc["valid"], doc["monitors"]) == (str(path), False, None)
    assert doc["errors"] == text_errors
    assert doc["errors"][0] == f'{path}:4:5: monitors[0].interval: "5" is not a duration, write 5s'
    assert "ftp://u:***@127.0.0.1:9/" in doc["errors"][1]
    assert "hunter2" not in out


@pytest.mark.parametrize("name", CLI_HOSTILE)
def test_check_config_main_on_a_hostile_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """The same files through check-config's main function, in this process: exit 1, one
    located line naming the key path, nothing raised, and text UTF-8 can carry."""
    text, message = HOSTILE[name]
    path = write(tmp_path, text)
    assert main(["check-config", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith(f"{path}:")
    assert message in line
    line.encode("utf-8")


def test_a_hidden_character_in_a_key_or_value_is_shown_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A right-to-left override in an unknown key is written as its escape in the
    message, and a bell in a duration is named by its code point (the one gate for text
    from outside refuses it): the line shows them rather than obeys them."""
    path = write(
        tmp_path,
        f'monitors:\n  - name: api\n    url: {URL}\n    "x\\u202ey": 1\n'
        '    interval: "3\\u00070s"\n',
    )
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "\u202e" not in err
    assert "\x07" not in err
    assert 'monitors[0]["x\\u202ey"]: unknown key' in err
    assert "monitors[0].interval: holds a control character (U+0007) at character 2" in err


def test_a_module_name_is_a_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A blackbox module's name (the key under modules) is checked as every name is: a
    right-to-left override in it is one line naming the key, not pydantic's [key]."""
    path = write(tmp_path, dump() + 'modules:\n  "http\\u202e2xx": {prober: http}\n')
    assert main(["check-config", str(path)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith(
        'modules["http\\u202e2xx"]: "http\\u202e2xx" contains a right-to-left override '
        "(U+202E) at character 5, which a name may not hold"
    )
