"""Uptime Kuma's status pages and maintenance windows as tether's.

A Kuma status page (``status_page``) lists its groups (``group``, by
``status_page_id``, in ``weight`` order) and each group its monitors (``monitor_group``);
tether's ``status_pages`` say the same with names.  A maintenance (``maintenance``,
its monitors in ``monitor_maintenance``) is ``single`` (``start_date`` to ``end_date``),
or has a ``cron`` and a ``duration`` in seconds (Kuma's ``cron`` and ``recurring-*``
strategies both keep one, ``server/model/maintenance.js``): the first is a window once,
the second a weekly one when its cron names only minutes, hours and days of the week.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from tether.monitor.importers._common import LeftOut

__all__ = ["maintenance_windows", "status_pages"]

Row = Mapping[str, Any]
_SLUG = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9])?")


def status_pages(
    db: sqlite3.Connection, by_id: Mapping[int, str], left: list[LeftOut]
) -> list[dict[str, Any]]:
    """tether's ``status_pages`` from Kuma's, naming the monitors that were carried."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {"status_page", "group", "monitor_group"} <= tables:
        return []
    pages: list[dict[str, Any]] = []
    for page in map(dict, db.execute("SELECT * FROM status_page ORDER BY id").fetchall()):
        what = f"status page {page['slug']}"
        if not page["published"]:
            left.append(LeftOut(what, "it is not published in Kuma"))
            continue
        if not _SLUG.fullmatch(str(page["slug"])):
            left.append(
                LeftOut(what, "its slug is not one tether takes (letters, digits, - and _)")
            )
            continue
        groups = _groups(db, int(page["id"]), by_id, what, left)
        if not groups:
            left.append(LeftOut(what, "none of its monitors was carried over"))
            continue
        entry: dict[str, Any] = {"slug": str(page["slug"]), "title": str(page["title"])}
        if page["description"]:
            entry["description"] = " ".join(str(page["description"]).split())
        entry["groups"] = groups
        announcements = _incidents(db, int(page["id"]), what, tables, left)
        if announcements:
            entry["announcements"] = announcements
        pages.append(entry)
        for column, why in (
            ("password", "tether's status pages are public"),
            ("custom_css", "tether's status pages take no CSS"),
            ("footer_text", "tether's status pages have no footer text"),
        ):
            if page.get(column):
                left.append(LeftOut(f"{what}: {column}", why))
    return pages


_MARKDOWN = ("\n", "*", "_", "`", "#", "[", "<")
"""What tells Kuma's Markdown from plain text in an incident's content."""
_LEVELS = {"danger": "outage", "warning": "warning"}
"""Kuma's incident styles (its editor's: info, warning, danger, primary, light, dark) as an
announcement's level; the others are ``info``."""


def _incidents(
    db: sqlite3.Connection, page: int, what: str, tables: set[str], left: list[LeftOut]
) -> list[dict[str, Any]]:
    """A page's pinned incident (Kuma shows one, at the top: ``incident``, 1.23's
    ``patch-incident-table.sql``) as an announcement shown from when it was posted; an
    unpinned one is no longer shown by Kuma, and is said."""
    if "incident" not in tables:
        return []
    out: list[dict[str, Any]] = []
    query = "SELECT * FROM incident WHERE status_page_id = ? ORDER BY id"
    for incident in map(dict, db.execute(query, (page,)).fetchall()):
        where = f"{what}: incident {incident['id']} ({incident.get('title')})"
        if not incident.get("pin") or not incident.get("active", 1):
            left.append(
                LeftOut(where, "it is not pinned: Kuma no longer shows it (its text stays there)")
            )
            continue
        title = " ".join(str(incident.get("title") or "").split())
        content = " ".join(str(incident.get("content") or "").split())
        text = f"{title}: {content}" if title and content else title or content
        if not text:
            left.append(LeftOut(where, "it has no text"))
            continue
        announcement: dict[str, Any] = {
            "text": text,
            "level": _LEVELS.get(str(incident.get("style") or ""), "info"),
        }
        if incident.get("created_date"):  # UTC, as Kuma writes it
            announcement["start"] = str(incident["created_date"]).replace(" ", "T")
        out.append(announcement)
        if any(mark in str(incident.get("content") or "") for mark in _MARKDOWN):
            left.append(
                LeftOut(
                    f"{where}: content",
                    "Kuma renders it as Markdown; tether's page shows it as one line of plain text",
                )
            )
    return out


