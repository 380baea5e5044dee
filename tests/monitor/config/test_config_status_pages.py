"""The ``status_pages`` section: what loads, and every mistake named by its key path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tether.monitor.config import ConfigError, parse_config

MONITORS = """\
monitors:
  - {name: api, url: 'http://127.0.0.1:8080/'}
  - {name: web, url: 'http://127.0.0.1:8081/'}
"""


def refusal(section: str) -> ConfigError:
    with pytest.raises(ConfigError) as refused:
        parse_config(MONITORS + section, source="tether.yaml")
    return refused.value


def errors(section: str) -> list[str]:
    return refusal(section).errors


def test_a_page_loads_with_names_display_names_and_defaults() -> None:
    """A group lists monitors by name or as {monitor, name}; the page's opt-ins default to
    off and incidents go back 14 days."""
    config = parse_config(
        MONITORS
        + """\
status_pages:
  - slug: public
    title: Example status
    groups:
      - name: Core
        monitors: [api, {monitor: web, name: Website}]
    announcements:
      - text: Maintenance tonight
        level: warning
        start: 2027-01-01T20:00:00
        end: 2027-01-01T22:00:00Z
    notes:
      - {incident: 3, text: A bad deploy; rolled back.}
      - {monitor: web, start: 2027-01-01T20:00:00Z, text: Our CDN had trouble.}
"""
    )
    (page,) = config.status_pages
    assert config.status_page("public") is page
    assert config.status_page("nope") is None
    assert [(e.monitor, e.shown) for e in page.entries()] == [("api", "api"), ("web", "Website")]
    assert (page.show_urls, page.show_kinds, page.show_latency) == (False, False, False)
    assert page.incident_days == 14
    # A time written without an offset is UTC: the announcement starts at 20:00 UTC.
    assert page.announcements[0].shown_at(1798833600.0)  # 2027-01-01T20:00:00Z
    assert not page.announcements[0].shown_at(1798833599.0)
    assert not page.announcements[0].shown_at(1798840800.0)  # its end, excluded


def test_a_file_without_status_pages_has_none_and_an_empty_section_is_none() -> None:
    """status_pages is optional, and `status_pages:` with nothing under it means none."""
    assert parse_config(MONITORS).status_pages == ()
    assert parse_config(MONITORS + "status_pages:\n").status_pages == ()


@pytest.mark.parametrize(
    ("section", "said"),
    [
        (
            "status_pages:\n  - {slug: public, title: T, groups: [{name: G, monitors: [apj]}]}\n",
            "status_pages[0].groups[0].monitors[0].monitor: no monitor named "
            '"apj", did you mean api?',
        ),
        (
            "status_pages:\n  - slug: public\n    title: T\n    groups:\n      - name: G\n"
            "        monitors: [{monitor: nothere, name: X}]\n",
            "status_pages[0].groups[0].monitors[0].monitor: no monitor named "
            '"nothere"; define it under monitors',
        ),
        (
            "status_pages:\n  - {slug: 'a b', title: T, groups: [{name: G, monitors: [api]}]}\n",
            'status_pages[0].slug: "a b" is not a slug: write letters, digits, '
            "- and _ (64 at most, starting and ending with a letter or digit), as in public or "
            "status-2",
        ),
        (
            "status_pages:\n  - {slug: p, title: T, groups: [{name: G, monitors: [api]}]}\n"
            "  - {slug: p, title: U, groups: [{name: G, monitors: [web]}]}\n",
            'status_pages[1].slug: "p" is already the slug of status_pages[0]; '
            "each status page needs its own",
        ),
        (
            "status_pages:\n  - {slug: p, title: T, groups: []}\n",
            "status_pages[0].groups: is empty: list at least one group, each a "
            "name and its monitors",
        ),
        (
            "status_pages:\n  - {slug: p, title: T, groups: [{name: G, monitors: [api, web]}, "
            "{name: H, monitors: [api]}]}\n",
            'status_pages[0].groups[1].monitors[0].monitor: "api" is already on '
            "this page (at status_pages[0].groups[0].monitors[0])",
        ),
        (
            "status_pages:\n  - {slug: p, title: T, groups: [{name: G, monitors: [api]}],"
            " show_kinds: yes please}\n",
            'status_pages[0].show_kinds: "yes please" is not true or false',
        ),
        (
            "status_pages:\n  - {slug: p, title: T, groups: [{name: G, monitors: [api]}],"
            " announcements: [{text: x, level: red}]}\n",
            'status_pages[0].announcements[0].level: "red" is not one of info, warning, outage',
        ),
        (
            "status_pages:\n  - {slug: p, title: T, groups: [{name: G, monitors: [api]}],"
            " notes: [{monitor: web, start: 2027-01-01T00:00:00Z, text: x}]}\n",
            'status_pages[0].notes[0].monitor: "web" is not on this page; a '
            "note is of a monitor on this page",
        ),
        (
            "status_pages:\n  - {slug: p, title: T, groups: [{name: G, monitors: [api]}],"
            " notes: [{monitor: api, text: x}]}\n",
            "status_pages[0].notes[0].start: is required with monitor: when the trouble began",
        ),
        (
            "status_pages:\n  - {slug: p, title: T, groups: [{name: G, monitors: [api]}],"
            " notes: [{text: x}]}\n",
            "status_pages[0].notes[0]: say what the note is about: incident: "
            "ID, or monitor: NAME and start",
        ),
        (
            "status_pages:\n  - {slug: p, title: T, groups: [{name: G, monitors: [api]}],"
            " notes: [{incident: 2, monitor: api, text: x}]}\n",
            "status_pages[0].notes[0].monitor: a note is of an incident or of "
            "a monitor's time, not both",
        ),
        (
            "status_pages:\n  - {slug: p, title: T, groups: [{name: G, monitors: [api]}],"
            " announcements: [{text: x, start: 2027-01-02T00:00:00Z, end: 2027-01-01T00:00:00}]}\n",
            "status_pages[0].announcements[0].end: 2027-01-01T00:00:00+00:00 "
            "is not after start (2027-01-02T00:00:00+00:00)",
        ),
        (
            "status_pages:\n  - {slug: p, title: '  ', groups: [{name: G, monitors: [api]}]}\n",
            "status_pages[0].title: is empty: write some text",
        ),
        (
            "status_pages:\n  - {slug: p, title: T, groups: [{name: G, monitors: [api]}],"
            " incident_days: 91}\n",
            "status_pages[0].incident_days: 91 is too large: the maximum is 90",
        ),
    ],
)
def test_each_mistake_is_one_line_that_names_its_key_path(section: str, said: str) -> None:
    """A wrong slug, a monitor that does not exist or is listed twice, a note about nothing,
    times out of order: one located line each, with the key path."""
    assert errors(section) == [said]


def test_several_mistakes_are_reported_at_once_in_file_order() -> None:
    """Two pages' problems come together, in the order they are written."""
    found = errors(
        "status_pages:\n"
        "  - {slug: p, title: T, groups: [{name: G, monitors: [apx]}]}\n"
        "  - {slug: q, title: T, groups: [{name: G, monitors: [{monitor: wbe}]}]}\n"
    )
    assert [line.split(": ", 1)[0] for line in found] == [
        "status_pages[0].groups[0].monitors[0].monitor",
        "status_pages[1].groups[0].monitors[0].monitor",
    ]


