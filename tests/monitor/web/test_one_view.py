"""One view (issue 44, section 5): ``tether status --json`` is ``/api/status`` for the same
store, in every deployment shape, with a ``tether agent`` reporting, and the dashboard
says what that document says.

Three shapes, as the access matrix runs them (tests/monitor/web/test_access_matrix.py):
``one-process``, ``workers-2`` (the workers listen and forward to the coordinator) and
``two-instances`` (two processes at one location on one PostgreSQL, the session's
server).  Each runs over the lab with locations ``local`` (the instances), ``branch-1``
(a real ``tether agent``, reporting to the first instance) and ``branch-2`` (an agent
token, no agent: never live).  Its monitors check every 30 s (each location's first
check at a random point of that): ``up`` and ``down`` at every location, ``tls`` (a
certificate) and ``solo`` at ``local`` alone; the documents are compared when every
instance answered the same before and after ``tether status`` ran, so that no check
fell between.

Measured on main before the fix: ``tether status`` counted every location live and read
``local: unknown`` (a lone instance wrote no location state), while ``/api/status`` said
``branch-1`` was not live on its cluster line and its rows said it was, and the
dashboard drew ``branch-1 (no live instance)`` in red while the agent delivered checks;
the certificate, the instances and the newest check (an instance's own, not the
store's) differed too.  Every field is compared but those of
:data:`~tether.monitor.web.documents._status.BY_THE_MOMENT`, the one list of what is about the
moment asked or who answers.  Real processes on real time: every wait polls with a
bound (tests/helpers/processes.py).
"""

from __future__ import annotations

import copy
import html
import json
import os
import re
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

from tests.helpers import processes
from tests.helpers.ports import free_port
from tests.helpers.tether_processes import SRC, monitor, tether
from tether.lab import Lab
from tether.monitor.config._passwords import hash_token, new_token
from tether.monitor.web.documents._status import BY_THE_MOMENT

READ_TOKEN: Final = new_token()
AGENT_TOKEN: Final = new_token()
SILENT_TOKEN: Final = new_token()
"""branch-2's: no agent ever uses it."""
SHAPES: Final = ("one-process", "workers-2", "two-instances")
MONITORS: Final = ("up", "down", "tls", "solo")

pytestmark = pytest.mark.timeout(300)  # a shape settles within a check interval or two


def configuration(tmp: Path, lab: Lab, port: int, storage: dict[str, str], workers: int) -> Path:
    every = {"interval": "30s", "timeout": "2s", "failure_threshold": 1, "success_threshold": 1}
    config = {
        "storage": storage,
        "workers": workers,
        "server": {"listen": f"127.0.0.1:{port}"},
        "tokens": [
            {"name": "reader", "hash": hash_token(READ_TOKEN), "scope": "read"},
            *(
                {"name": name, "hash": hash_token(token), "scope": "agent", "location": where}
                for name, token, where in (
                    ("b1", AGENT_TOKEN, "branch-1"),
                    ("b2", SILENT_TOKEN, "branch-2"),
                )
            ),
        ],
        "locations": ["local", "branch-1", "branch-2"],
        "agents": {"lease": "6s", "batch_every": "2s"},
        "monitors": [
            {"name": "up", "url": lab["healthy"].url, **every},
            {"name": "down", "url": lab["refused"].url, **every},
            {
                "name": "tls",
                "url": lab["tls_ok"].url,
                "tls": {"ca_file": str(lab.ca_file)},
                "locations": ["local"],
                **every,
            },
            {"name": "solo", "url": lab["healthy"].url, "locations": ["local"], **every},
        ],
    }
    path = tmp / f"tether-{port}.yaml"
    path.write_text(json.dumps(config))
    return path


@dataclass
class Shape:
    name: str
    config: Path
    ports: list[int]
    procs: list[Any]

    def get(self, port: int, path: str) -> tuple[int, str]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {READ_TOKEN}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, r.read().decode()
        except OSError:  # not listening yet
            return 0, ""

    def api(self, port: int) -> dict[str, Any] | None:
        status, body = self.get(port, f"/api/status?per_page={len(MONITORS)}")
        return json.loads(body) if status == 200 else None

    def cli(self) -> dict[str, Any]:
        code, out, err = tether("status", "--json", "--config", str(self.config))
        assert code in (0, 1), err
        doc: dict[str, Any] = json.loads(out)
        return doc


