"""POST /api/report into traffic monitors: real HTTP posts to a real Runner served on
loopback (its clock moved by the test), alerts to a real webhook receiver, /metrics and
/api/status read back over HTTP."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from tests.helpers.alerts_receiver import Receiver
from tests.helpers.web_harness import EPOCH, ServedRunner
from tether.monitor._state import State
from tether.monitor.config import parse_config
from tether.monitor.config._passwords import hash_password, hash_token
from tether.monitor.engine._traffic import TrafficCall
from tether.monitor.metrics._traffic_metrics import TRAFFIC_ENDPOINTS, TrafficMetrics

PAY = "payments.internal:443"
REPORTER = "report-token-0123456789abcdef"
READER = "read-token-0123456789abcdefgh"


def config(hook: str, **extra: Any) -> Any:
    return parse_config(
        yaml.safe_dump(
            {
                "alerts": [{"name": "ops", "type": "webhook", "url": hook}],
                "monitors": [
                    {
                        "name": "payments",
                        "type": "traffic",
                        "app": "checkout",
                        "endpoint": PAY,
                        "alerts": ["ops"],
                    },
                    {
                        "name": "checkout-calls",
                        "type": "traffic",
                        "app": "checkout",
                        "consecutive": 0,
                        "failure_ratio": 0.5,
                        "window": "1m",
                        "min_calls": 4,
                    },
                ],
                **extra,
            }
        )
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


@pytest.fixture
def served(receiver: Receiver, serve_runner: Callable[..., ServedRunner]) -> ServedRunner:
    return serve_runner(config(receiver.url), alerts=True)


def call(
    at: float, kind: str | None = None, endpoint: str = PAY, ms: float = 12.5, attempts: int = 1
) -> list[Any]:
    return [at, endpoint, "GET", kind, None if kind else 200, ms, attempts]


def post(
    s: ServedRunner, body: object, token: str | None = None, raw: bytes | None = None
) -> tuple[int, Any]:
    """POST /api/report as a client sends it: JSON, with the token if given."""
    conn = http.client.HTTPConnection(s.host, s.port, timeout=20)
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request("POST", "/api/report", body=raw or json.dumps(body), headers=headers)
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def report(*calls: list[Any], app: str = "checkout", dropped: int = 0) -> dict[str, Any]:
    return {"v": 1, "app": app, "dropped": dropped, "calls": list(calls)}


def state(s: ServedRunner, name: str) -> State:
    return s.runner.quorum.view()[name]


def settle(s: ServedRunner) -> None:
    s.on_loop(s.runner.tick)
    s.store.flush()
    s.on_loop(s.runner.outbox.deliver_due, s.now)


def test_three_failed_calls_in_a_row_are_down_with_one_alert_and_a_success_recovers(
    served: ServedRunner, receiver: Receiver
) -> None:
    """The tutorials' rule over HTTP: 3 tls.expired calls in a row take the monitor down
    with one alert naming the share and kind; the next successful call resolves it."""
    s = served
    s.now = EPOCH + 10
    assert post(s, report(call(EPOCH + 1))) == (202, {"ok": True, "accepted": 1})
    assert state(s, "payments") is State.UP
    assert post(s, report(call(EPOCH + 2, "tls.expired")))[0] == 202
    assert state(s, "payments") is State.UP  # one failure after a success: no news
    assert post(s, report(call(EPOCH + 3, "tls.expired"), call(EPOCH + 4, "tls.expired")))[0] == 202
    settle(s)
    assert state(s, "payments") is State.DOWN
    latest = s.runner.latest["payments"]
    assert latest.kind is not None
    assert latest.kind.value == "tls.expired"
    assert latest.host == "payments.internal:443"  # the endpoint's service (issue 24)
    assert len(receiver.got) == 1
    alert = json.dumps(json.loads(receiver.got[0][1]))
    assert "the last 3 of checkout's calls to payments.internal:443 failed in a row" in alert
    s.now = EPOCH + 20
    assert post(s, report(call(EPOCH + 19)))[0] == 202
    settle(s)
    assert state(s, "payments") is State.UP
    assert len(receiver.got) == 2


def test_a_window_that_ages_recovers_without_a_new_call(served: ServedRunner) -> None:
    """The ratio rule: half of the window failing is down; once the failures leave the
    one-minute window, the every-second judgement brings it back with no new call."""
    s = served
    s.now = EPOCH + 31
    failed = [call(EPOCH + 1, "connect.refused", endpoint="ledger.internal:5432")] * 4
    ok = [call(EPOCH + 30, endpoint="ledger.internal:5432")] * 4
    assert post(s, report(*failed, *ok))[0] == 202
    assert state(s, "checkout-calls") is State.DOWN
    assert state(s, "payments") is State.UNKNOWN  # none of those calls were to payments
    s.now = EPOCH + 62
    s.on_loop(s.runner.traffic.judge)
    assert state(s, "checkout-calls") is State.UP
    s.store.flush()
    detail = s.store.results("checkout-calls")[0].detail
    assert detail == "0% of checkout's 4 calls in the last 1m failed"


def test_a_bad_call_refuses_the_batch_naming_the_field_and_index(served: ServedRunner) -> None:
    """One bad call is a 400 naming it, and none of the batch is counted."""
    s = served
    s.now = EPOCH + 10
    cases = [
        (report(call(EPOCH), call(EPOCH, "TLS expired!")), "calls[1].kind"),
        (report(call(EPOCH), call(EPOCH, 42)), "calls[1].kind"),  # type: ignore[arg-type]
        (report(call(EPOCH), [EPOCH, "bad\nname", "GET", None, 200, 1.0, 1]), "calls[1].endpoint"),
        (report(call(EPOCH), [EPOCH, "x" * 301, "GET", None, 200, 1.0, 1]), "calls[1].endpoint"),
        (report([EPOCH, PAY, "GET", None, 200, -1, 1]), "calls[0].ms"),
        (report([EPOCH, PAY, "GET", None, 200, 1.0]), "calls[0]:"),
        (report(call(EPOCH), app="bad app"), "app:"),
        ({"v": 2, "app": "checkout", "calls": []}, "v:"),
    ]
    for body, field in cases:
        status, answer = post(s, body)
        assert status == 400, (body, answer)
        assert answer["ok"] is False
        assert answer["error"].startswith(field), answer
    status, answer = post(s, None, raw=b"{not json")
    assert (status, answer["error"][:20]) == (400, "the body is not JSON")
    assert "payments" not in s.runner.latest
    assert s.runner.traffic.monitors["payments"].view(s.now).calls == 0


def test_a_kind_this_tether_does_not_know_is_a_failure_counted_as_unknown(
    served: ServedRunner,
) -> None:
    """A kind of the taxonomy's shape that this monitor does not know (a newer client's)
    is taken as a failed call of kind `unknown`, not a 400 that would refuse every batch
    that client sends; the metrics' labels stay the taxonomy's."""
    s = served
    s.now = EPOCH + 10
    status, answer = post(s, report(call(EPOCH, "tls.nope"), call(EPOCH)))
    assert (status, answer) == (202, {"ok": True, "accepted": 2})
    lines = set(s.get("/metrics")[2].decode().splitlines())
    assert (
        'tether_traffic_calls_total{app="checkout",endpoint="payments.internal:443",'
        'kind="unknown"} 1.0' in lines
    )
    assert not any("tls.nope" in line for line in lines)
    assert s.runner.traffic.monitors["payments"].view(s.now).calls == 2


def test_a_decorated_function_s_name_is_an_endpoint(served: ServedRunner) -> None:
    """A `@tether.retry` function whose calls named no host is reported under its name
    (`billing.fetch_invoice`): taken, and counted under that endpoint."""
    s = served
    s.now = EPOCH + 10
    body = report([EPOCH, "billing.fetch_invoice", "", None, None, 3.0, 1], app="billing")
    assert post(s, body) == (202, {"ok": True, "accepted": 1})
    lines = set(s.get("/metrics")[2].decode().splitlines())
    assert (
        'tether_traffic_calls_total{app="billing",endpoint="billing.fetch_invoice",kind=""} 1.0'
        in lines
    )


def test_past_the_limits_is_a_413(served: ServedRunner) -> None:
    """More than 5,000 calls, or a body over 1 MiB, is a 413 and nothing is counted."""
    s = served
    s.now = EPOCH + 10
    status, answer = post(s, report(*[call(EPOCH)] * 5001))
    assert status == 413
    assert "5000 at most" in answer["error"]
    status, answer = post(s, None, raw=b" " * (1 << 20) + b"{}")
    assert status == 413
    assert s.runner.traffic.monitors["payments"].view(s.now).calls == 0


def test_report_scope_tokens_report_and_nothing_else(
    receiver: Receiver, serve_runner: Callable[..., ServedRunner]
) -> None:
    """With users configured, a report token may post reports and not read; a read token
    may not report; no token is a 401."""
    extra = {
        "users": [{"name": "alice", "password_hash": hash_password("pw", n=2**10)}],
        "tokens": [
            {"name": "checkout", "scope": "report", "hash": hash_token(REPORTER)},
            {"name": "grafana", "scope": "read", "hash": hash_token(READER)},
        ],
    }
    s = serve_runner(config(receiver.url, **extra), alerts=True)
    s.now = EPOCH + 10
    assert post(s, report(call(EPOCH)), REPORTER) == (202, {"ok": True, "accepted": 1})
    status, answer = post(s, report(call(EPOCH)), READER)
    assert status == 403
    assert "may not report" in answer["error"]
    assert post(s, report(call(EPOCH)))[0] == 401
    got = s.request("GET", "/api/status", headers={"Authorization": f"Bearer {REPORTER}"})
    assert got.status == 403


def test_calls_are_counted_in_metrics_whatever_monitor_they_belong_to(
    served: ServedRunner,
) -> None:
    """/metrics counts every reported call by app, endpoint and kind, its latency, and
    the client's drops, for an app no monitor watches too."""
    s = served
    s.now = EPOCH + 10
    post(
        s,
        report(call(EPOCH, "tls.expired", ms=30, attempts=3), call(EPOCH, ms=300), dropped=7),
    )
    post(s, report(call(EPOCH, endpoint="[::1]:8443"), app="billing"))
    _, _, body = s.get("/metrics")
    text = body.decode()
    lines = set(text.splitlines())
    assert (
        'tether_traffic_calls_total{app="checkout",endpoint="payments.internal:443",'
        'kind="tls.expired"} 1.0' in lines
    )
    assert (
        'tether_traffic_calls_total{app="checkout",endpoint="payments.internal:443",kind=""} 1.0'
        in lines
    )
    assert 'tether_traffic_calls_total{app="billing",endpoint="[::1]:8443",kind=""} 1.0' in lines
    assert (
        'tether_traffic_latency_seconds_bucket{app="checkout",endpoint="payments.internal:443",'
        'le="0.05"} 1.0' in lines
    )
    assert (
        'tether_traffic_latency_seconds_count{app="checkout",endpoint="payments.internal:443"} 2.0'
        in lines
    )
    assert 'tether_traffic_dropped_total{app="checkout"} 7.0' in lines
    assert (
        'tether_traffic_retries_total{app="checkout",endpoint="payments.internal:443"} 2.0' in lines
    )
    assert not any(line.startswith('tether_traffic_retries_total{app="billing"') for line in lines)


