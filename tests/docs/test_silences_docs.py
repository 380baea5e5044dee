"""docs/routing.md's "Silences" examples run as written: each console block of the section,
`tether silence` and curl alike, run in one shell against a live monitor served on loopback
(tests/helpers/actions_harness.py, its clock at the docs' 2027-01-15T08:00:00Z), its
address put in for the docs' 127.0.0.1:8800 and ``$TETHER_TOKEN`` a write token named
``ci``, prints what the block shows."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.actions_harness import Served
from tests.helpers.docs_blocks import ROOT, blocks, run_console, steps
from tether.lab import Lab
from tether.monitor.config._passwords import hash_token

TOKEN = "tether-docs-silences-token-7a2e"
SECTION = (ROOT / "docs" / "routing.md").read_text().split("\n## Silences\n", 1)[1]


@pytest.fixture
def served(lab: Lab, tmp_path: Path) -> Iterator[Served]:
    tokens = [{"name": "ci", "hash": hash_token(TOKEN), "scope": "write"}]
    s = Served(tmp_path / "docs.db", lab, extra={"tokens": tokens})
    yield s
    s.close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_silence_examples_run_as_written(served: Served, tmp_path: Path) -> None:
    """The section's console blocks (the command line's, then the API's) print what they
    show, in order, against one monitor."""
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT / "src"), "TETHER_TOKEN": TOKEN}
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env.pop(name, None)
    found = [b for b in blocks("routing.md", "console") if b in SECTION]
    assert len(found) == 2
    for block in found:
        for (command, printed), (_, shown) in zip(
            run_console(block, tmp_path, env, served.port), steps(block), strict=True
        ):
            assert printed == shown, command
