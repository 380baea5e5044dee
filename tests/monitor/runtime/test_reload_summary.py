"""What a reload says it changed (issue 72 §7, issue 73 item 10): every section that
changed is named in the one ``reloaded`` line, so a reload whose change took effect never
says "no change" (one that changed only a status page's ``webhook_networks`` did)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.monitor_harness import Harness
from tether.monitor.config import MonitorConfig, parse_config

PAGE: dict[str, Any] = {
    "slug": "s",
    "title": "Shop",
    "groups": [{"name": "All", "monitors": ["web"]}],
    "subscribe": {"url": "https://status.example.com", "webhook": True},
}
WINDOW: dict[str, Any] = {
    "name": "upgrade",
    "monitors": ["web"],
    "start": "2027-01-15T08:00:00Z",
    "end": "2027-01-15T09:00:00Z",
}
SOURCE: dict[str, Any] = {
    "name": "nodes",
    "file_sd": {"files": ["nodes.json"]},
    "template": {"url": "http://{{address}}/health"},
}


def _config(**sections: Any) -> MonitorConfig:
    monitor = {"name": "web", "url": "http://127.0.0.1:9/", "interval": "1h"}
    return parse_config(yaml.safe_dump({"monitors": [monitor], **sections}))


@pytest.mark.parametrize(
    ("before", "after", "said"),
    [
        (
            {"status_pages": [PAGE]},
            {
                "status_pages": [
                    {
                        **PAGE,
                        "subscribe": {**PAGE["subscribe"], "webhook_networks": ["127.0.0.0/8"]},
                    }
                ]
            },
            "status_pages changed",
        ),
        (
            {"status_pages": [PAGE]},
            {"status_pages": [{**PAGE, "title": "Shop!"}]},
            "status_pages changed",
        ),
        ({}, {"maintenance": [WINDOW]}, "maintenance changed"),
        ({}, {"discover": [SOURCE]}, "discover changed"),
    ],
    ids=["webhook_networks", "status_pages", "maintenance", "discover"],
)
def test_a_reload_names_each_section_it_changed(
    tmp_path: Path, before: dict[str, Any], after: dict[str, Any], said: str
) -> None:
    """A reload that changes only this section says so (it said "no change")."""
    h = Harness(tmp_path, _config(**before))
    try:
        assert said in h.runner.reload(_config(**after))
        assert h.runner.reload(_config(**after)) == []  # the same again: nothing
    finally:
        h.close()
