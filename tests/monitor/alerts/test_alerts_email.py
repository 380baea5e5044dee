"""Email alerts against a real SMTP server (aiosmtpd) on loopback: plain, STARTTLS with AUTH,
implicit TLS, a server without STARTTLS, a refused port, and through the outbox.

Certificates come from a trustme CA that the channel is told to trust (``cafile``).  The
server records the bytes the client sent as they travelled, so the tests can tell that a
password never crossed the wire in clear text.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import trustme

from tests.helpers.alert_payloads import (
    degraded,
    down_too,
    escalated,
    key_of,
    opened,
    reminder,
    resolved,
    up,
)
from tests.helpers.smtp_receiver import SMTPReceiver
from tether import classify
from tether._kinds import Kind
from tether.monitor import channels_for
from tether.monitor.alerts import EmailChannel, EmailError, Outbox, body, subject
from tether.monitor.config import ConfigError, parse_config
from tether.monitor.store import SQLiteStore

T0 = 1_700_000_000.0
PASSWORD = "hunter2-Sécret"
EHLO_NAME = "tether.lab.test"  # given, so smtplib does not ask the resolver for this host's name


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def plain() -> Iterator[SMTPReceiver]:
    """An SMTP server without TLS or AUTH, started."""
    server = SMTPReceiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def secure(server_tls: ssl.SSLContext) -> Iterator[SMTPReceiver]:
    """An SMTP server offering STARTTLS and requiring AUTH over it, started."""
    server = SMTPReceiver(tls=server_tls, users={"tether": PASSWORD})
    server.start()
    yield server
    server.stop()


def channel(server: SMTPReceiver, **options: Any) -> EmailChannel:
    options.setdefault("starttls", False)
    return EmailChannel(
        "mail",
        "127.0.0.1",
        server.port,
        "Tether <tether@lab.test>",
        ("oncall@lab.test", "Ops Team <ops@lab.test>"),
        local_hostname=EHLO_NAME,
        timeout=5.0,
        **options,
    )


def password_forms() -> list[bytes]:
    """The password as it would travel in AUTH PLAIN or AUTH LOGIN, and as itself."""
    raw = PASSWORD.encode()
    return [raw, base64.b64encode(raw), base64.b64encode(b"\0tether\0" + raw)]


def test_an_opened_incident_arrives_as_a_readable_email(plain: SMTPReceiver) -> None:
    """The server gets one message from the sender to every recipient, with the shared
    subject and body, Date, From and To headers, and the incident's opening Message-ID."""
    payload = opened()
    channel(plain).deliver(payload, key_of(payload))
    (got,) = plain.received
    assert got.mail_from == "tether@lab.test"
    assert got.rcpt_tos == ("oncall@lab.test", "ops@lab.test")
    message = got.message
    assert message["Subject"] == subject(payload)
    assert message["From"] == "Tether <tether@lab.test>"
    assert message["To"] == "oncall@lab.test, Ops Team <ops@lab.test>"
    assert parsedate_to_datetime(message["Date"]).tzinfo is not None
    assert message["Message-ID"] == "<tether.7.opened@lab.test>"
    assert message["In-Reply-To"] is None
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Tether-Event"] == "incident.opened"
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == body(payload)


def test_every_later_alert_of_the_incident_threads_under_its_opening(
    plain: SMTPReceiver,
) -> None:
    """A monitor joining, one coming back, a reminder, an escalation and the resolution
    each answer the opening (In-Reply-To and References its Message-ID), each with a
    Message-ID of its own."""
    mail = channel(plain)
    later = [down_too(), up(), reminder(), escalated(), resolved()]
    for payload in [opened(), *later]:
        mail.deliver(payload, key_of(payload))
    first, *rest = (r.message for r in plain.received)
    assert [m["X-Tether-Event"] for m in rest] == [p.event for p in later]
    for message in rest:
        assert message["In-Reply-To"] == first["Message-ID"] == "<tether.7.opened@lab.test>"
        assert message["References"] == first["Message-ID"]
    ids = [m["Message-ID"] for m in (first, *rest)]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("<tether.7.") and i.endswith("@lab.test>") for i in ids)
    assert rest[-1]["Subject"] == "[tether] RESOLVED api: back up after 3 min 2 s"


def test_a_channel_that_never_got_the_opening_threads_under_nothing(
    plain: SMTPReceiver,
) -> None:
    """Issue 24: an e-mail's In-Reply-To named an opening message that channel never
    received (the incident was opened by a monitor whose alerts go elsewhere).  A later
    alert answers the opening only on a channel the opening went to."""
    channel(plain).deliver(down_too(opened_to=("pager",)), key_of(down_too()))
    (got,) = plain.received
    assert got.message["In-Reply-To"] is None
    assert got.message["References"] is None


def test_a_latency_notice_starts_no_thread(plain: SMTPReceiver) -> None:
    """An alert of no incident (a latency notice) answers no message."""
    channel(plain).deliver(degraded(), key_of(degraded()))
    (got,) = plain.received
    assert got.message["In-Reply-To"] is None
    assert got.message["References"] is None
    assert got.message["Message-ID"].endswith("@lab.test>")


