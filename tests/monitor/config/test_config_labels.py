"""``labels:`` on monitors of every type and on ``defaults``: a monitor's labels are the
defaults' updated by its own, and a bad label says why at its key path."""

from __future__ import annotations

from tests.helpers.config_text import URL, dump, errors_of
from tether.monitor.config import parse_config

PUSH = {"name": "nightly", "type": "push", "token": "0123456789abcdef0123"}
TRAFFIC = {"name": "shop-calls", "type": "traffic", "app": "shop"}


def test_every_monitor_type_takes_labels_merged_over_the_defaults() -> None:
    """Probe, push and traffic monitors take the defaults' labels; a monitor's own value
    wins per name and its other names are added; one without its own gets the defaults'."""
    config = parse_config(
        dump(
            {"name": "api", "url": URL, "labels": {"tier": "2", "owner": "ana"}},
            {**PUSH, "labels": {"team": "batch"}},
            TRAFFIC,
            defaults={"labels": {"team": "payments", "tier": "1"}},
        )
    )
    assert [m.labels for m in config.monitors] == [
        {"team": "payments", "tier": "2", "owner": "ana"},
        {"team": "batch", "tier": "1"},
        {"team": "payments", "tier": "1"},
    ]


def test_labels_left_out_are_none() -> None:
    config = parse_config(dump())
    assert config.monitors[0].labels == {}
    assert config.defaults.labels == {}


def test_bad_labels_say_why_at_their_key_path() -> None:
    """A reserved name, a name Prometheus refuses, and a number not quoted: one line each,
    naming the key."""
    assert errors_of(dump({"name": "api", "url": URL, "labels": {"monitor": "x"}})) == [
        'monitors[0].labels: "monitor" is tether\'s own label on every alert and series: '
        "choose another"
    ]
    assert errors_of(dump(defaults={"labels": {"1tier": "x"}})) == [
        'defaults.labels: "1tier" is not a label name: begin with a letter or _, then '
        "letters, digits and _ (as Prometheus's)"
    ]
    assert errors_of(dump({**TRAFFIC, "labels": {"tier": 1}})) == [
        'monitors[0].labels: tier: 1 is not text: write it in quotes, as in tier: "1"'
    ]
