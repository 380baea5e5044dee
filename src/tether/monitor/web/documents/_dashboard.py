"""The monitor's web dashboard: every monitor's state and why, the open incidents with
their cause and fix, and one page per monitor with its results and roll-ups, on these
routes (their handlers: ``_dashboard_routes.py``):

    GET /                      the dashboard: one page of the monitors, sorted and filtered
                               (``?state=&q=&sort=&order=&page=&per_page=``, _overview.py)
    GET /monitors/{name}       one monitor: recent results, hourly roll-ups, incidents
    GET /incidents             recent incidents with their timelines
    GET /objectives            the objectives' SLI and budget left (``_objective_pages.py``)
    GET /objectives/{name}     an objective's burn-down chart, its incidents marked
    GET {page}?fragment=1      the page's live parts alone, for the script to swap in
    GET /api/status            JSON behind the dashboard, the same parameters (``monitors``
                               and ``open_incidents`` kept as they were for older readers)
    GET /api/monitors/{name}   JSON behind a monitor's page
    GET /api/series/{name}     a monitor's chart points (``?range=1h|24h|7d|30d``)
    GET /api/incidents         JSON behind the incidents page (``?open=1``, ``?limit=N``)
    GET /api/incidents/{id}    one incident whole: every monitor, every timeline entry
    GET /static/{file}         the scripts, the style sheets, the icon, uPlot and its licence

Each page is a JSON document first (``_status.status_document``, :func:`monitor_document`,
:func:`incidents_document`, typed in ``_documents.py``), served as it is by the APIs.
The HTML is rendered from that same document by ``_pages.py`` and the templates of
``templates/`` and nowhere else: a page's live parts (the "as of" corner and ``<main>``,
marked ``data-live``) are rendered by the same templates for the whole page and for its
``?fragment=1``, and
``static/dashboard.js`` only fetches the fragment every few seconds and swaps it in.
The page works without JavaScript.  A monitor's page adds one chart, drawn in the
browser by uPlot (``static/uplot.min.js``, 1.6.32, MIT) through ``static/charts.js``
from the points ``_series.build_series`` computes: the numbers come from the server, the
script builds no markup from them, and it keeps the chart across swaps.

Why it is safe to show: a monitor's name, a server's error text and a condition's
resolved value are data, which may hold ``<script>``.  The server escapes every value
once, where a template writes it (Jinja2's autoescape, ``_html.py``); the script builds
no markup, and a script element in what it parses never runs; the
Content-Security-Policy allows no inline script, so a value that slipped through would
still not run.  URLs are shown through :func:`~tether._redact.redact_url` and free text
through :func:`~tether._redact.redact_text`, in the pages and in the APIs alike.  Every
route is a GET: the buttons of a monitor's page and of the incidents (for whoever may
write) are forms posting to the write API (``_actions.py``), which answers a form with a
303 back to the page.

The runner's memory gives the states of every monitor (for the counts and the filters),
what each location sees of a monitor of several (its quorum's, copied only for the
monitors a page shows: it costs the loop more than a state) and the alert channels'
deliveries (``_snapshot.py``); the store gives what each row shows, as it gives it to
``tether status`` (the newest result from whichever location took it, since when a
monitor is in its state, its certificate: :class:`~tether.monitor.web.documents._snapshot.Facts`),
the instances and the agents, and the rest through small queries for the rows a page
shows (:class:`Recent`: the minute roll-ups of the last hour for the sparklines, read
again only for the last two minutes, and the last failure; their uptimes), run on a
worker thread so that a page never holds up the event loop that runs the probes.  The
status document is built in ``_status.py``.  The overview sorts and filters every monitor
by what is in memory and by :class:`~tether.monitor.reports._uptime.UptimeTable` (every
monitor's uptime, one query a minute), so a refresh at 10,000 monitors reads the store
for a hundred rows, not for 10,000.  The default view (the configuration's order,
filtered by state at most) is cut from the names alone (``arrange_in_order``), the
sorted names are kept per configuration (``order_of``), and ``/api/status``' map of
every monitor's state, the summary's counts and whether a monitor is down that was not
seen going down are kept between requests and brought up to date from the quorum's
journal of changes (:class:`~tether.monitor.web.documents._board.StateBoard`): a refresh at
120,000 monitors does no work per monitor but one join of the kept map when a state
changed.  Identical requests that overlap share one build
(:class:`~tether.monitor.web._flight.Flights`); nothing is kept after it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import importlib.resources
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final
from urllib.parse import quote

from tether._durations import format_duration
from tether.monitor._records import Incident, stints
from tether.monitor.reports._documents import (
    IncidentDoc,
    incident_json,
    iso,
    members_json,
    result_json,
    rollup_json,
)
from tether.monitor.reports._uptime import uptimes
from tether.monitor.store._base import Listed
from tether.monitor.web._routing import series_path
from tether.monitor.web.documents._documents import (
    IncidentBrief,
    IncidentsDoc,
    MonitorDoc,
    ScreenshotPart,
    TrafficPart,
)
from tether.monitor.web.documents._overview import order_of
from tether.monitor.web.documents._snapshot import Facts, Snapshot

if TYPE_CHECKING:
    from tether.monitor.config import Monitor
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
    # What the dashboard and the status pages share (status.css is served by _statuspage.py).
    "base.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
    # uPlot 1.6.32 (MIT, Leon Sorokin), dist/uPlot.iife.min.js and dist/uPlot.min.css of
    # its npm package as published, with its LICENSE; it draws the monitor page's chart.
    "uplot.min.js": "text/javascript; charset=utf-8",
    "uplot.min.css": "text/css; charset=utf-8",
    "uplot.LICENSE": "text/plain; charset=utf-8",
    "charts.js": "text/javascript; charset=utf-8",
}

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


# -- JSON documents -------------------------------------------------------------------------


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


def incident_brief(incident: Incident, now: float) -> IncidentBrief:
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
    return brief(incident_json(shown, now), len(monitors), len(timeline))


def brief(doc: IncidentDoc, monitors_count: int, timeline_count: int) -> IncidentBrief:
    """``doc`` with how many monitors and timeline entries its incident has (an
    :class:`IncidentBrief`: a new dict, its keys in the same order)."""
    return {**doc, "monitors_count": monitors_count, "timeline_count": timeline_count}


SHOWN: Final = (MEMBERS_SHOWN, TIMELINE_SHOWN)
"""What a list read of the store (:meth:`~tether.monitor.store.Store.incident_list`)
keeps of each incident: what :func:`incident_brief` would show of it whole."""


def listed_brief(listed: Listed, now: float) -> IncidentBrief:
    """An incident read for a list (with :data:`SHOWN`) as :func:`incident_brief` shows
    it whole: the same document, its monitors and timeline read no further than shown."""
    return brief(incident_json(listed.incident, now), listed.monitors_count, listed.timeline_count)


def build_monitor(snap: Snapshot, name: str) -> MonitorDoc | None:
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
        brief = listed_brief(i, now)
        if i.incident.id in moves:
            brief["members"] = members_json(moves[i.incident.id], now)
        incidents.append(brief)
    traffic: TrafficPart = {"traffic": snap.traffic[name]} if name in snap.traffic else {}
    shot = snap.store.screenshot_of(name) if m.browser is not None else None
    shown: ScreenshotPart = {}
    if shot is not None:
        path = "/monitors/" + quote(name, safe="") + "/screenshot.png"
        shown = {"screenshot": {"taken": iso(shot[0]), "path": path}}
    return {
        "now": iso(now),
        **snap.head(m, {name: min(opened)} if opened else {}, Facts.read(snap.store, [name])),
        "uptime": uptimes(snap.store, name, now),
        "interval": format_duration(m.interval),
        "timeout": format_duration(m.timeout),
        "checked": checked_text(m),
        "conditions": list(m.conditions),
        "series": series_path(name),
        "results": [result_json(r) for r in results],
        "hourly": [rollup_json(r) for r in reversed(hourly)],
        "incidents": incidents,
        **traffic,
        **shown,
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


def build_incidents(snap: Snapshot, *, open_only: bool, limit: int) -> IncidentsDoc:
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


def build_incident(snap: Snapshot, incident_id: int) -> IncidentBrief | None:
    """The document behind ``/api/incidents/{id}``: the incident whole (every monitor and
    timeline entry); ``None`` when there is no incident by that id."""
    incident = snap.store.incident(incident_id)
    if incident is None:
        return None
    moves = snap.store.membership([incident_id]).get(incident_id, ())
    return brief(
        incident_json(incident, snap.now, moves), len(incident.monitors), len(incident.timeline)
    )


async def monitor_document(runner: Running, name: str) -> MonitorDoc | None:
    """``/api/monitors/{name}``: its settings, recent results, hourly roll-ups and
    incidents; ``None`` when no monitor has that name."""
    return await asyncio.to_thread(build_monitor, Snapshot.of(runner, [name]), name)


async def incidents_document(
    runner: Running, *, open_only: bool = False, limit: int = INCIDENTS_SHOWN
) -> IncidentsDoc:
    """``/api/incidents``: incidents newest first, with cause, fix and timeline."""
    snap = Snapshot.of(runner, ())
    return await asyncio.to_thread(build_incidents, snap, open_only=open_only, limit=limit)


# -- what the routes serve (``_dashboard_routes.py`` registers them) ------------------------


def asset(name: str) -> bytes:
    """A file of ``static/``, read from the installed package (wheel, zip or source tree)."""
    return (importlib.resources.files("tether.monitor.web") / "static" / name).read_bytes()


def _dumps(doc: object) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
