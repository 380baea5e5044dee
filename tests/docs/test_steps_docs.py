"""The multi-step examples of docs/monitor.md and docs/monitor-config.md run, as written
(their port changed to the test's), against a real HTTP API on loopback
(tests/helpers/steps_api.py) and pass."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.helpers.docs_blocks import ROOT
from tests.helpers.steps_api import Api, serving
from tether.monitor.checks._prober import Prober
from tether.monitor.config import parse_config


def _example(doc: str, heading: str) -> str:
    text = (ROOT / doc).read_text().split(heading, 1)[1]
    return re.findall(r"```yaml\n(.*?)```", text, re.S)[0]


@pytest.mark.parametrize(
    ("doc", "heading", "requests"),
    [
        ("docs/monitor.md", "## Multi-step API checks", 4),
        ("docs/monitor-config.md", "### Multi-step checks (`steps`)", 3),
    ],
)
def test_the_documented_flow_passes_against_a_real_api(
    doc: str, heading: str, requests: int
) -> None:
    api = Api()
    example = _example(doc, heading)

    async def main() -> bool:
        async with serving(api) as port:
            config = parse_config(example.replace("127.0.0.1:8080", f"127.0.0.1:{port}"))
            (m,) = [m for m in config.monitors if m.steps]
            prober = Prober()
            prober.assign([m])
            check = await prober.check(m.name, prober.mono())
            assert check.record.detail is None
            return check.record.ok

    assert asyncio.run(main())
    assert len(api.seen) == requests
