"""The monitor's web dashboard: every monitor's state and why, the open incidents with
their cause and fix, and one page per monitor with its results and roll-ups.

    GET /                      the dashboard
    GET /monitors/{name}       one monitor: recent results, hourly roll-ups, incidents
    GET /incidents             recent incidents with their timelines
    GET {page}?fragment=1      the page's live parts alone, for the script to swap in
    GET /api/status            JSON behind the dashboard (``monitors`` and ``open_incidents``
                               kept as they were for older readers)
    GET /api/monitors/{name}   JSON behind a monitor's page
    GET /api/incidents         JSON behind the incidents page (``?open=1``, ``?limit=N``)
    GET /static/{file}         the one script, the style sheet, the icon

Each page is a JSON document first (:func:`status_document`, :func:`monitor_document`,
:func:`incidents_document`), served as it is by the APIs.  The HTML is rendered from that
document here and nowhere else: a page's live parts (the "as of" corner and ``<main>``,
marked ``data-live``) are rendered by the same function for the whole page and for its
``?fragment=1``, and ``static/dashboard.js`` only fetches the fragment every few seconds
and swaps it in.  The page works without JavaScript.

Why it is safe to show: a monitor's name, a server's error text and a condition's
resolved value are data, which may hold ``<script>``.  The server escapes every value
once, with :func:`html.escape`; the script builds no markup, and a script element in
what it parses never runs; the Content-Security-Policy allows no inline script, so a
value that slipped through would still not run.  URLs are shown through
:func:`~tether._redact.redact_url` and free text through :func:`~tether._redact.redact_text`,
in the pages and in the APIs alike.  Every route is a GET: nothing here changes the monitor.

The runner's memory gives states, latest checks, state times, the alert channels'
health, and what each location sees of a monitor of several (its quorum's, copied only for
the monitors a page shows: it costs the loop more than a state); the cluster gives its
instances (a query with PostgreSQL, run on the worker thread); the store gives the rest
through small queries (:class:`Recent`: the minute
roll-ups of the last hour for the sparklines, read again only for the last two minutes,
and the last failure), run on a worker thread so that a page never holds up the event
loop that runs the probes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import html
import importlib.resources
import json
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from aiohttp import web

from tether._durations import format_duration, human_duration
from tether._plural import count
from tether._redact import redact_text, redact_url
from tether.monitor._params import request_number
from tether.monitor._records import Incident
from tether.monitor._report import (
    incident_json,
    iso,
    location_json,
    redacted,
    result_json,
    rollup_json,
    round_ms,
)
from tether.monitor._state import State
from tether.monitor._uptime import WINDOWS, format_uptime, uptimes
from tether.monitor._view import ClusterView, LocationsView, locations_of
from tether.monitor.alerts import ChannelStatus
from tether.monitor.config import Monitor
from tether.monitor.store._base import StoreError, StoreHealth, bucket_start

if TYPE_CHECKING:
    from tether.monitor._detect import Observation
    from tether.monitor._runner import Runner
    from tether.monitor.store import Cluster, ProbeRecord, Rollup, Store

SECURITY_HEADERS: Final = {
    # No inline script or style and nothing from another origin: the page's own script
    # and style sheet are files under /static.
    "Content-Security-Policy": (
        "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

SPARKLINE_WINDOW: Final = 3600.0
"""The sparklines and the last failure look this far back (seconds)."""
FAILURE_LOOKBACK: Final = 200
"""At most this many results, from the minute of the last failure on, are read to find it."""
RESULTS_SHOWN: Final = 50
HOURS_SHOWN: Final = 24
INCIDENTS_SHOWN: Final = 50

STATE_ORDER: Final = (
    State.DOWN,
    State.FLAPPING,
    State.DEGRADED,
    State.UP,
    State.PAUSED,
    State.UNKNOWN,
)
"""The summary line's order: what needs a look first."""

_ASSETS: Final = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}

NO_CONDITIONS: Final = "none: a failed probe or a 4xx or 5xx status fails the check"
SPARK_WIDTH: Final = 120
SPARK_HEIGHT: Final = 24


# -- small pure helpers ---------------------------------------------------------------------


