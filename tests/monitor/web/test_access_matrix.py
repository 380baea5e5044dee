"""Who may reach what, in every deployment shape: one table of the documented access rules
(docs/security.md, "What the monitor exposes" and "Login and tokens"; the rules in
``_auth.py``'s and ``_access.py``'s docstrings), checked route by route and principal by
principal against a real ``tether monitor`` in three shapes:

- ``one-process``: ``workers: 1``;
- ``workers-2``: ``workers: 2``, where only the worker processes listen and forward every
  path but ``/probe`` to the coordinator;
- ``two-instances``: two ``workers: 1`` instances on one PostgreSQL database (the
  session's server, tests/helpers/postgres_server.py), each row asked of both.

The routes are every path and method of ``/api/openapi.json`` (the test fails when one
has no row here), the dashboard's pages, ``/metrics``, ``/probe``, a status page, its
badge and the static files.  The principals are a visitor with nothing, each token
scope, a user who may write, a read-only user, that user's session with a wrong token
beside it, and the writer's session from a foreign ``Origin`` or without its CSRF token.
Every request is a fresh ``http.client`` connection to 127.0.0.1 carrying only its own
principal's headers.  The processes are real and on real time; startup polls with a
bound (tests/helpers/processes.py).

A rule that holds in one shape and not in another is the defect this module is for: the
workers' forwarder once kept a cookie jar, and served every visitor as the last user who
had logged in.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlencode

import pytest

from tests.helpers.logins import FAST, PASSWORD
from tests.helpers.ports import free_port
from tests.helpers.processes import wait_for
from tests.helpers.tether_processes import monitor
from tether.lab import Lab
from tether.monitor import Runner
from tether.monitor.alerts import Outbox
from tether.monitor.config import load_config
from tether.monitor.config._passwords import hash_password, hash_token, new_token
from tether.monitor.store import SQLiteStore
from tether.monitor.web._web import make_app
from tether.monitor.web.api._actions import openapi
from tether.monitor.web.auth._sessions import FRESH

READ_TOKEN: Final = new_token()
WRITE_TOKEN: Final = new_token()
REPORT_TOKEN: Final = new_token()
AGENT_TOKEN: Final = new_token()
"""An agent's, bound to branch-1 (the location the agent rows ask for)."""
OTHER_AGENT_TOKEN: Final = new_token()
"""An agent's, bound to branch-2: refused for branch-1's."""
PUSH_TOKEN: Final = "matrix-push-token-0123456789"
"""Each principal pushes to a push monitor of its own (``push_token``): pushes are limited
per monitor (a burst of 10), and the matrix sends two a principal on every instance."""
PASSWORD_HASH: Final = hash_password(PASSWORD, n=FAST)
FOREIGN: Final = "http://evil.example"
"""A foreign page's origin, only ever written in an ``Origin`` header (nothing connects to it)."""

# -- the principals ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Principal:
    """Who asks: ``token`` goes in ``Authorization``; ``user`` logs in first (a session of
    its own on each instance); ``origin`` and ``csrf`` say what a session's change carries."""

    name: str
    token: str | None = None
    user: str | None = None
    origin: str = "own"  # "own": this server's origin; else the Origin header sent
    csrf: bool = True


PRINCIPALS: Final = (
    Principal("anonymous"),
    Principal("read-token", token=READ_TOKEN),
    Principal("write-token", token=WRITE_TOKEN),
    Principal("report-token", token=REPORT_TOKEN),
    Principal("agent-token", token=AGENT_TOKEN),
    Principal("other-location-agent-token", token=OTHER_AGENT_TOKEN),
    Principal("user", user="alice"),
    Principal("read-only-user", user="bob"),
    Principal("wrong-token-beside-a-session", user="alice", token="tether_wrong"),
    Principal("forged-origin", user="alice", origin=FOREIGN),
    Principal("no-csrf-token", user="alice", csrf=False),
)


