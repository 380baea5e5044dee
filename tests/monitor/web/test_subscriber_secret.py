"""A webhook's secret reaches only the webhook (issue 72 §3): the answer to a subscription
is the same whatever the store holds, and the secret travels in the confirmation posted to
the endpoint itself.  A real Runner served on loopback, a real HTTP receiver on loopback
(``Hook`` of test_status_subscribers) and the real deliverer."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.smtp_receiver import SMTPReceiver
from tests.helpers.subscribed import Hook, Subscribed, incident_of, started, token_in
from tether.lab import Lab


@pytest.fixture
def smtp() -> Iterator[SMTPReceiver]:
    server = SMTPReceiver()
    server.start()
    yield server
    server.stop()


def _signed(raw: bytes, signature: str, secret: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature, expected)


def _answer(s: Subscribed, fields: dict[str, str], form: bool = False) -> tuple[int, bytes]:
    status, _, body = s.post("/status/public/subscribe", fields, form=form)
    return status, body


def test_a_stranger_who_asks_first_learns_nothing_and_the_receiver_verifies(
    tmp_path: Path, lab: Lab, smtp: SMTPReceiver, hook: tuple[str, type[Hook]]
) -> None:
    """An attacker subscribes the receiver's URL before its owner: the answer holds no
    secret and is byte for byte the answer to the owner's own request later; the receiver
    finds the secret in the confirmation posted to it, confirms, and verifies the news
    with it, which no other secret verifies."""
    url, got = hook
    s = started(tmp_path, lab, smtp.port)
    try:
        first = _answer(s, {"webhook": url})
        assert first[0] == 202
        assert "secret" not in json.loads(first[1])
        s.now += 1
        assert _answer(s, {"webhook": url}) == first  # the same whatever the store holds
        s.deliverer.deliver_due()
        raw, signature = got.got[0]
        told = json.loads(raw)
        assert told["event"] == "subscription.confirm"
        secret = told["secret"]
        assert _signed(raw, signature, secret)
        assert secret not in first[1].decode()
        assert s.post("/status/public/confirm", {"token": token_in(told["confirm"])})[0] == 200
        number = incident_of(s)
        s.now += 10
        s.post(f"/api/incidents/{number}/updates", {"state": "identified", "text": "Found."})
        s.now += 5
        s.look()
        s.deliverer.deliver_due()
        news_raw, news_signature = got.got[-1]
        assert json.loads(news_raw)["event"] == "incident.update"
        assert "secret" not in json.loads(news_raw)  # told once, in the confirmation
        assert _signed(news_raw, news_signature, secret)
        assert not _signed(news_raw, news_signature, "a guess")
    finally:
        s.close()


def test_a_subscriber_made_through_the_form_can_verify(
    tmp_path: Path, lab: Lab, smtp: SMTPReceiver, hook: tuple[str, type[Hook]]
) -> None:
    """The page's HTML form shows no secret (a page for anyone who asked), and the webhook
    it subscribed is told its secret in its confirmation, signed with it."""
    url, got = hook
    s = started(tmp_path, lab, smtp.port)
    try:
        status, page = _answer(s, {"webhook": url}, form=True)
        assert status == 202
        s.deliverer.deliver_due()
        ((raw, signature),) = got.got
        secret = json.loads(raw)["secret"]
        assert secret not in page.decode()
        assert _signed(raw, signature, secret)
    finally:
        s.close()
