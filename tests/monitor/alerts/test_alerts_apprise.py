"""apprise alerts against real receivers on loopback: apprise's json:// to the webhook
receiver, its mailto:// to an SMTP server (aiosmtpd), a refused port through the outbox.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from tests.helpers.alert_payloads import key_of, opened, resolved
from tests.helpers.alerts_receiver import Receiver
from tests.helpers.smtp_receiver import SMTPReceiver
from tether.monitor import channels_for
from tether.monitor.alerts import AppriseChannel, AppriseError, Outbox, body, subject
from tether.monitor.config import parse_config
from tether.monitor.store import SQLiteStore

T0 = 1_700_000_000.0


def json_url(receiver: Receiver) -> str:
    """apprise's JSON service POSTs {"title", "message", ...} to this address."""
    return f"json://127.0.0.1:{receiver.port}/hook"


def test_title_and_body_reach_a_json_receiver(receiver: Receiver) -> None:
    """An opened and a resolved alert arrive as apprise JSON posts whose title and message
    are the shared subject and body."""
    receiver.start()
    chat = AppriseChannel("chat", [json_url(receiver)])
    chat.deliver(opened(), key_of(opened()))
    chat.deliver(resolved(), key_of(resolved()))
    posts = [json.loads(data) for _, data in receiver.got]
    # apprise trims the body's closing newline.
    assert [(p["title"], p["message"]) for p in posts] == [
        (subject(opened()), body(opened()).strip()),
        (subject(resolved()), body(resolved()).strip()),
    ]


def test_every_url_of_the_channel_gets_the_alert(receiver: Receiver) -> None:
    """A channel with two URLs delivers to both."""
    receiver.start()
    AppriseChannel("chat", [json_url(receiver), json_url(receiver) + "2"]).deliver(
        opened(), key_of(opened())
    )
    assert len(receiver.got) == 2


def test_a_retry_goes_only_to_the_urls_that_missed_it(receiver: Receiver) -> None:
    """When one of two URLs fails, deliver raises; the retry reaches the late one and does
    not send the other a second copy."""
    up = Receiver()
    up.start()
    try:
        chat = AppriseChannel("chat", [json_url(up), json_url(receiver)])
        with pytest.raises(AppriseError):
            chat.deliver(opened(), key_of(opened()))
        receiver.start()
        chat.deliver(opened(), key_of(opened()))
        chat.deliver(resolved(), key_of(resolved()))
    finally:
        up.stop()
    titles = [[json.loads(data)["title"] for _, data in r.got] for r in (up, receiver)]
    assert titles == [[subject(opened()), subject(resolved())]] * 2


def test_mailto_reaches_an_smtp_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """apprise's mailto:// delivers the alert to a loopback SMTP server, subject and body."""
    # smtplib asks the machine's resolver for this host's name when apprise
    # gives none for EHLO; the test must not, so the name is given here.
    monkeypatch.setattr(socket, "getfqdn", lambda name="": "tether.lab.test")
    server = SMTPReceiver()
    server.start()
    try:
        url = f"mailto://127.0.0.1:{server.port}?from=tether@lab.test&to=oncall@lab.test"
        AppriseChannel("mail", [url]).deliver(opened(), key_of(opened()))
    finally:
        server.stop()
    (got,) = server.received
    assert got.rcpt_tos == ("oncall@lab.test",)
    assert got.message["Subject"] == subject(opened())
    text = got.message.get_body(("plain",))
    assert text is not None
    assert "Why: 127.0.0.1:8080 refused the connection" in text.get_content()


def test_a_refused_url_raises_naming_the_service(receiver: Receiver) -> None:
    """When apprise reports a failure (the port refuses), deliver raises AppriseError
    saying which service failed and why."""
    chat = AppriseChannel("chat", [json_url(receiver)])  # the receiver is not started
    with pytest.raises(AppriseError, match=r"'chat' could not deliver: JSON: .*[Cc]onnection"):
        chat.deliver(opened(), key_of(opened()))


def test_an_alert_waits_in_the_outbox_until_apprise_delivers(
    fresh_store: SQLiteStore, receiver: Receiver
) -> None:
    """A failed apprise delivery keeps the alert queued; once the receiver is up it is
    delivered, exactly once."""
    chat = AppriseChannel("chat", [json_url(receiver)])
    outbox = Outbox(fresh_store, {"chat": chat}, rand=lambda: 0.5)
    assert outbox.queue("chat", "api:1:opened", opened(), now=T0)
    assert outbox.deliver_due(now=T0) == (0, 1)
    receiver.start()
    assert outbox.deliver_due(now=T0 + 200) == (1, 0)
    assert outbox.deliver_due(now=T0 + 400) == (0, 0)
    assert [json.loads(data)["title"] for _, data in receiver.got] == [subject(opened())]


def test_an_unknown_scheme_is_an_error_that_hides_the_url() -> None:
    """A URL apprise does not understand raises at the first delivery, its tokens masked."""
    chat = AppriseChannel("chat", ["nosuchservice://TOKEN-abc123/x"])
    with pytest.raises(AppriseError, match=r"does not understand nosuchservice://\*\*\*") as caught:
        chat.deliver(opened(), key_of(opened()))
    assert "TOKEN-abc123" not in str(caught.value)


def test_the_repr_masks_the_tokens() -> None:
    """An apprise URL keeps its secret in the path; repr() shows only the scheme."""
    chat = AppriseChannel("chat", ["slack://T000/B000/XOXB-secret", "ntfy://topic-secret"])
    assert repr(chat) == "<AppriseChannel chat slack://*** ntfy://***>"


def test_the_configuration_builds_the_channel(receiver: Receiver) -> None:
    """channels_for turns an apprise channel of the configuration, url and urls together,
    into an AppriseChannel that delivers to each."""
    receiver.start()
    text = (
        "alerts:\n"
        f"  - {{name: chat, type: apprise, url: '{json_url(receiver)}',\n"
        f"     urls: ['{json_url(receiver)}2']}}\n"
        "monitors: [{name: api, url: 'http://127.0.0.1:8080/', alerts: [chat]}]\n"
    )
    (chat,) = channels_for(parse_config(text)).values()
    assert isinstance(chat, AppriseChannel)
    chat.deliver(opened(), key_of(opened()))
    assert len(receiver.got) == 2


def test_loading_apprise_raises_no_warning(receiver: Receiver) -> None:
    """In a fresh interpreter under -W error, the first delivery (which imports apprise and
    loads its plugins) raises no warning: the DeprecationWarning of apprise's own imports is
    kept out."""
    code = (
        "from tether.monitor._records import AlertPayload\n"
        "from tether.monitor.alerts import AppriseChannel, AppriseError\n"
        f"chat = AppriseChannel('chat', ['json://127.0.0.1:{receiver.port}/hook'])\n"
        "try:\n"
        "    chat.deliver(AlertPayload('incident.opened', 'api', 'api is down', 0.0), 'k')\n"
        "except AppriseError:\n"
        "    print('refused, as expected')\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "refused, as expected\n"