def monitor_path(name: str) -> str:
    """The page of monitor ``name``; any character of a name survives the trip."""
    return "/monitors/" + quote(name, safe="")


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
    channels: tuple[ChannelStatus, ...]
    store: Store
    store_health: StoreHealth
    locations: dict[str, LocationsView]
    """What each location sees of each monitor of more than one."""
    cluster: ClusterView
    """This instance; the instances are read from ``instances`` off the loop."""
    instances: Cluster

    @classmethod
    def of(cls, runner: Runner, shown: Iterable[str] | None = None) -> Snapshot:
        """``shown``: the monitors whose locations the page shows (every one by default;
        what each location sees is copied for these alone, as it costs the loop more than
        a state does)."""
        return cls(
            runner.wall(),
            runner.config.monitors,
            runner.quorum.states(),
            dict(runner.latest),
            dict(runner.since),
            tuple(runner.outbox.status()),
            runner.store,
            runner.store.health(),
            locations_of(runner, shown),
            ClusterView.of(runner),
            runner.cluster,
        )

    def state(self, name: str) -> State:
        return self.states.get(name, State.UNKNOWN)

    def since_of(self, name: str, incidents: Sequence[Incident]) -> float | None:
        """When ``name`` entered its state.  After a restart the runner has not seen it
        change yet: a down monitor has been down at least since its open incident opened."""
        since = self.since.get(name)
        if since is None and self.state(name) is State.DOWN:
            opened = [i.opened for i in incidents if i.is_open and name in i.monitors]
            since = min(opened, default=None)
        return since

    def head(self, m: Monitor, incidents: Sequence[Incident]) -> dict[str, Any]:
        """What the dashboard's row and the monitor's page share: who, what state, since
        when, and the last check."""
        now = self.now
        since = self.since_of(m.name, incidents)
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
    """Each monitor's minute roll-ups of the last hour and its last failure in it, read
    from the store a little at a time.

    A minute that is over does not change, so after the first read only the last two
    minutes are read again (two, because a result is committed a moment after its check,
    in the writer's next batch): one small query per monitor per refresh instead of an
    hour of rows.  The last failure is looked up only when the roll-ups show a new one,
    from the minute it happened.  Thread-safe: refreshes run on worker threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._minutes: dict[str, list[Rollup]] = {}
        self._failures: dict[str, tuple[tuple[float, int], ProbeRecord | None]] = {}

    def read(
        self, store: Store, names: Sequence[str], now: float
    ) -> tuple[dict[str, list[Rollup]], dict[str, ProbeRecord | None]]:
        """The minute roll-ups (oldest first) and the last failure of each of ``names``."""
        with self._lock:
            for gone in self._minutes.keys() - set(names):
                del self._minutes[gone]
                self._failures.pop(gone, None)
            minutes: dict[str, list[Rollup]] = {}
            failures: dict[str, ProbeRecord | None] = {}
            for name in names:
                minutes[name] = self._update(store, name, now)
                failures[name] = self._last_failure(store, name, minutes[name])
            return minutes, failures

    def _update(self, store: Store, name: str, now: float) -> list[Rollup]:
        window = now - SPARKLINE_WINDOW
        cached = self._minutes.get(name)
        if cached is None or (cached and cached[-1].start > now):  # first read, or time went back
            fresh = store.rollups(name, "minute", since=window)
        else:
            settled = bucket_start(now, 60) - 60  # this minute and the last may still grow
            kept = [r for r in cached if window <= r.start < settled]
            fresh = kept + store.rollups(name, "minute", since=max(settled, window))
        self._minutes[name] = fresh
        return fresh

    def _last_failure(self, store: Store, name: str, minutes: list[Rollup]) -> ProbeRecord | None:
        failing = next((r for r in reversed(minutes) if r.ok_count < r.count), None)
        if failing is None:
            self._failures.pop(name, None)
            return None
        key = (failing.start, failing.count - failing.ok_count)
        known = self._failures.get(name)
        if known is not None and known[0] == key:
            return known[1]
        recent = store.results(name, since=failing.start, limit=FAILURE_LOOKBACK)
        failure = next((r for r in recent if not r.ok), None)
        self._failures[name] = (key, failure)
        return failure


def build_status(snap: Snapshot, recent: Recent) -> dict[str, Any]:
    """The document behind ``/api/status`` and the dashboard (see :func:`status_document`)."""
    now = snap.now
    names = [m.name for m in snap.monitors]
    sparks, failures = recent.read(snap.store, names, now)
    incidents = snap.store.incidents(open_only=True, limit=1000)
    rows = []
    for m in snap.monitors:
        row = snap.head(m, incidents)
        row["uptime"] = uptimes(snap.store, m.name, now)
        failure = failures.get(m.name)
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
            for r in sparks.get(m.name, [])
        ]
        rows.append(row)
    counts = {str(s): 0 for s in STATE_ORDER}
    for name in names:
        counts[str(snap.state(name))] += 1
    return {
        "now": iso(now),
        "monitors": {name: str(snap.state(name)) for name in sorted(names)},
        "summary": counts,
        "rows": rows,
        "open_incidents": [incident_json(i, now) for i in incidents],
        "channels": [channel_json(c) for c in snap.channels],
        "store": store_json(snap.store_health),
        "cluster": cluster_json(snap.cluster.read(snap.instances, now)),
    }


def build_monitor(snap: Snapshot, name: str) -> dict[str, Any] | None:
    """The document behind a monitor's page (see :func:`monitor_document`)."""
    m = next((m for m in snap.monitors if m.name == name), None)
    if m is None:
        return None
    now = snap.now
    results = snap.store.results(name, limit=RESULTS_SHOWN)
    hourly = snap.store.rollups(name, "hour", since=now - HOURS_SHOWN * 3600)
    incidents = snap.store.incidents(limit=1000)
    mine = [i for i in incidents if name in i.monitors][:INCIDENTS_SHOWN]
    return {
        "now": iso(now),
        **snap.head(m, incidents),
        "uptime": uptimes(snap.store, name, now),
        "interval": format_duration(m.interval),
        "timeout": format_duration(m.timeout),
        "conditions": list(m.conditions),
        "results": [result_json(r) for r in results],
        "hourly": [rollup_json(r) for r in reversed(hourly)],
        "incidents": [incident_json(i, now) for i in mine],
    }