def push_token(who: Principal) -> str:
    """The token of ``who``'s own push monitor."""
    return f"{PUSH_TOKEN}-{who.name}"


# -- the rules: one table, written from docs/security.md -----------------------------------------

OK: Final = "ok"
LOGIN: Final = "login"
"""303 to /login?next=... (a page without a login, users configured)."""

ANYONE = dict.fromkeys((p.name for p in PRINCIPALS), OK)
RULES: Final[dict[str, dict[str, str]]] = {
    # /status/*, /badge/*, /static/*, /login, /api/push/TOKEN: nothing, ever.
    "public": ANYONE,
    # /metrics and /probe named in server.require_token: a read or write token only (a
    # session is not a token; report may post reports and nothing else).
    "scrape": {
        **dict.fromkeys((p.name for p in PRINCIPALS), "401"),
        "read-token": OK,
        "write-token": OK,
    },
    # The dashboard's pages: read; a page without a login goes to /login.
    "read-page": {
        "anonymous": LOGIN,
        "read-token": OK,
        "write-token": OK,
        "report-token": "403",
        "agent-token": "403",
        "other-location-agent-token": "403",
        "user": OK,
        "read-only-user": OK,
        "wrong-token-beside-a-session": "401",
        "forged-origin": OK,  # reading is no change: Origin and CSRF are for changes
        "no-csrf-token": OK,
    },
    # /api/* reads: read; an API answers a JSON 401 without a credential.
    "read-api": {
        "anonymous": "401",
        "read-token": OK,
        "write-token": OK,
        "report-token": "403",
        "agent-token": "403",
        "other-location-agent-token": "403",
        "user": OK,
        "read-only-user": OK,
        "wrong-token-beside-a-session": "401",
        "forged-origin": OK,
        "no-csrf-token": OK,
    },
    # The write API: write; a session's change from this origin with its CSRF token.
    "write": {
        "anonymous": "401",
        "read-token": "403",
        "write-token": OK,
        "report-token": "403",
        "agent-token": "403",
        "other-location-agent-token": "403",
        "user": OK,
        "read-only-user": "403",
        "wrong-token-beside-a-session": "401",
        "forged-origin": "403",
        "no-csrf-token": "403",
    },
    # POST /api/report: report (a report or write token; write implies report).
    "report": {
        "anonymous": "401",
        "read-token": "403",
        "write-token": OK,
        "report-token": OK,
        "agent-token": "403",
        "other-location-agent-token": "403",
        "user": OK,
        "read-only-user": "403",
        "wrong-token-beside-a-session": "401",
        "forged-origin": "403",
        "no-csrf-token": "403",
    },
    # /api/agent/*: an agent token, for the location it is bound to, and nothing else;
    # no token is a 401 even on loopback or with a session (no credential there), any
    # other token a 403.
    "agent": {
        "anonymous": "401",
        "read-token": "403",
        "write-token": "403",
        "report-token": "403",
        "agent-token": OK,
        "other-location-agent-token": "403",
        "user": "401",
        "read-only-user": "401",
        "wrong-token-beside-a-session": "401",
        "forged-origin": "401",
        "no-csrf-token": "401",
    },
    # POST /login: anyone, from this server's own origin (a browser's from elsewhere is
    # refused; a script sends no Origin); the session's cookie and CSRF are not needed.
    "login": {**ANYONE, "forged-origin": "403"},
    # POST /status/SLUG/subscribe: anyone, but not from another site's page unless the
    # page says subscribe.cross_site (issue 72 §4); a script sends no Origin.
    "subscribe": {**ANYONE, "forged-origin": "403"},
    # POST /logout: read, CSRF-checked like any change a session makes.
    "logout": {
        "anonymous": "401",
        "read-token": OK,
        "write-token": OK,
        "report-token": "403",
        "agent-token": "403",
        "other-location-agent-token": "403",
        "user": OK,
        "read-only-user": OK,
        "wrong-token-beside-a-session": "401",
        "forged-origin": "403",
        "no-csrf-token": "403",
    },
}


