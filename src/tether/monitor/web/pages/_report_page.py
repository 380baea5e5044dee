"""The monthly report as one printable HTML file (``tether report --format html``): the
tables of :class:`~tether.monitor.reports._monthly.MonthlyReport` and each objective's
burn-down chart over the month (the dashboard's, its incidents unlinked), through the
dashboard's templates (autoescape on), with its own style sheet inside, a print one
among it, and no script: it is opened from disk, printed, or mailed on."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from tether._durations import human_duration
from tether.monitor.web._html import render
from tether.monitor.web.pages._objective_pages import budget_text, burn_chart, share_text

if TYPE_CHECKING:
    from tether.monitor.reports._monthly import MonthlyReport

__all__ = ["report_html"]


def _stamp(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def report_html(report: MonthlyReport, generated: float) -> str:
    """The whole document, generated at ``generated`` (Unix seconds)."""
    page = render(
        "report.html",
        r=report,
        share=share_text,
        budget=budget_text,
        chart=burn_chart,
        stamp=_stamp,
        lasted=lambda mark: human_duration(mark.duration(report.until)),
        generated=_stamp(generated),
    )
    return str(page) + "\n"
