"""``tether status``'s text: the dashboard's status document (:class:`StatusDoc`, what
``tether status --json`` writes) as a table for the terminal, with the times and the
incidents as ``tether history`` and ``tether incidents`` show theirs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tether._table import table_lines
from tether.monitor.reports._documents import table_time
from tether.monitor.reports._uptime import format_uptime

if TYPE_CHECKING:
    from tether.monitor.web._documents import Location, StatusDoc

__all__ = ["status_text"]


def status_text(report: StatusDoc) -> str:
    """``tether status``: a table of the monitors (``rows`` of the status document), each
    of several locations followed by a line per location, then the open incidents."""
    rows = []
    for m in report["rows"]:
        shares = (format_uptime(m["uptime"]["24h"]), format_uptime(m["uptime"]["30d"]))
        check = m["last_check"]
        if check is None:
            rows.append((m["name"], m["state"], "no result yet", "", *shares, ""))
            continue
        failure = m["last_failure"]
        detail = ""
        if not check["ok"] and failure is not None and failure["at"] == check["at"]:
            detail = failure["detail"] or ""
        verdict = "ok" if check["ok"] else (check["kind"] or "failed")
        rows.append((m["name"], m["state"], verdict, table_time(check["at"]), *shares, detail))
    header, *lines = table_lines(
        ("monitor", "state", "latest", "at (UTC)", "up 24h", "up 30d", "detail"), rows
    )
    out = header
    for m, line in zip(report["rows"], lines, strict=True):
        out += line
        out += "".join(_location_line(where, report["now"]) for where in m.get("locations", ()))
        below = m["quorum"]["below"] if "quorum" in m else None
        if below:
            out += f"  {below}\n"
    out += "\n"
    if not report["open_incidents"]:
        out += "no open incident\n"
    for i in report["open_incidents"]:
        acked = f", acknowledged {table_time(i['acknowledged'])}" if i["acknowledged"] else ""
        partial = ", partial" if i["partial"] else ""
        names = ", ".join(i["monitors"])
        more = i.get("monitors_count", len(i["monitors"])) - len(i["monitors"])
        if more > 0:
            names += f" and {more:,} more"
        out += (
            f"incident {i['id']} open since {table_time(i['opened'])}{acked}{partial}: "
            f"{i['kind']}: {i['detail']} ({names})\n"
        )
    return out


def _location_line(where: Location, now: str | None) -> str:
    """``  east: down since 14:05 (connect.timeout)``: the time of day alone when it is
    today's (UTC), as the table's times are."""
    since = where["since"]
    when = ""
    if since is not None:
        today = now and since[:10] == now[:10]
        when = f" since {since[11:16] if today else table_time(since)[:16]}"
    why = f" ({where['kind']})" if where["kind"] else ""
    return f"  {where['location']}: {where['state']}{when}{why}\n"
