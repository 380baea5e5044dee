"""The monitor's web dashboard: every monitor's state and why, the open incidents with
their cause and fix, and one page per monitor with its results and roll-ups, on these
routes (their handlers: ``_dashboard_routes.py``):

    GET /                      the dashboard: one page of the monitors, sorted and filtered
                               (``?state=&q=&sort=&order=&page=&per_page=``, _overview.py)
    GET /monitors/{name}       one monitor: recent results, hourly roll-ups, incidents
    GET /incidents             recent incidents with their timelines
    GET {page}?fragment=1      the page's live parts alone, for the script to swap in
    GET /api/status            JSON behind the dashboard, the same parameters (``monitors``
                               and ``open_incidents`` kept as they were for older readers)
    GET /api/monitors/{name}   JSON behind a monitor's page
    GET /api/series/{name}     a monitor's chart points (``?range=1h|24h|7d|30d``)
    GET /api/incidents         JSON behind the incidents page (``?open=1``, ``?limit=N``)
    GET /api/incidents/{id}    one incident whole: every monitor, every timeline entry
    GET /static/{file}         the scripts, the style sheets, the icon, uPlot and its licence

Each page is a JSON document first (:func:`status_document`, :func:`monitor_document`,
:func:`incidents_document`), served as it is by the APIs.  The HTML is rendered from that
document here and nowhere else: a page's live parts (the "as of" corner and ``<main>``,
marked ``data-live``) are rendered by the same function for the whole page and for its
``?fragment=1``, and ``static/dashboard.js`` only fetches the fragment every few seconds
and swaps it in.  The page works without JavaScript.  A monitor's page adds one chart,
drawn in the browser by uPlot (``static/uplot.min.js``, 1.6.32, MIT) through
``static/charts.js`` from the points :func:`build_series` computes: the numbers come from
the server, the script builds no markup from them, and it keeps the chart across swaps.

Why it is safe to show: a monitor's name, a server's error text and a condition's
resolved value are data, which may hold ``<script>``.  The server escapes every value
once, with :func:`html.escape`; the script builds no markup, and a script element in
what it parses never runs; the Content-Security-Policy allows no inline script, so a
value that slipped through would still not run.  URLs are shown through
:func:`~tether._redact.redact_url` and free text through :func:`~tether._redact.redact_text`,
in the pages and in the APIs alike.  Every route is a GET: the buttons of a monitor's
page and of the incidents (for whoever may write) are forms posting to the write API
(``_actions.py``), which answers a form with a 303 back to the page.

The runner's memory gives states, latest checks, state times, the alert channels'
health, and what each location sees of a monitor of several (its quorum's, copied only for
the monitors a page shows: it costs the loop more than a state); the cluster gives its
instances (a query with PostgreSQL, run on the worker thread); the store gives the rest
through small queries for the rows a page shows (:class:`Recent`: the minute
roll-ups of the last hour for the sparklines, read again only for the last two minutes,
and the last failure; their uptimes), run on a worker thread so that a page never holds
up the event loop that runs the probes.  The overview sorts and filters every monitor
by what is in memory and by :class:`~tether.monitor.reports._uptime.UptimeTable` (every
monitor's uptime, one query a minute), so a refresh at 10,000 monitors reads the store
for a hundred rows, not for 10,000.  The default view (the configuration's order,
filtered by state at most) is cut from the names alone (:func:`arrange_in_order`), the
sorted names are kept per configuration (:func:`order_of`), and ``/api/status``' map of
every monitor's state, the summary's counts and whether a monitor is down that was not
seen going down are kept between requests and brought up to date from the quorum's
journal of changes (:class:`~tether.monitor.web._board.StateBoard`): a refresh at
120,000 monitors does no work per monitor but one join of the kept map when a state
changed.  Identical requests that overlap share one build
(:class:`~tether.monitor.web._flight.Flights`); nothing is kept after it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import heapq
import html
import importlib.resources
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from tether._catalogue import CATALOGUE
from tether._durations import format_duration, human_duration
from tether._kinds import Kind
from tether._plural import count
from tether._redact import redact_text, redact_url
from tether.monitor._records import CONDITION, Incident, kind_text, stints
from tether.monitor._state import State
from tether.monitor.alerts import ChannelStatus
from tether.monitor.cluster._view import ClusterView, LocationsView, views_of
from tether.monitor.config import Monitor, MonitorConfig
from tether.monitor.engine._traffic import WindowView
from tether.monitor.reports._documents import (
    PHASES,
    incident_json,
    iso,
    location_json,
    members_json,
    redacted,
    result_json,
    rollup_json,
    round_ms,
)
from tether.monitor.reports._uptime import WINDOWS, UptimeTable, format_uptime, uptimes, uptimes_of
from tether.monitor.store._base import Listed, StoreError, StoreHealth, bucket_start
from tether.monitor.web._access import Principal, csrf_field
from tether.monitor.web._actions import Forms
from tether.monitor.web._board import STATE_ORDER, StateBoard
from tether.monitor.web._overview import (
    QUERY_MAX,
    Entry,
    View,
    arrange,
    arrange_in_order,
    in_order,
)

if TYPE_CHECKING:
    from tether.monitor.engine._detect import Observation
    from tether.monitor.engine._journal import Journal
    from tether.monitor.store import Cluster, ProbeRecord, Rollup, Store
    from tether.monitor.web._running import Running

SECURITY_HEADERS: Final = {
    # No inline script or style and nothing from another origin: the page's own script
    # and style sheet are files under /static.  Forms may go to this origin alone (the
    # overview's filter is a GET form to itself; a page of ours cannot be made to send
    # what is typed in it elsewhere).
    "Content-Security-Policy": (
        "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: under it a browser sends "Origin: null" with a form's POST, and a
    # change must show this origin (_access.same_origin).  Links out still carry nothing.
    "Referrer-Policy": "same-origin",
}

SPARKLINE_WINDOW: Final = 3600.0
"""The sparklines and the last failure look this far back (seconds)."""
FAILURE_LOOKBACK: Final = 200
"""At most this many results, from the minute of the last failure on, are read to find it."""
RESULTS_SHOWN: Final = 50
HOURS_SHOWN: Final = 24
INCIDENTS_SHOWN: Final = 50
OPEN_ON_OVERVIEW: Final = 20
"""The overview lists this many open incidents, newest first, and links to the rest (at
thousands of monitors an outage opens hundreds, which would bury the monitors' table);
``open_incidents`` in ``/api/status`` keeps every one."""

MEMBERS_SHOWN: Final = 50
"""An incident in a list (the pages, ``open_incidents`` in ``/api/status``, the incidents
of ``/api/incidents`` and of a monitor's page) names this many of its monitors at most,
the first in name order, and says how many it has (``monitors_count``): a mass outage's
``local`` incident holds thousands, and every list of them was that long at each refresh.
``/api/incidents/{id}`` has them all."""
TIMELINE_SHOWN: Final = 100
"""An incident in a list shows this many timeline entries at most: its first (it opened)
and the newest others; ``timeline_count`` says how many it has."""


_ASSETS: Final = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
    # uPlot 1.6.32 (MIT, Leon Sorokin), dist/uPlot.iife.min.js and dist/uPlot.min.css of
    # its npm package as published, with its LICENSE; it draws the monitor page's chart.
    "uplot.min.js": "text/javascript; charset=utf-8",
    "uplot.min.css": "text/css; charset=utf-8",
    "uplot.LICENSE": "text/plain; charset=utf-8",
    "charts.js": "text/javascript; charset=utf-8",
}

RANGES: Final = {"1h": 3600.0, "24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0}
"""The monitor page chart's ranges, by label."""
RANGE_SHOWN: Final = "24h"
"""The range a monitor's page opens on (and its incident timeline shows without script)."""
RAW_RANGES: Final = ("1h", "24h")
"""Drawn from raw results, check by check, when they fit in :data:`SERIES_RAW_MAX`."""
SERIES_RAW_MAX: Final = 5000
"""The most raw results a series reads; a window with more is drawn from minute roll-ups."""
HEARTBEATS: Final = 50
"""The heartbeat bar's checks."""
TIMELINE_LANES: Final = 12
"""The incident timeline draws at most this many incidents, the newest."""
TIMELINE_WIDTH: Final = 1000
NO_CONDITIONS: Final = "none: a failed probe or a 4xx or 5xx status fails the check"
CERT_SOON_DAYS: Final = 14
"""A certificate with fewer days left than this is marked on the overview."""
SPARK_WIDTH: Final = 120
SPARK_HEIGHT: Final = 24


# -- small pure helpers ---------------------------------------------------------------------


def monitor_path(name: str) -> str:
    """The page of monitor ``name``; any character of a name survives the trip."""
    return "/monitors/" + quote(name, safe="")


def series_path(name: str) -> str:
    """Where monitor ``name``'s chart reads its points (add ``?range=1h|24h|7d|30d``)."""
    return "/api/series/" + quote(name, safe="")


def certificate_json(expires: float | None, now: float) -> dict[str, Any] | None:
    """When the leaf certificate expires and the whole days left (negative once expired);
    ``None`` for a monitor whose last checks saw no certificate."""
    if expires is None:
        return None
    return {"expires": iso(expires), "days_left": int((expires - now) // 86400)}


def kind_layer(kind: str) -> str:
    """The layer a stored kind code belongs to (``dns``, ``connect``, ``tls``, ...;
    ``condition`` for conditions not met), which colours it on the monitor's page."""
    if kind == CONDITION:
        return CONDITION
    try:
        return CATALOGUE[Kind(kind)].layer.value
    except (ValueError, KeyError):  # a newer tether's kind
        return "unknown"


# -- alert channels -------------------------------------------------------------------------


def channel_json(channel: ChannelStatus) -> dict[str, Any]:
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


def channel_banner(channels: Iterable[ChannelStatus], now: float) -> str:
    """The banner every page shows while an alert channel is failing, one line per
    failing channel: ``Alerts to ops are failing: <error>; 3 queued, the oldest for
    4 min 0 s``; empty while every channel delivers."""
    lines = []
    for c in channels:
        if not c.failing:
            continue
        error = "" if c.last_error is None else f": {_e(redact_text(c.last_error))}"
        if not c.queued:
            backlog = "nothing queued"
        elif c.oldest_queued_at is None:
            backlog = f"{c.queued} queued"
        else:
            oldest = human_duration(now - c.oldest_queued_at)
            backlog = f"{c.queued} queued, the oldest for {_e(oldest)}"
        lines.append(
            f'<p data-channel="{_e(c.name)}">Alerts to <strong>{_e(c.name)}</strong> '
            f"are failing{error}; {backlog}</p>"
        )
    if not lines:
        return ""
    return f'<div id="channels" class="banner">{"".join(lines)}</div>\n'


# -- the store -------------------------------------------------------------------------------


def store_json(health: StoreHealth) -> dict[str, Any]:
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


def store_banner(health: StoreHealth) -> str:
    """The banner every page shows while the history cannot be written; empty otherwise."""
    if health.up:
        return ""
    held = health.held + health.spilled
    error = "" if health.error is None else f": {_e(redact_text(health.error))}"
    return (
        '<div id="store" class="banner"><p>The history cannot be written'
        f"{error}. For {_e(human_duration(health.down_for))}, {held} results and state "
        f"changes and {health.held_writes} incident and alert writes are held; alerts "
        "wait until it can be written. Checks go on.</p></div>\n"
    )


# -- the cluster ------------------------------------------------------------------------------


def cluster_json(cluster: ClusterView) -> dict[str, Any]:
    """This instance (``id``, ``location``, ``leader``), how many live instances each
    location has (``live``), and every instance the cluster knows, leader first."""
    return {
        "id": cluster.id,
        "location": cluster.here,
        "leader": cluster.leading,
        "live": cluster.live(),
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
    }


# -- JSON documents -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The runner's memory at one moment, copied on its event loop, so that a page can be
    built on a worker thread while the runner goes on."""

    now: float
    monitors: tuple[Monitor, ...]
    states: dict[str, State]
    latest: dict[str, Observation]
    since: dict[str, float]
    certificates: dict[str, float]
    """When each monitor's leaf certificate expires, from its last check that saw one."""
    channels: tuple[ChannelStatus, ...]
    store: Store
    store_health: StoreHealth
    locations: dict[str, LocationsView]
    """What each location sees of each monitor of more than one."""
    cluster: ClusterView
    """This instance; the instances are read from ``instances`` off the loop."""
    instances: Cluster | None
    """None: no instance to ask (a snapshot read from the store: :meth:`stored`)."""
    traffic: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What the window of each shown traffic monitor holds (:func:`traffic_json`)."""
    journal: Journal | None = None
    """The quorum's record of which states changed (None: a snapshot read from the store),
    and its end when ``states`` were copied: a :class:`StateBoard` reads the changes."""
    journal_end: int = 0

    @classmethod
    def of(cls, runner: Running, shown: Iterable[str] | None = None) -> Snapshot:
        """``shown``: the monitors whose locations the page shows (every one by default;
        what each location sees is copied for these alone, as it costs the loop more than
        a state does)."""
        return cls(
            runner.wall(),
            runner.config.monitors,
            runner.quorum.states(),
            dict(runner.latest),
            dict(runner.since),
            dict(runner.certificates),
            tuple(runner.outbox.status()),
            runner.store,
            runner.store.health(),
            runner.locations(shown),
            runner.cluster_view(),
            runner.cluster,
            {
                name: traffic_json(runner.traffic[name].view(runner.wall()))
                for name in (runner.traffic if shown is None else shown)
                if name in runner.traffic
            },
            runner.quorum.journal,
            runner.quorum.journal.end,
        )

    @classmethod
    def stored(cls, config: MonitorConfig, store: Store, now: float) -> Snapshot:
        """What the store alone says, for ``tether status`` (no running monitor to ask):
        each monitor's state and since when as the monitor last recorded them, its latest
        check, what each location last wrote of a monitor of several, the alerts queued
        per channel.  What only a running monitor knows is left empty: certificates,
        deliveries since it started, the live instances (so every location counts)."""
        from tether.monitor.engine._detect import Observation
        from tether.monitor.engine._quorum import Placement, Quorum

        names = [m.name for m in config.monitors]
        changes = store.state_changes_of(names, now - max(WINDOWS.values()))
        states = {n: c[-1][1] for n, c in changes.items() if c}
        since = {n: c[-1][0] for n, c in changes.items() if c}
        latest: dict[str, Observation] = {}
        for name in names:
            found = store.results(name, limit=1)
            if found:
                r = found[0]
                latest[name] = Observation(name, r.ok, r.ts, r.latency_ms, r.kind)
        several = [m for m in config.monitors if len(config.placed(m)) > 1]
        locations: dict[str, LocationsView] = {}
        if several:
            # Every location counts as live: no instance is asked.
            placed = {m.name: Placement(config.placed(m), m.quorum) for m in several}
            quorum = Quorum(placed, live=config.locations)
            quorum.restore(row.state for row in store.location_states())
            locations = views_of(quorum, several, config)
        backlog = store.backlog()
        channels = tuple(
            ChannelStatus(c.name, queued, oldest, False, None, None, 0, 0)
            for c in config.alerts
            for queued, oldest in [backlog.get(c.name, (0, None))]
        )
        here = config.locations[0] if len(config.locations) == 1 else ""
        return cls(
            now,
            config.monitors,
            states,
            latest,
            since,
            {},
            channels,
            store,
            store.health(),
            locations,
            ClusterView("", here, False, config.locations),
            None,
        )

    def state(self, name: str) -> State:
        return self.states.get(name, State.UNKNOWN)

    def since_of(self, name: str, opened: Mapping[str, float]) -> float | None:
        """When ``name`` entered its state.  After a restart the runner has not seen it
        change yet: a down monitor has been down at least since its open incident opened
        (``opened``: :func:`opened_since`)."""
        since = self.since.get(name)
        if since is None and self.state(name) is State.DOWN:
            since = opened.get(name)
        return since

    def head(self, m: Monitor, opened: Mapping[str, float]) -> dict[str, Any]:
        """What the dashboard's row and the monitor's page share: who, what state, since
        when, and the last check (``opened``: :func:`opened_since`)."""
        now = self.now
        since = self.since_of(m.name, opened)
        latest = self.latest.get(m.name)
        last_check = None
        if latest is not None:
            last_check = {
                "at": iso(latest.timestamp),
                "ago_s": round(now - latest.timestamp, 3),
                "ok": latest.ok,
                "latency_ms": round_ms(latest.latency_ms),
                "kind": latest.kind.value if latest.kind else None,
            }
        out: dict[str, Any] = {
            "name": m.name,
            "href": monitor_path(m.name),
            "url": redact_url(m.url),
            "state": str(self.state(m.name)),
            "since": iso(since),
            "for_s": None if since is None else round(now - since, 3),
            "last_check": last_check,
            "certificate": certificate_json(self.certificates.get(m.name), now),
        }
        view = self.locations.get(m.name)
        if view is not None:
            out["locations"] = [
                {**location_json(where, fact), "live": fact.live}
                for where, fact in view.facts.items()
            ]
            out["quorum"] = {
                "needed": view.needed,
                "failing": list(view.failing),
                "counted": view.counted,
            }
        return out


class Recent:
    """The minute roll-ups of the last hour and the last failure in it of the monitors a
    page shows, read from the store a little at a time.

    A minute that is over does not change, so a monitor read again is read only from the
    minute before its last read (two minutes, when pages refresh every few seconds:
    a result is committed a moment after its check, in the writer's next batch): one
    query for every shown monitor per refresh, each from its own minute, instead of an
    hour of rows.  The last failure is looked up only when the roll-ups show a new one,
    from the minute it happened, in one more query for every monitor that has one.  A
    monitor no page has shown for an hour is forgotten.  Thread-safe: refreshes run on
    worker threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._minutes: dict[str, tuple[float, list[Rollup]]] = {}
        """Each monitor's roll-ups and when they were read."""
        self._failures: dict[str, tuple[tuple[float, int], ProbeRecord | None]] = {}

    def read(
        self, store: Store, names: Sequence[str], now: float
    ) -> tuple[dict[str, list[Rollup]], dict[str, ProbeRecord | None]]:
        """The minute roll-ups (oldest first) and the last failure of each of ``names``:
        one read of the store for all their roll-ups, and one for the failures looked up."""
        with self._lock:
            for gone in [n for n, (at, _) in self._minutes.items() if now - at > SPARKLINE_WINDOW]:
                del self._minutes[gone]
                self._failures.pop(gone, None)
            minutes = self._update(store, names, now)
            return minutes, self._last_failures(store, minutes)

    def _update(self, store: Store, names: Sequence[str], now: float) -> dict[str, list[Rollup]]:
        window = now - SPARKLINE_WINDOW
        kept: dict[str, list[Rollup]] = {}
        since: dict[str, float] = {}
        for name in names:
            cached = self._minutes.get(name)
            if cached is None or cached[0] > now:  # first read, or time went back
                kept[name], since[name] = [], window
                continue
            read_at, minutes = cached
            # This minute and the last may still grow, and so may what was the last minute
            # when it was read (minutes ago, if no page showed it meanwhile).
            settled = min(bucket_start(now, 60) - 60, bucket_start(read_at, 60))
            kept[name] = [r for r in minutes if window <= r.start < settled]
            since[name] = max(settled, window)
        fresh = store.rollups_of(since, "minute") if since else {}
        out: dict[str, list[Rollup]] = {}
        for name in names:
            out[name] = kept[name] + fresh.get(name, [])
            self._minutes[name] = (now, out[name])
        return out

    def _last_failures(
        self, store: Store, minutes: dict[str, list[Rollup]]
    ) -> dict[str, ProbeRecord | None]:
        out: dict[str, ProbeRecord | None] = {}
        asked: dict[str, tuple[float, int]] = {}
        for name, rollups in minutes.items():
            failing = next((r for r in reversed(rollups) if r.ok_count < r.count), None)
            if failing is None:
                self._failures.pop(name, None)
                out[name] = None
                continue
            key = (failing.start, failing.count - failing.ok_count)
            known = self._failures.get(name)
            if known is not None and known[0] == key:
                out[name] = known[1]
            else:
                asked[name] = key
        since = {name: key[0] for name, key in asked.items()}
        found = store.failures_of(since, FAILURE_LOOKBACK) if since else {}
        for name, key in asked.items():
            out[name] = found.get(name)
            self._failures[name] = (key, out[name])
        return out


@functools.lru_cache(maxsize=1 << 16)  # a monitor's URL as shown, for the filter to search
def _shown_url(url: str) -> str:
    return redact_url(url)


def opened_since(incidents: Iterable[Incident]) -> dict[str, float]:
    """Each monitor down in one of the open ``incidents``, and when it joined the first of
    them (its own start: a monitor that joined an incident later is not dated from the
    incident's opening; that for a member stored without its time): worked out once per
    page, not once per monitor (a walk over every incident and its members for each of
    20,000 monitors held a page for minutes)."""
    out: dict[str, float] = {}
    for incident in incidents:
        if not incident.is_open:
            continue
        members = incident.members
        for name in incident.monitors:
            member = members.get(name)
            at = incident.opened if member is None else member.joined
            known = out.get(name)
            if known is None or at < known:
                out[name] = at
    return out


def incident_brief(incident: Incident, now: float) -> dict[str, Any]:
    """An incident as a list shows it: :func:`~tether.monitor.reports._documents.incident_json` with
    at most :data:`MEMBERS_SHOWN` monitors and :data:`TIMELINE_SHOWN` timeline entries,
    and how many it has of each (``monitors_count``, ``timeline_count``)."""
    monitors, timeline = incident.monitors, incident.timeline
    shown = incident
    if len(monitors) > MEMBERS_SHOWN or len(timeline) > TIMELINE_SHOWN:
        kept = timeline
        if len(timeline) > TIMELINE_SHOWN:
            kept = (timeline[0], *timeline[len(timeline) - TIMELINE_SHOWN + 1 :])
        first = tuple(heapq.nsmallest(MEMBERS_SHOWN, monitors))
        shown = dataclasses.replace(incident, monitors=first, timeline=kept)
    doc = incident_json(shown, now)
    doc["monitors_count"] = len(monitors)
    doc["timeline_count"] = len(timeline)
    return doc


SHOWN: Final = (MEMBERS_SHOWN, TIMELINE_SHOWN)
"""What a list read of the store (:meth:`~tether.monitor.store.Store.incident_list`)
keeps of each incident: what :func:`incident_brief` would show of it whole."""


def listed_brief(listed: Listed, now: float) -> dict[str, Any]:
    """An incident read for a list (with :data:`SHOWN`) as :func:`incident_brief` shows
    it whole: the same document, its monitors and timeline read no further than shown."""
    doc = incident_json(listed.incident, now)
    doc["monitors_count"] = listed.monitors_count
    doc["timeline_count"] = listed.timeline_count
    return doc


@dataclass(frozen=True, slots=True)
class Order:
    """What a page needs of the configuration's monitors that changes only with it: their
    names in its order and sorted, and each by name.  Made once per configuration
    (:func:`order_of`), not at each request: sorting 20,000 names at each refresh cost
    the page more than its rows."""

    monitors: tuple[Monitor, ...]
    names: tuple[str, ...]
    sorted: tuple[str, ...]
    by_name: Mapping[str, Monitor]
    name_set: frozenset[str]


_ORDER: list[Order] = []
"""The last configuration's :class:`Order` (one: a reload replaces it)."""


def order_of(monitors: tuple[Monitor, ...]) -> Order:
    """The :class:`Order` of ``monitors`` (the runner's configuration's, kept while it is
    the same tuple); thread-safe: made again at worst, never mixed."""
    known = _ORDER[0] if _ORDER else None
    if known is not None and known.monitors is monitors:
        return known
    names = tuple(m.name for m in monitors)
    order = Order(
        monitors, names, tuple(sorted(names)), {m.name: m for m in monitors}, frozenset(names)
    )
    _ORDER[:] = [order]
    return order


def overview_entries(
    snap: Snapshot, opened: Mapping[str, float], table: UptimeTable
) -> list[Entry]:
    """What the overview sorts and filters every monitor by: the runner's memory and the
    cached uptimes (one store read a minute), no query per monitor."""
    shares = table.read(snap.store, [m.name for m in snap.monitors], snap.now)
    out = []
    for position, m in enumerate(snap.monitors):
        latest = snap.latest.get(m.name)
        share = shares.get(m.name, {})
        out.append(
            Entry(
                position,
                m.name,
                _shown_url(m.url),
                snap.state(m.name),
                snap.since_of(m.name, opened),
                None if latest is None else latest.latency_ms,
                share.get("24h"),
                share.get("30d"),
                snap.certificates.get(m.name),
            )
        )
    return out


def build_status(
    snap: Snapshot,
    recent: Recent,
    view: View | None = None,
    table: UptimeTable | None = None,
    board: StateBoard | None = None,
) -> dict[str, Any]:
    """The document behind ``/api/status`` and the dashboard (see :func:`status_document`):
    the rows of the page ``view`` asks for (the first hundred monitors in the
    configuration's order by default); ``table`` keeps every monitor's uptime between calls.

    ``board`` keeps every monitor's state between calls (:class:`StateBoard`): given, the
    document's ``monitors`` is :class:`MonitorsJSON`, the map already written, which
    :func:`status_json` puts in place; without it, a dict."""
    view = view or View()
    now = snap.now
    order = order_of(snap.monitors)
    incidents = snap.store.incident_list(open_only=True, limit=1000, shown=SHOWN)
    kept = board or StateBoard()
    seen = kept.read(order.sorted, snap.states, snap.since.keys(), snap.journal, snap.journal_end)
    # Down since before a restart: dated from the open incidents, read only when one is.
    opened = snap.store.down_since() if seen.down_unseen else {}
    table = table or UptimeTable()
    if in_order(view):  # the default: no entry for every monitor, no uptime table
        paged = arrange_in_order(view, order.names, snap.states)
    else:
        paged = arrange(view, overview_entries(snap, opened, table))
    shown = paged.names
    sparks, failures = recent.read(snap.store, shown, now)
    shares = uptimes_of(snap.store, shown, now)
    monitors = order.by_name
    rows = []
    for name in shown:
        row = snap.head(monitors[name], opened)
        row["uptime"] = shares[name]
        table.put(name, row["uptime"])
        failure = failures.get(name)
        row["last_failure"] = (
            None
            if failure is None
            else {
                "at": iso(failure.ts),
                "ago_s": round(now - failure.ts, 3),
                "kind": None if failure.kind is None else failure.kind.value,
                "detail": redacted(failure.detail),
            }
        )
        row["sparkline"] = [
            {
                "at": iso(r.start),
                "checks": r.count,
                "failed": r.count - r.ok_count,
                "latency_ms": round_ms(r.latency_avg),
            }
            for r in sparks.get(name, [])
        ]
        rows.append(row)
    return {
        "now": iso(now),
        "monitors": MonitorsJSON(seen.text) if board is not None else json.loads(seen.text),
        "summary": seen.summary,
        "rows": rows,
        "view": {**view.json(), **paged.json()},
        "open_incidents": [listed_brief(i, now) for i in incidents],
        "channels": [channel_json(c) for c in snap.channels],
        "store": store_json(snap.store_health),
        "cluster": cluster_json(
            snap.cluster if snap.instances is None else snap.cluster.read(snap.instances, now)
        ),
    }


def status_report(config: MonitorConfig, store: Store, now: float) -> dict[str, Any]:
    """``tether status --json``: ``/api/status``'s document, built by the same code
    (``_dashboard.build_status``) from what the store alone says
    (``Snapshot.stored``), with every monitor in ``rows``, in the file's order.  A
    monitor whose latest check failed longer ago than the dashboard looks back has that
    check as its ``last_failure``."""
    snap = Snapshot.stored(config, store, now)
    doc = build_status(snap, Recent(), View(per_page=max(1, len(config.monitors))))
    for row in doc["rows"]:
        check = row["last_check"]
        if check is not None and not check["ok"] and row["last_failure"] is None:
            (latest,) = store.results(row["name"], limit=1)
            row["last_failure"] = {
                "at": iso(latest.ts),
                "ago_s": round(now - latest.ts, 3),
                "kind": None if latest.kind is None else latest.kind.value,
                "detail": redacted(latest.detail),
            }
    return doc


class MonitorsJSON(str):
    """``/api/status``' ``monitors`` map already written as JSON (by a :class:`StateBoard`,
    by difference from the last request), for :func:`status_json` to put in place."""

    __slots__ = ()


def status_json(doc: Mapping[str, Any]) -> str:
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


def build_monitor(snap: Snapshot, name: str) -> dict[str, Any] | None:
    """The document behind a monitor's page (see :func:`monitor_document`)."""
    m = order_of(snap.monitors).by_name.get(name)
    if m is None:
        return None
    now = snap.now
    results = snap.store.results(name, limit=RESULTS_SHOWN)
    hourly = snap.store.rollups(name, "hour", since=now - HOURS_SHOWN * 3600)
    mine = snap.store.incident_list(limit=INCIDENTS_SHOWN, monitor=name, shown=SHOWN)
    # Its own time in each (issue 24): an incident it left is on its page, with when it
    # joined and left, and it is down since it joined the open one it is in now.
    moves = snap.store.membership([i.incident.id for i in mine], [name])
    opened = [
        s.start
        for i in mine
        if i.incident.is_open
        for s in stints(moves.get(i.incident.id, ())).get(name, ())
        if s.end is None
    ] or [
        i.incident.opened
        for i in mine
        if i.incident.is_open and i.current and i.incident.id not in moves
    ]
    incidents = []
    for i in mine:
        doc = listed_brief(i, now)
        if i.incident.id in moves:
            doc["members"] = members_json(moves[i.incident.id], now)
        incidents.append(doc)
    return {
        "now": iso(now),
        **snap.head(m, {name: min(opened)} if opened else {}),
        "uptime": uptimes(snap.store, name, now),
        "interval": format_duration(m.interval),
        "timeout": format_duration(m.timeout),
        "checked": checked_text(m),
        "conditions": list(m.conditions),
        "series": series_path(name),
        "results": [result_json(r) for r in results],
        "hourly": [rollup_json(r) for r in reversed(hourly)],
        "incidents": incidents,
        **({"traffic": snap.traffic[name]} if name in snap.traffic else {}),
    }


def checked_text(m: Monitor) -> str:
    """How ``m`` is watched, in words: a probe's interval and timeout, a push monitor's
    schedule and grace, a traffic monitor's calls and rules (a traffic monitor's page
    said "Checked every 10s (timeout 8s)", the fields of a probe it is not)."""
    if m.type == "traffic":
        rules = []
        if m.consecutive:
            rules.append(f"{m.consecutive} failed in a row")
        if m.failure_ratio is not None:
            rules.append(
                f"{m.failure_ratio:.0%} of at least {m.min_calls} calls failed in "
                f"{format_duration(m.window)}"
            )
        where = "" if m.endpoint == "*" else f" to {m.endpoint}"
        return f"{m.app}'s own calls{where}, reported to it: down after " + " or ".join(rules)
    if m.type == "push":
        when = f"at {m.cron} ({m.timezone})" if m.cron else f"every {format_duration(m.interval)}"
        return f"a push expected {when}, {format_duration(m.grace)} late at most"
    return f"every {format_duration(m.interval)} (timeout {format_duration(m.timeout)})"


def traffic_json(view: WindowView) -> dict[str, Any]:
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


def build_series(snap: Snapshot, name: str, span: str) -> dict[str, Any] | None:
    """The document behind ``/api/series/{name}?range=SPAN``: the monitor's response
    time over one of :data:`RANGES`, in columns for the chart (``time`` in Unix seconds,
    one entry per point in every other column); ``None`` when no monitor has that name.

    ``1h`` and ``24h`` are drawn from raw results, check by check, with each phase's
    time; a window holding more than :data:`SERIES_RAW_MAX` of them, and ``7d`` and
    ``30d`` always, from roll-ups (minute and hour buckets: average, least and most
    latency, checks and failures by kind), so a series never reads more than a few
    thousand rows.
    """
    if not any(m.name == name for m in snap.monitors):
        return None
    now = snap.now
    since = now - RANGES[span]
    doc: dict[str, Any] = {
        "monitor": name,
        "range": span,
        "from": iso(since),
        "to": iso(now),
    }
    if span in RAW_RANGES:
        records = snap.store.results(name, since=since, limit=SERIES_RAW_MAX + 1)
        if len(records) <= SERIES_RAW_MAX:
            return doc | _raw_series(records[::-1])
        rollups = snap.store.rollups(name, "minute", since=bucket_start(since, 60))
        return doc | _rollup_series(rollups, "minute")
    rollups = snap.store.rollups(name, "hour", since=bucket_start(since, 3600))
    return doc | _rollup_series(rollups, "hour")


def _raw_series(records: Sequence[ProbeRecord]) -> dict[str, Any]:
    """Raw results, oldest first, as columns: one point per check."""
    named = {p for r in records for p in r.phases}
    phases = sorted(named, key=lambda p: (PHASES.index(p) if p in PHASES else len(PHASES), p))
    failures: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        if not r.ok:
            failures.setdefault(kind_text(r.kind), [0] * len(records))[i] = 1
    return {
        "source": "results",
        "step_s": None,
        "time": [round(r.ts, 3) for r in records],
        "latency_ms": [round_ms(r.latency_ms) for r in records],
        "latency_min_ms": None,
        "latency_max_ms": None,
        "checks": [1] * len(records),
        "failed": [0 if r.ok else 1 for r in records],
        "phases": {p: [round_ms(r.phases.get(p)) for r in records] for p in phases},
        "failures": dict(sorted(failures.items())),
        "layers": {kind: kind_layer(kind) for kind in sorted(failures)},
    }


def _rollup_series(rollups: Sequence[Rollup], period: str) -> dict[str, Any]:
    """Roll-ups, oldest first, as columns: one point per bucket.  A failed condition
    has no kind in a roll-up; what the kinds do not account for is ``condition``."""
    failures: dict[str, list[int]] = {}
    for i, r in enumerate(rollups):
        failed = r.count - r.ok_count
        kinds = dict(r.kinds)
        if failed > sum(kinds.values()):
            kinds[CONDITION] = failed - sum(kinds.values())
        for kind, n in kinds.items():
            failures.setdefault(kind, [0] * len(rollups))[i] = n
    return {
        "source": f"{period} roll-ups",
        "step_s": 60 if period == "minute" else 3600,
        "time": [r.start for r in rollups],
        "latency_ms": [round_ms(r.latency_avg) for r in rollups],
        "latency_min_ms": [round_ms(r.latency_min) for r in rollups],
        "latency_max_ms": [round_ms(r.latency_max) for r in rollups],
        "checks": [r.count for r in rollups],
        "failed": [r.count - r.ok_count for r in rollups],
        "phases": {},
        "failures": dict(sorted(failures.items())),
        "layers": {kind: kind_layer(kind) for kind in sorted(failures)},
    }


def build_incidents(snap: Snapshot, *, open_only: bool, limit: int) -> dict[str, Any]:
    """The document behind the incidents page (see :func:`incidents_document`)."""
    rows = snap.store.incident_list(open_only=open_only, limit=limit, shown=SHOWN)
    # Each incident's first monitors to join, with their times (issue 24): a monitor
    # back while the incident goes on is still told, with when it joined and left.
    moves = snap.store.membership([i.incident.id for i in rows], first=MEMBERS_SHOWN)
    docs = []
    for i in rows:
        doc = listed_brief(i, snap.now)
        if i.incident.id in moves:
            doc["members"] = members_json(moves[i.incident.id], snap.now)
        docs.append(doc)
    return {"now": iso(snap.now), "incidents": docs}


def build_incident(snap: Snapshot, incident_id: int) -> dict[str, Any] | None:
    """The document behind ``/api/incidents/{id}``: the incident whole (every monitor and
    timeline entry); ``None`` when there is no incident by that id."""
    incident = snap.store.incident(incident_id)
    if incident is None:
        return None
    moves = snap.store.membership([incident_id]).get(incident_id, ())
    doc = incident_json(incident, snap.now, moves)
    doc["monitors_count"] = len(incident.monitors)
    doc["timeline_count"] = len(incident.timeline)
    return doc


async def status_document(
    runner: Running,
    recent: Recent | None = None,
    view: View | None = None,
    table: UptimeTable | None = None,
) -> dict[str, Any]:
    """``/api/status``: the summary of every monitor, the rows of one page of them
    (``view``: which, in what order; ``view`` in the document says which page it is and
    how many match), the open incidents and the alert channels' queues.

    ``monitors`` (every monitor's name to its state) and ``open_incidents`` (each with
    ``id``, ``key`` and ``monitors``) are what the first version of this endpoint
    returned, kept as they were.  ``recent`` and ``table`` keep what was read from the
    store for the next call.
    """
    snap = Snapshot.of(runner)
    return await asyncio.to_thread(build_status, snap, recent or Recent(), view, table)


async def monitor_document(runner: Running, name: str) -> dict[str, Any] | None:
    """``/api/monitors/{name}``: its settings, recent results, hourly roll-ups and
    incidents; ``None`` when no monitor has that name."""
    return await asyncio.to_thread(build_monitor, Snapshot.of(runner, [name]), name)


async def incidents_document(
    runner: Running, *, open_only: bool = False, limit: int = INCIDENTS_SHOWN
) -> dict[str, Any]:
    """``/api/incidents``: incidents newest first, with cause, fix and timeline."""
    snap = Snapshot.of(runner, ())
    return await asyncio.to_thread(build_incidents, snap, open_only=open_only, limit=limit)


# -- HTML: the one renderer -----------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _with_code(value: object) -> str:
    """``value`` escaped, its backquoted spans (the catalogue's hints write commands so:
    `timedatectl`) shown as code rather than with their backquotes."""
    parts = str(value).split("`")
    if len(parts) % 2 == 0:  # a backquote left open: shown as it is
        return _e(value)
    return "".join(_e(p) if n % 2 == 0 else f"<code>{_e(p)}</code>" for n, p in enumerate(parts))


def _when(text: str | None) -> str:
    if text is None:
        return "—"
    shown = text.replace("T", " ").replace("Z", " UTC")
    return f'<time datetime="{_e(text)}">{_e(shown)}</time>'


def _state_badge(state: str) -> str:
    return f'<span class="state state-{_e(state)}">{_e(state)}</span>'


def _link(name: str) -> str:
    return f'<a href="{_e(monitor_path(name))}">{_e(name)}</a>'


def _latency(ms: float | None) -> str:
    return "—" if ms is None else f"{ms:.1f} ms"


def _kind(kind: str | None) -> str:
    return "" if kind is None else f'<code class="kind">{_e(kind)}</code>'


@functools.lru_cache(maxsize=4096)  # the same minutes again, as in iso()
def _unix(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def _sparkline(points: Sequence[Mapping[str, Any]], now: str) -> str:
    """Each minute's average latency as a line and each minute with a failure as a red
    mark; time runs left to right over the last hour, so a young monitor's line starts
    late."""
    if not points:
        return '<span class="muted">no checks</span>'
    end = _unix(now)

    def x(at: str) -> float:
        return SPARK_WIDTH * (1 - (end - _unix(at)) / SPARKLINE_WINDOW)

    timed = [p for p in points if p["latency_ms"] is not None]
    top = max((p["latency_ms"] for p in timed), default=0.0) or 1.0
    line = [
        (x(p["at"]), SPARK_HEIGHT - 2 - p["latency_ms"] / top * (SPARK_HEIGHT - 4)) for p in timed
    ]
    checks = sum(p["checks"] for p in points)
    failed = sum(p["failed"] for p in points)
    label = _e(f"last hour: {checks} checks, {failed} failed")
    bottom = SPARK_HEIGHT - 0.5
    path = " ".join(f"{px:.1f},{py:.1f}" for px, py in line)
    shapes = [
        f'<line class="spark-axis" x1="0" y1="{bottom}" x2="{SPARK_WIDTH}" y2="{bottom}"/>',
        f'<polyline class="spark-line" fill="none" points="{path}"/>',
    ]
    if line:  # the latest minute as a dot, so even one point shows
        shapes.append(
            f'<circle class="spark-dot" cx="{line[-1][0]:.1f}" cy="{line[-1][1]:.1f}" r="1.5"/>'
        )
    shapes += [
        f'<rect class="spark-fail" x="{x(p["at"]) - 1:.1f}" y="{SPARK_HEIGHT - 4}" '
        'width="2" height="4"/>'
        for p in points
        if p["failed"]
    ]
    return (
        f'<svg class="spark" viewBox="0 0 {SPARK_WIDTH} {SPARK_HEIGHT}" width="{SPARK_WIDTH}" '
        f'height="{SPARK_HEIGHT}" role="img" aria-label="{label}"><title>{label}</title>'
        f"{''.join(shapes)}</svg>"
    )


@dataclass(frozen=True, slots=True)
class Page:
    """A rendered page: its title and its live parts, the "as of" corner and ``<main>``.
    The whole page and its fragment (what the script swaps in) carry the same parts."""

    title: str
    path: str | None
    """Where the page lives, so where its fragment is; ``None``: not refreshed."""
    now: str | None
    main: str
    status: int = 200
    styles: tuple[str, ...] = ()
    """More style sheets of ``static/`` for this page (after ``dashboard.css``)."""
    scripts: tuple[str, ...] = ()
    """More scripts of ``static/`` for this page, run in this order after the page loads."""
    controls: str = ""
    """What the page's header holds besides the links (the overview's filter form): not
    live, so a refresh never takes what someone is typing."""

    def _updated(self) -> str:
        return f'<span id="updated" class="updated" data-live>as of {_when(self.now)}</span>'

    def _main(self) -> str:
        return f'<main id="live" data-live>\n{self.main}\n</main>'

    def fragment(self) -> str:
        """The live parts alone, each an element whose ``id`` names the part it replaces."""
        return f"{self._updated()}\n{self._main()}\n"

    def document(self, refresh_ms: int, who: Principal | None = None) -> str:
        """The whole page; the script refreshes it every ``refresh_ms``.  ``who`` is the
        principal it is for: a login session's name and logout button go in the header."""
        live = ""
        if self.path is not None:  # the page's own query (the overview's sort...) kept
            joined = "&" if "?" in self.path else "?"
            live = f' data-fragment="{_e(self.path + joined)}fragment=1"'
        styles = "".join(f'\n<link rel="stylesheet" href="/static/{_e(f)}">' for f in self.styles)
        scripts = "".join(f'\n<script src="/static/{_e(f)}" defer></script>' for f in self.scripts)
        return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(self.title)} · tether</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/dashboard.css">{styles}
<script src="/static/dashboard.js" defer></script>{scripts}
</head>
<body{live} data-refresh-ms="{refresh_ms}">
<header class="top">
<a class="brand" href="/">tether</a>
<nav><a href="/">Monitors</a> <a href="/incidents">Incidents</a></nav>
{self.controls}{self._updated()}{_account(who)}
</header>
{self._main()}
</body>
</html>
"""


def _account(who: Principal | None) -> str:
    """Who is logged in, and the button that logs out (a form: it works without script,
    and carries the session's CSRF token)."""
    if who is None or who.via != "session":
        return ""
    return (
        f'\n<form class="account" method="post" action="/logout">'
        f'<span class="who">{_e(who.name)}</span>{csrf_field(who)}'
        '<button type="submit">Log out</button></form>'
    )


def _summary(doc: Mapping[str, Any], view: View) -> str:
    """Every monitor's count by state, each a link to the overview of that state."""
    counts: Mapping[str, int] = doc["summary"]
    total = sum(counts.values())
    parts = [
        f'<a href="{_e(view.href(state=State(state), page=1))}">'
        f'<span class="count state-{_e(state)}">{n} {_e(state)}</span></a>'
        for state, n in counts.items()
        if n
    ]
    noun = "monitor" if total == 1 else "monitors"
    return f"{total} {noun}: " + ", ".join(parts) if parts else f"{total} {noun}"


def _cluster(cluster: Mapping[str, Any]) -> str:
    """``3 instances: east (leader), west, local``, a location with no live instance in
    red; empty for one instance at one location."""
    live: Mapping[str, int] = cluster["live"] or {}
    alive = [i for i in cluster["instances"] if i["alive"]]
    if len(alive) <= 1 and len(live) <= 1:
        return ""
    parts = []
    for where, n in live.items():
        if not n:
            parts.append(f'<span class="dead">{_e(where)} (no live instance)</span>')
            continue
        many = f" ×{n}" if n > 1 else ""
        leads = any(i["leader"] and i["location"] == where for i in alive)
        parts.append(f"{_e(where)}{many}{' (leader)' if leads else ''}")
    if not any(i["leader"] for i in alive):
        parts.append('<span class="dead">no leader: incidents wait</span>')
    here = f"this page from {cluster['id']} at {cluster['location']}"
    return (
        f'<p id="cluster" class="cluster" title="{_e(here)}">'
        f"{_e(count(len(alive), 'instance'))}: {', '.join(parts)}</p>\n"
    )


def _place_title(where: Mapping[str, Any]) -> str:
    """What a location's state rests on, for its tooltip: the kind and detail of its
    failure, or since when it has been in its state."""
    if not where["live"]:
        return "no live instance there: not counted"
    since = "" if where["since"] is None else f"since {where['since']}"
    why = ": ".join(part for part in (where["kind"], where["detail"]) if part)
    return "; ".join(part for part in (why, since) if part)


def _places(row: Mapping[str, Any]) -> str:
    """``east down · west up · local up`` under a monitor's state, each coloured as the
    state badges are."""
    parts = []
    for where in row["locations"]:
        state = where["state"] if where["live"] else "unknown"
        shown = where["state"] if where["live"] else "not counted"
        parts.append(
            f'<span class="place state-{_e(state)}" data-location="{_e(where["location"])}" '
            f'title="{_e(_place_title(where))}">{_e(where["location"])} {_e(shown)}</span>'
        )
    return f'<div class="places">{" · ".join(parts)}</div>'


def _locations(doc: Mapping[str, Any]) -> str:
    """A monitor's page: what each of its locations sees, and the quorum over them."""
    quorum = doc["quorum"]
    failing = ", ".join(_e(where) for where in quorum["failing"]) or "none"
    rows = []
    for where in doc["locations"]:
        counted = (
            "" if where["live"] else ' <span class="muted">not counted: no live instance</span>'
        )
        why = " ".join(part for part in (_kind(where["kind"]), _e(where["detail"] or "")) if part)
        rows.append(
            f'<tr data-location="{_e(where["location"])}"><td>{_e(where["location"])}</td>'
            f"<td>{_state_badge(where['state'])}{counted}</td><td>{_when(where['since'])}</td>"
            f"<td>{why or '—'}</td></tr>"
        )
    return (
        f'<p class="quorum">Down when {quorum["needed"]} of its {quorum["counted"]} counted '
        f"locations fail; failing now: {failing}.</p>"
        '<table id="locations"><thead><tr><th>Location</th><th>State</th><th>Since</th>'
        f"<th>Why</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _form(forms: Forms, action: str, back: str, inner: str, css: str = "action") -> str:
    """A button (and its fields) posting to the write API; the answer is a 303 back to
    ``back``.  The session's CSRF token rides along as ``csrf``."""
    csrf = (
        "" if forms.csrf is None else f'<input type="hidden" name="csrf" value="{_e(forms.csrf)}">'
    )
    return (
        f'<form class="{css}" method="post" action="{_e(action)}">{csrf}'
        f'<input type="hidden" name="back" value="{_e(back)}">{inner}</form>'
    )


def _incident_forms(i: Mapping[str, Any], forms: Forms, back: str) -> str:
    """Acknowledge (while open and not acknowledged) and add a note."""
    base = f"/api/incidents/{int(i['id'])}"
    ack = ""
    if i["open"] and i["acknowledged"] is None:
        ack = _form(
            forms, f"{base}/acknowledge", back, '<button type="submit">Acknowledge</button>'
        )
    note = _form(
        forms,
        f"{base}/notes",
        back,
        '<input type="text" name="text" required maxlength="2000" placeholder="Add a note" '
        'aria-label="note"><button type="submit">Add note</button>',
        "action note",
    )
    return f'<div class="actions">{ack}{note}</div>'


def _members(members: Sequence[Mapping[str, Any]]) -> str:
    """Each monitor's time in an incident (its membership history): when it joined and
    left, why, and for how long, so an outage stays on the page after it is over."""
    if not members:
        return ""
    rows = []
    for m in members:
        left = "still in" if m["left"] is None else _when(m["left"])
        if m["why_left"] is not None:
            left += f' <span class="muted">{_e(m["why_left"])}</span>'
        down = _e(human_duration(m["down_s"])) + (", paused" if m["paused"] else "")
        rows.append(
            f'<tr data-member="{_e(m["monitor"])}"><td>{_link(m["monitor"])}</td>'
            f'<td>{_when(m["joined"])} <span class="muted">{_e(m["why_joined"])}</span></td>'
            f"<td>{left}</td><td>{down}</td></tr>"
        )
    said = f"Who was in it: {count(len({m['monitor'] for m in members}), 'monitor')}"
    return (
        f'<details class="members"><summary>{_e(said)}</summary>'
        '<table class="members"><thead><tr><th>Monitor</th><th>Joined</th><th>Left</th>'
        f"<th>Down</th></tr></thead><tbody>{''.join(rows)}</tbody></table></details>"
    )


def _incident(
    i: Mapping[str, Any], *, timeline: bool, forms: Forms | None = None, back: str = "/"
) -> str:
    monitors = ", ".join(_link(name) for name in i["monitors"]) or "—"
    more = i.get("monitors_count", len(i["monitors"])) - len(i["monitors"])
    if more > 0:
        monitors += f" and {_e(count(more, 'more monitor'))}"
    status = (
        f"open for {_e(human_duration(i['duration_s']))}"
        if i["open"]
        else f"resolved {_when(i['resolved'])} after {_e(human_duration(i['duration_s']))}"
    )
    if i["open"] and i.get("acknowledged"):
        status += f", acknowledged {_when(i['acknowledged'])}"
    events = _members(i.get("members", ()))
    if timeline:
        entries = [
            f"<li>{_when(e['at'])} <strong>{_e(e['event'])}</strong> {_e(e['detail'])}</li>"
            for e in i["timeline"]
        ]
        left_out = i.get("timeline_count", len(i["timeline"])) - len(i["timeline"])
        if left_out > 0:
            entries.insert(
                1,
                f'<li class="muted">… {_e(count(left_out, "more entry", "more entries"))}: '
                f"<code>/api/incidents/{_e(i['id'])}</code> has them all</li>",
            )
        events += f'<ol class="timeline">{"".join(entries)}</ol>'
    state = "open" if i["open"] else "resolved"
    partial = ""
    if i["partial"]:
        state += " incident-partial"
        partial = (
            '<span class="tag" title="some locations fail, fewer than the quorum: not an '
            'outage">partial</span> '
        )
    return (
        f'<article class="incident incident-{state}" data-incident="{_e(i["id"])}">'
        f"<h3>#{_e(i['id'])} {partial}{_kind(i['kind'])} "
        f'<span class="monitors">{monitors}</span></h3>'
        f'<p class="detail">{_e(i["detail"])}</p>'
        f'<p class="hint"><strong>Fix:</strong> {_with_code(i["hint"])}</p>'
        f'<p class="when">opened {_when(i["opened"])}, {status}</p>{events}'
        f"{'' if forms is None else _incident_forms(i, forms, back)}</article>"
    )


def _incidents(
    incidents: Sequence[Mapping[str, Any]],
    empty: str,
    *,
    timeline: bool,
    forms: Forms | None = None,
    back: str = "/",
) -> str:
    if not incidents:
        return f'<p class="none">{_e(empty)}</p>'
    return "".join(_incident(i, timeline=timeline, forms=forms, back=back) for i in incidents)


def _certificate(cert: Mapping[str, Any] | None) -> str:
    if cert is None:
        return "—"
    days = cert["days_left"]
    shown = "expired" if days < 0 else count(days, "day")
    soon = " soon" if days < CERT_SOON_DAYS else ""
    return f'<span class="cert{soon}" title="expires {_e(cert["expires"])}">{_e(shown)}</span>'


def _row(row: Mapping[str, Any], now: str) -> str:
    check = row["last_check"]
    failure = row["last_failure"]
    failed = (
        "—"
        if failure is None
        else f'{_kind(failure["kind"])} <span class="detail">{_e(failure["detail"] or "")}'
        f'</span> <span class="ago">{_e(human_duration(failure["ago_s"]))} ago</span>'
    )
    held = "—" if row["for_s"] is None else _e(human_duration(row["for_s"]))
    places = _places(row) if "locations" in row else ""
    return (
        f'<tr data-monitor="{_e(row["name"])}">'
        f'<td class="name">{_link(row["name"])}<div class="url">{_e(row["url"])}</div></td>'
        f"<td>{_state_badge(row['state'])}{places}</td>"
        f'<td class="for" title="{_e(row["since"] or "")}">{held}</td>'
        f'<td class="latency">{_latency(check["latency_ms"] if check else None)}</td>'
        f'<td class="uptime">{_uptime(row["uptime"], ("24h", "30d"))}</td>'
        f'<td class="certificate">{_certificate(row["certificate"])}</td>'
        f'<td class="spark-cell">{_sparkline(row["sparkline"], now)}</td>'
        f'<td class="failure">{failed}</td></tr>'
    )


def _view_of(doc: Mapping[str, Any]) -> View:
    """The view a status document was built for, with the page it shows."""
    v = doc["view"]
    state = None if v["state"] is None else State(v["state"])
    return View(state, v["q"], v["sort"], v["order"], v["page"], v["per_page"])


def _sort_link(view: View, key: str, label: str) -> str:
    arrow = ""
    if view.sort == key:
        arrow = " ↑" if view.order == "asc" else " ↓"
    return f'<a href="{_e(view.sorted_by(key))}" data-sort="{key}">{_e(label)}{arrow}</a>'


def _header(view: View) -> str:
    """The column headers, each a link that sorts by it (again: the other way round)."""

    def th(keys: Sequence[str], inner: str, title: str = "") -> str:
        sorted_here = ""
        if view.sort in keys:
            way = "ascending" if view.order == "asc" else "descending"
            sorted_here = f' aria-sort="{way}"'
        titled = f' title="{_e(title)}"' if title else ""
        return f"<th{sorted_here}{titled}>{inner}</th>"

    day, month = _sort_link(view, "uptime_24h", "24h"), _sort_link(view, "uptime_30d", "30d")
    uptime = f"Uptime {day} · {month}"
    return (
        "<tr>"
        + th(["name"], _sort_link(view, "name", "Monitor"))
        + th(["state"], _sort_link(view, "state", "State"))
        + th(["for"], _sort_link(view, "for", "For"))
        + th(["latency"], _sort_link(view, "latency", "Latency"), "the last check's")
        + th(["uptime_24h", "uptime_30d"], uptime, "share of time up")
        + th(["certificate"], _sort_link(view, "certificate", "Certificate"), "days left")
        + th([], "Last hour")
        + th([], "Last failure")
        + "</tr>"
    )


def _pager(view: View, doc: Mapping[str, Any]) -> str:
    """Which monitors the table shows (``101–200 of 10,000``, what the filter keeps),
    and links to the first, previous, next and last pages."""
    v = doc["view"]
    matching, pages, page = v["matching"], v["pages"], v["page"]
    what = []
    if view.state is not None:
        what.append(f"{_e(view.state)}")
    noun = "monitor" if matching == 1 else "monitors"
    shown = f"{matching:,} {' '.join([*what, noun])}"
    if view.q:
        shown += f" matching “{_e(view.q)}”"
    if view.state is not None or view.q:
        shown += f' (<a href="{_e(view.href(state=None, q="", page=1))}">show all</a>)'
    if matching > view.per_page:
        first = (page - 1) * view.per_page + 1
        last = min(page * view.per_page, matching)
        shown = f"{first:,}–{last:,} of {shown}"

    def link(target: int, label: str, rel: str) -> str:
        if target == page or not 1 <= target <= pages:
            return f'<span class="muted">{label}</span>'
        return f'<a href="{_e(view.href(page=target))}" rel="{rel}">{label}</a>'

    links = ""
    if pages > 1:
        links = (
            f' <span class="pages">{link(1, "« first", "first")} '
            f"{link(page - 1, '‹ previous', 'prev')} page {page:,} of {pages:,} "
            f"{link(page + 1, 'next ›', 'next')} {link(pages, 'last »', 'last')}</span>"
        )
    return f'<p id="pager" class="pager">{shown}{links}</p>'


def _filter_form(view: View) -> str:
    """The filter: a GET form to the overview itself, keeping its sort and page size."""
    options = "".join(
        f'<option value="{_e(s)}"{" selected" if view.state is s else ""}>{_e(s)}</option>'
        for s in STATE_ORDER
    )
    kept = {k: v for k, v in view.params().items() if k in ("sort", "order", "per_page")}
    hidden = "".join(
        f'<input type="hidden" name="{_e(k)}" value="{_e(v)}">' for k, v in kept.items()
    )
    return (
        '<form id="filter" class="filter" method="get" action="/" role="search">'
        '<label for="filter-q">Find</label> <input id="filter-q" type="search" name="q" '
        f'value="{_e(view.q)}" maxlength="{QUERY_MAX}" placeholder="name or URL"> '
        '<label for="filter-state">State</label> <select id="filter-state" name="state">'
        f'<option value="">any</option>{options}</select>{hidden} '
        '<button type="submit">Filter</button></form>\n'
    )


def _open_incidents(incidents: Sequence[Mapping[str, Any]]) -> str:
    """The newest :data:`OPEN_ON_OVERVIEW` open incidents, and a link to all of them."""
    shown = _incidents(incidents[:OPEN_ON_OVERVIEW], "No open incidents.", timeline=False)
    more = len(incidents) - OPEN_ON_OVERVIEW
    if more <= 0:
        return shown
    return (
        f'{shown}<p id="more-incidents" class="more">and {_e(count(more, "more open incident"))}'
        ' on <a href="/incidents?open=1">the incidents page</a>.</p>'
    )


def dashboard_page(doc: Mapping[str, Any], banner: str = "") -> Page:
    """The dashboard, from :func:`status_document`; ``banner`` from :func:`channel_banner`."""
    view = _view_of(doc)
    rows = "".join(_row(r, doc["now"]) for r in doc["rows"])
    if not rows:
        rows = '<tr><td colspan="8" class="none">No monitor matches.</td></tr>'
    main = f"""{banner}<h1>Monitors</h1>
<p id="summary" class="summary">{_summary(doc, view)}</p>
{_cluster(doc["cluster"])}<section>
<h2>Open incidents</h2>
<div id="incidents">{_open_incidents(doc["open_incidents"])}</div>
</section>
<section>
<h2>All monitors</h2>
{_pager(view, doc)}
<table id="monitors">
<thead>{_header(view)}</thead>
<tbody>{rows}</tbody>
</table>
</section>"""
    return Page("Monitors", view.href(), doc["now"], main, controls=_filter_form(view))


def _results(results: Sequence[Mapping[str, Any]]) -> str:
    if not results:
        return '<tr><td colspan="5" class="none">No results yet.</td></tr>'
    out = []
    for r in results:
        phases = " · ".join(f"{_e(name)} {ms:.1f}" for name, ms in r["phases"].items())
        why = " ".join(part for part in (_kind(r["kind"]), _e(r["detail"] or "")) if part)
        conditions = "".join(f"<li>{_e(c)}</li>" for c in r["conditions"])
        result = "ok" if r["ok"] else "failed"
        out.append(
            f"<tr><td>{_when(r['at'])}</td>"
            f'<td><span class="result result-{result}">{result}</span></td>'
            f'<td class="latency">{_latency(r["latency_ms"])}</td>'
            f'<td class="phases">{phases}</td>'
            f'<td>{why}<ul class="conditions">{conditions}</ul></td></tr>'
        )
    return "".join(out)


def _hourly(hourly: Sequence[Mapping[str, Any]]) -> str:
    if not hourly:
        return '<tr><td colspan="5" class="none">No roll-ups yet.</td></tr>'
    out = []
    for h in hourly:
        uptime = "—" if h["uptime_pct"] is None else f"{h['uptime_pct']:.2f} %"
        kinds = ", ".join(f"{_e(kind)} × {n}" for kind, n in h["failures"].items())
        out.append(
            f"<tr><td>{_when(h['start'])}</td><td>{h['checks']}</td>"
            f'<td class="uptime">{uptime}</td><td>{_latency(h["latency_avg_ms"])}</td>'
            f"<td>{kinds or '—'}</td></tr>"
        )
    return "".join(out)


def _monitor_facts(doc: Mapping[str, Any]) -> str:
    check = doc["last_check"]
    last = (
        "never"
        if check is None
        else f"{_when(check['at'])}: {'ok' if check['ok'] else 'failed'}, "
        f"{_latency(check['latency_ms'])} {_kind(check['kind'])}"
    )
    conditions = "".join(f"<li><code>{_e(c)}</code></li>" for c in doc["conditions"])
    held = "" if doc["for_s"] is None else f" for {_e(human_duration(doc['for_s']))}"
    return (
        f'<p id="state-line">{_state_badge(doc["state"])}<span class="for">{held}</span></p>'
        f'<dl class="facts"><dt>URL</dt><dd class="url">{_e(doc["url"])}</dd>'
        f"<dt>Watched</dt><dd>{_e(doc['checked'])}</dd>"
        f'<dt>Conditions</dt><dd><ul class="conditions">{conditions or f"<li>{NO_CONDITIONS}</li>"}'
        f'</ul></dd><dt>Last check</dt><dd id="last-check">{last}</dd>'
        f'<dt>Uptime</dt><dd id="uptime">{_uptime(doc["uptime"], tuple(WINDOWS), labelled=True)}'
        "</dd></dl>"
    )


def _uptime(
    shares: Mapping[str, float | None], windows: Sequence[str], *, labelled: bool = False
) -> str:
    """``99.95% · 100%``, or with ``labelled`` ``24h 99.95% · 7d 100% · ...``: the share of
    time up over each window (docs/monitor.md, "Uptime")."""
    parts = [
        f"{w} {format_uptime(shares[w])}" if labelled else format_uptime(shares[w]) for w in windows
    ]
    return _e(" · ".join(parts))


def _tiles(doc: Mapping[str, Any]) -> str:
    """The uptime over each window and the certificate's days left, large, at the top."""
    tiles = [
        f'<div class="tile" data-window="{_e(w)}"><span class="tile-value">'
        f'{_e(format_uptime(doc["uptime"][w]))}</span><span class="tile-label">uptime {_e(w)}'
        "</span></div>"
        for w in WINDOWS
    ]
    cert = doc["certificate"]
    if cert is not None:
        days = cert["days_left"]
        level = "expired" if days < 0 else "soon" if days < 14 else "ok"
        shown = f"expired {-days} d ago" if days < 0 else f"{days} d"
        tiles.append(
            f'<div id="certificate" class="tile cert-{level}" title="expires '
            f'{_e(cert["expires"])}"><span class="tile-value">{_e(shown)}</span>'
            '<span class="tile-label">certificate</span></div>'
        )
    return f'<div id="tiles" class="tiles">{"".join(tiles)}</div>'


def _heartbeat(results: Sequence[Mapping[str, Any]]) -> str:
    """The last :data:`HEARTBEATS` checks as a row of blocks, oldest on the left, each
    coloured ok or failed and titled with its time, outcome, kind and latency."""
    beats = list(reversed(results[:HEARTBEATS]))
    if not beats:
        return '<p id="heartbeat" class="heartbeat none">No checks yet.</p>'
    blocks = []
    for r in beats:
        outcome = "ok" if r["ok"] else "failed"
        parts = [r["at"].replace("T", " ").replace("Z", " UTC"), outcome]
        if not r["ok"]:
            parts.append(kind_text_of(r["kind"]))
        if r["latency_ms"] is not None:
            parts.append(f"{r['latency_ms']:.1f} ms")
        blocks.append(f'<span class="beat beat-{outcome}" title="{_e(" · ".join(parts))}"></span>')
    failed = sum(not r["ok"] for r in beats)
    label = f"last {count(len(beats), 'check')}: {failed} failed"
    return (
        f'<div id="heartbeat" class="heartbeat" role="img" aria-label="{_e(label)}" '
        f'title="{_e(label)}">{"".join(blocks)}</div>'
    )


def kind_text_of(kind: str | None) -> str:
    """A result document's ``kind`` as the kinds of incidents name it (``condition``
    for conditions not met)."""
    return CONDITION if kind is None else kind


def _chart(doc: Mapping[str, Any]) -> str:
    """The chart's frame: ``static/charts.js`` fills it from the series API and shows it;
    without the script it stays hidden and the tables below say the same."""
    ranges = "".join(
        f'<button type="button" data-range="{_e(r)}" '
        f'aria-pressed="{"true" if r == RANGE_SHOWN else "false"}">{_e(r)}</button>'
        for r in RANGES
    )
    views = (
        '<button type="button" data-view="phases" aria-pressed="true">phases</button>'
        '<button type="button" data-view="latency" aria-pressed="false">total</button>'
    )
    return (
        f'<div id="chart" class="chart" data-series="{_e(doc["series"])}" '
        f'data-range="{_e(RANGE_SHOWN)}" hidden>'
        f'<div class="chart-controls"><span class="group" role="group" aria-label="range">'
        f'{ranges}</span><span class="group" role="group" aria-label="view">{views}</span>'
        '<span class="chart-note" aria-live="polite"></span></div>'
        '<div class="chart-plot"></div></div>'
    )


def _timeline(incidents: Sequence[Mapping[str, Any]], now: str, span: str) -> str:
    """The monitor's incidents over the last ``span`` on a time axis, an SVG: each incident
    a bar from when it opened to when it was resolved (or now), or, with the monitor's own
    ``members`` lines, from when it joined to when it left (or now), coloured by its kind's
    layer, each event of its timeline a mark on it.  Shapes carry their place and colour
    as SVG attributes and classes, which the CSP allows (an inline ``style`` it does not)."""
    end = _unix(now)
    start = end - RANGES[span]
    width = TIMELINE_WIDTH
    top, lane, pad = 18, 16, 4

    def x(at: float) -> float:
        return max(0.0, min(width, (at - start) / (end - start) * width))

    shown = [
        i
        for i in incidents
        if _unix(i["opened"]) < end and (i["resolved"] is None or _unix(i["resolved"]) > start)
    ][:TIMELINE_LANES]
    height = top + max(1, len(shown)) * lane + pad
    ticks = []
    for k in range(5):
        tx = width * k / 4
        at = iso(start + (end - start) * k / 4) or ""
        label = at[5:16].replace("T", " ") if span != "1h" else at[11:16]
        anchor = "start" if k == 0 else "end" if k == 4 else "middle"
        ticks.append(
            f'<line class="tl-tick" x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{height}"/>'
            f'<text class="tl-label" x="{tx:.1f}" y="12" text-anchor="{anchor}">{_e(label)}</text>'
        )
    bars = []
    for n, i in enumerate(shown):
        y = top + n * lane + 2
        x0 = x(_unix(i["opened"]))
        x1 = x(end if i["resolved"] is None else _unix(i["resolved"]))
        if i.get("members"):  # the monitor's own time in it, when the page has it
            x0 = x(min(_unix(m["joined"]) for m in i["members"]))
            lefts = [m["left"] for m in i["members"]]
            x1 = x(end if None in lefts else max(_unix(t) for t in lefts if t is not None))
        state = "open" if i["open"] else "resolved"
        title = f"#{i['id']} {i['kind']}: opened {i['opened']}, " + (
            "still open" if i["open"] else f"resolved {i['resolved']}"
        )
        marks = "".join(
            f'<line class="tl-mark" x1="{x(_unix(e["at"])):.1f}" y1="{y - 1}" '
            f'x2="{x(_unix(e["at"])):.1f}" y2="{y + lane - 3}">'
            f"<title>{_e(e['at'] + ' ' + e['event'] + ': ' + (e['detail'] or ''))}</title></line>"
            for e in i["timeline"]
            if start <= _unix(e["at"]) <= end
        )
        bars.append(
            f'<g class="tl-incident tl-{state}" data-incident="{_e(i["id"])}">'
            f'<rect class="tl-bar layer-{_e(kind_layer(i["kind"]))}" x="{x0:.1f}" y="{y}" '
            f'width="{max(2.0, x1 - x0):.1f}" height="{lane - 4}" rx="2">'
            f"<title>{_e(title)}</title></rect>{marks}</g>"
        )
    if not shown:
        bars.append(
            f'<text class="tl-none" x="{width / 2}" y="{top + 11}" text-anchor="middle">'
            f"No incidents in the last {_e(span)}.</text>"
        )
    hidden = "" if span == RANGE_SHOWN else " hidden"
    return (
        f'<svg class="timeline-axis" data-range="{_e(span)}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="incidents over the last {_e(span)}"{hidden}>'
        f"{''.join(ticks)}{''.join(bars)}</svg>"
    )


def _monitor_forms(doc: Mapping[str, Any], forms: Forms) -> str:
    """Pause or resume, and check now."""
    base = "/api/monitors/" + quote(doc["name"], safe="")
    back = monitor_path(doc["name"])
    paused = doc["state"] == "paused"
    toggle = _form(
        forms,
        f"{base}/{'resume' if paused else 'pause'}",
        back,
        f'<button type="submit">{"Resume" if paused else "Pause"}</button>',
    )
    check = (
        ""
        if paused
        else _form(forms, f"{base}/check", back, '<button type="submit">Check now</button>')
    )
    return f'<div id="monitor-actions" class="actions">{toggle}{check}</div>'


_PERCENTILES: Final = ("p50_ms", "p90_ms", "p99_ms")


def _traffic(t: Mapping[str, Any]) -> str:
    """A traffic monitor's window: a table of its figures, then the failing kinds."""
    share = f"{t['failed_share'] * 100:.1f}%" if t["calls"] else "—"
    rate = "—" if t["per_minute"] is None else f"{t['per_minute']:g} a minute"
    rows = [
        ("Calls in the last " + t["window"], f"{t['calls']} ({rate})"),
        ("Failed", f"{t['failed']} ({share})"),
        (
            "Latency p50 / p90 / p99",
            " / ".join(_latency(t[k]) for k in _PERCENTILES),
        ),
        (
            "Needed a retry",
            f"{t['retried']} ({t['retried_share'] * 100:.1f}%), {t['retries']} retries in all"
            if t["calls"]
            else "—",
        ),
    ]
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    kinds = "".join(
        f"<tr><td>{_kind(kind)}</td><td>{n}</td><td>{n / t['calls'] * 100:.1f}%</td></tr>"
        for kind, n in t["kinds"].items()
    )
    by_kind = (
        '<table id="calls-kinds"><thead><tr><th>Kind</th><th>Calls</th><th>Share</th></tr>'
        f"</thead><tbody>{kinds}</tbody></table>"
        if kinds
        else '<p class="muted">No failed call in the window.</p>'
    )
    return f'<table id="calls-window"><tbody>{body}</tbody></table>\n{by_kind}'


def monitor_page(doc: Mapping[str, Any], banner: str = "", forms: Forms | None = None) -> Page:
    """One monitor's page, from :func:`monitor_document`; ``forms``: its buttons (none
    for a reader who may not write)."""
    back = monitor_path(doc["name"])
    actions = "" if forms is None else _monitor_forms(doc, forms)
    incidents = _incidents(doc["incidents"], "No incidents.", timeline=True, forms=forms, back=back)
    places = ""
    if "locations" in doc:
        places = f'<section id="places">\n<h2>Locations</h2>\n{_locations(doc)}\n</section>\n'
    timelines = "".join(_timeline(doc["incidents"], doc["now"], span) for span in RANGES)
    if "traffic" in doc:
        places += f'<section id="calls">\n<h2>Calls</h2>\n{_traffic(doc["traffic"])}\n</section>\n'
    main = f"""{banner}<p class="crumbs"><a href="/">Monitors</a> /</p>
<h1 id="monitor-name">{_e(doc["name"])}</h1>
{_tiles(doc)}
<section id="beats">
<h2>Last checks</h2>
{_heartbeat(doc["results"])}
</section>
<div id="facts">{_monitor_facts(doc)}</div>
{actions}<section id="response-time">
<h2>Response time</h2>
{_chart(doc)}
<div id="timeline" class="timeline-box"><h3>Incidents on the time axis</h3>{timelines}</div>
</section>
{places}<section>
<h2>Incidents</h2>
<div id="incidents">{incidents}</div>
</section>
<section>
<h2>Hourly</h2>
<table id="hourly"><thead><tr><th>Hour</th><th>Checks</th><th>Uptime</th><th>Avg latency</th>
<th>Failures</th></tr></thead><tbody>{_hourly(doc["hourly"])}</tbody></table>
</section>
<section>
<h2>Recent results</h2>
<table id="results"><thead><tr><th>Time</th><th>Result</th><th>Latency</th><th>Phases (ms)</th>
<th>Why</th></tr></thead><tbody>{_results(doc["results"])}</tbody></table>
</section>"""
    return Page(
        doc["name"],
        monitor_path(doc["name"]),
        doc["now"],
        main,
        styles=("uplot.min.css",),
        scripts=("uplot.min.js", "charts.js"),
    )


def incidents_page(
    doc: Mapping[str, Any], banner: str = "", forms: Forms | None = None, *, open_only: bool = False
) -> Page:
    """The incidents page, from :func:`incidents_document`; ``forms``: its buttons;
    ``open_only``: the open ones alone (``?open=1``, as the API takes it)."""
    path = "/incidents?open=1" if open_only else "/incidents"
    empty = "No open incidents." if open_only else "No incidents yet."
    shown = _incidents(doc["incidents"], empty, timeline=True, forms=forms, back=path)
    title = "Open incidents" if open_only else "Incidents"
    other = (
        '<a href="/incidents">all incidents</a>'
        if open_only
        else '<a href="/incidents?open=1">the open ones</a>'
    )
    main = f"""{banner}<h1>{title}</h1>
<p class="crumbs">Newest first; see {other}.</p>
<div id="incidents">{shown}</div>"""
    return Page(title, path, doc["now"], main)


def unavailable_page(error: StoreError, now: float, banner: str = "") -> Page:
    """The page shown when the history cannot be read (PostgreSQL away, say)."""
    main = (
        f'{banner}<h1>History unavailable</h1><p class="none">The history cannot be read '
        f"now: {_e(redact_text(str(error)))}. Checks go on; this page comes back with "
        "the store.</p>"
    )
    return Page("History unavailable", None, iso(now), main, status=503)


def not_found_page(name: str, now: float, banner: str = "") -> Page:
    """The page for a monitor name that is not configured."""
    main = (
        f'{banner}<h1>No such monitor</h1><p class="none">No monitor is called '
        f'{_e(repr(name))}. See <a href="/">all monitors</a>.</p>'
    )
    return Page("Not found", None, iso(now), main, status=404)


# -- what the routes serve (``_dashboard_routes.py`` registers them) ------------------------


def asset(name: str) -> bytes:
    """A file of ``static/``, read from the installed package (wheel, zip or source tree)."""
    return (importlib.resources.files("tether.monitor.web") / "static" / name).read_bytes()


def _dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