def settled(doc: dict[str, Any] | None) -> bool:
    """Every monitor has a state, branch-1 is live, and it has seen the monitors placed
    there."""
    if doc is None or "unknown" in doc["monitors"].values():
        return False
    if doc["cluster"]["live_locations"] != ["local", "branch-1"]:
        return False
    seen = [w for r in doc["rows"] for w in r.get("locations", ()) if w["location"] == "branch-1"]
    return len(seen) == 2 and all(w["state"] != "unknown" for w in seen)


@pytest.fixture(scope="module", params=SHAPES)
def shape(
    request: pytest.FixtureRequest, lab: Lab, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shape]:
    tmp = tmp_path_factory.mktemp(request.param)
    if request.param == "two-instances":
        server = request.getfixturevalue("postgres_server")  # skips, or fails when required
        storage = {"postgres": server.dsn(server.new_schema())}
        counts = [1, 1]
    else:
        storage = {"path": str(tmp / "tether.db")}
        counts = [2 if request.param == "workers-2" else 1]
    env = {**os.environ, "PYTHONPATH": SRC, "TETHER_LOCATION": "local"}
    with ExitStack() as stack:
        ports, procs = [], []
        config = tmp / "none"
        for i, workers in enumerate(counts):
            port = free_port()
            config = configuration(tmp, lab, port, storage, workers)
            procs.append(stack.enter_context(monitor(config, tmp / f"monitor-{i}.log", env=env)))
            ports.append(port)
        token = tmp / "agent.token"
        token.write_text(AGENT_TOKEN + "\n")
        agent = [
            sys.executable, "-m", "tether.cli", "agent", "--location", "branch-1",
            "--server", f"http://127.0.0.1:{ports[0]}", "--token-file", str(token),
            "--spool", str(tmp / "agent.spool"), "--name", "branch-1-agent",
        ]  # fmt: skip
        procs.append(stack.enter_context(processes.running(agent, tmp / "agent.log", env=env)))
        s = Shape(request.param, config, ports, procs)
        for port in ports:
            processes.wait_for(lambda p=port: settled(s.api(p)), 90, procs)
        yield s


