"""Delivering a status page's news to its subscribers (issue 48): e-mail through the page's
e-mail channel, or a JSON body posted to a webhook and signed as the webhook channel signs
(``X-Tether-Signature-256: sha256=HEX(HMAC(secret, body))``, the subscriber's own
secret, told to the webhook alone in the body of its confirmation).  What is sent is
made from the stored body alone (``engine/_status_news.StatusNews``, or a
confirmation), which holds only what the page shows.

Every message but a confirmation carries the subscriber's unsubscribe link, in its text
and in ``List-Unsubscribe`` with ``List-Unsubscribe-Post`` (RFC 8058: a mail client's
one-click unsubscribe); a webhook's body carries it as ``unsubscribe``.  An unconfirmed
address is sent its confirmation and nothing else: the store queues news for confirmed
subscribers only, and :meth:`Deliverer.send` refuses anything else to one unconfirmed.

Deliveries come from the store's outbox (``store/_subscribers.py``), claimed by one
instance at a time, so a crash or a restart loses none: an unfinished one is claimed
again when its claim runs out.  A failed one is tried again with backoff (10 s doubling
to an hour), :data:`~tether.monitor.store._subscribers.GIVE_UP_AFTER` times.

A webhook is posted only to a public address, or one in the page's
``subscribe.webhook_networks``: a visitor may give any URL, and tether must not be made
to post into its own network.  Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.policy
import hashlib
import http.client
import ipaddress
import json
import logging
import socket
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlsplit

from tether._redact import redact_text
from tether._text import visible
from tether.integrations import _cutoff
from tether.monitor.alerts._email import EmailChannel, EmailError, message_domain
from tether.monitor.alerts._webhook import SIGNATURE_HEADER, sign
from tether.monitor.engine._status_news import StatusNews
from tether.monitor.engine.incidents._words import iso
from tether.monitor.store import StoreError
from tether.monitor.store._subscribers import GIVE_UP_AFTER

if TYPE_CHECKING:
    from tether.monitor.config import MonitorConfig
    from tether.monitor.config._channels import EmailChannelConfig
    from tether.monitor.config._subscribe import Subscribe
    from tether.monitor.store import Store
    from tether.monitor.store._subscribers import Delivery

__all__ = [
    "CONFIRM",
    "Deliverer",
    "NotSent",
    "confirmation",
    "email_channel",
    "links",
    "message_id",
    "retry_delay",
    "subscriber_email",
    "webhook_allowed",
    "webhook_body",
]

log = logging.getLogger("tether.monitor")

CONFIRM: Final = "subscription.confirm"
CLAIM_FOR: Final = 120.0
"""Seconds a deliverer holds what it claimed (a message takes at most its timeouts)."""
TIMEOUT: Final = 10.0
DEADLINE: Final = 15.0
"""Seconds one webhook delivery may take in all, connecting, sending and reading its answer:
a receiver that answers a byte at a time is cut off there (per-read timeouts never fire)."""
ANSWER_CAP: Final = 64 * 1024
"""Bytes read of a webhook's answer at most: its status is all that counts."""
WORKERS: Final = 64
"""Deliveries under way at once: one receiver that hangs holds one of them for its
deadline, no other; the rest go on (threads blocked on a socket: cheap)."""
_PERMANENT: Final = frozenset(range(400, 500)) - {408, 425, 429}
"""A webhook's answers that will not change on a retry (408, 425 and 429 may)."""


class NotSent(Exception):
    """A delivery that will not be made (its page or channel is gone, its webhook is
    refused): given up at once."""


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed: 10 s doubling, an hour at most."""
    return float(min(3600.0, 10.0 * 2 ** max(0, attempts - 1)))


def confirmation(slug: str, title: str, at: float | None = None) -> dict[str, Any]:
    """The stored body of a confirmation message, asked for at ``at``."""
    body: dict[str, Any] = {"event": CONFIRM, "page": slug, "title": title}
    if at is not None:
        body["at"] = at
    return body


def links(base: str, slug: str, token: str) -> dict[str, str]:
    """A subscriber's links: the page, confirm and unsubscribe (its token in each)."""
    page = f"{base}/status/{quote(slug, safe='')}"
    return {
        "page": page,
        "confirm": f"{page}/confirm?token={token}",
        "unsubscribe": f"{page}/unsubscribe?token={token}",
    }


