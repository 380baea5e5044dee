"""Subscribing to a status page (issue 48): public routes of a page with ``subscribe:``.

    GET  /status/{slug}/subscribe     the form (e-mail, webhook)
    POST /status/{slug}/subscribe     {"email": ...} or {"webhook": URL}: 202, a
                                      confirmation sent; a form answers a page
    GET  /status/{slug}/confirm       ?token=: a page with one button (a link opened by
                                      a mail scanner changes nothing)
    POST /status/{slug}/confirm       token=...: confirmed
    GET  /status/{slug}/unsubscribe   ?token=: a page with one button
    POST /status/{slug}/unsubscribe   token=... (or RFC 8058's one-click body with the
                                      token in the query): unsubscribed
    GET  /status/{slug}/feed.atom     the page's news as an Atom feed

No login: what they answer says nothing of who is subscribed.  A subscription asked for
answers the same whether the address is new, waiting for its confirmation or confirmed
(only a new one is sent its confirmation; one waiting, a new one), so the answer does not
tell whether an address is on the list.  Subscribing is limited per client (an IPv4
address, an IPv6 /64) and per address (``subscribe.per_hour`` an hour each: 429 with
``Retry-After`` past it; counts no number of other keys resets), a page's unconfirmed
subscriptions are bounded (``subscribe.max_unconfirmed``: 503 past it), and a browser's
post from another site is refused (403) unless ``subscribe.cross_site`` (issue 72 §4); a
token that matches nobody counts against its client (30 an hour), though a token is 256
random bits.  A webhook subscriber's secret (what its bodies are signed with) is told
to the webhook alone, in the body of its confirmation: no answer holds it.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import quote, urlsplit
from xml.sax.saxutils import escape

from aiohttp import web

from tether._text import shown
from tether.monitor.alerts._subscribers import confirmation
from tether.monitor.reports._documents import iso
from tether.monitor.store import StoreError
from tether.monitor.store._subscribers import Subscriber
from tether.monitor.web._html import render
from tether.monitor.web._params import FORM_TYPES, BadBody, parse_json, read_body, read_form
from tether.monitor.web._routing import Handler
from tether.monitor.web.auth._auth import client_network
from tether.monitor.web.auth._sessions import LoginLimiter
from tether.monitor.web.status._statuspage import SECURITY_HEADERS, TtlCache

if TYPE_CHECKING:
    from tether.monitor.config import StatusPage
    from tether.monitor.config._subscribe import Subscribe
    from tether.monitor.web._running import Running

__all__ = [
    "FEED_ENTRIES",
    "SubscribeHandlers",
    "atom_feed",
    "cross_site",
    "subscribe_handlers",
    "valid_email",
]

FEED_ENTRIES: Final = 50
"""The newest pieces of news a feed holds."""
TOKEN_TRIES: Final = 30
"""Tokens that match nobody a client may send an hour."""
EMAIL: Final = re.compile(
    r"[^@\s<>\"(),;:\\\[\]]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?"
)
_ATEXT: Final = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
DOT_ATOM: Final = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
"""RFC 5322's dot-atom: what a local part is, written without quotes (printable ASCII)."""
ENCODED_WORD: Final = re.compile(r"=\?.*\?=")
"""An RFC 2047 encoded word, which a mail client would decode in ``To:``."""
URL_MAX: Final = 2000
LIMIT_KEYS: Final = 100_000
"""Clients and addresses a page's subscription limit counts at once: past them, while each
is still counting, a new one waits (``LoginLimiter(churn=False)``); none is forgotten
early."""
FULL_RETRY: Final = 3600
"""``Retry-After`` (seconds) of a page whose unconfirmed subscriptions are at their bound."""
PAGE_HEADERS: Final = {
    **SECURITY_HEADERS,
    # Its own forms post to this server; nothing else differs from the page's.
    "Content-Security-Policy": (
        "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-store",
}


def valid_email(given: str) -> str | None:
    """``given`` as an address to store (its domain in lower case), or ``None`` when it is
    not one address SMTP carries as it is (issue 72): the local part a dot-atom of printable
    ASCII (RFC 5321's, so no NUL, DEL or other control character reaches ``RCPT TO``), not
    an RFC 2047 encoded word (``=?utf-8?q?...?=``, which a mail client shows in ``To:`` as
    another name), 64 characters at most, and the whole 254."""
    text = given.strip()
    if len(text) > 254 or not EMAIL.fullmatch(text) or "." not in text.rpartition("@")[2]:
        return None
    local, _, domain = text.rpartition("@")
    if not DOT_ATOM.fullmatch(local) or ENCODED_WORD.search(local):
        return None
    return f"{local}@{domain.lower()}"


def _valid_webhook(given: str) -> str:
    """``given`` as a webhook's URL to store; ``ValueError`` saying why it is not one."""
    text = given.strip()
    if len(text) > URL_MAX:
        raise ValueError(f"a URL of {URL_MAX} characters at most")
    if any(ord(c) < 33 or ord(c) == 127 for c in text):
        raise ValueError("a URL without spaces or control characters")
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError as exc:  # http://[::1/broken, http://[zzz]/
        raise ValueError(f"a URL that can be read ({exc})") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError("an http or https URL with a host")
    try:
        port = parts.port  # raises for a port that is not a number from 0 to 65535
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError("a URL whose port is a number from 1 to 65535")
    if parts.username is not None:
        raise ValueError("a URL without a user name or password")
    return text


def _xml(text: str) -> str:
    """``text`` as XML character data: escaped, and each character XML 1.0 cannot hold (a
    control character, a noncharacter, a lone surrogate, from a row stored before the
    one gate for text from outside) written out as its escape (``tether._text.shown``)."""
    return escape(shown(text))


def atom_feed(
    page: StatusPage, base: str, news_json: Sequence[Mapping[str, object]], now: float
) -> str:
    """The Atom (RFC 4287) feed of a page's news, newest first: XML whatever the store
    holds (:func:`_xml`)."""
    url = f"{base}/status/{quote(page.slug, safe='')}"
    updated = iso(max((float(str(n["at"])) for n in news_json), default=now))
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<id>{_xml(url)}</id>",
        f"<title>{_xml(page.title)}</title>",
        f"<updated>{updated}</updated>",
        f'<link rel="alternate" type="text/html" href="{_xml(url)}"/>',
        f'<link rel="self" type="application/atom+xml" href="{_xml(url)}/feed.atom"/>',
        f"<author><name>{_xml(page.title)}</name></author>",
    ]
    for n in news_json:
        at = iso(float(str(n["at"])))
        out += [
            "<entry>",
            f"<id>{_xml(url)}#{_xml(quote(str(n['key']), safe=':'))}</id>",
            f"<title>{_xml(str(n['subject']))}</title>",
            f"<updated>{at}</updated>",
            f"<published>{at}</published>",
            f'<link rel="alternate" type="text/html" href="{_xml(url)}"/>',
            f'<category term="{_xml(str(n["event"]))}"/>',
            f'<content type="text">{_xml(str(n["text"]))}</content>',
            "</entry>",
        ]
    out.append("</feed>")
    return "\n".join(out) + "\n"