@pytest.mark.parametrize("make", [opened, down_too, resolved, degraded])
def test_a_copy_sent_twice_has_the_same_message_id(plain: SMTPReceiver, make: Any) -> None:
    """Delivery is at least once: a repeat carries the same Message-ID, so mail clients
    show it once."""
    mail = channel(plain)
    mail.deliver(make(), key_of(make()))
    mail.deliver(make(), key_of(make()))
    first, second = (r.message for r in plain.received)
    assert first["Message-ID"] == second["Message-ID"]


def test_the_alerts_key_is_in_a_header_and_makes_its_message_id_unique(
    plain: SMTPReceiver,
) -> None:
    """X-Tether-Key carries the alert's key; two monitors whose names read alike once made
    ASCII, down at one moment in one incident, still get two Message-IDs."""
    mail = channel(plain)
    first, second = down_too(monitor="café"), down_too(monitor="cafè")
    mail.deliver(first, key_of(first))
    mail.deliver(second, key_of(second))
    one, two = (r.message for r in plain.received)
    assert one["X-Tether-Key"] == key_of(first)
    assert one["Message-ID"] != two["Message-ID"]
    assert ".caf-." in one["Message-ID"]


def test_non_ascii_names_and_details_arrive_intact(plain: SMTPReceiver) -> None:
    """A monitor name and a detail outside ASCII come through subject and body unchanged;
    the Message-ID stays ASCII."""
    detail = "la connexion a été refusée — 127.0.0.1"
    mail = channel(plain)
    down, back = opened(monitor="café-api", detail=detail), resolved(monitor="café-api")
    mail.deliver(down, key_of(down))
    mail.deliver(back, key_of(back))
    first, back = (r.message for r in plain.received)
    assert first["Subject"] == "[tether] DOWN café-api: connection refused"
    assert detail in first.get_content()
    assert back["Subject"] == "[tether] RESOLVED café-api: back up after 3 min 2 s"
    assert back["Message-ID"].isascii()
    assert ".caf--api." in back["Message-ID"]


def test_starttls_then_login_and_the_password_never_travels_in_clear(
    secure: SMTPReceiver, cafile: str
) -> None:
    """With STARTTLS the certificate is verified, the server checks the credentials over
    TLS, the message arrives over TLS, and no form of the password is on the wire in clear."""
    channel(secure, starttls=True, cafile=cafile, username="tether", password=PASSWORD).deliver(
        opened(), key_of(opened())
    )
    assert [(login.username, login.over_tls, login.accepted) for login in secure.logins] == [
        ("tether", True, True)
    ]
    (got,) = secure.received
    assert got.over_tls
    assert b"starttls" in secure.wire.lower()
    for form in password_forms():
        assert form not in secure.wire


def test_a_wrong_password_raises_without_showing_it(secure: SMTPReceiver, cafile: str) -> None:
    """A refused login raises EmailError naming the server's answer; the password is in
    neither the message, the repr, the classified failure nor the channel's repr."""
    mail = channel(secure, starttls=True, cafile=cafile, username="tether", password="wrong-pw")
    with pytest.raises(EmailError, match="refused the login of 'tether': 535") as caught:
        mail.deliver(opened(), key_of(opened()))
    assert [(login.password, login.accepted) for login in secure.logins] == [("wrong-pw", False)]
    assert secure.received == []
    shown = str(caught.value) + repr(caught.value) + str(classify(caught.value)) + repr(mail)
    assert "wrong-pw" not in shown


def test_implicit_tls_verifies_the_certificate(server_tls: ssl.SSLContext, cafile: str) -> None:
    """With implicit TLS (port 465's way) the connection is TLS from the first byte."""
    server = SMTPReceiver(tls=server_tls, implicit=True, users={"tether": PASSWORD})
    server.start()
    try:
        mail = channel(
            server, implicit_tls=True, cafile=cafile, username="tether", password=PASSWORD
        )
        mail.deliver(opened(), key_of(opened()))
    finally:
        server.stop()
    assert [r.over_tls for r in server.received] == [True]
    assert b"ehlo" not in server.wire.lower()  # even the greeting went inside TLS


def test_a_server_without_starttls_gets_nothing(cafile: str) -> None:
    """starttls against a server that does not offer it (but would take AUTH in clear)
    raises before any credential or message is sent."""
    server = SMTPReceiver(users={"tether": PASSWORD})
    server.start()
    try:
        mail = channel(server, starttls=True, cafile=cafile, username="tether", password=PASSWORD)
        with pytest.raises(EmailError, match="does not offer STARTTLS") as caught:
            mail.deliver(opened(), key_of(opened()))
    finally:
        server.stop()
    assert "in clear text" in str(caught.value)
    assert server.received == []
    assert server.logins == []
    wire = server.wire.lower()  # smtplib writes some commands in lower case
    assert b"ehlo" in wire
    assert b"auth" not in wire
    assert b"mail from" not in wire


