"""A monitor named like an attack, ``<script>alert(1)</script>"'&``, shows as text on
every page that names it: the dashboard, the monitor's page, the incidents page and a
public status page (the templates' autoescape, ``monitor/web/_html.py``), in the text and
in the attributes alike, and makes no element of its own."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from tests.helpers.web_harness import ServedRunner
from tether.lab import Lab
from tether.monitor.config import parse_config
from tether.monitor.store import SQLiteStore
from tether.monitor.web._routing import monitor_path

HOSTILE = "<script>alert(1)</script>\"'&"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&amp;"
PAGES = ("/", monitor_path(HOSTILE), "/incidents", "/status/s")


class Seen(HTMLParser):
    """The elements of a page, and its text and attribute values as a browser reads them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def served(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedRunner]:
    """One monitor by that name, down (an incident names it), on a status page whose
    title and group are that name too."""
    monitor = {"name": HOSTILE, "url": lab["refused"].url, "interval": "30s", "timeout": "2s"}
    page = {"slug": "s", "title": HOSTILE, "groups": [{"name": HOSTILE, "monitors": [HOSTILE]}]}
    config = parse_config(yaml.safe_dump({"monitors": [monitor], "status_pages": [page]}))
    path: Path = tmp_path_factory.mktemp("escaped") / "escaped.db"
    s = ServedRunner(config, SQLiteStore(path))
    for _ in range(3):
        s.check(HOSTILE)
        s.now += 60
    yield s
    s.close()


@pytest.mark.parametrize("path", PAGES)
def test_the_name_is_text_on_every_page(served: ServedRunner, path: str) -> None:
    """The name reaches the page escaped only, reads back whole as text, and every script
    element is one of the page's own files (the status page has none)."""
    status, _, page = served.get_text(path)
    assert status == 200
    assert HOSTILE not in page
    assert "<script>alert" not in page
    assert ESCAPED in page
    seen = Seen()
    seen.feed(page)
    assert HOSTILE in "".join(seen.text)
    scripts = [attrs for tag, attrs in seen.tags if tag == "script"]
    assert all((a.get("src") or "").startswith("/static/") for a in scripts)
    if path == "/status/s":
        assert not scripts


def test_the_name_is_whole_in_the_attributes_that_carry_it(served: ServedRunner) -> None:
    """The dashboard's row and the monitor's link hold the name (and its path) whole: its
    quotes end no attribute."""
    seen = Seen()
    seen.feed(served.get_text("/")[2])
    rows = [a for tag, a in seen.tags if tag == "tr" and "data-monitor" in a]
    assert [a["data-monitor"] for a in rows] == [HOSTILE]
    assert ("a", {"href": monitor_path(HOSTILE)}) in seen.tags
    status = Seen()
    status.feed(served.get_text("/status/s")[2])
    assert [a["data-name"] for tag, a in status.tags if tag == "li"] == [HOSTILE]
