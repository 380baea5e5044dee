"""The monthly report's pure parts (reports/_monthly.py): a month's bounds, and the CSV
written from a report built by hand, its text cells kept from running as formulas."""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.monitor.reports._monthly import (
    CSV_HEADER,
    MonthlyReport,
    PageReport,
    parse_month,
    report_csv,
)
from tether.monitor.reports.objectives._history import History, Mark, Point


@given(st.integers(1970, 9998), st.integers(1, 12))
def test_a_month_runs_from_its_first_midnight_to_the_next_months(year: int, month: int) -> None:
    """``YYYY-MM``: from its first moment (UTC) to the next month's, its days long."""
    start, end = parse_month(f"{year:04d}-{month:02d}")
    first = dt.datetime.fromtimestamp(start, dt.UTC)
    assert (first.year, first.month, first.day, first.hour, first.minute) == (year, month, 1, 0, 0)
    assert end - start == calendar.monthrange(year, month)[1] * 86400


@pytest.mark.parametrize("bad", ["2026-13", "2026-00", "2026-1", "26-11", "2026/11", "", "x" * 99])
def test_a_text_that_is_no_month_says_what_to_write(bad: str) -> None:
    """Refused with what to write, the text cut short."""
    with pytest.raises(ValueError, match=r"is not a month: write YYYY-MM, as in 2026-11") as e:
        parse_month(bad)
    assert len(str(e.value)) < 120


def test_text_cells_never_start_as_a_formula() -> None:
    """A name, a cause or a monitor that a spreadsheet would run (``=``, ``+``, ``-``,
    ``@``) is written after a ``'``; the figures, negative ones included, as they are."""
    mark = Mark(7, "connect.refused", "=HYPERLINK(1)", 0.0, 60.0, ("@evil",))
    history = History(
        "+calc",
        0.99,
        "availability",
        0.0,
        3600.0,
        ("@evil",),
        (Point(3600.0, 0, 2, -199.0),),
        (mark,),
    )
    page = PageReport("public", "Public", (("-cmd", 0.5),), ())
    report = MonthlyReport("2026-11", 0.0, 3600.0, 3600.0, (history,), (page,))
    rows = list(csv.reader(io.StringIO(report_csv(report))))
    assert tuple(rows[0]) == CSV_HEADER
    left = next(r for r in rows if r[2] == "budget_left")
    assert (left[1], left[3]) == ("'+calc", "-199.000000")
    incident = next(r for r in rows if r[0] == "objective_incident")
    assert (incident[7], incident[8], incident[5]) == ("'=HYPERLINK(1)", "'@evil", "60")
    uptime = next(r for r in rows if r[0] == "status_page")
    assert (uptime[2], uptime[3]) == ("'-cmd", "0.500000")
