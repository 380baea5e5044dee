"""Gatus's ``alerting:`` providers as tether's alert channels.

One channel a provider, named as the provider's type (``slack``, ``email``, ``custom``...),
so an endpoint's ``alerts: [{type: slack}]`` becomes the monitor's ``alerts: [slack]``:
``custom`` is a ``webhook``, ``email`` an ``email`` channel, and the chat and paging
services apprise knows are ``apprise`` channels, their URL in apprise's own form (its
wiki's "Notify_*" pages: ``slack://A/B/C``, ``discord://ID/TOKEN``, ``tgram://BOT/CHAT``).
A value taken from the environment (``${SLACK_WEBHOOK}``) is kept as the reference when
apprise reads the service's own URL too (Slack's and Discord's webhooks); a provider
that cannot be carried is a :class:`LeftOut` saying why.  No reason names a value: a
provider's keys are its secrets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import quote, urlsplit

from tether.monitor.importers._common import LeftOut

__all__ = ["channels_of"]

_CHAT: Final = "tether's apprise channel sends its own message"


class _Skip(Exception):
    """The provider cannot be carried: ``str()`` says why."""


def _text(config: Mapping[str, Any], key: str) -> str:
    value = config.get(key)
    if value is None or value == "":
        raise _Skip(f"it has no {key}")
    return str(value)


def _env(value: str) -> bool:
    return "${" in value


def _slack(config: Mapping[str, Any]) -> tuple[str, set[str]]:
    url = _text(config, "webhook-url")
    found = re.fullmatch(r"https://hooks\.slack\.com/services/(\S+)", url)
    if found:
        return f"slack://{found[1]}", {"webhook-url"}
    if _env(url):  # apprise reads https://hooks.slack.com/services/... as it is
        return url, {"webhook-url"}
    raise _Skip("its webhook-url is not a https://hooks.slack.com/services/... URL")


def _discord(config: Mapping[str, Any]) -> tuple[str, set[str]]:
    url = _text(config, "webhook-url")
    found = re.fullmatch(r"https://(?:discord|discordapp)\.com/api/webhooks/([^/\s]+)/(\S+)", url)
    if found:
        return f"discord://{found[1]}/{found[2]}", {"webhook-url"}
    if _env(url):
        return url, {"webhook-url"}
    raise _Skip("its webhook-url is not a https://discord.com/api/webhooks/... URL")


def _telegram(config: Mapping[str, Any]) -> tuple[str, set[str]]:
    chat = _text(config, "id")
    topic = config.get("topic-id")
    target = f"{chat}:{topic}" if topic not in (None, "") else chat
    return f"tgram://{_text(config, 'token')}/{target}", {"token", "id", "topic-id"}


def _opsgenie(config: Mapping[str, Any]) -> tuple[str, set[str]]:
    return f"opsgenie://{_text(config, 'api-key')}", {"api-key"}


def _pushover(config: Mapping[str, Any]) -> tuple[str, set[str]]:
    user, token = _text(config, "user-key"), _text(config, "application-token")
    return f"pover://{user}@{token}", {"user-key", "application-token"}


def _host_and_path(url: str, key: str) -> tuple[bool, str]:
    """Whether ``url`` is https, and its ``host[:port][/path]`` without a trailing ``/``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _Skip(f"its {key} is not an http:// or https:// URL")
    return parts.scheme == "https", (parts.netloc + parts.path).rstrip("/")


def _gotify(config: Mapping[str, Any]) -> tuple[str, set[str]]:
    secure, where = _host_and_path(_text(config, "server-url"), "server-url")
    url = f"gotify{'s' if secure else ''}://{where}/{_text(config, 'token')}"
    if config.get("priority") not in (None, ""):
        url += f"?priority={quote(str(config['priority']))}"
    return url, {"server-url", "token", "priority"}


_NTFY_PRIORITY: Final = {1: "min", 2: "low", 3: "default", 4: "high", 5: "max"}


def _ntfy(config: Mapping[str, Any]) -> tuple[str, set[str]]:
    secure, where = _host_and_path(str(config.get("url") or "https://ntfy.sh"), "url")
    token = config.get("token")
    auth = f"{token}@" if token else ""
    url = f"ntfy{'s' if secure else ''}://{auth}{where}/{quote(_text(config, 'topic'), safe='')}"
    priority = config.get("priority")
    if isinstance(priority, int) and priority in _NTFY_PRIORITY:
        url += f"?priority={_NTFY_PRIORITY[priority]}"
    return url, {"topic", "url", "token", "priority"}


def _matrix(config: Mapping[str, Any]) -> tuple[str, set[str]]:
    server = str(config.get("server-url") or "https://matrix-client.matrix.org")
    secure, where = _host_and_path(server, "server-url")
    token, room = _text(config, "access-token"), _text(config, "internal-room-id")
    url = f"matrix{'s' if secure else ''}://{token}@{where}/{room}"
    return url, {"server-url", "access-token", "internal-room-id"}


def _mattermost(config: Mapping[str, Any]) -> tuple[str, set[str]]:
    url = _text(config, "webhook-url")
    found = re.fullmatch(r"(https?)://([^/\s]+)(/\S*?)?/hooks/([^/\s]+)/?", url)
    if not found:
        raise _Skip("its webhook-url is not a Mattermost .../hooks/KEY URL")
    secure = found[1] == "https"
    return f"mmost{'s' if secure else ''}://{found[2]}{found[3] or ''}/{found[4]}", {"webhook-url"}


