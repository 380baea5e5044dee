"""``remind_every`` and ``escalate``: typed frozen values, inherited from ``defaults``,
every mistake at its key path, and the checks across the file (channels that exist,
steps in order)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests.helpers.config_text import CHANNELS, URL, dump, errors_of
from tether.monitor.config import ConfigError, Escalation, parse_config


def test_reminders_and_escalation_are_typed_frozen_values() -> None:
    """remind_every is seconds; each escalate step an Escalation of seconds and channels."""
    config = parse_config(
        dump(
            {
                "name": "api",
                "url": URL,
                "alerts": "ops",
                "remind_every": "30m",
                "escalate": [
                    {"after": "10m", "alerts": "pager"},
                    {"after": "1h", "alerts": ["pager", "boss"]},
                ],
            },
            alerts=CHANNELS,
        )
    )
    api = config.monitor("api")
    assert api.remind_every == 1800.0
    assert api.escalate == (
        Escalation(after=600.0, alerts=("pager",)),
        Escalation(after=3600.0, alerts=("pager", "boss")),
    )
    step = api.escalate[0]
    assert hash(step) == hash(Escalation(600.0, ("pager",)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        step.after = 1.0  # type: ignore[misc]
    assert repr(step) == "Escalation(after=600.0, alerts=('pager',))"


def test_reminders_and_escalation_are_off_unless_set() -> None:
    """Without the keys, a monitor is never reminded nor escalated."""
    api = parse_config(dump()).monitors[0]
    assert (api.remind_every, api.escalate) == (None, ())


def test_reminders_and_escalation_come_from_defaults_unless_a_monitor_says_otherwise() -> None:
    """Both keys are inherited like the others; a monitor's null or [] switches them off."""
    config = parse_config(
        dump(
            {"name": "a", "url": URL},
            {"name": "b", "url": URL, "remind_every": None, "escalate": []},
            {"name": "c", "url": URL, "escalate": [{"after": "5m", "alerts": "boss"}]},
            alerts=CHANNELS,
            defaults={"remind_every": "1h", "escalate": [{"after": "15m", "alerts": "pager"}]},
        )
    )
    a, b, c = config.monitors
    assert (a.remind_every, a.escalate) == (3600.0, (Escalation(900.0, ("pager",)),))
    assert (b.remind_every, b.escalate) == (None, ())
    assert (c.remind_every, c.escalate) == (3600.0, (Escalation(300.0, ("boss",)),))


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"remind_every": "30s"}, "monitors[0].remind_every: 30s is too short: the minimum is 1m"),
        ({"remind_every": "0s"}, "monitors[0].remind_every: 0s is too short: the minimum is 1m"),
        ({"remind_every": 5}, "monitors[0].remind_every: 5 is not a duration, write 5s"),
        ({"escalate": {"after": "1m"}}, "monitors[0].escalate: a mapping is not a list"),
        ({"escalate": ["pager"]}, 'monitors[0].escalate[0]: "pager" is not a mapping of keys'),
        (
            {"escalate": [{"after": "0s", "alerts": "ops"}]},
            "monitors[0].escalate[0].after: 0s is too short: give a duration above zero",
        ),
        (
            {"escalate": [{"after": "10", "alerts": "ops"}]},
            'monitors[0].escalate[0].after: "10" is not a duration, write 10s',
        ),
        ({"escalate": [{"alerts": "ops"}]}, "monitors[0].escalate[0].after: is required"),
        ({"escalate": [{"after": "1m"}]}, "monitors[0].escalate[0].alerts: is required"),
        (
            {"escalate": [{"after": "1m", "alerts": []}]},
            "monitors[0].escalate[0].alerts: is empty",
        ),
        (
            {"escalate": [{"after": "1m", "alerts": "ops", "channels": "boss"}]},
            "monitors[0].escalate[0].channels: unknown key; expected one of: after, alerts",
        ),
    ],
)
def test_reminder_and_escalation_field_error(fields: dict[str, Any], error: str) -> None:
    """Each mistake in remind_every or an escalate step is reported at its key path."""
    assert errors_of(dump({"name": "api", "url": URL, **fields}, alerts=CHANNELS)) == [error]


def test_a_misspelled_escalation_key_suggests_the_real_one() -> None:
    """An unknown key in a step is named with the key it is close to."""
    text = dump({"name": "api", "url": URL, "escalate": [{"aftr": "1m", "alerts": "ops"}]})
    assert errors_of(text) == [
        "monitors[0].escalate[0].after: is required",
        "monitors[0].escalate[0].aftr: unknown key, did you mean after?",
    ]


def test_escalation_must_name_channels_and_go_forward_in_time() -> None:
    """Each step's channels exist (with a did-you-mean) and each step comes after the last,
    in the defaults as in a monitor."""
    text = dump(
        {
            "name": "api",
            "url": URL,
            "escalate": [
                {"after": "10m", "alerts": ["pager", "bos"]},
                {"after": "10m", "alerts": "boss"},
                {"after": "5m", "alerts": "team"},
            ],
        },
        alerts=CHANNELS,
        defaults={
            "escalate": [{"after": "1h", "alerts": "pagr"}, {"after": "30m", "alerts": "ops"}]
        },
    )
    assert errors_of(text) == [
        'defaults.escalate[0].alerts[0]: no alert channel named "pagr", did you mean pager?',
        "defaults.escalate[1].after: 30m is not after the step before it (1h): "
        "list the steps in the order they happen",
        'monitors[0].escalate[0].alerts[1]: no alert channel named "bos", did you mean boss?',
        "monitors[0].escalate[1].after: 10m is not after the step before it (10m): "
        "list the steps in the order they happen",
        "monitors[0].escalate[2].after: 5m is not after the step before it (10m): "
        "list the steps in the order they happen",
        'monitors[0].escalate[2].alerts[0]: no alert channel named "team"; define it under alerts',
    ]


def test_escalation_errors_are_located_at_their_keys() -> None:
    """check-config's FILE:LINE:COLUMN points at the step's own key; the misspelt
    channel is reported beside the wrong value, not once it is mended."""
    text = (
        "alerts:\n"
        "  - {name: ops, type: webhook, url: 'http://127.0.0.1:9/h'}\n"
        "monitors:\n"
        "  - name: api\n"
        f"    url: {URL}\n"
        "    remind_every: 10s\n"
        "    escalate:\n"
        "      - after: 5m\n"
        "        alerts: [opz]\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="t.yaml")
    assert caught.value.located == [
        "t.yaml:6:5: monitors[0].remind_every: 10s is too short: the minimum is 1m",
        't.yaml:9:18: monitors[0].escalate[0].alerts[0]: no alert channel named "opz", '
        "did you mean ops?",
    ]
    with pytest.raises(ConfigError) as caught:
        parse_config(text.replace("10s", "10m"), source="t.yaml")
    assert caught.value.located == [
        't.yaml:9:18: monitors[0].escalate[0].alerts[0]: no alert channel named "opz", '
        "did you mean ops?"
    ]