@dataclass(frozen=True, slots=True)
class Route:
    """A request of the matrix: ``path`` with ``{name}``-style fields filled from the
    instance's :class:`Known`, a JSON ``body`` for a POST, and what success looks like."""

    method: str
    path: str
    rule: str
    body: Any = None
    ok: frozenset[int] = frozenset({200})
    described: str | None = None
    """Its path in openapi.json, when it is one of the API's."""
    form: bool = False
    """``body`` is sent as a form (a page's), not as JSON."""


def _api(
    method: str,
    path: str,
    rule: str,
    body: Any = None,
    ok: tuple[int, ...] = (200,),
    *,
    fill: str | None = None,
) -> Route:
    return Route(method, fill or path, rule, body, frozenset(ok), path)


# fmt: off
ROUTES: Final = (
    # Not in the API's description: the pages, the scrapes, the public pages.
    Route("GET", "/", "read-page"),
    Route("GET", "/monitors/web", "read-page"),
    # A browser monitor's screenshot: the page's rules (web has none: 404 for who may look).
    Route("GET", "/monitors/web/screenshot.png", "read-page", ok=frozenset({404})),
    Route("GET", "/incidents", "read-page"),
    Route("GET", "/silences", "read-page"),
    Route("GET", "/objectives", "read-page"),
    Route("GET", "/objectives/web-up", "read-page"),
    Route("GET", "/metrics", "scrape"),
    Route("GET", "/probe?target={probe_target}", "scrape"),
    Route("GET", "/status/public", "public"),
    Route("GET", "/status/public.json", "public"),
    Route("GET", "/badge/web/status.svg", "public"),
    Route("GET", "/status/no/such/page", "public", ok=frozenset({404})),
    # Subscribing (issue 48): public and limited; a token that matches nobody is a 404,
    # and a 429 once a client has sent 30 of them in an hour.
    Route("GET", "/status/public/subscribe", "public"),
    Route("POST", "/status/public/subscribe", "subscribe", {"webhook": "http://127.0.0.1:9/m"},
          frozenset({202})),
    Route("GET", "/status/public/confirm?token=nobody", "public", ok=frozenset({404, 429})),
    Route("POST", "/status/public/confirm", "public", {"token": "nobody"},
          frozenset({404, 429})),
    Route("GET", "/status/public/unsubscribe?token=nobody", "public",
          ok=frozenset({404, 429})),
    Route("POST", "/status/public/unsubscribe", "public", {"token": "nobody"},
          frozenset({404, 429})),
    Route("GET", "/status/public/feed.atom", "public"),
    Route("GET", "/static/dashboard.css", "public"),
    Route("GET", "/static/base.css", "public"),
    Route("GET", "/static/status.css", "public"),
    Route("GET", "/login", "public"),
    # Single sign-on's routes: public; with no oidc: configured here, a 404 page for all
    # (tests/monitor/web/test_oidc_browser.py asks them of a configured provider).
    Route("GET", "/login/oidc", "public", ok=frozenset({404})),
    Route("GET", "/login/oidc/callback", "public", ok=frozenset({404})),
    # Every path and method of /api/openapi.json (a write that other rows read is put back).
    _api("GET", "/api/status", "read-api"),
    _api("GET", "/api/monitors/{name}", "read-api", fill="/api/monitors/web"),
    _api("GET", "/api/series/{name}", "read-api", fill="/api/series/web"),
    _api("GET", "/api/incidents", "read-api"),
    _api("GET", "/api/incidents/{id}", "read-api", fill="/api/incidents/{incident}"),
    _api("GET", "/api/maintenance", "read-api"),
    _api("GET", "/api/objectives", "read-api"),
    _api("GET", "/api/objectives/{name}", "read-api", fill="/api/objectives/web-up"),
    _api("GET", "/api/audit", "read-api"),
    _api("GET", "/api/openapi.json", "read-api"),
    _api("POST", "/api/monitors/{name}/pause", "write", {}, fill="/api/monitors/writes/pause"),
    _api("POST", "/api/monitors/{name}/resume", "write", {}, fill="/api/monitors/writes/resume"),
    _api("POST", "/api/monitors/{name}/check", "write", {}, (200, 202),
         fill="/api/monitors/writes/check"),
    _api("POST", "/api/incidents/{id}/acknowledge", "write", {},
         fill="/api/incidents/{incident}/acknowledge"),
    _api("POST", "/api/incidents/{id}/notes", "write", {"text": "matrix"}, (201,),
         fill="/api/incidents/{incident}/notes"),
    _api("GET", "/api/incidents/{id}/updates", "read-api",
         fill="/api/incidents/{incident}/updates"),
    _api("POST", "/api/incidents/{id}/updates", "write",
         {"state": "identified", "text": "matrix"}, (201,),
         fill="/api/incidents/{incident}/updates"),
    _api("POST", "/api/maintenance", "write",
         {"monitors": ["writes"], "for": "1h", "reason": "matrix"}, (201,)),
    _api("POST", "/api/maintenance/{id}/close", "write", {},
         fill="/api/maintenance/{window}/close"),
    _api("GET", "/api/silences", "read-api"),
    _api("GET", "/api/alerts/suppressed", "read-api"),
    _api("POST", "/api/silences", "write",
         {"matchers": ['team="matrix"'], "for": "1h", "comment": "matrix"}, (201,)),
    _api("POST", "/api/silences/{id}/expire", "write", {},
         fill="/api/silences/{silence}/expire"),
    _api("GET", "/api/push/{token}", "public", fill="/api/push/{push}?status=up"),
    _api("POST", "/api/push/{token}", "public", {}, fill="/api/push/{push}?status=up"),
    _api("POST", "/api/report", "report", {"v": 1, "app": "matrix", "dropped": 0, "calls": []},
         (202,)),
    _api("GET", "/api/agent/assignment", "agent", fill="/api/agent/assignment?location=branch-1"),
    _api("POST", "/api/agent/results", "agent", {
        "protocol": 1, "id": "0123456789abcdef0123456789abcdef", "location": "branch-1",
        "sent_at": 1.8e9, "results": []}),
    _api("GET", "/api/agents", "read-api"),
    # Last: a session that logs out is over (the next principal logs in anew), and a login
    # ends the session it was sent with (a new one each time: no fixation).
    Route("POST", "/logout", "logout", {}, frozenset({303})),
    Route("POST", "/login", "login", {"user": "alice", "password": PASSWORD}, frozenset({303}),
          form=True),
)
# fmt: on


