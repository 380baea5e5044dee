"""The outbox's gates: what keeps a due alert from its channel (a silence, a muted route)
is asked at delivery, and a kept alert is recorded as suppressed, never sent, never lost,
never replayed; on SQLite and PostgreSQL alike, with a channel that records what it was
handed (the gate is the outbox's, not a receiver's: the webhook itself is tested
elsewhere).  Times are passed in, never read."""

from __future__ import annotations

import logging

import pytest

from tests.helpers.alert_payloads import opened
from tests.helpers.stores import open_target
from tether.monitor._records import AlertPayload, QueuedAlert
from tether.monitor.alerts import Outbox

T0 = 1_700_000_000.0


class Kept:
    def __init__(self) -> None:
        self.got: list[str] = []
        self.name = "ops"

    def deliver(self, payload: AlertPayload, key: str) -> None:
        self.got.append(payload.text)


class Hook:
    def __init__(self) -> None:
        self.suppressed: list[str] = []
        self.sent: list[str] = []

    def alert_sent(self, channel: str) -> None:
        self.sent.append(channel)

    def alert_failed(self, channel: str, kind: object) -> None:
        raise AssertionError("nothing fails here")

    def alerts_queued(self, channel: str, count: int, oldest_at: float | None) -> None:
        pass

    def alert_suppressed(self, channel: str) -> None:
        self.suppressed.append(channel)


def test_a_gate_keeps_an_alert_recorded_and_lets_the_next_one_go(
    target: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A gate that answers keeps its alert from the channel: the row is done (the queue
    moves on to the next alert, which goes out), counted, logged with why, and a later
    round does not send it (an ended silence replays nothing)."""
    channel, hook = Kept(), Hook()

    def silence(alert: QueuedAlert, now: float) -> str | None:
        return "silenced by #1 (deploy)" if alert.payload.text == "first" else None

    with open_target(target) as store:
        outbox = Outbox(store, {"ops": channel}, hook=hook, gates=[silence])
        store.enqueue_alert("ops", "a", opened(text="first"), T0)
        store.enqueue_alert("ops", "b", opened(text="second"), T0 + 1)
        with caplog.at_level(logging.INFO, "tether.monitor"):
            assert outbox.deliver_due(T0 + 2) == (2, 0)
        assert channel.got == ["second"]
        assert hook.suppressed == ["ops"]
        assert hook.sent == ["ops"]
        assert store.backlog() == {}
        outbox.gates.clear()  # the silence is over: nothing comes back
        assert outbox.deliver_due(T0 + 100) == (0, 0)
        assert channel.got == ["second"]
        (line,) = [r for r in caplog.records if getattr(r, "event", "") == "alert.suppressed"]
        assert "silenced by #1 (deploy)" in line.getMessage()
        outbox.close()


def test_a_gate_that_fails_lets_the_alert_go(target: str) -> None:
    """A broken gate never loses a page: the alert is delivered, and the failure logged."""
    channel = Kept()

    def broken(alert: QueuedAlert, now: float) -> str | None:
        raise RuntimeError("cannot read the silences")

    with open_target(target) as store:
        outbox = Outbox(store, {"ops": channel}, gates=[broken])
        store.enqueue_alert("ops", "a", opened(text="first"), T0)
        assert outbox.deliver_due(T0 + 1) == (1, 0)
        assert channel.got == ["first"]
        outbox.close()


def test_a_gates_words_are_redacted_where_they_are_logged_and_stored(
    target: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Why a gate kept an alert may quote what a user wrote (a silence's comment): a
    credential in it is neither logged nor stored."""
    marker = "s3cr3t-marker"

    def silence(alert: QueuedAlert, now: float) -> str:
        return f"silenced by #1 (see https://ana:{marker}@127.0.0.1/runbook)"

    with open_target(target) as store:
        outbox = Outbox(store, {"ops": Kept()}, gates=[silence])
        store.enqueue_alert("ops", "a", opened(text="first"), T0)
        with caplog.at_level(logging.INFO, "tether.monitor"):
            assert outbox.deliver_due(T0 + 1) == (1, 0)
        store.flush()
        (kept,) = store.suppressed_alerts()
        assert "silenced by #1" in kept.why
        assert marker not in kept.why
        assert marker not in caplog.text
        assert "silenced by #1" in caplog.text
        outbox.close()
