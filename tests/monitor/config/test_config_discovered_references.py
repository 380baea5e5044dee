"""References to monitors checked against the file and what discovery may add (issue 44
section 4): an objective, inhibition rule, status page, maintenance window or parent
that finds no monitor of the file yet, but that a ``discover:`` template may still
satisfy, loads with one warning line; a name no template can make, or labels no template
can give, stays an error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tether.cli import main
from tether.monitor.config import ConfigError, config_warnings, parse_config

DISCOVER = """\
alerts:
  - {name: ops, type: webhook, url: "http://127.0.0.1:9000/hook"}
monitors:
  - {name: homepage, url: "http://127.0.0.1:8080/"}
discover:
  - name: web
    file_sd: {files: [targets.json]}
    template:
      name: "web-{{address}}"
      url: "tcp://{{address}}"
      labels: {team: pay, role: "{{labels.role}}"}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return caught.value.located


def test_an_objective_over_discovered_monitors_only_loads_with_a_warning() -> None:
    """An objective whose matchers select only monitors a template makes (``team=pay``)
    loads; the warning says which source may add them; on a file without ``discover:``
    the same objective is refused as it always was."""
    objective = "objectives:\n  - {name: pay, target: 99.9%, match: {team: pay}}\n"
    config = parse_config(DISCOVER + objective)
    assert config_warnings(config) == [
        "objectives[0].match: selects no monitor yet; discover: web may add one"
    ]
    without = DISCOVER[: DISCOVER.index("discover:")] + objective
    (line,) = problems(without)
    assert line.endswith("objectives[0].match: selects no monitor: check the labels and values")


def test_an_inhibition_rule_over_discovered_monitors_loads_with_a_warning() -> None:
    """A rule whose target side selects only discovered monitors (a group's ``role``)
    loads with a warning for that side; its source side selects the file's monitor."""
    config = parse_config(
        DISCOVER
        + "inhibit_rules:\n"
        + "  - {source_matchers: ['monitor=\"homepage\"'], target_matchers: ['role=\"db\"']}\n"
    )
    assert config_warnings(config) == [
        "inhibit_rules[0].target_matchers: selects no monitor yet; discover: web may add one"
    ]


def test_labels_no_template_can_give_stay_an_error() -> None:
    """``team="ops"``: the template writes ``team: pay``, so no discovered monitor can
    have it, and the objective is refused as selecting nothing."""
    found = problems(DISCOVER + "objectives:\n  - {name: ops, target: 99%, match: {team: ops}}\n")
    (line,) = found
    assert line.endswith("objectives[0].match: selects no monitor: check the labels and values")


def test_names_a_template_can_make_warn_and_others_are_errors() -> None:
    """A status page, a maintenance window, an objective and a parent may name
    ``web-127.0.0.7:80`` (``web-{{address}}`` can make it): warnings; ``db-1`` no
    template can make: an error at each place."""
    tail = """\
status_pages:
  - slug: public
    title: Public
    groups: [{name: Web, monitors: ["web-127.0.0.7:80", homepage]}]
maintenance:
  - name: upgrade
    monitors: ["web-127.0.0.7:80"]
    start: 2030-01-01T00:00:00
    end: 2030-01-01T01:00:00
objectives:
  - {name: web, target: 99%, monitors: ["web-127.0.0.7:80"]}
"""
    config = parse_config(DISCOVER + tail)
    warned = config_warnings(config)
    assert len(warned) == 3
    assert warned[0] == (
        'maintenance[0].monitors[0]: no monitor named "web-127.0.0.7:80" yet; discover: web '
        "may make it"
    )
    assert {w.split(":")[0] for w in warned} == {
        "maintenance[0].monitors[0]",
        "status_pages[0].groups[0].monitors[0].monitor",
        "objectives[0].monitors[0]",
    }
    found = problems(DISCOVER + tail.replace("web-127.0.0.7:80", "db-1"))
    assert len([line for line in found if 'no monitor named "db-1"' in line]) == 3
    parent = DISCOVER.replace(
        '{name: homepage, url: "http://127.0.0.1:8080/"}',
        '{name: homepage, url: "http://127.0.0.1:8080/", depends_on: ["web-10.0.0.1:80"]}',
    )
    assert config_warnings(parse_config(parent)) == [
        'monitors[0].depends_on[0]: no monitor named "web-10.0.0.1:80" yet; discover: web '
        "may make it"
    ]


def test_check_config_says_each_warning_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``tether check-config`` exits 0 on such a file and prints the warning as one line
    on standard error."""
    path = tmp_path / "tether.yaml"
    path.write_text(DISCOVER + "objectives:\n  - {name: pay, target: 99.9%, match: {team: pay}}\n")
    assert main(["check-config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert (
        err == "warning: objectives[0].match: selects no monitor yet; discover: web may add one\n"
    )
    sources = "1 discovery source (read as the monitor runs)"
    assert out == f"{path}: 1 monitor, 1 alert channel, {sources}, OK\n"


def test_check_config_counts_the_discovery_sources_apart_from_the_monitors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--json`` counts the file's sources in ``discovery_sources`` and, in ``monitors``,
    only the monitors written in it (those a source makes are found as the monitor runs)."""
    path = tmp_path / "tether.yaml"
    path.write_text(DISCOVER)
    assert main(["check-config", "--json", str(path)]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert (verdict["monitors"], verdict["discovery_sources"]) == (1, 1)
