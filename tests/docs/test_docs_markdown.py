"""Every Markdown file renders as written: each code fence closes on a line of its own,
and every relative link names a file that exists and, with ``#``, a heading it has.

Read by a CommonMark parser (markdown-it-py, which rich depends on), as a renderer reads
them: a closing fence with text after it is no closing fence, and everything down to
the next fence showed as code (docs/monitor.md and docs/diagnose.md had two).  Anchors
are made from headings as GitHub makes them: lowercased, punctuation dropped, spaces
to hyphens, ``-1``, ``-2`` for repeats.
"""

from __future__ import annotations

import itertools
import re
from functools import cache
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    [
        ROOT / "README.md",
        ROOT / "CHANGELOG.md",
        *ROOT.glob("docs/*.md"),
        *ROOT.glob("benchmarks/*.md"),
        *ROOT.glob("benchmarks/history/*.md"),
    ]
)
PARSER = MarkdownIt("commonmark").enable("table")


def slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    """The anchors of ``path``'s headings."""
    tokens = PARSER.parse(path.read_text())
    out: set[str] = set()
    seen: dict[str, int] = {}
    for opening, inline in itertools.pairwise(tokens):
        if opening.type != "heading_open":
            continue
        parts = inline.children or []
        base = slug("".join(c.content for c in parts if c.type in ("text", "code_inline")))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return frozenset(out)


def problems(path: Path, root: Path = ROOT) -> list[str]:
    """What does not render as written in ``path``, a line each (named from ``root``)."""
    where = path.relative_to(root)
    out: list[str] = []
    for token in PARSER.parse(path.read_text()):
        line = token.map[0] + 1 if token.map else 0
        if token.type == "fence":
            for k, text in enumerate(token.content.splitlines()):
                stripped = text.lstrip()
                if stripped.startswith(token.markup) and stripped.rstrip() != token.markup:
                    out.append(f"{where}:{line + 1 + k}: text after a closing fence")
        for child in token.children or []:
            href = child.attrGet("href") if child.type == "link_open" else None
            if not isinstance(href, str) or re.match(r"[a-z][a-z0-9+.-]*:", href, re.I):
                continue  # not a link, or one to another site
            name, _, fragment = href.partition("#")
            target = (path.parent / name).resolve() if name else path
            if not target.exists():
                out.append(f"{where}:{line}: {href}: no such file")
            elif fragment and target.suffix == ".md" and fragment not in anchors(target):
                out.append(f"{where}:{line}: {href}: no such heading")
    return out


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_file_renders_as_written(path: Path) -> None:
    """No fence is closed by a line with text after it, and every relative link and
    anchor leads somewhere."""
    assert problems(path) == []


def test_the_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    """A fence closed with text after it, a link to a missing file and one to a missing
    heading are each found (the check can fail)."""
    bad = tmp_path / "bad.md"
    (tmp_path / "other.md").write_text("# A heading, here\n")
    bad.write_text(
        "# Title\n\n```sh\necho hi\n``` and prose\n\nmore\n\n```\n\n"
        "[gone](missing.md) [there](other.md#a-heading-here) [not](other.md#nope) [up](#title)\n"
    )
    assert problems(bad, tmp_path) == [
        "bad.md:5: text after a closing fence",
        "bad.md:11: missing.md: no such file",
        "bad.md:11: other.md#nope: no such heading",
    ]
