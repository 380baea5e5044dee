"""Fixtures of the retry core's and the integrations' tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tether.lab import Lab


@pytest.fixture(scope="module")
def drip_lab() -> Iterator[Lab]:
    """A lab whose slow drip sends a byte every 0.1 s: every read succeeds, the body never
    ends, so timeouts can be short."""
    with Lab(drip_interval=0.1) as running:
        yield running