def test_calls_that_needed_retries_are_shown_though_they_succeeded(
    served: ServedRunner,
) -> None:
    """Calls that succeeded on a later attempt keep the monitor up, and its window and
    page say how many needed a retry: what the application's retries hid."""
    s = served
    s.now = EPOCH + 10
    calls = [call(EPOCH + i, attempts=3 if i < 2 else 1) for i in range(8)]
    assert post(s, report(*calls)) == (202, {"ok": True, "accepted": 8})
    s.store.flush()
    assert s.json("/api/status")["monitors"]["payments"] == "up"
    doc = s.json("/api/monitors/payments")
    window = doc["traffic"]
    assert (window["calls"], window["failed"]) == (8, 0)
    assert (window["retried"], window["retried_share"], window["retries"]) == (2, 0.25, 4)
    assert "25% needed a retry" in json.dumps(doc)
    html = s.get("/monitors/payments")[2].decode()
    assert "<th>Needed a retry</th><td>2 (25.0%), 4 retries in all</td>" in html


def test_endpoints_past_the_bound_count_as_other() -> None:
    """A client naming endpoints without end gets 200 series of its own, then ``other``."""
    metrics = TrafficMetrics()
    calls = [TrafficCall(EPOCH, f"h{i}.test:443", None, 1.0) for i in range(TRAFFIC_ENDPOINTS + 50)]
    metrics.count("checkout", calls, 0)
    endpoints = {endpoint for _, endpoint, _ in metrics.calls}
    assert len(endpoints) == TRAFFIC_ENDPOINTS + 1
    assert metrics.calls[("checkout", "other", "")] == 50


