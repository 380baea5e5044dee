"""The Kuma importer's pure parts held to Uptime Kuma's own rules, and the files it
refuses: accepted status codes and keywords judged by tether's conditions as Kuma's
``checkStatusCode`` and ``includes`` judge them (hypothesis), tags as label names
Prometheus takes, and one ImportFailed line for a file that is not Kuma's database."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.helpers.kuma_db import DDL_1_23, OFFLINE, build_kuma_db
from tether.monitor.config import parse_config
from tether.monitor.config._conditions import ProbeContext, parse_condition
from tether.monitor.config.labels._labels import LABEL_NAME, RESERVED
from tether.monitor.importers import ImportFailed, to_yaml
from tether.monitor.importers.kuma._import import import_kuma, label_name
from tether.monitor.importers.kuma._monitors import map_monitor

_code = st.integers(100, 599)
_range = st.tuples(_code, _code).map(lambda p: f"{min(p)}-{max(p)}")
_hundred = st.integers(1, 5).map(lambda h: f"{h}00-{h}99")
_entry = st.one_of(_code.map(str), _range, _hundred)


def _kuma_accepts(codes: list[str], status: int) -> bool:
    # Uptime Kuma's checkStatusCode (server/util-server.js, 1.23 and 2.x)
    for code in codes:
        if "-" in code:
            low, high = (int(part) for part in code.split("-"))
            if low <= status <= high:
                return True
        elif int(code) == status:
            return True
    return False


def _conditions(row: dict[str, object]) -> list[str]:
    mapped = map_monitor({"type": "http", "url": "http://127.0.0.1:8080/", **row})
    assert mapped.monitor is not None
    return list(mapped.monitor.get("conditions", []))


@given(codes=st.lists(_entry, min_size=1, max_size=4), status=_code)
def test_accepted_status_codes_judge_as_kuma_does(codes: list[str], status: int) -> None:
    """For any accepted_statuscodes_json and any status, tether's conditions pass exactly
    when Kuma's checkStatusCode accepts the status."""
    conditions = _conditions({"accepted_statuscodes_json": json.dumps(codes)})
    context = ProbeContext(status=status, response_time_ms=1.0, body=b"", headers={})
    passed = all(parse_condition(c).evaluate(context).success for c in conditions)
    assert passed == _kuma_accepts(codes, status)


@given(keyword=st.text(min_size=1, max_size=12), body=st.text(max_size=40), invert=st.booleans())
def test_keywords_judge_as_kuma_does(keyword: str, body: str, invert: bool) -> None:
    """A keyword (quotes, backslashes and all) is found in the body exactly when Kuma's
    ``data.includes(keyword)`` finds it, or not found with invert_keyword."""
    conditions = _conditions({"type": "keyword", "keyword": keyword, "invert_keyword": invert})
    context = ProbeContext(status=200, response_time_ms=1.0, body=body.encode(), headers={})
    (found,) = [parse_condition(c).evaluate(context).success for c in conditions if "BODY" in c]
    assert found == ((keyword in body) != invert)


@given(st.text(max_size=20))
@example("monitor")
@example("__name__")
@example("team-name")
@example("2fa")
@example("env")
def test_any_tag_is_a_label_name_prometheus_takes(tag: str) -> None:
    """Whatever a Kuma tag is called, its label name is Prometheus's, not tether's own, and
    a name that already was one is kept as it is."""
    name = label_name(tag)
    assert LABEL_NAME.fullmatch(name)
    assert not name.startswith("__")
    assert name not in RESERVED
    if LABEL_NAME.fullmatch(tag) and not tag.startswith("__") and tag not in RESERVED:
        assert name == tag


