"""The monitor's HTTP server: ``/metrics`` for Prometheus and ``/probe`` as
blackbox_exporter has it (``scrape/``), the dashboard (``documents/``, its pages and
handlers in ``pages/``), the status pages (``status/``), the API (``api/``), login
(``auth/``); every route in one table, :func:`routes`, the one module of the web that
imports its rooms.  aiohttp, on the monitor's own event loop."""

from __future__ import annotations

import resource
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from aiohttp import web

from tether._redact import quote
from tether.monitor.checks._blackbox import BadTarget, run_module
from tether.monitor.config._blackbox import DEFAULT_MODULES, BlackboxModule, TcpModule
from tether.monitor.web._errors import json_errors
from tether.monitor.web._limits import ServerLimits, on_socket, start_guarded, unix
from tether.monitor.web._listen import listening_sockets
from tether.monitor.web._params import MAX_BODY, query_text, request_number
from tether.monitor.web._routing import Route
from tether.monitor.web.api._actions import action_handlers
from tether.monitor.web.api._agent_routes import AGENT_BODY_MAX, agent_handlers
from tether.monitor.web.api._incident_updates import update_handlers
from tether.monitor.web.api._objectives import ObjectiveHandlers
from tether.monitor.web.api._push import push_handler
from tether.monitor.web.api._reported import report_handler
from tether.monitor.web.api._silences import silence_handlers
from tether.monitor.web.auth._auth import ConfiguredAuthority, gate, install, login_handlers
from tether.monitor.web.auth._oidc import oidc_handlers
from tether.monitor.web.pages._dashboard_routes import dashboard_handlers, security_headers
from tether.monitor.web.pages._objective_pages import objective_handlers
from tether.monitor.web.scrape._probe_metrics import blackbox_probe
from tether.monitor.web.scrape._scrape import metrics_handler
from tether.monitor.web.status._statuspage import status_handlers
from tether.monitor.web.status._subscribe import subscribe_handlers
from tether.probe import LOOPBACK, AllowedTargets, IcmpNotPermitted, TargetRefused

if TYPE_CHECKING:
    from tether.monitor.config import MonitorConfig, Server
    from tether.monitor.web._running import Running

_TEXT = "text/plain; version=0.0.4"
_SCRAPE_TIMEOUT: Final = "X-Prometheus-Scrape-Timeout-Seconds"
PROBE_TIMEOUT: Final = 10.0
"""Seconds a /probe may take when the request does not say (Prometheus sends its
scrape_timeout in the header above)."""
PROBE_TIMEOUT_MAX: Final = 30.0
"""A longer scrape timeout is honoured up to this."""
REQUEST_BODY_MAX: Final = MAX_BODY
"""The largest request body the server reads (bytes; aiohttp's ``client_max_size``, the
JSON routes' own limit): a 413 past it.  A worker process forwards no more of a body than
this (and one byte)."""
FORWARD_BODY_MAX: Final = max(MAX_BODY, AGENT_BODY_MAX)
"""The most of a body a worker process forwards (and one byte): an agent's batch may be
larger than other requests; each route holds its own limit."""


def make_app(runner: Running, *, refresh: float = 5.0) -> web.Application:
    """The monitor's server, serving :func:`routes`; ``refresh`` is how often (seconds) the
    dashboard's pages ask for fresh data."""
    app = web.Application(
        middlewares=[json_errors, query_text, gate], client_max_size=REQUEST_BODY_MAX
    )
    authority = install(app, lambda: runner.config, runner.wall, runner.store)
    app.on_response_prepare.append(security_headers)
    for route in routes(runner, authority, refresh=refresh):
        route.add_to(app.router)

    async def release_polls(_: web.Application) -> None:
        # Before the server waits for its handlers: an agent's long poll would hold a
        # shutdown for up to a minute (aiohttp does not end a handler whose client left).
        runner.agents.release()

    app.on_shutdown.append(release_polls)
    return app


