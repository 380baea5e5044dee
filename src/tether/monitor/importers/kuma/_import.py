"""``tether import kuma kuma.db``: Uptime Kuma's own SQLite database read into tether's.

What was read, in louislam/uptime-kuma, to know the tables and columns:

- 1.23 (tag 1.23.16): the template ``db/kuma.db`` with ``db/patch1.sql`` to
  ``db/patch10.sql`` and every ``db/patch-*.sql`` of ``server/database.js``'s
  ``patchList``, applied in that order (what a 1.23 server does to a new database);
  the providers' fields in ``server/notification-providers/*.js``; how a monitor is
  checked in ``server/model/monitor.js``.
- 2.x (tag 2.0.2): SQLite still starts from that template and those patches
  (``db/old_migrations/``), then ``db/knex_migrations/*.js`` alter it (``conditions``,
  ``json_path_operator``, ``ping_count``, ``smtp_security``, ``ip_family``...), knex
  recording each in its ``knex_migrations`` table; ``db/knex_init_db.js`` is the same
  schema written for MariaDB.

The file is opened read-only (SQLite's ``mode=ro``); a 2.x database is told from a 1.23
one by its ``knex_migrations`` table.  The mapping, table by table, is in
docs/migrating.md ("From Uptime Kuma"); everything not carried is a :class:`LeftOut`.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from tether._text import dotted, text_faults
from tether.monitor.config.labels._labels import RESERVED, VALUE_MAX
from tether.monitor.importers._common import Imported, ImportFailed, LeftOut
from tether.monitor.importers.kuma._monitors import map_monitor
from tether.monitor.importers.kuma._notify import channel_of
from tether.monitor.importers.kuma._pages import maintenance_windows, status_pages

__all__ = ["import_kuma"]

Row = Mapping[str, Any]

_KUMA_THRESHOLDS: Final = {"failure_threshold": 1, "success_threshold": 1}
"""How Kuma judges a monitor that does not retry (``maxretries: 0``, its default): down
at the first failure, up at the first success (``server/model/monitor.js``)."""


def import_kuma(path: str) -> Imported:
    """Uptime Kuma's database at ``path`` (1.23 or 2.x) as tether's configuration."""
    with _open(path) as db:
        version = _version(db, path)
        left: list[LeftOut] = []
        notes: list[str] = []
        channels, by_notification = _channels(db, left)
        if channels:
            notes.append(
                "Alert channels hold Kuma's secrets as they were: keep this file private, "
                "or move them into environment variables."
            )
        monitors, by_id = _monitors(db, by_notification, left, notes)
        if not monitors:
            raise ImportFailed(
                f"{path}: none of its {len(left)} monitors and settings could be carried "
                "over (tether import kuma lists why when one can)"
            )
        config: dict[str, Any] = {"defaults": dict(_KUMA_THRESHOLDS)}
        notes.append(
            "defaults: a Kuma monitor is down at its first failure (unless it retries: "
            "maxretries + 1 failures in a row) and up at its first success."
        )
        if channels:
            config["alerts"] = channels
        config["monitors"] = monitors
        windows = maintenance_windows(_rows(db, "maintenance"), _links(db), by_id, left)
        if windows:
            config["maintenance"] = windows
        pages = status_pages(db, by_id, left)
        if pages:
            config["status_pages"] = pages
    for where, problem in text_faults(config):  # the one gate for text from outside
        raise ImportFailed(f"{path}: {dotted(where)} (in tether's configuration) {problem}")
    return Imported(
        config=_literal(config),
        left_out=tuple(left),
        source=f"Uptime Kuma {version} ({Path(path).name})",
        notes=tuple(notes),
    )


def _literal(value: Any) -> Any:
    """Kuma's text as it is: tether reads ``${NAME}`` in a value from the environment, so a
    ``${`` of Kuma's (a header, a body, a keyword) is written ``$${``."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {key: _literal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_literal(item) for item in value]
    return value


@contextmanager
def _open(path: str) -> Iterator[sqlite3.Connection]:
    file = Path(path)
    if not file.is_file():
        raise ImportFailed(f"{path}: no such file")
    try:
        db = sqlite3.connect(f"file:{quote(str(file.resolve()))}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ImportFailed(f"{path}: cannot open it: {exc}") from None
    with closing(db):
        db.row_factory = sqlite3.Row
        try:
            db.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()
        except sqlite3.DatabaseError:
            raise ImportFailed(
                f"{path}: not an SQLite database (Uptime Kuma keeps kuma.db in its data folder)"
            ) from None
        try:
            yield db
        except sqlite3.Error as exc:
            raise ImportFailed(f"{path}: cannot read it as Uptime Kuma's database: {exc}") from None


def _tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _version(db: sqlite3.Connection, path: str) -> str:
    tables = _tables(db)
    needed = {"monitor", "notification", "monitor_notification", "setting"}
    if not needed <= tables:
        missing = ", ".join(sorted(needed - tables))
        raise ImportFailed(
            f"{path}: an SQLite database, but not Uptime Kuma's (no {missing} table)"
        )
    columns = {r[1] for r in db.execute("PRAGMA table_info(monitor)")}
    if not {"type", "url", "interval", "maxretries"} <= columns:
        raise ImportFailed(
            f"{path}: an SQLite database, but its monitor table is not Uptime Kuma's"
        )
    if "knex_migrations" in tables:
        return "2.x"
    return "1.23"


def _rows(db: sqlite3.Connection, table: str, order: str = "id") -> list[Row]:
    if table not in _tables(db):
        return []
    return [dict(r) for r in db.execute(f'SELECT * FROM "{table}" ORDER BY {order}')]


def _links(db: sqlite3.Connection) -> dict[int, list[int]]:
    """Each maintenance's monitors, by id."""
    links: dict[int, list[int]] = {}
    for row in _rows(db, "monitor_maintenance"):
        links.setdefault(int(row["maintenance_id"]), []).append(int(row["monitor_id"]))
    return links


def _unique(name: str, taken: set[str], fallback: str) -> str:
    base = " ".join(name.split()) or fallback
    chosen, n = base, 2
    while chosen in taken:
        chosen, n = f"{base} ({n})", n + 1
    taken.add(chosen)
    return chosen


def _channels(
    db: sqlite3.Connection, left: list[LeftOut]
) -> tuple[list[dict[str, Any]], dict[int, str]]:
    channels: list[dict[str, Any]] = []
    by_id: dict[int, str] = {}
    taken: set[str] = set()
    for row in _rows(db, "notification"):
        what = f"notification {row['id']} ({row.get('name') or 'unnamed'})"
        if not row.get("active", 1):
            left.append(LeftOut(what, "it is switched off in Kuma"))
            continue
        channel = channel_of(str(row.get("name") or ""), row.get("config"))
        if channel.config is None:
            left.append(LeftOut(what, channel.why_not))
            continue
        name = _unique(str(row.get("name") or ""), taken, f"notification-{row['id']}")
        channels.append({"name": name, **channel.config})
        by_id[int(row["id"])] = name
        left += [LeftOut(what, note) for note in channel.notes]
    return channels, by_id


def _monitors(
    db: sqlite3.Connection, by_notification: dict[int, str], left: list[LeftOut], notes: list[str]
) -> tuple[list[dict[str, Any]], dict[int, str]]:
    rows = _rows(db, "monitor")
    groups = {int(r["id"]): r for r in rows if r.get("type") == "group"}
    alerts: dict[int, list[str]] = {}
    for link in _rows(db, "monitor_notification"):
        channel = by_notification.get(int(link["notification_id"]))
        if channel is not None:
            alerts.setdefault(int(link["monitor_id"]), []).append(channel)
    tags = _tags(db)
    monitors: list[dict[str, Any]] = []
    by_id: dict[int, str] = {}
    taken: set[str] = set()
    for row in rows:
        what = f"monitor {row['id']} ({row.get('name') or 'unnamed'}, {row.get('type')})"
        if row.get("type") == "group":
            left.append(
                LeftOut(
                    what,
                    "a group probes nothing: its members carry the label "
                    f"group={_group_path(row, groups)!r}",
                )
            )
            continue
        mapped = map_monitor(row)
        if mapped.monitor is None:
            left += [LeftOut(what, why) for _, why in mapped.left_out]
            continue
        left += [LeftOut(f"{what}: {part}", why) for part, why in mapped.left_out]
        notes += [f"{what}: {note}" for note in mapped.notes]
        name = _unique(str(row.get("name") or ""), taken, f"monitor-{row['id']}")
        labels = _labels(row, groups, tags.get(int(row["id"]), []), what, left, notes)
        monitor: dict[str, Any] = {"name": name, **mapped.monitor}
        if labels:
            monitor["labels"] = labels
        if alerts.get(int(row["id"])):
            monitor["alerts"] = alerts[int(row["id"])]
        monitors.append(monitor)
        by_id[int(row["id"])] = name
    return monitors, by_id


def _group_path(row: Row, groups: Mapping[int, Row]) -> str:
    names: list[str] = [str(row.get("name") or row["id"])]
    seen = {int(row["id"])}
    parent = row.get("parent")
    while parent is not None and int(parent) in groups and int(parent) not in seen:
        seen.add(int(parent))
        names.insert(0, str(groups[int(parent)].get("name") or parent))
        parent = groups[int(parent)].get("parent")
    return " / ".join(names)


def _tags(db: sqlite3.Connection) -> dict[int, list[tuple[str, str]]]:
    if not {"tag", "monitor_tag"} <= _tables(db):
        return {}
    found: dict[int, list[tuple[str, str]]] = {}
    query = (
        "SELECT mt.monitor_id, t.name, mt.value FROM monitor_tag mt "
        "JOIN tag t ON t.id = mt.tag_id ORDER BY mt.id"
    )
    for monitor_id, name, value in db.execute(query):
        found.setdefault(int(monitor_id), []).append((str(name), str(value or "")))
    return found


def label_name(tag: str) -> str:
    """A Kuma tag's name as a label name Prometheus takes (and tether does not keep)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", tag.strip()) or "tag"
    if name[0].isdigit():
        name = f"_{name}"
    if name.startswith("__"):
        name = "kuma_" + (name.lstrip("_") or "tag")
    if name in RESERVED:
        name = f"kuma_{name}"
    return name


def _labels(
    row: Row,
    groups: Mapping[int, Row],
    tags: list[tuple[str, str]],
    what: str,
    left: list[LeftOut],
    notes: list[str],
) -> dict[str, str]:
    labels: dict[str, str] = {}
    parent = row.get("parent")
    if parent is not None and int(parent) in groups:
        labels["group"] = _group_path(groups[int(parent)], groups)
    description = " ".join(str(row.get("description") or "").split())
    if description:  # what Kuma shows under the monitor's name: with its alerts here
        labels["description"] = description[:VALUE_MAX]
        if len(description) > VALUE_MAX:
            notes.append(f"{what}: its description is cut to a label's {VALUE_MAX} characters")
    for tag, value in tags:
        name = label_name(tag)
        if name in labels:
            left.append(
                LeftOut(
                    f"{what}: tag {tag!r}",
                    f"its label name {name} is taken (by the group, the description or "
                    f"another tag): kept "
                    f"{labels[name]!r}, not {value!r}",
                )
            )
            continue
        if name != tag:
            notes.append(f"{what}: the tag {tag!r} is the label {name}")
        labels[name] = value
    return labels
