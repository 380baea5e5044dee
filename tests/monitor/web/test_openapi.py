"""``/api/openapi.json`` describes the API the server really has: every route under /api/
is in it and nothing else, and the answers of a real run (a real Runner over the lab,
every action taken) validate against the schemas it gives, errors included.  The app
serves exactly the table of ``_web.routes``, in its order, so that table is every route
the monitor has."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
from aiohttp import web
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.helpers.actions_harness import Served
from tether.lab import Lab
from tether.monitor.web._access import AUTHORITY
from tether.monitor.web._routing import Route
from tether.monitor.web._web import make_app, routes
from tether.monitor.web.api._actions import openapi
from tether.monitor.web.auth._auth import ConfiguredAuthority

DESCRIBED = json.loads(openapi())


def openapi_path(path: str) -> str:
    """``path`` in OpenAPI's spelling: ``{name}`` for aiohttp's ``{name:regex}`` (as
    aiohttp parses it: a regex may hold braces)."""
    return web.UrlDispatcher().add_resource(path).canonical


def routes_of_the_app(served: Served) -> set[tuple[str, str]]:
    """(METHOD, path in OpenAPI's spelling) of every route the app serves under /api/."""
    app = make_app(served.runner)
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or ""
        if not path.startswith("/api/") or route.method == "HEAD":
            continue
        found.add((route.method, openapi_path(path)))
    return found


def routes_described() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in DESCRIBED["paths"].items()
        for method in operations
    }


