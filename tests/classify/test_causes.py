"""Every common cause the catalogue lists is a lab scenario, or says why it cannot be."""

from __future__ import annotations

import pytest

from tether._catalogue import CATALOGUE
from tether._kinds import Kind
from tether.lab import SPECS
from tether.lab._causes import COVERAGE, Cause
from tether.lab._exhaust import EXHAUSTED
from tether.lab._lab import BROWSER_SCENARIOS, DNSSEC_SCENARIOS, GRPC_SCENARIOS
from tether.lab._matrix import NETNS_ONLY, planned

SCENARIOS = {name for name, *_ in SPECS} | set(NETNS_ONLY) | set(EXHAUSTED)
IN_MATRIX = {name for name, _ in planned(netns=False) + planned(netns=True)}
TESTED_ELSEWHERE = {"flapping", *BROWSER_SCENARIOS, *GRPC_SCENARIOS, *DNSSEC_SCENARIOS}
"""Scenarios run outside the matrix: flapping on a clock, the pages by a browser check
(tests/lab/test_lab_browser.py), the gRPC servers by a grpc:// probe
(tests/lab/test_lab_grpc.py), the signed zones by a dns:// check with dnssec
(tests/lab/test_lab_dnssec.py)."""


def test_every_kind_is_covered() -> None:
    """COVERAGE has an entry for exactly the kinds in the catalogue."""
    assert set(COVERAGE) == set(CATALOGUE)


@pytest.mark.parametrize("kind", list(CATALOGUE), ids=str)
def test_causes_line_up_with_the_catalogue(kind: Kind) -> None:
    """One entry per cause, in order: a new or reworded cause must be placed here too."""
    causes = CATALOGUE[kind].causes
    covered = COVERAGE[kind]
    assert len(covered) == len(causes), f"{kind}: {len(causes)} causes, {len(covered)} entries"
    for cause, entry in zip(causes, covered, strict=True):
        assert cause.startswith(entry.starts), f"{kind}: {entry.starts!r} is not {cause!r}"


@pytest.mark.parametrize("kind", list(CATALOGUE), ids=str)
def test_each_cause_has_a_scenario_or_a_reason(kind: Kind) -> None:
    """Each cause names scenarios the matrix runs, or (alone) why no scenario can exist.
    The dnssec_* scenarios are a dns:// check's, outside the matrix: each is probed with
    its kind by tests/lab/test_lab_dnssec.py."""
    for entry in COVERAGE[kind]:
        assert bool(entry.scenarios) != bool(entry.why_not), entry
        assert set(entry.scenarios) <= SCENARIOS, entry
        assert set(entry.scenarios) <= IN_MATRIX | TESTED_ELSEWHERE, entry


def test_a_cause_without_either_fails() -> None:
    """The check above is not vacuous: an entry with neither a scenario nor a reason fails it."""
    bare = Cause("A cause")
    assert bool(bare.scenarios) == bool(bare.why_not)


def test_the_docs_table_is_current() -> None:
    """docs/lab.md's causes table is what COVERAGE and the catalogue generate."""
    from pathlib import Path

    from tether.lab._causes import BEGIN, END, causes_markdown

    doc = (Path(__file__).parents[2] / "docs" / "lab.md").read_text()
    assert doc[doc.index(BEGIN) : doc.index(END) + len(END)] == causes_markdown(), (
        "docs/lab.md is stale: replace its causes table with tether.lab._causes.causes_markdown()"
    )
