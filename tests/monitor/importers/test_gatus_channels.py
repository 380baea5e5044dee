"""Gatus's ``alerting:`` providers, each as its README section writes it, become channels
whose apprise URLs apprise itself reads as that service (apprise's own parser, no
message sent); the providers tether cannot carry say why, and no reason holds a secret."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tether.monitor.importers._common import LeftOut
from tether.monitor.importers.gatus._alerting import channels_of

README_PROVIDERS = """\
slack:
  webhook-url: "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXX"
discord:
  webhook-url: "https://discord.com/api/webhooks/1234567890/abcdefTOKENxyz"
  title: "Gatus"
telegram:
  token: "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
  id: "0123456789"
  topic-id: "7"
opsgenie:
  api-key: "00000000-0000-0000-0000-000000000000"
pushover:
  application-token: "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
  user-key: "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
gotify:
  server-url: "https://gotify.example"
  token: "AbCdEfGhIjKl"
  priority: 5
ntfy:
  topic: "gatus-test-topic"
  priority: 2
  token: tk_faketoken
matrix:
  server-url: "https://matrix.corp.test"
  access-token: "123456"
  internal-room-id: "!room:corp.test"
mattermost:
  webhook-url: "https://mattermost.example/hooks/xi3dhx6p1hhsmn7szw6zjdsafo"
googlechat:
  webhook-url: "https://chat.googleapis.com/v1/spaces/AAAAbbbb/messages?key=KEYkey&token=TOKtok"
teams-workflows:
  webhook-url: "https://prod-00.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=xyz"
"""
SERVICES = {
    "slack": "NotifySlack",
    "discord": "NotifyDiscord",
    "telegram": "NotifyTelegram",
    "opsgenie": "NotifyOpsgenie",
    "pushover": "NotifyPushover",
    "gotify": "NotifyGotify",
    "ntfy": "NotifyNtfy",
    "matrix": "NotifyMatrix",
    "mattermost": "NotifyMattermost",
    "googlechat": "NotifyGoogleChat",
    "teams-workflows": "NotifyWorkflows",
}


# apprise's PGP helper imports the stdlib's imghdr (as src/tether/monitor/alerts/_apprise.py says)
@pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")
def test_every_apprise_channel_is_read_by_apprise_as_its_service() -> None:
    """apprise parses each URL made from a README-shaped provider into that service."""
    apprise = pytest.importorskip("apprise")
    left: list[LeftOut] = []
    made, _, refused = channels_of(yaml.safe_load(README_PROVIDERS), left)
    assert refused == {}
    assert {c["name"] for c in made} == set(SERVICES)
    for channel in made:
        assert channel["type"] == "apprise"
        notifier = apprise.Apprise()
        assert notifier.add(channel["url"]), channel["url"]
        assert type(notifier[0]).__name__ == SERVICES[channel["name"]], channel["url"]
    urls = {c["name"]: c["url"] for c in made}
    assert urls["slack"] == "slack://T0000/B0000/XXXXXXXXXXXXXXXX"
    assert urls["discord"] == "discord://1234567890/abcdefTOKENxyz"
    assert urls["googlechat"] == "gchat://AAAAbbbb/KEYkey/TOKtok"
    assert urls["telegram"] == "tgram://123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11/0123456789:7"
    assert urls["ntfy"] == "ntfys://tk_faketoken@ntfy.sh/gatus-test-topic?priority=low"
    # The title is Gatus's own message: said, without its value.
    assert [(i.what, "Gatus" in i.why) for i in left] == [("alerting.discord.title", False)]


def test_webhook_and_email_and_default_alerts() -> None:
    """custom is a webhook at its URL (its template left out), email an email channel
    with its recipients split; each provider's default-alert is returned for its alerts."""
    left: list[LeftOut] = []
    alerting: dict[str, Any] = yaml.safe_load(
        """\
custom:
  url: "https://hooks.corp.test/x"
  method: POST
  body: '{"text": "[ENDPOINT_NAME]"}'
email:
  from: "from@corp.test"
  password: "pw-SECRET"
  host: "mail.corp.test"
  port: 587
  to: "a@corp.test, b@corp.test"
  default-alert: {failure-threshold: 7}
"""
    )
    made, defaults, _ = channels_of(alerting, left)
    assert made == [
        {"name": "custom", "type": "webhook", "url": "https://hooks.corp.test/x"},
        {
            "name": "email",
            "type": "email",
            "host": "mail.corp.test",
            "port": 587,
            "from": "from@corp.test",
            "to": ["a@corp.test", "b@corp.test"],
            "username": "from@corp.test",
            "password": "pw-SECRET",
        },
    ]
    assert defaults == {"email": {"failure-threshold": 7}}
    assert [i.what for i in left] == ["alerting.custom.method", "alerting.custom.body"]
    assert not any("SECRET" in i.why or "SECRET" in i.what for i in left)


def test_providers_tether_cannot_carry_say_why() -> None:
    """PagerDuty (apprise needs an API key Gatus lacks), the retired Teams connectors, a
    service tether has no channel for, a webhook URL of another shape: each one reason."""
    left: list[LeftOut] = []
    _, _, refused = channels_of(
        {
            "pagerduty": {"integration-key": "k-SECRET"},
            "teams": {"webhook-url": "https://x.webhook.office.com/webhookb2/y"},
            "twilio": {"sid": "s", "token": "t-SECRET"},
            "slack": {"webhook-url": "https://chat.corp.test/hook/SECRET"},
        },
        left,
    )
    assert "REST API key" in refused["pagerduty"]
    assert "retired" in refused["teams"]
    assert refused["twilio"].startswith("tether has no channel for twilio")
    assert "not a https://hooks.slack.com/services/" in refused["slack"]
    assert not any("SECRET" in i.why for i in left)
