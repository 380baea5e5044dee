"""docs/discovery.md as written: its example loads, its target file makes the monitors
its table shows, its errors are the ones the file gives, its PromQL names the series
/metrics has; monitor-config.md's snippet loads."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from tether.monitor.config import ConfigError, parse_config
from tether.monitor.engine._discovery import SourceStatus
from tether.monitor.runtime._discovery import Discovery
from tether.monitor.web.scrape._discovery import discovery_banner, discovery_metrics

DOCS = Path(__file__).parents[2] / "docs"
DOC = (DOCS / "discovery.md").read_text()


def blocks(kind: str) -> list[str]:
    """The fenced blocks of ``kind`` ("" for those with none), in order."""
    out, current, inside = [], [], None
    for line in DOC.splitlines(keepends=True):
        if line.startswith("```"):
            if inside is None:
                inside, current = line[3:].strip(), []
            else:
                if inside == kind:
                    out.append("".join(current))
                inside = None
        elif inside is not None:
            current.append(line)
    return out


def test_the_example_makes_the_monitors_its_table_shows(tmp_path: Path) -> None:
    """The example's file_sd source, given the example's targets file, makes exactly the
    table's monitors (name, url, labels), beside the file's own."""
    config = parse_config(blocks("yaml")[0], env={"INVENTORY_TOKEN": "t0ken"})
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "web.json").write_text(blocks("json")[0])
    d = Discovery(config.model_copy(update={"discover": config.discover[:1]}), str(tmp_path))
    assert asyncio.run(d.step())
    rows = re.findall(r"^\| `(api-[^`]+)` \| `([^`]+)` \| `([^`]+)` \|$", DOC, re.M)
    assert len(rows) == 2
    made = {m.name: m for m in d.merged().monitors}
    assert list(made) == ["homepage", *(name for name, _, _ in rows)]
    for name, url, labels in rows:
        assert made[name].url == url
        assert made[name].labels == dict(pair.split("=") for pair in labels.split(", "))
        assert made[name].interval == 30.0  # defaults apply
        assert made[name].alerts == ("ops",)


def test_the_errors_shown_are_the_errors_given() -> None:
    """Each error line of the template section is what a file with that mistake gives."""
    (shown,) = [b for b in blocks("") if "discover[0]" in b]
    lines = shown.strip().splitlines()
    example = blocks("yaml")[0]
    broken = example.replace('"{{labels.job}}-{{address}}"', '"{{adress}}"').replace(
        'url: "tcp://{{address}}"', 'url: "tcp://{{address}}"\n      alerts: [opz]'
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(broken, env={"INVENTORY_TOKEN": "t0ken"})
    assert caught.value.errors == lines[:1]
    fixed = broken.replace('"{{adress}}"', '"{{labels.job}}-{{address}}"')
    with pytest.raises(ConfigError) as caught:
        parse_config(fixed, env={"INVENTORY_TOKEN": "t0ken"})
    assert caught.value.errors == lines[1:]


def test_the_metrics_and_the_banner_are_as_described() -> None:
    """The series the table and the PromQL name are those /metrics writes; the banner
    reads as quoted."""
    status = SourceStatus("inventory", "http_sd", 12, False, 1.8e9, "answered 503", 1.8e9)
    text = discovery_metrics([status]).decode()
    for series in re.findall(r"^\| `(tether_discovery_\w+)\{source\}` \|", DOC, re.M):
        assert f'{series}{{source="inventory"}}' in text
    (promql,) = [b for b in blocks("") if "tether_discovery_up ==" in b]
    assert set(re.findall(r"tether_\w+", promql)) <= set(re.findall(r"^(tether_\w+)\{", text, re.M))
    banner = discovery_banner([status], 1.8e9 + 180)
    said = "Discovery source inventory is failing: ...; its last 12 monitors kept for 3 min 0 s"
    assert said.replace("...", "answered 503") == re.sub(r"<[^>]+>", "", str(banner)).strip()
    assert said.replace(" ", " ") in " ".join(DOC.split())
    assert discovery_banner([], 0) == ""


def test_monitor_config_md_snippet_loads() -> None:
    """The snippet under ``discover`` in monitor-config.md loads with no monitors."""
    doc = (DOCS / "monitor-config.md").read_text()
    section = doc.split("## `discover`\n", 1)[1].split("\n## ", 1)[0]
    (snippet,) = re.findall(r"```yaml\n(.*?)```", section, re.S)
    assert parse_config(snippet).discover[0].name == "services"


def test_the_references_section_warns_and_refuses_as_it_says() -> None:
    """The references example, added to the first example, loads with the two warning
    lines shown; the page naming ``database`` instead is refused."""
    from tether.monitor.config import config_warnings

    section = DOC.split("## References to discovered monitors\n", 1)[1]
    (added,) = re.findall(r"```yaml\n(.*?)```", section, re.S)
    (shown,) = re.findall(r"```\n(warning: .*?)```", section, re.S)
    text = blocks("yaml")[0] + added
    config = parse_config(text, env={"INVENTORY_TOKEN": "t0ken"})
    assert [f"warning: {w}" for w in config_warnings(config)] == shown.strip().splitlines()
    refused = text.replace('["api-127.0.0.1:8081"]', '["database"]')
    with pytest.raises(ConfigError) as caught:
        parse_config(refused, env={"INVENTORY_TOKEN": "t0ken"})
    (error,) = caught.value.errors
    where = "status_pages[0].groups[0].monitors[0].monitor"
    assert error.startswith(f'{where}: no monitor named "database"')


def test_each_error_the_failure_table_shows_is_one_a_source_gives(tmp_path: Path) -> None:
    """The failures table's errors for nesting and for a FIFO are those the sources say."""
    import os

    section = DOC.split("## Each source fails alone\n", 1)[1].split("\n## ", 1)[0]
    said = re.findall(r"^\| .*? \| `(.*?)` \|$", section, re.M)
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    os.mkfifo(tmp_path / "fifo.json")
    config = parse_config(
        "discover:\n"
        "  - {name: a, file_sd: {files: [deep.json]}, template: {url: 'tcp://{{address}}'}}\n"
        "  - {name: b, file_sd: {files: [fifo.json]}, template: {url: 'tcp://{{address}}'}}\n"
    )
    d = Discovery(config, str(tmp_path))
    asyncio.run(d.step())
    deep, fifo = (s.error or "" for s in d.status())
    assert deep.endswith(said[0])
    assert fifo == said[3].replace("PATH", str(tmp_path / "fifo.json"))
