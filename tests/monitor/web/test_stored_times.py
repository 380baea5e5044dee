"""Whatever is already in a store cannot kill a page (issue 45, section 2).  An agent's
batch once placed a check in the year 10056 and from then on ``/``, ``/monitors/api``,
``/api/status`` and ``/api/monitors/api`` answered 500 and ``tether status`` and ``tether
history`` died with a traceback.  Here such rows are written straight into a real store
(SQLite and PostgreSQL), with others no calendar shows and columns that are not what
tether writes, and every one of those pages and commands is read: each answers, and
shows such a time as invalid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.stores import open_target
from tests.helpers.tether_processes import tether
from tests.helpers.web_harness import EPOCH, ServedRunner
from tether._kinds import Kind
from tether.monitor._records import Incident, Member, ProbeRecord, TimelineEntry
from tether.monitor._state import State
from tether.monitor.config import parse_config

YEAR_10056 = 253_402_300_000.0 + EPOCH
"""Where the agent's batch placed its check: ``ts`` 253402300000 with ``sent_at`` 0."""
FAR = (YEAR_10056, -2.5e11, 1e300)
CONFIG = "monitors:\n  - {name: api, url: 'http://127.0.0.1:9/'}\n"


def _write(target: str) -> None:
    """The rows: results, state changes and an open incident at times no calendar shows,
    beside a good result; and, by hand, a result whose time is not a number at all and
    whose data is not JSON."""
    with open_target(target) as store:
        store.record(ProbeRecord("api", EPOCH - 30, True, None, 2.0))
        for at in FAR:
            store.record(ProbeRecord("api", at, False, Kind.CONNECT_REFUSED, 3.0, "refused"))
            store.record_state("api", at, State.DOWN)
        opened = YEAR_10056
        store.open_incident(
            Incident(
                store.new_incident_id(),
                "host:127.0.0.1:9",
                Kind.CONNECT_REFUSED,
                "refused",
                "start it",
                opened,
                monitors=("api",),
                timeline=(TimelineEntry(opened, "opened", "refused"),),
                members={"api": Member(opened, alerted=True)},
            )
        )
        store.flush()
    if target.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(target) as conn:
            for bad in ("NaN", "Infinity", "-Infinity"):
                conn.execute(
                    "INSERT INTO results (monitor, ts, ok, kind, latency_ms, detail, data) "
                    "VALUES ('api', %s::float8, false, 'connect.refused', 'NaN'::float8, "
                    "'x', '[1]')",
                    (bad,),
                )
    else:
        import sqlite3

        db = sqlite3.connect(target)
        db.execute(
            "INSERT INTO results (monitor, ts, ok, kind, latency_ms, detail, data) "
            "VALUES ('api', 'not a time', 0, 'connect.refused', 'x', 5, 'not json')"
        )
        db.commit()
        db.close()


@pytest.mark.parametrize("page", ["/", "/monitors/api", "/api/status", "/api/monitors/api"])
def test_every_page_answers_over_times_no_calendar_shows(target: str, page: str) -> None:
    """Each page answers 200 over those rows; the JSON pages say such a time is invalid."""
    _write(target)
    served = ServedRunner(parse_config(CONFIG), open_target(target))
    try:
        served.now = EPOCH
        answer = served.request("GET", page)
        assert answer.status == 200, answer.body[:2000]
        if page.startswith("/api/"):
            assert '"invalid"' in answer.body
    finally:
        served.close()


def test_tether_status_and_history_show_them_as_invalid(target: str, tmp_path: Path) -> None:
    """``tether status`` and ``tether status --json`` (exit 1: the incident written is
    open), ``tether history`` and its roll-ups (exit 0) read those rows without a
    traceback, each such time shown as invalid."""
    _write(target)
    storage = (
        f"storage: {{postgres: '{target}'}}\n"
        if target.startswith("postgresql://")
        else f"storage: {{path: '{target}'}}\n"
    )
    config = tmp_path / "tether.yaml"
    config.write_text(storage + CONFIG)
    for command in (
        ["status"],
        ["status", "--json"],
        ["history", "api"],
        ["history", "api", "--per", "hour"],
    ):
        code, out, err = tether(*command, "--config", str(config))
        assert code == (1 if command[0] == "status" else 0), err
        assert "Traceback" not in err
        if command == ["status", "--json"]:
            json.loads(out)
        if command in (["status"], ["history", "api"]):
            assert "invalid" in out


def test_the_prune_deletes_what_is_dated_ahead_and_keeps_the_rest(target: str) -> None:
    """The first prune removes every result, state change and roll-up dated more than a
    day ahead (and those not a number, which sort after every number), and keeps the
    good result: a time that came wrong does not stay the newest for good."""
    _write(target)
    with open_target(target) as store:
        store.record(ProbeRecord("api", EPOCH + 3600, True, None, 2.0))  # within the day
        store.flush()
        store.prune(EPOCH)
        kept = store.results("api", -1e300, limit=100)
        assert sorted(r.ts for r in kept) == [EPOCH - 30, EPOCH + 3600]
        assert all(at <= EPOCH + 86400 for at, _ in store.state_changes("api", -1e300))
        for period in ("minute", "hour", "day"):
            assert all(r.start <= EPOCH + 86400 for r in store.rollups("api", period, -1e300))
