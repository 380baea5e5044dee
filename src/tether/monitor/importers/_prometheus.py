"""Placeholder: the prometheus importer is being written (issue 28)."""

from __future__ import annotations

from tether.monitor.importers._common import Imported, ImportFailed

__all__ = ["import_prometheus"]


def import_prometheus(path: str) -> Imported:
    raise ImportFailed(f"{path}: the prometheus importer is not written yet")
