"""The one gate for text from outside, as a property (issue 72 §1): every text field of
the API's document (each JSON body's and form's strings, each query parameter and path
parameter), the agents' wire (the batch and every check in it) and the push route, given
arbitrary code points (lone surrogates, control characters, noncharacters, every plane),
is answered 2xx (a 303 for a form, as the dashboard's forms are) or a JSON 4xx, never a
500; and every read route still answers 200 afterwards, so nothing taken broke what
reads it.  Against a real ``tether monitor`` on loopback, in one process and with
``workers: 2`` (a worker process forwards what it is sent to the coordinator).

Before the gate, one ``{"reason": "x\\ud800"}`` answered 200 and made ``/api/status``,
``/api/incidents``, ``/api/monitors/web`` and ``/api/audit`` answer 500 for good.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.ports import free_port
from tests.helpers.processes import wait_for
from tests.helpers.tether_processes import monitor
from tether.lab import Lab
from tether.monitor.config._passwords import hash_token, new_token
from tether.monitor.web.api._actions import openapi

TOKENS: Final = {scope: new_token() for scope in ("read", "write", "report", "agent")}
PUSH_TOKEN: Final = "text-gate-push-token-0123"
SHAPES: Final = {"one-process": 1, "workers-2": 2}
EXAMPLES: Final = 120
"""Requests a shape is sent (each with one text field replaced): a few seconds."""
DOCUMENT: Final = json.loads(openapi())

# Any code point: every category, lone surrogates too (which hypothesis leaves out unless
# asked), and the ones that broke something once, often.
CHARACTERS: Final = (
    st.characters(exclude_categories=())
    | st.characters(categories=["Cs"])
    | st.sampled_from(["\x00", "\x1b", "\x7f", "\x85", "\u2028", "\ufffe", "\uffff", "\ufdd0"])
)
TEXTS: Final = st.text(CHARACTERS, max_size=24)


# --- what the document says takes text ------------------------------------------------------

Path_ = tuple[str | int, ...]


def _resolved(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _takes_text(schema: dict[str, Any]) -> bool:
    kinds = schema.get("type")
    alternatives = [_resolved(a) for a in schema.get("oneOf", []) + schema.get("anyOf", [])]
    return (
        kinds == "string"
        or (isinstance(kinds, list) and "string" in kinds)
        or any(_takes_text(a) for a in alternatives)
    )


def text_fields(schema: dict[str, Any], at: Path_ = (), depth: int = 0) -> list[Path_]:
    """The paths of every string ``schema`` describes (an array's first item for its items)."""
    schema = _resolved(schema)
    found: list[Path_] = [at] if at and _takes_text(schema) else []
    if depth > 6:
        return found
    for name, inner in schema.get("properties", {}).items():
        found += text_fields(inner, (*at, name), depth + 1)
    for n, inner in enumerate(schema.get("prefixItems", [])):
        found += text_fields(inner, (*at, n), depth + 1)
    if isinstance(schema.get("items"), dict):
        found += text_fields(schema["items"], (*at, 0), depth + 1)
    for alternative in schema.get("oneOf", []) + schema.get("anyOf", []):
        if _resolved(alternative).get("type") in ("array", "object"):
            found += text_fields(alternative, at, depth + 1)
    return sorted(set(found), key=str)


@dataclass(frozen=True, slots=True)
class Target:
    """One text a request carries: ``where`` is ``json``, ``form``, ``query`` or ``path``."""

    method: str
    route: str
    where: str
    field: Path_

    def __str__(self) -> str:
        return f"{self.method} {self.route} {self.where} {'.'.join(map(str, self.field))}"


def targets() -> list[Target]:
    """Every text field of the document, and the agents' checks (``results[0]``), which
    the document leaves to the wire's own description."""
    out: list[Target] = []
    for route, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if route == "/api/openapi.json" or not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter["in"] in ("query", "path"):
                    named: Path_ = (parameter["name"],)
                    out.append(Target(method.upper(), route, parameter["in"], named))
            content = operation.get("requestBody", {}).get("content", {})
            for kind, where in (("application/json", "json"), (FORM, "form")):
                if kind in content:
                    for field in text_fields(content[kind]["schema"]):
                        out.append(Target(method.upper(), route, where, field))
    results = "/api/agent/results"
    for name in ("monitor", "kind", "detail", "host"):
        out.append(Target("POST", results, "json", ("results", 0, name)))
    out.append(Target("POST", results, "json", ("results", 0, "conditions", 0)))
    return out


FORM: Final = "application/x-www-form-urlencoded"
TARGETS: Final = targets()


# --- the monitor ------------------------------------------------------------------------------


@dataclass
class Running:
    port: int
    incident: str


def configuration(tmp: Path, lab: Lab, port: int, workers: int) -> Path:
    config = {
        "storage": {"path": str(tmp / "tether.db")},
        "workers": workers,
        "server": {"listen": f"127.0.0.1:{port}"},
        "tokens": [
            {"name": f"t-{scope}", "hash": hash_token(token), "scope": scope}
            | ({"location": "branch-1"} if scope == "agent" else {})
            for scope, token in TOKENS.items()
        ],
        "locations": ["hq", "branch-1"],
        "defaults": {"locations": ["hq"]},
        "monitors": [
            {"name": "web", "url": lab["healthy"].url, "interval": "1h", "timeout": "2s"},
            {"name": "down", "url": lab["refused"].url, "interval": "1s", "failure_threshold": 1},
            {"name": "remote", "url": lab["healthy"].url, "locations": ["branch-1"]},
            {"name": "beat", "type": "push", "token": PUSH_TOKEN, "interval": "1s"},
        ],
        "objectives": [{"name": "web-up", "monitors": ["web"], "target": "99%"}],
    }
    path = tmp / "tether.yaml"
    path.write_text(json.dumps(config))
    return path


def send(
    running: Running, method: str, url: str, scope: str | None, body: bytes = b"", kind: str = ""
) -> tuple[int, str, bytes]:
    """The status, content type and body of one request, with ``scope``'s token."""
    headers = {"Authorization": f"Bearer {TOKENS[scope]}"} if scope else {}
    if kind:
        headers["Content-Type"] = kind
    conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=30)
    try:
        conn.request(method, url, body=body or None, headers=headers)
        answer = conn.getresponse()
        return answer.status, answer.getheader("Content-Type") or "", answer.read()
    finally:
        conn.close()


