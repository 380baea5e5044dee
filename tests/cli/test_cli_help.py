"""`tether -h` and every `tether COMMAND -h` explain every option, and docs/diagnose.md's
options table is one table that lists every option of the real parser."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

from tether.cli import _parser

ROOT = Path(__file__).parents[2]


def _commands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """The parser and every subcommand's parser, each with its name as typed."""
    yield parser.prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _commands(sub)


def _missing_help(parser: argparse.ArgumentParser) -> list[str]:
    missing = []
    for prog, command in _commands(parser):
        for action in command._actions:
            if not action.help:  # argparse.SUPPRESS is a help, deliberately hidden
                missing.append(f"{prog} {'/'.join(action.option_strings) or action.dest}")
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                missing += [
                    f"{prog} {choice.dest}" for choice in action._choices_actions if not choice.help
                ]
    return missing


def test_every_option_and_command_has_a_help_text() -> None:
    """Every argument of every command, and every command in `tether -h`, says what it is."""
    assert _missing_help(_parser()) == []


def test_the_walk_finds_an_option_without_help() -> None:
    """The check above is not empty: an option added without help is reported by name."""
    parser = _parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    commands.choices["status"].add_argument("--colour")
    assert _missing_help(parser) == ["tether status --colour"]


def _options_table() -> list[str]:
    """The rows of docs/diagnose.md's options table: from its header to the first line that
    is not a table row (a paragraph or blank line ends a Markdown table)."""
    doc = (ROOT / "docs" / "diagnose.md").read_text()
    section = doc.split("\n## Options\n", 1)[1].split("\n## ", 1)[0]
    lines = section.strip("\n").splitlines()
    assert lines[0].startswith("| option |"), "the section starts with the table"
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    # A row further down would be a second table, cut off from the first.
    assert not [line for line in lines[2 + len(rows) :] if line.startswith("| `")]
    return rows


def test_diagnose_options_table_is_one_table_with_every_option() -> None:
    """docs/diagnose.md's options table is one unbroken table (each row with four cells)
    that names every option of `tether diagnose`."""
    rows = _options_table()
    for row in rows:
        assert len(re.split(r"(?<!\\)\|", row)) == 6, row
    documented = " ".join(row.split("|")[1] for row in rows)
    parser = _parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    diagnose = commands.choices["diagnose"]
    for action in diagnose._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        names = action.option_strings or [action.metavar or action.dest]
        assert any(f"`{name}" in documented or f" {name}" in documented for name in names), (
            f"docs/diagnose.md's options table does not list {names}"
        )
