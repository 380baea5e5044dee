"""A receiver that hangs holds only its own worker, not a batch (issue 72 §2): the
monitor's loop (``Deliverer.pump``) starts each due delivery as a worker is free and
records each as it ends, so the other subscribers' news lands while one hangs.  Before,
each round claimed 50 and waited for the slowest of them: 100 hanging receivers among
1,000 held the 900 others' news for 20 rounds of the 15 s deadline (about 300 s,
benchmarks/bench_subscribers.py).  Real receivers on loopback; the hanging one is held
by the test until it lets it go, so nothing here waits on a clock."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.monitor.alerts.test_subscriber_deliveries_bounded import (
    _outbox,
    _read_request,
    answer,
    deliver,
    receiver,
    smtp,
)
from tether.monitor.alerts._subscribers import Deliverer

__all__ = ["deliver", "smtp"]  # the fixtures, used here


@contextlib.contextmanager
def held() -> Iterator[
    tuple[Callable[[socket.socket, list[int], threading.Event], None], threading.Event]
]:
    """A receiver's behaviour that reads the request and answers nothing until the test
    sets the event it returns (or the deliverer gives up)."""
    release = threading.Event()

    def behave(conn: socket.socket, sent: list[int], stop: threading.Event) -> None:
        _read_request(conn)
        sent[0] += 1
        release.wait(30)  # the test lets it go; 30 s only so a broken test ends
        with contextlib.suppress(OSError):
            conn.sendall(b"HTTP/1.1 204 X\r\nContent-Length: 0\r\n\r\n")

    try:
        yield behave, release
    finally:
        release.set()


def test_a_hanging_receiver_holds_only_its_own_worker(
    deliver: Callable[..., tuple[Path, Deliverer]],
) -> None:
    """With two workers, a receiver that hangs first in line and five that answer: the
    pump starts the hanging one and goes on with the five on the other worker, each
    recorded delivered while the first still hangs; once let go, it lands too."""
    with held() as (behave, release), receiver(behave) as (stuck, asked):
        goods = [contextlib.ExitStack() for _ in range(5)]
        urls = [stack.enter_context(receiver(answer(204)))[0] for stack in goods]
        try:
            path, deliverer = deliver(stuck, *urls)
            deliverer.workers = 2
            landed = 0
            for _ in range(200):  # each call returns at once: a bound, not a wait
                landed += deliverer.pump()
                if landed == 5:
                    break
                _wait_any(deliverer)
            outbox = _outbox(path)
            assert all(outbox[u][1] for u in urls), outbox
            assert not outbox[stuck][1]
            assert asked[0] == 1  # it was asked, and hangs
            release.set()
            assert deliverer.deliver_due() == 1
            assert _outbox(path)[stuck][1]
        finally:
            for stack in goods:
                stack.close()
            deliverer.close()


def _wait_any(deliverer: Deliverer) -> None:
    """Until one delivery under way ends (what the loop's second does)."""
    from concurrent.futures import FIRST_COMPLETED, wait

    flying = [f for _, f in deliverer._flying.values()]
    wait(flying, timeout=10, return_when=FIRST_COMPLETED)


def test_a_failed_delivery_waits_from_its_end_not_its_claim(
    deliver: Callable[..., tuple[Path, Deliverer]],
) -> None:
    """A delivery claimed at T that failed at T + 100 (it took its whole deadline) is
    tried again 10 s after T + 100: counted from its claim it was due again at once,
    and a hundred hanging ones were claimed again ahead of every other (the clock is the
    test's)."""
    with receiver(answer(503)) as (url, _):
        path, deliverer = deliver(url)
        now = [2_000_000_000.0]
        deliverer.clock = lambda: now[0]
        assert deliverer.pump() == 0
        _wait_any(deliverer)
        now[0] += 100
        assert deliverer.pump() == 0
        deliverer.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        ((next_at, error),) = db.execute(
            "SELECT next_at, last_error FROM tether_status_deliveries"
        ).fetchall()
    assert "503" in error
    assert next_at == 2_000_000_000.0 + 100 + 10
