"""Numbers and bodies from outside, bounded: real requests to a real Runner served on
loopback (tests/helpers/web_harness.py).  A body too large is a 413 and one too deep or malformed
a 400 on every JSON route, before it is parsed; a number out of range is a 400 naming
its field; a value no number holds in the metrics, or a stored row a direct write
spoiled, never fails a scrape or a page (docs/security.md, "Limits on what a request
may send")."""

from __future__ import annotations

import http.client
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.web_harness import EPOCH, ServedRunner
from tether.monitor.config import parse_config
from tether.monitor.store import SQLiteStore
from tether.monitor.web._params import MAX_BODY, MAX_DEPTH

PAY = "payments.internal:443"


def config() -> Any:
    return parse_config(
        yaml.safe_dump(
            {
                "monitors": [
                    {"name": "payments", "type": "traffic", "app": "checkout", "endpoint": PAY},
                    {"name": "web", "url": "http://127.0.0.1:9/", "interval": "1h"},
                    {"name": "nightly", "type": "push", "token": "push-token-0123456789abcdef"},
                ]
            }
        )
    )


@pytest.fixture
def served(serve_runner: Callable[..., ServedRunner]) -> ServedRunner:
    s = serve_runner(config())
    s.now = EPOCH + 10
    return s


def send(
    s: ServedRunner,
    path: str,
    raw: bytes,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    """``raw`` sent as a JSON body; the status and the answer's text."""
    conn = http.client.HTTPConnection(s.host, s.port, timeout=20)
    sent = {"Content-Type": "application/json", **(headers or {})}
    try:
        conn.request(method, path, body=raw, headers=sent)
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        conn.close()


def report(**fields: Any) -> bytes:
    doc = {
        "v": 1,
        "app": "checkout",
        "dropped": 0,
        "calls": [[EPOCH, PAY, "GET", None, 200, 1.0, 1]],
    }
    return json.dumps({**doc, **fields}).encode()


JSON_ROUTES = [
    "/api/report",
    "/api/monitors/web/pause",
    "/api/monitors/web/resume",
    "/api/monitors/web/check",
    "/api/incidents/1/acknowledge",
    "/api/incidents/1/notes",
    "/api/maintenance",
    "/api/maintenance/1/close",
]


def test_a_huge_dropped_is_a_400_naming_it_and_metrics_stay_scrapable(
    served: ServedRunner,
) -> None:
    """A 310-digit ``dropped`` is refused with a 400 that names the field, and /metrics
    answers 200 after it (it once stored the number and failed every scrape)."""
    s = served
    status, text = send(s, "/api/report", report(dropped=10**309))
    assert status == 400, text
    assert json.loads(text)["error"].startswith("dropped:")
    status, _, body = s.get("/metrics")
    assert status == 200
    assert b"tether_traffic_dropped_total" in body


@pytest.mark.parametrize("path", JSON_ROUTES)
def test_a_body_nested_past_the_limit_is_a_400_on_every_json_route(
    served: ServedRunner, path: str
) -> None:
    """100,000 brackets deep is one 400 saying the depth, never a RecursionError's 500;
    so is one level past the documented limit."""
    for raw in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * MAX_DEPTH + b"[]" + b"}" * MAX_DEPTH):
        status, text = send(served, path, raw)
        assert status == 400, (path, status, text[:300])
        assert "deep" in json.loads(text)["error"], text


@pytest.mark.parametrize("path", JSON_ROUTES)
def test_a_body_past_the_size_limit_is_a_413_on_every_json_route(
    served: ServedRunner, path: str
) -> None:
    """A body one byte over the limit is a 413 with a JSON error, said before parsing."""
    raw = b'"' + b"x" * MAX_BODY + b'"'
    status, text = send(served, path, raw)
    assert status == 413, (path, status, text[:300])
    assert str(MAX_BODY) in json.loads(text)["error"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("for", 10**400), ("for", -(10**400)), ("until", 10**400), ("until", 1e308)],
    ids=["for-huge", "for-huge-negative", "until-huge", "until-far"],
)
def test_a_maintenance_window_s_number_out_of_range_is_a_400_naming_it(
    served: ServedRunner, field: str, value: float
) -> None:
    """``for`` and ``until`` as numbers no float holds (or past the window's bound) are a
    400 naming the field, not an OverflowError's 500."""
    raw = json.dumps({"monitors": ["web"], field: value, "reason": "upgrade"}).encode()
    status, text = send(served, "/api/maintenance", raw)
    assert status == 400, text
    assert json.loads(text)["error"].startswith(f"{field}:"), text


@pytest.mark.parametrize("raw", [b'{"text": NaN}', b'{"reason": Infinity}', b'{"a": -Infinity}'])
def test_non_json_constants_are_refused_as_not_json(served: ServedRunner, raw: bytes) -> None:
    """``NaN`` and ``Infinity``, which Python's json reads but JSON has not, are a 400."""
    status, text = send(served, "/api/monitors/web/pause", raw)
    assert status == 400, text
    assert "not JSON" in json.loads(text)["error"], text


@pytest.mark.parametrize("value", ["1e9", "١٢", "nan", "inf", "-1", "86400001"])
def test_a_push_s_duration_is_a_json_number_in_range(served: ServedRunner, value: str) -> None:
    """``duration_ms`` is held to the shared reader: another script's digits, no number,
    below zero or more than a day (1e9 ms) are a 400 naming it."""
    from urllib.parse import quote

    status, _, body = served.get(
        f"/api/push/push-token-0123456789abcdef?duration_ms={quote(value)}"
    )
    assert status == 400, body
    assert json.loads(body)["error"].startswith("duration_ms:")


