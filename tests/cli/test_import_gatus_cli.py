"""``tether import gatus`` and ``tether import prometheus`` as processes: the YAML on
stdout, what was left out on stderr, exit 0; a broken file exit 2 with one line; the
secrets the file holds in the YAML (the user needs them) but never on stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.helpers.tether_processes import SRC, tether

GATUS = """\
alerting:
  slack:
    webhook-url: "https://hooks.slack.com/services/T0000/B0000/SLACKsecret123"
  email:
    from: "from@corp.test"
    username: "from@corp.test"
    password: "smtp-PASSWORD-secret"
    host: "mail.corp.test"
    port: 587
    to: "ops@corp.test"
    client:
      insecure: true
  custom:
    url: "http://user:hook-PASS-secret@127.0.0.1:9/hook?token=query-TOKEN-secret"
    method: POST
endpoints:
  - name: website
    url: "http://127.0.0.1:9/health"
    headers:
      Authorization: "Bearer header-TOKEN-secret"
    client:
      insecure: true
    conditions:
      - "[STATUS] == 200"
      - "[DOMAIN_EXPIRATION] > 720h"
    alerts:
      - type: slack
      - type: email
      - type: custom
      - type: pagerduty
"""
SECRETS = (
    "SLACKsecret123",
    "smtp-PASSWORD-secret",
    "hook-PASS-secret",
    "query-TOKEN-secret",
    "header-TOKEN-secret",
)


def test_stdout_is_the_yaml_stderr_what_was_left_out(tmp_path: Path) -> None:
    """Exit 0; stdout is a tether configuration holding the file's secrets; stderr lists
    the left-outs, one line each, and holds none of them."""
    path = tmp_path / "config.yaml"
    path.write_text(GATUS)
    code, out, err = tether("import", "gatus", str(path))
    assert code == 0, err
    config = yaml.safe_load(out)
    assert [m["name"] for m in config["monitors"]] == ["website"]
    for secret in SECRETS:
        assert secret in out, secret
        assert secret not in err, secret
    lines = err.splitlines()
    assert lines
    assert all(line.startswith("not carried over: ") for line in lines)
    assert any("client.insecure" in line for line in lines)
    assert any("[DOMAIN_EXPIRATION]" in line for line in lines)


def test_a_broken_file_exits_2_with_one_line(tmp_path: Path) -> None:
    """Malformed YAML, a file that is not Gatus's, a missing file: exit 2, nothing on
    stdout, one line on stderr naming the file."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("endpoints:\n  - name: [a\n")
    other = tmp_path / "other.yaml"
    other.write_text("storage: {type: memory}\n")
    for path, said in (
        (broken, f"{broken}:3:1: is not valid YAML"),
        (other, f"{other}: is not a Gatus configuration"),
        (tmp_path / "missing.yaml", "cannot read it: No such file or directory"),
    ):
        code, out, err = tether("import", "gatus", str(path))
        assert (code, out) == (2, ""), err
        assert err.count("\n") == 1, err
        assert said in err, err
        assert err.startswith("tether import gatus: ")


def test_import_then_check_config_runs_as_written(tmp_path: Path) -> None:
    """`tether import gatus config.yaml > tether.yaml && tether check-config tether.yaml`
    exits 0: what is imported is what tether checks."""
    (tmp_path / "config.yaml").write_text(GATUS)
    tether_cli = f"{sys.executable} -m tether.cli"
    done = subprocess.run(
        [
            "sh",
            "-c",
            f"{tether_cli} import gatus config.yaml > tether.yaml 2> left.txt"
            f" && {tether_cli} check-config tether.yaml",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": SRC},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "tether.yaml: 1 monitor, 3 alert channels, OK\n"


def test_an_environment_reference_left_unset_is_said_not_refused(tmp_path: Path) -> None:
    """A ${NAME} the Gatus file reads is kept; unset where tether import runs, the YAML is
    still printed (exit 0) and stderr says to set it."""
    path = tmp_path / "config.yaml"
    path.write_text(GATUS.replace('"smtp-PASSWORD-secret"', '"${SMTP_PASSWORD}"'))
    assert "SMTP_PASSWORD" not in os.environ
    code, out, err = tether("import", "gatus", str(path))
    assert code == 0, err
    assert "password: ${SMTP_PASSWORD}" in out
    assert "set ${SMTP_PASSWORD} in the environment: the configuration reads it" in err