def test_an_untrusted_certificate_stops_the_delivery(secure: SMTPReceiver) -> None:
    """Without the test CA the server's certificate fails verification: tls.untrusted,
    and the password is not sent."""
    mail = channel(secure, starttls=True, username="tether", password=PASSWORD)
    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        mail.deliver(opened(), key_of(opened()))
    assert classify(caught.value).kind is Kind.TLS_UNTRUSTED
    assert secure.logins == []
    for form in password_forms():
        assert form not in secure.wire


def test_a_refused_port_raises_connect_refused() -> None:
    """A server that is down makes deliver raise; classify names it connect.refused."""
    down = SMTPReceiver()  # bound, never started: the port refuses
    try:
        with pytest.raises(ConnectionRefusedError) as caught:
            channel(down).deliver(opened(), key_of(opened()))
    finally:
        down.stop()
    assert classify(caught.value).kind is Kind.CONNECT_REFUSED


def test_alerts_wait_in_the_outbox_until_the_server_is_back(fresh_store: SQLiteStore) -> None:
    """While the SMTP server refuses, the alerts stay queued; once it is up they are
    delivered in order, exactly once, reading as they were queued and still threaded."""
    server = SMTPReceiver()
    mail = channel(server)
    try:
        outbox = Outbox(fresh_store, {"mail": mail}, rand=lambda: 0.5)
        assert outbox.queue("mail", "7:api:incident.opened", opened(), now=T0)
        assert outbox.queue("mail", "7:web:monitor.down", down_too(), now=T0 + 1)
        assert outbox.deliver_due(now=T0) == (0, 1)
        assert outbox.deliver_due(now=T0 + 60) == (0, 1)
        server.start()
        assert outbox.deliver_due(now=T0 + 61) == (0, 0)  # not due yet: backing off
        assert outbox.deliver_due(now=T0 + 200) == (2, 0)
        assert outbox.deliver_due(now=T0 + 400) == (0, 0)
    finally:
        server.stop()
    first, second = (r.message for r in server.received)
    assert (first["Subject"], first.get_content()) == (subject(opened()), body(opened()))
    assert (second["Subject"], second.get_content()) == (subject(down_too()), body(down_too()))
    assert second["In-Reply-To"] == first["Message-ID"]


def test_a_refused_recipient_does_not_hold_back_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A recipient the server refuses is logged and the others get the alert (no error, so
    no second copy); when every recipient is refused, deliver raises."""
    server = SMTPReceiver(refuse=frozenset({"ops@lab.test"}))
    server.start()
    try:
        channel(server).deliver(opened(), key_of(opened()))
        with pytest.raises(EmailError, match=r"refused every recipient: ops@lab\.test \(550"):
            EmailChannel(
                "mail",
                "127.0.0.1",
                server.port,
                "tether@lab.test",
                ["ops@lab.test"],
                starttls=False,
                local_hostname=EHLO_NAME,
            ).deliver(opened(), key_of(opened()))
    finally:
        server.stop()
    assert [r.rcpt_tos for r in server.received] == [("oncall@lab.test",)]
    assert "refused ops@lab.test (550 5.1.1 no such mailbox)" in caplog.text


def test_a_password_needs_tls() -> None:
    """A channel with a password but neither STARTTLS nor implicit TLS is refused, in the
    channel and in the configuration."""
    with pytest.raises(ValueError, match="a password is sent only over TLS"):
        EmailChannel(
            "mail",
            "127.0.0.1",
            25,
            "t@lab.test",
            ["o@lab.test"],
            username="u",
            password=PASSWORD,
            starttls=False,
        )
    text = (
        "alerts:\n"
        "  - {name: mail, type: email, host: 127.0.0.1, port: 25, from: t@lab.test,\n"
        "     to: o@lab.test, username: u, password: p, starttls: false}\n"
        "monitors: [{name: api, url: 'http://127.0.0.1:8080/', alerts: [mail]}]\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert "alerts[0].starttls: must be true when a password is set" in str(caught.value)


def test_the_configuration_builds_the_channel(cafile: str) -> None:
    """channels_for turns an email channel of the configuration into an EmailChannel with
    its server, addresses, credentials and CA file, and its repr hides the password."""
    text = (
        "alerts:\n"
        f"  - {{name: mail, type: email, host: 127.0.0.1, port: 2525, from: t@lab.test,\n"
        f"     to: [o@lab.test], username: u, password: {PASSWORD}, ca_file: {cafile}}}\n"
        "monitors: [{name: api, url: 'http://127.0.0.1:8080/', alerts: [mail]}]\n"
    )
    (mail,) = channels_for(parse_config(text)).values()
    assert isinstance(mail, EmailChannel)
    assert (mail.host, mail.port, mail.to, mail.starttls, mail.cafile) == (
        "127.0.0.1",
        2525,
        ("o@lab.test",),
        True,
        cafile,
    )
    assert PASSWORD not in repr(mail)