def email_channel(config: EmailChannelConfig, local_hostname: str | None = None) -> EmailChannel:
    """The e-mail channel ``config`` describes (as ``runtime/_app.channels_for`` makes it),
    greeting its server as ``local_hostname`` (the status page's host)."""
    password = config.password.get_secret_value() if config.password else None
    return EmailChannel(
        config.name,
        config.host,
        config.port,
        config.from_,
        [config.from_],
        username=config.username,
        password=password,
        starttls=config.starttls,
        cafile=config.ca_file,
        local_hostname=local_hostname,
    )


_ON_THE_WIRE: Final = email.policy.default.clone(max_line_length=998)
"""Headers folded only past RFC 5322's hard limit of 998: the default policy's 78 makes
Python encode a long unbreakable value (``List-Unsubscribe``'s ``<URL>``) as an RFC 2047
encoded word, which mail clients do not read as a link (RFC 2369 wants it as it is)."""


def _when(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def message_id(delivery: Delivery, sender: str) -> str:
    """The ``Message-ID`` of ``delivery``'s e-mail (issue 73 §6), as alert e-mails have
    one: the same for every copy of it (delivery is at least once, by whichever instance),
    so a mail client shows a copy sent twice once; another for each message and each
    subscriber, named by neither's address or token."""
    s = delivery.subscriber
    digest = hashlib.sha256(f"{s.page}\0{s.id}\0{delivery.key}".encode()).hexdigest()[:24]
    page = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "-" for c in s.page)
    return f"<tether.status.{page}.{digest}@{message_domain(sender)}>"


def subscriber_email(delivery: Delivery, sender: str, base: str) -> EmailMessage:
    """The e-mail for ``delivery``: a confirmation, or one piece of news with the
    unsubscribe link."""
    s = delivery.subscriber
    body = delivery.body
    to = links(base, s.page, s.token)
    message = EmailMessage(policy=_ON_THE_WIRE)
    message["From"] = sender
    message["To"] = s.address
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    message["Auto-Submitted"] = "auto-generated"
    message["Message-ID"] = message_id(delivery, sender)
    if body.get("event") == CONFIRM:
        message["Subject"] = f"Confirm your subscription to {body['title']}"
        message.set_content(
            f"Someone, we hope you, asked for the news of {body['title']} ({to['page']}) "
            f"to be sent to this address.\n\nTo confirm, open:\n{to['confirm']}\n\n"
            "If it was not you, do nothing: this address will be sent nothing else.\n"
        )
        return message
    news = StatusNews.from_json(body)
    message["Subject"] = f"[{news.title}] {news.subject}"
    message["List-Unsubscribe"] = f"<{to['unsubscribe']}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["X-Tether-Event"] = news.event
    state = (
        f"{news.state.capitalize()} · " if news.event == "incident.update" and news.state else ""
    )
    message.set_content(
        f"{news.subject}\n{state}{_when(news.at)}\n\n{news.text}\n\n{to['page']}\n\n"
        f"You receive this because this address subscribed to {news.title}.\n"
        f"Unsubscribe: {to['unsubscribe']}\n"
    )
    return message


def webhook_body(delivery: Delivery, base: str) -> bytes:
    """The JSON posted to a webhook subscriber for ``delivery`` (signed by the caller); a
    confirmation carries the subscriber's ``secret``, the one place it is told."""
    s = delivery.subscriber
    to = links(base, s.page, s.token)
    body = dict(delivery.body)
    if body.get("event") == CONFIRM:
        # The fields every body has (issue 73 §7), and the secret: it goes to the endpoint
        # itself, never in an HTTP answer, so whoever reads this endpoint, and no stranger
        # who asked for it first, can verify (issue 72 §3).
        title = str(body.get("title", ""))
        doc = {
            **body,
            "key": delivery.key,
            "at": iso(float(body.get("at", s.created))),
            "subject": f"Confirm your subscription to {title}",
            "text": (
                f"Someone, we hope you, asked for the news of {title} to be posted to this "
                "webhook. To confirm, open the confirm link; if it was not you, do nothing: "
                "nothing else will be posted."
            ),
            "confirm": to["confirm"],
            "page_url": to["page"],
            "secret": s.secret,
        }
    else:
        news = StatusNews.from_json(body)
        # ISO 8601, as an alert webhook's ``at`` (issue 73 §7).
        doc = {**news.to_json(), "at": iso(news.at), "page_url": to["page"]}
    doc["unsubscribe"] = to["unsubscribe"]
    return json.dumps(doc, sort_keys=True).encode()


