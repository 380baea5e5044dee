"""A monitor's labels in its alerts: the webhook's JSON carries them as a map, an e-mail
(and apprise, the same words) adds one ``Labels:`` line; against a real HTTP receiver
and a real SMTP server on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.helpers.alert_payloads import degraded, key_of, opened, resolved
from tests.helpers.alerts_receiver import Receiver
from tests.helpers.smtp_receiver import SMTPReceiver
from tether.monitor.alerts import EmailChannel, WebhookChannel, body
from tether.monitor.alerts._message import labels_line

PAYMENTS = {"team": "payments", "tier": "1"}
HOSTILE = {"note": 'a "b"\nSubject: x\\y <script>', "team": "payments"}


@pytest.fixture
def smtp() -> Iterator[SMTPReceiver]:
    server = SMTPReceiver()
    server.start()
    yield server
    server.stop()


def test_the_webhook_body_carries_the_labels_as_sent(receiver: Receiver) -> None:
    """The receiver reads each label back exactly, a hostile value too (JSON escapes it);
    an alert without labels carries an empty map."""
    receiver.start()
    channel = WebhookChannel("ops", receiver.url)
    try:
        channel.deliver(opened(labels=HOSTILE), "k1")
        channel.deliver(resolved(), "k2")
    finally:
        channel.close()
    down, back = (json.loads(got) for _, got in receiver.got)
    assert down["labels"] == HOSTILE
    assert back["labels"] == {}


def test_an_email_says_the_labels_on_one_line(smtp: SMTPReceiver) -> None:
    """The message a person reads has ``Labels: team=payments, tier=1`` after the target;
    a value with a quote, a backslash and a newline is quoted, so it adds no line."""
    mail = EmailChannel(
        "mail",
        "127.0.0.1",
        smtp.port,
        "tether@lab.test",
        ("ops@lab.test",),
        starttls=False,
        local_hostname="tether.lab.test",
        timeout=5.0,
    )
    for payload in (opened(labels=PAYMENTS), degraded(labels=HOSTILE)):
        mail.deliver(payload, key_of(payload))
    plain, hostile = (got.message.get_content() for got in smtp.received)
    assert "Target: http://127.0.0.1:8080/health\nLabels: team=payments, tier=1\n" in plain
    (line,) = [row for row in hostile.splitlines() if row.startswith("Labels: ")]
    assert line == 'Labels: note="a \\"b\\"\\nSubject: x\\\\y <script>", team=payments'
    assert "\nSubject: x" not in hostile
    assert len(hostile.splitlines()) == len(body(degraded()).splitlines()) + 1


def test_no_labels_no_line() -> None:
    """An alert about a monitor without labels reads as it always did."""
    assert "Labels:" not in body(opened())
    assert "Labels:" not in body(resolved())


@pytest.mark.parametrize(
    ("labels", "line"),
    [
        ({"team": "payments"}, "team=payments"),
        ({"a": "", "b": "x y"}, 'a=, b="x y"'),
        ({"a": "1,b=2"}, 'a="1,b=2"'),  # not mistaken for two labels
        ({"url": "http://h:1/p@x"}, "url=http://h:1/p@x"),
    ],
)
def test_a_value_is_quoted_when_it_is_not_plain(labels: dict[str, str], line: str) -> None:
    assert labels_line(labels) == line
