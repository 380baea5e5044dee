"""The alert channels as configured: webhook, apprise and e-mail (the Alertmanager
channel's model is in :mod:`._alertmanager`; the delivery channels are in
``monitor.alerts``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, SecretStr

from tether._redact import redact_apprise
from tether.monitor.config._alertmanager import AlertmanagerChannelConfig
from tether.monitor.config._base import _Model
from tether.monitor.config._fields import (
    Address,
    AppriseUrl,
    Host,
    Name,
    WebUrl,
    Whole,
    one_or_many,
)

__all__ = [
    "AlertChannel",
    "AppriseChannelConfig",
    "ChannelConfig",
    "EmailChannelConfig",
    "WebhookChannelConfig",
]


class WebhookChannelConfig(_Model):
    """POST a JSON message, signed with HMAC-SHA256 when ``secret`` is set."""

    name: Name
    type: Literal["webhook"]
    url: WebUrl
    secret: SecretStr | None = None
    """The key of the ``X-Tether-Signature-256: sha256=HEX`` header."""


class AppriseChannelConfig(_Model):
    """Any apprise URL: Slack, Discord, Telegram, email and the rest."""

    name: Name
    type: Literal["apprise"]
    url: AppriseUrl | None = None
    urls: tuple[AppriseUrl, ...] = ()

    @property
    def targets(self) -> tuple[str, ...]:
        """``url`` and ``urls`` together."""
        return ((self.url,) if self.url else ()) + self.urls

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name == "url" and isinstance(value, str):
                yield name, redact_apprise(value)
            elif name == "urls":
                yield name, tuple(redact_apprise(u) for u in self.urls)
            else:
                yield name, value


class EmailChannelConfig(_Model):
    """SMTP email."""

    name: Name
    type: Literal["email"]
    host: Host
    port: Annotated[int, Whole, Field(ge=1, le=65535)] = 587
    from_: Address = Field(alias="from")
    to: Annotated[tuple[Address, ...], BeforeValidator(one_or_many), Field(min_length=1)]
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    """Upgrade the connection with STARTTLS; port 465 is TLS from the start either way."""
    ca_file: Annotated[str, Field(min_length=1)] | None = None
    """Trust the certificate authorities in this PEM file instead of the system's."""


ChannelConfig = (
    WebhookChannelConfig | AppriseChannelConfig | EmailChannelConfig | AlertmanagerChannelConfig
)
"""An alert channel as configured (the delivery channels are in ``monitor.alerts``)."""
AlertChannel = Annotated[ChannelConfig, Field(discriminator="type")]