def test_one_bad_series_is_left_out_and_counted_the_rest_are_scraped(
    served: ServedRunner,
) -> None:
    """A value no float holds, kept by the metrics the way an older tether that took any
    ``dropped`` kept it, is left out of the scrape and counted in
    tether_metrics_render_errors_total; the scrape is 200 with every other series."""
    s = served
    assert send(s, "/api/report", report())[0] == 202

    def spoil() -> None:
        s.runner.metrics.traffic_calls.dropped["legacy"] = 10**309

    s.on_loop(spoil)
    status, _, body = s.get("/metrics")
    assert status == 200, body[:300]
    lines = body.decode().splitlines()
    assert (
        'tether_traffic_calls_total{app="checkout",endpoint="payments.internal:443",kind=""} 1.0'
        in lines
    )
    assert not any(line.startswith('tether_traffic_dropped_total{app="legacy"}') for line in lines)
    assert "tether_metrics_render_errors_total 1.0" in lines
    again = s.get("/metrics")
    assert again[0] == 200
    assert "tether_metrics_render_errors_total 2.0" in again[2].decode().splitlines()


@pytest.mark.parametrize(
    ("latency", "phase"),
    [(float("inf"), "1e400"), (-1e308, "-1"), ("fast", '"slow"'), (None, "1" + "0" * 400)],
    ids=["infinite", "negative", "text", "huge"],
)
def test_a_stored_result_a_direct_write_spoiled_never_fails_a_page(
    served: ServedRunner, latency: object, phase: str
) -> None:
    """A result row whose latency or phase time a direct database write made infinite,
    negative, text or a 401-digit number is read as no latency: the monitor's page and
    JSON, the overview and its JSON are 200."""
    s = served
    s.check("web")
    with sqlite3.connect(s.store.path) as db:  # type: ignore[attr-defined]
        db.execute(
            "UPDATE results SET latency_ms = ?, data = ? WHERE monitor = 'web'",
            (latency, f'{{"phases": {{"connect": {phase}}}, "lag_ms": {phase}}}'),
        )
    for path in ("/api/monitors/web", "/monitors/web", "/api/status", "/"):
        status, _, body = s.get(path)
        assert status == 200, (path, body[:300])


def test_the_client_never_says_more_dropped_calls_than_the_monitor_takes(
    served: ServedRunner,
) -> None:
    """A client that dropped more calls than one batch may say (2^53) says that many,
    then the rest in its next batch, and the real monitor takes both batches."""
    from tether import Reporter
    from tether._reporter import MAX_DROPPED as CLIENT_MAX
    from tether.monitor.web.api._reported import MAX_DROPPED

    assert CLIENT_MAX == MAX_DROPPED
    s = served
    reporter = Reporter(s.base, app="checkout", start_thread=False)
    try:
        reporter._overflow[0] = MAX_DROPPED + 5  # more drops than a test could make
        for _ in range(2):
            reporter.sink((EPOCH + 1, PAY, "GET", None, 200, 0.001, 1))
            assert reporter.flush(10)
        assert (reporter.stats().sent, reporter.stats().rejected) == (2, 0)
    finally:
        reporter.close(10)
    dropped = s.on_loop(lambda: dict(s.runner.metrics.traffic_calls.dropped))
    assert dropped == {"checkout": MAX_DROPPED + 5}


@pytest.mark.parametrize(
    "spoil",
    [
        {"baseline": {"window": [10**400]}},
        {"baseline": {"window": [float("inf")]}},
        {"availability": {"changes": [10**400]}},
        {"slow": float("inf")},
    ],
    ids=["huge-sample", "infinite-sample", "huge-change", "infinite-count"],
)
def test_a_saved_detector_state_a_direct_write_spoiled_is_started_afresh(
    tmp_path: Path, spoil: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A monitor's saved state whose numbers a direct database write made huge or
    infinite is logged and started afresh: the monitor starts (it once raised
    OverflowError before serving anything) and checks the monitor again."""
    db = tmp_path / "t.db"
    s = ServedRunner(config(), SQLiteStore(db))
    s.check("web")
    s.on_loop(s.runner.checkpoint)
    s.store.flush()
    s.close()
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT monitor, data FROM monitor_state").fetchall()
        assert rows
        for key, text in rows:
            saved = json.loads(text)
            for field, value in spoil.items():
                saved[field] = {**saved[field], **value} if isinstance(value, dict) else value
            conn.execute(
                "UPDATE monitor_state SET data = ? WHERE monitor = ?", (json.dumps(saved), key)
            )
    with caplog.at_level("WARNING", logger="tether.monitor"):
        again = ServedRunner(config(), SQLiteStore(db))
    try:
        assert "saved state not restored, starting afresh" in caplog.text
        again.check("web")
        assert again.get("/api/monitors/web")[0] == 200
    finally:
        again.close()


def test_a_source_of_series_that_raises_loses_only_its_own(served: ServedRunner) -> None:
    """A collector that raises when scraped (a second reader of the store's health,
    which fails) costs its own series alone: the scrape is 200 with the series before
    it and after it, and counts the failure."""
    s = served
    assert send(s, "/api/report", report())[0] == 202

    def health() -> Any:
        raise RuntimeError("the store's health cannot be read")

    s.on_loop(s.runner.metrics.watch_store, health)
    status, _, body = s.get("/metrics")
    assert status == 200, body[:300]
    lines = body.decode().splitlines()
    # The runner's own store collector, before the broken one, and what comes after it.
    assert [line for line in lines if line.startswith("tether_store_up ")] == [
        "tether_store_up 1.0"
    ]
    assert any(line.startswith("tether_traffic_calls_total{") for line in lines)
    assert any(line.startswith("tether_cluster_leader ") for line in lines)
    assert "tether_metrics_render_errors_total 1.0" in lines
