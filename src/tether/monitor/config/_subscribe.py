"""A status page's ``subscribe:`` (issue 48): whether visitors may subscribe to its news,
and how it reaches them (docs/status-pages.md, "Subscribers").

    subscribe:
      url: https://status.example.com     # where the page is, for the links in messages
      email: mail-out                     # an e-mail alert channel: its server and From
      webhook: true                       # signed JSON posts
      webhook_networks: []                # beyond public addresses (none by default)
      per_hour: 5                         # subscriptions per client and per address
      max_unconfirmed: 1000               # waiting for their confirmation, at most
      cross_site: false                   # forms on other sites may not post here

The Atom feed (``/status/SLUG/feed.atom``) is served for every page that has
``subscribe:``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, Field

from tether._suggest import did_you_mean
from tether.monitor.config._base import _Model
from tether.monitor.config._errors import KeyPath, Problem, fail, show
from tether.monitor.config._fields import Name, WebUrl, Whole

if TYPE_CHECKING:
    from tether.monitor.config._channels import ChannelConfig

__all__ = ["Subscribe", "check_subscribe"]


def _network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise fail(f"{show(value)} is not a network: write one as 10.0.0.0/8 or ::1/128") from None
    return value


def _no_query(value: str) -> str:
    if "?" in value or "#" in value:
        raise fail(f"{show(value)}: give the page's address without ? or #")
    return value.rstrip("/")


class Subscribe(_Model):
    """How a status page's visitors may subscribe to its news."""

    url: Annotated[WebUrl, AfterValidator(_no_query)]
    """The page's public address (``https://status.example.com``), which the links sent
    to subscribers start with: ``URL/status/SLUG/...``."""
    email: Name | None = None
    """The e-mail alert channel whose server and From address send to subscribers; none:
    no subscription by e-mail."""
    webhook: bool = False
    """Whether a webhook URL may subscribe."""
    webhook_networks: tuple[Annotated[str, AfterValidator(_network)], ...] = ()
    """Networks beyond the public internet a subscriber's webhook may be in (none: a
    webhook on a private, loopback or link-local address is never posted to)."""
    per_hour: Annotated[int, Whole, Field(ge=1, le=10_000)] = 5
    """Subscriptions a client (an IPv4 address, an IPv6 /64) and an address subscribed
    may ask for an hour."""
    max_unconfirmed: Annotated[int, Whole, Field(ge=1, le=1_000_000)] = 1000
    """Subscriptions of the page waiting for their confirmation at most: past it a new
    one is answered 503 until some are confirmed or forgotten (after 7 days)."""
    cross_site: bool = False
    """Whether a subscription may be posted from a form on another site (a browser's
    ``Sec-Fetch-Site: cross-site``, or an ``Origin`` that is not the page's): refused
    by default, so another site cannot make its visitors' browsers subscribe."""


def check_subscribe(
    pages: Sequence[Subscribe | None], channels: Sequence[ChannelConfig]
) -> list[Problem]:
    """One problem per page (``pages``: each one's ``subscribe``) whose ``email`` names no
    e-mail channel."""
    errors: list[Problem] = []
    mail = [c.name for c in channels if c.type == "email"]
    for i, given in enumerate(pages):
        if given is None or given.email is None:
            continue
        at: KeyPath = ("status_pages", i, "subscribe", "email")
        if given.email not in mail:
            hint = did_you_mean(given.email, mail) or "; define one under alerts with type: email"
            errors.append((at, f"no e-mail channel named {show(given.email)}{hint}"))
    return errors
