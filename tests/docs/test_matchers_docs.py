"""What the docs say of label matchers' regular expressions holds: routing.md's table of
RE2 against Python's ``re`` (each refusal in the words shown, each reading as said), its
load error and program sizes, the silences' bound in the API's words, and install.md's
engine line prints what it shows."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.helpers.docs_blocks import ROOT, blocks, run_console, steps
from tether.monitor.config import ConfigError, parse_config
from tether.monitor.config.labels._labels import parse_matchers
from tether.monitor.config.labels._regex import ENGINE, PROGRAM_MAX, compile_label_regex
from tether.monitor.engine._silences import SILENCES_MAX

ROUTING = (ROOT / "docs" / "routing.md").read_text()
SECTION = ROUTING.split("### Regular expressions: RE2's syntax, in linear time\n", 1)[1].split(
    "\n## ", 1
)[0]


def _said(text: str) -> str:
    """Text as a paragraph of the docs holds it: its lines joined by spaces."""
    return " ".join(text.split())


def _refused(pattern: str) -> str:
    with pytest.raises(ValueError, match=r"^a=~") as caught:
        parse_matchers('a=~"' + pattern.replace("\\", "\\\\") + '"')
    return str(caught.value)


@pytest.mark.parametrize(
    ("written", "what"),
    [
        ("(a)\\1", "a back-reference"),
        ("(?P<n>a)(?P=n)", "a back-reference"),
        ("x(?=y)", "a lookahead or lookbehind"),
        ("(?<!x)y", "a lookahead or lookbehind"),
        ("(?>x)", "an atomic group"),
        ("x*+", "a possessive repetition"),
        ("x\\Z", "\\Z, the end of the text"),
    ],
)
def test_each_refusal_of_the_table_is_in_the_words_shown(written: str, what: str) -> None:
    """The table's refused rows: each expression it names is refused, naming what RE2
    has not in the words the table quotes."""
    assert f"`{written}`" in SECTION or written.startswith("(?P<n>")
    said = _refused(written)
    assert what in said
    assert "which RE2 (Alertmanager's engine, and tether's) has not: write it without" in said
    assert "which RE2 (Alertmanager's engine, and tether's) has not: write it without" in SECTION


@pytest.mark.parametrize(
    ("pattern", "value", "wanted"),
    [
        ("\\w+", "été", False),  # \w, \d, \s, \b are ASCII only
        ("[0-9A-Za-z_]+", "a_9", True),
        ("\\pL+", "été", True),  # \pL is any letter
        ("[[:alpha:]]+", "abc", True),  # POSIX classes
        ("\\Qa.b\\E", "a.b", True),  # a quoted text
        ("\\Qa.b\\E", "axb", False),
        (".", "\n", True),  # . is a newline too
    ],
)
def test_the_tables_readings_hold(pattern: str, value: str, wanted: bool) -> None:
    """What the table says RE2 reads otherwise than ``re`` is how a matcher decides."""
    assert compile_label_regex(pattern).fullmatch(value) is wanted


def test_the_load_error_and_the_sizes_are_as_written() -> None:
    """The configuration error quoted names its key and the matcher; the program sizes
    and the bound quoted are the engine's."""
    config = (
        "alerts: [{name: ops, type: webhook, url: 'http://127.0.0.1:9/'}]\n"
        "routes: {channels: [ops], routes: [{matchers: ['team=~\"(\"']}]}\n"
        "monitors: [{name: a, url: 'http://127.0.0.1:9/'}]\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(config)
    (line,) = caught.value.errors
    assert f"(`{line}`)" in _said(SECTION)
    for pattern, size in [
        ("prod|staging", "15"),
        ("[a-z0-9-]{1,63}", "255"),
        ("\\pL+", "1,201"),
        ("(?:\\w{0,16}){0,35}x", "2,279"),
    ]:
        assert f"`{pattern}` is {size}" in _said(SECTION) or f"`{pattern}` {size}" in _said(SECTION)
        if int(size.replace(",", "")) <= PROGRAM_MAX:
            assert compile_label_regex(pattern).cost == int(size.replace(",", ""))
        else:
            said = _refused(pattern)
            assert said.endswith(
                f"compiles to {size.replace(',', '')} RE2 instructions: at most {PROGRAM_MAX} "
                "(a repetition such as .{0,500} costs its body once for each time)"
            )
            assert f"`compiles to {size.replace(',', '')} RE2 instructions: at most " in _said(
                SECTION
            )
    assert f"at most {PROGRAM_MAX:,} RE2 instructions in 64 KiB" in _said(SECTION)


def test_the_silences_bound_is_said_as_the_api_says_it() -> None:
    """routing.md quotes the 400 of one silence too many with the bound the code has
    (tests/monitor/web/test_silences_api.py holds the API to the same words)."""
    said = (
        f"`{SILENCES_MAX} silences are in force, at most {SILENCES_MAX}: expire some, or make "
        "one whose matchers select what several would`"
    )
    assert said in _said(ROUTING)
    assert f"At most {SILENCES_MAX:,} silences are in force" in _said(ROUTING)


def test_installs_engine_line_prints_what_it_shows(tmp_path: Path) -> None:
    """install.md's line printing the engine prints this machine's, RE2."""
    (block,) = [b for b in blocks("install.md", "console") if "_regex import ENGINE" in b]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    for (command, printed), (_, shown) in zip(
        run_console(block, tmp_path, env), steps(block), strict=True
    ):
        assert printed == shown == [ENGINE], command
    assert re.search(r"CPython 3\.11\s+to 3\.14", (ROOT / "docs" / "install.md").read_text())
