"""With no users configured, the dashboard and its APIs answer only requests that arrived
on a loopback address, for real: a `tether monitor` listening on 0.0.0.0 in a network
namespace of the test's own, asked from a second namespace over a veth pair, from its
own namespace on loopback, and on its own veth address; then, with a user added by a
reload, asked from the second namespace again: a login and a session.  Once in one
process, once with `workers: 2` (a worker takes the request and forwards it to the
coordinator, saying where it arrived).

Topology (made here with `ip netns`, torn down after):

```
 a: tether monitor on 0.0.0.0:8800, 10.79.0.1/24 ──veth── b: 10.79.0.2/24, the client
```

The client is a small script run in a namespace (`ip netns exec`), so this process never
connects beyond loopback; it retries a refused connection with a bound while the monitor
starts.  Real processes on real time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.netns import ip, why_no_netns
from tests.helpers.processes import running
from tether.monitor.config._passwords import hash_password

HERE, THERE = "10.79.0.1", "10.79.0.2"
PORT = 8800
PASSWORD = "correct horse battery"

_CLIENT = r"""
import http.client, json, sys, time, urllib.parse
host, port, steps = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
cookie, out = None, []
for step in steps:
    deadline = time.monotonic() + 20
    while True:
        headers, body = {}, None
        if "form" in step:
            body = urllib.parse.urlencode(step["form"])
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if cookie:
            headers["Cookie"] = "tether_session=" + cookie
        conn = http.client.HTTPConnection(host, port, timeout=10)
        try:
            conn.request(step.get("method", "GET"), step["path"], body=body, headers=headers)
            r = conn.getresponse()
            answer = {"status": r.status, "location": r.headers.get("Location"),
                      "type": r.headers.get("Content-Type"),
                      "body": r.read().decode("utf-8", "replace")}
        except ConnectionRefusedError:  # not listening yet
            answer = None
        finally:
            conn.close()
        # "until": the server is starting, or reloading: poll, bounded
        if answer is not None and answer["status"] == step.get("until", answer["status"]):
            break
        if time.monotonic() > deadline:
            print(json.dumps(out + [answer]))
            sys.exit(1)
        time.sleep(0.05)
    for line in r.headers.get_all("Set-Cookie") or []:
        if line.startswith("tether_session="):
            cookie = line.split(";", 1)[0].split("=", 1)[1]
    out.append(answer)
