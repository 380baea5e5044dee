"""docs/objectives.md's running-monitor sections say what the running monitor answers: the
``tether objectives`` and ``curl`` examples are run as written against a real runner
served on loopback over the doc's own example configuration, fed the checks the doc's
story tells (an hour since the start: checkout-us refused 9 of its checks in the last
five minutes, search answered 45 of its 1,800 checks slower than 300 ms), through the
objectives' stage of the intake; and the alert the doc shows is the one the wording
makes of that story."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.docs_blocks import ROOT, blocks, run_console, steps
from tests.helpers.web_harness import EPOCH, ServedRunner
from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor.checks._prober import Check
from tether.monitor.config import parse_config
from tether.monitor.engine.objectives._book import ObjectiveAlert
from tether.monitor.engine.objectives._budget import AlertEvent
from tether.monitor.engine.objectives._words import objective_payload, spent_over
from tether.monitor.store import SQLiteStore

DOC = (Path(__file__).parents[2] / "docs/objectives.md").read_text()
(EXAMPLE,) = re.findall(r"```yaml\n(.*?)```", DOC, re.S)
NOW = EPOCH + 3600  # an hour after the start


def story(s: ServedRunner) -> None:
    """An hour of checks every 2 s: checkout-eu all passed, checkout-us refused in the
    last 9 of them, search slow in 45 of its checks."""
    stage = s.runner.objectives
    for k in range(1, 1801):
        at = EPOCH + 2 * k
        stage(Check(ProbeRecord("checkout-eu", at, True, None, 40.0), None))
        refused = k > 1800 - 9
        kind = Kind("connect.refused") if refused else None
        stage(Check(ProbeRecord("checkout-us", at, not refused, kind, 40.0), None))
        stage(Check(ProbeRecord("search", at, True, None, 450.0 if k % 40 == 0 else 120.0), None))
    s.now = NOW
    s.on_loop(stage.evaluate, NOW)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedRunner]:
    s = ServedRunner(parse_config(EXAMPLE), SQLiteStore(tmp_path / "docs.db"))
    story(s)
    yield s
    s.close()


def shell_env() -> dict[str, str]:
    """The docs' environment, importing this tree's tether (the ``tether`` on the path
    may be installed from another)."""
    out = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "PYTHONPATH": str(ROOT / "src")}
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        out.pop(name, None)
    return out


def test_tether_objectives_prints_what_the_doc_shows(served: ServedRunner, tmp_path: Path) -> None:
    """The `tether objectives` block, run as written."""
    (block,) = [b for b in blocks("objectives.md", "console") if "tether objectives" in b]
    for (command, printed), (_, shown) in zip(
        run_console(block, tmp_path, shell_env(), served.port), steps(block), strict=True
    ):
        assert printed == shown, command


def _close(got: Any, shown: Any) -> None:
    """``got`` is the doc's ``shown`` with its numbers rounded as the doc rounds them."""
    if isinstance(shown, dict):
        assert isinstance(got, dict)
        assert list(got) == list(shown)
        for key in shown:
            _close(got[key], shown[key])
    elif isinstance(shown, list):
        assert isinstance(got, list)
        assert len(got) == len(shown)
        for a, b in zip(got, shown, strict=True):
            _close(a, b)
    elif isinstance(shown, float) and not isinstance(got, bool):
        assert got == pytest.approx(shown, rel=1e-3, abs=1e-9)
    else:
        assert got == shown


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_api_answers_what_the_doc_shows(served: ServedRunner, tmp_path: Path) -> None:
    """The `curl` block, run as written: the same document, its numbers to the doc's
    rounding."""
    (block,) = [b for b in blocks("objectives.md", "console") if "curl" in b]
    ((_, printed),) = run_console(block, tmp_path, shell_env(), served.port)
    ((_, shown),) = steps(block)
    _close(json.loads("\n".join(printed)), json.loads("\n".join(shown)))


def test_the_alert_text_is_the_one_the_doc_shows(served: ServedRunner) -> None:
    """The doc's ticket is what the wording says of the story's evaluation."""
    stage = served.runner.objectives
    rule = next(r for r in stage.book.ledgers["checkout"].firing)
    since = stage.since[("checkout", rule)]
    status = stage.statuses["checkout"]
    event = AlertEvent(
        "fired",
        rule,
        NOW,
        status.burn[rule.long],
        status.burn[rule.short],
        status.spent,
        status.remaining,
    )
    ledger = stage.book.ledgers["checkout"]
    alert = ObjectiveAlert("checkout", event, ("oncall",), stage.book.spenders("checkout", NOW))
    payload = objective_payload(alert, 30 * 86400, since, spent=spent_over(ledger, rule.long, NOW))
    assert f"    {payload.text}" in DOC