def test_the_table_covers_every_route_of_the_api_and_every_principal() -> None:
    """Each path and method of /api/openapi.json has a row, each row a known rule, and
    each rule an outcome for every principal: a route added to the API without a row
    here fails."""
    described = json.loads(openapi())["paths"]
    methods = {"get", "post", "put", "patch", "delete"}
    api = {(m.upper(), p) for p, ops in described.items() for m in ops if m in methods}
    rows = {(r.method, r.described) for r in ROUTES if r.described is not None}
    assert rows == api
    for rule in RULES.values():
        assert set(rule) == {p.name for p in PRINCIPALS}
    assert {r.rule for r in ROUTES} <= set(RULES)


def test_the_table_has_a_row_for_every_route_the_app_serves(tmp_path: Path, lab: Lab) -> None:
    """Every route of the app's one table (``_web.routes``: the pages, the scrapes, the
    login, the status pages and the API alike) answers at least one row, found as aiohttp
    finds it (the first route whose path and method match): a route added anywhere
    without a row here fails, whoever added it."""
    config = configuration(tmp_path, lab, 0, {"path": str(tmp_path / "t.db")}, 1)
    store = SQLiteStore(tmp_path / "t.db")
    try:
        runner = Runner(load_config(str(config)), store, Outbox(store, {}), location="hq")
        app = make_app(runner)
    finally:
        store.close()
    served = [r for r in app.router.routes() if r.method != "HEAD"]
    filled = {"incident": "1", "window": "1", "silence": "1", "probe_target": "x", "push": "t"}
    answered = set()
    for row in ROUTES:
        path = row.path.format(**filled).partition("?")[0]
        first = next(
            (r for r in served if r.method == row.method and r.resource._match(path) is not None),  # type: ignore[union-attr]
            None,
        )
        assert first is not None, f"{row.method} {path} is answered by no route"
        answered.add(id(first))
    missing = [
        f"{r.method} {r.resource.canonical}"  # type: ignore[union-attr]
        for r in served
        if id(r) not in answered
    ]
    assert not missing, "routes without a row:\n" + "\n".join(missing)


