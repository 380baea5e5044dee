"""Deliveries to an address a stranger chose are bounded (issue 72 §2): a webhook subscriber
that answers a byte at a time is cut off at the delivery's deadline, one that answers
without end is read only as far as a status needs, one that hangs holds no other
subscriber's news, and a refusal that will not change is not retried.  Real receivers on
loopback; the deadline is the Deliverer's, given small."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.helpers.smtp_receiver import SMTPReceiver
from tests.helpers.status_harness import config_data
from tether.lab import Lab
from tether.monitor.alerts._subscribers import ANSWER_CAP, Deliverer, confirmation
from tether.monitor.config import parse_config
from tether.monitor.store import SQLiteStore
from tether.monitor.store._subscribers import Subscriber

Behaviour = Callable[[socket.socket, list[int], threading.Event], None]


def _read_request(conn: socket.socket) -> None:
    conn.settimeout(5)
    data = b""
    with contextlib.suppress(OSError):
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk


def tarpit(conn: socket.socket, sent: list[int], stop: threading.Event) -> None:
    """A header byte every 0.2 s, for ever: each read returns in time."""
    _read_request(conn)
    with contextlib.suppress(OSError):
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
            if stop.wait(0.2):  # the server's misbehaviour, in real time
                return
            conn.sendall(bytes([byte]))
            sent[0] += 1


def endless(conn: socket.socket, sent: list[int], stop: threading.Event) -> None:
    """200, then a chunked body that never ends (400 MiB and more), as fast as it is read."""
    _read_request(conn)
    chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
    with contextlib.suppress(OSError):
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        while not stop.is_set() and sent[0] < 400 * 2**20:
            conn.sendall(chunk)
            sent[0] += len(chunk)


def answer(status: int) -> Behaviour:
    def behave(conn: socket.socket, sent: list[int], stop: threading.Event) -> None:
        _read_request(conn)
        with contextlib.suppress(OSError):
            conn.sendall(b"HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n" % status)
            sent[0] += 1

    return behave


@contextlib.contextmanager
def receiver(behave: Behaviour) -> Iterator[tuple[str, list[int]]]:
    """A webhook receiver on loopback behaving as ``behave``; its URL and the bytes it sent."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    sent = [0]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                behave(conn, sent, stop)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook", sent
    finally:
        stop.set()
        thread.join(timeout=10)
        listener.close()


@pytest.fixture
def smtp() -> Iterator[SMTPReceiver]:
    """aiosmtpd on loopback, refusing one address at RCPT TO with 550."""
    server = SMTPReceiver(refuse=frozenset({"gone@lab.test", "syntax@lab.test"}))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def deliver(
    tmp_path: Path, lab: Lab, smtp: SMTPReceiver
) -> Iterator[Callable[..., tuple[Path, Deliverer]]]:
    """A store and a Deliverer (deadline 1 s) for the public page, whose subscribers are
    the given webhook URLs and e-mail addresses, each with its confirmation queued."""
    data = config_data(lab)
    data["alerts"] = [
        {
            "name": "mail",
            "type": "email",
            "host": "127.0.0.1",
            "port": smtp.port,
            "from": "status@lab.test",
            "to": "ops@lab.test",
            "starttls": False,
        }
    ]
    data["status_pages"][0]["subscribe"] = {
        "url": "https://status.lab.test",
        "email": "mail",
        "webhook": True,
        "webhook_networks": ["127.0.0.0/8"],
    }
    config = parse_config(yaml.safe_dump(data))
    stores: list[SQLiteStore] = []

    def make(*urls: str) -> tuple[Path, Deliverer]:
        path = tmp_path / f"subs{len(stores)}.db"
        store = SQLiteStore(path)
        stores.append(store)
        now = time.time()
        for n, url in enumerate(urls):
            kind = "webhook" if url.startswith("http") else "email"
            store.subscribe(
                Subscriber(0, "public", kind, url, f"token{n}", "secret", now, None),
                confirmation("public", "Example Shop"),
                now,
            )
        return path, Deliverer(store, lambda: config, "test", time.time, deadline=1.0)

    yield make
    for store in stores:
        store.close()


