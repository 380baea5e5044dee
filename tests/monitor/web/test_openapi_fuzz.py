"""The OpenAPI document is the contract (issue 45, section 6): Schemathesis, property-based
testing from ``/api/openapi.json``, run against a real ``tether monitor`` on loopback, in
one process and with ``workers: 2``, as every principal the document knows: no token, a
token of each scope (read, write, report, agent) and a login session with its CSRF token.

Every check Schemathesis has is on (``--checks all``: no 5xx, every status, content type,
header and body as documented, invalid data refused, valid data taken, a missing
credential a 401, only the documented methods in ``Allow``...), with positive and
negative data: every boundary and malformed value of each parameter and body (the
coverage phase) of the operations the principal may reach, a few examples of every
operation (the fuzzing phase, ``MAX_EXAMPLES``), and sequences that follow the document's
links (the stateful phase).  Seeded (``SEED``), so a run is the same run each time; about
a minute of CPU a shape on a quiet machine (the test prints each run's).  The few
operations whose valid data the document's schemas cannot tell from invalid (a window's
end must be ahead of now; a matcher's regular expression must compile) have their rule
named below and the 400 it gives accepted for them alone (``SEMANTIC``).

The monitor's own log is read after each run: a request Schemathesis sent must never
have put a traceback in it.

On e1487cc the same runs found 64 failures in 3,519 test cases with ``workers: 2``
(write 14, session 16, report 12, agent 12, nobody 7, read 3: ST102 a 500 for a multipart
body without its boundary, ST105 text/plain errors, ST205 ``Allow`` naming GET on the
actions' paths, ST203 a session's 403 where the agents' routes take a token alone, ST103
statuses the document did not list, ST201 and ST202 a document that was not the
server's rules), and as many in one process.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import pytest

from tests.helpers.logins import FAST, PASSWORD
from tests.helpers.ports import free_port
from tests.helpers.processes import wait_for
from tests.helpers.tether_processes import SRC, monitor
from tether.lab import Lab
from tether.monitor.config._passwords import hash_password, hash_token, new_token

SEED: Final = 20451
MAX_EXAMPLES: Final = 12
"""Test cases an operation and phase, at most (Schemathesis's ``--max-examples``)."""
TOKENS: Final = {scope: new_token() for scope in ("read", "write", "report", "agent")}
PUSH_TOKEN: Final = "openapi-fuzz-push-token-01"
PRINCIPALS: Final = ("nobody", "read", "write", "report", "agent", "session")
SHAPES: Final = {"one-process": 1, "workers-2": 2}
SEMANTIC: Final = {
    ("GET", "/api/status"): "match: a matcher's regular expression must compile and not "
    "backtrack; a label name must be one",
    ("POST", "/api/maintenance"): "a window's monitors must be configured; until must be "
    "ahead of now and within 366 days",
    ("POST", "/api/silences"): "a matcher's regular expression must compile and not backtrack; "
    "one matcher must need a value; ends after starts, within 90 days",
    ("POST", "/api/report"): "a call's endpoint must be printable (str.isprintable)",
    ("POST", "/api/agent/results"): "each result is one of the agent wire's checks, of a "
    "monitor placed at the location",
}
"""Operations whose schema-valid data may still be a 400, and the rule it breaks: the
positive-data check takes their 400 (and no other operation's)."""


@dataclass
class Running:
    """A monitor of the shape, and what its runs need: its port, the log, the ids the
    runs fill in, a session and its CSRF token."""

    port: int
    log: Path
    document: Path
    known: dict[str, str] = field(default_factory=dict)
    session: tuple[str, str] = ("", "")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def configuration(tmp: Path, lab: Lab, port: int, workers: int) -> Path:
    """Users, a token of each scope, a push monitor, an incident to be, an objective and
    an agent location."""
    config = {
        "storage": {"path": str(tmp / "tether.db")},
        "workers": workers,
        "server": {"listen": f"127.0.0.1:{port}"},
        "users": [{"name": "alice", "password_hash": hash_password(PASSWORD, n=FAST)}],
        "tokens": [
            {"name": f"t-{scope}", "hash": hash_token(token), "scope": scope}
            | ({"location": "branch-1"} if scope == "agent" else {})
            for scope, token in TOKENS.items()
        ],
        "locations": ["hq", "branch-1"],
        "defaults": {"locations": ["hq"]},
        "monitors": [
            {"name": "web", "url": lab["healthy"].url, "interval": "1s", "timeout": "500ms"},
            {"name": "writes", "url": lab["healthy"].url, "interval": "1h", "timeout": "2s"},
            {"name": "down", "url": lab["refused"].url, "interval": "1s", "failure_threshold": 1},
            {"name": "beat", "type": "push", "token": PUSH_TOKEN, "interval": "1h"},
        ],
        "objectives": [{"name": "web-up", "monitors": ["web"], "target": "99%"}],
    }
    path = tmp / "tether.yaml"
    path.write_text(json.dumps(config))
    return path


def ask(running: Running, path: str, headers: dict[str, str] | None = None) -> Any:
    import urllib.request

    request = urllib.request.Request(running.base + path, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return json.loads(r.read())
    except OSError:
        return None


def login(running: Running) -> tuple[str, str]:
    """alice's session cookie and the CSRF token of its pages."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
    form = f"user=alice&password={quote(PASSWORD)}"
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Origin": running.base}
    conn.request("POST", "/login", body=form, headers=headers)
    answer = conn.getresponse()
    answer.read()
    cookie = answer.headers["Set-Cookie"].split(";")[0]
    conn.request("GET", "/", headers={"Cookie": cookie})
    page = conn.getresponse().read().decode()
    conn.close()
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return cookie, found.group(1)


@pytest.fixture(scope="module", params=list(SHAPES))
def running(
    request: pytest.FixtureRequest, lab: Lab, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    """The shape's monitor, its incident open, its document saved as it serves it."""
    tmp = tmp_path_factory.mktemp(request.param)
    port = free_port()
    config = configuration(tmp, lab, port, SHAPES[request.param])
    log = tmp / "monitor.log"
    reader = {"Authorization": f"Bearer {TOKENS['read']}"}
    with monitor(config, log, env={**os.environ, "TETHER_LOCATION": "hq"}) as proc:
        here = Running(port, log, tmp / "openapi.json")
        incidents = wait_for(
            lambda: (ask(here, "/api/incidents?open=1", reader) or {}).get("incidents"),
            60,
            [proc],
        )
        here.known["incident"] = str(incidents[0]["id"])
        here.document.write_text(json.dumps(ask(here, "/api/openapi.json", reader)))
        here.session = login(here)
        yield here
    assert proc.returncode == 0, log.read_text()[-2000:]


def headers_of(who: str, running: Running) -> list[str]:
    if who in TOKENS:
        return ["-H", f"Authorization: Bearer {TOKENS[who]}"]
    if who == "session":
        cookie, csrf = running.session
        return [
            "-H",
            f"Cookie: {cookie}",
            "-H",
            f"X-CSRF-Token: {csrf}",
            "-H",
            f"Origin: {running.base}",
        ]
    return []


REJECTED: Final = '["400", "401", "403", "404", "405", "409", "413", "415", "422", "429"]'
"""What invalid data may be answered: Schemathesis's own list, and 413 (a body past its
limits, as more than 5,000 calls of a report, is too large, docs/security.md)."""
FIXED: Final = {
    "/api/monitors/{name}": {"name": "web"},
    "/api/series/{name}": {"name": "web"},
    "/api/objectives/{name}": {"name": "web-up"},
    "/api/monitors/{name}/pause": {"name": "writes"},
    "/api/monitors/{name}/resume": {"name": "writes"},
    "/api/push/{token}": {"token": PUSH_TOKEN},
    "/api/agent/assignment": {"location": "branch-1"},
}
"""Names that exist, so that operations reach past their 404s (strings: a name has no
invalid form to be generated)."""


def reaches(who: str, method: str, path: str, operation: dict[str, Any]) -> bool:
    """Whether ``who`` may do the operation: its coverage phase (every boundary and
    every malformed value of every parameter) runs where it reaches past the login; the
    rest of the document is fuzzed as it, a few examples an operation, for its 401s and
    403s."""
    if path.startswith("/api/agent/"):
        return who == "agent"
    if operation.get("security") == []:
        return True
    if path == "/api/report":
        return who in ("report", "write", "session")
    return who in ("write", "session") or (who == "read" and method == "GET")


def config_file(running: Running, who: str, tmp: Path) -> Path:
    """The run's schemathesis.toml: one entry an operation, with the names that exist
    (:data:`FIXED`), the 400 of :data:`SEMANTIC` taken as valid data's answer, and the
    coverage phase where ``who`` reaches (:func:`reaches`)."""
    accepted = '["2xx", "3xx", "400", "401", "403", "404", "409", "429"]'
    lines = [
        f"seed = {SEED}",
        "[generation]",
        f"max-examples = {MAX_EXAMPLES}",
        'database = "none"',
        # A body over its limits (more than 5,000 calls) is refused as too large.
        "[checks.negative_data_rejection]",
        f"expected-statuses = {REJECTED}",
    ]
    document = json.loads(running.document.read_text())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            covered = reaches(who, method.upper(), path, operation)
            lines += [
                "[[operations]]",
                f'include-path = "{path}"',
                f'include-method = "{method.upper()}"',
                f"phases.coverage.enabled = {str(covered).lower()}",
            ]
            if (method.upper(), path) in SEMANTIC:
                lines.append(f"checks.positive_data_acceptance.expected-statuses = {accepted}")
            if path in FIXED:
                pairs = ", ".join(f'"{k}" = "{v}"' for k, v in FIXED[path].items())
                lines.append(f"parameters = {{ {pairs} }}")
    path = tmp / f"schemathesis-{who}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass(frozen=True, slots=True)
class Figures:
    operations: int
    generated: int
    failures: int
    text: str
    cpu: float
    """Seconds of CPU the run took (Schemathesis's own, not the monitor's)."""


def figures(text: str, cpu: float) -> Figures:
    """Schemathesis's summary, read from its last lines."""
    tested = re.search(r"Tested: (\d+)", text)
    cases = re.search(r"(\d+) generated(?:, (\d+) found)?", text)
    assert tested is not None, text[-3000:]
    assert cases is not None, text[-3000:]
    found = int(cases.group(2) or 0)
    return Figures(int(tested.group(1)), int(cases.group(1)), found, text, cpu)


def schemathesis(running: Running, who: str, tmp: Path) -> Figures:
    args = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config_file(running, who, tmp)),
        "--no-color",
        "run",
        str(running.document),
        "--url",
        running.base,
        "--checks",
        "all",
        "--mode",
        "all",
        *os.environ.get("TETHER_FUZZ_ARGS", "--workers 1").split(),
        "--request-timeout",
        "20",
        *headers_of(who, running),
    ]
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": SRC, "SCHEMATHESIS_HOOKS": ""},
        check=False,
        cwd=tmp,
    )
    text = done.stdout + done.stderr
    (tmp / f"schemathesis-{who}.txt").write_text(text)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime
    return figures(text, cpu)


@pytest.mark.timeout(600)  # a minute or less alone; the suite's other workers share the cores
@pytest.mark.parametrize("who", PRINCIPALS)
def test_schemathesis_finds_no_server_error_and_no_non_conformance(
    running: Running, who: str, tmp_path: Path
) -> None:
    """Every operation of the document, fuzzed as this principal with every check,
    conforms to the document: no failure, and no traceback in the monitor's log."""
    before = running.log.read_text()
    found = schemathesis(running, who, tmp_path)
    print(
        f"{who}: {found.operations} operations, {found.generated} examples, "
        f"{found.failures} failures, {found.cpu:.1f} s of CPU"
    )
    document = json.loads(running.document.read_text())
    assert found.operations == sum(len(ops) for ops in document["paths"].values())
    failures = found.text.partition("=== FAILURES ===")[2].partition("=== WARNINGS ===")[0]
    assert found.failures == 0, failures[:20000]
    logged = running.log.read_text()[len(before) :]
    assert "Traceback" not in logged, logged[-5000:]