def test_a_paused_traffic_monitor_takes_no_calls(
    receiver: Receiver, serve_runner: Callable[..., ServedRunner]
) -> None:
    """A paused traffic monitor's calls are answered and counted in metrics, not judged."""
    cfg = config(receiver.url)
    paused = cfg.model_copy(
        update={"monitors": tuple(m.model_copy(update={"paused": True}) for m in cfg.monitors)}
    )
    s = serve_runner(paused)
    s.now = EPOCH + 10
    bad = [call(EPOCH + i, "tls.expired") for i in range(5)]
    assert post(s, report(*bad)) == (202, {"ok": True, "accepted": 5})
    assert state(s, "payments") is State.PAUSED
    assert s.runner.traffic.monitors["payments"].view(s.now).calls == 0


def test_a_traffic_monitor_is_a_monitor_on_the_dashboard_and_its_json(
    served: ServedRunner,
) -> None:
    """/api/status lists a traffic monitor's state, /api/monitors/NAME its last check's
    words and its window (calls, rate, share failing by kind, latency percentiles), and
    its page shows the window's figures."""
    s = served
    s.now = EPOCH + 10
    calls = [call(EPOCH, ms=300), call(EPOCH + 1, "connect.refused", ms=2)]
    calls += [call(EPOCH + 2 + i, "tls.expired", ms=40) for i in range(3)]
    post(s, report(*calls))
    s.store.flush()
    assert s.json("/api/status")["monitors"]["payments"] == "down"
    doc = s.json("/api/monitors/payments")
    page = json.dumps(doc)
    assert "the last 4 of checkout's calls to payments.internal:443 failed in a row" in page
    assert "traffic://checkout/payments.internal:443" in page
    window = doc["traffic"]
    assert (window["calls"], window["failed"], window["failed_share"]) == (5, 4, 0.8)
    assert window["kinds"] == {"tls.expired": 3, "connect.refused": 1}
    assert list(window["kinds"]) == ["tls.expired", "connect.refused"]  # commonest first
    # 5 calls, the first 10 s ago: a rate over a minute at least, not over the window.
    assert window["per_minute"] == 5.0
    # Fixed log-spaced buckets: each percentile falls in the bucket of a call's latency.
    assert 2 <= window["p50_ms"] <= 60
    assert window["p50_ms"] <= window["p90_ms"] <= window["p99_ms"]
    assert window["p99_ms"] >= 200
    status, _, body = s.get("/monitors/payments")
    assert status == 200
    html = body.decode()
    assert '<section id="calls">' in html
    assert "5 (5 a minute)" in html
    assert "4 (80.0%)" in html
    assert '<code class="kind">tls.expired</code></td><td>3</td><td>60.0%' in html


def test_a_traffic_monitors_page_says_how_it_is_watched(served: ServedRunner) -> None:
    """Issue 24: a traffic monitor's page said "Checked every 10s (timeout 8s)", the
    fields of a probe it is not.  It says whose calls and which rules judge it."""
    doc = served.json("/api/monitors/payments")
    assert doc["checked"].startswith("checkout's own calls to payments.internal:443")
    assert "down after 3 failed in a row" in doc["checked"]
    status, _, body = served.get("/monitors/payments")
    assert status == 200
    assert "Checked every" not in body.decode()
