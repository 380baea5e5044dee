"""YAML text for the configuration tests, and the errors it loads to."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tether.monitor.config import ConfigError, parse_config

URL = "http://127.0.0.1:8080/health"


def dump(*monitors: dict[str, Any], **sections: Any) -> str:
    """YAML for ``sections`` plus ``monitors`` (one plain HTTP monitor when none is given)."""
    doc = {**sections, "monitors": list(monitors) or [{"name": "api", "url": URL}]}
    return yaml.safe_dump(doc, sort_keys=False)


def errors_of(text: str, **kwargs: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, **kwargs)
    return caught.value.errors


def monitor_errors(**fields: Any) -> list[str]:
    return errors_of(dump({"name": "api", "url": URL, **fields}))


def accept_any(text: str) -> None:
    """A condition validator that accepts everything."""


CHANNELS = [
    {"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9/ops"},
    {"name": "pager", "type": "webhook", "url": "http://127.0.0.1:9/pager"},
    {"name": "boss", "type": "webhook", "url": "http://127.0.0.1:9/boss"},
]