print(json.dumps(out))
"""


@contextmanager
def topology() -> Iterator[dict[str, str]]:
    """Namespaces ``a`` (the monitor) and ``b`` (a client elsewhere), joined by a veth."""
    tag = f"t{os.getpid()}"
    names = {role: f"tether-{tag}-{role}" for role in ("a", "b")}
    try:
        for name in names.values():
            ip("netns", "add", name)
            ip("-n", name, "link", "set", "lo", "up")
        near, far = f"v{tag}a", f"v{tag}b"
        ip("link", "add", near, "netns", names["a"], "type", "veth", "peer", "name", far,
           "netns", names["b"])  # fmt: skip
        ip("-n", names["a"], "addr", "add", f"{HERE}/24", "dev", near)
        ip("-n", names["b"], "addr", "add", f"{THERE}/24", "dev", far)
        ip("-n", names["a"], "link", "set", near, "up")
        ip("-n", names["b"], "link", "set", far, "up")
        yield names
    finally:
        for name in names.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def ask(namespace: str, host: str, *steps: dict[str, Any]) -> list[dict[str, Any]]:
    """Each step's answer, asked from ``namespace`` of ``host``:8800 in order, with the
    session cookie the answers set."""
    done = subprocess.run(
        ["ip", "netns", "exec", namespace, sys.executable, "-c", _CLIENT, host, str(PORT),
         json.dumps(steps)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout, done.stderr)
    answers: list[dict[str, Any]] = json.loads(done.stdout)
    return answers


def settings(tmp: Path, workers: int, *, users: bool) -> str:
    doc: dict[str, Any] = {
        "storage": {"path": str(tmp / "tether.db")},
        "workers": workers,
        "server": {"listen": f"0.0.0.0:{PORT}"},
        "monitors": [{"name": "api", "url": "http://127.0.0.1:9/", "interval": "1h"}],
        "status_pages": [
            {"slug": "public", "title": "Status", "groups": [{"name": "Core", "monitors": ["api"]}]}
        ],
    }
    if users:
        doc["users"] = [{"name": "alice", "password_hash": hash_password(PASSWORD, n=2**10)}]
    return yaml.safe_dump(doc)


@pytest.mark.netns
@pytest.mark.timeout(90)
@pytest.mark.parametrize("workers", [1, 2], ids=["one-process", "workers-2"])
def test_with_no_users_only_loopback_reaches_the_dashboard_and_a_user_logs_in_from_elsewhere(
    tmp_path: Path, workers: int
) -> None:
    """Asked from another namespace with no users configured, `/` is a 403 page and
    `/api/status` and a pause a JSON 403, each saying why, while `/metrics`, the status
    page and its badge answer; asked on 127.0.0.1 in the monitor's namespace `/` answers,
    on its own veth address it is refused (the address it arrived on counts, not who
    asked); with a user added by a reload, `/` from elsewhere goes to the login page, a
    wrong password is a 401, and the right one a session that reads the dashboard."""
    why_not = why_no_netns()
    if why_not is not None:
        if os.environ.get("TETHER_REQUIRE_NETNS"):
            pytest.fail(f"TETHER_REQUIRE_NETNS is set but {why_not}")
        pytest.skip(why_not)
    config = tmp_path / "tether.yaml"
    config.write_text(settings(tmp_path, workers, users=False))
    args = [sys.executable, "-m", "tether.cli", "monitor", "--config", str(config)]
    with (
        topology() as ns,
        running(["ip", "netns", "exec", ns["a"], *args], tmp_path / "a.log") as proc,
    ):
        away = ask(
            ns["b"],
            HERE,
            {"path": "/metrics", "until": 200},
            {"path": "/"},
            {"path": "/api/status"},
            {"path": "/api/monitors/api/pause", "method": "POST", "form": {}},
            {"path": "/status/public"},
            {"path": "/badge/api/status.svg"},
            {"path": "/login"},
        )
        on_loopback = ask(ns["a"], "127.0.0.1", {"path": "/"}, {"path": "/api/status"})
        on_veth = ask(ns["a"], HERE, {"path": "/"})

        config.write_text(settings(tmp_path, workers, users=True))
        proc.send_signal(signal.SIGHUP)  # `ip netns exec` execs tether: this pid is its
        logged_in = ask(
            ns["b"],
            HERE,
            {"path": "/", "until": 303},
            {"path": "/login"},
            {"path": "/login", "method": "POST",
             "form": {"user": "alice", "password": PASSWORD + "x", "next": "/"}},
            {"path": "/login", "method": "POST",
             "form": {"user": "alice", "password": PASSWORD, "next": "/"}},
            {"path": "/"},
            {"path": "/api/status"},
        )  # fmt: skip

    metrics, page, api, pause, status_page, badge, login = away
    assert metrics["status"] == 200
    assert "tether_probe_success" in metrics["body"]
    assert (page["status"], page["type"]) == (403, "text/html; charset=utf-8")
    assert "No users are configured" in page["body"]
    assert "docs/security.md#login-and-tokens" in page["body"]
    assert api["status"] == 403
    assert "no users are configured" in json.loads(api["body"])["error"]
    assert pause["status"] == 403
    assert "no users are configured" in json.loads(pause["body"])["error"]
    assert status_page["status"] == 200
    assert "Core" in status_page["body"]
    assert badge["status"] == 200
    assert badge["type"].startswith("image/svg+xml")
    assert login["status"] == 404  # nothing to log in to
    assert [a["status"] for a in on_loopback] == [200, 200]
    assert json.loads(on_loopback[1]["body"])["monitors"]["api"] != "paused"  # refused
    assert on_veth[0]["status"] == 403

    to_login, form, wrong, right, dashboard, status = logged_in
    assert to_login["location"] == "/login?next=/"
    assert form["status"] == 200
    assert 'name="password"' in form["body"]
    assert wrong["status"] == 401
    assert (right["status"], right["location"]) == (303, "/")
    assert dashboard["status"] == 200
    assert "Loopback only" not in dashboard["body"]
    assert status["status"] == 200
    assert "api" in json.loads(status["body"])["monitors"]
    said = (tmp_path / "a.log").read_text()
    assert f"alice logged in from {THERE}" in said  # the client's address, through a worker too
    assert f"login failed for 'alice' from {THERE}" in said
