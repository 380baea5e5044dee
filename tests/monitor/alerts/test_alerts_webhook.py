"""Webhook alerts through the outbox, against a real HTTP receiver on loopback.

The receiver is down (its port refuses) and then comes back; time is passed
in as numbers and retry waits are skipped with ``fast_retries``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from pathlib import Path

import pytest

from tests.helpers.alert_payloads import down_too, opened, resolved
from tests.helpers.alerts_receiver import Receiver
from tether import RetryPolicy
from tether.monitor._records import AlertPayload, alert_key
from tether.monitor.alerts import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    Outbox,
    WebhookChannel,
    sign,
)
from tether.monitor.store import SQLiteStore
from tether.testing import Override

T0 = 1_700_000_000.0
SECRET = "s3cret-value"


def test_signature_is_hmac_sha256_of_the_body() -> None:
    """sign() gives sha256=HEX of HMAC-SHA256, which a receiver can check."""
    body = b'{"a": 1}'
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert sign(body, SECRET) == f"sha256={expected}"
    assert sign(body, SECRET) != sign(body + b" ", SECRET)


def test_an_alert_reaches_a_live_receiver_signed(
    fresh_store: SQLiteStore, receiver: Receiver, fast_retries: Override
) -> None:
    """A queued alert is POSTed once as its payload's JSON, with a signature the receiver
    can verify."""
    receiver.start()
    channel = WebhookChannel("ops", receiver.url, secret=SECRET)
    outbox = Outbox(fresh_store, {"ops": channel})
    assert outbox.queue("ops", "7:api:incident.opened", opened(), now=T0)
    assert outbox.deliver_due(now=T0) == (1, 0)
    assert outbox.deliver_due(now=T0 + 100) == (0, 0)
    channel.close()
    ((headers, body),) = receiver.got
    key = alert_key("ops", "7:api:incident.opened")
    assert json.loads(body) == {**opened().to_json(), "key": key}
    assert headers["Content-Type"] == "application/json"
    assert hmac.compare_digest(headers[SIGNATURE_HEADER], sign(body, SECRET))
    # A structured-field string (IETF httpapi draft), the same key as the body's.
    assert headers[IDEMPOTENCY_HEADER] == f'"{key}"'


def test_the_key_is_the_same_for_every_copy_and_differs_by_channel() -> None:
    """An alert's key depends on its channel and dedup key only: a copy delivered again
    (by this instance or another) carries the same one; the same alert on another channel
    is another message; it is 32 hex digits whatever the monitor's name."""
    key = alert_key("ops", "7:café-api:incident.opened:1.000")
    assert key == alert_key("ops", "7:café-api:incident.opened:1.000")
    assert key != alert_key("pager", "7:café-api:incident.opened:1.000")
    assert key != alert_key("ops", "7:café-api:incident.opened:2.000")
    assert len(key) == 32
    assert set(key) <= set("0123456789abcdef")
    assert alert_key("ops", "x:\ud800:y")  # a lone surrogate in a name does not break it


def test_the_body_names_the_monitor_its_target_and_what_a_recovery_resolves(
    receiver: Receiver,
) -> None:
    """The JSON carries monitor, url, at and since as ISO times, and the kind: as `kind`
    while down, as `resolves` once back (so a receiver can match the two)."""
    receiver.start()
    channel = WebhookChannel("ops", receiver.url)
    try:
        channel.deliver(opened(), "k1")
        channel.deliver(resolved(), "k2")
    finally:
        channel.close()
    down, back = (json.loads(body) for _, body in receiver.got)
    assert down == {
        "key": "k1",
        "event": "incident.opened",
        "monitor": "api",
        "incident": 7,
        "monitors": ["api"],
        "monitor_count": 1,
        "host_count": None,
        "url": "http://127.0.0.1:8080/health",
        "at": "2026-03-02T14:05:09+00:00",
        "since": "2026-03-02T14:05:09+00:00",
        "kind": "connect.refused",
        "resolves": None,
        "detail": opened().detail,
        "hint": opened().hint,
        "text": opened().text,
        "labels": {},
    }
    assert (back["event"], back["at"], back["since"]) == (
        "incident.resolved",
        "2026-03-02T14:08:11+00:00",
        "2026-03-02T14:05:09+00:00",
    )
    assert (back["kind"], back["resolves"]) == (None, "connect.refused")


