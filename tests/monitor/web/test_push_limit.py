"""The push endpoint's rate limit: a token bucket per push monitor on an injected clock,
that never refuses a heartbeat sent at its interval and limits a flood; over HTTP, a
refused push is a 429 with Retry-After and is not recorded (a real Runner served on
loopback, its clock moved by the test)."""

from __future__ import annotations

import random
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.helpers.tether_processes import rows
from tests.helpers.web_harness import ServedRunner
from tether.monitor.config import parse_config
from tether.monitor.web.api._push import PUSH_BURST, PushLimiter

TOKEN = "limit-push-token-0123456789abcdef"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("interval", [1.0, 60.0, 600.0, 86400.0])
def test_a_heartbeat_at_its_interval_is_never_refused(interval: float) -> None:
    """A push every interval, early or late by up to half of it, is allowed every time
    over 1,000 intervals, and so are a few retries of each."""
    clock = Clock()
    limiter = PushLimiter(clock)
    rand = random.Random(7)
    for _ in range(1000):
        clock.now += interval * rand.uniform(0.5, 1.5)
        for _retry in range(3):  # a job that pushes, then retries twice at once
            assert limiter.take("job", interval) is None


def test_a_flood_is_limited_and_a_heartbeat_is_allowed_once_it_stops() -> None:
    """3,000 pushes in 10 s to one monitor (interval 1m) are allowed at most the burst
    and the refill; another monitor is not affected; the next heartbeat an interval
    later is allowed."""
    clock = Clock()
    limiter = PushLimiter(clock)
    allowed = 0
    waits = []
    for i in range(3000):
        clock.now = 1000.0 + i * 10 / 3000
        wait = limiter.take("job", 60.0)
        if wait is None:
            allowed += 1
        else:
            waits.append(wait)
    assert allowed <= PUSH_BURST + 2  # one more every 6 s
    assert all(0 < w <= 6 for w in waits)
    assert limiter.take("other", 60.0) is None
    clock.now += 60
    assert limiter.take("job", 60.0) is None


def push(s: ServedRunner) -> tuple[int, str | None]:
    request = urllib.request.Request(f"{s.base}/api/push/{TOKEN}?msg=hi")
    try:
        with urllib.request.urlopen(request, timeout=20) as r:
            return r.status, None
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code, exc.headers.get("Retry-After")


def test_a_flood_over_http_is_answered_429_and_not_recorded(
    tmp_path: Path, serve_runner: Callable[..., ServedRunner]
) -> None:
    """Pushes past the burst at one instant are 429 with Retry-After and leave no check;
    once the monitor's clock has moved on by an interval, a push is taken again."""
    config = parse_config(
        yaml.safe_dump(
            {"monitors": [{"name": "job", "type": "push", "token": TOKEN, "interval": "1m"}]}
        )
    )
    s = serve_runner(config)
    db = tmp_path / "t.db"  # serve_runner's store's file

    def stored() -> int:
        s.store.flush()
        return len(rows(db, "SELECT * FROM results WHERE monitor = 'job'"))

    answers = [push(s) for _ in range(3 * PUSH_BURST)]
    assert answers[:PUSH_BURST] == [(200, None)] * PUSH_BURST
    assert answers[PUSH_BURST:] == [(429, "6")] * (2 * PUSH_BURST)
    assert stored() == PUSH_BURST
    s.now += 60
    assert push(s) == (200, None)
    assert stored() == PUSH_BURST + 1
