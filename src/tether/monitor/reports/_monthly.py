"""The monthly report, ``tether report --month 2026-11``: for one calendar month (UTC),
each objective's SLI, target, budget spent and left and the incidents of its monitors,
and each status page's uptime per monitor and its incidents; read from the store
(``objectives/_history.py`` for the objectives, ``_uptime.py`` for the uptimes).

As CSV (:func:`report_csv`, one row per section and item under :data:`CSV_HEADER`, the
columns docs/objectives.md describes); the printable HTML is the web layer's
(``web/pages/_report_page.py``), from the same :class:`MonthlyReport`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from tether.monitor.reports._uptime import uptime
from tether.monitor.reports.objectives._history import (
    History,
    Mark,
    incident_marks,
    objective_history,
)

if TYPE_CHECKING:
    from tether.monitor.config import MonitorConfig
    from tether.monitor.store import Store

__all__ = [
    "CSV_HEADER",
    "MonthlyReport",
    "PageReport",
    "monthly_report",
    "parse_month",
    "report_csv",
]

_MONTH: Final = re.compile(r"(\d{4})-(\d{2})")
CSV_HEADER: Final = (
    "section",
    "name",
    "item",
    "value",
    "opened",
    "duration_s",
    "kind",
    "cause",
    "monitors",
)
"""The CSV's columns (docs/objectives.md, "Monthly report")."""


def parse_month(text: str) -> tuple[float, float]:
    """``2026-11`` as the Unix seconds of its first moment and of the next month's (UTC);
    :class:`ValueError` saying what to write."""
    found = _MONTH.fullmatch(text.strip())
    year, month = (int(found[1]), int(found[2])) if found else (0, 0)
    if not found or not 1 <= month <= 12 or year < 1970:
        raise ValueError(f"{text[:40]!r} is not a month: write YYYY-MM, as in 2026-11")
    start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=dt.UTC)
    return start.timestamp(), end.timestamp()


@dataclass(frozen=True, slots=True)
class PageReport:
    """One status page over the month: each monitor's uptime, and its incidents."""

    slug: str
    title: str
    uptimes: tuple[tuple[str, float | None], ...]
    """(monitor, share of the month's known time it was up; None: never known)."""
    incidents: tuple[Mark, ...]


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    """Every objective and status page of a configuration over one month."""

    month: str
    start: float
    end: float
    until: float
    """The month's end, or ``now`` when earlier (the month's start for a month to come):
    what is reported reaches until then, and an open incident has lasted until then."""
    objectives: tuple[History, ...]
    pages: tuple[PageReport, ...]


def monthly_report(store: Store, config: MonitorConfig, month: str, now: float) -> MonthlyReport:
    """The report of ``month`` (``YYYY-MM``; :class:`ValueError` for another text) as of
    ``now``: a month not over yet is reported up to ``now``."""
    start, end = parse_month(month)
    until = max(start, min(end, now))
    histories = tuple(
        objective_history(store, config, objective, start, until) for objective in config.objectives
    )
    pages = []
    for page in config.status_pages:
        entries = {entry.monitor: entry.shown for entry in page.entries()}
        names = list(entries)
        changes = store.state_changes_of(names, start)
        shares = tuple(
            (entries[name], uptime(changes.get(name, []), start, until)) for name in names
        )
        pages.append(
            PageReport(page.slug, page.title, shares, incident_marks(store, names, start, end))
        )
    return MonthlyReport(month.strip(), start, end, until, histories, tuple(pages))


def _stamp(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


_FORMULA: Final = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    """A text cell as a spreadsheet reads it: one starting as a formula would (``=``,
    ``+``, ``-``, ``@``) gets a ``'`` before it, so a name or a cause never runs as one
    (OWASP's CSV injection).  Numbers are written as they are."""
    return f"'{value}" if value.startswith(_FORMULA) else value


def _incident_rows(section: str, name: str, marks: Sequence[Mark], end: float) -> list[list[str]]:
    return [
        [
            section,
            _text(name),
            f"#{m.id}",
            "",
            _stamp(m.opened),
            f"{m.duration(end):.0f}",
            m.kind or "",
            _text(m.detail),
            _text(" ".join(m.monitors)),
        ]
        for m in marks
    ]


def report_csv(report: MonthlyReport) -> str:
    """The report as CSV: :data:`CSV_HEADER`, then one row per (section, item).

    - ``objective``: ``sli``, ``target``, ``good``, ``total``, ``budget_spent``,
      ``budget_left`` (shares as decimals, 0.999; ``sli`` empty without events),
      ``little_data`` (``true`` while too few checks for a budget: the two before
      measure nothing then) and ``data_since`` (the month's first hour with a check);
    - ``objective_incident``: one per incident (``item`` ``#ID``, with ``opened``,
      ``duration_s``, up to the month's end (or now) while open, ``kind``, ``cause``, ``monitors``
      separated by spaces);
    - ``status_page``: ``item`` a monitor, ``value`` its uptime over the month;
    - ``status_page_incident``: as ``objective_incident``, ``name`` the page's slug.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    blank = [""] * (len(CSV_HEADER) - 4)
    for h in report.objectives:
        figures = (
            ("sli", _share(h.sli)),
            ("target", _share(h.target)),
            ("good", str(h.good)),
            ("total", str(h.total)),
            ("budget_spent", _share(h.spent)),
            ("budget_left", _share(h.remaining)),
            ("little_data", "true" if h.little_data else "false"),
            ("data_since", "" if h.since is None else _stamp(h.since)),
        )
        for item, value in figures:
            writer.writerow(["objective", _text(h.name), item, value, *blank])
        writer.writerows(_incident_rows("objective_incident", h.name, h.incidents, report.until))
    for page in report.pages:
        for monitor, share in page.uptimes:
            writer.writerow(["status_page", page.slug, _text(monitor), _share(share), *blank])
        writer.writerows(
            _incident_rows("status_page_incident", page.slug, page.incidents, report.until)
        )
    return out.getvalue()