def test_an_unknown_monitor_is_located_at_its_entry() -> None:
    """check-config's FILE:LINE:COLUMN points at the unknown monitor: at the entry written
    as a name, at its `monitor:` key in {monitor: NAME}."""
    section = (
        "status_pages:\n"  # line 4
        "  - slug: p\n"
        "    title: T\n"
        "    groups:\n"
        "      - name: G\n"
        "        monitors:\n"  # line 9
        "          - api\n"
        "          - apx\n"  # line 11
        "          - {monitor: wbe, name: W}\n"  # line 12
    )
    located = refusal(section).located
    assert [line.split(": ", 1)[0] for line in located] == [
        "tether.yaml:11:13",
        "tether.yaml:12:14",
    ]


def test_the_example_in_status_pages_md_loads_and_its_error_is_what_check_config_says() -> None:
    """docs/status-pages.md's configuration is valid, and the misspelt monitor its text
    shows gives the line it shows."""
    doc = (Path(__file__).parents[3] / "docs/status-pages.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    config = parse_config(example)
    (page,) = config.status_pages
    assert [(e.monitor, e.shown) for e in page.entries()] == [
        ("checkout-eu-1", "Checkout"),
        ("api-gateway", "API"),
        ("www", "www"),
    ]
    assert [n.incident for n in page.notes] == [42, None]
    said = re.search(r"`(status_pages\[0\]\.groups\[0\]\.monitors\[1\][^`]+)`", doc)
    assert said is not None
    with pytest.raises(ConfigError) as refused:
        parse_config(example.replace("{monitor: api-gateway", "{monitor: api-gatewey"))
    assert refused.value.errors == [said.group(1)]