def build_incidents(snap: Snapshot, *, open_only: bool, limit: int) -> dict[str, Any]:
    """The document behind the incidents page (see :func:`incidents_document`)."""
    rows = snap.store.incidents(open_only=open_only, limit=limit)
    return {"now": iso(snap.now), "incidents": [incident_json(i, snap.now) for i in rows]}


async def status_document(runner: Runner, recent: Recent | None = None) -> dict[str, Any]:
    """``/api/status``: the summary, one row per monitor, the open incidents and the alert
    channels' queues.

    ``monitors`` (name to state) and ``open_incidents`` (each with ``id``, ``key`` and
    ``monitors``) are what the first version of this endpoint returned, kept as they were.
    ``recent`` keeps what was read from the store for the next call.
    """
    return await asyncio.to_thread(build_status, Snapshot.of(runner), recent or Recent())


async def monitor_document(runner: Runner, name: str) -> dict[str, Any] | None:
    """``/api/monitors/{name}``: its settings, recent results, hourly roll-ups and
    incidents; ``None`` when no monitor has that name."""
    return await asyncio.to_thread(build_monitor, Snapshot.of(runner, [name]), name)


async def incidents_document(
    runner: Runner, *, open_only: bool = False, limit: int = INCIDENTS_SHOWN
) -> dict[str, Any]:
    """``/api/incidents``: incidents newest first, with cause, fix and timeline."""
    snap = Snapshot.of(runner, ())
    return await asyncio.to_thread(build_incidents, snap, open_only=open_only, limit=limit)


# -- HTML: the one renderer -----------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


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

    def _updated(self) -> str:
        return f'<span id="updated" class="updated" data-live>as of {_when(self.now)}</span>'

    def _main(self) -> str:
        return f'<main id="live" data-live>\n{self.main}\n</main>'

    def fragment(self) -> str:
        """The live parts alone, each an element whose ``id`` names the part it replaces."""
        return f"{self._updated()}\n{self._main()}\n"

    def document(self, refresh_ms: int) -> str:
        """The whole page; the script refreshes it every ``refresh_ms``."""
        live = "" if self.path is None else f' data-fragment="{_e(self.path)}?fragment=1"'
        return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(self.title)} · tether</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/dashboard.css">
