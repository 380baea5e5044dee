"""``tether report --month``: the monthly report of objectives and status pages, read
from a real SQLite store the configuration names, whose rows the test writes through
the store's API for November 2025 (a month over, whatever day the test runs on) and the
days either side.  The CSV is parsed back and held to figures the test works out on its
own; the HTML opens in real Chromium and shows its tables when emulating print; a bad
month is one line and exit 2."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tether._kinds import Kind
from tether.cli import main
from tether.monitor._records import Incident, ProbeRecord
from tether.monitor._state import State
from tether.monitor.reports._monthly import CSV_HEADER
from tether.monitor.store import SQLiteStore

NOV = dt.datetime(2025, 11, 1, tzinfo=dt.UTC).timestamp()
DEC = dt.datetime(2025, 12, 1, tzinfo=dt.UTC).timestamp()
HOUR = 3600.0
EVERY = 1800.0  # a check every half hour
API_FAILS = {NOV + 9 * 86400 + k * EVERY for k in range(12)}  # Nov 10, 00:00-05:30
WEB_FAILS = {NOV + 20 * 86400}  # one failed condition on Nov 21


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module (tests/helpers/web_harness.py)."""
    from tests.helpers.web_harness import chromium

    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A configuration file and its store with November's checks, states and incidents."""
    tmp = tmp_path_factory.mktemp("report")
    db = tmp / "tether.db"
    settings = {
        "storage": {"path": str(db)},
        "monitors": [
            {"name": "api", "url": "http://127.0.0.1:9/", "labels": {"service": "checkout"}},
            {"name": "web", "url": "http://127.0.0.1:9/", "labels": {"service": "checkout"}},
        ],
        "objectives": [{"name": "checkout", "match": {"service": "checkout"}, "target": "99.5%"}],
        "status_pages": [
            {
                "slug": "public",
                "title": "Shop <status>",
                "groups": [{"name": "Core", "monitors": [{"monitor": "api", "name": "API"}]}],
            }
        ],
    }
    path = tmp / "tether.yaml"
    path.write_text(yaml.safe_dump(settings))
    with SQLiteStore(str(db)) as store:
        at = NOV - 86400  # October's last day, outside the month
        while at < DEC + 86400:  # and December's first
            kind = Kind.CONNECT_REFUSED if at in API_FAILS else None
            store.record(ProbeRecord("api", at, at not in API_FAILS, kind))
            store.record(ProbeRecord("web", at, at not in WEB_FAILS, None))
            at += EVERY
        store.record_state("api", NOV - 86400, State.UP)
        store.record_state("api", NOV + 9 * 86400, State.DOWN)
        store.record_state("api", NOV + 9 * 86400 + 6 * HOUR, State.UP)
        store.flush()
        ids = []
        for opened, resolved, monitors in (
            (NOV - 3600, NOV + 1800, ("web",)),  # across the month's start
            (NOV + 9 * 86400, NOV + 9 * 86400 + 6 * HOUR, ("api",)),
            (NOV - 5 * 86400, NOV - 4 * 86400, ("api",)),  # October's alone
        ):
            n = store.new_incident_id()
            ids.append(n)
            store.open_incident(
                Incident(n, "k", Kind.CONNECT_REFUSED, "refused", "", opened, resolved, monitors)
            )
    return {"config": str(path), "ids": ids, "tmp": tmp}


def _rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == CSV_HEADER
    return list(reader)


