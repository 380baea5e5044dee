"""``tether status``'s text: the dashboard's status document (:class:`StatusDoc`, what
``tether status --json`` writes) as a table for the terminal, with the times and the
incidents as ``tether history`` and ``tether incidents`` show theirs; and the words the
dashboard and the text share: the line on the instances, agents and live locations
(:func:`cluster_line`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from tether._plural import count
from tether._table import table_lines
from tether.monitor.reports._documents import table_time
from tether.monitor.reports._uptime import format_uptime

if TYPE_CHECKING:
    from tether.monitor.web.documents._documents import ClusterDoc, Location, StatusDoc

__all__ = ["ClusterLine", "cluster_line", "status_text"]


class ClusterLine(TypedDict):
    """The line on the cluster (:func:`cluster_line`): each part with whether it is
    trouble."""

    alive: int
    parts: list[tuple[str, bool]]
    title: str


def cluster_line(cluster: ClusterDoc) -> ClusterLine | None:
    """``3 instances: east (leader), west, branch-1 (agent)``: each location of the file
    with its live instances, or its agent while it reports, and a location nothing probes
    from now in red (each part with whether it is: not among ``live_locations``, the
    locations the quorum counts); ``None`` for one instance at one location."""
    live = cluster["live"] or {}
    alive = [i for i in cluster["instances"] if i["alive"]]
    if len(alive) <= 1 and len(live) <= 1:
        return None
    counted = cluster["live_locations"]
    agents = {a["location"] for a in cluster["agents"]}
    parts = []
    for where, n in live.items():
        dead = not n if counted is None else where not in counted
        if n:
            many = f" ×{n}" if n > 1 else ""
            leads = any(i["leader"] and i["location"] == where for i in alive)
            text = f"{where}{many}{' (leader)' if leads else ''}"
        elif where in agents:
            text = f"{where} ({'no word from its agent' if dead else 'agent'})"
        else:
            text = f"{where} (no live instance)"
        parts.append((text, dead))
    if not any(i["leader"] for i in alive):
        parts.append(("no leader: incidents wait", True))
    title = f"this page from {cluster['id']} at {cluster['location']}"
    return {"alive": len(alive), "parts": parts, "title": title}


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
    cluster = cluster_line(report["cluster"]) if "cluster" in report else None
    if cluster is not None:
        out += f"\n{count(cluster['alive'], 'instance')}: "
        out += ", ".join(text for text, _ in cluster["parts"]) + "\n"
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
    counted = "" if where.get("live", True) else ", not counted: nothing probes from there now"
    return f"  {where['location']}: {where['state']}{when}{why}{counted}\n"
