"""Malformed addresses given to subscribe (issue 72): a webhook URL that cannot be read,
or whose port is no port, and an e-mail address SMTP would not carry as it is, are each a
JSON 400 naming the field, with nothing stored.  A real Runner served on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.smtp_receiver import SMTPReceiver
from tests.helpers.subscribed import Subscribed
from tether.lab import Lab
from tether.monitor.web.status._subscribe import valid_email


@pytest.fixture
def served(tmp_path: Path, lab: Lab) -> Iterator[Subscribed]:
    smtp = SMTPReceiver()
    smtp.start()
    s = Subscribed(tmp_path, lab, smtp.port, per_hour=100)
    yield s
    s.close()
    smtp.stop()


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://[::1/broken", "a URL that can be read (Invalid IPv6 URL)"),
        ("http://[zzz]/", "a URL that can be read ("),
        ("http://hooks.example.org:99999/x", "port is a number from 1 to 65535"),
        ("http://hooks.example.org:80a/x", "port is a number from 1 to 65535"),
        ("http://hooks.example.org:0/x", "port is a number from 1 to 65535"),
    ],
)
def test_a_webhook_url_that_is_none_is_a_json_400_naming_the_field(
    served: Subscribed, url: str, said: str
) -> None:
    """``urlsplit`` raising (a bracket left open, a host in brackets that is no address)
    was a plain-text 500, and a port past 65535 or not a number was taken (202) and tried
    for a day: each is a JSON 400 naming ``webhook``."""
    status, headers, body = served.post("/status/public/subscribe", {"webhook": url})
    assert status == 400, body
    assert headers["Content-Type"].startswith("application/json")
    doc = json.loads(body)
    assert doc["field"] == "webhook"
    assert doc["error"].startswith("webhook: give ")
    assert said in doc["error"]
    assert served.store.subscribers() == []


@pytest.mark.parametrize(
    "address",
    [
        "=?utf-8?q?Bob_Ops?=@example.com",  # an encoded word: another name in To:
        "=?utf-8?b?Qm9i?=@example.com",
        "a b@example.com",
        "a..b@example.com",
        ".ann@example.com",
        "x" * 65 + "@example.com",
    ],
)
def test_an_email_address_smtp_would_not_carry_is_a_json_400(
    served: Subscribed, address: str
) -> None:
    """A local part that is not a dot-atom of printable ASCII, or is an RFC 2047 encoded
    word, is refused (``email``), before anything is stored or sent."""
    status, _, body = served.post("/status/public/subscribe", {"email": address})
    assert status == 400, body
    assert json.loads(body)["field"] == "email"
    assert served.store.subscribers() == []


def test_no_control_character_reaches_rcpt_to() -> None:
    """NUL, DEL and the other control characters in a local part (the body's gate refuses
    them in a request; an address from elsewhere is held to the same) are no address; an
    ordinary one, quotes and plus signs and all, is taken with its domain in lower case."""
    for bad in ("a\x00b@example.com", "a\x7fb@example.com", "a\x1bb@example.com"):
        assert valid_email(bad) is None
    assert valid_email("O'Brien+status@Example.COM") == "O'Brien+status@example.com"