@dataclass(frozen=True, slots=True)
class SubscribeHandlers:
    """The handlers of a page's subscription routes (module docstring)."""

    form: Handler
    subscribe: Handler
    confirm_page: Handler
    confirm: Handler
    unsubscribe_page: Handler
    unsubscribe: Handler
    feed: Handler


def _page(
    mode: str,
    slug: str,
    title: str,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    **values: object,
) -> web.Response:
    shown: dict[str, object] = {"message": None, "email": False, "webhook": False, "token": ""}
    shown.update(values)
    text = str(render("status_subscribe.html", mode=mode, slug=slug, title=title, **shown))
    return web.Response(
        text=text + "\n",
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={**PAGE_HEADERS, **(headers or {})},
    )


def _json(
    doc: Mapping[str, object], status: int, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=json.dumps(doc),
        status=status,
        content_type="application/json",
        headers={**PAGE_HEADERS, **(headers or {})},
    )


async def _fields(request: web.Request) -> tuple[dict[str, str], bool]:
    """The request's fields (a form, or a JSON object) and whether it was a form."""
    try:
        if request.content_type in FORM_TYPES:
            form = await read_form(request)
            return {k: form[k] for k in form if isinstance(form[k], str)}, True
        data = parse_json(await read_body(request)) if request.can_read_body else {}
    except BadBody as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="send a JSON object")
    return {k: v for k, v in data.items() if isinstance(v, str)}, False


