"""One incident, two signals: a traffic monitor fed by real reports and a probe monitor
probing a real loopback TLS server whose certificate expired, on the same host, make one
incident that says both ("HOST: N% of checkout's calls fail with tls.expired since HH:MM;
the probe of URL agrees"), whichever goes down first."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import trustme
import yaml

import tether
from tests.helpers.alerts_receiver import Receiver
from tests.helpers.tls_server import https_server
from tests.helpers.web_harness import EPOCH, ServedRunner
from tether._retry import _ended
from tether.monitor._state import State
from tether.monitor.config import parse_config


@pytest.fixture(scope="module")
def expired(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """(port, CA file) of a TLS server on 127.0.0.1 whose certificate expired yesterday."""
    ca = trustme.CA()
    now = dt.datetime.now(dt.UTC)
    day = dt.timedelta(days=1)
    leaf = ca.issue_cert("127.0.0.1", not_before=now - 9 * day, not_after=now - day)
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    with https_server(leaf) as port:
        yield port, str(ca_file)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


@pytest.fixture
def served(
    receiver: Receiver, expired: tuple[int, str], serve_runner: Callable[..., ServedRunner]
) -> ServedRunner:
    port, ca_file = expired
    cfg = parse_config(
        yaml.safe_dump(
            {
                "alerts": [{"name": "ops", "type": "webhook", "url": receiver.url}],
                "monitors": [
                    {
                        "name": "payments-health",
                        "url": f"https://127.0.0.1:{port}/health",
                        "tls": {"ca_file": ca_file},
                        "failure_threshold": 1,
                        "alerts": ["ops"],
                    },
                    {
                        "name": "payments-calls",
                        "type": "traffic",
                        "app": "checkout",
                        "endpoint": f"127.0.0.1:{port}",
                        "failure_ratio": 0.25,
                        "alerts": ["ops"],
                    },
                ],
            }
        )
    )
    return serve_runner(cfg, alerts=True)


def post_calls(s: ServedRunner, port: int, failed: int, ok: int) -> None:
    """Report ``failed`` tls.expired calls and ``ok`` successes to 127.0.0.1:PORT."""
    endpoint = f"127.0.0.1:{port}"
    calls: list[list[Any]] = [
        [s.now - 1, endpoint, "POST", "tls.expired", None, 3.0, 1] for _ in range(failed)
    ]
    calls += [[s.now - 2, endpoint, "POST", None, 200, 20.0, 1] for _ in range(ok)]
    body = json.dumps({"v": 1, "app": "checkout", "dropped": 0, "calls": calls})
    conn = http.client.HTTPConnection(s.host, s.port, timeout=20)
    try:
        conn.request("POST", "/api/report", body=body, headers={"Content-Type": "application/json"})
        assert conn.getresponse().status == 202
    finally:
        conn.close()


def alerts(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(body) for _, body in receiver.got]


def deliver(s: ServedRunner) -> None:
    s.on_loop(s.runner.tick)
    s.store.flush()
    s.on_loop(s.runner.outbox.deliver_due, s.now)


def test_traffic_first_then_the_probe_agrees(
    served: ServedRunner, receiver: Receiver, expired: tuple[int, str]
) -> None:
    """Reports go down first (37% failing); the probe then fails with tls.expired on the
    same host and joins the incident, whose grouped update and timeline say both
    signals."""
    s, (port, _) = served, expired
    s.now = EPOCH + 2 * 3600 + 2 * 60  # 10:02 UTC
    post_calls(s, port, failed=150, ok=262)
    assert s.runner.quorum.view()["payments-calls"] is State.DOWN
    s.now += 30
    s.check("payments-health")
    deliver(s)
    assert s.runner.quorum.view()["payments-health"] is State.DOWN
    health = s.runner.latest["payments-health"]
    assert health.kind is not None
    assert health.kind.value == "tls.expired"
    (incident,) = s.runner.engine.open_incidents()
    assert set(incident.monitors) == {"payments-calls", "payments-health"}
    said = (
        f"127.0.0.1:{port}: 36% of checkout's calls to "
        f"127.0.0.1:{port} fail with tls.expired since 10:02; the probe of "
        f"https://127.0.0.1:{port}/health agrees"
    )
    joined = alerts(receiver)[-1]
    # Grouping: the join is told in the incident's grouped update (it was a monitor.down
    # of its own), which names the monitor that joined and says both signals (issue 24).
    assert joined["event"] == "incident.updated"
    assert "1 more monitor down: payments-health (" in joined["text"]
    assert joined["text"].endswith(f"; {said}")
    stored = s.store.incidents(open_only=True)[0]
    assert stored.timeline[-1].detail == f"payments-health is down too: {said}"


def test_the_probe_first_then_the_calls_agree(
    served: ServedRunner, receiver: Receiver, expired: tuple[int, str]
) -> None:
    """The probe goes down first; the reports join its incident with the same sentence."""
    s, (port, _) = served, expired
    s.now = EPOCH + 2 * 3600
    s.check("payments-health")
    s.now += 120  # 10:02
    post_calls(s, port, failed=3, ok=0)
    deliver(s)
    (incident,) = s.store.incidents(open_only=True)
    assert set(incident.monitors) == {"payments-calls", "payments-health"}
    assert incident.timeline[-1].detail == (
        f"payments-calls is down too: 127.0.0.1:{port}: 3 of checkout's calls to "
        f"127.0.0.1:{port} in a row fail with tls.expired since 10:02; the probe of "
        f"https://127.0.0.1:{port}/health agrees"
    )


def test_an_application_s_own_calls_reported_by_tether_report_to_open_the_incident(
    served: ServedRunner, receiver: Receiver, expired: tuple[int, str]
) -> None:
    """End to end: an application's real calls through `tether.Session` to the server
    with the expired certificate, reported by a real `Reporter` to the running monitor's
    `/api/report`, put the traffic monitor down with `tls.expired`; the probe of the same
    server agrees, in one incident."""
    s, (port, ca_file) = served, expired
    reporter = tether.Reporter(f"http://{s.host}:{s.port}", app="checkout", start_thread=False)
    previous = _ended.install(reporter)
    try:
        with tether.Session(policy=tether.RetryPolicy(attempts=1)) as session:
            for _ in range(4):
                with pytest.raises(requests.exceptions.SSLError):
                    session.post(f"https://127.0.0.1:{port}/pay", verify=ca_file, timeout=5)
        s.now = time.time() + 1  # the reports carry the wall clock's times
        assert reporter.flush(20)
    finally:
        _ended.install(previous)
        reporter.close(5)
    assert reporter.stats().sent == 4
    assert s.runner.quorum.view()["payments-calls"] is State.DOWN
    calls = s.runner.latest["payments-calls"]
    assert calls.kind is not None
    assert calls.kind.value == "tls.expired"
    s.now += 5
    s.check("payments-health")
    deliver(s)
    (incident,) = s.store.incidents(open_only=True)
    assert set(incident.monitors) == {"payments-calls", "payments-health"}
    assert "checkout's calls" in incident.timeline[-1].detail
    assert f"the probe of https://127.0.0.1:{port}/health agrees" in incident.timeline[-1].detail
