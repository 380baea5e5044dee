"""Labels on the dashboard and in the API: ``/api/status``' rows and ``/api/monitors/NAME``
carry each monitor's labels, and ``?match=`` (Alertmanager's matchers over the labels and
``monitor``, the name) keeps the rows of the monitors it matches, on the page and in the
API; a matcher that cannot be read is said on the page (400) and as a JSON error (400).
Over HTTP and in Debian's headless Chromium, against a real Runner served on loopback
(tests/helpers/web_harness.py); a reload's labels are filtered on at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from markupsafe import escape

from tests.helpers.web_harness import ServedRunner, Tab
from tether.monitor.config import parse_config
from tether.monitor.store import SQLiteStore

HOSTILE = '<script>alert("x")</script>\\\n"'
LABELS: dict[str, dict[str, str]] = {
    "pay-api": {"team": "payments", "tier": "1"},
    "pay-db": {"team": "payments", "tier": "2"},
    "web": {"team": "web", "note": HOSTILE},
    "batch": {},
}


def config(labels: dict[str, dict[str, str]]) -> Any:
    monitors = [
        {"name": name, "url": "http://127.0.0.1:9/", "labels": mine}
        for name, mine in labels.items()
    ]
    return parse_config(yaml.safe_dump({"defaults": {"labels": {}}, "monitors": monitors}))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedRunner]:
    s = ServedRunner(config(LABELS), SQLiteStore(tmp_path / "labels.db"))
    yield s
    s.close()


def rows(served: ServedRunner, match: str) -> list[str]:
    doc = served.json(f"/api/status?match={quote(match)}")
    assert doc["view"]["match"] == match.strip()
    assert doc["view"]["matching"] == len(doc["rows"])
    return [r["name"] for r in doc["rows"]]


def test_the_rows_and_a_monitors_document_carry_its_labels(served: ServedRunner) -> None:
    """Each row has its monitor's labels as configured, a hostile value as it was; a
    monitor without labels has an empty map."""
    doc = served.json("/api/status")
    assert {r["name"]: r["labels"] for r in doc["rows"]} == LABELS
    assert served.json("/api/monitors/web")["labels"] == {"team": "web", "note": HOSTILE}


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        ('team="payments"', ["pay-api", "pay-db"]),
        ('{team="payments", tier!="1"}', ["pay-db"]),
        ('team=~"pay.*|web"', ["pay-api", "pay-db", "web"]),
        ('team=""', ["batch"]),  # a label not there reads as ""
        ('monitor=~"pay-.*", tier="1"', ["pay-api"]),  # the name is the label monitor
        ("team=nobody", []),
    ],
)
def test_match_keeps_the_rows_of_the_monitors_it_matches(
    served: ServedRunner, match: str, expected: list[str]
) -> None:
    """``/api/status?match=`` keeps the rows Alertmanager's matchers select, and the
    states map and the summary's counts are of those monitors alone."""
    assert rows(served, match) == expected
    doc = served.json(f"/api/status?match={quote(match)}")
    assert sorted(doc["monitors"]) == sorted(expected)
    assert sum(doc["summary"].values()) == len(expected)


def test_a_bad_matcher_is_a_json_error_in_the_api(served: ServedRunner) -> None:
    """``/api/status`` answers 400 with one JSON error saying what is wrong."""
    status, headers, body = served.get_text(f"/api/status?match={quote('team=~(')}")
    assert status == 400
    assert headers["Content-Type"].startswith("application/json")
    assert body.startswith('{"error":"match: team=~\\"(\\": not a regular expression RE2')


def test_a_bad_matcher_is_said_on_the_page_escaped(served: ServedRunner) -> None:
    """The page answers 400, shows every monitor, keeps what was typed in the form and
    says why beside it, the typed text escaped (never markup)."""
    typed = '<b>x</b>="'
    status, _, page = served.get_text(f"/?match={quote(typed)}")
    assert status == 400
    assert 'id="filter-problem"' in page
    assert 'value="&lt;b&gt;x&lt;/b&gt;=&#34;"' in page
    assert "<b>x</b>" not in page
    for name in LABELS:
        assert f'data-monitor="{name}"' in page


