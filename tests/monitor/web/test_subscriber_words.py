"""What a subscriber and the log are told when a subscription cannot be served (issue 73
§8, §12): a webhook tether will never post to (a private address the page does not allow)
is answered as any other, and the log says why nothing was sent; a failed delivery's log
line names its page, its channel and its host; the subscribe form's mistakes come back to
a browser as the form saying them, not as raw JSON.  A real Runner served on loopback, a
real SMTP server (aiosmtpd) and real sockets; nothing connects to the private address."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.smtp_receiver import SMTPReceiver
from tests.helpers.subscribed import Hook, Subscribed
from tether.lab import Lab


@pytest.fixture
def smtp() -> Iterator[SMTPReceiver]:
    server = SMTPReceiver(refuse=frozenset({"gone@lab.test"}))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def served(tmp_path: Path, lab: Lab, smtp: SMTPReceiver) -> Iterator[Subscribed]:
    s = Subscribed(tmp_path, lab, smtp.port, per_hour=100)
    yield s
    s.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed when this returns: connections refused


def test_a_webhook_never_posted_to_is_answered_alike_and_the_log_says_why(
    served: Subscribed, hook: tuple[str, type[Hook]], caplog: pytest.LogCaptureFixture
) -> None:
    """``http://10.1.2.3/hook`` on a page whose ``webhook_networks`` is loopback only: the
    same 202 and words as a webhook it may post to (no "was posted" it was not), and at
    delivery one line naming the page and host and saying why it was given up."""
    url, got = hook
    private = served.post("/status/public/subscribe", {"webhook": "http://10.1.2.3/hook"})
    allowed = served.post("/status/public/subscribe", {"webhook": url})
    assert private[0] == allowed[0] == 202
    assert json.loads(private[2]) == json.loads(allowed[2])
    assert "was posted" not in json.loads(private[2])["message"]
    with caplog.at_level(logging.WARNING, logger="tether"):
        served.deliverer.deliver_due()
    assert len(got.got) == 1  # the allowed one
    (line,) = [r.getMessage() for r in caplog.records if "10.1.2.3" in r.getMessage()]
    assert line.startswith("status page public: delivery ")
    assert "to the webhook at 10.1.2.3 not sent, given up" in line
    assert "is not a public address (subscribe.webhook_networks)" in line


def test_a_failed_delivery_names_its_page_channel_and_host(
    served: Subscribed, caplog: pytest.LogCaptureFixture
) -> None:
    """A webhook that refuses connections and an address the mail server refuses are
    each one line naming the page, the channel and the host, never the whole address."""
    port = _closed_port()
    assert (
        served.post("/status/public/subscribe", {"webhook": f"http://127.0.0.1:{port}/x"})[0] == 202
    )
    assert served.post("/status/public/subscribe", {"email": "gone@lab.test"})[0] == 202
    with caplog.at_level(logging.WARNING, logger="tether"):
        served.deliverer.deliver_due()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("status page")]
    hook_line = next(line for line in lines if "webhook" in line)
    assert "status page public: delivery " in hook_line
    assert "to the webhook at 127.0.0.1 failed, tried again in 10 s: " in hook_line
    assert "ConnectionRefusedError" in hook_line
    mail_line = next(line for line in lines if "e-mail" in line)
    assert "by e-mail channel mail to an address at lab.test not sent, given up" in mail_line
    assert "550" in mail_line
    assert "gone@" not in mail_line


def test_the_forms_mistakes_come_back_as_the_form_saying_them(served: Subscribed) -> None:
    """A browser's form with an address that is none gets a 400 page with the form and
    what is wrong; the same mistake in JSON stays JSON."""
    status, headers, body = served.post(
        "/status/public/subscribe", {"email": "not an address"}, form=True
    )
    assert status == 400
    assert headers["Content-Type"].startswith("text/html")
    page = body.decode()
    assert "email: give one address" in page
    assert '<form method="post" action="/status/public/subscribe">' in page
    status, headers, body = served.post("/status/public/subscribe", {"email": "not an address"})
    assert status == 400
    assert json.loads(body)["error"] == "email: give one address"