def _groups(
    db: sqlite3.Connection, page: int, by_id: Mapping[int, str], what: str, left: list[LeftOut]
) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    on_page: set[str] = set()
    query = 'SELECT * FROM "group" WHERE status_page_id = ? ORDER BY weight, id'
    for group in db.execute(query, (page,)).fetchall():
        monitors: list[str] = []
        members = "SELECT monitor_id FROM monitor_group WHERE group_id = ? ORDER BY weight, id"
        for (monitor_id,) in db.execute(members, (group["id"],)):
            name = by_id.get(int(monitor_id))
            if name is None:
                left.append(
                    LeftOut(
                        f"{what}: group {group['name']}: monitor {monitor_id}",
                        "the monitor was not carried over",
                    )
                )
            elif name not in on_page:  # a monitor is on a tether page once
                on_page.add(name)
                monitors.append(name)
        if monitors:
            groups.append({"name": str(group["name"]), "monitors": monitors})
    return groups


def maintenance_windows(
    rows: Sequence[Row],
    links: Mapping[int, list[int]],
    by_id: Mapping[int, str],
    left: list[LeftOut],
) -> list[dict[str, Any]]:
    """tether's ``maintenance`` from Kuma's windows that name monitors."""
    windows: list[dict[str, Any]] = []
    for row in rows:
        what = f"maintenance {row['id']} ({row.get('title')})"
        strategy = str(row.get("strategy") or "")
        monitors = [by_id[m] for m in links.get(int(row["id"]), []) if m in by_id]
        if not row.get("active", 1):
            left.append(LeftOut(what, "it is switched off in Kuma"))
            continue
        if strategy == "manual":
            left.append(LeftOut(what, "a window switched on by hand: use tether maintenance"))
            continue
        if not monitors:
            left.append(
                LeftOut(
                    what,
                    "it names no monitor that was carried over (tether's "
                    "window without monitors would hold every alert)",
                )
            )
            continue
        window: dict[str, Any] = {"name": f"{row.get('title') or 'maintenance'} ({row['id']})"}
        if strategy == "single" and row.get("start_date") and row.get("end_date"):
            window["start"] = str(row["start_date"]).replace(" ", "T")
            window["end"] = str(row["end_date"]).replace(" ", "T")
        elif _weekly(row.get("cron")) and int(row.get("duration") or 0) > 0:
            window["schedule"] = " ".join(str(row["cron"]).split())
            window["duration"] = f"{int(row['duration'])}s"
        else:
            left.append(
                LeftOut(
                    what, f"tether's windows are once or weekly; this {strategy} one is neither"
                )
            )
            continue
        zone = str(row.get("timezone") or "")
        if zone and zone != "SAME_AS_SERVER":
            window["timezone"] = zone
        else:
            left.append(
                LeftOut(
                    f"{what}: timezone",
                    "Kuma's server time zone is not in its database: the window is read in UTC",
                )
            )
        window["monitors"] = monitors
        windows.append(window)
        if str(row.get("description") or "").strip():
            left.append(
                LeftOut(
                    f"{what}: description",
                    "tether's maintenance windows hold no text: a status page's "
                    "announcement can say it",
                )
            )
    return windows


def _weekly(cron: object) -> bool:
    fields = str(cron or "").split()
    return len(fields) == 5 and fields[2] == "*" and fields[3] == "*"
