"""contrib/prometheus/tether-rules.yml passes ``promtool check rules``, its unit tests
(tether-rules.test.yml) pass ``promtool test rules`` and cover the main alerts, and each
alert carries what Alertmanager's receivers show: a severity, a summary, a description.

promtool is Debian's (the prometheus package .ci/run installs)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.helpers.contrib_files import RULE_TESTS, RULES, rules
from tests.helpers.prometheus_server import PROMTOOL, needs_promtool

pytestmark = needs_promtool
MAIN = {
    "TetherMonitorDown",
    "TetherManyMonitorsDown",
    "TetherErrorBudgetBurn",
    "TetherScrapeFailing",
    "TetherMonitorSeriesNotScraped",
    "TetherAgentSilent",
    "TetherAlertDeliveryFailing",
}
"""The alerts the unit tests must hold to their firing and their silence."""


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], capture_output=True, text=True, check=False, cwd=cwd, timeout=60
    )


def test_promtool_checks_the_rules() -> None:
    """`promtool check rules` finds every rule and no problem."""
    done = promtool("check", "rules", RULES.name, cwd=RULES.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


def test_promtool_unit_tests_pass_and_cover_the_main_alerts() -> None:
    """`promtool test rules` passes, and its tests name each main alert."""
    done = promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    tested = {
        case["alertname"]
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
    }
    assert tested >= MAIN, MAIN - tested


def test_the_unit_tests_fail_when_an_alert_is_wrong(tmp_path: Path) -> None:
    """The unit tests can fail: with TetherMonitorDown firing at once (its ``for``
    removed), the test that it waits its 5 minutes fails."""
    text = RULES.read_text()
    wrong = re.sub(r"(alert: TetherMonitorDown\n(?:.*\n)*?)        for: 5m\n", r"\1", text, count=1)
    assert wrong != text
    (tmp_path / RULES.name).write_text(wrong)
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    done = promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "TetherMonitorDown" in done.stdout + done.stderr


def test_every_alert_says_its_severity_and_what_it_means() -> None:
    """Each alert has a unique Tether* name, a severity of critical or warning, and a
    summary and a description; no rule is a recording rule."""
    found = rules()
    names = [r["alert"] for r in found]
    assert len(names) == len(set(names))
    for rule in found:
        assert re.fullmatch(r"Tether[A-Z][A-Za-z]+", rule["alert"]), rule
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["description"], rule["alert"]
