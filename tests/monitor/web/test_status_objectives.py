"""A status page's ``objectives:`` (web/status/_status_objectives.py): the page served by the
real server shows each listed objective's SLI and budget left over its window, as the
runner read them from a real SQLite store the test wrote through its API before it
started, and nothing of its monitors; a name that is no objective is refused with the
file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.config_text import errors_of
from tests.helpers.web_harness import EPOCH, ServedRunner
from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor.config import parse_config
from tether.monitor.store import SQLiteStore

CHECKS = 600
FAILED = 2


def settings() -> dict[str, Any]:
    return {
        "monitors": [
            {"name": "api", "url": "http://127.0.0.1:9/"},
            {"name": "internal-db-7", "url": "http://127.0.0.1:9/"},
        ],
        "objectives": [
            {"name": "checkout", "monitors": ["api", "internal-db-7"], "target": "99.5%"},
            {"name": "unlisted", "monitors": ["api"], "target": "99%"},
        ],
        "status_pages": [
            {
                "slug": "public",
                "title": "Shop",
                "groups": [{"name": "Core", "monitors": [{"monitor": "api", "name": "API"}]}],
                "objectives": ["checkout"],
            }
        ],
    }


class Page(ServedRunner):
    """The served runner after 600 checks of each monitor, two of the db's failed."""

    def __init__(self, tmp: Path) -> None:
        config = parse_config(yaml.safe_dump(settings()))
        store = SQLiteStore(tmp / "status.db")
        for i in range(CHECKS):
            at = EPOCH - CHECKS * 60 + i * 60
            store.record(ProbeRecord("api", at, True))
            failed = i < FAILED
            kind = Kind.CONNECT_REFUSED if failed else None
            store.record(ProbeRecord("internal-db-7", at, not failed, kind))
        store.flush()
        # The runner reads its objectives from the store at its start.
        super().__init__(config, store)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    p = Page(tmp_path_factory.mktemp("status-objectives"))
    yield p
    p.close()


def test_the_page_shows_the_objective_and_its_budget_left(page: Page) -> None:
    """The listed objective's SLI, target and budget left, as the checks give them; the
    one the page does not list is not there."""
    total = 2 * CHECKS
    left = 1 - FAILED / (0.005 * total)
    doc = page.json("/status/public.json")
    (shown,) = doc["objectives"]
    assert shown["name"] == "checkout"
    assert shown["sli"] == pytest.approx((total - FAILED) / total)
    assert shown["budget_left"] == pytest.approx(left, abs=1e-6)
    assert (shown["target"], shown["window"]) == (0.995, "30d")
    status, _, html = page.get_text("/status/public")
    assert status == 200
    assert 'data-objective="checkout"' in html
    assert f"{left * 100:.1f}%" in html
    assert "unlisted" not in html


@pytest.mark.parametrize("path", ["/status/public", "/status/public.json"])
def test_nothing_of_the_objectives_monitors_reaches_the_page(page: Page, path: str) -> None:
    """The objective's monitor that the page does not list is not named, nor its failure."""
    status, _, body = page.get_text(path)
    assert status == 200
    assert "internal-db-7" not in body
    assert "connect.refused" not in body
    if path.endswith(".json"):
        assert set(json.loads(body)["objectives"][0]) == {
            "name",
            "sli",
            "target",
            "window",
            "budget_left",
            "little_data",
            "too_few",
        }


def test_a_page_naming_no_objective_is_refused() -> None:
    """A page's objective that is not one of the file's: one message at its key path,
    with the near name."""
    data = settings()
    data["status_pages"][0]["objectives"] = ["chekout"]
    assert errors_of(yaml.safe_dump(data)) == [
        'status_pages[0].objectives[0]: no objective named "chekout", did you mean checkout?'
    ]
