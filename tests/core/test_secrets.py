"""The secret search: a marker secret in every place a secret can go, and every output
searched for it.

Sources (each a distinct value that starts with MARK): a monitor URL's user:password@,
its query values (``accessToken``, ``api_key``) and fragment (``#access_token=``), its
Authorization, X-Api-Key and Cookie headers, a redirect Location's password and token, a
tcp:// target's password, a webhook URL's token and signing secret, an apprise URL's
token, an SMTP password, and (check-config) PostgreSQL passwords as a URL and as a libpq
``key=value`` DSN.

Sinks: the monitor's log lines (text and JSON), the SQLite store's bytes (WAL too), the
dashboard pages, /api/status, /api/monitors/*, /api/incidents, /metrics, /probe, the
alert payloads a real webhook receiver gets, the CLI's output (diagnose text and JSON,
check-config, status, history, incidents), what each location of a cluster shows
(two real instances on PostgreSQL: their pages, APIs and metrics, `tether status`, the
payloads' ``locations``, the stored location states), and the messages, reprs and chains
of exceptions from ``tether.Session`` and of ``classify``'s Failure.

Everything runs on loopback; the monitor is a real process on real time, so the test
polls with a bound rather than sleeping a fixed time.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

import tether
from tests.helpers.alerts_receiver import Receiver

MARK = "Qx7vK2"
"""Every secret value starts with this; no output may contain it."""


def secret(tag: str) -> str:
    return f"{MARK}{tag}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Upstream:
    """The monitored service: /private redirects (the Location carries a password and a
    token) to /next, which answers 503.  It records the Authorization it was sent."""

    def __init__(self) -> None:
        self.authorization: list[str] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                upstream.authorization.append(self.headers.get("Authorization", ""))
                if self.path.startswith("/private"):
                    self.send_response(302)
                    port = upstream.port
                    where = f"http://bob:{secret('loc')}@127.0.0.1:{port}/next?token={secret('lt')}"
                    self.send_header("Location", where)
                    body = b""
                else:
                    self.send_response(503)
                    body = b"down for maintenance"
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,))
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    try:
        yield server
    finally:
        server.close()


def creds_url(port: int) -> str:
    return (
        f"http://alice:{secret('pw')}@127.0.0.1:{port}/private?accessToken={secret('q')}"
        f"&api_key={secret('k')}&page=1#access_token={secret('frag')}"
    )


HEADERS = {
    "Authorization": f"Bearer {secret('auth')}",
    "X-Api-Key": secret("apikey"),
    "Cookie": f"session={secret('cookie')}",
}


def write_config(tmp_path: Path, upstream: Upstream, receiver: Receiver, port: int) -> Path:
    refused = free_port()
    config = {
        "storage": {"path": str(tmp_path / "tether.db")},
        "server": {"listen": f"127.0.0.1:{port}"},
        "alerts": [
            {
                "name": "hook",
                "type": "webhook",
                "url": f"{receiver.url}?token={secret('hooktok')}",
                "secret": secret("hmac"),
            },
            {
                "name": "mail",
                "type": "email",
                "host": "127.0.0.1",
                "port": refused,
                "from": "tether@lab.test",
                "to": "ops@lab.test",
                "username": "tether",
                "password": secret("smtp"),
            },
            {
                "name": "chat",
                "type": "apprise",
                "url": f"json://127.0.0.1:{refused}/{secret('ap')}",
            },
        ],
        "monitors": [
            {
                "name": "creds",
                "url": creds_url(upstream.port),
                "headers": HEADERS,
                "interval": "2s",
                "timeout": "1s",
                "failure_threshold": 1,
                "alerts": ["hook", "mail", "chat"],
            },
            {
                "name": "sock",
                "url": f"tcp://u:{secret('tcp')}@127.0.0.1:{refused}",
                "interval": "2s",
                "timeout": "1s",
                "failure_threshold": 1,
            },
        ],
    }
    path = tmp_path / "tether.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def cli(*args: str, check: bool = False) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tether.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check:
        assert done.returncode in (0, 1), done.stderr
    return done.stdout + done.stderr


def fetch(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return str(r.read().decode())
    except urllib.error.HTTPError as exc:
        return str(exc.read().decode())
    except (urllib.error.URLError, ConnectionError):  # not listening yet
        return ""


def wait_for(what: Any, proc: subprocess.Popen[str], limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while not what():
        assert time.monotonic() < deadline, "gave up waiting"
        assert proc.poll() is None, f"the monitor exited ({proc.args})"
        time.sleep(0.05)  # polling a real process on real time


def leaks(outputs: dict[str, str | bytes]) -> dict[str, str]:
    """The sinks whose output holds the marker, with the text around it."""
    found = {}
    for sink, text in outputs.items():
        shown = text.decode("latin-1") if isinstance(text, bytes) else text
        at = shown.find(MARK)
        if at >= 0:
            found[sink] = shown[max(0, at - 80) : at + 40]
    return found


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_secret_in_any_output_of_a_running_monitor(
    tmp_path: Path, upstream: Upstream, receiver: Receiver, log_format: str
) -> None:
    """The monitor probes a target full of secrets, opens an incident and alerts a real
    webhook receiver (email and apprise fail to deliver, and say so in the log): no log
    line, stored byte, page, API answer, metric or payload holds any of them."""
    receiver.start()
    port = free_port()
    config = write_config(tmp_path, upstream, receiver, port)
    log = tmp_path / "monitor.log"
    base = f"http://127.0.0.1:{port}"
    outputs: dict[str, str | bytes] = {}
    with log.open("w") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tether.cli",
                "monitor",
                "--config",
                str(config),
                "--log-format",
                log_format,
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
        )
        try:
            wait_for(lambda: receiver.got, proc)
            # The email and apprise channels fail (nothing listens): their errors are logged.
            wait_for(
                lambda: all(f"alert to {c} failed" in log.read_text() for c in ("mail", "chat")),
                proc,
            )
            wait_for(lambda: "creds" in fetch(f"{base}/api/status"), proc)
            wait_for(lambda: "sock" in fetch(f"{base}/api/incidents"), proc)
            target = quote(creds_url(upstream.port), safe="")
            for page in (
                "/",
                "/monitors/creds",
                "/monitors/sock",
                "/incidents",
                "/api/status",
                "/api/monitors/creds",
                "/api/monitors/sock",
                "/api/incidents",
                "/metrics",
                f"/probe?target={target}",
            ):
                outputs[page] = fetch(base + page)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
    outputs[f"log ({log_format})"] = log.read_text()
    for name in ("tether.db", "tether.db-wal"):
        if (tmp_path / name).exists():
            outputs[f"store {name}"] = (tmp_path / name).read_bytes()
    for i, (headers, body) in enumerate(receiver.got):
        outputs[f"webhook payload {i}"] = json.dumps(headers) + body.decode()
    for command in (["status"], ["history", "creds"], ["incidents"]):
        outputs[f"tether {command[0]}"] = cli(*command, "--config", str(config))
    outputs["tether check-config"] = cli("check-config", str(config))

    assert leaks(outputs) == {}
    # The sinks were really written: the secrets were there to leak.
    assert upstream.authorization[0] == f"Bearer {secret('auth')}"
    assert "***" in outputs["/api/monitors/creds"]
    assert b"creds" in outputs["store tether.db"] or b"creds" in outputs.get(
        "store tether.db-wal", b""
    )
    assert "incident" in outputs[f"log ({log_format})"].lower()
    assert receiver.got


def test_no_secret_in_diagnose_output(upstream: Upstream) -> None:
    """diagnose, text and JSON, with credentials in the URL, its query and fragment, in
    -H headers, and in the redirect's Location; the credentials did go to the server."""
    args = [creds_url(upstream.port), "--timeout", "2"]
    for name, value in HEADERS.items():
        args += ["-H", f"{name}: {value}"]
    outputs = {
        "diagnose text": cli("diagnose", *args),
        "diagnose json": cli("diagnose", "--json", *args),
    }
    assert leaks(outputs) == {}
    assert "503" in outputs["diagnose text"]
    assert json.loads(outputs["diagnose json"].splitlines()[0])["phases"]
    assert HEADERS["Authorization"] in upstream.authorization


