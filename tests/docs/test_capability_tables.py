"""The docs' tables that restate the code cannot drift from it (issue 44, section 8): the
generated ones (which check needs which extra, the importers' reasons, blackbox_exporter's
options tether does not honour) are what ``docs/tables.py`` writes from the code today;
install.md's table of extras is held to pyproject.toml; the tables of monitor types in
monitor.md and monitor-config.md name every scheme of the registry, and no other."""

from __future__ import annotations

import re
import runpy
import tomllib
from pathlib import Path

import pytest

from tether.probe import SCHEMES, listed_schemes

ROOT = Path(__file__).parents[2]


def test_the_generated_tables_are_what_the_code_writes() -> None:
    """Every generated block of docs/ is current (else: python3 docs/tables.py)."""
    tables = runpy.run_path(str(ROOT / "docs" / "tables.py"), run_name="tables")
    assert tables["stale"]() == []


def test_a_stale_table_is_found(tmp_path: Path) -> None:
    """The check can fail: a block whose text is not the code's is named."""
    tables = runpy.run_path(str(ROOT / "docs" / "tables.py"), run_name="tables")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "x.md").write_text(
        "<!-- generated: kuma-no-check (python3 docs/tables.py) -->\n"
        "| `docker` | old |\n"
        "<!-- end of generated -->\n"
    )
    assert "docs/x.md: kuma-no-check" in tables["stale"](tmp_path)


def _table(text: str, header: str) -> list[list[str]]:
    """The rows of the Markdown table whose header line starts with ``header``, as cells."""
    lines = text[text.index(header) :].splitlines()
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def _name(requirement: str) -> str:
    return re.split(r"[^A-Za-z0-9_.-]", requirement, maxsplit=1)[0].lower()


def test_install_lists_every_extra_and_what_it_brings() -> None:
    """Every extra of pyproject.toml has a row in install.md's table, and a row of one
    extra names each package that extra installs."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    rows = _table((ROOT / "docs" / "install.md").read_text(), "| install | brings | for |")
    named: set[str] = set()
    for install, brings, _ in rows:
        found = re.findall(r"`tether\[([a-z0-9,]+)\]`", install)
        named |= {extra for group in found for extra in group.split(",")}
        if len(found) == 1 and "," not in found[0] and found[0] not in ("all", "test"):
            for requirement in extras[found[0]]:
                assert _name(requirement) in brings.lower(), (found[0], requirement)
    assert named == set(extras)


@pytest.mark.parametrize(
    ("doc", "header"),
    [
        ("monitor.md", "| url | what a check does | fails when |"),
        ("monitor-config.md", "| scheme | probes | options that apply |"),
    ],
)
def test_the_tables_of_monitor_types_name_every_scheme(doc: str, header: str) -> None:
    """Each scheme of the registry (its aliases aside) is in the table's first column, and
    the column names no scheme tether has not."""
    rows = _table((ROOT / "docs" / doc).read_text(), header)
    written = {name for row in rows for name in re.findall(r"([a-z0-9]+)://", row[0])}
    assert written <= {s.name for s in SCHEMES}
    assert set(listed_schemes()) <= written