def test_the_api_description_says_which_routes_are_public_as_the_table_does() -> None:
    """An operation of /api/openapi.json needs no credential (``security: []``) exactly
    when the table makes it public."""
    described = json.loads(openapi())["paths"]
    for route in ROUTES:
        if route.described is not None:
            operation = described[route.described][route.method.lower()]
            assert (operation.get("security") == []) == (route.rule == "public"), route


# -- the shapes ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: str

    def outcome(self, route: Route) -> str:
        """The answer in the table's words."""
        if self.status in route.ok and not self._to_login():
            return OK
        if self.status == 303 and self._to_login() and route.method == "GET":
            return LOGIN
        if self.status == 303 and route.ok == frozenset({303}):
            return OK  # /logout goes to /login
        return str(self.status)

    def _to_login(self) -> bool:
        return (self.headers.get("Location") or "").startswith("/login")


def ask(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: Any = None,
    *,
    form: bool = False,
) -> Answer:
    """One request on a connection of its own, with ``headers`` and nothing else; ``body``
    as JSON, or as a form."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sent = dict(headers or {})
    data = None
    if body is not None and form:
        data = urlencode(body).encode()
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=sent)
        r = conn.getresponse()
        return Answer(r.status, r.headers, r.read().decode("utf-8", "replace"))
    finally:
        conn.close()


@dataclass
class Instance:
    """One ``tether monitor`` process (and its workers) listening on ``port``."""

    port: int
    proc: subprocess.Popen[str]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def read(self, path: str) -> Any:
        try:
            r = ask(self.port, "GET", path, {"Authorization": f"Bearer {READ_TOKEN}"})
        except OSError:  # not listening yet
            return None
        return json.loads(r.body) if r.status == 200 else None

    def login(self, user: str) -> tuple[str, str]:
        """A fresh session of ``user``: its cookie and its CSRF token (from a page)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            form = f"user={user}&password={quote(PASSWORD)}&next=/monitors/web"
            conn.request(
                "POST",
                "/login",
                body=form,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Origin": self.origin,
                },
            )
            r = conn.getresponse()
            r.read()
            assert r.status == 303, r.status
            cookie = r.headers["Set-Cookie"].split(";")[0]
        finally:
            conn.close()
        page = ask(self.port, "GET", "/monitors/web", {"Cookie": cookie})
        assert page.status == 200, page.status
        found = re.search(r'name="csrf" value="([^"]+)"', page.body)
        assert found is not None
        return cookie, found.group(1)


@dataclass
class Shape:
    """The instances of one deployment shape, and the ids its rows fill in."""

    name: str
    instances: list[Instance]
    known: dict[str, str] = field(default_factory=dict)

    def fill(self, path: str, **more: str) -> str:
        return path.format(**{**self.known, **more})