def webhook_allowed(url: str, networks: tuple[str, ...]) -> str:
    """The address tether posts ``url`` to: the first its host resolves to, once every
    one it resolves to is public or in ``networks``; :class:`NotSent` saying why not
    (not http(s), a private address, no address)."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:  # a row stored before the URL was checked when taken
        raise NotSent(f"not a URL that can be read ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NotSent("not an http or https URL")
    try:
        found = [ipaddress.ip_address(parts.hostname.partition("%")[0])]  # no lookup
    except ValueError:
        try:
            answers = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise NotSent(f"its host does not resolve: {exc}") from None
        found = [ipaddress.ip_address(sockaddr[0]) for *_, sockaddr in answers]
    allowed = [ipaddress.ip_network(n, strict=False) for n in networks]
    for address in found:
        if not address.is_global and not any(address in n for n in allowed):
            raise NotSent(f"{address} is not a public address (subscribe.webhook_networks)")
    return str(found[0])


def _post(url: str, address: str, body: bytes, secret: str, deadline: float = DEADLINE) -> None:
    """POST ``body`` to ``url``, signed.  Plain HTTP goes to ``address``, the one checked
    (a second lookup could answer another: DNS rebinding); HTTPS to the host, whose
    certificate must name it.  No redirect is followed.  The whole exchange ends within
    ``deadline`` seconds (the socket is shut then), and at most :data:`ANSWER_CAP` bytes of
    the answer are read.  A 4xx that will not change raises :class:`NotSent`."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "tether-monitor",
        SIGNATURE_HEADER: sign(body, secret),
    }
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(host, parts.port, timeout=TIMEOUT)
    else:
        conn = http.client.HTTPConnection(address, parts.port or 80, timeout=TIMEOUT)
        headers["Host"] = parts.netloc.rpartition("@")[2]
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timer = _cutoff.timer(threading.get_ident())
    timer.arm(deadline)
    try:
        conn.connect()
        if conn.sock is not None:
            timer.watch(conn.sock)
        conn.request("POST", path, body=body, headers=headers)
        answer = conn.getresponse()
        answer.read(ANSWER_CAP)
    except Exception as exc:  # a shut socket reads as an end (http.client's BadStatusLine)
        if timer.fired:
            raise TimeoutError(f"the webhook took more than {deadline:g} s in all") from exc
        raise
    finally:
        timer.disarm()
        conn.close()
    if answer.status in _PERMANENT:
        raise NotSent(f"the webhook answered {answer.status}, a refusal that will not change")
    if not 200 <= answer.status < 300:
        raise OSError(f"the webhook answered {answer.status}")


