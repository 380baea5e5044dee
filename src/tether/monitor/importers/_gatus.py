"""Placeholder: the gatus importer is being written (issue 28)."""

from __future__ import annotations

from tether.monitor.importers._common import Imported, ImportFailed

__all__ = ["import_gatus"]


def import_gatus(path: str) -> Imported:
    raise ImportFailed(f"{path}: the gatus importer is not written yet")