def configuration(tmp: Path, lab: Lab, port: int, storage: dict[str, str], workers: int) -> Path:
    """The same users, tokens, monitors and status page for every shape."""
    fast = {"interval": "1s", "timeout": "500ms"}
    config = {
        "storage": storage,
        "workers": workers,
        "cluster": {"lease": "2s"},
        "server": {"listen": f"127.0.0.1:{port}", "require_token": ["metrics", "probe"]},
        "users": [
            {"name": "alice", "password_hash": PASSWORD_HASH},
            {"name": "bob", "password_hash": PASSWORD_HASH, "scopes": ["read"]},
        ],
        "tokens": [
            {"name": "reader", "hash": hash_token(READ_TOKEN), "scope": "read"},
            {"name": "writer", "hash": hash_token(WRITE_TOKEN), "scope": "write"},
            {"name": "reporter", "hash": hash_token(REPORT_TOKEN), "scope": "report"},
            {
                "name": "b1",
                "hash": hash_token(AGENT_TOKEN),
                "scope": "agent",
                "location": "branch-1",
            },
            {
                "name": "b2",
                "hash": hash_token(OTHER_AGENT_TOKEN),
                "scope": "agent",
                "location": "branch-2",
            },
        ],
        "locations": ["hq", "branch-1", "branch-2"],
        "defaults": {"locations": ["hq"]},
        "monitors": [
            {"name": "web", "url": lab["healthy"].url, **fast},
            # The one the write rows pause, resume, check and hold in maintenance.
            {"name": "writes", "url": lab["healthy"].url, "interval": "1h", "timeout": "2s"},
            # Down from its first check: the incident the rows acknowledge and annotate.
            {"name": "down", "url": lab["refused"].url, "failure_threshold": 1, **fast},
            *(
                {"name": f"beat-{p.name}", "type": "push", "token": push_token(p), "interval": "1h"}
                for p in PRINCIPALS
            ),
        ],
        "objectives": [{"name": "web-up", "monitors": ["web"], "target": "99%"}],
        "status_pages": [
            {
                "slug": "public",
                "title": "Service status",
                "groups": [{"name": "Core", "monitors": [{"monitor": "web"}]}],
                # Webhooks only, to loopback (not in webhook_networks): never posted to.
                "subscribe": {"url": "http://127.0.0.1", "webhook": True, "per_hour": 10000},
            }
        ],
    }
    if "path" not in storage:
        del config["cluster"]
    path = tmp / f"tether-{port}.yaml"
    path.write_text(json.dumps(config))
    return path


SHAPES: Final = ("one-process", "workers-2", "two-instances")


@pytest.fixture(scope="module", params=SHAPES)
def shape(
    request: pytest.FixtureRequest, lab: Lab, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shape]:
    """The shape's processes, running with web up, down's incident open, a maintenance
    window to close, a silence to expire, and a login made by each user (what a forwarder
    must not keep)."""
    tmp = tmp_path_factory.mktemp(request.param)
    if request.param == "two-instances":
        server = request.getfixturevalue("postgres_server")  # skips, or fails when required
        storage = {"postgres": server.dsn(server.new_schema())}
        counts = [1, 1]
    else:
        storage = {"path": str(tmp / "tether.db")}
        counts = [2 if request.param == "workers-2" else 1]
    with ExitStack() as stack:
        instances = []
        for i, workers in enumerate(counts):
            port = free_port()
            config = configuration(tmp, lab, port, storage, workers)
            env = {**os.environ, "TETHER_LOCATION": "hq"}
            proc = stack.enter_context(monitor(config, tmp / f"monitor-{i}.log", env=env))
            instances.append(Instance(port, proc))
        procs = [i.proc for i in instances]
        for each in instances:
            wait_for(
                lambda i=each: (i.read("/api/status") or {}).get("monitors", {}).get("web") == "up",
                limit=60,
                procs=procs,
            )

        def incident() -> int | None:
            found = instances[0].read("/api/incidents?open=1") or {"incidents": []}
            ids = [i["id"] for i in found["incidents"] if "down" in json.dumps(i)]
            return ids[0] if ids else None

        number = wait_for(incident, limit=60, procs=procs)
        opened = ask(
            instances[0].port,
            "POST",
            "/api/maintenance",
            {"Authorization": f"Bearer {WRITE_TOKEN}"},
            {"monitors": ["writes"], "for": "2h", "reason": "to close"},
        )
        assert opened.status == 201, opened.body
        silenced = ask(
            instances[0].port,
            "POST",
            "/api/silences",
            {"Authorization": f"Bearer {WRITE_TOKEN}"},
            {"matchers": ['team="matrix"'], "for": "2h", "comment": "to expire"},
        )
        assert silenced.status == 201, silenced.body
        for each in instances:
            for user in ("alice", "bob"):
                each.login(user)
        yield Shape(
            request.param,
            instances,
            {
                "incident": str(number),
                "window": str(json.loads(opened.body)["id"]),
                "silence": str(json.loads(silenced.body)["id"]),
                "probe_target": quote(lab["healthy"].url, safe=""),
            },
        )


