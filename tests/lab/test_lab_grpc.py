"""The lab's grpc:// scenarios, probed by tether's grpc:// check: each gives its kind."""

from __future__ import annotations

import pytest

from tether.lab import Lab
from tether.lab._lab import GRPC_SCENARIOS
from tether.lab._matrix import planned
from tether.probe import ProbeOptions, probe

SHORT = 0.3
"""The timeout: grpc_hang is never answered."""


@pytest.mark.parametrize("name", sorted(GRPC_SCENARIOS))
def test_each_grpc_scenario_gives_its_kind(lab: Lab, name: str) -> None:
    """grpc_serving passes; the others fail with the scenario's kind."""
    scenario = lab[name]
    result = probe(scenario.url, ProbeOptions(timeout=SHORT))
    assert (result.failure.kind if result.failure else None) == scenario.kind, result.failure
    assert result.phases[-1].name == "grpc"


def test_the_matrix_leaves_them_out() -> None:
    """The HTTP clients' matrix plans no grpc:// cell."""
    assert not {name for name, _ in planned(netns=False)} & GRPC_SCENARIOS