def _outbox(path: Path) -> dict[str, tuple[str | None, bool, bool]]:
    """Each subscriber's delivery as the store's file holds it: (its last error, delivered,
    given up)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute(
            "SELECT s.address, d.last_error, d.delivered, d.gave_up "
            "FROM tether_status_deliveries d JOIN tether_subscribers s ON s.id = d.subscriber"
        ).fetchall()
    return {a: (error, done is not None, up is not None) for a, error, done, up in rows}


def test_a_tarpit_is_cut_off_at_the_deadline_and_holds_no_one_else(
    deliver: Callable[..., tuple[Path, Deliverer]],
) -> None:
    """A receiver that drips its answer is cut off at the delivery's deadline (it sent a few
    bytes of its 10,000) and retried later; a receiver that answers at once got its
    message in the same round, and one that streams without end was read up to the cap."""
    with (
        receiver(tarpit) as (slow, dripped),
        receiver(answer(200)) as (good, _),
        receiver(endless) as (flood, flooded),
    ):
        path, deliverer = deliver(slow, good, flood)
        assert deliverer.deliver_due() == 2
        outbox = _outbox(path)
    assert outbox[good][1]
    assert outbox[flood][1]
    error, delivered, given_up = outbox[slow]
    assert "took more than 1 s in all" in (error or "")
    assert not delivered
    assert not given_up
    assert dripped[0] < 100
    # The client read at most its cap; what the server pushed beyond is the socket's buffers.
    assert flooded[0] < ANSWER_CAP + 16 * 2**20


@pytest.mark.parametrize(
    ("status", "given_up"), [(404, True), (410, True), (429, False), (503, False)]
)
def test_a_refusal_that_will_not_change_is_given_up(
    deliver: Callable[..., tuple[Path, Deliverer]], status: int, given_up: bool
) -> None:
    """A 4xx other than 408, 425 and 429 ends the delivery at once; a 429 or a 5xx is
    tried again later."""
    with receiver(answer(status)) as (url, _):
        path, deliverer = deliver(url)
        assert deliverer.deliver_due() == 0
        error, delivered, gave_up = _outbox(path)[url]
    assert not delivered
    assert gave_up is given_up
    assert str(status) in (error or "")


@pytest.mark.parametrize(
    ("address", "code"), [("gone@lab.test", "550"), ("syntax@lab.test", "553")]
)
def test_a_mail_address_refused_for_good_is_given_up(
    deliver: Callable[..., tuple[Path, Deliverer]], smtp: SMTPReceiver, address: str, code: str
) -> None:
    """A subscriber's address the mail server refuses with 550 or 553 at RCPT TO: given up
    at once, not retried for a day; another address on the same server gets its message."""
    path, deliverer = deliver(address, "ann@lab.test")
    assert deliverer.deliver_due() == 1
    outbox = _outbox(path)
    error, delivered, gave_up = outbox[address]
    assert code in (error or "")
    assert gave_up
    assert not delivered
    assert outbox["ann@lab.test"][1]
    assert [r.rcpt_tos for r in smtp.received] == [("ann@lab.test",)]


def test_a_stored_webhook_url_with_no_port_is_given_up_at_once(
    deliver: Callable[..., tuple[Path, Deliverer]],
) -> None:
    """A webhook row stored before its URL was checked when taken (a port past 65535) is
    given up at once, not raised as a failure and tried for a day."""
    url = "http://127.0.0.1:99999/hook"
    path, deliverer = deliver(url)
    assert deliverer.deliver_due() == 0
    error, delivered, gave_up = _outbox(path)[url]
    assert gave_up
    assert not delivered
    assert "port" in (error or "").lower()


# A receiver that hangs holds only its own worker, not a batch: the monitor's loop
# (Deliverer.pump) starts each due delivery as a worker is free and records each as it
# ends.  Before, each round claimed 50 and waited for the slowest of them: 100 hanging
# receivers among 1,000 held the 900 others' news for 7.7 minutes
# (benchmarks/bench_subscribers.py).


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
