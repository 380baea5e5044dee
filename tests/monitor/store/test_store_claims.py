"""Claims on the alert outbox: each alert is delivered by the one instance that claimed
it, on SQLite and PostgreSQL alike.

Several instances share one store.  An instance claims a channel's head for a while,
delivers it, and records the outcome, which ends the claim; another instance takes it
over only once the claim has run out (its claimer died).  The store's behaviour runs
once per backend; two outboxes on one PostgreSQL database deliver to a real webhook
receiver on loopback.  Times are passed in, never read.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

from tests.helpers.alert_payloads import opened
from tests.helpers.alerts_receiver import Receiver
from tests.helpers.stores import open_target
from tether import RetryPolicy
from tether.monitor._records import alert_key
from tether.monitor.alerts import IDEMPOTENCY_HEADER, Outbox, WebhookChannel
from tether.monitor.store import PostgresStore, SQLiteStore, Store

T0 = 1_700_000_000.0
HOLD = 60.0


def queue(store: Store, *queued: tuple[str, str]) -> None:
    """Queue an alert per (channel, dedup), one second apart."""
    for n, (channel, dedup) in enumerate(queued):
        assert store.enqueue_alert(channel, dedup, opened(text=dedup), now=T0 + n)


def claimed(store: Store, owner: str, now: float, channel: str | None = None) -> list[str]:
    return [a.dedup for a in store.claim_alerts(owner, now, HOLD, channel)]


def test_a_claimed_head_is_for_its_claimer_alone(target: str) -> None:
    """An instance claims the head of each channel; another instance gets nothing while
    the claim lasts; the claimer may claim again what it holds (a poll while it
    delivers)."""
    with open_target(target) as store:
        queue(store, ("ops", "a0"), ("mail", "b0"), ("ops", "a1"))
        assert claimed(store, "one", T0 + 5) == ["a0", "b0"]
        assert claimed(store, "two", T0 + 5) == []
        assert claimed(store, "two", T0 + 5 + HOLD) == []  # the claim lasts to T0 + 65
        assert claimed(store, "one", T0 + 6) == ["a0", "b0"]  # ... now to T0 + 66
        assert [a.dedup for a in store.alert_heads()] == ["a0", "b0"]  # reading claims none


def test_only_a_channels_head_is_claimed_so_its_order_holds(target: str) -> None:
    """While a channel's head waits (claimed by one instance), its next alert cannot be
    claimed by another; once the head is delivered, the next one can."""
    with open_target(target) as store:
        queue(store, ("ops", "a0"), ("ops", "a1"), ("ops", "a2"))
        (head,) = store.claim_alerts("one", T0 + 5, HOLD)
        assert claimed(store, "two", T0 + 5) == []
        store.mark_delivered(head.id, T0 + 6, claimer="one")
        assert claimed(store, "two", T0 + 6) == ["a1"]
        assert claimed(store, "one", T0 + 6) == []


def test_an_expired_claim_is_taken_over_and_its_late_failure_not_counted(target: str) -> None:
    """The claimer died (or hangs): once its claim has run out, another instance claims the
    alert.  A failure the first one records afterwards is not counted against the alert,
    which is the second one's now; the second one's delivery ends it."""
    with open_target(target) as store:
        queue(store, ("ops", "a0"))
        (head,) = store.claim_alerts("one", T0, HOLD)
        assert claimed(store, "two", T0 + HOLD - 1) == []
        assert claimed(store, "two", T0 + HOLD + 1) == ["a0"]
        store.mark_failed(head.id, "read.timeout: late", T0 + 500, claimer="one")
        (still,) = store.alert_heads()
        assert (still.attempts, still.next_at, still.last_error) == (0, T0, None)
        store.mark_delivered(head.id, T0 + HOLD + 2, claimer="two")
        assert store.alert_heads() == []
        assert claimed(store, "one", T0 + 1000) == []


def test_a_failure_ends_the_claim_and_the_retry_waits_until_due(target: str) -> None:
    """A failed delivery ends its claimer's claim and moves the alert's next try: nobody
    claims it before then, and anybody may after."""
    with open_target(target) as store:
        queue(store, ("ops", "a0"))
        (head,) = store.claim_alerts("one", T0, HOLD)
        store.mark_failed(head.id, "connect.refused: x", T0 + 10, claimer="one")
        assert claimed(store, "two", T0 + 9) == []
        (again,) = store.claim_alerts("two", T0 + 10, HOLD)
        assert (again.dedup, again.attempts, again.last_error) == ("a0", 1, "connect.refused: x")


def test_one_channel_can_be_claimed_alone(target: str) -> None:
    """Claiming for a channel claims its head and leaves the others' to anybody."""
    with open_target(target) as store:
        queue(store, ("ops", "a0"), ("mail", "b0"))
        assert claimed(store, "one", T0 + 5, channel="mail") == ["b0"]
        assert claimed(store, "two", T0 + 5) == ["a0"]