def test_a_receiver_down_for_five_minutes_gets_every_alert_once_back(
    tmp_path: Path, receiver: Receiver, fast_retries: Override
) -> None:
    """Alerts queued while the receiver refuses are retried with capped backoff and each
    lands exactly once, in the order queued, within a minute of its return; nothing is
    lost across a restart."""
    # The outbox runs on numbers for time; a circuit breaker on the real clock
    # would stay open across simulated minutes, so this channel has none.
    channel = WebhookChannel("ops", receiver.url, policy=RetryPolicy(attempts=2, breaker=None))
    path = tmp_path / "t.db"
    with SQLiteStore(path) as store:
        outbox = Outbox(store, {"ops": channel}, rand=lambda: 0.5)
        for n in range(3):
            outbox.queue("ops", f"api:{n}", opened(monitor=f"m{n}"), now=T0)
        now = T0
        while now < T0 + 300:  # five minutes of the receiver being down
            delivered, _ = outbox.deliver_due(now)
            assert delivered == 0
            now += 5
    # tether restarts; the receiver comes back at T0 + 300.
    receiver.start()
    with SQLiteStore(path) as store:
        outbox = Outbox(store, {"ops": channel}, rand=lambda: 0.5)
        delivered_at = []
        now = T0 + 300
        while len(delivered_at) < 3 and now < T0 + 400:
            delivered, _ = outbox.deliver_due(now)
            delivered_at += [now] * delivered
            now += 1
        assert outbox.deliver_due(now + 1000) == (0, 0)
    channel.close()
    assert len(delivered_at) == 3
    assert max(delivered_at) - (T0 + 300) <= 60
    assert [json.loads(b)["monitor"] for _, b in receiver.got] == ["m0", "m1", "m2"]


@pytest.mark.parametrize(
    ("rand", "waits"), [(0.0, [2.5, 5, 10, 20, 30, 30]), (1.0, [5, 10, 20, 40, 60, 60])]
)
def test_the_retry_schedule_is_the_documented_one(
    fresh_store: SQLiteStore, rand: float, waits: list[float]
) -> None:
    """docs/monitor.md: the n-th retry waits between half and all of min(5 x 2^(n-1), 60)
    seconds, from the end of the failed attempt (issue 24: the docs said "5 s doubling to
    60 s").  A real refused port: a socket bound and never listening."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{held.getsockname()[1]}/hook"
        channel = WebhookChannel("ops", url, policy=RetryPolicy(attempts=1, breaker=None))
        outbox = Outbox(fresh_store, {"ops": channel}, rand=lambda: rand)
        outbox.queue("ops", "api:0", opened(), now=T0)
        now, seen = T0, []
        for _ in waits:
            assert outbox.deliver_due(now) == (0, 1)
            (head,) = fresh_store.alert_heads()
            seen.append(round(head.next_at - now, 3))
            now = head.next_at
        channel.close()
    assert seen == waits


def test_queueing_to_an_unknown_channel_is_an_error(fresh_store: SQLiteStore) -> None:
    """An alert for a channel that is not configured is refused at once."""
    with pytest.raises(KeyError, match="no alert channel named 'pager'"):
        Outbox(fresh_store, {}).queue("pager", "x", opened(), now=T0)


def test_the_channel_repr_redacts_credentials() -> None:
    """A webhook URL with a password never shows it in repr()."""
    channel = WebhookChannel("ops", "http://user:hunter2@127.0.0.1:9/hook")
    try:
        assert "hunter2" not in repr(channel)
    finally:
        channel.close()


def test_opened_to_round_trips_and_a_damaged_one_reads_as_none() -> None:
    """A later alert's ``opened_to`` survives the outbox (its JSON, read back after a
    restart); a value that is no list of names (a damaged row) reads as none, never an
    exception that would stop the channel's queue."""
    payload = down_too(opened_to=("ops", "mail"))
    assert AlertPayload.from_json(payload.to_json()).opened_to == ("ops", "mail")
    for damaged in (7, "ops", None, {"ops": 1}):
        assert AlertPayload.from_json({**payload.to_json(), "opened_to": damaged}).opened_to == ()


def test_a_receivers_endless_answer_is_not_read(fresh_store: SQLiteStore) -> None:
    """Issue 72 §2, for alert channels too: a receiver that answers 200 with a 400 MiB body
    (written for as long as the client reads) delivers the alert, and the channel reads
    none of the body: the receiver gets to write no more than the sockets' buffers hold
    (before, requests read it all into memory)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    written: list[int] = []

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(65536)
            head, _, got = request.partition(b"\r\n\r\n")
            length = int(
                next(
                    line.split(b":")[1]
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
            )
            while len(got) < length:
                got += conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 419430400\r\n\r\n")
            chunk, sent = b"x" * 65536, 0
            try:
                while sent < 419430400:
                    conn.sendall(chunk)
                    sent += len(chunk)
            except OSError:
                pass
            written.append(sent)

    thread = threading.Thread(target=serve)
    thread.start()
    channel = WebhookChannel("ops", f"http://127.0.0.1:{port}/hook")
    outbox = Outbox(fresh_store, {"ops": channel})
    try:
        assert outbox.queue("ops", "7:api:incident.opened", opened(), now=T0)
        assert outbox.deliver_due(now=T0) == (1, 0)
    finally:
        channel.close()
        thread.join(timeout=60)
        listener.close()
    (sent,) = written
    assert sent < 32 * 1024 * 1024, f"the channel read {sent} bytes of the answer"