class _Subscriptions:
    """The subscription routes' handlers and what they keep: the limits' counts and the
    feeds built."""

    def __init__(self, runner: Running) -> None:
        self.runner = runner
        self.limiters: dict[tuple[str, int], LoginLimiter] = {}
        self.tokens = LoginLimiter(
            runner.wall, limit=TOKEN_TRIES, window=3600.0, max_keys=LIMIT_KEYS, churn=False
        )
        self.feeds = TtlCache(runner.wall)

    def subscribable(self, request: web.Request) -> tuple[StatusPage, Subscribe]:
        page = self.runner.config.status_page(request.match_info["slug"])
        if page is None or page.subscribe is None:
            raise web.HTTPNotFound(text="no status page here takes subscribers\n")
        return page, page.subscribe

    def limited(self, keys: list[str], retry: float) -> web.Response:
        return _json(*_limited(retry))

    async def form(self, request: web.Request) -> web.Response:
        page, given = self.subscribable(request)
        return _page(
            "form",
            page.slug,
            f"Subscribe to {page.title}",
            email=given.email is not None,
            webhook=given.webhook,
        )

    async def held(
        self, request: web.Request, page: StatusPage, given: Subscribe, address: str
    ) -> tuple[dict[str, object], int, dict[str, str]] | None:
        """Why a subscription of ``address`` is not taken now (its document, status and
        headers), or ``None``: the limits per client and per address, which count this
        request, and the page's bound on subscriptions waiting (issue 72 §4)."""
        limiter = self.limiters.get((page.slug, given.per_hour))
        if limiter is None:
            limiter = self.limiters[page.slug, given.per_hour] = LoginLimiter(
                self.runner.wall,
                limit=given.per_hour,
                window=3600.0,
                max_keys=LIMIT_KEYS,
                churn=False,  # other keys, however many, never reset one's count
            )
        keys = [f"client:{client_network(request)}", f"address:{address.lower()}"]
        wait = limiter.retry_after(keys)
        if wait is not None:
            return _limited(wait)
        limiter.failed(keys)  # every request counts
        try:
            waiting = await asyncio.to_thread(self.runner.store.unconfirmed, page.slug)
        except StoreError:
            return {"error": "subscriptions cannot be taken now: try again later"}, 503, {}
        if waiting >= given.max_unconfirmed:
            # The same answer for every address, new or not: it tells nothing of the list.
            return (
                {
                    "error": (
                        f"too many subscriptions to this page wait for their confirmation "
                        f"(subscribe.max_unconfirmed: {given.max_unconfirmed}): try again later"
                    )
                },
                503,
                {"Retry-After": str(FULL_RETRY)},
            )
        return None

    async def subscribe(self, request: web.Request) -> web.Response:
        page, given = self.subscribable(request)
        is_form = request.content_type in FORM_TYPES

        def refuse(
            doc: Mapping[str, object], status: int, headers: Mapping[str, str] | None = None
        ) -> web.Response:
            """A mistake or a refusal: to a browser's form, the form again saying it
            (issue 73 §12); to anything else, JSON."""
            if not is_form:
                return _json(doc, status, headers)
            return _page(
                "form",
                page.slug,
                f"Subscribe to {page.title}",
                status=status,
                headers=headers,
                message=str(doc["error"]),
                email=given.email is not None,
                webhook=given.webhook,
            )

        if not given.cross_site and cross_site(request, given.url):
            return refuse(
                {
                    "error": (
                        "a subscription posted from another site is refused "
                        "(subscribe.cross_site): subscribe on the page's own form"
                    )
                },
                403,
            )
        fields, _ = await _fields(request)
        email, hook = fields.get("email", "").strip(), fields.get("webhook", "").strip()
        if bool(email) == bool(hook):
            return refuse({"error": "give one of email or webhook"}, 400)
        address: str | None
        if email:
            kind, address = "email", valid_email(email)
            if given.email is None:
                return refuse({"error": "this page takes no e-mail subscribers"}, 400)
            if address is None:
                return refuse({"error": "email: give one address", "field": "email"}, 400)
        else:
            kind = "webhook"
            if not given.webhook:
                return refuse({"error": "this page takes no webhook subscribers"}, 400)
            try:
                address = _valid_webhook(hook)
            except ValueError as exc:
                return refuse({"error": f"webhook: give {exc}", "field": "webhook"}, 400)
        held = await self.held(request, page, given, address)
        if held is not None:
            return refuse(*held)
        now = self.runner.wall()
        new = Subscriber(
            0,
            page.slug,
            kind,
            address,
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(32) if kind == "webhook" else None,
            now,
            None,
        )
        try:
            await asyncio.to_thread(
                self.runner.store.subscribe, new, confirmation(page.slug, page.title, now), now
            )
        except StoreError:
            return refuse({"error": "subscriptions cannot be taken now: try again later"}, 503)
        said = (
            "Check your inbox: a confirmation was sent, and nothing else will be "
            "before you confirm."
            if kind == "email"
            # The same words whether or not tether may post there (a private address
            # without subscribe.webhook_networks is never posted to): the answer tells
            # nothing of the network; the deliverer's log line says why it was not.
            else "A confirmation is posted to the webhook if tether may post there "
            "(a public address, or one the page allows): open its confirm link."
        )
        if is_form:
            return _page("done", page.slug, f"Subscribe to {page.title}", status=202, message=said)
        # The same answer whatever the store holds: a webhook's secret is told to the
        # webhook itself, in its confirmation (issue 72 §3), never to whoever asked.
        return _json({"subscribed": "pending", "message": said}, 202)

    def bad_token(self, request: web.Request, slug: str, title: str) -> web.Response:
        key = f"client:{client_network(request)}"
        wait = self.tokens.retry_after([key])
        if wait is not None:
            return self.limited([key], wait)
        self.tokens.failed([key])
        return _page(
            "done", slug, title, status=404, message="This link is not (or no longer) valid."
        )

    async def known(self, request: web.Request, token: str, slug: str) -> Subscriber | None:
        key = f"client:{client_network(request)}"
        if self.tokens.retry_after([key]) is not None:
            return None
        found = (
            await asyncio.to_thread(self.runner.store.subscriber_by_token, token) if token else None
        )
        return found if found is not None and found.page == slug else None

    async def confirm_page(self, request: web.Request) -> web.Response:
        page, _ = self.subscribable(request)
        token = request.query.get("token", "")
        if await self.known(request, token, page.slug) is None:
            return self.bad_token(request, page.slug, page.title)
        return _page("confirm", page.slug, f"Subscribe to {page.title}", token=token)

    async def confirm(self, request: web.Request) -> web.Response:
        page, _ = self.subscribable(request)
        fields, is_form = await _fields(request)
        token = _token_of(request, fields)
        if await self.known(request, token, page.slug) is None:
            return self.bad_token(request, page.slug, page.title)
        await asyncio.to_thread(self.runner.store.confirm_subscriber, token, self.runner.wall())
        said = f"Subscribed: you will be told the news of {page.title}."
        if is_form:
            return _page("done", page.slug, page.title, message=said)
        return _json({"subscribed": "confirmed", "message": said}, 200)

    async def unsubscribe_page(self, request: web.Request) -> web.Response:
        page, _ = self.subscribable(request)
        token = request.query.get("token", "")
        if await self.known(request, token, page.slug) is None:
            return self.bad_token(request, page.slug, page.title)
        return _page("unsubscribe", page.slug, f"Unsubscribe from {page.title}", token=token)

    async def unsubscribe(self, request: web.Request) -> web.Response:
        page, _ = self.subscribable(request)
        fields, is_form = await _fields(request)
        token = _token_of(request, fields)
        if await self.known(request, token, page.slug) is None:
            return self.bad_token(request, page.slug, page.title)
        await asyncio.to_thread(self.runner.store.unsubscribe, token)
        said = f"Unsubscribed: nothing more of {page.title} will be sent."
        if is_form:
            return _page("done", page.slug, page.title, message=said)
        return _json({"subscribed": "no", "message": said}, 200)

    async def feed(self, request: web.Request) -> web.Response:
        page, given = self.subscribable(request)

        async def build() -> str:
            now, store = self.runner.wall(), self.runner.store

            def work() -> str:
                # What was told, as it was told (the store's): an entry is never
                # rewritten by the page's later words; a change is an entry of its own.
                return atom_feed(page, given.url, store.news(page.slug, FEED_ENTRIES), now)

            return await asyncio.to_thread(work)

        text: str = await self.feeds.get(page.slug, page, build)
        return web.Response(
            text=text,
            content_type="application/atom+xml",
            charset="utf-8",
            headers={**SECURITY_HEADERS, "Cache-Control": "max-age=60"},
        )


