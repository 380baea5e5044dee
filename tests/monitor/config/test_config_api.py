"""``tether.monitor.config``'s public face: a sorted ``__all__`` of exactly what it exports,
and no name shared with the delivery channels of ``tether.monitor.alerts``."""

from __future__ import annotations

import types

import tether.monitor.alerts
from tether.monitor import config


def _isort(name: str) -> tuple[int, str]:
    # As ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions.
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_lists_exactly_the_public_names() -> None:
    """__all__ is sorted, and every public name of the package is in it and nothing else."""
    assert config.__all__ == sorted(config.__all__, key=_isort)
    public = {
        name
        for name, value in vars(config).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(config.__all__) == public


def test_what_the_cli_runner_store_and_docs_import_is_public() -> None:
    """The names importers use are on the face, so none of them reaches a private module."""
    assert {
        "ConfigError",
        "Escalation",
        "Monitor",
        "MonitorConfig",
        "Storage",
        "WebhookChannelConfig",
        "AppriseChannelConfig",
        "EmailChannelConfig",
        "default_timeout",
        "load_config",
        "parse_config",
        "LocationError",
        "resolve_location",
    } <= set(config.__all__)


def test_config_and_delivery_channels_do_not_share_names() -> None:
    """A configured channel (WebhookChannelConfig) is never confused with the one that
    delivers (WebhookChannel)."""
    assert not set(config.__all__) & set(tether.monitor.alerts.__all__)