def test_a_good_matcher_filters_the_page_and_is_shown_escaped(served: ServedRunner) -> None:
    """The page lists the matched monitors and says the matchers, escaped."""
    match = 'note=~".*<script>.*"'
    status, _, page = served.get_text(f"/?match={quote(match)}")
    assert status == 200
    assert 'data-monitor="web"' in page
    assert 'data-monitor="pay-api"' not in page
    assert f"with labels <code>{escape(match)}</code>" in page
    assert "<script>" not in page.split("<main", 1)[1].split("</main>")[0]


def test_a_monitors_page_lists_its_labels_escaped(served: ServedRunner) -> None:
    """The monitor's page says each label as ``name=value``, a hostile value as text
    (escaped, never markup); a monitor without labels has no Labels line."""
    status, _, page = served.get_text("/monitors/web")
    assert status == 200
    assert f"<li><code>note={escape(HOSTILE)}</code></li>" in page
    assert "<li><code>team=web</code></li>" in page
    assert "<script>" not in page.split("<main", 1)[1]
    assert 'id="labels"' not in served.get_text("/monitors/batch")[2]


def test_a_reload_changes_what_the_filter_keeps(served: ServedRunner) -> None:
    """Labels changed by a reload are matched on at the next request."""
    assert rows(served, 'team="payments"') == ["pay-api", "pay-db"]
    moved = {**LABELS, "pay-db": {"team": "storage"}}
    served.on_loop(served.runner.reload, config(moved))
    assert rows(served, 'team="payments"') == ["pay-api"]
    assert served.json("/api/monitors/pay-db")["labels"] == {"team": "storage"}


# -- in Chromium ---------------------------------------------------------------------------


@pytest.fixture
def tab(browser: Any, served: ServedRunner) -> Iterator[Tab]:
    with Tab(browser, served.base) as t:
        yield t


def shown(page: Any) -> list[str]:
    names: list[str] = page.evaluate(
        "[...document.querySelectorAll('tr[data-monitor]')].map(r => r.dataset.monitor)"
    )
    return names


def test_chromium_filters_by_labels_with_the_form(tab: Tab, served: ServedRunner) -> None:
    """Typing matchers in the form's Labels field and sending it shows the monitors they
    match, the text kept in the field; a bad one is said beside the form."""
    page = tab.open("/")
    page.locator("#filter-match").fill('team="payments", tier="2"')
    page.locator("#filter button").click()
    page.wait_for_url(lambda url: "match=team" in url)
    assert shown(page) == ["pay-db"]
    assert page.locator("#filter-match").input_value() == 'team="payments", tier="2"'
    assert "with labels" in page.locator("#pager").inner_text()
    tab.assert_clean()
    page.locator("#filter-match").fill("team=~(")
    page.locator("#filter button").click()
    page.wait_for_url(lambda url: url.endswith("match=team%3D%7E%28"))
    problem = page.locator("#filter-problem").inner_text()
    assert problem.startswith('match: team=~"(": not a regular expression RE2 can run')
    assert shown(page) == list(LABELS)
    # The page's 400 is the one thing its console says.
    assert [e for e in tab.errors if "400" not in e] == []
    assert page.evaluate("window.__pwned") is None


def test_an_expression_that_would_backtrack_is_decided_at_once(tmp_path: Path) -> None:
    """``(a*)*b`` against a value of forty ``a`` would hold Python's ``re`` for hours: on
    RE2 the page and the API decide it at once (nothing matches), and ``a+`` still does."""
    s = ServedRunner(config({"slow": {"note": "a" * 40}}), SQLiteStore(tmp_path / "re.db"))
    slow = quote('note=~"(a*)*b"')
    try:
        assert s.json(f"/api/status?match={slow}")["rows"] == []
        status, _, page = s.get_text(f"/?match={slow}")
        assert (status, 'id="filter-problem"' in page) == (200, False)
        assert [r["name"] for r in s.json("/api/status?match=note%3D~%22a%2B%22")["rows"]] == [
            "slow"
        ]
    finally:
        s.close()
