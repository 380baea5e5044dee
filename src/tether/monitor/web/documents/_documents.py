"""The dashboard's documents, typed: what ``/api/status``, ``/api/monitors/{name}``,
``/api/series/{name}`` and ``/api/incidents`` serve, and what the pages of ``_pages.py``
and the templates render, the same object for both.

Each is a :class:`~typing.TypedDict`: the JSON is the contract, so a document stays the
dict it was written as (its keys in the order it was built, written by ``json.dumps``
as it is) while mypy knows every field.  ``_dashboard.py`` and ``_series.py`` build them;
the small parts that stand alone (an alert channel, the store, the cluster, a traffic
monitor's window, a certificate) are made here.

An incident, a stored result, a roll-up and a location's view are the reports' documents
(:mod:`tether.monitor.reports._documents`), shared with ``tether incidents`` and the
status pages; a list's incident (:class:`IncidentBrief`) and a location on a monitor's
head (:class:`Location`) add what the dashboard alone shows of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NotRequired, TypedDict

from tether._durations import format_duration
from tether.monitor.reports._documents import (
    IncidentDoc,
    LocationDoc,
    ResultDoc,
    RollupDoc,
    iso,
    redacted,
    round_ms,
)

if TYPE_CHECKING:
    from tether.monitor.alerts import ChannelStatus
    from tether.monitor.cluster._view import ClusterView
    from tether.monitor.engine._traffic import WindowView
    from tether.monitor.store import ProbeRecord
    from tether.monitor.store._base import StoreHealth
    from tether.monitor.web.documents._overview import Paged, View

__all__ = [
    "AgentDoc",
    "CertificateDoc",
    "ChannelDoc",
    "CheckDoc",
    "ClusterDoc",
    "Columns",
    "DashboardRow",
    "FailureDoc",
    "IncidentBrief",
    "IncidentsDoc",
    "Location",
    "MonitorDoc",
    "MonitorHead",
    "QuorumDoc",
    "SeriesDoc",
    "SeriesHead",
    "SparkPoint",
    "StatusDoc",
    "StoreDoc",
    "TrafficDoc",
    "TrafficPart",
    "ViewDoc",
    "certificate_json",
    "channel_json",
    "cluster_json",
    "failure_json",
    "store_json",
    "traffic_json",
    "view_json",
]


class IncidentBrief(IncidentDoc):
    """An incident as a list shows it: the reports' ``incident_json`` (with, where its
    membership was read, ``members``) and how many monitors and timeline entries it has,
    shown or not."""

    monitors_count: int
    timeline_count: int


class Location(LocationDoc):
    """What one location sees of a monitor, and whether any instance there is alive."""

    live: bool


# -- the parts ------------------------------------------------------------------------------


class CertificateDoc(TypedDict):
    expires: str
    days_left: int


class CheckDoc(TypedDict):
    """A monitor's latest check."""

    at: str
    ago_s: float
    ok: bool
    latency_ms: float | None
    kind: str | None


class QuorumDoc(TypedDict):
    needed: int
    failing: list[str]
    counted: int
    below: str | None
    """"failing in 1 of 3 locations, below quorum" while some locations fail, fewer than
    ``needed`` (up for the cluster, not everywhere); null otherwise."""


class FailureDoc(TypedDict):
    """A monitor's last failure in the sparkline's hour (or its latest check, failed)."""

    at: str
    ago_s: float
    kind: str | None
    detail: str | None


class SparkPoint(TypedDict):
    at: str
    checks: int
    failed: int
    latency_ms: float | None


class ChannelDoc(TypedDict):
    name: str
    failing: bool
    queued: int
    oldest_queued_at: str | None
    last_error: str | None
    last_failure_at: str | None
    sent: int
    failed: int


class StoreDoc(TypedDict):
    up: bool
    down_for_seconds: float
    error: str | None
    held: int
    held_writes: int
    dropped: int
    refused: int


class InstanceDoc(TypedDict):
    id: str
    location: str
    host: str
    alive: bool
    leader: bool
    shards: int
    heartbeat: str


class AgentDoc(TypedDict):
    """An agent location of the configuration, as its agent last reported (``agent``,
    ``version`` and ``last_report`` null while none has), live while that was within
    ``agents.lease``."""

    location: str
    live: bool
    agent: str | None
    version: str | None
    last_report: str | None


