"""The dashboard's handlers (its paths are listed in ``_dashboard.py``'s docstring and
routed by ``_web.routes``): :func:`dashboard_handlers`, which build each page and JSON
document of ``_dashboard.py`` from a snapshot taken on the loop, on a worker thread, and
:func:`security_headers`, which the app adds to every response."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from aiohttp import web
from markupsafe import Markup

from tether._redact import redact_text
from tether.monitor.metrics._agent_metrics import agent_banner
from tether.monitor.reports._uptime import UptimeTable
from tether.monitor.store._base import StoreError
from tether.monitor.web._access import PRINCIPAL, READ, authorize, refusal
from tether.monitor.web._flight import Flights
from tether.monitor.web._html import Page
from tether.monitor.web._params import path_id, request_number
from tether.monitor.web.api._actions import forms_for
from tether.monitor.web.documents._board import StateBoard
from tether.monitor.web.documents._dashboard import (
    _ASSETS,
    INCIDENTS_SHOWN,
    SECURITY_HEADERS,
    _dumps,
    asset,
    build_incident,
    build_incidents,
    build_monitor,
)
from tether.monitor.web.documents._documents import store_json
from tether.monitor.web.documents._overview import QUERY_MAX, BadMatch, View, order_of
from tether.monitor.web.documents._recent import Recent
from tether.monitor.web.documents._series import RANGE_SHOWN, RANGES, build_series
from tether.monitor.web.documents._snapshot import Snapshot
from tether.monitor.web.documents._status import build_status, status_json
from tether.monitor.web.pages._pages import (
    channel_banner,
    dashboard_page,
    incidents_page,
    monitor_page,
    not_found_page,
    store_banner,
    unavailable_page,
)
from tether.monitor.web.scrape._discovery import discovery_banner

if TYPE_CHECKING:
    from tether.monitor.web._running import Running

__all__ = ["DashboardHandlers", "dashboard_handlers", "security_headers"]

D = TypeVar("D", bound=Mapping[str, object])
"""A JSON document (``_documents.py``): written by :func:`_dumps` or its own encoder."""


def _json(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="application/json", charset="utf-8")


def _open_only(request: web.Request) -> bool:
    """``?open=1`` (or ``true``): the open incidents alone; ``0``, ``false`` or none: all;
    anything else a JSON 400 (the API's document gives these four)."""
    given = request.query.get("open", "0")
    if given not in ("0", "1", "true", "false"):
        raise refusal(400, f"open: give 1, 0, true or false, not {json.dumps(given[:40])}")
    return given in ("1", "true")


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", str(INCIDENTS_SHOWN))
    return int(request_number(raw, "limit", least=1, most=1000, whole=True))


@dataclass(eq=False)
class DashboardHandlers:
    """The dashboard's request handlers (:func:`dashboard_handlers`) and what they keep between
    requests: the sparklines' roll-ups, the uptimes, the builds in flight, the states."""

    runner: Running
    refresh_ms: int
    assets: Mapping[str, tuple[bytes, str]]
    recent: Recent = field(default_factory=Recent)
    table: UptimeTable = field(default_factory=UptimeTable)
    # The overview and /api/status, asked for by every open page and poller at once in
    # an outage: requests for the same document while one is built share that build.
    flights: Flights[tuple[str, int]] = field(default_factory=Flights)
    board: StateBoard = field(default_factory=StateBoard)

    def prime(self) -> None:
        """Build what the overview and ``/api/status`` keep between requests (the
        configuration's order, every monitor's state on the :class:`StateBoard`) now,
        before the workers and the first interval load the process: the first requests
        then take only the changes since.  Built by them instead, at 120,000 monitors on a
        cold start, the first ``GET /`` and ``/api/status`` took 4-5 s, their builds
        starved of the interpreter lock by the first interval's results."""
        runner = self.runner
        order = order_of(runner.config.monitors)
        quorum = runner.quorum
        journal = quorum.journal
        self.board.read(order.sorted, quorum.states(), runner.since.keys(), journal, journal.end)

    # Each page is built, rendered and serialised on a worker thread from a snapshot
    # taken here, on the loop: the loop only copies a few dicts.
    async def send(
        self,
        request: web.Request,
        render: Callable[[Snapshot, Markup], Page],
        shown: Iterable[str] | None = None,
        key: Hashable | None = None,
    ) -> web.Response:
        """``key``: what makes this page differ from another request's of the same
        route (given: an identical request's build in flight is shared)."""
        fragment = request.query.get("fragment") == "1"
        who = request.get(PRINCIPAL)

        async def built() -> tuple[str, int]:
            snap = Snapshot.of(self.runner, shown)
            sources = self.runner.discovery.status()
            agents = self.runner.agents.view()

            def build() -> tuple[str, int]:
                banner = store_banner(snap.store_health) + channel_banner(snap.channels, snap.now)
                banner += discovery_banner(sources, snap.now) + agent_banner(agents)
                try:
                    page = render(snap, banner)
                except StoreError as exc:
                    page = unavailable_page(exc, snap.now, banner)
                html = page.fragment() if fragment else page.document(self.refresh_ms, who)
                return html, page.status

            return await asyncio.to_thread(build)

        if key is None:
            text, status = await built()
        else:
            text, status = await self.flights.run((key, fragment, who), built)
        return web.Response(
            text=text,
            status=status,
            headers={"Cache-Control": "no-store"} if fragment else None,
            content_type="text/html",
            charset="utf-8",
        )

    async def dashboard(self, request: web.Request) -> web.Response:
        bad: tuple[str, str] | None = None
        try:
            view = View.parse(request.query)
        except BadMatch as exc:  # said on the page, beside the form that sent it
            bad = (request.query.get("match", "")[: QUERY_MAX * 2], exc.why)
            view = View.parse({k: v for k, v in request.query.items() if k != "match"})
        return await self.send(
            request,
            lambda snap, banner: dashboard_page(
                build_status(snap, self.recent, view, self.table, self.board), banner, bad
            ),
            key=("/", view, bad),
        )

    async def monitor(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        forms = forms_for(request)

        def render(snap: Snapshot, banner: Markup) -> Page:
            doc = build_monitor(snap, name)
            if doc is None:
                return not_found_page(name, snap.now, banner)
            return monitor_page(doc, banner, forms)

        return await self.send(request, render, [name])

    async def screenshot(self, request: web.Request) -> web.Response:
        """A browser monitor's last failure's screenshot (the page's rules: its path is
        under /monitors/); 404 when it has none."""
        name = request.match_info["name"]
        known = any(m.name == name and m.browser is not None for m in self.runner.config.monitors)
        shot = await asyncio.to_thread(self.runner.store.screenshot_of, name) if known else None
        if shot is None:
            raise refusal(404, f"no screenshot of {name!r}: it has no failed browser check")
        return web.Response(
            body=shot[1], content_type="image/png", headers={"Cache-Control": "no-store"}
        )

    async def incidents(self, request: web.Request) -> web.Response:
        forms = forms_for(request)
        open_only = _open_only(request)
        limit = _limit(request)
        return await self.send(
            request,
            lambda snap, banner: incidents_page(
                build_incidents(snap, open_only=open_only, limit=limit),
                banner,
                forms,
                open_only=open_only,
            ),
            (),
        )

    async def document_text(
        self,
        snap: Snapshot,
        build: Callable[[], D | None],
        name: str = "",
        missing: str | None = None,
        encode: Callable[[D], str] = _dumps,
    ) -> tuple[str, int]:
        """A JSON document built on a worker thread, and its status: 503 when the history
        cannot be read, saying why and how the store's writing goes; ``encode`` writes
        the document (:func:`_dumps`)."""
        try:
            doc = await asyncio.to_thread(build)
        except StoreError as exc:
            error = f"the history cannot be read now: {redact_text(str(exc))}"
            body = {"error": error, "store": store_json(snap.store_health)}
            return _dumps(body), 503
        if doc is None:
            error = missing or f"no monitor is called {name!r}"
            return _dumps({"error": error}), 404
        return await asyncio.to_thread(encode, doc), 200

    async def document(
        self,
        snap: Snapshot,
        build: Callable[[], Mapping[str, object] | None],
        name: str = "",
        missing: str | None = None,
    ) -> web.Response:
        return _json(*await self.document_text(snap, build, name, missing))

    async def status(self, request: web.Request) -> web.Response:
        try:
            view = View.parse(request.query)
        except BadMatch as exc:
            return _json(_dumps({"error": exc.why}), 400)

        async def built() -> tuple[str, int]:
            snap = Snapshot.of(self.runner)
            return await self.document_text(
                snap,
                lambda: build_status(snap, self.recent, view, self.table, self.board),
                encode=status_json,
            )

        return _json(*await self.flights.run(("/api/status", view), built))

    async def monitor_api(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        snap = Snapshot.of(self.runner, [name])
        return await self.document(snap, lambda: build_monitor(snap, name), name)

    async def series_api(self, request: web.Request) -> web.Response:
        authorize(request, READ)
        name = request.match_info["name"]
        span = request.query.get("range", RANGE_SHOWN)
        if span not in RANGES:
            raise refusal(400, f"range: give one of {', '.join(RANGES)}, not {span[:40]!r}")
        snap = Snapshot.of(self.runner, ())
        return await self.document(snap, lambda: build_series(snap, name, span), name)

    async def incidents_api(self, request: web.Request) -> web.Response:
        open_only = _open_only(request)
        limit = _limit(request)
        snap = Snapshot.of(self.runner, ())
        return await self.document(
            snap, lambda: build_incidents(snap, open_only=open_only, limit=limit)
        )

    async def incident_api(self, request: web.Request) -> web.Response:
        number = path_id(request, "an incident's")
        snap = Snapshot.of(self.runner, ())
        missing = f"no incident #{number}"
        return await self.document(snap, lambda: build_incident(snap, number), missing=missing)

    async def static(self, request: web.Request) -> web.Response:
        found = self.assets.get(request.match_info["file"])
        if found is None:
            raise web.HTTPNotFound()
        body, kind = found
        return web.Response(body=body, headers={"Content-Type": kind, "Cache-Control": "no-cache"})


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Add :data:`~._dashboard.SECURITY_HEADERS` to ``response`` (an ``on_response_prepare``
    signal of the app: every response has them)."""
    response.headers.update(SECURITY_HEADERS)


def dashboard_handlers(runner: Running, *, refresh: float = 5.0) -> DashboardHandlers:
    """The handlers of the dashboard's pages, their fragments, the JSON APIs and the static
    files.  ``refresh`` is how often, in seconds, an open page asks for its fragment."""
    refresh_ms = max(100, round(refresh * 1000))
    assets = {name: (asset(name), kind) for name, kind in _ASSETS.items()}
    handlers = DashboardHandlers(runner, refresh_ms, assets)
    handlers.prime()
    return handlers
