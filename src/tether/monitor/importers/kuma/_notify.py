"""Uptime Kuma's notifications as tether's alert channels.

A row of Kuma's ``notification`` table holds its provider's settings as JSON in
``config``, with the provider in ``type`` and its fields named as Kuma's
``server/notification-providers/*.js`` read them (``telegramBotToken``,
``discordWebhookUrl``, ``smtpHost``...).  The services apprise reaches become
``type: apprise`` channels with the URL apprise documents for them; Kuma's e-mail
(``smtp``) becomes tether's ``email`` channel and its ``webhook`` tether's
``webhook`` channel.  Every other provider is left out, named.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

__all__ = ["KumaChannel", "channel_of"]


@dataclass(frozen=True, slots=True)
class KumaChannel:
    """One alert channel made of a Kuma notification: tether's keys, or why not."""

    config: Mapping[str, Any] | None
    why_not: str = ""
    notes: tuple[str, ...] = ()


def channel_of(name: str, config_json: str | None) -> KumaChannel:
    """The channel a notification's ``config`` JSON becomes (without its ``name``)."""
    try:
        config = json.loads(config_json or "")
    except ValueError:
        return KumaChannel(None, "its config is not JSON")
    if not isinstance(config, dict):
        return KumaChannel(None, "its config is not a JSON object")
    provider = str(config.get("type") or "")
    make = _PROVIDERS.get(provider)
    if make is None:
        return KumaChannel(
            None,
            f"tether has no channel for {provider or 'an unnamed provider'} "
            "(neither its own nor through apprise)",
        )
    try:
        return make({k: v for k, v in config.items() if v is not None})
    except _Missing as exc:
        return KumaChannel(None, f"its {provider} settings have no {exc}")


class _Missing(Exception):
    pass


def _field(config: Mapping[str, Any], key: str) -> str:
    value = config.get(key)
    if value is None or str(value).strip() == "":
        raise _Missing(key)
    return str(value).strip()


def _seg(value: str) -> str:
    return quote(value, safe="")


def _apprise(url: str, *notes: str) -> KumaChannel:
    return KumaChannel({"type": "apprise", "url": url}, notes=notes)


def _telegram(c: Mapping[str, Any]) -> KumaChannel:
    # apprise: tgram://{bot_token}/{chat_id}
    return _apprise(f"tgram://{_field(c, 'telegramBotToken')}/{_field(c, 'telegramChatID')}")


def _discord(c: Mapping[str, Any]) -> KumaChannel:
    # Kuma keeps the webhook URL, https://discord.com/api/webhooks/{id}/{token};
    # apprise: discord://{webhook_id}/{webhook_token}
    url = _field(c, "discordWebhookUrl")
    found = re.search(r"/api/webhooks/([^/?#]+)/([^/?#]+)", url)
    if found is None:
        raise _Missing("discordWebhookUrl of the form .../api/webhooks/ID/TOKEN")
    return _apprise(f"discord://{found[1]}/{found[2]}")


def _slack(c: Mapping[str, Any]) -> KumaChannel:
    # https://hooks.slack.com/services/{A}/{B}/{C} -> slack://{A}/{B}/{C}[/#channel]
    url = _field(c, "slackwebhookURL")
    found = re.search(r"/services/([^/?#]+)/([^/?#]+)/([^/?#]+)", url)
    if found is None:
        raise _Missing("slackwebhookURL of the form .../services/A/B/C")
    channel = str(c.get("slackchannel") or "").strip().lstrip("#")
    tail = f"/%23{_seg(channel)}" if channel else ""
    return _apprise(f"slack://{found[1]}/{found[2]}/{found[3]}{tail}")


def _teams(c: Mapping[str, Any]) -> KumaChannel:
    # apprise reads Teams through Power Automate workflows (the Office 365 connector
    # URLs Kuma 1.23 was given are retired, and apprise 2 no longer reads them).
    url = _field(c, "webhookUrl")
    if "/workflows/" in url and "/triggers/manual/paths/invoke" in url:
        return _apprise(url)
    return KumaChannel(
        None,
        "its Teams webhook is an Office 365 connector URL, which Microsoft retired and "
        "apprise no longer reads: make a Teams workflow and give its URL to an apprise channel",
    )