@pytest.mark.parametrize(
    ("tag", "storage"),
    [
        ("pg-url", {"postgres": f"postgresql://tether:{secret('pgurl')}@127.0.0.1:1/tether"}),
        ("pg-dsn", {"postgres": f"host=db user=tether password={secret('pgdsn')} dbname=t"}),
        ("pg-quoted", {"postgres": f"host=db password='{secret('pgq')} x' dbname=t"}),
    ],
)
def test_no_secret_in_check_config(tmp_path: Path, tag: str, storage: dict[str, str]) -> None:
    """check-config on a file whose PostgreSQL setting holds a password, valid or not
    (a libpq key=value DSN is refused, and its value echoed redacted)."""
    path = tmp_path / "tether.yaml"
    config = {"storage": storage, "monitors": [{"name": "a", "url": "http://127.0.0.1:9/"}]}
    path.write_text(json.dumps(config))
    output = cli("check-config", str(path))
    assert leaks({tag: output}) == {}
    assert "storage" in output or "valid" in output.lower() or "ok" in output.lower()


def _everything_about(exc: BaseException) -> str:
    parts = ["".join(traceback.format_exception(exc)), repr(exc), str(exc)]
    failure = getattr(exc, "failure", None)
    if failure is not None:
        parts += [repr(failure), str(failure), str(failure.url), failure.detail]
    seen = exc.__cause__ or exc.__context__
    while seen is not None:
        parts += [repr(seen), str(seen)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


def test_no_secret_in_session_errors(upstream: Upstream, caplog: pytest.LogCaptureFixture) -> None:
    """tether.Session: a refused connection's error (and its urllib3 chain), and
    raise_for_status() on a 503, show the URL without credentials or secret values; so
    do the log lines of the retry loop ("giving up on GET ...")."""
    caplog.set_level("DEBUG")
    refused = free_port()
    url = creds_url(refused).replace("/private", "/x")
    policy = tether.RetryPolicy(attempts=1)
    outputs: dict[str, str | bytes] = {}
    with tether.Session(policy=policy) as session:
        with pytest.raises(requests.ConnectionError) as caught:
            session.get(url, headers=HEADERS, timeout=2)
        outputs["Session error"] = _everything_about(caught.value)
        response = session.get(
            f"http://alice:{secret('pw')}@127.0.0.1:{upstream.port}/next?apiToken={secret('t')}",
            timeout=2,
        )
        with pytest.raises(requests.HTTPError) as status:
            response.raise_for_status()
        outputs["raise_for_status"] = _everything_about(status.value)
        outputs["classify"] = _everything_about(status.value) + repr(tether.classify(status.value))
    ours = [r for r in caplog.records if r.name.split(".")[0] == "tether"]  # not urllib3's
    outputs["tether's log"] = "\n".join(r.getMessage() for r in ours)
    assert leaks(outputs) == {}
    assert "giving up on GET http://alice:***@" in outputs["tether's log"]
    assert "alice:***@" in outputs["raise_for_status"]
    assert "apiToken=***" in outputs["raise_for_status"]


def test_no_secret_in_classify_of_plain_requests_errors() -> None:
    """classify() of a plain requests error (no tether.Session) names the URL redacted."""
    url = creds_url(free_port())
    with pytest.raises(requests.ConnectionError) as caught:
        requests.get(url, timeout=2)
    failure = tether.classify(caught.value)
    shown = "\n".join([repr(failure), str(failure), str(failure.url), failure.detail])
    assert leaks({"classify": shown}) == {}
    assert failure.kind.value == "connect.refused"


def test_no_secret_in_cli_output_with_a_postgres_store(
    tmp_path: Path, postgres_server: Any, postgres_dsn: str
) -> None:
    """A real PostgreSQL store: the DSN's password shows in no output of check-config or
    status, whether it is right or (a marker) refused by the server."""
    from tests.helpers.postgres_server import PASSWORD

    outputs: dict[str, str | bytes] = {}
    wrong = postgres_server.dsn(password=secret("pgwrong"))
    for name, dsn in (("right password", postgres_dsn), ("wrong password", wrong)):
        path = tmp_path / f"{name.replace(' ', '-')}.yaml"
        monitors = [{"name": "a", "url": "http://127.0.0.1:9/"}]
        path.write_text(json.dumps({"storage": {"postgres": dsn}, "monitors": monitors}))
        outputs[f"check-config, {name}"] = cli("check-config", str(path))
        outputs[f"status, {name}"] = cli("status", "--config", str(path))
    assert leaks(outputs) == {}
    assert not any(PASSWORD in text for text in outputs.values())
    assert "a" in outputs["status, right password"]
    assert "password authentication failed" in outputs["status, wrong password"]


def test_no_secret_from_a_monitor_on_a_postgres_store(
    tmp_path: Path, postgres_dsn: str, upstream: Upstream
) -> None:
    """The monitor on a real PostgreSQL store: its log (which names the store) and its
    pages never show the DSN's password."""
    from tests.helpers.postgres_server import PASSWORD

    port = free_port()
    config = tmp_path / "tether.yaml"
    monitors = [{"name": "web", "url": f"{upstream.url}/next", "interval": "2s", "timeout": "1s"}]
    config.write_text(
        json.dumps(
            {
                "storage": {"postgres": postgres_dsn},
                "server": {"listen": f"127.0.0.1:{port}"},
                "monitors": monitors,
            }
        )
    )
    log = tmp_path / "monitor.log"
    base = f"http://127.0.0.1:{port}"
    outputs: dict[str, str | bytes] = {}
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tether.cli", "monitor", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
        )
        try:
            wait_for(lambda: '"web"' in fetch(f"{base}/api/monitors/web"), proc)
            for page in ("/", "/api/status", "/api/monitors/web", "/metrics"):
                outputs[page] = fetch(base + page)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
    outputs["log"] = log.read_text()
    assert not [sink for sink, text in outputs.items() if PASSWORD in str(text)]
    assert "tether:***@127.0.0.1" in outputs["log"]


