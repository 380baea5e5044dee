"""Heartbeat (push) monitors: /api/push/TOKEN on a real Runner served on loopback, its
clock moved by the test, alerts delivered to a real webhook receiver."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from tests.helpers.alerts_receiver import Receiver
from tests.helpers.web_harness import EPOCH, ServedRunner
from tether.monitor._state import State
from tether.monitor.config import ConfigError, parse_config
from tether.monitor.engine._heartbeat import missed
from tether.monitor.web.status._statuspage import trouble

TOKEN = "s3cr3t-push-token-0123456789"
NIGHTLY = "n1ghtly-push-token-abcdefghij"


def config(hook: str) -> Any:
    return parse_config(
        yaml.safe_dump(
            {
                "alerts": [{"name": "ops", "type": "webhook", "url": hook}],
                "monitors": [
                    {
                        "name": "backup",
                        "type": "push",
                        "token": TOKEN,
                        "interval": "10m",
                        "grace": "1m",
                        "alerts": ["ops"],
                    },
                    {
                        "name": "nightly",
                        "type": "push",
                        "token": NIGHTLY,
                        "cron": "0 3 * * *",
                        "grace": "30m",
                    },
                ],
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


def push(
    s: ServedRunner, path: str, method: str = "GET", data: bytes | None = None
) -> tuple[int, Any]:
    request = urllib.request.Request(s.base + path, method=method, data=data)
    if data is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=20) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def tick(s: ServedRunner, to: float) -> None:
    """Move the clock to ``to``, run the heartbeat timer and deliver what is due."""
    s.now = to
    s.on_loop(s.runner.pushes.heartbeats)
    s.on_loop(s.runner.tick)
    s.store.flush()
    s.on_loop(s.runner.outbox.deliver_due, to)


def state(s: ServedRunner, name: str) -> State:
    return s.runner.quorum.view()[name]


def test_pushes_keep_it_up_a_missed_one_alerts_once_and_a_push_recovers(
    served: ServedRunner, receiver: Receiver
) -> None:
    """Pushes within interval+grace keep it up; none for that long is down with one
    alert; the next push brings it back up."""
    s = served
    for minute in (5, 14, 23):
        s.now = EPOCH + minute * 60
        assert push(s, f"/api/push/{TOKEN}?duration_ms=1234") == (200, {"ok": True})
        tick(s, s.now + 30)
    assert state(s, "backup") is State.UP
    assert s.runner.latest["backup"].latency_ms == 1234
    tick(s, EPOCH + 23 * 60 + 10 * 60 + 59)  # 10m interval + 1m grace, not yet
    assert state(s, "backup") is State.UP
    tick(s, EPOCH + 23 * 60 + 11 * 60)
    assert state(s, "backup") is State.DOWN
    for later in (20, 40):  # still missing: down, no second alert
        tick(s, EPOCH + (23 + later) * 60)
    assert state(s, "backup") is State.DOWN
    opened = [json.loads(body) for _, body in receiver.got]
    assert len(opened) == 1, opened
    assert "backup" in json.dumps(opened[0])
    assert "no push since" in json.dumps(opened[0])
    # Its own words (issue 24): not a failed condition, whose fix is to check conditions a
    # push monitor does not have, but a job that did not report.
    assert opened[0]["kind"] == "heartbeat.missed"
    (incident,) = s.store.incidents(open_only=True)
    assert incident.key == "monitor:backup:heartbeat.missed"
    assert incident.hint.startswith("Check that the job that should push ran")
    assert trouble(incident.kind) == "not reporting"
    s.now = EPOCH + 70 * 60
    assert push(s, f"/api/push/{TOKEN}", "POST", b"status=up")[0] == 200
    tick(s, s.now + 1)
    assert state(s, "backup") is State.UP
    assert len(receiver.got) == 2  # the resolution


def test_status_down_is_a_failure_with_the_message(served: ServedRunner) -> None:
    """``status=down&msg=...`` makes it down at once, the message its detail (redacted)."""
    s = served
    s.now = EPOCH + 60
    status, _ = push(s, f"/api/push/{TOKEN}?status=down&msg=disk+full+on+http://u:pw@db/")
    assert status == 200
    assert state(s, "backup") is State.DOWN
    detail = s.runner.latest["backup"]
    assert not detail.ok
    # The page reads what the store has committed: the incident's write is queued on the
    # writer thread, which a loaded machine runs a moment later.
    s.store.flush()
    status_doc = s.json("/api/status")
    text = json.dumps(status_doc)
    assert "disk full" in text
    assert "pw@" not in text


def test_unknown_token_and_bad_input(served: ServedRunner) -> None:
    """Any unknown token is the same 404; a bad status or duration is a JSON 400."""
    s = served
    assert push(s, "/api/push/nope") == (
        404,
        {"ok": False, "error": "no push monitor has this token"},
    )
    assert push(s, f"/api/push/{TOKEN}x")[0] == 404
    assert push(s, f"/api/push/{TOKEN}?status=maybe")[0] == 400
    assert push(s, f"/api/push/{TOKEN}?duration_ms=-1")[0] == 400


def test_cron_schedule_misses_the_night_it_did_not_run(served: ServedRunner) -> None:
    """A cron push monitor is down only once its time plus grace passed with no push."""
    s = served
    start = EPOCH  # 08:00 UTC
    tick(s, start + 19 * 3600 + 29 * 60)  # 03:29 next day: within grace
    assert state(s, "nightly") is not State.DOWN
    s.now = start + 19 * 3600 + 20 * 60  # pushed at 03:20
    assert push(s, f"/api/push/{NIGHTLY}")[0] == 200
    tick(s, start + 19 * 3600 + 31 * 60)
    assert state(s, "nightly") is State.UP
    tick(s, start + 43 * 3600 + 29 * 60)  # the next night, still in grace
    assert state(s, "nightly") is State.UP
    tick(s, start + 43 * 3600 + 30 * 60)
    assert state(s, "nightly") is State.DOWN


def test_missed_is_pure_over_the_schedule() -> None:
    """``missed`` gives each overdue expected time once, for an interval and for cron."""
    cfg = config("http://127.0.0.1:9/hook")
    backup, nightly = cfg.monitors
    assert missed(backup, 0, 659) is None
    assert missed(backup, 0, 660) == 600
    assert missed(backup, 0, 1259) == 600
    assert missed(backup, 0, 1260) == 1200
    three = 1_800_068_400.0  # 2027-01-16T03:00:00Z
    assert missed(nightly, three - 3600, three + 1799) is None
    assert missed(nightly, three - 3600, three + 1800) == three
    assert missed(nightly, three + 60, three + 3600) is None


def test_the_token_shows_nowhere(served: ServedRunner, caplog: pytest.LogCaptureFixture) -> None:
    """The token appears in no page, API document or log line, nor in the config's repr."""
    s = served
    caplog.set_level(logging.DEBUG)
    s.now = EPOCH + 60
    push(s, f"/api/push/{TOKEN}?status=down&msg=boom")
    tick(s, EPOCH + 3600)
    seen = [s.get_text(p)[2] for p in ("/", "/api/status", "/monitors/backup", "/metrics")]
    seen += [caplog.text, repr(s.runner.config)]
    for text in seen:
        assert TOKEN not in text
        assert NIGHTLY not in text


@pytest.mark.parametrize(
    ("monitor", "error"),
    [
        ({"type": "push"}, "monitors[0].token: a push monitor needs a token"),
        ({"type": "push", "token": "short"}, "monitors[0].token: must be 10 to 256"),
        (
            {"type": "push", "token": TOKEN, "url": "http://x/"},
            "monitors[0].url: a push monitor probes nothing",
        ),
        (
            {"type": "push", "token": TOKEN, "cron": "0 3 * * *", "interval": "1h"},
            "monitors[0].cron: give interval or cron, not both",
        ),
        ({"type": "push", "token": TOKEN, "cron": "0 25 * * *"}, "monitors[0].cron:"),
        ({"url": "http://x/", "grace": "1m"}, "monitors[0].grace: only a push monitor"),
        ({"url": "push://x"}, "monitors[0].url: push:// is not probed"),
    ],
)
def test_config_errors_name_the_key(monitor: dict[str, Any], error: str) -> None:
    """Each mistake in a push monitor is one message at its key path."""
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml.safe_dump({"monitors": [{"name": "m", **monitor}]}))
    assert error in str(caught.value)
    assert TOKEN not in str(caught.value)