def _pushover(c: Mapping[str, Any]) -> KumaChannel:
    # apprise: pover://{user_key}@{token}[/{device}]
    device = str(c.get("pushoverdevice") or "").strip()
    url = f"pover://{_field(c, 'pushoveruserkey')}@{_field(c, 'pushoverapptoken')}"
    return _apprise(url + (f"/{_seg(device)}" if device else ""))


def _gotify(c: Mapping[str, Any]) -> KumaChannel:
    # apprise: gotify(s)://{host}[:{port}][/{path}]/{token}
    server = urlsplit(_field(c, "gotifyserverurl"))
    scheme = "gotifys" if server.scheme == "https" else "gotify"
    path = server.path.rstrip("/")
    token = _seg(_field(c, "gotifyapplicationToken"))
    return _apprise(f"{scheme}://{server.netloc}{path}/{token}")


def _ntfy(c: Mapping[str, Any]) -> KumaChannel:
    # apprise: ntfy://{topic} (ntfy.sh), ntfys://{host}/{topic}, ntfys://{user}:{pw}@...,
    # ?token= for an access token
    server = urlsplit(str(c.get("ntfyserverurl") or "https://ntfy.sh"))
    topic = _seg(_field(c, "ntfytopic"))
    user, password = str(c.get("ntfyusername") or ""), str(c.get("ntfypassword") or "")
    auth = f"{_seg(user)}:{_seg(password)}@" if user and password else ""
    token = str(c.get("ntfyaccesstoken") or "")
    query = f"?token={_seg(token)}" if token and not auth else ""
    scheme = "ntfys" if server.scheme == "https" else "ntfy"
    return _apprise(f"{scheme}://{auth}{server.netloc}/{topic}{query}")


def _matrix(c: Mapping[str, Any]) -> KumaChannel:
    # apprise: matrixs://{token}@{host}[:{port}]/{room_id}
    server = urlsplit(_field(c, "homeserverUrl"))
    scheme = "matrixs" if server.scheme == "https" else "matrix"
    token, room = _seg(_field(c, "accessToken")), _seg(_field(c, "internalRoomId"))
    return _apprise(f"{scheme}://{token}@{server.netloc}/{room}")


def _addresses(value: object) -> list[str]:
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def _smtp(c: Mapping[str, Any]) -> KumaChannel:
    port = int(c.get("smtpPort") or 587)
    to = _addresses(c.get("smtpTo")) + _addresses(c.get("smtpCC")) + _addresses(c.get("smtpBCC"))
    if not to:
        raise _Missing("smtpTo")
    channel: dict[str, Any] = {
        "type": "email",
        "host": _field(c, "smtpHost"),
        "port": port,
        "from": _field(c, "smtpFrom"),
        "to": to,
    }
    user, password = str(c.get("smtpUsername") or ""), str(c.get("smtpPassword") or "")
    if user and password:
        channel |= {"username": user, "password": password}
    notes = []
    if c.get("smtpIgnoreTLSError"):
        notes.append("its smtpIgnoreTLSError is not carried: tether verifies the server")
    if c.get("smtpCC") or c.get("smtpBCC"):
        notes.append("its Cc and Bcc addresses are plain recipients in tether")
    if not (user and password) and port != 465 and not c.get("smtpSecure"):
        # Kuma sends without TLS when the server offers none; tether insists on STARTTLS
        # unless told otherwise, and with no password there is nothing to protect.
        channel["starttls"] = False
    return KumaChannel(channel, notes=tuple(notes))


def _webhook(c: Mapping[str, Any]) -> KumaChannel:
    notes = ["tether posts its own JSON, not Kuma's body"]
    if c.get("webhookAdditionalHeaders") or c.get("webhookCustomBody"):
        notes.append("its additional headers and custom body are not carried")
    return KumaChannel({"type": "webhook", "url": _field(c, "webhookURL")}, notes=tuple(notes))


_PROVIDERS: dict[str, Callable[[Mapping[str, Any]], KumaChannel]] = {
    "telegram": _telegram,
    "discord": _discord,
    "slack": _slack,
    "teams": _teams,
    "pushover": _pushover,
    "gotify": _gotify,
    "ntfy": _ntfy,
    "matrix": _matrix,
    "smtp": _smtp,
    "webhook": _webhook,
}
