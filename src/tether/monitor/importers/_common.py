"""What every importer returns, and how it is printed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = ["ImportFailed", "Imported", "LeftOut", "printable", "to_yaml"]


def printable(value: object) -> str:
    """``value`` as a line of a comment or a terminal: a character that is not printable (a
    line break, a control or bidirectional one) written as its escape, ``\\n``, ``\\x1b``.
    A source's names reach the printed header: a line break in one would end the comment
    and put the rest into the configuration."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class ImportFailed(Exception):
    """The file cannot be imported at all (unreadable, not the tool's format): ``str()``
    is one line, naming the file and what was wrong; the CLI exits 2 with it."""


@dataclass(frozen=True, slots=True)
class LeftOut:
    """One thing of the source that is not in the configuration, and why."""

    what: str
    """Where it was, in the source's own words: ``endpoints[3] (api): alerts[0] (pagerduty)``."""
    why: str


@dataclass(frozen=True, slots=True)
class Imported:
    """A configuration made from another tool's, and what it could not carry over."""

    config: Mapping[str, Any]
    """tether's configuration as plain data (``monitors``, ``alerts``...), as YAML holds it."""
    left_out: tuple[LeftOut, ...] = ()
    source: str = ""
    """Which tool and file it came from, for the printed header."""
    notes: tuple[str, ...] = field(default=())
    """Lines for the header: what was carried over in a way worth knowing."""


def to_yaml(imported: Imported) -> str:
    """The configuration as ``tether.yaml`` text: a header of comments (where it came
    from, its notes, what was left out and why), then the configuration."""
    source = printable(imported.source)
    head = [f"# Imported by `tether import` from {source}." if source else ""]
    head += [f"# {printable(line)}" for line in imported.notes]
    if imported.left_out:
        head.append("# Not carried over:")
        head += [f"#   {printable(item.what)}: {printable(item.why)}" for item in imported.left_out]
    body = yaml.safe_dump(_plain(imported.config), sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(line for line in head if line) + ("\n" if any(head) else "") + body


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
