"""``storage``'s retentions (issue 44 §7): each a duration of an hour or more, the
incidents' following the roll-ups' unless given, never shorter than an objective's
window, and each reaching the store that prunes by it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.config_text import CHANNELS, URL, dump, errors_of
from tether.monitor.config import Storage, parse_config
from tether.monitor.store import open_store

KEYS = ("alert_retention", "silence_retention", "incident_retention", "audit_retention")


@pytest.mark.parametrize("key", KEYS)
def test_a_retention_under_an_hour_is_refused_by_its_key(key: str) -> None:
    """Ten minutes would prune what a restart reads back: the key is named, with the
    minimum."""
    assert errors_of(dump(storage={key: "10m"})) == [
        f"storage.{key}: 10m is too short: the minimum is 1h"
    ]


@pytest.mark.parametrize("key", KEYS)
def test_a_retention_that_is_no_duration_names_its_key(key: str) -> None:
    """A bare number is not read as seconds: the key is named, with how to write it."""
    assert errors_of(dump(storage={key: 30})) == [f"storage.{key}: 30 is not a duration, write 30s"]


def test_the_incidents_retention_follows_the_rollups_unless_given() -> None:
    """Left out, resolved incidents are kept as long as the roll-ups shown beside them."""
    follows = parse_config(dump(storage={"rollup_retention": "730d"})).storage
    assert follows.incident_retention is None
    assert follows.incidents_kept == 730 * 86400
    given = parse_config(dump(storage={"incident_retention": "90d"})).storage
    assert given.incidents_kept == 90 * 86400


def objective(window: str) -> dict[str, Any]:
    return {"name": "checkout", "monitors": ["api"], "target": "99.9%", "window": window}


def test_an_incident_retention_shorter_than_an_objectives_window_is_refused() -> None:
    """An objective's report reads incidents and windows over its whole window back: a
    shorter retention is refused at load, naming both."""
    text = dump(
        {"name": "api", "url": URL},
        alerts=CHANNELS,
        storage={"incident_retention": "14d"},
        objectives=[objective("7d"), objective("30d") | {"name": "monthly"}],
    )
    assert errors_of(text) == [
        "storage.incident_retention: 14d keeps resolved incidents and maintenance windows "
        "for less than objectives[1].window (30d), whose reports read them back over the "
        "whole window: keep them at least as long"
    ]
    kept = text.replace("14d", "30d")
    assert parse_config(kept).storage.incidents_kept == 30 * 86400


def test_the_store_opened_from_the_file_keeps_what_it_says(tmp_path: Path) -> None:
    """Each key reaches the store's retention, in seconds."""
    storage = {
        "path": str(tmp_path / "t.db"),
        "raw_retention": "3d",
        "rollup_retention": "400d",
        "alert_retention": "5d",
        "silence_retention": "120h",
        "audit_retention": "730d",
    }
    config = parse_config(dump(storage=storage))
    with open_store(config.storage) as store:
        kept = store.retention
    day = 86400
    assert (kept.raw, kept.rollups, kept.alerts, kept.silences, kept.incidents, kept.audit) == (
        3 * day,
        400 * day,
        5 * day,
        5 * day,
        400 * day,
        730 * day,
    )


DOC = Path(__file__).parents[3] / "docs/monitor-config.md"


def retention_rows() -> list[str]:
    return [
        line for line in DOC.read_text().splitlines() if re.match(r"\| `\w+_retention` \|", line)
    ]


def test_the_docs_table_has_a_row_for_every_retention_key() -> None:
    """docs/monitor-config.md's storage table names every ``*_retention`` key the model
    has, and no other."""
    documented = {re.match(r"\| `(\w+)`", row)[1] for row in retention_rows()}  # type: ignore[index]
    assert documented == {k for k in Storage.model_fields if k.endswith("_retention")}


@pytest.mark.parametrize("row", retention_rows(), ids=lambda row: row.split("`")[1])
def test_each_retention_row_passes_and_fails_as_the_docs_say(row: str) -> None:
    """A row's passing example loads and its failing one gives the error the row shows."""
    key = row.split("`")[1]
    passes = re.search(rf"`{key}: ([^`]+)` \|", row)
    fails = re.search(rf"`{key}: ([^`]+)` → `([^`]+)`", row)
    assert passes is not None
    assert fails is not None
    parse_config(f"storage:\n  {key}: {passes[1]}\n" + MONITOR)
    assert errors_of(f"storage:\n  {key}: {fails[1]}\n" + MONITOR) == [fails[2]]


MONITOR = f"monitors:\n  - {{name: api, url: '{URL}'}}\n"
