"""Limits on subscribing that cannot be reset (issue 72 §4): the per-address and
per-client counts hold whatever the number of other keys, a client is its IPv4 address or
its IPv6 /64, a page's unconfirmed subscriptions are bounded, and a form posted from
another site is refused unless the page opts in.

A real Runner served on a Unix socket, as a worker process forwards to it, so that each
request may name its client (``X-Forwarded-For``, believed on that socket alone); the
runner's clock is the test's (``s.now``), which no request moves."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.smtp_receiver import SMTPReceiver
from tests.helpers.subscribed import SITE, Subscribed
from tether.lab import Lab
from tether.monitor.web.auth._sessions import LoginLimiter


@pytest.fixture
def smtp() -> Iterator[SMTPReceiver]:
    server = SMTPReceiver()
    server.start()
    yield server
    server.stop()


class Client:
    """One kept-alive connection to the served runner's Unix socket."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.conn = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        path = self.path

        class Conn(http.client.HTTPConnection):
            def connect(self) -> None:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)

        return Conn("localhost", timeout=20)

    def post(
        self, fields: dict[str, str], client: str = "192.0.2.1", **headers: str
    ) -> tuple[int, dict[str, Any]]:
        """POST ``fields`` as JSON to the page's subscribe route from ``client``."""
        sent = {"Content-Type": "application/json", "X-Forwarded-For": client}
        sent.update({k.replace("_", "-"): v for k, v in headers.items()})
        self.conn.request("POST", "/status/public/subscribe", json.dumps(fields), sent)
        answer = self.conn.getresponse()
        body = answer.read()
        doc = json.loads(body) if answer.headers.get_content_type() == "application/json" else {}
        return answer.status, {**doc, "_headers": dict(answer.headers)}

    def form(self, fields: dict[str, str], **headers: str) -> int:
        """POST ``fields`` as a form, as a browser would, with ``headers``."""
        from urllib.parse import urlencode

        sent = {"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": "192.0.2.9"}
        sent.update({k.replace("_", "-"): v for k, v in headers.items()})
        self.conn.request("POST", "/status/public/subscribe", urlencode(fields), sent)
        answer = self.conn.getresponse()
        answer.read()
        return answer.status

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def served(tmp_path: Path, lab: Lab, smtp: SMTPReceiver) -> Iterator[Any]:
    """A function making a runner with ``subscribe`` settings, and its client."""
    made: list[tuple[Subscribed, Client]] = []

    def make(**subscribe: Any) -> tuple[Subscribed, Client]:
        sock = str(tmp_path / f"coordinator-{len(made)}.sock")
        per_hour = subscribe.pop("per_hour", 5)
        s = Subscribed(tmp_path, lab, smtp.port, per_hour, subscribe=subscribe, unix=sock)
        made.append((s, Client(sock)))
        return made[-1]

    yield make
    for s, c in made:
        c.close()
        s.close()


def test_five_thousand_other_keys_do_not_reset_a_victims_count(served: Any) -> None:
    """A victim's address asked for ``per_hour`` times is refused; 5,000 subscriptions
    from 5,000 other clients (10,000 other keys: the old limiter kept 10,000 and forgot
    the oldest) leave its count as it was, so it is still refused from a new client."""
    _s, c = served(max_unconfirmed=1_000_000)
    victim = "victim@example.com"
    for n in range(5):
        assert c.post({"email": victim}, f"198.51.100.{n}")[0] == 202
    assert c.post({"email": victim}, "198.51.100.99")[0] == 429
    for n in range(5000):
        client = f"10.{n // 250}.{n % 250}.1"
        status, _ = c.post({"email": f"x{n}@example.com"}, client)
        assert status == 202, n
    status, doc = c.post({"email": victim}, "203.0.113.7")
    assert status == 429, doc
    assert int(doc["_headers"]["Retry-After"]) > 0