<script src="/static/dashboard.js" defer></script>
</head>
<body{live} data-refresh-ms="{refresh_ms}">
<header class="top">
<a class="brand" href="/">tether</a>
<nav><a href="/">Monitors</a> <a href="/incidents">Incidents</a></nav>
{self._updated()}
</header>
{self._main()}
</body>
</html>
"""


def _summary(doc: Mapping[str, Any]) -> str:
    counts: Mapping[str, int] = doc["summary"]
    total = sum(counts.values())
    parts = [
        f'<span class="count state-{_e(state)}">{n} {_e(state)}</span>'
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


def _incident(i: Mapping[str, Any], *, timeline: bool) -> str:
    monitors = ", ".join(_link(name) for name in i["monitors"]) or "—"
    status = (
        f"open for {_e(human_duration(i['duration_s']))}"
        if i["open"]
        else f"resolved {_when(i['resolved'])} after {_e(human_duration(i['duration_s']))}"
    )
    events = ""
    if timeline:
        items = "".join(
            f"<li>{_when(e['at'])} <strong>{_e(e['event'])}</strong> {_e(e['detail'])}</li>"
            for e in i["timeline"]
        )
        events = f'<ol class="timeline">{items}</ol>'
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
        f'<p class="hint"><strong>Fix:</strong> {_e(i["hint"])}</p>'
        f'<p class="when">opened {_when(i["opened"])}, {status}</p>{events}</article>'
    )


def _incidents(incidents: Sequence[Mapping[str, Any]], empty: str, *, timeline: bool) -> str:
    if not incidents:
        return f'<p class="none">{_e(empty)}</p>'
    return "".join(_incident(i, timeline=timeline) for i in incidents)


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
        f'<td class="spark-cell">{_sparkline(row["sparkline"], now)}</td>'
        f'<td class="failure">{failed}</td></tr>'
    )


def dashboard_page(doc: Mapping[str, Any], banner: str = "") -> Page:
    """The dashboard, from :func:`status_document`; ``banner`` from :func:`channel_banner`."""
    rows = "".join(_row(r, doc["now"]) for r in doc["rows"])
    main = f"""{banner}<h1>Monitors</h1>
<p id="summary" class="summary">{_summary(doc)}</p>
{_cluster(doc["cluster"])}<section>
<h2>Open incidents</h2>
<div id="incidents">{_incidents(doc["open_incidents"], "No open incidents.", timeline=False)}</div>
</section>
<section>
<h2>All monitors</h2>
<table id="monitors">
<thead><tr><th>Monitor</th><th>State</th><th>For</th><th>Latency</th>
<th title="share of time up">Uptime 24h · 30d</th><th>Last hour</th>
<th>Last failure</th></tr></thead>
<tbody>{rows}</tbody>
</table>
</section>"""
    return Page("Monitors", "/", doc["now"], main)


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
        f"<dt>Checked every</dt><dd>{_e(doc['interval'])} (timeout {_e(doc['timeout'])})</dd>"
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


def monitor_page(doc: Mapping[str, Any], banner: str = "") -> Page:
    """One monitor's page, from :func:`monitor_document`."""
    places = ""
    if "locations" in doc:
        places = f'<section id="places">\n<h2>Locations</h2>\n{_locations(doc)}\n</section>\n'
    main = f"""{banner}<p class="crumbs"><a href="/">Monitors</a> /</p>
<h1 id="monitor-name">{_e(doc["name"])}</h1>
<div id="facts">{_monitor_facts(doc)}</div>
{places}<section>
<h2>Incidents</h2>
<div id="incidents">{_incidents(doc["incidents"], "No incidents.", timeline=True)}</div>
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
    return Page(doc["name"], monitor_path(doc["name"]), doc["now"], main)


def incidents_page(doc: Mapping[str, Any], banner: str = "") -> Page:
    """The incidents page, from :func:`incidents_document`."""
    main = f"""{banner}<h1>Incidents</h1>