def routes(
    runner: Running, authority: ConfiguredAuthority, *, refresh: float = 5.0
) -> tuple[Route, ...]:
    """Every route the monitor serves, in the order aiohttp tries them: the first whose
    path matches a request answers it (a GET answers HEAD too).  Each feature module
    gives its handlers, made here once for the app; ``authority`` is the app's (``install``)
    and ``refresh`` the dashboard's."""
    login = login_handlers(authority, runner.wall)
    sso = oidc_handlers(authority, login, runner.wall)
    status = status_handlers(runner)
    board = dashboard_handlers(runner, refresh=refresh)
    objectives = objective_handlers(runner, board)
    act = action_handlers(runner)
    hush = silence_handlers(runner, act)
    push = push_handler(runner)
    goals = ObjectiveHandlers(runner)
    agents = agent_handlers(runner)
    subs = subscribe_handlers(runner)
    updates = update_handlers(runner, act)
    return (
        Route("GET", "/login", login.form),
        Route("POST", "/login", login.login),
        Route("GET", "/login/oidc", sso.begin),
        Route("GET", "/login/oidc/callback", sso.callback),
        Route("POST", "/logout", sso.logout),
        Route("GET", "/metrics", metrics_handler(runner)),
        Route("GET", "/probe", probe_handler(allowed_for(runner), lambda: runner.config.modules)),
        # Public: the status pages and badges; before the dashboard, whose /static/{file}
        # would otherwise answer for /static/status.css.
        Route("GET", "/static/status.css", status.stylesheet),
        Route("GET", "/status/{slug:[^/]+}.json", status.document),
        Route("GET", "/status/{slug:[^/]+}", status.page),
        Route("GET", "/badge/{monitor:.+}/{which:[a-z0-9-]+}.svg", status.badge),
        # Subscribing to a page (issue 48): public, limited (_subscribe.py).
        Route("GET", "/status/{slug:[^/]+}/subscribe", subs.form),
        Route("POST", "/status/{slug:[^/]+}/subscribe", subs.subscribe),
        Route("GET", "/status/{slug:[^/]+}/confirm", subs.confirm_page),
        Route("POST", "/status/{slug:[^/]+}/confirm", subs.confirm),
        Route("GET", "/status/{slug:[^/]+}/unsubscribe", subs.unsubscribe_page),
        Route("POST", "/status/{slug:[^/]+}/unsubscribe", subs.unsubscribe),
        Route("GET", "/status/{slug:[^/]+}/feed.atom", subs.feed),
        Route("GET", "/status/{rest:.*}", status.not_found),
        # The dashboard: its pages and their JSON.
        Route("GET", "/", board.dashboard),
        Route("GET", "/api/status", board.status),
        Route("GET", "/monitors/{name:.+}/screenshot.png", board.screenshot),
        Route("GET", "/monitors/{name:.+}", board.monitor),
        Route("GET", "/incidents", board.incidents),
        Route("GET", "/objectives", objectives.listing),
        Route("GET", "/objectives/{name:.+}", objectives.page),
        # Not the paths of the actions below (a GET of one is a 405 saying POST).
        Route(
            "GET", "/api/monitors/{name:.+(?<!/pause)(?<!/resume)(?<!/check)}", board.monitor_api
        ),
        Route("GET", "/api/series/{name:.+}", board.series_api),
        Route("GET", "/api/incidents", board.incidents_api),
        Route("GET", "/api/incidents/{id}", board.incident_api),
        Route("GET", "/api/objectives", goals.all),
        Route("GET", "/api/objectives/{name:.+}", goals.one),
        Route("GET", "/silences", hush.page),
        Route("GET", "/static/{file}", board.static),
        # The write API, the audit log and the API's description.
        Route("POST", "/api/monitors/{name:.+}/pause", act.pause),
        Route("POST", "/api/monitors/{name:.+}/resume", act.resume),
        Route("POST", "/api/monitors/{name:.+}/check", act.check),
        Route("POST", "/api/incidents/{id}/acknowledge", act.acknowledge_it),
        Route("POST", "/api/incidents/{id}/notes", act.note),
        Route("POST", "/api/incidents/{id}/updates", updates.post),
        Route("GET", "/api/incidents/{id}/updates", updates.listed),
        Route("POST", "/api/maintenance", act.open_window),
        Route("POST", "/api/maintenance/{id}/close", act.close_window),
        Route("GET", "/api/maintenance", act.windows),
        Route("POST", "/api/silences", hush.add),
        Route("POST", "/api/silences/{id}/expire", hush.expire),
        Route("GET", "/api/silences", hush.listed),
        Route("GET", "/api/alerts/suppressed", hush.suppressed),
        Route("GET", "/api/audit", act.audit),
        Route("GET", "/api/openapi.json", act.description),
        # Intake: push monitors' heartbeats (a GET that answers no HEAD) and traffic.
        Route("GET", "/api/push/{token}", push, head=False),
        Route("POST", "/api/push/{token}", push),
        Route("POST", "/api/report", report_handler(runner)),
        # The agents (tether agent): their assignments and batches, and the list of them.
        Route("GET", "/api/agent/assignment", agents.assignment),
        Route("POST", "/api/agent/results", agents.results),
        Route("GET", "/api/agents", agents.listed),
    )


def allowed_for(runner: Running) -> Callable[[], AllowedTargets]:
    """What ``/probe`` may reach now: :func:`allowed_targets` of ``runner``'s configuration,
    made again when a reload brings a new one, not on each request (by default it parses
    every monitor's URL)."""
    allowed: list[tuple[MonitorConfig, AllowedTargets]] = []

    def allowed_now() -> AllowedTargets:
        config = runner.config
        if not allowed or allowed[0][0] is not config:
            allowed[:] = [(config, allowed_targets(config))]
        return allowed[0][1]

    return allowed_now


