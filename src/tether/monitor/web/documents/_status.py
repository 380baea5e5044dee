"""The status document: what ``/api/status`` serves, the dashboard's overview renders and
``tether status --json`` writes, built by one function (:func:`build_status`) from a
:class:`~tether.monitor.web.documents._snapshot.Snapshot`, the running monitor's or the store's
(:func:`status_report`).

One store gives one document, whoever asks: a running instance of any shape (one
process, ``workers: 2``, instances sharing PostgreSQL, agents reporting) or ``tether
status`` reading its database.  Every field is the same but those that are by nature
about the moment or about who answers, listed once in :data:`BY_THE_MOMENT`
(docs/dashboard.md, "One view"); ``tests/monitor/web/test_one_view.py`` compares the two
against real processes in every shape.

A filter (``q``, ``match``) applies to the whole document, not to its rows alone: the
counts by state, the ``monitors`` map and the open incidents are of the monitors it
keeps (:func:`~tether.monitor.web.documents._overview.scope`).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from tether._redact import redact_url
from tether.monitor.reports._documents import iso, round_ms
from tether.monitor.reports._uptime import UptimeTable, uptimes_of
from tether.monitor.web.documents._board import STATE_ORDER, StateBoard
from tether.monitor.web.documents._dashboard import SHOWN, _dumps, listed_brief
from tether.monitor.web.documents._documents import (
    DashboardRow,
    StatusDoc,
    channel_json,
    cluster_json,
    failure_json,
    store_json,
    view_json,
)
from tether.monitor.web.documents._overview import (
    OverviewEntry,
    View,
    arrange,
    arrange_in_order,
    in_order,
    order_of,
    scope,
)
from tether.monitor.web.documents._recent import Recent
from tether.monitor.web.documents._snapshot import Facts, Snapshot

if TYPE_CHECKING:
    from tether.monitor.config import MonitorConfig
    from tether.monitor.store import Store
    from tether.monitor.web._running import Running

__all__ = [
    "BY_THE_MOMENT",
    "MonitorsJSON",
    "build_status",
    "overview_entries",
    "status_document",
    "status_json",
    "status_report",
]

BY_THE_MOMENT: Final = (
    # When it was asked, and what follows from it.
    "now",
    "rows.*.for_s",
    "rows.*.last_check.ago_s",
    "rows.*.last_failure.ago_s",
    "open_incidents.*.duration_s",
    # Written again while it runs: an instance's heartbeat every quarter of the lease, an
    # agent's last word with each batch and poll.
    "cluster.instances.*.heartbeat",
    "cluster.agents.*.last_report",
    # Who answers: an instance (tether status is none: "", "", false).
    "cluster.id",
    "cluster.location",
    "cluster.leader",
    # What the answering process did: its writing to the store, its deliveries of
    # alerts since it started (each instance delivers the alerts it claims).
    "store",
    "channels.*.failing",
    "channels.*.last_error",
    "channels.*.last_failure_at",
    "channels.*.sent",
    "channels.*.failed",
)
"""The fields of a status document that are by nature about the moment it was asked
or about who answers it: every other field of ``/api/status`` is what ``tether status
--json`` says for the same store and the same view (``*``: each item of a list)."""


@functools.lru_cache(maxsize=1 << 16)  # a monitor's URL as shown, for the filter to search
def _shown_url(url: str) -> str:
    return redact_url(url)


def overview_entries(
    snap: Snapshot, opened: Mapping[str, float], table: UptimeTable
) -> list[OverviewEntry]:
    """What the overview sorts and filters every monitor by: the runner's memory and the
    cached uptimes (one store read a minute), no query per monitor."""
    shares = table.read(snap.store, [m.name for m in snap.monitors], snap.now)
    out = []
    for position, m in enumerate(snap.monitors):
        latest = snap.latest.get(m.name)
        share = shares.get(m.name, {})
        out.append(
            OverviewEntry(
                position,
                m.name,
                _shown_url(m.url),
                snap.state(m.name),
                snap.since_of(m.name, opened),
                None if latest is None else latest.latency_ms,
                share.get("24h"),
                share.get("30d"),
                snap.certificates.get(m.name),
                m.labels,
            )
        )
    return out


def build_status(
    snap: Snapshot,
    recent: Recent,
    view: View | None = None,
    table: UptimeTable | None = None,
    board: StateBoard | None = None,
) -> StatusDoc:
    """The document behind ``/api/status`` and the dashboard (see :func:`status_document`):
    the monitors ``view`` is about (every one, or those its ``q`` and ``match`` keep),
    their states and counts, the rows of the page it asks for (the first hundred in the
    configuration's order by default), their open incidents; ``table`` keeps every
    monitor's uptime between calls.

    ``board`` keeps every monitor's state between calls (:class:`StateBoard`): given, the
    document's ``monitors`` is :class:`MonitorsJSON`, the map already written, which
    :func:`status_json` puts in place; without it, a dict."""
    view = view or View()
    now = snap.now
    order = order_of(snap.monitors)
    kept = board or StateBoard()
    seen = kept.read(order.sorted, snap.states, snap.since.keys(), snap.journal, snap.journal_end)
    # Down since before a restart: dated from the open incidents, read only when one is.
    opened = snap.store.down_since() if seen.down_unseen else {}
    table = table or UptimeTable()
    states: dict[str, str] | str = (
        MonitorsJSON(seen.text) if board is not None else json.loads(seen.text)
    )
    summary = seen.summary
    among: list[str] | None = None
    if in_order(view):  # the default: no entry for every monitor, no uptime table
        paged = arrange_in_order(view, order.names, snap.states)
    else:
        within = scope(view, overview_entries(snap, opened, table))
        paged = arrange(view, within, scoped=True)
        if view.scoped:
            among = sorted(e.name for e in within)
            states = {name: str(snap.state(name)) for name in among}
            counts = Counter(e.state for e in within)
            summary = {str(s): counts.get(s, 0) for s in STATE_ORDER}
    rows = _rows(snap, recent, paged.names, opened, table)
    if among is None:
        incidents = snap.store.incident_list(open_only=True, limit=1000, shown=SHOWN)
    else:  # those with a monitor in the view, naming those alone
        listed = snap.store.incident_list(open_only=True, limit=1000, shown=SHOWN, among=among)
        incidents = [i for i in listed if i.incident.monitors]
    cluster = snap.cluster
    if cluster.live_at is None:
        cluster = cluster.stored(snap.store, snap.config, now, snap.live)
    return {
        "now": iso(now),
        "monitors": states,
        "summary": summary,
        "rows": rows,
        "view": view_json(view, paged),
        "open_incidents": [listed_brief(i, now) for i in incidents],
        "channels": [channel_json(c) for c in snap.channels],
        "store": store_json(snap.store_health),
        "cluster": cluster_json(cluster),
    }


def _rows(
    snap: Snapshot,
    recent: Recent,
    shown: tuple[str, ...],
    opened: Mapping[str, float],
    table: UptimeTable,
) -> list[DashboardRow]:
    """The rows of ``shown``: each one's head (:meth:`Snapshot.head`, with what the store
    says of it), uptimes, last failure and the last hour's minutes."""
    now = snap.now
    facts = Facts.read(snap.store, shown)
    sparks, failures = recent.read(snap.store, shown, now)
    shares = uptimes_of(snap.store, shown, now)
    monitors = order_of(snap.monitors).by_name
    rows: list[DashboardRow] = []
    for name in shown:
        table.put(name, shares[name])
        failure = failures.get(name)
        latest = facts.latest.get(name)
        if failure is None and latest is not None and not latest.ok:
            failure = latest  # failed longer ago than the sparkline looks back
        rows.append(
            {
                **snap.head(monitors[name], opened, facts),
                "uptime": shares[name],
                "last_failure": None if failure is None else failure_json(failure, now),
                "sparkline": [
                    {
                        "at": iso(r.start),
                        "checks": r.count,
                        "failed": r.count - r.ok_count,
                        "latency_ms": round_ms(r.latency_avg),
                    }
                    for r in sparks.get(name, [])
                ],
            }
        )
    return rows


