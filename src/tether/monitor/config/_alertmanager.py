"""``type: alertmanager``: a channel that posts tether's alerts to a Prometheus
Alertmanager's API, so a team that routes, groups, silences and inhibits with
Alertmanager keeps doing so (docs/monitor-config.md, "Alertmanager").

Credentials are either basic auth (``username`` and ``password``) or a
``bearer_token``, never both, and never in the URL, where they would travel into logs;
the server's certificate is always verified (``ca_file`` adds the authorities to trust),
with no switch to turn verification off."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tether._redact import redact_url
from tether.monitor.config._errors import KeyPath, Problem
from tether.monitor.config._fields import Name, WebUrl

__all__ = ["AlertmanagerChannelConfig", "alertmanager_problems"]


class AlertmanagerChannelConfig(BaseModel):
    """Post each alert to ``POST {url}/api/v2/alerts``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    type: Literal["alertmanager"]
    url: WebUrl
    """Alertmanager's base URL, as in ``http://127.0.0.1:9093`` (a path prefix from
    ``--web.route-prefix`` included)."""
    username: str | None = None
    password: SecretStr | None = None
    bearer_token: SecretStr | None = None
    """Sent as ``Authorization: Bearer TOKEN`` (for a proxy in front of Alertmanager)."""
    ca_file: Annotated[str, Field(min_length=1)] | None = None
    """Trust the certificate authorities in this PEM file instead of the system's."""
    dashboard_url: WebUrl | None = None
    """tether's dashboard as Alertmanager's users reach it: each alert's ``generatorURL``
    is then the monitor's page there."""

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, redact_url(value) if isinstance(value, str) and name == "url" else value


def alertmanager_problems(channel: AlertmanagerChannelConfig, at: KeyPath) -> list[Problem]:
    """What the channel's keys say together: credentials that go together, one kind of
    credential, and none in the URL."""
    authority = channel.url.partition("://")[2].split("/", 1)[0]
    if "@" in authority:
        return [
            (
                (*at, "url"),
                "holds credentials: write them as username and password (or bearer_token), "
                "which tether keeps out of its logs",
            )
        ]
    if channel.password is not None and channel.username is None:
        return [((*at, "username"), "is required with a password")]
    if channel.username is not None and channel.password is None:
        return [((*at, "password"), "is required with a username")]
    if channel.bearer_token is not None and channel.username is not None:
        return [
            (
                (*at, "bearer_token"),
                "goes alone: give username and password, or bearer_token, not both",
            )
        ]
    return []