def headers_of(
    instance: Instance, who: Principal, route: Route, sessions: dict[int, tuple[str, str]]
) -> dict[str, str]:
    """What ``who`` sends with ``route`` to ``instance`` (a browser's same-origin change
    carries Origin; a session's, its CSRF token)."""
    sent: dict[str, str] = {}
    if who.token is not None:
        sent["Authorization"] = f"Bearer {who.token}"
    if who.user is not None:
        cookie, csrf = sessions[instance.port]
        sent["Cookie"] = cookie
        if route.method == "POST":
            sent["Origin"] = instance.origin if who.origin == "own" else who.origin
            if who.csrf:
                sent["X-CSRF-Token"] = csrf
    return sent


@pytest.mark.parametrize("who", PRINCIPALS, ids=lambda p: p.name)
def test_every_route_answers_as_the_rules_say(shape: Shape, who: Principal) -> None:
    """Every route of the table, asked by this principal of every instance of the shape,
    answers what the one table of documented rules says: no shape lets anybody further
    (or less far) than another."""
    sessions = {i.port: i.login(who.user) for i in shape.instances if who.user is not None}
    wrong = []
    for instance in shape.instances:
        for route in ROUTES:
            path = shape.fill(route.path, push=push_token(who))
            answer = ask(
                instance.port,
                route.method,
                path,
                headers_of(instance, who, route, sessions),
                route.body,
                form=route.form,
            )
            expected = RULES[route.rule][who.name]
            if answer.outcome(route) != expected:
                wrong.append(
                    f"{route.method} {path} on :{instance.port}: expected {expected}, got "
                    f"{answer.status} {answer.headers.get('Location', '')}{answer.body[:120]!r}"
                )
    assert not wrong, f"{shape.name}, {who.name}:\n" + "\n".join(wrong)


def test_after_a_login_a_visitor_with_no_cookie_is_still_nobody(shape: Shape) -> None:
    """A user logs in; then visitors with no cookie, each on a connection of its own
    (spread over the workers by the kernel), are sent to /login by the dashboard and
    answered 401 by the API, see no CSRF token and can change nothing."""
    for instance in shape.instances:
        instance.login("alice")
        for _ in range(8):
            page = ask(instance.port, "GET", "/")
            assert (page.status, page.headers.get("Location")) == (303, "/login?next=/")
            assert ask(instance.port, "GET", "/monitors/web").status == 303
            assert ask(instance.port, "GET", "/api/status").status == 401
            change = ask(instance.port, "POST", "/api/monitors/writes/pause", body={})
            assert change.status == 401
            assert "csrf" not in page.body