def test_the_csv_holds_the_months_figures(
    month: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """In-process: every figure of the CSV is what the month's rows give, worked out here."""
    code = main(["report", "--month", "2025-11", "--config", month["config"], "--format", "csv"])
    out = capsys.readouterr()
    assert code == 0, out.err
    rows = _rows(out.out)
    objective = {r["item"]: r["value"] for r in rows if r["section"] == "objective"}
    checks = int((DEC - NOV) / EVERY) * 2  # both monitors, every half hour of November
    bad = len(API_FAILS) + len(WEB_FAILS)
    assert int(objective["total"]) == checks
    assert int(objective["good"]) == checks - bad
    assert float(objective["sli"]) == pytest.approx((checks - bad) / checks, abs=1e-6)
    assert float(objective["target"]) == pytest.approx(0.995)
    spent = bad / (0.005 * checks)
    assert float(objective["budget_spent"]) == pytest.approx(spent, abs=1e-6)
    assert float(objective["budget_left"]) == pytest.approx(1 - spent, abs=1e-6)
    first, second, _october = month["ids"]
    incidents = {r["item"]: r for r in rows if r["section"] == "objective_incident"}
    assert set(incidents) == {f"#{first}", f"#{second}"}
    assert incidents[f"#{second}"]["duration_s"] == str(int(6 * HOUR))
    assert incidents[f"#{second}"]["opened"] == "2025-11-10T00:00:00Z"
    assert incidents[f"#{second}"]["kind"] == "connect.refused"
    assert incidents[f"#{second}"]["monitors"] == "api"
    assert incidents[f"#{first}"]["duration_s"] == str(3600 + 1800)
    page = [r for r in rows if r["section"] == "status_page"]
    assert [(r["name"], r["item"]) for r in page] == [("public", "API")]
    assert float(page[0]["value"]) == pytest.approx(1 - 6 * HOUR / (DEC - NOV), abs=1e-6)
    page_incidents = [r["item"] for r in rows if r["section"] == "status_page_incident"]
    assert page_incidents == [f"#{second}"]


def test_a_subprocess_writes_the_report_to_a_file(month: dict[str, Any]) -> None:
    """As a user runs it: ``--output`` writes the file, nothing on standard output."""
    out = month["tmp"] / "nov.csv"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "tether.cli", "report", "--month", "2025-11"),
            *("--config", month["config"], "--format", "csv", "--output", str(out)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    rows = _rows(out.read_text())
    assert {r["section"] for r in rows} == {
        "objective",
        "objective_incident",
        "status_page",
        "status_page_incident",
    }


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "november", "2026-00", ""])
def test_a_bad_month_is_one_line_and_exit_2(
    month: dict[str, Any], bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A month that is not one: one line saying what to write, exit 2, no report."""
    code = main(["report", "--month", bad, "--config", month["config"]])
    out = capsys.readouterr()
    assert code == 2
    assert out.out == ""
    assert out.err.count("\n") == 1
    assert "write YYYY-MM, as in 2026-11" in out.err


def test_a_store_that_cannot_be_opened_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store path in a directory that does not exist: one line, exit 2."""
    path = tmp_path / "t.yaml"
    missing = tmp_path / "no" / "such" / "dir" / "t.db"
    path.write_text(
        yaml.safe_dump(
            {
                "storage": {"path": str(missing)},
                "monitors": [{"name": "a", "url": "http://127.0.0.1:9/"}],
            }
        )
    )
    code = main(["report", "--month", "2025-11", "--config", str(path)])
    out = capsys.readouterr()
    assert code == 2
    assert out.err.startswith("tether report: ")
    assert out.err.count("\n") == 1


def test_the_html_renders_and_prints_in_chromium(month: dict[str, Any], browser: Any) -> None:
    """The HTML report opens in real Chromium from disk, runs no script, escapes the
    page's title, and with print media emulated still shows its tables and each
    objective's burn-down chart with its incidents marked."""
    out = month["tmp"] / "nov.html"
    code = main(["report", "--month", "2025-11", "--config", month["config"], "--output", str(out)])
    assert code == 0
    html = out.read_text()
    assert "<script" not in html
    assert "Shop &lt;status&gt;" in html
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(out.as_uri())
        page.emulate_media(media="print")
        section = page.locator('section.objective[data-objective="checkout"]')
        assert section.locator("table.figures").is_visible()
        assert section.locator("table.incidents tbody tr").count() == 2
        chart = section.locator("svg.burn-down")
        assert chart.is_visible()
        assert chart.locator(".burn-line").evaluate("e => e.getTotalLength()") > 100
        assert chart.locator("g.bd-incident").count() == 2  # marked, not linked, in a file
        assert chart.locator("a").count() == 0
        assert page.locator("section.status-page h3").inner_text().startswith("Shop <status>")
        assert page.locator("table.uptime").is_visible()
        assert len(page.pdf()) > 1000  # it prints
    finally:
        context.close()


@pytest.mark.parametrize("fmt", ["csv", "html"])
def test_a_month_to_come_is_an_empty_report(
    month: dict[str, Any], fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A month that has not begun: nothing counted, the whole budget left, no incident;
    written all the same."""
    code = main(["report", "--month", "2999-01", "--config", month["config"], "--format", fmt])
    out = capsys.readouterr()
    assert (code, out.err) == (0, "")
    if fmt == "csv":
        objective = {r["item"]: r["value"] for r in _rows(out.out) if r["section"] == "objective"}
        assert (objective["sli"], objective["total"], objective["budget_left"]) == (
            "",
            "0",
            "1.000000",
        )
        assert not [r for r in _rows(out.out) if r["section"].endswith("incident")]
    else:
        assert "No checks counted yet." in out.out