def _googlechat(config: Mapping[str, Any]) -> tuple[str, set[str]]:
    url = _text(config, "webhook-url")
    found = re.fullmatch(
        r"https://chat\.googleapis\.com/v1/spaces/([^/\s]+)/messages\?key=([^&\s]+)&token=([^&\s]+)",
        url,
    )
    if not found:
        raise _Skip("its webhook-url is not a https://chat.googleapis.com/v1/spaces/... URL")
    return f"gchat://{found[1]}/{found[2]}/{found[3]}", {"webhook-url"}


def _teams_workflows(config: Mapping[str, Any]) -> tuple[str, set[str]]:
    url = _text(config, "webhook-url")
    host = urlsplit(url).hostname or ""
    if host.endswith((".logic.azure.com", ".powerautomate.com", ".powerplatform.com")):
        return url, {"webhook-url"}  # apprise's workflows plugin reads the URL as it is
    raise _Skip(
        "its webhook-url is not a Power Automate workflow URL (…logic.azure.com/workflows/…), "
        "the form apprise's workflows:// reads"
    )


_APPRISE: Final[Mapping[str, Callable[[Mapping[str, Any]], tuple[str, set[str]]]]] = {
    "slack": _slack,
    "discord": _discord,
    "telegram": _telegram,
    "opsgenie": _opsgenie,
    "pushover": _pushover,
    "gotify": _gotify,
    "ntfy": _ntfy,
    "matrix": _matrix,
    "mattermost": _mattermost,
    "googlechat": _googlechat,
    "teams-workflows": _teams_workflows,
}

_NOT_CARRIED: Final[Mapping[str, str]] = {
    "pagerduty": "apprise's pagerduty:// needs a REST API key beside the integration key, "
    "which Gatus does not hold: add it as type: apprise, url: pagerduty://INTEGRATION_KEY@API_KEY",
    "teams": "Microsoft retired the Office 365 connectors this provider posts to; use "
    "teams-workflows (an apprise workflows:// channel)",
}


def _webhook(
    name: str, config: Mapping[str, Any], where: str, left: list[LeftOut]
) -> dict[str, Any]:
    url = _text(config, "url")
    for key in ("method", "body", "headers", "placeholders"):
        if config.get(key):
            left.append(
                LeftOut(
                    f"{where}.{key}",
                    "a tether webhook POSTs its own JSON (docs/monitor.md, alerts), "
                    "signed when it has a secret; Gatus's request template is not used",
                )
            )
    return {"name": name, "type": "webhook", "url": url}


def _email(name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    to = [part.strip() for part in _text(config, "to").split(",") if part.strip()]
    out: dict[str, Any] = {"name": name, "type": "email", "host": _text(config, "host")}
    if config.get("port") not in (None, "", 0):
        out["port"] = config["port"]
    out["from"] = _text(config, "from")
    out["to"] = to
    if config.get("password"):
        out["username"] = str(config.get("username") or config["from"])
        out["password"] = str(config["password"])
    elif config.get("username"):
        out["username"] = str(config["username"])
    return out


_EMAIL_KEYS: Final = {"from", "username", "password", "host", "port", "to"}
_ALWAYS: Final = {"default-alert", "overrides", "client"}


def channels_of(
    alerting: object, left: list[LeftOut]
) -> tuple[list[dict[str, Any]], dict[str, Mapping[str, Any]], dict[str, str]]:
    """The channels of Gatus's ``alerting:``; each provider's ``default-alert``; and, for
    each provider left out, why (an endpoint's alert of that type says it)."""
    channels: list[dict[str, Any]] = []
    defaults: dict[str, Mapping[str, Any]] = {}
    refused: dict[str, str] = {}
    if not isinstance(alerting, Mapping):
        return channels, defaults, refused
    for kind, config in alerting.items():
        name, where = str(kind), f"alerting.{kind}"
        if not isinstance(config, Mapping):
            refused[name] = "its configuration is not a mapping"
            left.append(LeftOut(where, refused[name]))
            continue
        if isinstance(config.get("default-alert"), Mapping):
            defaults[name] = config["default-alert"]
        try:
            carried = _one(name, config, where, channels, left)
        except _Skip as exc:
            refused[name] = str(exc)
            left.append(LeftOut(where, refused[name]))
            continue
        if carried is None:
            continue
        if config.get("overrides"):
            left.append(
                LeftOut(
                    f"{where}.overrides",
                    "per-group settings: tether routes alerts by labels instead (each "
                    "monitor has its group as the label group; docs/routing.md)",
                )
            )
        client = config.get("client")
        if isinstance(client, Mapping) and client.get("insecure"):
            left.append(
                LeftOut(f"{where}.client.insecure", "tether never turns TLS verification off")
            )
        for key in sorted(set(config) - carried - _ALWAYS):
            left.append(LeftOut(f"{where}.{key}", f"{_CHAT}; this setting has no equivalent"))
    return channels, defaults, refused


def _one(
    name: str,
    config: Mapping[str, Any],
    where: str,
    channels: list[dict[str, Any]],
    left: list[LeftOut],
) -> set[str] | None:
    """Add the channel of one provider; the keys it carried over."""
    if name == "custom":
        channels.append(_webhook(name, config, where, left))
        return {"url", "method", "body", "headers", "placeholders"}
    if name == "email":
        channels.append(_email(name, config))
        return set(_EMAIL_KEYS)
    if name in _NOT_CARRIED:
        raise _Skip(_NOT_CARRIED[name])
    convert = _APPRISE.get(name)
    if convert is None:
        raise _Skip(
            f"tether has no channel for {name}: its channels are webhook, email and the "
            "apprise services (docs/monitor-config.md, alerts); add one of them by hand"
        )
    url, carried = convert(config)
    channels.append({"name": name, "type": "apprise", "url": url})
    return carried