def test_a_login_answers_its_cookie_as_the_server_set_it(shape: Shape) -> None:
    """The login's Set-Cookie reaches the browser as the server wrote it (HttpOnly,
    SameSite=Strict, Path=/, max-age), once, whichever process took the request."""
    instance = shape.instances[0]
    conn = http.client.HTTPConnection("127.0.0.1", instance.port, timeout=30)
    try:
        conn.request(
            "POST",
            "/login",
            body=f"user=alice&password={quote(PASSWORD)}",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": instance.origin,
            },
        )
        answer = conn.getresponse()
        answer.read()
    finally:
        conn.close()
    cookies = answer.headers.get_all("Set-Cookie") or []
    assert len(cookies) == 1
    assert re.fullmatch(
        r"tether_session=[A-Za-z0-9_-]+; HttpOnly; Max-Age=604800; Path=/; SameSite=Strict",
        cookies[0],
    ), cookies


def test_a_session_is_honoured_by_every_instance_until_its_logout(shape: Shape) -> None:
    """Sessions are kept in the store (docs/security.md, issue 48): the cookie of a login
    on one instance is honoured by every instance of the shape (two on one PostgreSQL
    database), a logout on the last ends it there at once and on the others within the
    documented second (polled here with a margin for a loaded machine)."""
    first, last = shape.instances[0], shape.instances[-1]
    cookie, csrf = first.login("alice")
    for each in shape.instances:
        assert ask(each.port, "GET", "/api/status", {"Cookie": cookie}).status == 200
    out = ask(
        last.port,
        "POST",
        "/logout",
        {"Cookie": cookie, "X-CSRF-Token": csrf, "Origin": last.origin},
        {},
    )
    assert (out.status, out.headers.get("Location")) == (303, "/login")
    assert ask(last.port, "GET", "/api/status", {"Cookie": cookie}).status == 401
    for each in shape.instances:
        wait_for(
            lambda i=each: ask(i.port, "GET", "/api/status", {"Cookie": cookie}).status == 401,
            limit=FRESH + 5,
        )


BIG: Final = 1024 * 1024 + 1
"""One byte over the server's body limit (docs/security.md)."""


def test_a_body_over_the_limit_is_refused_alike_and_auth_comes_first(shape: Shape) -> None:
    """A body one byte over 1 MiB: 413 for whoever may post it, 401 for whoever may not
    (who asks is decided before the body is read), in every shape."""
    big = "x" * BIG
    for instance in shape.instances:
        writer = {"Authorization": f"Bearer {WRITE_TOKEN}"}
        note = {"text": big}
        path = shape.fill("/api/incidents/{incident}/notes")
        assert ask(instance.port, "POST", path, writer, note).status == 413
        assert ask(instance.port, "POST", path, {}, note).status == 401
        report = {"v": 1, "app": big, "dropped": 0, "calls": []}
        assert ask(instance.port, "POST", "/api/report", writer, report).status == 413
        assert ask(instance.port, "POST", "/api/report", {}, report).status == 401


def test_an_agent_batch_over_a_mib_is_taken_and_one_over_8_mib_refused(shape: Shape) -> None:
    """An agent's batch may be larger than other bodies (8 MiB): 2.4 MB is answered with
    its receipt in every shape (a worker forwards it whole), one byte over 8 MiB is a 413,
    and without the agent's token a 401 before the body is read."""
    checks = [{"monitor": "web", "ts": 1.8e9, "ok": True, "detail": "x" * 4000}] * 600
    batch = {
        "protocol": 1,
        "id": "fedcba9876543210fedcba9876543210",
        "location": "branch-1",
        "sent_at": 1.8e9,
        "results": checks,
    }
    agent = {"Authorization": f"Bearer {AGENT_TOKEN}"}
    for instance in shape.instances:
        answer = ask(instance.port, "POST", "/api/agent/results", agent, batch)
        assert answer.status == 200, answer.body[:300]
        assert "taken" in json.loads(answer.body)
        huge = {**batch, "agent": "x" * (8 * 1024 * 1024)}
        assert ask(instance.port, "POST", "/api/agent/results", agent, huge).status == 413
        assert ask(instance.port, "POST", "/api/agent/results", {}, huge).status == 401