def test_an_outbox_delivers_what_a_dead_instance_claimed_once_its_claim_ran_out(
    target: str, receiver: Receiver
) -> None:
    """An instance claimed an alert and was killed before delivering it: another
    instance's outbox leaves it while the claim lasts, then delivers it, with its key."""
    receiver.start()
    ops = WebhookChannel("ops", receiver.url, policy=RetryPolicy(attempts=1, breaker=None))
    with open_target(target) as store:
        queue(store, ("ops", "a0"))
        assert claimed(store, "killed", T0) == ["a0"]
        outbox = Outbox(store, {"ops": ops}, owner="survivor", hold_for=HOLD)
        assert outbox.deliver_due(T0 + HOLD - 1) == (0, 0)
        assert receiver.got == []
        assert outbox.deliver_due(T0 + HOLD + 1) == (1, 0)
        assert store.alert_heads() == []
    ops.close()
    ((headers, body),) = receiver.got
    key = alert_key("ops", "a0")
    assert (headers[IDEMPOTENCY_HEADER], json.loads(body)["key"]) == (f'"{key}"', key)


def test_a_reopened_sqlite_file_forgets_the_claims_of_a_dead_process(
    tmp_path: Path, receiver: Receiver
) -> None:
    """One monitor per SQLite file: a claim found when the file is opened is a killed
    process's, so the next monitor delivers its alert at once rather than a minute
    later."""
    receiver.start()
    ops = WebhookChannel("ops", receiver.url, policy=RetryPolicy(attempts=1, breaker=None))
    with SQLiteStore(tmp_path / "t.db") as store:
        queue(store, ("ops", "a0"))
        assert claimed(store, "killed", T0) == ["a0"]
    with SQLiteStore(tmp_path / "t.db") as store:
        assert Outbox(store, {"ops": ops}).deliver_due(T0 + 1) == (1, 0)
    ops.close()
    assert len(receiver.got) == 1


