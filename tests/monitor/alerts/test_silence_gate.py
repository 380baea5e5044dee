"""Silences at delivery: the outbox's silence gate keeps an alert a silence selects while
it is active, recorded as suppressed with the silence named, and lets every other go to a
real webhook receiver on loopback; on SQLite and PostgreSQL alike, and across two
instances on one PostgreSQL.  Times are passed in, never read."""

from __future__ import annotations

import json

from tests.helpers.alert_payloads import opened
from tests.helpers.alerts_receiver import Receiver
from tests.helpers.stores import open_target
from tether._kinds import Kind
from tether.monitor._records import AuditEntry
from tether.monitor.alerts import Outbox, SilenceGate, WebhookChannel, silence_labels
from tether.monitor.store import PostgresStore, Store

T0 = 1_700_000_000.0


def silence(store: Store, matchers: list[str], starts: float, ends: float) -> int:
    audit = AuditEntry(starts, "ana", "token", "silence.add", "silence", {})
    return store.add_silence(matchers, starts, ends, "deploy", audit).id


def monitors_got(receiver: Receiver) -> list[str]:
    return [json.loads(body)["monitor"] for _, body in receiver.got]


def test_a_silenced_alert_is_recorded_and_never_replayed(target: str, receiver: Receiver) -> None:
    """An alert the active silence selects is not sent but recorded with why; one it does
    not select goes out; once the silence has expired nothing kept comes back, and a new
    alert goes out."""
    receiver.start()
    ops = WebhookChannel("ops", receiver.url)
    with open_target(target) as store:
        outbox = Outbox(store, {"ops": ops}, gates=[SilenceGate(store.silences_in_force)])
        number = silence(store, ['service="checkout"'], T0, T0 + 600)
        store.enqueue_alert("ops", "a", opened(monitor="pay", labels={"service": "checkout"}), T0)
        store.enqueue_alert("ops", "b", opened(monitor="web", labels={"service": "www"}), T0)
        assert outbox.deliver_due(T0 + 10) == (2, 0)
        assert monitors_got(receiver) == ["web"]
        (kept,) = store.suppressed_alerts()
        assert (kept.monitor, kept.channel) == ("pay", "ops")
        assert kept.why == f"silenced by #{number} (deploy, by ana)"
        assert outbox.deliver_due(T0 + 700) == (0, 0)  # over: nothing replayed
        store.enqueue_alert("ops", "c", opened(monitor="pay", labels={"service": "checkout"}), T0)
        assert outbox.deliver_due(T0 + 701) == (1, 0)
        assert monitors_got(receiver) == ["web", "pay"]
        outbox.close()
    ops.close()


def test_it_is_decided_at_delivery_not_at_queueing(target: str, receiver: Receiver) -> None:
    """An alert queued before a silence and due while it is active is kept; a pending
    silence (not started yet) and one expired early keep nothing."""
    receiver.start()
    ops = WebhookChannel("ops", receiver.url)
    with open_target(target) as store:
        gate = SilenceGate(store.silences_in_force)
        outbox = Outbox(store, {"ops": ops}, gates=[gate])
        store.enqueue_alert("ops", "a", opened(labels={"team": "db"}), T0)
        silence(store, ['team="db"'], T0 + 5, T0 + 600)
        assert outbox.deliver_due(T0 + 6) == (1, 0)
        assert receiver.got == []
        assert len(store.suppressed_alerts()) == 1
        later = silence(store, ['team="web"'], T0 + 100, T0 + 600)
        store.enqueue_alert("ops", "b", opened(labels={"team": "web"}), T0 + 7)
        assert outbox.deliver_due(T0 + 50) == (1, 0)  # pending: it goes
        assert len(receiver.got) == 1
        store.expire_silence(later, AuditEntry(T0 + 110, "bo", "token", "silence.expire", "", {}))
        store.enqueue_alert("ops", "c", opened(labels={"team": "web"}), T0 + 111)
        assert outbox.deliver_due(T0 + 112) == (1, 0)
        assert len(receiver.got) == 2
        assert len(store.suppressed_alerts()) == 1
        outbox.close()
    ops.close()


def test_a_silence_made_on_one_instance_is_honoured_by_another(
    postgres_dsn: str, receiver: Receiver
) -> None:
    """Two instances on one PostgreSQL: a silence made through one's store keeps the alert
    the other delivers, once the other's gate reads again (at most a second later)."""
    receiver.start()
    ops = WebhookChannel("ops", receiver.url)
    with PostgresStore(postgres_dsn) as one, PostgresStore(postgres_dsn) as two:
        gate = SilenceGate(two.silences_in_force)
        outbox = Outbox(two, {"ops": ops}, owner="two", gates=[gate])
        assert gate.silences(T0) == ()  # read before the silence
        number = silence(one, ['monitor="api"'], T0, T0 + 600)
        two.enqueue_alert("ops", "a", opened(), T0)
        assert outbox.deliver_due(T0 + 1) == (1, 0)
        assert receiver.got == []
        (kept,) = one.suppressed_alerts()
        assert kept.why.startswith(f"silenced by #{number} ")
        outbox.close()
    ops.close()


def test_the_labels_matched_are_the_routing_labels() -> None:
    """A silence matches the monitor's labels with tether's own beside them: monitor,
    event, kind, incident."""
    labels = silence_labels(opened(labels={"team": "db"}))
    assert labels == {
        "team": "db",
        "monitor": "api",
        "event": "incident.opened",
        "kind": Kind.CONNECT_REFUSED.value,
        "incident": "7",
    }


def test_the_gate_reads_at_most_once_a_second() -> None:
    """The gate keeps what it read for a second of the outbox's clock, reads again after
    it, after the clock went back, and after :meth:`SilenceGate.forget`."""
    reads: list[float] = []

    def read(now: float) -> list[object]:
        reads.append(now)
        return []

    gate = SilenceGate(read)  # type: ignore[arg-type]
    for now in (T0, T0 + 0.5, T0 + 0.99, T0 + 1, T0 + 0.2):
        gate.silences(now)
    gate.forget()
    gate.silences(T0 + 0.3)
    assert reads == [T0, T0 + 1, T0 + 0.2, T0 + 0.3]
