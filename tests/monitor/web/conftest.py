"""The web tests' fixtures: one headless Chromium for a module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module, with its calls home switched off (skips
    without it, fails instead when TETHER_REQUIRE_CHROMIUM=1; tests/helpers/web_harness.py)."""
    from tests.helpers.web_harness import chromium  # not at import: it imports the monitor

    with chromium() as launched:
        yield launched