def _drop(doc: Any, path: list[str]) -> None:
    """Take the field at ``path`` (``*``: each item of a list) out of ``doc``."""
    head, *rest = path
    if head == "*":
        for item in doc:
            _drop(item, rest)
    elif isinstance(doc, dict) and head in doc:
        if rest:
            if doc[head] is not None:
                _drop(doc[head], rest)
        else:
            del doc[head]


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` without the fields of :data:`BY_THE_MOMENT`."""
    out = copy.deepcopy(doc)
    for path in BY_THE_MOMENT:
        _drop(out, path.split("."))
    return out


def differences(ours: Any, theirs: Any, at: str = "") -> list[str]:
    """Where two documents differ, as ``path: ours != theirs`` lines."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out = []
        for key in sorted(set(ours) | set(theirs)):
            absent = "<absent>"
            out += differences(ours.get(key, absent), theirs.get(key, absent), f"{at}.{key}")
        return out
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        pairs = enumerate(zip(ours, theirs, strict=True))
        return [d for i, (a, b) in pairs for d in differences(a, b, f"{at}[{i}]")]
    return [] if ours == theirs else [f"{at}: {ours!r} != {theirs!r}"]


def test_tether_status_json_is_the_api_status_of_every_instance(shape: Shape) -> None:
    """``tether status --json`` and each instance's ``/api/status`` for the same view are
    one document, field for field, but for those by nature about the moment or about who
    answers (BY_THE_MOMENT): the states, each location's state and liveness (branch-1
    live through its agent, branch-2 not), the quorums, the newest checks, the
    certificate, the instances, the agents and the open incidents."""
    last: list[str] = []

    def answers() -> list[dict[str, Any]]:
        found = [shape.api(port) for port in shape.ports]
        assert all(doc is not None for doc in found)
        return [comparable(doc) for doc in found if doc is not None]

    def same() -> bool:
        before = answers()
        cli = comparable(shape.cli())
        if answers() != before:
            return False  # a check came in meanwhile: ask again
        last[:] = [
            f"{port}{line}"
            for port, api in zip(shape.ports, before, strict=True)
            for line in differences(cli, api)
        ]
        return not last

    try:
        processes.wait_for(same, 120, shape.procs)
    except AssertionError:
        pytest.fail(f"{shape.name}: tether status and /api/status differ:\n" + "\n".join(last))
    doc = shape.cli()
    assert doc["monitors"] == {"up": "up", "down": "down", "tls": "up", "solo": "up"}
    assert doc["cluster"]["live_locations"] == ["local", "branch-1"]
    assert [(a["location"], a["live"], a["agent"]) for a in doc["cluster"]["agents"]] == [
        ("branch-1", True, "branch-1-agent"),
        ("branch-2", False, None),
    ]
    assert doc["cluster"]["live"] == {"local": len(shape.ports), "branch-1": 0, "branch-2": 0}
    rows = {r["name"]: r for r in doc["rows"]}
    assert [(w["location"], w["state"], w["live"]) for w in rows["down"]["locations"]] == [
        ("local", "down", True),
        ("branch-1", "down", True),
        ("branch-2", "unknown", False),
    ]
    assert rows["down"]["quorum"]["counted"] == 2
    assert rows["tls"]["certificate"] is not None
    assert all(r["last_check"] is not None for r in rows.values())


def test_the_dashboard_says_what_tether_status_says(shape: Shape) -> None:
    """Each instance's overview draws the document tether status writes: its counts, each
    location of each monitor in its state (branch-2 not counted), and the cluster's line
    with branch-1 live through its agent and branch-2 in red (the dashboard drew
    "branch-1 (no live instance)" in red while the agent delivered checks).

    The document and the pages are read one after the other, and a check or a lease
    can land between the reads (a location's liveness moved under a loaded machine's
    suite), so they are read again until one document and the pages read after it
    agree, for two minutes at most; a page that never draws the document fails with
    what it drew otherwise."""
    last: list[str] = []

    def agree() -> bool:
        doc = shape.cli()
        last[:] = [f"{port}: {line}" for port in shape.ports for line in _undrawn(shape, port, doc)]
        return not last

    try:
        processes.wait_for(agree, 120, shape.procs)
    except AssertionError:
        pytest.fail(f"{shape.name}: the overview does not draw tether status:\n" + "\n".join(last))


def _undrawn(shape: Shape, port: int, doc: dict[str, Any]) -> list[str]:
    """What instance ``port``'s overview draws otherwise than ``doc`` says."""
    status, page = shape.get(port, "/")
    if status != 200:
        return [f"GET / answered {status}"]
    out = []
    summary = re.search(r'<p id="summary"[^>]*>(.*?)</p>', page, re.S)
    said = html.unescape(re.sub(r"<[^>]+>", "", summary.group(1))) if summary else None
    counts = ", ".join(f"{n} {state}" for state, n in doc["summary"].items() if n)
    if said != f"{sum(doc['summary'].values())} monitors: {counts}":
        out.append(f"summary {said!r}, the document's {doc['summary']}")
    for row in doc["rows"]:
        marker = f'data-monitor="{row["name"]}"'
        if marker not in page:
            out.append(f"no row for {row['name']}")
            continue
        part = page.split(marker, 1)[1].split("</tr>", 1)[0]
        for where in row.get("locations", ()):
            shown = where["state"] if where["live"] else "not counted"
            place = (
                f'data-location="{where["location"]}" title="[^"]*">'
                f"{where['location']} {shown}</span>"
            )
            if not re.search(place, part):
                out.append(f"{row['name']}: no {where['location']} {shown!r}")
    line = re.search(r'<p id="cluster"[^>]*>(.*?)</p>', page, re.S)
    if line is None:
        return [*out, "no cluster line"]
    dead = re.findall(r'<span class="dead">([^<]*)</span>', line.group(1))
    live = doc["cluster"]["live_locations"]
    if [part.split(" ")[0] for part in dead] != [
        loc for loc in doc["cluster"]["live"] if loc not in live
    ]:
        out.append(f"in red {dead}, the document's live locations {live}")
    if "branch-1 (agent)" not in line.group(1):
        out.append("no 'branch-1 (agent)' in the cluster line")
    if "branch-2 (no word from its agent)" not in dead:
        out.append("branch-2 not in red as without word from its agent")
    return out
