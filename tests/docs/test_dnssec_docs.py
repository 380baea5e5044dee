"""docs/monitor-config.md's ``dns.dnssec`` and ``dns.trust_anchor`` rows: each failing
example gives the error its row shows; monitor.md's DNSSEC snippet loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tether.monitor.config import ConfigError, parse_config

DOCS = Path(__file__).parents[2] / "docs"


@pytest.mark.parametrize("key", ["dnssec", "trust_anchor"])
def test_each_dnssec_row_says_what_check_config_says(key: str) -> None:
    """The row's failing example, on a dns:// monitor, is refused with its error."""
    doc = (DOCS / "monitor-config.md").read_text()
    row = next(line for line in doc.splitlines() if line.startswith(f"| `{key}` |"))
    wrong, said = re.search(r"`([^`]+)` → `([^`]+)`", row).groups()  # type: ignore[union-attr]
    options = "{dnssec: true, " + wrong + "}"  # both rows' examples are with dnssec: true
    with pytest.raises(ConfigError) as refused:
        parse_config(f"monitors:\n  - {{name: n, url: 'dns://corp.test', dns: {options}}}\n")
    assert str(refused.value) == said


def test_the_dnssec_snippet_loads() -> None:
    """monitor.md's DNSSEC example is a valid configuration."""
    doc = (DOCS / "monitor.md").read_text()
    section = doc.split("### DNSSEC\n", 1)[1]
    (snippet,) = re.findall(r"```yaml\n(.*?)```", section.split("\n## ", 1)[0], re.S)
    (monitor,) = parse_config(snippet).monitors
    assert monitor.dns is not None
    assert monitor.dns.dnssec