def probe_handler(
    allowed: Callable[[], AllowedTargets],
    modules: Callable[[], Mapping[str, BlackboxModule]] = lambda: DEFAULT_MODULES,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``/probe`` as blackbox_exporter answers it, reaching only what ``allowed()`` allows
    (the monitor's process and every worker process serve the same handler), with the
    configuration's ``modules()`` and tether's own ``http``, ``tcp`` and ``tls``."""

    async def probe(request: web.Request) -> web.Response:
        target = request.query.get("target")
        if not target:
            return web.Response(status=400, text="probe: give ?target=URL\n")
        name = request.query.get("module", "http")
        configured = modules()
        module = configured.get(name) or _OWN_MODULES.get(name)
        if module is None:
            usable = {n for n, m in configured.items() if m.unavailable is None}
            valid = ", ".join(sorted({*usable, *_OWN_MODULES}))
            return web.Response(
                status=400, text=f"Unknown module {quote(name)}; valid modules: {valid}\n"
            )
        if module.unavailable is not None:
            return web.Response(
                status=400,
                text=f"probe: module {quote(name)} is not available in tether: "
                f"{module.unavailable}\n",
            )
        if name in ("tcp", "tls") and name not in configured:
            target = target.removeprefix(f"{name}://")  # tether's own took either form
        timeout = PROBE_TIMEOUT
        if (header := request.headers.get(_SCRAPE_TIMEOUT)) is not None:
            # A day at most: beyond it the value is a mistake, not a timeout to cap.
            seconds = request_number(header, _SCRAPE_TIMEOUT, least=0.001, most=86400)
            # blackbox_exporter's offset: half a second to send the answer back in.
            timeout = min(max(seconds - _OFFSET, seconds / 2), PROBE_TIMEOUT_MAX)
        try:
            answer = await run_module(module, target, timeout=timeout, allowed=allowed())
        except BadTarget as exc:
            return web.Response(status=400, text=f"probe: {exc}\n")
        except TargetRefused as refused:  # a name each: mypyc types one name once
            return web.Response(status=403, text=f"probe: refused: {refused}\n")
        except IcmpNotPermitted as icmp:  # this machine's setup: the scrape itself fails
            return web.Response(status=500, text=f"probe: {icmp}\n")
        return web.Response(body=blackbox_probe(answer), headers={"Content-Type": _TEXT})

    return probe


_OFFSET: Final = 0.5
_OWN_MODULES: Final[Mapping[str, BlackboxModule]] = {
    "http": BlackboxModule(prober="http"),
    "tcp": BlackboxModule(prober="tcp"),
    "tls": BlackboxModule(prober="tcp", tcp=TcpModule(tls=True)),
}
"""tether's names from before ``modules:``; a configured module of the same name wins."""


def allowed_targets(config: MonitorConfig) -> AllowedTargets:
    """What ``/probe`` may reach: ``probe.allowed_targets``, or by default the hosts of the
    configured monitors and loopback (so the endpoint cannot be turned on the rest of the
    network the monitor sits in)."""
    given = config.probe.allowed_targets
    if given is not None:
        return AllowedTargets.parse(given)
    hosts = []
    for m in config.monitors:
        if not m.probed:
            continue  # nothing to reach
        try:
            host = urlsplit(m.url).hostname
        except ValueError:
            continue
        if host:
            hosts.append(host)
    # Once each: thousands of monitors often share a handful of hosts.
    parsed = AllowedTargets.parse(list(dict.fromkeys(hosts)))
    return AllowedTargets(parsed.hosts, parsed.networks + LOOPBACK)


def limits_of(server: Server) -> ServerLimits:
    """``server:``'s deadlines and cap, the cap at most half this process's open-file
    limit (the rest is for probes, the store and the alerts)."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    cap = server.max_connections
    if soft != resource.RLIM_INFINITY:
        cap = max(1, min(cap, soft // 2))
    return ServerLimits(server.header_timeout, server.body_timeout, server.idle_timeout, cap)


async def serve(runner: Running, host: str, port: int) -> web.AppRunner:
    """Start the server on ``host``:``port``, which no other process may share
    (``_listen.py``: :class:`~._listen.PortInUse` names the one holding it), within
    ``server:``'s limits (``_limits.py``); the caller awaits ``.cleanup()`` on the result
    to stop it."""
    limits = limits_of(runner.config.server)
    listens = [on_socket(sock) for sock in listening_sockets(host, port)]
    return await start_guarded(make_app(runner), listens, limits)


async def serve_unix(runner: Running, path: str) -> web.AppRunner:
    """Serve the whole app on the Unix socket ``path`` (for worker processes to forward
    to), within the same limits; the caller awaits ``.cleanup()`` on the result to stop
    it."""
    limits = limits_of(runner.config.server)
    return await start_guarded(make_app(runner), [unix(path)], limits)