def test_no_secret_in_what_the_locations_show(
    tmp_path: Path, postgres_dsn: str, upstream: Upstream, receiver: Receiver
) -> None:
    """Two real instances (east and local, tests/helpers/cluster_harness.py) probe the target full
    of secrets, east through a refused port with the same credentials, and publish each
    location's state, detail included, through PostgreSQL: no page, API answer or metric
    of either instance, no `tether status` (text or JSON) or `tether incidents`, no
    webhook payload (with its `locations`) and no stored row holds any of them; the
    locations' details were there to leak."""
    from tests.helpers.cluster_harness import Instances
    from tether.monitor.config import parse_config

    receiver.start()
    refused = free_port()
    config_path = tmp_path / "tether.yaml"
    config_path.write_text(
        json.dumps(
            {
                "storage": {"postgres": postgres_dsn},
                "locations": ["east", "local"],
                "alerts": [
                    {
                        "name": "hook",
                        "type": "webhook",
                        "url": f"{receiver.url}?token={secret('hooktok')}",
                        "secret": secret("hmac"),
                    }
                ],
                "monitors": [
                    {
                        "name": "creds",
                        "url": creds_url(upstream.port),
                        "headers": HEADERS,
                        "timeout": "1s",
                        "failure_threshold": 1,
                        "alerts": ["hook"],
                    }
                ],
            }
        )
    )
    config = parse_config(config_path.read_text())
    url = config.monitor("creds").url
    cut = url.replace(f":{upstream.port}/", f":{refused}/")
    assert cut != url
    cluster = Instances(
        postgres_dsn,
        config,
        ("east", "local"),
        route=lambda at, target: cut if at == "east" else target,
        alerts=True,
    )
    outputs: dict[str, str | bytes] = {}
    try:
        cluster.rounds()
        cluster.check("local", "creds")
        cluster.settle()
        cluster.check("east", "creds")
        cluster.settle()
        cluster.deliver()
        for location in ("east", "local"):
            base = cluster.serve(location)
            for page in (
                "/",
                "/monitors/creds",
                "/incidents",
                "/api/status",
                "/api/monitors/creds",
                "/api/incidents",
                "/metrics",
            ):
                outputs[f"{location} {page}"] = fetch(base + page)
        store = cluster["local"].store
        rows = [row.state.to_json() for row in store.location_states()]
        outputs["store tether_location_states"] = json.dumps(rows)
        outputs["store incidents"] = repr(store.incidents())
    finally:
        cluster.close()
    for i, (headers, body) in enumerate(receiver.got):
        outputs[f"webhook payload {i}"] = json.dumps(headers) + body.decode()
    for command in (["status"], ["status", "--json"], ["incidents"], ["incidents", "--json"]):
        outputs[f"tether {' '.join(command)}"] = cli(*command, "--config", str(config_path))

    assert leaks(outputs) == {}
    # Each location's state and detail were shown, to the pages and in the payloads.
    status = json.loads(outputs["local /api/status"])
    (row,) = status["rows"]
    assert [(w["location"], w["kind"]) for w in row["locations"]] == [
        ("east", "connect.refused"),
        ("local", "http.server_error"),
    ]
    assert all(w["detail"] for w in row["locations"])
    payloads = [json.loads(body) for _, body in receiver.got]
    assert any(set(p.get("locations", {})) == {"east", "local"} for p in payloads)
    assert "  east: down since" in outputs["tether status"]
    assert '"location": "local"' in outputs["tether status --json"]


def test_a_location_detail_shows_redacted() -> None:
    """A location's detail that holds a URL with a password and a token is shown masked
    by the one function the dashboard and `tether status` show it through."""
    from tether.monitor._records import LocationFact
    from tether.monitor._state import State
    from tether.monitor.reports._documents import location_json

    fact = LocationFact(State.DOWN, detail=f"GET {creds_url(9)} timed out")
    shown = location_json("east", fact)
    assert leaks({"location_json": json.dumps(shown)}) == {}
    assert shown["detail"].startswith("GET http://alice:***@127.0.0.1:9/private?accessToken=***")