@pytest.fixture(scope="module", params=list(SHAPES))
def running(
    request: pytest.FixtureRequest, lab: Lab, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    """The shape's monitor, with an incident open (``down``)."""
    tmp = tmp_path_factory.mktemp(request.param)
    port = free_port()
    config = configuration(tmp, lab, port, SHAPES[request.param])
    log = tmp / "monitor.log"
    with monitor(config, log, env={**os.environ, "TETHER_LOCATION": "hq"}) as proc:
        here = Running(port, "")

        def opened() -> Any:
            try:
                status, _, body = send(here, "GET", "/api/incidents?open=1", "read")
            except OSError:  # not listening yet
                return None
            return status == 200 and json.loads(body)["incidents"]

        here.incident = str(wait_for(opened, 60, [proc])[0]["id"])
        yield here
    assert proc.returncode == 0, log.read_text()[-2000:]


# --- one request with one text replaced -------------------------------------------------------

SCOPES: Final = {
    "/api/report": "report",
    "/api/agent/results": "agent",
    "/api/agent/assignment": "agent",
    "/api/push/{token}": None,
}


def base(target: Target, running: Running) -> tuple[dict[str, Any], dict[str, str]]:
    """A request of ``target``'s operation the server takes: its body and its parameters."""
    now = time.time()
    params = {
        "name": "web",
        "id": running.incident,
        "token": PUSH_TOKEN,
        "location": "branch-1",
        "wait": "0",
        "status": "up",
    }
    bodies: dict[str, dict[str, Any]] = {
        "/api/monitors/{name}/pause": {"reason": "r"},
        "/api/monitors/{name}/resume": {"reason": "r"},
        "/api/incidents/{id}/notes": {"text": "n"},
        "/api/incidents/{id}/updates": {"state": "investigating", "text": "t"},
        "/api/maintenance": {"monitors": ["web"], "for": "10m", "reason": "r"},
        "/api/silences": {"matchers": ["team=db"], "for": "1h", "comment": "c"},
        "/api/report": {
            "v": 1,
            "app": "checkout",
            "calls": [[now, "a.test:443", "GET", None, 200, 1.5, 1]],
        },
        "/api/push/{token}": {"status": "up", "msg": "m"},
        "/api/agent/results": {
            "protocol": 1,
            "id": secrets.token_hex(16),
            "location": "branch-1",
            "sent_at": now,
            "agent": "host:1",
            "version": "1.0",
            "results": [
                {
                    "monitor": "remote",
                    "ts": now,
                    "ok": False,
                    "kind": "connect.refused",
                    "detail": "refused",
                    "host": "127.0.0.1",
                    "conditions": ["[STATUS] == 200"],
                }
            ],
            "cannot_run": [{"monitor": "remote", "why": "w", "since": now}],
        },
    }
    return json.loads(json.dumps(bodies.get(target.route, {}))), params


def _put(document: Any, field: Path_, text: str) -> Any:
    """``document`` with the string at ``field`` replaced by ``text`` (made as needed)."""
    if not field:
        return text
    head, rest = field[0], field[1:]
    if isinstance(head, int):
        items = list(document) if isinstance(document, list) else []
        while len(items) <= head:
            items.append({} if rest and isinstance(rest[0], str) else [] if rest else "")
        items[head] = _put(items[head], rest, text)
        return items
    mapping = dict(document) if isinstance(document, dict) else {}
    mapping[head] = _put(mapping.get(head, {} if rest else ""), rest, text)
    return mapping


def _encoded(text: str) -> str:
    """``text`` percent-encoded as its UTF-8 bytes, a lone surrogate's too (which is not
    UTF-8: what a client that writes it anyway sends)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def _form(fields: dict[str, Any]) -> bytes:
    pairs = []
    for key, value in fields.items():
        for one in value if isinstance(value, list) else [value]:
            pairs.append(f"{_encoded(key)}={_encoded(str(one))}")
    return "&".join(pairs).encode()


def exercise(running: Running, target: Target, text: str) -> tuple[int, str, bytes]:
    """Send ``target``'s operation with ``text`` at its field."""
    body, params = base(target, running)
    if target.where == "path":
        params[str(target.field[0])] = text
    route = target.route
    for name in ("name", "id", "token"):
        route = route.replace("{" + name + "}", _encoded(params[name]))
    query = {k: params[k] for k in ("status", "location", "wait")}
    scope = SCOPES.get(target.route, "read" if target.method == "GET" else "write")
    wanted = {p["name"] for p in _parameters(target) if p["in"] == "query"}
    query = {k: v for k, v in query.items() if k in wanted}
    if target.where == "query":
        query[str(target.field[0])] = text
    url = route + ("?" + _form(query).decode() if query else "")
    if target.method == "GET":
        return send(running, "GET", url, scope)
    if target.where == "json":
        data = json.dumps(_put(body, target.field, text)).encode()  # a surrogate: \ud800
        return send(running, "POST", url, scope, data, "application/json")
    if target.where == "form" or target.route == "/api/push/{token}":
        fields = _put(body, target.field, text) if target.where == "form" else body
        return send(running, "POST", url, scope, _form(fields), FORM)
    return send(running, "POST", url, scope, json.dumps(body).encode(), "application/json")


def _parameters(target: Target) -> list[dict[str, Any]]:
    operation = DOCUMENT["paths"][target.route][target.method.lower()]
    parameters: list[dict[str, Any]] = operation.get("parameters", [])
    return parameters


READS: Final = (
    "/api/status",
    "/api/incidents",
    "/api/monitors/web",
    "/api/monitors/remote",
    "/api/audit",
    "/api/maintenance",
    "/api/silences",
    "/api/agents",
    "/api/alerts/suppressed",
)


def every_read_answers(running: Running) -> None:
    for path in (*READS, f"/api/incidents/{running.incident}"):
        status, _, body = send(running, "GET", path, "read")
        assert status == 200, (path, status, body[:300])
        json.loads(body)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(target=st.sampled_from(TARGETS), text=TEXTS)
def test_any_text_in_any_field_is_taken_or_a_json_4xx(
    running: Running, target: Target, text: str
) -> None:
    """Any code points in any text field: 2xx (303 for a form) or a JSON 4xx, never a
    500; and what was taken breaks no read (checked after each request that was taken)."""
    status, kind, body = exercise(running, target, text)
    assert status < 500, (str(target), text, status, body[:300])
    if status >= 400:
        assert kind.startswith("application/json"), (str(target), status, body[:200])
        assert "error" in json.loads(body), (str(target), body[:200])
    elif target.method == "POST":
        assert status < 300 or (status == 303 and target.where == "form"), (str(target), status)
        every_read_answers(running)


def test_every_read_route_answers_after_the_property(running: Running) -> None:
    """After every request of the property above (the same module's monitor), every read
    route answers 200 with JSON."""
    every_read_answers(running)


def test_the_document_has_text_fields_to_drive() -> None:
    """The property drives the document's text fields: the notes, reasons, comments,
    matchers, updates, the report's calls, the push's msg and the agents' batch."""
    shown = {str(t) for t in TARGETS}
    for expected in (
        "POST /api/monitors/{name}/pause json reason",
        "POST /api/incidents/{id}/notes json text",
        "POST /api/silences form comment",
        "POST /api/report json calls.0.1",
        "GET /api/push/{token} query msg",
        "POST /api/push/{token} form msg",
        "POST /api/agent/results json agent",
        "POST /api/agent/results json cannot_run.0.why",
        "POST /api/agent/results json results.0.detail",
        "GET /api/status query match",
    ):
        assert expected in shown, expected


@pytest.mark.parametrize(
    ("method", "url", "scope", "says"),
    [
        ("GET", f"/api/push/{PUSH_TOKEN}?status=up&msg=a%00b", None, "msg: holds a control"),
        ("GET", "/api/agent/assignment?location=branch-1&version=%EF%BF%BF", "agent", "version:"),
        ("GET", "/api/agents?x=%1B", "read", "x: holds a control character (U+001B)"),
    ],
)
def test_a_query_no_store_can_carry_is_refused_in_every_shape(
    running: Running, method: str, url: str, scope: str | None, says: str
) -> None:
    """A query's text passes the gate whichever process took the request (a worker
    forwards it to the coordinator whole): a JSON 400 naming the parameter."""
    status, kind, body = send(running, method, url, scope)
    assert (status, kind.split(";")[0]) == (400, "application/json"), body[:200]
    assert json.loads(body)["error"].startswith(says)