<div id="incidents">{_incidents(doc["incidents"], "No incidents yet.", timeline=True)}</div>"""
    return Page("Incidents", "/incidents", doc["now"], main)


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


# -- routes ---------------------------------------------------------------------------------


def asset(name: str) -> bytes:
    """A file of ``static/``, read from the installed package (wheel, zip or source tree)."""
    return (importlib.resources.files("tether.monitor") / "static" / name).read_bytes()


def _dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def _json(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="application/json", charset="utf-8")


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", str(INCIDENTS_SHOWN))
    return int(request_number(raw, "limit", least=1, most=1000, whole=True))


def add_dashboard(app: web.Application, runner: Runner, *, refresh: float = 5.0) -> None:
    """Serve the dashboard's pages, their fragments, the JSON APIs and the static files on
    ``app``, and add the security headers to every response.  ``refresh`` is how often,
    in seconds, an open page asks for its fragment."""
    refresh_ms = max(100, round(refresh * 1000))
    assets = {name: (asset(name), kind) for name, kind in _ASSETS.items()}

    async def secure(request: web.Request, response: web.StreamResponse) -> None:
        response.headers.update(SECURITY_HEADERS)

    recent = Recent()

    # Each page is built, rendered and serialised on a worker thread from a snapshot
    # taken here, on the loop: the loop only copies a few dicts.
    async def send(
        request: web.Request,
        render: Callable[[Snapshot, str], Page],
        shown: Iterable[str] | None = None,
    ) -> web.Response:
        snap = Snapshot.of(runner, shown)
        fragment = request.query.get("fragment") == "1"

        def build() -> tuple[str, int]:
            banner = store_banner(snap.store_health) + channel_banner(snap.channels, snap.now)
            try:
                page = render(snap, banner)
            except StoreError as exc:
                page = unavailable_page(exc, snap.now, banner)
            return (page.fragment() if fragment else page.document(refresh_ms)), page.status

        text, status = await asyncio.to_thread(build)
        return web.Response(
            text=text,
            status=status,
            headers={"Cache-Control": "no-store"} if fragment else None,
            content_type="text/html",
            charset="utf-8",
        )

    async def dashboard(request: web.Request) -> web.Response:
        return await send(
            request, lambda snap, banner: dashboard_page(build_status(snap, recent), banner)
        )

    async def monitor(request: web.Request) -> web.Response:
        name = request.match_info["name"]

        def render(snap: Snapshot, banner: str) -> Page:
            doc = build_monitor(snap, name)
            return (
                not_found_page(name, snap.now, banner) if doc is None else monitor_page(doc, banner)
            )

        return await send(request, render, [name])

    async def incidents(request: web.Request) -> web.Response:
        return await send(
            request,
            lambda snap, banner: incidents_page(
                build_incidents(snap, open_only=False, limit=INCIDENTS_SHOWN), banner
            ),
            (),
        )

    async def document(
        snap: Snapshot, build: Callable[[], dict[str, Any] | None], name: str = ""
    ) -> web.Response:
        """A JSON document built on a worker thread; 503 when the history cannot be read,
        saying why and how the store's writing goes."""
        try:
            doc = await asyncio.to_thread(build)
        except StoreError as exc:
            error = f"the history cannot be read now: {redact_text(str(exc))}"
            body = {"error": error, "store": store_json(snap.store_health)}
            return _json(_dumps(body), status=503)
        if doc is None:
            return _json(_dumps({"error": f"no monitor is called {name!r}"}), status=404)
        return _json(await asyncio.to_thread(_dumps, doc))

    async def status(request: web.Request) -> web.Response:
        snap = Snapshot.of(runner)
        return await document(snap, lambda: build_status(snap, recent))

    async def monitor_api(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        snap = Snapshot.of(runner, [name])
        return await document(snap, lambda: build_monitor(snap, name), name)

    async def incidents_api(request: web.Request) -> web.Response:
        open_only = request.query.get("open", "0") not in ("0", "false", "")
        limit = _limit(request)
        snap = Snapshot.of(runner, ())
        return await document(snap, lambda: build_incidents(snap, open_only=open_only, limit=limit))

    async def static(request: web.Request) -> web.Response:
        found = assets.get(request.match_info["file"])
        if found is None:
            raise web.HTTPNotFound()
        body, kind = found
        return web.Response(body=body, headers={"Content-Type": kind, "Cache-Control": "no-cache"})

    app.on_response_prepare.append(secure)
    routes: Iterable[tuple[str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = (
        ("/", dashboard),
        ("/api/status", status),
        ("/monitors/{name:.+}", monitor),
        ("/incidents", incidents),
        ("/api/monitors/{name:.+}", monitor_api),
        ("/api/incidents", incidents_api),
        ("/static/{file}", static),
    )
    for path, handler in routes:
        app.router.add_get(path, handler)