@pytest.fixture(scope="module")
def served(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    objectives = [{"name": "web-up", "monitors": ["web", "down"], "target": "99%"}]
    s = Served(
        tmp_path_factory.mktemp("openapi") / "openapi.db", lab, extra={"objectives": objectives}
    )
    yield s
    s.close()


def test_every_api_route_is_described_and_nothing_else(served: Served) -> None:
    """The routes of the app under /api/ and the paths of openapi.json are the same set."""
    assert routes_of_the_app(served) == routes_described()


def resolved(node: Any) -> Any:
    """``node`` with its ``$ref`` (to this document) followed."""
    while isinstance(node, dict) and "$ref" in node:
        found: Any = DESCRIBED
        for part in node["$ref"].removeprefix("#/").split("/"):
            found = found[part]
        node = found
    return node


def statuses_answered(path: str, operation: dict[str, Any]) -> set[str]:
    """What the server's shared layers can answer to ``operation``, whatever its handler
    does: 503 always (the store, the connection cap, a worker's coordinator starting),
    400 always (a query holding text the one gate for text from outside refuses, on
    every route; and a parameter's or a body's own), 401 and 403 unless it is public,
    404 with a path parameter, 408 and 413 with a body (its deadline, its size), and
    push's 429 (its limiter, docs/security.md)."""
    parameters = operation.get("parameters", [])
    body = "requestBody" in operation
    answered = {"400", "503"}
    if operation.get("security", DESCRIBED["security"]) != []:
        answered |= {"401", "403"}
    if any(p["in"] == "path" for p in parameters):
        answered.add("404")
    if body:
        answered |= {"408", "413"}
    if path == "/api/push/{token}":
        answered.add("429")
    return answered


def test_every_operation_lists_what_it_can_answer_as_json_errors() -> None:
    """Each operation of the document (the app's routes under /api/, the test above)
    lists every status its layers can answer, and every error it lists is the JSON
    Error (an ``error`` string): a route added without them fails here."""
    missing = []
    for path, operations in DESCRIBED["paths"].items():
        for method, operation in operations.items():
            listed = operation["responses"]
            for status in sorted(statuses_answered(path, operation) - set(listed)):
                missing.append(f"{method.upper()} {path}: {status}")
            for status, response in listed.items():
                if int(status) < 400:
                    continue
                content = resolved(response)["content"]
                assert list(content) == ["application/json"], (path, status)
                schema = resolved(content["application/json"]["schema"])
                assert "error" in schema["required"], (path, status)
                if status == "401":
                    assert "WWW-Authenticate" in resolved(response)["headers"], path
    assert not missing, "not in the document:\n" + "\n".join(missing)


def authority_of(app: web.Application) -> ConfiguredAuthority:
    authority = app[AUTHORITY]
    assert isinstance(authority, ConfiguredAuthority)
    return authority


def _name(handler: object) -> str:
    """A handler's qualified name; for a closure compiled by mypyc (the probe's build,
    docs/install.md), which has no ``__qualname__``, its callable class's."""
    name = getattr(handler, "__qualname__", None)
    return str(name) if name is not None else type(handler).__qualname__


def test_the_app_serves_the_table_of_routes_in_its_order(served: Served) -> None:
    """make_app's router holds the table's routes and no other, in the table's order (the
    first path that matches answers), each with its handler, a GET with its HEAD unless
    the table says not."""
    app = make_app(served.runner)
    table = routes(served.runner, authority_of(app))
    wanted: list[tuple[str, Route]] = []
    for entry in table:
        if entry.method == "GET" and entry.head:
            wanted.append(("HEAD", entry))
        wanted.append((entry.method, entry))
    served_routes = list(app.router.routes())
    assert len(served_routes) == len(wanted)
    for route, (method, entry) in zip(served_routes, wanted, strict=True):
        assert route.resource is not None
        assert route.method == method, entry
        assert route.resource.raw_match(entry.path), (entry, route.resource.canonical)
        assert _name(route.handler) == _name(entry.handler), entry


def test_every_api_route_of_the_table_is_described(served: Served) -> None:
    """The table's routes under /api/ are the paths and methods of openapi.json."""
    app = make_app(served.runner)
    table = routes(served.runner, authority_of(app))
    api = {(r.method, openapi_path(r.path)) for r in table if r.path.startswith("/api/")}
    assert api == routes_described()


def test_the_description_is_served_as_it_is_and_is_openapi_3_1(served: Served) -> None:
    """GET /api/openapi.json answers the file; it says OpenAPI 3.1, the bearer and cookie
    schemes and the CSRF header, and every $ref in it resolves."""
    assert served.json("/api/openapi.json") == DESCRIBED
    assert DESCRIBED["openapi"].startswith("3.1.")
    schemes = DESCRIBED["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert (schemes["session"]["type"], schemes["session"]["in"]) == ("apiKey", "cookie")
    assert (schemes["csrf"]["in"], schemes["csrf"]["name"]) == ("header", "X-CSRF-Token")
    text = json.dumps(DESCRIBED)
    for name in re.findall(r'"#/components/schemas/(\w+)"', text):
        assert name in DESCRIBED["components"]["schemas"], name


def validator(method: str, path: str, status: int) -> jsonschema.protocols.Validator:
    """A validator for the JSON answer ``status`` of ``method path`` as described."""
    operation = DESCRIBED["paths"][path][method.lower()]
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    resource = Resource.from_contents(DESCRIBED, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource("urn:openapi", resource)
    cls = jsonschema.validators.validator_for({"$schema": DESCRIBED["jsonSchemaDialect"]})
    anchored = {"$ref": "urn:openapi" + schema["$ref"]} if "$ref" in schema else schema
    return cls(anchored, registry=registry)


def test_a_real_runs_answers_validate_against_the_description(served: Served) -> None:
    """Every action and every read, on real checks of the lab, answers what the
    description says, success and error alike."""
    served.check("web", "down", "other")
    incident = served.json("/api/incidents?open=1")["incidents"][0]["id"]
    calls: list[tuple[str, str, str, Any]] = [
        ("POST", "/api/monitors/web/pause", "/api/monitors/{name}/pause", {"reason": "r"}),
        ("POST", "/api/monitors/web/pause", "/api/monitors/{name}/pause", None),
        ("POST", "/api/monitors/web/resume", "/api/monitors/{name}/resume", None),
        ("POST", "/api/monitors/old/resume", "/api/monitors/{name}/resume", None),
        ("POST", "/api/monitors/api%2Fv1/check", "/api/monitors/{name}/check", None),
        ("POST", "/api/monitors/nope/check", "/api/monitors/{name}/check", None),
        ("POST", f"/api/incidents/{incident}/notes", "/api/incidents/{id}/notes", {"text": "n"}),
        ("POST", "/api/incidents/1/notes", "/api/incidents/{id}/notes", {"text": ""}),
        ("POST", f"/api/incidents/{incident}/acknowledge", "/api/incidents/{id}/acknowledge", None),
        ("POST", "/api/incidents/999/acknowledge", "/api/incidents/{id}/acknowledge", None),
        ("POST", "/api/maintenance", "/api/maintenance", {"for": "10m", "reason": "x"}),
        ("POST", "/api/maintenance", "/api/maintenance", {"reason": "x"}),
        ("POST", "/api/maintenance/1/close", "/api/maintenance/{id}/close", None),
        ("POST", "/api/maintenance/99/close", "/api/maintenance/{id}/close", None),
        ("GET", "/api/maintenance", "/api/maintenance", None),
        (
            "POST",
            "/api/silences",
            "/api/silences",
            {"matchers": "team=db", "for": "1h", "comment": "c"},
        ),
        ("POST", "/api/silences", "/api/silences", {"matchers": "team=db", "comment": "c"}),
        ("POST", "/api/silences/1/expire", "/api/silences/{id}/expire", None),
        ("POST", "/api/silences/99/expire", "/api/silences/{id}/expire", None),
        ("GET", "/api/silences", "/api/silences", None),
        ("GET", "/api/alerts/suppressed", "/api/alerts/suppressed", None),
        ("GET", "/api/audit?limit=5", "/api/audit", None),
        ("GET", "/api/audit?limit=0", "/api/audit", None),
        ("GET", "/api/status", "/api/status", None),
        ("GET", "/api/monitors/down", "/api/monitors/{name}", None),
        ("GET", "/api/monitors/nope", "/api/monitors/{name}", None),
        ("GET", "/api/series/down?range=1h", "/api/series/{name}", None),
        ("GET", "/api/series/down?range=30d", "/api/series/{name}", None),
        ("GET", "/api/series/down?range=2y", "/api/series/{name}", None),
        ("GET", "/api/series/nope", "/api/series/{name}", None),
        ("GET", "/api/push/no-such-token-0123", "/api/push/{token}", None),
        ("POST", "/api/push/no-such-token-0123?status=maybe", "/api/push/{token}", None),
        ("GET", "/api/incidents?limit=5", "/api/incidents", None),
        ("GET", "/api/objectives", "/api/objectives", None),
        ("GET", "/api/objectives/web-up", "/api/objectives/{name}", None),
        ("GET", "/api/objectives/nope", "/api/objectives/{name}", None),
        (
            "POST",
            "/api/report",
            "/api/report",
            {"v": 1, "app": "checkout", "calls": [[1.0, "a.test:443", "GET", None, 200, 1.5, 1]]},
        ),
        ("POST", "/api/report", "/api/report", {"v": 1, "app": "checkout", "calls": [[1.0]]}),
    ]
    seen = set()
    for method, url, path, body in calls:
        status, doc = served.send(method, url, body)
        seen.add((path, status))
        errors = list(validator(method, path, status).iter_errors(doc))
        assert errors == [], (url, status, [e.message for e in errors])
    assert {status for _, status in seen} == {200, 201, 202, 400, 404, 409}


def test_the_validation_above_can_fail() -> None:
    """A document missing a required field does not validate: the check is not empty."""
    check = validator("POST", "/api/monitors/{name}/pause", 200)
    assert not check.is_valid({"monitor": "web", "paused": True, "changed": True})
    assert check.is_valid({"monitor": "web", "paused": True, "changed": True, "state": None})


def test_the_file_is_in_the_package() -> None:
    """openapi.json ships beside the module that serves it (read through the package)."""
    here = Path(__file__).parents[3] / "src" / "tether" / "monitor" / "web" / "openapi.json"
    assert json.loads(here.read_text()) == DESCRIBED


# --- the document says exactly what the server takes (issue 72 §7) --------------------------


def _schema(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    resource = Resource.from_contents(DESCRIBED, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource("urn:openapi", resource)
    cls = jsonschema.validators.validator_for({"$schema": DESCRIBED["jsonSchemaDialect"]})
    return cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)


def _body(path: str) -> jsonschema.protocols.Validator:
    content = DESCRIBED["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    return _schema({"$ref": "urn:openapi" + content["schema"]["$ref"]})


@pytest.mark.parametrize(
    ("match", "taken"),
    [
        ("", True),
        ('team="db"', True),
        ('{team="db", tier=~"1|2",}', True),
        ("team!=db", True),
        ("{", False),
        ("team", False),
        ('{team="db"', False),
        ('team="db" tier="1"', False),
        ("{}", False),
    ],
)
def test_the_match_parameter_takes_what_the_server_takes(
    served: Served, match: str, taken: bool
) -> None:
    """``?match=`` is Alertmanager's matchers in the document, as on the server: a text
    the server cannot read as matchers is not valid by the schema either (it took any
    string, and Schemathesis's "valid request rejected" followed)."""
    (parameter,) = DESCRIBED["paths"]["/api/status"]["get"]["parameters"]
    assert _schema(parameter["schema"]).is_valid(match) is taken
    status, _ = served.send("GET", f"/api/status?match={quote(match)}")
    assert (status == 200) is taken


def test_a_window_until_zero_is_not_valid_by_the_document() -> None:
    """``until: 0.0`` (1970, which the server refuses as past) is not a valid window."""
    check = _body("/api/maintenance")
    assert not check.is_valid({"reason": "x", "until": 0.0})
    assert check.is_valid({"reason": "x", "until": 1_800_000_600})


def test_empty_matchers_are_not_valid_by_the_document() -> None:
    """An empty or blank ``matchers`` (a form's ``matchers=``), which the server refuses,
    is not a valid silence."""
    check = _body("/api/silences")
    for matchers in ("", "  ", [""]):
        assert not check.is_valid({"matchers": matchers, "comment": "c"}), matchers
    assert check.is_valid({"matchers": "team=db", "comment": "c"})


def test_a_whole_number_written_with_a_point_is_taken(served: Served) -> None:
    """JSON Schema's integer takes ``6470.0``; so does the server's report route
    (``dropped``, a call's status and attempts), which refused it with a 400."""
    body = {"v": 1.0, "app": "checkout", "dropped": 6470.0, "calls": []}
    body["calls"] = [[1.0, "a.test:443", "GET", None, 200.0, 1.5, 3.0]]
    assert _body("/api/report").is_valid(body)
    status, doc = served.send("POST", "/api/report", body)
    assert status == 202, doc
    assert served.send("POST", "/api/report", {**body, "dropped": 0.5})[0] == 400
