"""``type: alertmanager`` channels: read from the file with their defaults, their
credentials shown nowhere, built into a delivery channel that keeps them."""

from __future__ import annotations

from tests.helpers.config_text import dump, errors_of
from tether.monitor.alerts import AlertmanagerChannel
from tether.monitor.config import AlertmanagerChannelConfig, parse_config
from tether.monitor.runtime._app import channels_for

PASSWORD, TOKEN = "am-pass-9f2", "am-token-41c"


def test_a_channel_reads_with_its_defaults_and_shows_no_secret() -> None:
    """url alone is enough; a password and a token are in no repr of the configuration
    or of the channel built from it, yet reach the channel."""
    config = parse_config(
        dump(
            {"name": "api", "url": "http://127.0.0.1:8080/", "alerts": ["am", "am2"]},
            alerts=[
                {"name": "am", "type": "alertmanager", "url": "http://127.0.0.1:9093"},
                {
                    "name": "am2",
                    "type": "alertmanager",
                    "url": "https://127.0.0.1:9093/prefix/",
                    "username": "tether",
                    "password": PASSWORD,
                    "ca_file": "/etc/ssl/lab-ca.pem",
                    "dashboard_url": "https://tether.lab.test/",
                },
                {
                    "name": "am3",
                    "type": "alertmanager",
                    "url": "http://127.0.0.1:9093",
                    "bearer_token": TOKEN,
                },
            ],
        )
    )
    plain = config.alerts[0]
    assert isinstance(plain, AlertmanagerChannelConfig)
    assert (plain.username, plain.password, plain.bearer_token, plain.ca_file) == (None,) * 4
    for text in (repr(config), str(config.alerts)):
        assert PASSWORD not in text
        assert TOKEN not in text
    channels = channels_for(config)
    am2, am3 = channels["am2"], channels["am3"]
    assert isinstance(am2, AlertmanagerChannel)
    assert isinstance(am3, AlertmanagerChannel)
    assert am2.endpoint == "https://127.0.0.1:9093/prefix/api/v2/alerts"
    assert am2._session.auth == ("tether", PASSWORD)
    assert am2._verify == "/etc/ssl/lab-ca.pem"
    assert channels["am"]._verify is True  # type: ignore[attr-defined]
    assert am3._session.headers["Authorization"] == f"Bearer {TOKEN}"
    for channel in channels.values():
        assert PASSWORD not in repr(channel)
        channel.close()  # type: ignore[attr-defined]


def test_an_error_shows_no_secret() -> None:
    """A channel with a password and a token at once is refused without showing either."""
    errors = errors_of(
        dump(
            alerts=[
                {
                    "name": "am",
                    "type": "alertmanager",
                    "url": "http://127.0.0.1:9093",
                    "username": "tether",
                    "password": PASSWORD,
                    "bearer_token": TOKEN,
                }
            ]
        )
    )
    assert errors == [
        "alerts[0].bearer_token: goes alone: give username and password, or bearer_token, not both"
    ]