def test_files_that_are_not_kumas_fail_with_one_line(tmp_path: Path) -> None:
    """A missing file, a text file and an SQLite file of another program each fail with
    one line naming the file and what it is not."""
    text = tmp_path / "tether.yaml"
    text.write_text("monitors: []\n")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    cases = {
        tmp_path / "missing.db": "no such file",
        text: "not an SQLite database",
        other: "an SQLite database, but not Uptime Kuma's (no monitor, monitor_notification,",
    }
    for path, message in cases.items():
        with pytest.raises(ImportFailed) as caught:
            import_kuma(str(path))
        assert str(caught.value).startswith(f"{path}: ")
        assert message in str(caught.value)
        assert "\n" not in str(caught.value)


def test_the_database_is_only_read(tmp_path: Path) -> None:
    """kuma.db copied with its WAL while Kuma runs (Kuma keeps it in WAL mode): the import
    reads the rows still in the WAL and writes nothing, not even a checkpoint into the
    database file (which opening it read-write would do on closing)."""
    running, copy = tmp_path / "running", tmp_path / "copy"
    running.mkdir()
    copy.mkdir()
    build_kuma_db(running / "kuma.db", "2.x", OFFLINE)
    kuma = sqlite3.connect(running / "kuma.db")
    kuma.execute("PRAGMA journal_mode = WAL")
    kuma.execute("PRAGMA wal_autocheckpoint = 0")
    kuma.execute("INSERT INTO monitor (name, type, url) VALUES ('late', 'http', ?)",
                 (OFFLINE.healthy,))  # fmt: skip
    kuma.commit()
    for name in ("kuma.db", "kuma.db-wal"):
        shutil.copyfile(running / name, copy / name)
    kuma.close()
    before = (copy / "kuma.db").read_bytes()
    imported = import_kuma(str(copy / "kuma.db"))
    assert "late" in [m["name"] for m in imported.config["monitors"]]
    assert (copy / "kuma.db").read_bytes() == before


def test_a_database_with_nothing_to_carry_fails(tmp_path: Path) -> None:
    """Kuma's database holding only monitors tether has no check of is one ImportFailed
    line, not an empty configuration."""
    db = tmp_path / "kuma.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(DDL_1_23)
        conn.execute("INSERT INTO monitor (name, type) VALUES ('cache', 'redis')")
    with pytest.raises(ImportFailed, match="none of its 1 monitors"):
        import_kuma(str(db))


def test_kumas_dollar_braces_stay_text(tmp_path: Path) -> None:
    """A ``${...}`` in Kuma's body, header or keyword is Kuma's text, not a variable of
    tether's environment: loaded, the monitor holds it as Kuma did."""
    db = tmp_path / "kuma.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(DDL_1_23)
        conn.execute(
            "INSERT INTO monitor (name, type, url, method, body, headers, keyword)"
            " VALUES ('tmpl', 'keyword', 'http://127.0.0.1:9/', 'POST', ?, ?, '${name}')",
            ('{"user": "${USER}"}', '{"X-Template": "${HOME}"}'),
        )
    (monitor,) = parse_config(to_yaml(import_kuma(str(db)))).monitors
    assert monitor.body == '{"user": "${USER}"}'
    assert dict(monitor.headers)["X-Template"] == "${HOME}"
    assert any("${name}" in str(c) for c in monitor.conditions)


def test_text_no_page_can_carry_is_one_line_naming_the_field(tmp_path: Path) -> None:
    """The one gate for text from outside holds Kuma's database too (issue 72 §1): a
    monitor's text holding a control character is one line naming the file and the field
    of the configuration it would make (it was carried over)."""
    build_kuma_db(tmp_path / "kuma.db", "2.x", OFFLINE)
    kuma = sqlite3.connect(tmp_path / "kuma.db")
    kuma.execute("INSERT INTO monitor (name, type, url, description) VALUES (?, 'http', ?, ?)",
                 ("late", OFFLINE.healthy, "ops\x1b[2J"))  # fmt: skip
    kuma.commit()
    kuma.close()
    with pytest.raises(ImportFailed) as raised:
        import_kuma(str(tmp_path / "kuma.db"))
    assert str(raised.value).startswith(f"{tmp_path / 'kuma.db'}: monitors[")
    assert "holds a control character (U+001B)" in str(raised.value)
