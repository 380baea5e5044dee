"""``tether import kuma kuma.db`` as a person runs it: the configuration on stdout, what
was left out on stderr (and no secret there), exit 0; a file that is not an SQLite
database is one line and exit 2."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.kuma_db import OFFLINE, SECRETS, build_kuma_db
from tests.helpers.tether_processes import tether
from tether.monitor.config import parse_config


def test_import_prints_the_configuration_and_what_was_left_out(tmp_path: Path) -> None:
    """stdout is a configuration tether loads, holding the notification secrets; stderr is
    one `not carried over:` line per thing left out, none with a secret in it."""
    db = tmp_path / "kuma.db"
    build_kuma_db(db, "1.23", OFFLINE)
    code, out, err = tether("import", "kuma", str(db))
    assert code == 0, err
    config = parse_config(out)
    assert "web ok" in {m.name for m in config.monitors}
    lines = err.splitlines()
    assert lines
    assert all(line.startswith("not carried over: ") for line in lines)
    docker = "monitor 27 (a docker, docker): tether has no check of this type (Docker container)"
    assert f"not carried over: {docker}" in lines
    for secret in SECRETS:
        assert secret in out
        assert secret not in err


def test_a_file_that_is_not_sqlite_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """A YAML file given as kuma.db: nothing on stdout, one line on stderr, exit 2."""
    wrong = tmp_path / "tether.yaml"
    wrong.write_text("monitors: []\n")
    code, out, err = tether("import", "kuma", str(wrong))
    assert (code, out) == (2, "")
    assert err == (
        f"tether import kuma: {wrong}: not an SQLite database "
        "(Uptime Kuma keeps kuma.db in its data folder)\n"
    )