def cross_site(request: web.Request, url: str) -> bool:
    """Whether a browser says ``request`` comes from a page of another site than this
    one (whose public address is ``url``): ``Sec-Fetch-Site: cross-site``, or, from a
    browser that does not send it, an ``Origin`` neither the page's nor the request's own
    host (``null``, an opaque origin, is another site).  A request without either (a
    script, ``curl``) is no browser's: it comes from no site."""
    fetch = request.headers.get("Sec-Fetch-Site")
    if fetch is not None:
        return fetch.strip().lower() == "cross-site"
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    try:
        host = urlsplit(origin.strip()).netloc.lower()
    except ValueError:
        return True
    return not host or host not in {urlsplit(url).netloc.lower(), request.host.lower()}


def _limited(retry: float) -> tuple[dict[str, object], int, dict[str, str]]:
    """The answer past a limit, ``retry`` seconds before it lifts: its document, status
    and headers."""
    wait = str(max(1, int(retry + 0.999)))
    return (
        {"error": "too many subscriptions asked for: try again later"},
        429,
        {"Retry-After": wait},
    )


def _token_of(request: web.Request, fields: Mapping[str, str]) -> str:
    return fields.get("token") or request.query.get("token", "")


def subscribe_handlers(runner: Running) -> SubscribeHandlers:
    """:class:`SubscribeHandlers` for ``runner``'s pages."""
    s = _Subscriptions(runner)
    return SubscribeHandlers(
        s.form, s.subscribe, s.confirm_page, s.confirm, s.unsubscribe_page, s.unsubscribe, s.feed
    )