def status_report(config: MonitorConfig, store: Store, now: float) -> StatusDoc:
    """``tether status --json``: ``/api/status``' document for the same store, built by
    the same code (:func:`build_status`) from what the store says
    (:meth:`Snapshot.stored`), with every monitor in ``rows``, in the file's order."""
    snap = Snapshot.stored(config, store, now)
    return build_status(snap, Recent(), View(per_page=max(1, len(snap.monitors))))


class MonitorsJSON(str):
    """``/api/status``' ``monitors`` map already written as JSON (by a :class:`StateBoard`,
    by difference from the last request), for :func:`status_json` to put in place."""

    __slots__ = ()


def status_json(doc: StatusDoc) -> str:
    """:func:`build_status`'s ``doc`` as :func:`_dumps` writes it, byte for byte, its
    ``monitors`` map put in place as written when it is :class:`MonitorsJSON`."""
    kept = doc["monitors"]
    if not isinstance(kept, MonitorsJSON):
        return _dumps(doc)
    text = _dumps({**doc, "monitors": {}})
    # "now" comes first, an ISO time: nothing before the map can read like this.
    empty = '"monitors":{}'
    at = text.index(empty)
    return f'{text[:at]}"monitors":{kept}{text[at + len(empty) :]}'


async def status_document(
    runner: Running,
    recent: Recent | None = None,
    view: View | None = None,
    table: UptimeTable | None = None,
) -> StatusDoc:
    """``/api/status``: the summary of every monitor, the rows of one page of them
    (``view``: which, in what order; ``view`` in the document says which page it is and
    how many match), the open incidents, the alert channels' queues, the instances and
    agents and which locations are live.

    ``monitors`` (every monitor's name to its state) and ``open_incidents`` (each with
    ``id``, ``key`` and ``monitors``) are what the first version of this endpoint
    returned, kept as they were.  ``recent`` and ``table`` keep what was read from the
    store for the next call.
    """
    snap = Snapshot.of(runner)
    return await asyncio.to_thread(build_status, snap, recent or Recent(), view, table)
