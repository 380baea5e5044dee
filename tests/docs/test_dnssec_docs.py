"""docs/monitor-config.md's ``dns.dnssec``, ``dns.trust_anchor`` and ``rdap`` rows: each failing
example gives the error its row shows; monitor.md's DNSSEC and Domain expiry snippets load."""

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
    section = doc.split("### DNSSEC\n", 1)[1].split("\n### ", 1)[0]
    (snippet,) = re.findall(r"```yaml\n(.*?)```", section, re.S)
    (monitor,) = parse_config(snippet).monitors
    assert monitor.dns is not None
    assert monitor.dns.dnssec


@pytest.mark.parametrize("key", ["domain", "bootstrap", "refresh", "cache"])
def test_each_rdap_row_says_what_check_config_says(key: str) -> None:
    """The rdap table's failing examples are refused with the errors the rows show."""
    doc = (DOCS / "monitor-config.md").read_text()
    table = doc.split("`rdap` (for `[DOMAIN_EXPIRATION]`", 1)[1].split("\n\n", 2)[1]
    row = next(line for line in table.splitlines() if line.startswith(f"| `{key}` |"))
    wrong, said = re.findall(r"`([^`]+)` → `([^`]+)`", row)[-1]  # the fails column's
    with pytest.raises(ConfigError) as refused:
        parse_config(f"monitors:\n  - {{name: n, url: 'tcp://127.0.0.1:9', rdap: {{{wrong}}}}}\n")
    assert str(refused.value) == said


def test_the_domain_expiry_snippet_loads() -> None:
    """monitor.md's Domain expiry example is a valid configuration."""
    doc = (DOCS / "monitor.md").read_text()
    section = doc.split("### Domain expiry\n", 1)[1].split("\n## ", 1)[0]
    (snippet,) = re.findall(r"```yaml\n(.*?)```", section, re.S)
    (monitor,) = parse_config(snippet).monitors
    assert monitor.rdap is not None
    assert monitor.rdap.domain == "corp.test"
