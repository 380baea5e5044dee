"""Parse after authorize, and every body error a JSON 400 (issue 45, section 5): real
requests on real sockets to the real app (``make_app``) behind the server's own guard
(``start_guarded``, as ``tether monitor`` serves it), with users and tokens of every
scope configured.

On main, a ``Content-Type: multipart/form-data`` without its boundary was a 500 with a
traceback on every write route and on the public push route, because the body was read
(``request.post()``, which raised ``ValueError``) before the token was; a query number
was refused as text/plain where the document promises the JSON ``Error``; an incident id
that is not a number was aiohttp's plain-text 404; a body whose framing or encoding did
not decode was a 500, and aiohttp's parser logged a traceback for each such request."""

from __future__ import annotations

import gzip
import json
import logging
import socket
from collections.abc import Iterator
from typing import Any, Final

import pytest
import yaml
from aiohttp import web

from tests.helpers.logins import FAST, PASSWORD
from tests.helpers.web_harness import EPOCH, ServedRunner
from tether.lab import Lab
from tether.monitor.config import parse_config
from tether.monitor.config._passwords import hash_password, hash_token, new_token
from tether.monitor.store import SQLiteStore
from tether.monitor.web._limits import ServerLimits, on_socket, start_guarded
from tether.monitor.web._listen import listening_sockets
from tether.monitor.web._protocol_log import BURST, ProtocolLog

READ_TOKEN: Final = new_token()
WRITE_TOKEN: Final = new_token()
AGENT_TOKEN: Final = new_token()
PUSH_TOKEN: Final = "body-errors-push-token-0123"
NO_BOUNDARY: Final = {"Content-Type": "multipart/form-data"}
WRITE_ROUTES: Final = (
    "/api/monitors/web/pause",
    "/api/incidents/{incident}/acknowledge",
    "/api/incidents/{incident}/notes",
    "/api/maintenance",
    "/api/maintenance/1/close",
    "/api/silences",
    "/api/silences/1/expire",
)