class ClusterDoc(TypedDict):
    """This instance (``id``, ``location``, ``leader``: empty and false in ``tether
    status``, which is no instance), how many live instances each location has
    (``live``), which locations are live (``live_locations``: with a live instance, or
    an agent that reports; the ones every quorum counts), every instance, and every agent
    location."""

    id: str
    location: str
    leader: bool
    live: dict[str, int] | None
    live_locations: list[str] | None
    instances: list[InstanceDoc]
    agents: list[AgentDoc]


class TrafficDoc(TypedDict):
    window: str
    calls: int
    per_minute: float | None
    failed: int
    failed_share: float
    kinds: dict[str, int]
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    retried: int
    retried_share: float
    retries: int


# -- the documents --------------------------------------------------------------------------


class MonitorHead(TypedDict):
    """What the dashboard's row and the monitor's page share (``Snapshot.head``): who,
    what state, since when, the last check; ``locations`` and ``quorum`` for a monitor
    probed from several locations."""

    name: str
    href: str
    url: str
    state: str
    since: str | None
    for_s: float | None
    last_check: CheckDoc | None
    certificate: CertificateDoc | None
    labels: dict[str, str]
    locations: NotRequired[list[Location]]
    quorum: NotRequired[QuorumDoc]


class DashboardRow(MonitorHead):
    """A monitor's row on the dashboard: its :class:`MonitorHead`, then these."""

    uptime: dict[str, float | None]
    last_failure: FailureDoc | None
    sparkline: list[SparkPoint]


class ViewDoc(TypedDict):
    """Which page of the monitors a status document shows: the view asked for (its
    filter, its order, ``per_page``) with the page shown (``page``: the one asked for, or
    the last when there are fewer now), how many monitors match and over how many pages."""

    state: str | None
    q: str
    match: str
    sort: str
    order: str
    page: int
    per_page: int
    matching: int
    pages: int


class StatusDoc(TypedDict):
    """``/api/status`` and the dashboard.  ``monitors`` is every monitor's state by name,
    or that map already written (``_dashboard.MonitorsJSON``, a str)."""

    now: str
    monitors: dict[str, str] | str
    summary: dict[str, int]
    rows: list[DashboardRow]
    view: ViewDoc
    open_incidents: list[IncidentBrief]
    channels: list[ChannelDoc]
    store: StoreDoc
    cluster: ClusterDoc


class TrafficPart(TypedDict, total=False):
    """A traffic monitor's window (:func:`traffic_json`), which its page alone has."""

    traffic: TrafficDoc


class Screenshot(TypedDict):
    """A browser monitor's last failure's screenshot: when, and where to get it."""

    taken: str
    path: str


class ScreenshotPart(TypedDict, total=False):
    """A browser monitor's last failure's screenshot, when it has one."""

    screenshot: Screenshot


class MonitorDoc(MonitorHead, TrafficPart, ScreenshotPart):
    """``/api/monitors/{name}`` and a monitor's page: ``now``, then its :class:`MonitorHead`,
    then these, then ``traffic`` for a traffic monitor (:class:`TrafficPart`)."""

    now: str
    uptime: dict[str, float | None]
    interval: str
    timeout: str
    checked: str
    conditions: list[str]
    series: str
    results: list[ResultDoc]
    hourly: list[RollupDoc]
    incidents: list[IncidentBrief]


class IncidentsDoc(TypedDict):
    """``/api/incidents`` and the incidents page."""

    now: str
    incidents: list[IncidentBrief]


SeriesHead = TypedDict("SeriesHead", {"monitor": str, "range": str, "from": str, "to": str})
"""Which monitor's series, over which range (``from`` is a keyword: written as a call)."""


class Columns(TypedDict):
    """A series' points in columns, one entry per point in each: raw results (``source``
    ``results``, no ``step_s``, no least and most) or roll-ups (``minute roll-ups``,
    ``hour roll-ups``, no phases)."""

    source: str
    step_s: int | None
    time: list[float]
    latency_ms: list[float | None]
    latency_min_ms: list[float | None] | None
    latency_max_ms: list[float | None] | None
    checks: list[int]
    failed: list[int]
    phases: dict[str, list[float | None]]
    failures: dict[str, list[int]]
    layers: dict[str, str]


