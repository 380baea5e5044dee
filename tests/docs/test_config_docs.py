"""The configuration examples in docs/monitor-config.md and docs/monitor.md load."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tether.monitor.config import ConfigError, parse_config


def test_the_documented_example_is_valid() -> None:
    """The complete example in docs/monitor-config.md loads, every condition included."""
    doc = (Path(__file__).parents[2] / "docs/monitor-config.md").read_text()
    example = doc.split("## A complete example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    env = dict.fromkeys(
        (
            "WEBHOOK_SECRET",
            "SLACK_TOKEN_A",
            "SLACK_TOKEN_B",
            "SLACK_TOKEN_C",
            "SMTP_PASSWORD",
            "API_TOKEN",
        ),
        "x",
    )
    config = parse_config(example, env=env)
    assert [m.name for m in config.monitors] == ["api", "login", "db", "www-cert", "mx", "legacy"]
    assert [c.name for c in config.alerts] == ["ops", "chat", "mail"]
    assert config.monitor("login").headers["User-Agent"] == "tether-monitor"


def test_every_configuration_snippet_in_monitor_md_is_valid() -> None:
    """Each YAML snippet of tether.yaml in docs/monitor.md validates (with one monitor added
    where the snippet shows only a section); Prometheus's and Alertmanager's own YAML
    (scrape configurations, rules, alertmanager.yml) is left out."""
    doc = (Path(__file__).parents[2] / "docs/monitor.md").read_text()
    snippets = re.findall(r"```yaml\n(.*?)```", doc, re.S)
    # Prometheus's scrape configurations and rule files, and Alertmanager's configuration
    # (tests/docs/test_alertmanager_docs.py checks it), are their own YAML.
    ours = [
        s for s in snippets if "scrape_configs" not in s and not s.startswith(("groups:", "route:"))
    ]
    assert len(ours) >= 4
    for snippet in ours:
        text = snippet
        if not re.search(r"^monitors:", text, re.M):
            text += "monitors:\n  - {name: api, url: 'http://127.0.0.1:8080/'}\n"
        env = dict.fromkeys(re.findall(r"\$\{(\w+)", text), "x")
        config = parse_config(text, env=env)
        assert config.monitors


def test_the_deployment_example_is_valid_and_its_table_says_what_check_config_says() -> None:
    """docs/deployment.md's configuration loads, and the `cluster.lease` row's failing
    example gives the error its table shows."""
    doc = (Path(__file__).parents[2] / "docs/deployment.md").read_text()
    (snippet,) = re.findall(r"```yaml\n(.*?)```", doc, re.S)
    env = dict.fromkeys(re.findall(r"\$\{(\w+)", snippet), "x")
    config = parse_config(snippet, env=env)
    assert config.cluster.lease == 8.0
    assert config.locations == ("eu-west", "us-east")
    row = next(line for line in doc.splitlines() if line.startswith("| `cluster.lease`"))
    wrong, said = re.search(r"`lease: (\S+)` → `([^`]+)`", row).groups()  # type: ignore[union-attr]
    assert "lease: 8s" in snippet
    with pytest.raises(ConfigError) as refused:
        parse_config(snippet.replace("lease: 8s", f"lease: {wrong}"), env=env)
    assert str(refused.value) == said
