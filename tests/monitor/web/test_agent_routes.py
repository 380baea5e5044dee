"""The agents' routes through the real HTTP server (tests/helpers/web_harness.py): the
assignment and its long poll, batches taken and refused (each hostile body one 400 line),
and the agents' list."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.agent_world import TOKENS, agent_config
from tests.helpers.processes import wait_for
from tests.helpers.web_harness import ServedRunner
from tether.monitor._agent_wire import AgentCheck, Assignment, Batch, Receipt, new_batch_id
from tether.monitor._records import ProbeRecord
from tether.monitor.config import MonitorConfig
from tether.monitor.runtime.agents._can_run import assigned_monitor
from tether.monitor.store import SQLiteStore

MONITORS = (
    "  - {name: api, url: 'http://127.0.0.1:9/', locations: [branch-1],"
    " headers: {Authorization: 'Bearer s3cret'}}\n"
    "  - {name: local, url: 'http://127.0.0.1:9/', locations: [hq]}\n"
    "  - {name: beat, type: push, token: push-token-0123456789, locations: [branch-1]}\n"
)
AGENT = {"Authorization": f"Bearer {TOKENS['branch-1']}"}


def config(more: str = "") -> MonitorConfig:
    return agent_config(MONITORS + more)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedRunner]:
    s = ServedRunner(config(), SQLiteStore(tmp_path / "t.db"), location="hq")
    yield s
    s.close()


def body_of(s: ServedRunner, path: str, **request: Any) -> tuple[int, Any]:
    r = s.request("GET" if "body" not in request else "POST", path, **request)
    return r.status, r.json()


def test_the_assignment_holds_the_probe_monitors_placed_there_secrets_as_they_are(
    served: ServedRunner,
) -> None:
    """Only api (probed at branch-1; not the push monitor, not hq's), its header's value
    as itself, with the lease and batch_every of agents:; it reads as an Assignment."""
    status, doc = body_of(served, "/api/agent/assignment?location=branch-1", headers=AGENT)
    assert status == 200, doc
    got = Assignment.from_json(doc)
    assert [m["name"] for m in got.monitors] == ["api"]
    assert got.monitors[0]["headers"] == {"Authorization": "Bearer s3cret"}
    assert (got.lease, got.batch_every, got.server_time) == (60.0, 5.0, served.now)


def test_a_monitor_of_alert_when_failures_is_one_the_agent_runs(tmp_path: Path) -> None:
    """Issue 44's reproduction: a monitor with alert_when: {failures: N, within: D} was
    refused by every agent ("min_checks goes with failure_ratio"), the server having sent
    the default min_checks beside it.  Through the real route, the agent now reads it as
    the server holds it, and runs it."""
    more = (
        "  - {name: win, url: 'http://127.0.0.1:9/', locations: [branch-1],"
        " alert_when: {failures: 3, within: 5m}}\n"
    )
    s = ServedRunner(config(more), SQLiteStore(tmp_path / "w.db"), location="hq")
    try:
        status, doc = body_of(s, "/api/agent/assignment?location=branch-1", headers=AGENT)
        assert status == 200, doc
        got = Assignment.from_json(doc)
        read = [assigned_monitor(i, raw) for i, raw in enumerate(got.monitors)]
        ((_, monitor, why),) = [r for r in read if r[0] == "win"]
        assert why is None
        assert monitor == s.runner.config.monitor("win")
    finally:
        s.close()


def test_the_long_poll_answers_on_a_reload(served: ServedRunner) -> None:
    """A poll holding the current version waits; a reload that changes what branch-1
    probes answers it at once with the new version and monitors."""
    _, first = body_of(served, "/api/agent/assignment?location=branch-1", headers=AGENT)
    answers: list[tuple[int, Any]] = []
    path = f"/api/agent/assignment?location=branch-1&version={first['version']}&wait=30"
    poll = threading.Thread(target=lambda: answers.append(body_of(served, path, headers=AGENT)))
    poll.start()
    wait_for(lambda: served.on_loop(lambda: served.runner.agents.polling) == 1, limit=10)
    more = "  - {name: api2, url: 'http://127.0.0.1:9/', locations: [branch-1]}\n"
    served.on_loop(served.runner.reload, config(more))
    poll.join(timeout=10)
    assert not poll.is_alive()
    ((status, doc),) = answers
    assert status == 200
    assert doc["version"] != first["version"]
    assert [m["name"] for m in doc["monitors"]] == ["api", "api2"]


def test_a_poll_with_an_old_version_answers_at_once(served: ServedRunner) -> None:
    """A version the agent holds that is not the current one: answered without waiting."""
    path = "/api/agent/assignment?location=branch-1&version=old&wait=60"
    status, doc = body_of(served, path, headers=AGENT)
    assert status == 200
    assert doc["version"] != "old"


def good_batch(**change: Any) -> dict[str, Any]:
    record = ProbeRecord("api", served_now() - 1, True, None, 3.0)
    batch = Batch(new_batch_id(), "branch-1", served_now(), (AgentCheck(record, "h"),))
    return {**batch.to_json(), **change}


def served_now() -> float:
    return 1_800_000_000.0


def test_a_batch_is_taken_once_and_listed(served: ServedRunner) -> None:
    """A batch is answered with its receipt (taken 1), the same again duplicate; the
    agents' list and /metrics say so."""
    served.now = served_now()
    batch = good_batch()
    status, doc = body_of(served, "/api/agent/results", headers=AGENT, body=batch)
    assert status == 200, doc
    assert Receipt.from_json(doc).taken == 1
    status, doc = body_of(served, "/api/agent/results", headers=AGENT, body=batch)
    assert (status, doc["duplicate"], doc["taken"]) == (200, True, 0)
    reader = served.request("GET", "/api/agents")
    (row,) = reader.json()["agents"]
    assert (row["location"], row["live"], row["results"]) == ("branch-1", True, 1)
    assert reader.json()["duplicate_batches"] == 1


HOSTILE: list[tuple[str, bytes | dict[str, Any], str]] = [
    ("NaN", b'{"protocol": 1, "sent_at": NaN}', "not JSON"),
    ("infinity", {"sent_at": 1e400}, "Infinity"),
    ("a time before 1970", {"sent_at": -5}, "sent_at"),
    (
        "a 400-digit number",
        b'{"protocol": 1, "id": "0123456789abcdef", "location": "branch-1", "sent_at": 1'
        + b"0" * 400
        + b"}",
        "sent_at",
    ),
    ("wrong protocol", {"protocol": 2}, "protocol"),
    ("ts a string", {"results": [{"monitor": "api", "ts": "now", "ok": True}]}, "results[0].ts"),
    ("ok a number", {"results": [{"monitor": "api", "ts": 1.0, "ok": 1}]}, "results[0].ok"),
    ("a negative drop", {"dropped": -1}, "dropped"),
    ("a list", b"[]", "not a JSON object"),
    ("not UTF-8", b'{"id": "\xff"}', "UTF-8"),
    ("too deep", b"[" * 100 + b"]" * 100, "deep"),
    ("too many checks", {"results": [{}] * 5001}, "5,000"),
    # The one gate for text from outside (issue 72 §1): a failing check's detail with a
    # lone surrogate opened an incident in memory that the store then refused.
    (
        "a lone surrogate in a detail",
        {"results": [{"monitor": "api", "ts": 1.0, "ok": False, "detail": "refused\ud800"}]},
        "results[0].detail: holds a lone surrogate",
    ),
    ("a control character in the agent's name", {"agent": "host\x1b[2J"}, "agent: holds a"),
    (
        "a noncharacter in why it cannot run",
        {"cannot_run": [{"monitor": "api", "why": "no\uffff", "since": 1.0}]},
        "cannot_run[0].why: holds a noncharacter",
    ),
]


@pytest.mark.parametrize(("case", "change", "said"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_batch_is_one_400_line(
    served: ServedRunner, case: str, change: bytes | dict[str, Any], said: str
) -> None:
    """Each is a 400 whose error is one line naming what was wrong; nothing is stored."""
    data = change if isinstance(change, bytes) else json.dumps(good_batch(**change)).encode()
    status, doc = raw_post(served, data)
    assert status == 400, (case, doc)
    assert said in doc["error"], doc
    assert "\n" not in doc["error"]
    assert served.runner.agents.view().rows == ()
    assert served.runner.engine.open_incidents() == []


def raw_post(served: ServedRunner, data: bytes) -> tuple[int, Any]:
    """``data`` posted as a batch with branch-1's token: the status and the JSON answer."""
    conn = http.client.HTTPConnection(served.host, served.port, timeout=20)
    try:
        conn.request(
            "POST",
            "/api/agent/results",
            body=data,
            headers={**AGENT, "Content-Type": "application/json"},
        )
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def test_a_huge_batch_is_a_413(served: ServedRunner) -> None:
    """A body over 8 MiB is refused before it is read whole."""
    status, doc = raw_post(served, b" " * (8 * 1024 * 1024 + 1))
    assert status == 413
    assert "8388608" in doc["error"]


def test_a_batch_for_another_location_than_the_tokens_is_refused(served: ServedRunner) -> None:
    """branch-1's token posting a batch that says branch-2: 403, saying which."""
    status, doc = raw_post(served, json.dumps(good_batch(location="branch-2")).encode())
    assert status == 403, doc
    assert "branch-1" in doc["error"]


def test_with_no_users_the_agent_routes_still_need_a_token_on_loopback(
    served: ServedRunner,
) -> None:
    """No users configured: the dashboard is open on loopback, the agent routes are not
    (a 401 without a token, a 401 with a token that is no one's)."""
    assert served.request("GET", "/api/status").status == 200
    for headers in ({}, {"Authorization": "Bearer tether_not-a-token"}):
        r = served.request("GET", "/api/agent/assignment?location=branch-1", headers=headers)
        assert r.status == 401
        r = served.request("POST", "/api/agent/results", headers=headers, body=good_batch())
        assert r.status == 401


@pytest.mark.timeout(30)
def test_a_shutdown_answers_the_long_polls_rather_than_wait_them_out(tmp_path: Path) -> None:
    """A server shutting down answers a held poll at once (aiohttp would wait a minute for
    the handler), so `tether monitor` stops promptly with agents attached; the test's own
    timeout, half the poll's wait, fails it otherwise."""
    s = ServedRunner(config(), SQLiteStore(tmp_path / "t.db"), location="hq")
    try:
        _, first = body_of(s, "/api/agent/assignment?location=branch-1", headers=AGENT)
        answers: list[tuple[int, Any]] = []
        path = f"/api/agent/assignment?location=branch-1&version={first['version']}&wait=60"
        poll = threading.Thread(target=lambda: answers.append(body_of(s, path, headers=AGENT)))
        poll.start()
        wait_for(lambda: s.on_loop(lambda: s.runner.agents.polling) == 1, limit=10)
    finally:
        s.close()
    poll.join(timeout=10)
    assert not poll.is_alive()
    assert answers[0][0] == 200
    assert answers[0][1]["version"] == first["version"]