class SeriesDoc(SeriesHead, Columns):
    """``/api/series/{name}``: the monitor's chart, its :data:`SeriesHead` then its
    :class:`Columns`."""


# -- the parts that stand alone -------------------------------------------------------------


def view_json(view: View, paged: Paged) -> ViewDoc:
    """The :class:`ViewDoc` of ``view`` cut to ``paged``."""
    return {
        "state": None if view.state is None else str(view.state),
        "q": view.q,
        "match": view.match,
        "sort": view.sort,
        "order": view.order,
        "page": paged.page,
        "per_page": view.per_page,
        "matching": paged.matching,
        "pages": paged.pages,
    }


def certificate_json(expires: float | None, now: float) -> CertificateDoc | None:
    """When the leaf certificate expires and the whole days left (negative once expired);
    ``None`` for a monitor whose last checks saw no certificate."""
    if expires is None:
        return None
    return {"expires": iso(expires), "days_left": int((expires - now) // 86400)}


def failure_json(record: ProbeRecord, now: float) -> FailureDoc:
    """A failed check as a row's ``last_failure``: when, how long ago, its kind and detail."""
    return {
        "at": iso(record.ts),
        "ago_s": round(now - record.ts, 3),
        "kind": None if record.kind is None else record.kind.value,
        "detail": redacted(record.detail),
    }


def channel_json(channel: ChannelStatus) -> ChannelDoc:
    """An alert channel's queue as ``/api/status`` shows it."""
    return {
        "name": channel.name,
        "failing": channel.failing,
        "queued": channel.queued,
        "oldest_queued_at": iso(channel.oldest_queued_at),
        "last_error": redacted(channel.last_error),
        "last_failure_at": iso(channel.last_failure_at),
        "sent": channel.sent,
        "failed": channel.failed,
    }


def store_json(health: StoreHealth) -> StoreDoc:
    """How the store's writing goes, as ``/api/status`` shows it."""
    return {
        "up": health.up,
        "down_for_seconds": round(health.down_for, 1),
        "error": redacted(health.error),
        "held": health.held + health.spilled,
        "held_writes": health.held_writes,
        "dropped": health.dropped,
        "refused": health.refused,
    }


def cluster_json(cluster: ClusterView) -> ClusterDoc:
    """This instance (``id``, ``location``, ``leader``), how many live instances each
    location has (``live``), which locations are live (``live_locations``, in the
    configuration's order), every instance the cluster knows, leader first, and every
    agent location of the configuration with its agent's last report."""
    live_at = cluster.live_at
    rows = {row.location: row for row in cluster.agents}
    agents: list[AgentDoc] = []
    for location in cluster.locations:
        if location not in cluster.agent_places:
            continue
        row = rows.get(location)
        agents.append(
            {
                "location": location,
                "live": location in cluster.agents_live,
                "agent": None if row is None else row.agent,
                "version": None if row is None else row.version,
                "last_report": None if row is None else iso(row.last_seen),
            }
        )
    return {
        "id": cluster.id,
        "location": cluster.here,
        "leader": cluster.leading,
        "live": cluster.live(),
        "live_locations": (
            None if live_at is None else [loc for loc in cluster.locations if loc in live_at]
        ),
        "instances": [
            {
                "id": i.id,
                "location": i.location,
                "host": i.host,
                "alive": i.alive,
                "leader": i.leader,
                "shards": i.shards,
                "heartbeat": iso(i.heartbeat),
            }
            for i in cluster.instances or ()
        ],
        "agents": agents,
    }


def traffic_json(view: WindowView) -> TrafficDoc:
    """A traffic monitor's window on its page: the calls and their rate, the share
    failing and by kind (commonest first), the latency percentiles."""
    rate = view.per_minute
    return {
        "window": format_duration(view.span),
        "calls": view.calls,
        "per_minute": None if rate is None else round(rate, 1),
        "failed": view.failed,
        "failed_share": round(view.share, 4),
        "kinds": dict(sorted(view.kinds.items(), key=lambda kv: (-kv[1], kv[0]))),
        "p50_ms": round_ms(view.p(0.5)),
        "p90_ms": round_ms(view.p(0.9)),
        "p99_ms": round_ms(view.p(0.99)),
        "retried": view.retried,
        "retried_share": round(view.retried_share, 4),
        "retries": view.retries,
    }