def test_a_full_limiter_holds_new_keys_rather_than_forget_counting_ones() -> None:
    """``churn=False``: with every kept key still counting, a new key waits until the
    oldest runs out, and a counting key is never forgotten; once windows run out, room
    is made from the oldest."""
    now = [1000.0]
    limiter = LoginLimiter(lambda: now[0], limit=2, window=3600, max_keys=100, churn=False)
    limiter.failed(["victim"])
    limiter.failed(["victim"])
    for n in range(99):
        now[0] += 1
        limiter.failed([f"other:{n}"])
    now[0] += 1
    wait = limiter.retry_after(["newcomer"])
    assert wait == pytest.approx(3600 - 100)
    limiter.failed(["newcomer"])  # held: not counted, nothing forgotten
    assert len(limiter) == 100
    assert limiter.retry_after(["victim"]) == pytest.approx(3600 - 100)
    now[0] = 1000.0 + 3600
    assert limiter.retry_after(["newcomer"]) is None
    limiter.failed(["newcomer"])
    assert len(limiter) == 100
    # The victim's window ran out (forgotten); it waits for room, the oldest's 1 s.
    assert limiter.retry_after(["victim"]) == pytest.approx(1.0)


def test_a_client_is_its_ipv6_64_or_its_ipv4_address(served: Any) -> None:
    """Two addresses of one IPv6 /64 are one client (2^64 clients in one allotment
    otherwise); another /64, or another IPv4 address, is another client."""
    _s, c = served(per_hour=2)
    assert c.post({"email": "a@example.com"}, "2001:db8:1:1::1")[0] == 202
    assert c.post({"email": "b@example.com"}, "2001:db8:1:1::2")[0] == 202
    assert c.post({"email": "c@example.com"}, "2001:db8:1:1:ffff::3")[0] == 429
    assert c.post({"email": "c@example.com"}, "2001:db8:1:2::1")[0] == 202
    assert c.post({"email": "d@example.com"}, "192.0.2.10")[0] == 202
    assert c.post({"email": "e@example.com"}, "192.0.2.10")[0] == 202
    assert c.post({"email": "f@example.com"}, "::ffff:192.0.2.10")[0] == 429
    assert c.post({"email": "f@example.com"}, "192.0.2.11")[0] == 202


def test_unconfirmed_subscriptions_are_bounded_per_page(served: Any, smtp: SMTPReceiver) -> None:
    """Past ``max_unconfirmed`` waiting, a subscription is a 503 with a message naming
    the bound and ``Retry-After``, the same for an address on the list or not, and
    nothing is stored or sent; once one confirms, a new one is taken."""
    s, c = served(max_unconfirmed=3, per_hour=100)
    for n in range(3):
        assert c.post({"email": f"w{n}@example.com"})[0] == 202
    status, doc = c.post({"email": "late@example.com"})
    assert status == 503
    assert "subscribe.max_unconfirmed: 3" in doc["error"]
    assert int(doc["_headers"]["Retry-After"]) > 0
    assert c.post({"email": "w0@example.com"})[0] == 503  # on the list: the same answer
    assert len(s.store.subscribers("public")) == 3
    first = s.store.subscribers("public")[0]
    s.store.confirm_subscriber(first.token, s.now)
    assert c.post({"email": "late@example.com"})[0] == 202


def test_a_form_posted_from_another_site_is_refused_unless_the_page_opts_in(
    served: Any,
) -> None:
    """A browser's form post from another site (``Sec-Fetch-Site: cross-site``, or an
    ``Origin`` that is neither the page's nor the server's) is a 403 and stores nothing;
    from the page itself, or with no browser's headers, it is taken; with
    ``cross_site: true`` another site's form is taken too."""
    s, c = served()
    assert c.form({"email": "a@example.com"}, Sec_Fetch_Site="cross-site") == 403
    assert c.form({"email": "a@example.com"}, Origin="https://evil.example") == 403
    assert c.form({"email": "a@example.com"}, Origin="null") == 403
    status, doc = c.post({"email": "a@example.com"}, Sec_Fetch_Site="cross-site")
    assert status == 403
    assert "subscribe.cross_site" in doc["error"]
    assert s.store.subscribers("public") == []
    assert c.form({"email": "a@example.com"}, Sec_Fetch_Site="same-origin") == 202
    assert c.form({"email": "b@example.com"}, Origin=SITE) == 202
    assert c.form({"email": "c@example.com"}) == 202
    _opted, c2 = served(cross_site=True)
    assert c2.form({"email": "d@example.com"}, Sec_Fetch_Site="cross-site") == 202