def test_two_outboxes_on_one_database_deliver_each_alert_exactly_once(
    postgres_dsn: str, receiver: Receiver
) -> None:
    """Two instances' outboxes (each its own store and channels) share one PostgreSQL
    database, one polling while the other delivers, taking turns to poll first: the
    receiver gets each of 60 alerts on three channels once, in order within its channel,
    with the same key in the header and the body; each instance delivered a share."""
    receiver.start()
    names = ("ops", "mail", "chat")
    with PostgresStore(postgres_dsn) as one, PostgresStore(postgres_dsn) as two:
        hooks = [{c: WebhookChannel(c, receiver.url) for c in names} for _ in range(2)]
        outboxes = [
            Outbox(store, hooks[i], owner=f"instance-{i}", hold_for=HOLD)
            for i, store in enumerate((one, two))
        ]

        async def rounds() -> None:
            for r in range(6):
                for n in range(r * 10, r * 10 + 10):
                    dedup = f"a{n:02}"
                    assert one.enqueue_alert(names[n % 3], dedup, opened(text=dedup), T0 + n)
                first, second = outboxes[r % 2], outboxes[1 - r % 2]
                await first.poll(lambda: T0 + 100)
                await second.poll(lambda: T0 + 100)  # while the first delivers
                await asyncio.gather(first.drain(), second.drain())

        asyncio.run(rounds())
        assert one.backlog() == {}
        shares = [sum(s.sent for s in o.status()) for o in outboxes]
        for outbox, channels in zip(outboxes, hooks, strict=True):
            outbox.close()
            for channel in channels.values():
                channel.close()
    bodies = [json.loads(body) for _, body in receiver.got]
    # Whoever polls first claims the three heads; the other may take a channel over
    # between two of its deliveries (after a head was marked delivered, before the next
    # was claimed), which keeps the order all the same.
    assert sum(shares) == 60
    assert min(shares) >= 9
    assert len(bodies) == 60
    keys = Counter(b["key"] for b in bodies)
    assert len(keys) == 60
    assert set(keys.values()) == {1}
    for headers, body in receiver.got:
        assert headers[IDEMPOTENCY_HEADER] == f'"{json.loads(body)["key"]}"'
    arrived: dict[str, list[int]] = {name: [] for name in names}
    for b in bodies:
        n = int(b["text"].removeprefix("a"))  # each alert's text is its dedup key
        assert b["key"] == alert_key(names[n % 3], b["text"])
        arrived[names[n % 3]].append(n)
    assert arrived == {name: list(range(i, 60, 3)) for i, name in enumerate(names)}


def test_what_a_channel_told_is_read_back_without_what_was_kept(target: str) -> None:
    """``channel_alerts``: a channel's alerts from a time on, oldest first, each with
    whether it was delivered; one a gate kept back (suppressed) is not among them, nor
    another channel's, nor an older one."""
    with open_target(target) as store:
        queue(store, ("ops", "a0"), ("ops", "a1"), ("mail", "b0"), ("ops", "a2"), ("ops", "a3"))
        heads = {a.dedup: a for a in store.claim_alerts("one", T0 + 10, HOLD)}
        store.mark_delivered(heads["a0"].id, T0 + 10, claimer="one")
        (a1,) = store.claim_alerts("one", T0 + 11, HOLD, "ops")
        store.mark_suppressed(a1.id, "silenced by #1", T0 + 11, claimer="one")
        store.flush()
        told = store.channel_alerts("ops", T0)
        assert [(p.text, delivered) for p, delivered in told] == [
            ("a0", True),
            ("a2", False),
            ("a3", False),
        ]
        assert [p.text for p, _ in store.channel_alerts("ops", T0 + 3.5)] == ["a3"]


def test_an_incidents_tellings_are_read_back_by_whom(target: str) -> None:
    """``incident_tellings``: when each incident's opening (by channel) and grouped
    updates (by whom: the channel, with its group) were last queued, from a time on;
    other alerts are not among them."""
    with open_target(target) as store:
        for dedup, channel, at in (
            ("7:api:incident.opened:1.000", "ops", T0),
            ("7:ops:incident.updated:2.000", "ops", T0 + 30),
            ("7:ops:incident.updated:3.000", "ops", T0 + 330),
            ("7:mail{team=db:one}:incident.updated:4.000", "mail", T0 + 40),
            ("7:web:monitor.down:5.000", "pager", T0 + 50),
            ("6:api:incident.opened:0.500", "ops", T0 - 100),
            ("x:incident.opened:", "ops", T0 + 60),  # not the engine's: passed over
            ("8:incident.updated:", "ops", T0 + 60),
        ):
            assert store.enqueue_alert(channel, dedup, opened(text=dedup), now=at)
        store.flush()
        assert store.incident_tellings(T0) == {
            (7, "ops"): T0 + 330,
            (7, "mail{team=db:one}"): T0 + 40,
        }