class Guarded(ServedRunner):
    """The app behind the server's guard and its protocol log, as ``tether monitor``
    serves it; the log's lines kept in ``lines``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.lines: list[logging.LogRecord] = []
        logger = logging.Logger("body-errors")
        logger.addHandler(_Keep(self.lines))
        self.protocol_log = ProtocolLog(logger, clock=lambda: self.now)
        super().__init__(*args, **kwargs)

    async def _serve(self, host: str, tls: Any, unix: str | None) -> web.AppRunner:
        listens = [on_socket(sock) for sock in listening_sockets(host, 0)]
        return await start_guarded(self.app(), listens, ServerLimits(), self.protocol_log)


class _Keep(logging.Handler):
    def __init__(self, kept: list[logging.LogRecord]) -> None:
        super().__init__()
        self.kept = kept

    def emit(self, record: logging.LogRecord) -> None:
        self.kept.append(record)


def configuration(lab: Lab) -> Any:
    return parse_config(
        yaml.safe_dump(
            {
                "users": [{"name": "alice", "password_hash": hash_password(PASSWORD, n=FAST)}],
                "tokens": [
                    {"name": "reader", "hash": hash_token(READ_TOKEN), "scope": "read"},
                    {"name": "writer", "hash": hash_token(WRITE_TOKEN), "scope": "write"},
                    {
                        "name": "b1",
                        "hash": hash_token(AGENT_TOKEN),
                        "scope": "agent",
                        "location": "branch-1",
                    },
                ],
                "locations": ["hq", "branch-1"],
                "defaults": {"locations": ["hq"]},
                "monitors": [
                    {"name": "web", "url": lab["healthy"].url, "interval": "1h"},
                    {
                        "name": "down",
                        "url": lab["refused"].url,
                        "interval": "1h",
                        "failure_threshold": 1,
                    },
                    {"name": "beat", "type": "push", "token": PUSH_TOKEN, "interval": "1h"},
                ],
            }
        )
    )


@pytest.fixture(scope="module")
def served(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guarded]:
    db = tmp_path_factory.mktemp("body") / "t.db"
    s = Guarded(configuration(lab), SQLiteStore(db), location="hq")
    s.now = EPOCH + 10
    s.check("web", "down")
    try:
        yield s
    finally:
        s.close()


def incident(s: Guarded) -> int:
    status, _, body = s.get("/api/incidents?open=1")
    return int(json.loads(body)["incidents"][0]["id"]) if status == 200 else 1


def raw(
    s: Guarded, data: bytes, *, timeout: float = 10, then: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """``data`` sent as it is on a connection of its own; the answer's status, headers and
    body (the connection read to its end); ``then`` sent after the answer has come."""
    with socket.create_connection((s.host, s.port), timeout=timeout) as conn:
        conn.sendall(data)
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = conn.recv(65536)
            assert chunk, got
            got += chunk
        head, _, body = got.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        length = int(headers.get("Content-Length", "0"))
        while len(body) < length:
            chunk = conn.recv(65536)
            assert chunk
            body += chunk
        if then:  # what the server reads away before it closes (aiohttp's lingering)
            conn.sendall(then)
            while conn.recv(65536):
                pass
        return int(lines[0].split()[1]), headers, body


def request(
    s: Guarded, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> bytes:
    sent = {"Host": f"{s.host}:{s.port}", "Connection": "close", **headers}
    if "Transfer-Encoding" not in sent:
        sent.setdefault("Content-Length", str(len(body)))
    head = "".join(f"{k}: {v}\r\n" for k, v in sent.items())
    return f"{method} {path} HTTP/1.1\r\n{head}\r\n".encode() + body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def json_error(answer: tuple[int, dict[str, str], bytes]) -> tuple[int, str]:
    status, headers, body = answer
    assert headers["Content-Type"].startswith("application/json"), (status, headers, body)
    doc = json.loads(body)
    return status, doc["error"]


@pytest.mark.parametrize("route", WRITE_ROUTES)
def test_a_multipart_body_without_its_boundary_is_a_json_400(served: Guarded, route: str) -> None:
    """A write token's multipart body with no boundary is a JSON 400 saying so on every
    write route (it was a 500 with a traceback)."""
    path = route.format(incident=incident(served))
    sent = request(served, "POST", path, {**bearer(WRITE_TOKEN), **NO_BOUNDARY}, b"{}")
    status, error = json_error(raw(served, sent))
    assert status == 400
    assert error.startswith("the body is not a multipart form")


def test_the_public_push_route_answers_a_malformed_body_with_a_json_400(
    served: Guarded,
) -> None:
    """POST /api/push/TOKEN, public (its token is its credential), answers a multipart
    body with no boundary, or a form that is not UTF-8, with its JSON 400 (was a 500);
    an unknown token is a 404 before anything is read."""
    path = f"/api/push/{PUSH_TOKEN}"
    sent = request(served, "POST", path, NO_BOUNDARY, b"status=up")
    status, headers, body = raw(served, sent)
    assert (status, json.loads(body)["ok"]) == (400, False)
    assert headers["Content-Type"].startswith("application/json")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _, body = raw(served, request(served, "POST", path, form, b"msg=%ff%fe"))
    assert (status, json.loads(body)["error"]) == (
        400,
        "the form is not utf-8: send its fields percent-encoded UTF-8",
    )
    sent = request(served, "POST", "/api/push/no-such-token-000", NO_BOUNDARY, b"x")
    assert raw(served, sent)[0] == 404
    assert raw(served, request(served, "POST", path, form, b"status=up"))[0] == 200


@pytest.mark.parametrize(
    ("who", "expected"),
    [({}, 401), (bearer(READ_TOKEN), 403), (bearer(AGENT_TOKEN), 403)],
    ids=["nobody", "read-token", "agent-token"],
)
def test_a_change_is_refused_before_its_body_is_read(
    served: Guarded, who: dict[str, str], expected: int
) -> None:
    """A change announced with a 1 KiB body that never comes is answered at once by who
    may not make it: the body is not waited for (nor parsed) before the token is read
    (on main the server waited for the body, and the client gave up first)."""
    for route in WRITE_ROUTES:
        path = route.format(incident=incident(served))
        head = request(served, "POST", path, {**who, "Content-Type": "application/json"})
        head = head.replace(b"Content-Length: 0", b"Content-Length: 1024")
        status, error = json_error(raw(served, head, timeout=5, then=b"x" * 1024))
        assert status == expected, (path, error)


def test_a_sessions_form_that_cannot_be_read_is_a_json_400(served: Guarded) -> None:
    """A logged-in user's change sent as a multipart form with no boundary (its csrf
    field cannot be read) is a JSON 400, not a 500."""
    login = served.request(
        "POST",
        "/login",
        form={"user": "alice", "password": PASSWORD},
        headers={"Origin": served.base},
    )
    cookie = login.cookie()
    assert cookie is not None
    headers = {"Cookie": f"tether_session={cookie}", "Origin": served.base, **NO_BOUNDARY}
    sent = request(served, "POST", "/api/monitors/web/pause", headers, b"csrf=x")
    assert json_error(raw(served, sent))[0] == 400
    sent = request(served, "POST", "/login", {"Origin": served.base, **NO_BOUNDARY}, b"x")
    assert json_error(raw(served, sent))[0] == 400


def test_a_body_whose_encoding_does_not_decode_is_a_json_400_and_one_log_line(
    served: Guarded,
) -> None:
    """A body sent as gzip that is not gzip, on a JSON route and a form route, is a JSON
    400 saying it could not be read, logged as one line without a traceback (aiohttp's
    lingering read of it once logged one)."""
    before = len(served.lines)
    note = f"/api/incidents/{incident(served)}/notes"
    for path in (note, "/api/report"):
        headers = {**bearer(WRITE_TOKEN), "Content-Type": "application/json"}
        headers["Content-Encoding"] = "gzip"
        sent = request(served, "POST", path, headers, b"not gzip at all")
        status, error = json_error(raw(served, sent))
        assert (status, error) == (
            400,
            "the body could not be read: Can not decode content-encoding: gzip",
        )
    good = gzip.compress(json.dumps({"text": "zipped"}).encode())
    headers = {**bearer(WRITE_TOKEN), "Content-Type": "application/json"}
    sent = request(served, "POST", note, {**headers, "Content-Encoding": "gzip"}, good)
    assert raw(served, sent)[0] == 201
    new = served.lines[before:]
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in new)


def test_query_and_path_errors_of_the_api_are_json_400s(served: Guarded) -> None:
    """A limit out of range, an agent's wait that is not a number, and an incident id
    that is not one or has 19 digits are JSON 400s naming what to send (they were
    text/plain 400s and aiohttp's text 404); a wait of ten decimals is taken."""
    reader = bearer(READ_TOKEN)
    for path in (
        "/api/incidents?limit=1001",
        "/api/incidents/abc",
        "/api/incidents/1234567890123456789",
    ):
        status, error = json_error(raw(served, request(served, "GET", path, reader)))
        assert status == 400, (path, error)
    wait = "/api/agent/assignment?location=branch-1&wait="
    agent = bearer(AGENT_TOKEN)
    status, error = json_error(raw(served, request(served, "GET", wait + "soon", agent)))
    assert (status, error) == (400, "wait: give a number from 0 to 60, not 'soon'")
    assert raw(served, request(served, "GET", wait + "0.0000000001", agent))[0] == 200
    status, error = json_error(raw(served, request(served, "GET", "/api/nothing", reader)))
    assert (status, error) == (404, "Not Found")
    answer = raw(served, request(served, "GET", "/api/monitors/web/pause", reader))
    assert json_error(answer)[0] == 405
    assert answer[1]["Allow"] == "POST"


def test_a_malformed_request_is_one_log_line_and_a_flood_of_them_a_few(served: Guarded) -> None:
    """A NUL in a header is a 400 and one log line without a traceback or the header's
    value (a token here); fifty of them in a minute are BURST lines, and the first after
    the minute says how many were left out."""
    before = len(served.lines)
    served.now += 3600  # a window of its own
    bad = request(served, "GET", "/api/status", {"Authorization": f"Bearer {WRITE_TOKEN}\x00"})
    for _ in range(50):
        assert raw(served, bad)[0] == 400
    said = served.lines[before:]
    assert len(said) == BURST
    assert all(r.exc_info is None and r.levelno == logging.WARNING for r in said)
    assert said[0].getMessage() == (
        "a request from 127.0.0.1 could not be read: Invalid header value char; answered 400"
    )
    served.now += 61
    assert raw(served, bad)[0] == 400
    assert "(45 more since the last such line not logged)" in served.lines[-1].getMessage()
    assert not any(WRITE_TOKEN in r.getMessage() for r in served.lines)


def test_the_protocol_log_passes_a_handlers_error_through() -> None:
    """What is not a client's malformed request (a handler's own exception: tether's
    defect) is logged as aiohttp logs it, traceback and all."""
    kept: list[logging.LogRecord] = []
    logger = logging.Logger("pass-through")
    logger.addHandler(_Keep(kept))
    log = ProtocolLog(logger, clock=lambda: 0.0)
    try:
        raise KeyError("a defect")
    except KeyError as exc:
        log.exception("Error handling request from %s", "127.0.0.1", exc_info=exc)
    assert len(kept) == 1
    assert kept[0].exc_info is not None


def test_nothing_about_a_form_escapes_as_a_500(served: Guarded) -> None:
    """Forms aiohttp reads in ways of its own: a charset nobody knows, a field without a
    name, a file, too many fields; each a 4xx with a JSON error."""
    pause = "/api/monitors/web/resume"
    writer = bearer(WRITE_TOKEN)
    cases = [
        ("application/x-www-form-urlencoded; charset=nope", b"reason=x", 400),
        ("multipart/form-data; boundary=b", b"--b\r\n\r\nx\r\n--b--\r\n", 400),
        (
            "multipart/form-data; boundary=b",
            b'--b\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\nx\r\n--b--\r\n',
            400,
        ),
        ("application/x-www-form-urlencoded", b"&".join([b"a=1"] * 1001), 413),
    ]
    for kind, body, expected in cases:
        sent = request(served, "POST", pause, {**writer, "Content-Type": kind}, body)
        status, error = json_error(raw(served, sent))
        assert status == expected, (kind, body[:40], error)


# --- the one gate for text from outside (issue 72 §1) ------------------------------------------

UNCARRIED: Final = {
    "a lone surrogate": "x\ud800",
    "a NUL": "x\x00y",
    "an escape": "\x1b[2J",
    "DEL": "x\x7f",
    "a noncharacter": "x\uffff",
}


@pytest.mark.parametrize("text", list(UNCARRIED.values()), ids=list(UNCARRIED))
@pytest.mark.parametrize(
    ("route", "field"),
    [
        ("/api/monitors/web/pause", "reason"),
        ("/api/incidents/{incident}/notes", "text"),
        ("/api/silences", "comment"),
    ],
)
def test_text_no_store_can_carry_is_a_400_naming_the_field(
    served: Guarded, route: str, field: str, text: str
) -> None:
    """A JSON body whose text holds a lone surrogate (valid JSON: ``"\\ud800"``), a control
    character or a noncharacter is a JSON 400 naming the field, before anything is stored;
    every read route answers 200 afterwards (a lone surrogate in a pause reason had made
    /api/status, /api/incidents and /api/audit answer 500 for good)."""
    path = route.format(incident=incident(served))
    body = json.dumps({field: text, "matchers": ["monitor=web"], "until": EPOCH + 3600}).encode()
    sent = request(
        served, "POST", path, {**bearer(WRITE_TOKEN), "Content-Type": "application/json"}, body
    )
    status, error = json_error(raw(served, sent))
    assert status == 400
    assert error.startswith(f"{field}: holds ")
    for read in ("/api/status", "/api/incidents", "/api/monitors/web", "/api/audit"):
        got = raw(served, request(served, "GET", read, bearer(READ_TOKEN)))
        assert got[0] == 200, (read, got[2][:200])


def test_a_form_with_text_no_store_can_carry_is_a_400(served: Guarded) -> None:
    """The public push route's form: a control character in msg is a JSON 400 naming it."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    path = f"/api/push/{PUSH_TOKEN}"
    status, _, body = raw(served, request(served, "POST", path, form, b"status=up&msg=a%00b"))
    assert status == 400
    assert json.loads(body)["error"].startswith("msg: holds a control character (U+0000)")


def test_lines_tabs_and_right_to_left_text_are_taken(served: Guarded) -> None:
    """Free text keeps what is its own: line ends, tabs, a right-to-left mark, emoji."""
    path = f"/api/incidents/{incident(served)}/notes"
    body = json.dumps({"text": "Rolled back.\n\tשלום \u200f 🙂"}).encode()
    sent = request(
        served, "POST", path, {**bearer(WRITE_TOKEN), "Content-Type": "application/json"}, body
    )
    assert raw(served, sent)[0] in (200, 201)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("status=up&msg=a%00b", "msg: holds a control character (U+0000)"),
        ("status=up&msg=a%EF%BF%BF", "msg: holds a noncharacter"),
        ("status=up&m%1Bsg=a", "a parameter's name: holds a control character (U+001B)"),
    ],
)
def test_a_query_with_text_no_store_can_carry_is_a_400(
    served: Guarded, query: str, says: str
) -> None:
    """The public push route's query (``GET /api/push/TOKEN?msg=``) passes the same gate as
    its form: a control character or a noncharacter is a JSON 400 naming the parameter,
    and nothing is recorded (a NUL in ``msg`` was kept as the check's detail)."""

    def beats() -> bytes:
        sent = request(served, "GET", "/api/monitors/beat", bearer(READ_TOKEN))
        return raw(served, sent)[2]

    before = beats()
    status, _, body = raw(served, request(served, "GET", f"/api/push/{PUSH_TOKEN}?{query}", {}))
    assert status == 400
    assert json.loads(body)["error"].startswith(says)
    assert beats() == before
