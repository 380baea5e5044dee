"""A subscriber's e-mail as it goes on the wire (issue 72 §5): ``List-Unsubscribe`` and
``List-Unsubscribe-Post`` as RFC 2369 and RFC 8058 want them, whatever the URL's length,
read from the raw bytes a real SMTP server (aiosmtpd) received, not through a parser that
would decode an encoded word back."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from tests.helpers.smtp_receiver import SMTPReceiver
from tether.monitor.alerts._email import EmailChannel
from tether.monitor.alerts._subscribers import subscriber_email
from tether.monitor.engine._status_news import StatusNews
from tether.monitor.store._subscribers import Delivery, Subscriber

LONG_SITE = "https://status.an-example-company-with-a-long-name.lab.test/" + "p" * 60


@pytest.fixture
def smtp() -> Iterator[SMTPReceiver]:
    server = SMTPReceiver()
    server.start()
    yield server
    server.stop()


def _news(token: str) -> Delivery:
    news = StatusNews(
        key="incident:1:opened",
        at=time.time(),
        event="incident.opened",
        page="public",
        title="Example Shop",
        subject="Checkout is unreachable",
        text="We are looking into it.",
        incident=1,
    )
    subscriber = Subscriber(1, "public", "email", "ann@lab.test", token, None, 0.0, 1.0)
    return Delivery(1, news.key, news.to_json(), 0, subscriber)


@pytest.mark.parametrize("token", ["t" * 8, "t" * 43])
def test_list_unsubscribe_goes_on_the_wire_as_a_link(smtp: SMTPReceiver, token: str) -> None:
    """The raw header is ``List-Unsubscribe: <https://...>`` on one line, never an encoded
    word, and the one-click header beside it, for a URL past 78 characters too."""
    channel = EmailChannel(
        name="mail", host="127.0.0.1", port=smtp.port, sender="status@lab.test",
        to=("ops@lab.test",), starttls=False, local_hostname="lab.test",
    )  # fmt: skip
    channel.send(subscriber_email(_news(token), channel.sender, LONG_SITE), ["ann@lab.test"])
    raw = bytes(smtp.wire).decode("ascii")
    url = f"{LONG_SITE}/status/public/unsubscribe?token={token}"
    assert len(url) > 78
    assert re.search(rf"^List-Unsubscribe: <{re.escape(url)}>\r$", raw, re.M), raw
    assert re.search(r"^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r$", raw, re.M)
    assert "=?utf-8?" not in raw


def test_every_subscriber_email_has_a_message_id_the_same_for_each_copy(
    smtp: SMTPReceiver,
) -> None:
    """A subscriber's e-mail carries a ``Message-ID`` on the wire, as alert e-mails do
    (issue 73 §6): the same for a copy of the same delivery, another for another message
    or another subscriber, naming neither the address nor the token."""
    channel = EmailChannel(
        name="mail", host="127.0.0.1", port=smtp.port, sender="status@lab.test",
        to=("ops@lab.test",), starttls=False, local_hostname="lab.test",
    )  # fmt: skip
    news = _news("t" * 43)
    for delivery in (news, news):
        channel.send(subscriber_email(delivery, channel.sender, LONG_SITE), ["ann@lab.test"])
    raw = bytes(smtp.wire).decode("ascii")
    ids = re.findall(r"^Message-ID: (<[^>\r]+@lab\.test>)\r$", raw, re.M)
    assert len(ids) == 2
    assert ids[0] == ids[1]
    assert "ann" not in ids[0]
    assert "t" * 10 not in ids[0]
    other = Delivery(2, "incident:1:resolved", news.body, 0, news.subscriber)
    assert subscriber_email(other, channel.sender, LONG_SITE)["Message-ID"] != ids[0]
