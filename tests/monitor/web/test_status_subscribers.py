"""Status page subscribers and incident updates (issue 48), end to end on loopback: a real
Runner over the lab served by make_app (tests/helpers/status_harness.py), a real SMTP
server (aiosmtpd, tests/helpers/smtp_receiver.py) taking the confirmation and the news, a
real webhook receiver checking the signature, and the Atom feed read by feedparser.

What matters most: an unconfirmed address is sent its confirmation and nothing else; a
subscriber is told each update once, with nothing the page does not show; every message
can unsubscribe; the news told and the deliveries queued outlive a restart."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest

from tests.helpers.smtp_receiver import SMTPReceiver
from tests.helpers.status_harness import CHECKED, HIDDEN_NAMES, ROUNDS, SECRETS
from tests.helpers.subscribed import SITE, Hook, Subscribed, incident_of, started, token_in
from tests.helpers.web_harness import EPOCH
from tether.lab import Lab


@pytest.fixture
def smtp() -> Iterator[SMTPReceiver]:
    server = SMTPReceiver()
    server.start()
    yield server
    server.stop()


def test_an_email_subscriber_confirms_then_gets_each_update_once_with_nothing_hidden(
    tmp_path: Path, lab: Lab, smtp: SMTPReceiver
) -> None:
    """Subscribe, a confirmation alone while unconfirmed (the open incident is not sent),
    confirm, then each update posted through the API is one e-mail with the update's words,
    the page's names and an unsubscribe link (RFC 8058 headers), never a hidden name, URL
    or secret; one-click unsubscribe ends it."""
    s = started(tmp_path, lab, smtp.port)
    try:
        status, _, body = s.post("/status/public/subscribe", {"email": "Ann@Example.COM"})
        assert status == 202, body
        assert "secret" not in json.loads(body)
        s.look()
        s.deliverer.deliver_due()
        assert len(smtp.received) == 1
        first = smtp.received[0].message
        assert smtp.received[0].rcpt_tos == ("Ann@example.com",)
        assert first["Subject"] == "Confirm your subscription to Example Shop status"
        token = token_in(first.get_content())
        assert f"{SITE}/status/public/confirm?token={token}" in first.get_content()
        # Nothing else while unconfirmed, however much happens.
        number = incident_of(s)
        assert (
            s.post(
                f"/api/incidents/{number}/updates", {"state": "investigating", "text": "Looking."}
            )[0]
            == 201
        )
        s.now += 30
        s.look()
        s.deliverer.deliver_due()
        assert len(smtp.received) == 1
        # A GET of the link changes nothing (a scanner); the page's button confirms.
        status, headers, page = s.get(f"/status/public/confirm?token={token}")
        assert status == 200
        assert b'name="token"' in page
        assert "form-action 'self'" in headers["Content-Security-Policy"]
        status, _, _ = s.post("/status/public/confirm", {"token": token}, form=True)
        assert status == 200
        s.now += 30
        update = "Identified: the payment provider's deploy; rolling back."
        status, _, body = s.post(
            f"/api/incidents/{number}/updates", {"state": "identified", "text": update}
        )
        assert status == 201
        assert json.loads(body)["state"] == "identified"
        s.now += 5
        assert s.look() == 1
        assert s.look() == 0  # told once
        s.deliverer.deliver_due()
        assert len(smtp.received) == 2
        told = smtp.received[1].message
        text = told.get_content()
        assert update in text
        assert "Checkout" in text
        assert told["Subject"].startswith("[Example Shop status] Identified: ")
        assert told["List-Unsubscribe"] == f"<{SITE}/status/public/unsubscribe?token={token}>"
        assert told["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        whole = told.as_string()
        for hidden in (*HIDDEN_NAMES, *SECRETS, "refused", "127.0.0.1"):
            assert hidden not in whole
        # The page shows the update in the incident's timeline; the audit log has it.
        doc = json.loads(s.get("/status/public.json")[2])
        mine = next(i for i in doc["incidents"] if i["id"] == number)
        assert [u["state"] for u in mine["updates"]] == ["identified", "investigating"]
        audit = json.loads(s.get("/api/audit")[2])["entries"]
        assert audit[0]["action"] == "incident.update"
        assert audit[0]["target"] == f"incident:{number}"
        # One-click unsubscribe (RFC 8058): the token in the URL, the body fixed.
        status, _, _ = s.post(
            f"/status/public/unsubscribe?token={token}",
            {"List-Unsubscribe": "One-Click"},
            form=True,
        )
        assert status == 200
        s.post(f"/api/incidents/{number}/updates", {"state": "monitoring", "text": "Fixed."})
        s.now += 5
        s.look()
        s.deliverer.deliver_due()
        assert len(smtp.received) == 2
        assert s.store.subscribers() == []
    finally:
        s.close()


def test_a_webhook_subscriber_gets_signed_bodies_and_the_feed_reads_the_news(
    tmp_path: Path, lab: Lab, smtp: SMTPReceiver, hook: tuple[str, type[Hook]]
) -> None:
    """A webhook subscribes with JSON and is told its secret in its confirmation; its
    confirmation and news are posted signed as the webhook channel signs (HMAC-SHA256 of
    the body); feedparser reads the page's Atom feed with the incident and its update,
    and nothing hidden."""
    url, got = hook
    s = started(tmp_path, lab, smtp.port)
    try:
        status, _, body = s.post("/status/public/subscribe", {"webhook": url})
        assert status == 202
        assert "secret" not in json.loads(body)
        s.now += 1
        again = json.loads(s.post("/status/public/subscribe", {"webhook": url})[2])
        assert "secret" not in again
        s.deliverer.deliver_due()
        assert len(got.got) == 2  # a confirmation for each request while unconfirmed
        raw, signature = got.got[0]
        secret = json.loads(raw)["secret"]
        expected = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(signature, expected)
        sent = json.loads(raw)
        assert sent["event"] == "subscription.confirm"
        token = token_in(sent["confirm"])
        assert s.post("/status/public/confirm", {"token": token})[0] == 200
        number = incident_of(s)
        s.now += 10
        s.post(f"/api/incidents/{number}/updates", {"state": "monitoring", "text": "Watching."})
        s.now += 5
        s.look()
        s.deliverer.deliver_due()
        news = [json.loads(b) for b, _ in got.got[2:]]
        assert [n["event"] for n in news] == ["incident.update"]
        assert news[0]["text"] == "Watching."
        assert news[0]["state"] == "monitoring"
        assert news[0]["unsubscribe"].endswith(f"token={token}")
        status, headers, feed_body = s.get("/status/public/feed.atom")
        assert status == 200
        assert headers["Content-Type"].startswith("application/atom+xml")
        feed = feedparser.parse(feed_body)
        assert not feed.bozo, feed.bozo_exception
        assert feed.feed.title == "Example Shop status"
        titles = [e.title for e in feed.entries]
        assert any(t.startswith("Monitoring: Checkout") for t in titles), titles
        assert any(t.startswith("Incident: Checkout") for t in titles), titles
        for hidden in (*HIDDEN_NAMES, *SECRETS):
            assert hidden.encode() not in feed_body
    finally:
        s.close()


def test_subscribing_is_limited_per_client_and_bad_input_is_one_line(
    tmp_path: Path, lab: Lab, smtp: SMTPReceiver
) -> None:
    """Past ``per_hour`` requests a client is answered 429 with Retry-After; an address
    that is none, or both kinds at once, a 400; a page without subscribe: 404."""
    s = started(tmp_path, lab, smtp.port, per_hour=2)
    try:
        assert s.post("/status/public/subscribe", {"email": "not an address"})[0] == 400
        assert (
            s.post("/status/public/subscribe", {"email": "a@b.example", "webhook": "x"})[0] == 400
        )
        assert s.post("/status/other/subscribe", {"email": "a@b.example"})[0] == 404
        assert s.get("/status/other/feed.atom")[0] == 404
        assert s.post("/status/public/subscribe", {"email": "a@b.example"})[0] == 202
        assert s.post("/status/public/subscribe", {"email": "c@d.example"})[0] == 202
        status, headers, _ = s.post("/status/public/subscribe", {"email": "e@f.example"})
        assert status == 429
        assert int(headers["Retry-After"]) > 0
        assert s.get("/status/public/confirm?token=nope")[0] == 404
    finally:
        s.close()


def test_subscribers_news_and_deliveries_outlive_a_restart(
    tmp_path: Path, lab: Lab, smtp: SMTPReceiver
) -> None:
    """A confirmed subscriber and the news told stay in the store: a new runner on it tells
    nothing again, and a delivery queued before the restart is sent after it."""
    s = started(tmp_path, lab, smtp.port)
    try:
        s.post("/status/public/subscribe", {"email": "bo@example.com"})
        s.deliverer.deliver_due()
        token = token_in(smtp.received[0].message.get_content())
        s.post("/status/public/confirm", {"token": token})
        number = incident_of(s)
        s.now += 10
        s.post(f"/api/incidents/{number}/updates", {"state": "identified", "text": "Found it."})
        s.now += 5
        assert s.look() == 1  # queued, not yet sent: then the process goes
    finally:
        s.close()
    smtp_before = len(smtp.received)
    s = Subscribed(tmp_path, lab, smtp.port)
    s.now = EPOCH + ROUNDS * 60 + 20
    try:
        assert [x.address for x in s.store.subscribers()] == ["bo@example.com"]
        assert s.look() == 0
        s.deliverer.deliver_due()
        assert len(smtp.received) == smtp_before + 1
        assert "Found it." in smtp.received[-1].message.get_content()
    finally:
        s.close()


def _confirmed(s: Subscribed, smtp: SMTPReceiver, address: str) -> None:
    """``address`` subscribed and confirmed now."""
    assert s.post("/status/public/subscribe", {"email": address})[0] == 202
    s.deliverer.deliver_due()
    token = token_in(smtp.received[-1].message.get_content())
    assert s.post("/status/public/confirm", {"token": token})[0] == 200


def test_a_mass_outage_is_told_once_as_the_page_tells_it(
    tmp_path: Path, lab: Lab, smtp: SMTPReceiver
) -> None:
    """Two monitors down in one incident (one of them on no page) are one message to a
    subscriber confirmed before: the page's words, not the other monitor's name."""
    s = Subscribed(tmp_path, lab, smtp.port)
    try:
        _confirmed(s, smtp, "cy@example.com")
        s.now += 60
        for _ in range(ROUNDS):
            s.check(*CHECKED)
            s.now += 60
        s.look()
        s.deliverer.deliver_due()
        told = [m.message for m in smtp.received[1:]]
        assert len(told) == 1, [m["Subject"] for m in told]
        assert told[0]["Subject"].startswith("[Example Shop status] Incident: Checkout is ")
        for hidden in (*HIDDEN_NAMES, *SECRETS):
            assert hidden not in told[0].as_string()
    finally:
        s.close()


def test_maintenance_is_shown_ahead_and_announced_when_set_when_begun_and_when_over(
    tmp_path: Path, lab: Lab, smtp: SMTPReceiver
) -> None:
    """A window of the page's monitors is on the page days ahead, named by the page's words
    alone (not the window's name); its subscribers are told it when first seen, when it
    begins and when it ends; a window of monitors on no page is not shown or told."""
    s = Subscribed(tmp_path, lab, smtp.port, maintenance=True)
    try:
        _confirmed(s, smtp, "di@example.com")
        s.now += 10
        doc = json.loads(s.get("/status/public.json")[2])
        (shown,) = doc["maintenance"]
        assert shown["text"] == "Scheduled maintenance of Checkout"
        assert (shown["start"], shown["end"], shown["active"]) == (
            "2027-01-17T02:00:00Z", "2027-01-17T03:00:00Z", False,
        )  # fmt: skip
        page = s.get("/status/public")[2].decode()
        assert "Scheduled maintenance of Checkout" in page
        for hidden in ("db-upgrade-secret", "admin-only", "admin-secret-panel"):
            assert hidden not in page
        subjects = []
        for at in ("2027-01-15T09:00:00", "2027-01-17T02:00:30", "2027-01-17T03:00:30"):
            s.now = _unix(at)
            s.look()
            s.deliverer.deliver_due()
            subjects.append(str(smtp.received[-1].message["Subject"]).strip())
        # Each says when, as the page shows it (issue 73, item 3).
        span = "2027-01-17 02:00:00 UTC to 2027-01-17 03:00:00 UTC"
        assert subjects == [
            f"[Example Shop status] Scheduled maintenance of Checkout: {span}",
            "[Example Shop status] Maintenance begun: Scheduled maintenance of Checkout, "
            "until 2027-01-17 03:00:00 UTC",
            f"[Example Shop status] Maintenance over: Scheduled maintenance of Checkout, {span}",
        ]
        for m in smtp.received[1:]:
            assert f"Scheduled maintenance of Checkout, from {span}." in m.message.get_content()
        assert len(smtp.received) == 4
    finally:
        s.close()


def _unix(text: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def _from(sock: str, client: str, address: str) -> int:
    """Subscribe ``address`` over the Unix socket a worker process forwards on, as the
    worker says ``client`` sent it (``X-Forwarded-For``)."""
    import http.client
    import socket

    class Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(sock)

    conn = Conn("localhost", timeout=20)
    try:
        body = json.dumps({"email": address})
        headers = {"Content-Type": "application/json", "X-Forwarded-For": client}
        conn.request("POST", "/status/public/subscribe", body=body, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


def test_subscribing_is_limited_per_address_whichever_client_asks(
    tmp_path: Path, lab: Lab, smtp: SMTPReceiver
) -> None:
    """Past ``per_hour`` subscriptions of one address, a third client asking for it is
    refused (429) while it may still subscribe another address: an address cannot be
    flooded with confirmations from many clients."""
    sock = str(tmp_path / "coordinator.sock")
    s = Subscribed(tmp_path, lab, smtp.port, per_hour=2, unix=sock)
    try:
        assert _from(sock, "192.0.2.1", "ed@example.com") == 202
        assert _from(sock, "192.0.2.2", "ed@example.com") == 202
        assert _from(sock, "192.0.2.3", "ed@example.com") == 429
        assert _from(sock, "192.0.2.3", "fay@example.com") == 202
    finally:
        s.close()


def test_a_webhook_is_posted_only_to_a_public_address_or_an_allowed_network() -> None:
    """A webhook on a loopback (not public) address is refused unless ``webhook_networks``
    allows it, and the address checked is the one posted to; other schemes are refused."""
    from tether.monitor.alerts._subscribers import NotSent, webhook_allowed

    for url in ("http://127.0.0.1:1/hook", "https://[::1]/x"):
        with pytest.raises(NotSent, match="is not a public address"):
            webhook_allowed(url, ())
    assert webhook_allowed("http://127.0.0.1:1/hook", ("127.0.0.0/8",)) == "127.0.0.1"
    with pytest.raises(NotSent, match="not an http or https URL"):
        webhook_allowed("ftp://127.0.0.1/hook", ("127.0.0.0/8",))
