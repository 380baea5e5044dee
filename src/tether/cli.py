"""The ``tether`` command: wiring only."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("tether")
    return 0