class Deliverer:
    """Sends what the store's subscriber outbox holds, as ``owner``, each second."""

    def __init__(
        self,
        store: Store,
        config: Callable[[], MonitorConfig],
        owner: str,
        clock: Callable[[], float],
        *,
        deadline: float = DEADLINE,
        workers: int = WORKERS,
    ) -> None:
        self.store, self.config, self.owner, self.clock = store, config, owner, clock
        self.deadline = deadline
        """Seconds one webhook delivery may take in all (:data:`DEADLINE`)."""
        self._mail: dict[str, tuple[object, EmailChannel]] = {}
        self._mail_lock = threading.Lock()
        self.workers = workers
        """Deliveries under way at once (:data:`WORKERS`)."""
        self._pool: ThreadPoolExecutor | None = None
        self._flying: dict[int, tuple[Delivery, Future[Exception | None]]] = {}
        """The deliveries under way, each with its attempt."""

    def _channel(self, name: str, host: str | None) -> EmailChannel:
        config = self.config()
        found = next((c for c in config.alerts if c.name == name and c.type == "email"), None)
        if found is None:
            raise NotSent(f"no e-mail channel {name!r}")
        with self._mail_lock:  # deliveries run in several threads at once
            kept = self._mail.get(name)
            if kept is None or kept[0] is not found:
                kept = (found, email_channel(found, host))
                self._mail[name] = kept
        return kept[1]

    def send(self, delivery: Delivery) -> None:
        """Send one delivery now (raises when it did not land)."""
        s = delivery.subscriber
        page = self.config().status_page(s.page)
        given: Subscribe | None = None if page is None else page.subscribe
        if given is None:
            raise NotSent(f"status page {s.page!r} takes no subscribers now")
        if s.confirmed is None and delivery.body.get("event") != CONFIRM:
            raise NotSent("not confirmed")
        if s.kind == "email":
            if given.email is None:
                raise NotSent("the page sends no e-mail now")
            # EHLO with the page's public name: not this host's, asked of the resolver.
            channel = self._channel(given.email, urlsplit(given.url).hostname)
            try:
                channel.send(subscriber_email(delivery, channel.sender, given.url), [s.address])
            except EmailError as exc:
                if exc.permanent:  # a 5xx (550, 553): the address is refused for good
                    raise NotSent(str(exc)) from None
                raise
            return
        address = webhook_allowed(s.address, given.webhook_networks)
        _post(s.address, address, webhook_body(delivery, given.url), s.secret or "", self.deadline)

    def _attempt(self, delivery: Delivery) -> Exception | None:
        try:
            self.send(delivery)
        except Exception as exc:  # what became of it, recorded by the caller's thread
            return exc
        return None

    def _record(self, d: Delivery, failed: Exception | None) -> bool:
        """Tell the store what became of ``d``; whether it landed."""
        try:
            if failed is not None:
                raise failed
        except NotSent as exc:
            self.store.delivery_failed(d.id, str(exc), None)
            log.warning("%s not sent, given up: %s", self._where(d), self._said(d, exc))
        except Exception as exc:  # any failure of the peer is retried
            error = redact_text(f"{type(exc).__name__}: {exc}")
            again = (
                None
                if d.attempts + 1 >= GIVE_UP_AFTER
                # From its end, not its claim: a delivery that took its whole deadline
                # would otherwise be due again at once, ahead of every other.
                else self.clock() + retry_delay(d.attempts + 1)
            )
            self.store.delivery_failed(d.id, error, again)
            then = (
                f"given up after {d.attempts + 1} attempts"
                if again is None
                else f"tried again in {retry_delay(d.attempts + 1):g} s"
            )
            log.warning("%s failed, %s: %s", self._where(d), then, self._said(d, error))
        else:
            self.store.delivered(d.id, self.clock())
            return True
        return False

    def _where(self, d: Delivery) -> str:
        """``d`` named for a log line (issue 73 §12): its page, its channel and the host
        it goes to, never the whole address (each a stranger's text, escaped)."""
        s = d.subscriber
        if s.kind == "email":
            page = self.config().status_page(s.page)
            given = None if page is None or page.subscribe is None else page.subscribe.email
            domain = s.address.rpartition("@")[2]
            how = f"by e-mail channel {given or '(none)'} to an address at {domain}"
        else:
            try:
                host = urlsplit(s.address).hostname or "?"
            except ValueError:
                host = "?"
            how = f"to the webhook at {host}"
        return visible(f"status page {s.page}: delivery {d.id} {how}")

    @staticmethod
    def _said(d: Delivery, what: object) -> str:
        """What went wrong with ``d``, for a log line: escaped, and without the
        subscriber's address (a mail server's refusal names it)."""
        return visible(str(what).replace(d.subscriber.address, "(the subscriber)"))

    def pump(self) -> int:
        """Tell the store what finished since the last call, then claim what is due and
        not under way, as many as :data:`WORKERS` has room for, and start sending them;
        how many landed.  Nothing waits here for a delivery under way: one that hangs
        holds its worker for its deadline, and every other worker goes on with the
        rest (the news of 900 receivers is not held by 100 that hang: each batch waited
        for its slowest before)."""
        landed = 0
        for did, (d, future) in list(self._flying.items()):
            if future.done():
                del self._flying[did]
                landed += self._record(d, future.result())
        room = self.workers - len(self._flying)
        if room <= 0:
            return landed
        now = self.clock()
        claimed = self.store.claim_deliveries(
            self.owner, now, CLAIM_FOR, limit=room, skip=tuple(self._flying)
        )
        if claimed and self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, "tether-deliver")
        for d in claimed:
            assert self._pool is not None
            self._flying[d.id] = (d, self._pool.submit(self._attempt, d))
        return landed

    def deliver_due(self) -> int:
        """Send what is due now and wait until it is done (the tests' and a one-off
        run's; the monitor's loop calls :meth:`pump`); how many landed."""
        landed = self.pump()
        while self._flying:
            wait([f for _, f in self._flying.values()], return_when=FIRST_COMPLETED)
            landed += self.pump()
        return landed

    def close(self) -> None:
        """Stop taking deliveries; one under way ends within its deadline, and what was
        not recorded is claimed again when its claim runs out (at least once)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def run(
        self, stop: asyncio.Event, sleep: Callable[[float], Awaitable[None]], every: float = 1.0
    ) -> None:
        """Deliver what is due every ``every`` seconds until ``stop``."""
        while not stop.is_set():
            # Nothing to claim while no page takes subscribers (no write each second).
            if any(p.subscribe is not None for p in self.config().status_pages):
                try:
                    await asyncio.to_thread(self.pump)
                except StoreError as exc:  # tried again next time (the writer said why)
                    log.debug("status page deliveries wait: %s", exc)
                except Exception:
                    log.exception("status page deliveries failed")
            await sleep(every)
        self.close()
